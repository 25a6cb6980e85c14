"""Instructions per training step, counted by valgrind's callgrind: a figure noise cannot move.

On a shared machine one epoch's time swings by 20% and more from run to run, which hides any
change to the framework smaller than that. callgrind counts the instructions the processor
executes instead: the same program on the same input gives the same count, to within a few
instructions per step, whatever else the machine is doing (string hashing is seeded, with
PYTHONHASHSEED=0, so that dicts and sets do the same work on every run). A count says nothing about cache misses or memory traffic, so it is a
measure of work done, not of time; the time ratios stay with ``mlp_epoch.py``. valgrind does
not emulate AVX-512: under it numpy and OpenBLAS run their AVX2 code, which matters for the
large network's count and not for the tiny one's.

Two networks, each trained on one fixed batch:

- ``tiny`` (4-8-3, batch 4): the arithmetic is negligible, so the count is the per-step cost
  of the machinery around it. For tinytorch that is tensors, graph nodes, rule calls and
  checks; for the numpy implementations it is the Python and numpy call overhead of their
  operations.
- ``784-128-10`` (batch 128): the MNIST MLP of the epoch benchmark, where the matrix products
  dominate.

Each implementation runs in two fresh processes under callgrind, for ``N`` and ``N + K``
steps. The difference over ``K`` is the count per step: start-up and imports cancel out.

With ``--cache`` the runs go through valgrind's cachegrind instead, which simulates this
machine's per-core L1 data cache and L2 (their geometry read from Linux's sysfs) and counts
the data misses per step: how much memory traffic each implementation's arrays cause. A
simulation: it knows nothing of the hardware prefetchers, which hide much of the cost of
streaming through an array.

    python benchmarks/instructions.py              # prints the table (needs valgrind)
    python benchmarks/instructions.py --write      # ... and puts it into benchmarks/RESULTS.md
    python benchmarks/instructions.py --cache --networks 784-128-10 --opts sgd --write
"""
from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
NETWORKS = {"tiny": ((4, 8, 3), 4, 100, 400), "784-128-10": ((784, 128, 10), 128, 4, 16)}
IMPLS = ("numpy", "numpy-ops", "tinytorch")
OPTIMIZERS = ("sgd", "adam")


def make_step(impl: str, network: str, opt: str):
    """One training step of ``impl`` on a fixed random batch, as a function of no arguments."""
    import numpy as np

    import mlp_epoch

    sizes, batch, _, _ = NETWORKS[network]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    if impl == "numpy":
        step = mlp_epoch.numpy_step(*mlp_epoch.uniform_init(sizes, 0), opt)
        return lambda: step(x, y)
    if impl == "numpy-ops":
        step = mlp_epoch.numpy_ops_step(*mlp_epoch.uniform_init(sizes, 0), opt)
        return lambda: step(x, y)
    from tinytorch.core.tensor import Tensor

    step = mlp_epoch.make_step(*mlp_epoch.tinytorch_training(sizes, opt, seed=0))
    xt, yt = Tensor(x), Tensor(y)
    return lambda: step(xt, yt)


def worker(args: argparse.Namespace) -> None:
    step = make_step(args.impl, args.network, args.opt)
    for _ in range(args.steps):
        step()


# The caches cachegrind simulates when the machine does not describe its own: an L1 data
# cache and an L2 per core as (size in bytes, associativity, line size).
DEFAULT_CACHES = {"D1": (49152, 12, 64), "LL": (2097152, 16, 64)}


