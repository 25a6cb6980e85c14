"""`tito bench`: run the speed and memory benchmarks in benchmarks/."""
from __future__ import annotations

import argparse
import subprocess
import sys

from tito import course


def run(args: argparse.Namespace) -> int:
    folder = course.REPO_ROOT / "benchmarks"
    scripts = {"epoch": folder / "mlp_epoch.py", "overhead": folder / "op_overhead.py",
               "threads": folder / "threads.py"}
    for name in args.which:
        if not scripts[name].exists():
            print(f"tito: {scripts[name]} is missing from this working copy", file=sys.stderr)
            return 2
    for name in args.which:
        cmd = [sys.executable, str(scripts[name])] + (["--write"] if args.write else [])
        if name == "epoch":
            cmd += ["--runs", str(args.runs), "--data", args.data]
        elif name == "threads":
            cmd += ["--data", args.data]
        rc = subprocess.run(cmd, cwd=course.REPO_ROOT).returncode
        if rc != 0:
            return rc
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time MNIST training against numpy and PyTorch")
    p.add_argument("which", nargs="*", choices=("epoch", "overhead", "threads"),
                   default=["epoch", "overhead"],
                   help="which benchmarks (default: epoch overhead; threads takes minutes)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--data", choices=("mnist", "digits"), default="mnist")
    p.add_argument("--write", action="store_true",
                   help="also update benchmarks/RESULTS.md (by default the tables are printed)")
    p.set_defaults(func=run)
