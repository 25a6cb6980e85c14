"""`tito module start/test/complete/status/reset`: the student's workflow.

    tito module start 01 [--open]        make modules/01_tensor/tensor.ipynb and say how to open it
        [--no-browser] [--port N]        (JupyterLab serves on 127.0.0.1 only)
    tito module test 01 [--notebook] [-k EXPR] [--verbose]
                                         test your notebook's code (not the package)
    tito module complete 01              test it, then export it into tinytorch/ and record it
    tito module status                   modules and milestones, with your results
    tito module reset 01 [--package]     back the notebook up and start it again

Which tests run is described in ``tito/student.py``; progress is kept by ``tito/progress.py``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tito import course, progress, student, workspace
from tito.student import StudentError


def _usage(message: str):
    from tito.cli import UsageError

    return UsageError(message)


def _root() -> Path:
    return course.REPO_ROOT


def _rel(path: Path) -> str:
    return student.rel(path, _root())


def _say(text: str = "") -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    print(f"tito: {text}", file=sys.stderr, flush=True)


def _notebook_or_fail(m: course.Module) -> Path:
    nb = m.notebook(_root())
    if not nb.exists():
        if workspace.is_workspace(_root()):
            raise _usage(f"module {m.number} ({m.name}) has no notebook yet: "
                         f"{workspace.fetch_hint(m, _root())}")
        raise _usage(f"module {m.number} ({m.name}) is not started: run "
                     f"`tito module start {m.number}` first")
    return nb


def _saved(nb: Path) -> str:
    """When the notebook file was last saved: what tito tests is that file, not the browser."""
    import datetime as dt

    stamp = dt.datetime.fromtimestamp(nb.stat().st_mtime)
    return (f"as saved at {stamp:%H:%M:%S} (save it in JupyterLab first, Ctrl+S, to test your "
            f"latest edits)")


def _open_command(nb: Path, browser: bool = True, port: int | None = None) -> list[str]:
    # Loopback only: the server runs the student's code and must not be reachable from
    # other machines.
    cmd = [sys.executable, "-m", "jupyter", "lab", str(nb), "--ip=127.0.0.1"]
    if not browser:
        cmd.append("--no-browser")
    if port is not None:
        cmd += [f"--port={port}", "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")      # a container's only user: JupyterLab refuses it otherwise
    return cmd


def _launch(nb: Path, args: argparse.Namespace) -> int:
    browser, port = not getattr(args, "no_browser", False), getattr(args, "port", None)
    if port is not None and not 0 < port < 65536:
        raise _usage(f"--port {port} is not a port number; use one from 1024 to 65535")
    _say(f"Opening {_rel(nb)} in JupyterLab (stop it with Ctrl+C) ...")
    if not browser:
        _say("No browser is opened: use the URL JupyterLab prints below (it holds the token).")
    try:
        return subprocess.call(_open_command(nb, browser, port), cwd=_root())
    except KeyboardInterrupt:
        return 0
    except OSError as err:
        _err(f"could not launch JupyterLab: {err}")
        return 1


# ---- start ---------------------------------------------------------------------------------

def _prerequisites_message(m: course.Module, root: Path) -> str | None:
    missing = student.missing_prerequisites(m, root)
    if not missing:
        return None
    names = ", ".join(f"{n} ({course.get_module(n).name})" for n in missing)
    return (f"module {m.number} needs module(s) {names} complete first: "
            f"run `tito module complete {missing[0]}`")


def _require_prerequisites(m: course.Module, root: Path) -> None:
    message = _prerequisites_message(m, root)
    if message:
        raise _usage(message)


def _hub_start(m: course.Module, root: Path) -> int:
    """`start` in a hub workspace: notebooks come through nbgrader, not from a module source."""
    nb = m.notebook(root)
    if nb.exists():
        raise _usage(f"{_rel(nb)} is already here: open it from JupyterLab's file browser; "
                     f"`tito module test {m.number}` checks it")
    before = _prerequisites_message(m, root)
    raise _usage(workspace.fetch_hint(m, root) + (f" ({before})" if before else ""))


def start(args: argparse.Namespace) -> int:
    root = _root()
    m = course.get_module(args.module)
    if progress.student_only(root):
        raise _usage(progress.student_only(root))
    if workspace.is_workspace(root):
        return _hub_start(m, root)
    nb = m.notebook(root)
    if (args.no_browser or args.port is not None) and not args.open:
        raise _usage("--no-browser and --port go with --open: "
                     f"`tito module start {m.number} --open --no-browser --port 8888`")
    if nb.exists():
        if args.open:
            return _launch(nb, args)
        raise _usage(f"{_rel(nb)} already exists and is never overwritten: open it with "
                     f"`tito module start {m.number} --open`, or back it up and start again "
                     f"with `tito module reset {m.number}`")
    _require_prerequisites(m, root)
    try:
        notebook = student.student_notebook(m, root)
    except StudentError as err:
        raise _usage(str(err))
    student.write_notebook(notebook, nb)
    progress.mark_started(m.number, root)
    _say(f"Module {m.number}: {m.title}")
    _say(f"Created {_rel(nb)} — your copy to work in.")
    if args.open:
        return _launch(nb, args)
    _say("Open it with:")
    _say(f"    jupyter lab {_rel(nb)}")
    _say(f"    (or: tito module start {m.number} --open)")
    _say(f"Fill in every TODO, then check your work with `tito module test {m.number}`.")
    return 0


# ---- test ----------------------------------------------------------------------------------

def _print_run(m: course.Module, run: student.TestRun, expr: str,
               verbose: bool = False) -> None:
    if run.crashed:
        _say(f"pytest could not run the tests (exit code {run.returncode}); its last lines:")
        for line in run.output.strip().splitlines()[-15:]:
            _say("    " + line)
        return
    if not run.cases:
        _say(f"No tests selected (pytest -m \"{expr}\").")
        return
    groups: dict[str, list[str]] = {}
    for c in run.cases:
        if c.outcome == "failed":
            groups.setdefault(c.message, []).append(c.nodeid)
    for message, nodeids in groups.items():
        _say(f"  FAILED  {message}")
        by_file: dict[str, list[str]] = {}
        for nodeid in nodeids:
            file, _, name = nodeid.partition("::")
            by_file.setdefault(file, []).append(name or file)
        for file, names in by_file.items():
            _say(textwrap.fill(", ".join(names), width=100, initial_indent=f"      {file}: ",
                               subsequent_indent=" " * 10, break_on_hyphens=False))
    if verbose:
        for c in run.cases:
            if c.outcome == "failed" and c.detail.strip():
                _say("")
                _say(f"---- {c.nodeid} " + "-" * max(0, 90 - len(c.nodeid)))
                _say(c.detail.rstrip())
        if run.failed:
            _say("")
    reasons: dict[str, int] = {}
    for c in run.cases:
        if c.outcome == "skipped":
            reasons[c.message] = reasons.get(c.message, 0) + 1
    for why, n in list(reasons.items())[:3]:
        _say(f"  skipped ({n}): {why}")
    total = run.passed + run.failed
    verdict = "all passed" if run.ok else f"{run.failed} failed"
    _say(f"Module {m.number}: {run.passed} of {total} tests passed ({verdict}"
         f"{f', {run.skipped} skipped' if run.skipped else ''}).")
    if run.failed and not verbose:
        _say(f"  Full tracebacks: `tito module test {m.number} --verbose`; one test at a time: "
             f"`-k NAME`.")


def _print_graded(graded: list[student.GradedCell], problems: list[str]) -> tuple[float, float]:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Graded cells (your notebook, run in a fresh kernel)")
    table.add_column("cell")
    table.add_column("result")
    table.add_column("points", justify="right")
    table.add_column("message", overflow="fold")
    got = sum(g.points for g in graded if g.passed)
    total = sum(g.points for g in graded)
    for g in graded:
        table.add_row(g.grade_id, "passed" if g.passed else "FAILED",
                      f"{g.points if g.passed else 0:g}/{g.points:g}", g.message)
    console = Console(highlight=False)
    console.print(table)
    console.print(f"Points: {got:g} / {total:g}", markup=False)
    for p in problems[:5]:
        console.print(f"  note: {p}", markup=False)
    return got, total


def test(args: argparse.Namespace) -> int:
    root = _root()
    m = course.get_module(args.module)
    if progress.student_only(root):
        raise _usage(progress.student_only(root))
    nb = _notebook_or_fail(m)
    _say(f"Testing module {m.number} ({m.name}) from your notebook {_rel(nb)}, {_saved(nb)}")
    points = total = None
    try:
        with student.private_build(m, nb, root) as build:
            run, expr = student.run_tests(build, root, keyword=args.k)
            if args.k and run.returncode == 5 and not run.cases:
                raise StudentError(f"no test of module {m.number} matches -k {args.k!r}; "
                                   f"run `tito module test {m.number}` to see their names")
            _print_run(m, run, expr, verbose=args.verbose)
            ok = run.ok
            if args.notebook:
                _say("Running the notebook in a kernel ...")
                graded, problems = student.run_notebook(nb, build, root)
                points, total = _print_graded(graded, problems)
                ok = ok and all(g.passed for g in graded)
    except student.UnreadableNotebook as err:
        raise _usage(str(err))
    except StudentError as err:
        _err(str(err))
        return 1
    progress.record_test(m.number, run.passed, run.failed, points, total, root)
    if ok:
        _say(f"Ready: `tito module complete {m.number}` exports it into tinytorch/.")
    return 0 if ok else 1


# ---- complete ------------------------------------------------------------------------------

def complete(args: argparse.Namespace) -> int:
    root = _root()
    m = course.get_module(args.module)
    if progress.student_only(root):
        raise _usage(progress.student_only(root))
    nb = _notebook_or_fail(m)
    missing = student.missing_prerequisites(m, root)
    if missing:
        raise _usage(f"module {m.number} needs module(s) {', '.join(missing)} complete first: "
                     f"run `tito module complete {missing[0]}`")
    before = set(progress.completed_modules(root))
    points = total = None
    _say(f"Completing module {m.number} ({m.name}) from your notebook {_rel(nb)}")
    try:
        with student.private_build(m, nb, root) as build:
            run, expr = student.run_tests(build, root, integration=True, done=before)
            _print_run(m, run, expr)
            ok = run.ok
            if ok:
                # The graded cells run on every completion, so the points that status shows
                # are always those of the code being exported.
                _say("Running the notebook's graded cells in a kernel ...")
                graded, problems = student.run_notebook(nb, build, root)
                points, total = _print_graded(graded, problems)
                if args.notebook:
                    ok = all(g.passed for g in graded)
            progress.record_test(m.number, run.passed, run.failed, points, total, root)
            if not ok:
                _say(f"Not complete: tinytorch/ is unchanged. Fix the failures and run "
                     f"`tito module complete {m.number}` again.")
                return 1
            moved = student.swap_in(build, root)
    except student.UnreadableNotebook as err:
        raise _usage(f"{err}; tinytorch/ is unchanged")
    except StudentError as err:
        _err(str(err))
        _say("Not complete: tinytorch/ is unchanged.")
        return 1
    progress.mark_complete(m.number, points, total, root)
    for p in moved:
        _say(f"  exported {_rel(p)}")
    _say(f"Module {m.number} complete: `from tinytorch.{m.target} import ...` now uses your code.")
    after = before | {m.number}
    new_mods, _ = student.unlocked(after)
    _, old_miles = student.unlocked(before)
    _, new_miles = student.unlocked(after)
    fresh = [s for s in new_miles if s not in old_miles]
    nxt = new_mods
    for x in nxt[:1]:
        if progress.module_state(x.number, root) == progress.NOT_STARTED:
            how = (workspace.fetch_hint(x, root) if workspace.is_workspace(root)
                   else f"`tito module start {x.number}`")
            _say(f"Next: module {x.number} ({x.title}) — {how}")
        else:
            _say(f"Next: module {x.number} ({x.title}), already started — "
                 f"`tito module test {x.number}`")
    for s in fresh:
        _say(f"Milestone unlocked: {s.number} {s.title} ({s.year}) — "
             f"`tito milestone run {s.number}`")
    if not nxt and not fresh and len(after) == len(course.MODULES):
        _say("That was the last module: every milestone is yours to run.")
    return 0


# ---- status --------------------------------------------------------------------------------

def _when(stamp: str | None) -> str:
    return (stamp or "")[:16].replace("T", " ")


def _short(title: str) -> str:
    return title.split(":")[0].strip()


def status(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    root = _root()
    data = progress.load(root)
    edition = progress.edition(root)
    states = {m.number: progress.module_state(m.number, root, data) for m in course.MODULES}
    done = {n for n, s in states.items() if s == progress.COMPLETE}
    console = Console(highlight=False)

    mods = Table(title=f"Modules ({edition} edition)")
    if edition == "instructor":
        mods.caption = "In the instructor edition every exported module counts as complete."
    mods.add_column("module", no_wrap=True)
    mods.add_column("state", no_wrap=True)
    mods.add_column("tests", justify="right", no_wrap=True)
    mods.add_column("points", justify="right", no_wrap=True)
    mods.add_column("completed / last test", no_wrap=True)
    style = {progress.COMPLETE: "green", progress.IN_PROGRESS: "yellow",
             progress.NOT_STARTED: "dim"}
    for m in course.MODULES:
        entry = progress.module_entry(m.number, root, data)
        last = entry.get("last_test") or {}
        tests = ""
        if last:
            n = int(last.get("passed", 0)) + int(last.get("failed", 0))
            tests = f"{last.get('passed', 0)}/{n}"
        pts = f"{entry.get('points') or 0:g}/{entry['total']:g}" if entry.get("total") else ""
        state = states[m.number]
        shown = state
        when = _when(entry.get("completed") or last.get("at"))
        mods.add_row(f"{m.number} {_short(m.title)}", f"[{style[state]}]{shown}[/]", tests,
                     pts, when)
    console.print(mods)

    miles = Table(title="Milestones")
    miles.add_column("milestone", max_width=32)
    miles.add_column("state", no_wrap=True)
    miles.add_column("best result / what it needs")
    for s in course.MILESTONES:
        state, info = progress.milestone_state(s.number, data=data)
        best = (data["milestones"].get(s.number) or {}).get("best")
        if state == "achieved" and best and best.get("at"):
            info = f"{info} ({_when(best['at'])})"
        state = {"achieved": "[green]achieved[/]", "ready": "[cyan]ready[/]",
                 "locked": "[dim]locked[/]"}[state]
        miles.add_row(f"{s.number} {_short(s.title)} ({s.year})", state, info)
    console.print(miles)

    nxt = [m for m in course.MODULES if states[m.number] != progress.COMPLETE]
    if nxt and set(nxt[0].requires) <= done:
        m = nxt[0]
        verb = "test" if states[m.number] == progress.IN_PROGRESS else "start"
        if verb == "start" and workspace.is_workspace(root):
            console.print(f"Next: {_short(m.title)} — {workspace.fetch_hint(m, root)}",
                          markup=False)
        else:
            console.print(f"Next: `tito module {verb} {m.number}` ({_short(m.title)})",
                          markup=False)
    elif not nxt:
        console.print("Every module is complete.", markup=False)
    return 0


# ---- reset ---------------------------------------------------------------------------------

def _hub_reset(m: course.Module, root: Path, package: bool) -> int:
    """`reset` in a hub workspace: keep the notebook, then nbgrader brings a fresh one."""
    backup = student.backup_notebook(m, root)
    if backup:
        _say(f"Your notebook is kept: moved to {_rel(backup)}")
    else:
        _say(f"There was no notebook for module {m.number}; nothing to back up.")
    if package:
        removed = student.remove_export(m, root)
        progress.clear_complete(m.number, root)
        for p in removed:
            _say(f"  removed {_rel(p)} from the package (a copy is in the backups folder)")
    from tito.grading import assignment_id

    _say(f"Get a fresh copy of the released notebook with `nbgrader fetch_assignment "
         f"{assignment_id(m)} --replace` (it only adds the missing file).")
    return 0


def reset(args: argparse.Namespace) -> int:
    root = _root()
    m = course.get_module(args.module)
    if args.package and not progress.is_student_edition(root):
        raise _usage("this is the instructor edition: its tinytorch/ is generated from the "
                     "sources; `--package` is for a student copy")
    if workspace.is_workspace(root):
        return _hub_reset(m, root, args.package)
    if not m.notebook(root).exists():
        # Without a notebook, reset makes one as start would: not before the module is open.
        _require_prerequisites(m, root)
    try:
        fresh = student.student_notebook(m, root)
    except StudentError as err:
        raise _usage(str(err))
    backup = student.backup_notebook(m, root)
    if backup:
        _say(f"Your notebook is kept: moved to {_rel(backup)}")
    else:
        _say(f"There was no notebook for module {m.number}; nothing to back up.")
    if args.package:
        removed = student.remove_export(m, root)
        progress.clear_complete(m.number, root)
        for p in removed:
            _say(f"  removed {_rel(p)} from the package (a copy is in the backups folder)")
        if not removed:
            _say("  the package held nothing from this module")
    nb = m.notebook(root)
    student.write_notebook(fresh, nb)
    progress.mark_started(m.number, root)
    _say(f"Started again: {_rel(nb)} is a fresh copy of module {m.number}.")
    return 0


# ---- parser --------------------------------------------------------------------------------

def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("module", help="start, test and complete course modules",
                       description="Work through the course: start a module's notebook, test "
                                   "it, complete it into the tinytorch package.")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])

    s = actions.add_parser("start", help="make your notebook for a module and say how to open it")
    s.add_argument("module", help="module number or name, e.g. 01")
    s.add_argument("--open", action="store_true", help="open the notebook in JupyterLab")
    s.add_argument("--no-browser", action="store_true",
                   help="with --open: start JupyterLab without opening a browser window")
    s.add_argument("--port", type=int, help="with --open: the port JupyterLab listens on")
    s.set_defaults(func=start)

    t = actions.add_parser("test", help="run a module's tests against your notebook's code")
    t.add_argument("module", help="module number or name, e.g. 01")
    t.add_argument("--notebook", action="store_true",
                   help="also run the notebook in a kernel and report its graded cells")
    t.add_argument("-k", metavar="EXPR",
                   help="run only the tests whose names match EXPR (pytest's -k), e.g. "
                        "-k mean or -k 'softmax and not grad'")
    t.add_argument("--verbose", "-v", action="store_true",
                   help="print each failure in full: traceback and hypothesis's falsifying "
                        "example")
    t.set_defaults(func=test)

    c = actions.add_parser("complete",
                           help="test your notebook, then export it into tinytorch/")
    c.add_argument("module", help="module number or name, e.g. 01")
    c.add_argument("--notebook", action="store_true",
                   help="the graded cells (always run and recorded) must all pass too")
    c.set_defaults(func=complete)

    st = actions.add_parser("status", help="your progress: modules and milestones")
    st.set_defaults(func=status)

    r = actions.add_parser("reset", help="back up your notebook and start the module again")
    r.add_argument("module", help="module number or name, e.g. 01")
    r.add_argument("--package", action="store_true",
                   help="also remove the module's code from tinytorch/ (and its completion)")
    r.set_defaults(func=reset)
