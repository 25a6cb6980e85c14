"""One BLAS thread or two: whole MNIST epochs on a quiet machine and on a busy one.

"Busy" means other programs want the cores too: this script starts ``--hogs`` busy-loop
processes for the second half of the measurements (and stops them). Each epoch runs in a fresh
process, as in mlp_epoch.py, and the settings are interleaved run by run.

    python benchmarks/threads.py            # prints its table
    python benchmarks/threads.py --write    # ... and puts it into benchmarks/RESULTS.md
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mlp_epoch  # noqa: E402

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--hogs", type=int, default=3, help="busy-loop processes for the busy case")
    p.add_argument("--config", default="784-256-128-10", choices=list(mlp_epoch.CONFIGS))
    p.add_argument("--opt", default="adam", choices=mlp_epoch.OPTIMIZERS)
    p.add_argument("--data", choices=("mnist", "digits"), default="mnist")
    p.add_argument("--write", action="store_true",
                   help="also replace this script's section of benchmarks/RESULTS.md")
    p.add_argument("--no-write", dest="write", action="store_false", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    results: dict[tuple, list[float]] = {}
    for condition in ("quiet", "busy"):
        hogs = []
        if condition == "busy":
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range(args.hogs)]
        try:
            for run in range(args.runs):
                for impl in ("numpy", "tinytorch"):
                    for threads in (1, 2):
                        ns = argparse.Namespace(threads=threads, data=args.data)
                        r = mlp_epoch.measure(impl, args.config, args.opt, ns, seed=run)
                        results.setdefault((condition, impl, threads), []).append(r["seconds"])
                        print(f"{condition:<5} run {run + 1}/{args.runs} {impl:<10} "
                              f"{threads} thread(s): {r['seconds']:.3f} s", flush=True)
        finally:
            for h in hogs:
                h.kill()
                h.wait()

    lines = [
        "## BLAS threads",
        "",
        f"One epoch of the {args.config} MLP with {args.opt}, median of {args.runs} interleaved "
        f"runs, each in a fresh process. *Busy*: {args.hogs} busy-loop processes running "
        f"alongside. Machine: {mlp_epoch.machine_description()}. "
        f"Command: `python benchmarks/threads.py`",
        "",
        "| machine | implementation | 1 thread s | 2 threads s | 2 threads / 1 thread |",
        "|---|---|---|---|---|",
    ]
    for condition in ("quiet", "busy"):
        for impl in ("numpy", "tinytorch"):
            one = statistics.median(results[(condition, impl, 1)])
            two = statistics.median(results[(condition, impl, 2)])
            lines.append(f"| {condition} | {impl} | {one:.3f} | {two:.3f} | {two / one:.2f}x |")
    from results_file import report

    report(lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