def machine_caches(sysfs: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> dict:
    """This machine's per-core L1 data cache and L2 (size, ways, line), read from Linux's
    sysfs; where that is missing (macOS, Windows), or describes a cache cachegrind cannot
    simulate (its number of sets must be a power of two), the defaults above."""
    units = {"K": 2**10, "M": 2**20}
    found = {}
    for index in sorted(sysfs.glob("index*")):
        try:
            level, kind = (index / "level").read_text().strip(), (index / "type").read_text()
            size = (index / "size").read_text().strip()
            size_bytes = int(size[:-1]) * units[size[-1]] if size[-1:] in units else int(size)
            ways = int((index / "ways_of_associativity").read_text())
            line = int((index / "coherency_line_size").read_text())
        except (OSError, ValueError):
            continue
        sets = size_bytes // (ways * line) if ways > 0 and line > 0 else 0
        if sets < 1 or sets & (sets - 1) or sets * ways * line != size_bytes:
            continue
        if level == "1" and kind.strip() == "Data":
            found["D1"] = (size_bytes, ways, line)
        elif level == "2":
            found["LL"] = (size_bytes, ways, line)
    return {name: found.get(name, default) for name, default in DEFAULT_CACHES.items()}


def describe_caches(caches: dict) -> str:
    """``"32 KiB L1 data, 1 MiB L2"``."""
    def size(n: int) -> str:
        return f"{n // 2**20} MiB" if n % 2**20 == 0 else f"{n // 2**10} KiB"
    return f"{size(caches['D1'][0])} L1 data, {size(caches['LL'][0])} L2"


@functools.cache
def this_machines_caches() -> dict:
    """The caches cachegrind simulates, and the table names: read from sysfs once per process."""
    return machine_caches()


# What each tool prints at the end of a run, and the counters read from it.
COUNTERS = {"callgrind": {"instructions": r"Collected\s*:\s*([\d,]+)"},
            "cachegrind": {"L1 data misses": r"D1\s+misses:\s*([\d,]+)",
                           "L2 data misses": r"LLd misses:\s*([\d,]+)"}}


def count(impl: str, network: str, opt: str, steps: int, tool: str = "callgrind") -> dict:
    """The counters of one whole run of ``steps`` steps under ``tool``."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONHASHSEED="0",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    caches = [f"--{name}={','.join(map(str, geometry))}"
              for name, geometry in this_machines_caches().items()]
    options = ["--cache-sim=yes", *caches] if tool == "cachegrind" else []
    cmd = ["valgrind", f"--tool={tool}", *options, f"--{tool}-out-file={os.devnull}",
           sys.executable, __file__, "--worker", "--impl", impl, "--network", network,
           "--opt", opt, "--steps", str(steps)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    found = {name: re.search(pattern, out.stderr) for name, pattern in COUNTERS[tool].items()}
    if out.returncode != 0 or not all(found.values()):
        raise RuntimeError(f"{tool} run of {impl} {network} {opt} failed:\n"
                           f"{out.stderr[-2000:]}")
    return {name: int(m.group(1).replace(",", "")) for name, m in found.items()}


def per_step(impl: str, network: str, opt: str, tool: str = "callgrind") -> dict:
    _, _, first, extra = NETWORKS[network]
    long, short = (count(impl, network, opt, steps, tool) for steps in (first + extra, first))
    return {name: (long[name] - short[name]) / extra for name in long}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    p.add_argument("--opts", nargs="+", default=list(OPTIMIZERS), choices=OPTIMIZERS)
    p.add_argument("--cache", action="store_true",
                   help="count simulated cache misses (cachegrind) instead of instructions")
    p.add_argument("--write", action="store_true", help="also put the table into RESULTS.md")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--impl", choices=IMPLS, help=argparse.SUPPRESS)
    p.add_argument("--network", choices=list(NETWORKS), help=argparse.SUPPRESS)
    p.add_argument("--opt", choices=OPTIMIZERS, help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: this benchmark counts instructions with its callgrind "
              "tool (Debian and Ubuntu: apt-get install valgrind; macOS and Windows: not "
              "available, use mlp_epoch.py's time ratios instead).", file=sys.stderr)
        return 2

    from results_file import report
    from mlp_epoch import machine_description

    if args.cache:
        report(cache_table(args, machine_description()), args.write)
        return 0
    lines = [
        "## Instructions per training step (callgrind)",
        "",
        f"Machine: {machine_description()}. Command: `python benchmarks/instructions.py "
        f"--write`",
        "",
        "Counted by valgrind's callgrind, which gives the same count to within a few "
        "instructions per step on every run (PYTHONHASHSEED=0), however busy the machine is: a "
        "measure of work, not of time (cache misses and memory traffic are not in it). "
        "Another installation (other paths, another environment) may differ by about 1%. One "
        "fixed batch, one BLAS thread; each count is (run of N + K steps - run of N steps) / K. `tiny` is 4-8-3 with batch 4, where a step is nearly all per-call "
        "overhead; 784-128-10 is the MNIST MLP with batch 128. valgrind does not emulate "
        "AVX-512, so under it numpy and OpenBLAS take their AVX2 code: the 784-128-10 counts "
        "are those of an AVX2 processor.",
        "",
        "| network | optimizer | numpy | numpy-ops | tinytorch | tinytorch / numpy "
        "| tinytorch / numpy-ops | tinytorch - numpy-ops |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for network in args.networks:
        for opt in args.opts:
            counts = {}
            for impl in IMPLS:
                counts[impl] = per_step(impl, network, opt)["instructions"]
                print(f"{network:<11} {opt:<5} {impl:<10} {counts[impl]:>14,.0f} instructions "
                      f"per step", flush=True)
            tt, ops, floor = counts["tinytorch"], counts["numpy-ops"], counts["numpy"]
            lines.append(f"| {network} | {opt} | {floor:,.0f} | {ops:,.0f} | {tt:,.0f} "
                         f"| {tt / floor:.2f}x | {tt / ops:.2f}x | {tt - ops:,.0f} |")
    report(lines, args.write)
    return 0


def cache_table(args: argparse.Namespace, machine: str) -> list[str]:
    """The ``--cache`` section: simulated L1 and L2 data misses per step."""
    lines = [
        "## Simulated cache misses per training step (cachegrind)",
        "",
        f"Machine: {machine}. Command: `python benchmarks/instructions.py --cache --networks "
        f"{' '.join(args.networks)} --opts {' '.join(args.opts)} --write`",
        "",
        "valgrind's cachegrind runs each step through a simulation of this machine's per-core "
        f"caches ({describe_caches(this_machines_caches())}) and counts the data reads and "
        "writes that miss them; each count is (run of N + K steps - run of N steps) / K, one "
        "fixed batch, one BLAS thread. A miss in the simulated L2 is memory traffic beyond the "
        "core's own caches. The simulation has no hardware prefetcher, which on the real "
        "processor hides much of the cost of streaming through a large array, so these are "
        "counts of traffic, not of time.",
        "",
        "| network | optimizer | implementation | L1 data misses | L2 data misses |",
        "|---|---|---|---|---|",
    ]
    for network in args.networks:
        for opt in args.opts:
            for impl in IMPLS:
                c = per_step(impl, network, opt, tool="cachegrind")
                l1, l2 = round(c["L1 data misses"]), round(c["L2 data misses"])
                print(f"{network:<11} {opt:<5} {impl:<10} {l1:>12,} L1 {l2:>10,} L2 misses per "
                      f"step", flush=True)
                lines.append(f"| {network} | {opt} | {impl} | {l1:,} | {l2:,} |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
