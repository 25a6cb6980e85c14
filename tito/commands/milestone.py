"""`tito milestone list|run`: the historical demos, trained with the student's own package."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

from tito import course, progress


def default_out(ms: course.Milestone, root: Path = course.REPO_ROOT) -> Path:
    return ms.path(root) / "results"


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Milestones")
    for col in ("id", "milestone", "year", "status", "best result / next step"):
        table.add_column(col)
    styles = {"locked": "dim", "ready": "yellow", "achieved": "green"}
    for ms in course.MILESTONES:
        state, detail = progress.milestone_state(ms.number)
        table.add_row(ms.number, ms.title, str(ms.year), f"[{styles[state]}]{state}[/]", detail)
    Console().print(table)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    ms = course.get_milestone(args.milestone)
    missing = progress.milestone_missing(ms.number)
    if missing:
        names = ", ".join(f"{m.number} ({m.name})" for m in missing)
        first = missing[0].number
        print(f"tito: milestone {ms.number} ({ms.title}) is locked: it needs modules {names}. "
              f"Start with `tito module complete {first}`.", file=sys.stderr)
        return 2
    script = ms.path() / ms.script
    if not script.exists():
        print(f"tito: {script} is missing from this working copy", file=sys.stderr)
        return 2
    # Imported here: the kit pins BLAS threads for milestone processes, not for all of tito.
    from tito.milestone_kit import RESULT_FILE

    out = _make_out(args.out or default_out(ms))
    record = out / RESULT_FILE
    if record.exists():
        record.unlink()  # a stale record must never pass for this run's result
    cmd = [sys.executable, str(script), "--out", str(out), "--seed", str(args.seed)]
    if args.epochs is not None:
        cmd += ["--epochs", str(args.epochs)]
    if args.data is not None:
        if not ms.takes_data:
            print(f"tito: milestone {ms.number} has fixed data; --data applies to "
                  f"{', '.join(m.number for m in course.MILESTONES if m.takes_data)}",
                  file=sys.stderr)
            return 2
        cmd += ["--data", args.data]
    if args.resume:
        if not ms.resumable:
            print(f"tito: milestone {ms.number} keeps no checkpoints; --resume applies to "
                  f"{', '.join(m.number for m in course.MILESTONES if m.resumable)}",
                  file=sys.stderr)
            return 2
        cmd += ["--resume"]
    env = dict(os.environ)
    # The milestone must train with this working copy's package, whatever else is installed.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(course.REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("MPLBACKEND", "Agg")
    print(f"Milestone {ms.number}: {ms.title} ({ms.year})", flush=True)
    rc = subprocess.run(cmd, cwd=course.REPO_ROOT, env=env).returncode
    if rc != 0 or not record.exists():
        print(f"tito: milestone {ms.number} failed (exit code {rc}); the output above says "
              f"where", file=sys.stderr)
        return rc or 1
    result = json.loads(record.read_text(encoding="utf-8"))
    progress.record_milestone(ms.number, result)
    print(f"result: {progress.describe_result(result)} — record and figures in {out}")
    return 0


def _count(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= least, refused in one line otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value
    return parse


def _make_out(out: Path) -> Path:
    out = out.resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        from tito.cli import UsageError

        raise UsageError(f"--out {out}: cannot make the folder ({err.strerror or err}); "
                         f"pass a folder you can write to") from None
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("milestone", help="run the historical milestones with your package")
    msub = p.add_subparsers(dest="milestone_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])   # like `tito module`
    lp = msub.add_parser("list", help="milestones: locked / ready / achieved")
    lp.set_defaults(func=cmd_list)
    rp = msub.add_parser("run", help="train a milestone (id or number, e.g. 03 or mnist_mlp)")
    rp.add_argument("milestone")
    rp.add_argument("--epochs", type=_count(1), default=None)
    rp.add_argument("--seed", type=_count(0), default=0)
    rp.add_argument("--data", choices=("mnist", "digits"), default=None)
    rp.add_argument("--out", type=Path, default=None, help="folder for figures and result.json")
    rp.add_argument("--resume", action="store_true",
                    help="continue from the checkpoint of the last finished epoch in --out")
    rp.set_defaults(func=cmd_run)
