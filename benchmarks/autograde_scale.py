"""Autograding throughput: one worker, two workers, and a loopback Dask cluster, in one run.

    python benchmarks/autograde_scale.py                 # N = 10 submissions of modules 01 and 05
    python benchmarks/autograde_scale.py --n 10 50 200   # the sizes of the course-scale question
    python benchmarks/autograde_scale.py --write         # ... and put it into benchmarks/RESULTS.md

Each size builds a course with N copies of a full solution of module 01 and N of module 05,
then grades all of them (``--force``) with ``--jobs 1``, ``--jobs 2`` and a Dask LocalCluster of
two single-threaded worker processes on 127.0.0.1, in that order, through the same function
``tito nbgrader autograde`` calls. It reports submissions per second, the speed-up over one job,
and the per-submission floor: the sandboxed kernel's start-up and the whole worker time, from the
workers' own reports. Times are wall-clock on a shared machine: compare the ratios of one run.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tito import autograde, course, grading  # noqa: E402


def build(root: Path, n: int) -> list[course.Module]:
    import nbformat

    from tito.commands import nbgrader as cmd

    grading.init_course(root, timeout=60)
    modules = [course.get_module("01"), course.get_module("05")]
    args = argparse.Namespace(course=str(root), modules=[m.number for m in modules], all=False)
    with open(os.devnull, "w") as quiet:
        stdout, sys.stdout = sys.stdout, quiet
        try:
            assert cmd.cmd_generate(args) == 0, "generate failed"
        finally:
            sys.stdout = stdout
    for m in modules:
        release = nbformat.read(str(grading.release_notebook(root, m)), as_version=4)
        answers = {c.metadata["nbgrader"]["grade_id"]: c.source
                   for c in grading.source_notebook(m).cells
                   if c.metadata.get("nbgrader", {}).get("solution")}
        nb = copy.deepcopy(release)
        for c in nb.cells:
            if c.metadata.get("nbgrader", {}).get("solution"):
                c.source = answers[c.metadata["nbgrader"]["grade_id"]]
        hand_ins = [(f"s{i:04d}", None) for i in range(n)]
        tmp = root.parent / f"inbox{m.number}"
        tmp.mkdir(exist_ok=True)
        for who, _ in hand_ins:
            nbformat.write(nb, str(tmp / f"{who}.ipynb"))
        grading.collect(root, m, grading.find_handins(m, [tmp]))
    return modules


def grade(root: Path, modules, jobs: int, scheduler: str | None) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    reports = []
    for m in modules:
        students = grading.submitted_students(root, m)
        outcomes = autograde.autograde(root, m, students, jobs=jobs, scheduler=scheduler,
                                       force=True)
        assert all(o.kind == "ok" for o in outcomes), [o.status for o in outcomes]
        for s in students:
            data = json.loads((root / autograde.RESULTS / grading.assignment_id(m) /
                               f"{s}.json").read_text())
            reports.append(data["report"])
    return time.perf_counter() - start, reports


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, nargs="+", default=[10],
                   help="submissions per module (default 10)")
    p.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = p.parse_args()
    from distributed import LocalCluster

    rows = []
    for n in args.n:
        base = Path(tempfile.mkdtemp(prefix="tt-autograde-bench-"))
        try:
            root = base / "course"
            modules = build(root, n)
            total = n * len(modules)
            t1, reports = grade(root, modules, 1, None)
            t2, _ = grade(root, modules, 2, None)
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                              host="127.0.0.1", dashboard_address=None) as cluster:
                td, _ = grade(root, modules, 2, cluster.scheduler_address)
            start = statistics.median(r["kernel_start_s"] for r in reports)
            worker = statistics.median(r["seconds"] for r in reports)
            rows.append((n, total, t1, t2, td, start, worker))
            print(f"N={n}: {total} submissions; jobs 1 {total / t1:.2f}/s, jobs 2 "
                  f"{total / t2:.2f}/s ({t1 / t2:.2f}x), Dask 2 workers {total / td:.2f}/s "
                  f"({t1 / td:.2f}x, {td / t2:.2f} of jobs 2's time); per submission "
                  f"{worker:.2f} s in the worker, {start:.2f} s of it kernel start-up")
        finally:
            shutil.rmtree(base, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = ["## Autograding throughput (benchmarks/autograde_scale.py)", "",
             f"{os.cpu_count()} cores, load average {load:.1f} when it finished; modules 01 "
             f"and 05, full solutions, sandboxed kernels.", "",
             "| N per module | submissions | jobs 1 /s | jobs 2 /s | speed-up | Dask (2x1) /s | "
             "Dask vs jobs 2 time | worker s/submission | of it kernel start |",
             "|---|---|---|---|---|---|---|---|---|"]
    for n, total, t1, t2, td, start, worker in rows:
        lines.append(f"| {n} | {total} | {total / t1:.2f} | {total / t2:.2f} | {t1 / t2:.2f}x "
                     f"| {total / td:.2f} | {td / t2:.2f} | {worker:.2f} | {start:.2f} |")
    from results_file import report

    report(lines, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
