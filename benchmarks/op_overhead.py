"""Per-step overhead: forward + backward of a tiny MLP, where Python bookkeeping dominates.

A 16-32-10 MLP does almost no arithmetic, so the time per step is the framework's own cost:
creating tensors, recording the graph, walking it backwards. Batch 1 and 32, against PyTorch
when it is installed, interleaved in one process.

    python benchmarks/op_overhead.py            # prints its table
    python benchmarks/op_overhead.py --write    # ... and puts it into benchmarks/RESULTS.md
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
SIZES = (16, 32, 10)


def tinytorch_step_fn(batch: int):
    import numpy as np

    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.tensor import Tensor, manual_seed

    manual_seed(0)
    model = Sequential(Linear(SIZES[0], SIZES[1]), ReLU(), Linear(SIZES[1], SIZES[2]))
    loss_fn = CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((batch, SIZES[0]), dtype=np.float32))
    y = Tensor(rng.integers(0, SIZES[2], batch))

    def step():
        model.zero_grad()
        loss_fn(model(x), y).backward()

    return step


def torch_step_fn(batch: int):
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
                                torch.nn.Linear(SIZES[1], SIZES[2]))
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.randn(batch, SIZES[0])
    y = torch.randint(0, SIZES[2], (batch,))

    def step():
        model.zero_grad()
        loss_fn(model(x), y).backward()

    return step


def machine() -> str:
    sys.path.insert(0, str(HERE))
    from mlp_epoch import machine_description

    return machine_description()


def time_per_call(fn, reps: int) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--write", action="store_true",
                   help="also replace this script's section of benchmarks/RESULTS.md")
    p.add_argument("--no-write", dest="write", action="store_false", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
        have_torch = True
    except ImportError:
        have_torch = False
        print("PyTorch is not installed: only tinytorch is measured.")
    makers = {"tinytorch": tinytorch_step_fn}
    if have_torch:
        makers["torch"] = torch_step_fn
    rows = []
    for batch in (1, 32):
        fns = {name: make(batch) for name, make in makers.items()}
        for fn in fns.values():
            time_per_call(fn, 50)   # warm-up
        samples: dict[str, list[float]] = {name: [] for name in fns}
        for _ in range(args.rounds):
            for name, fn in fns.items():   # interleaved rounds
                samples[name].append(time_per_call(fn, args.reps))
        med = {name: statistics.median(v) for name, v in samples.items()}
        for name in fns:
            ratio = f"{med['tinytorch'] / med['torch']:.2f}x" if have_torch and \
                name == "tinytorch" else ""
            rows.append(f"| {batch} | {name} | {med[name] * 1e6:.1f} | "
                        f"{min(samples[name]) * 1e6:.1f} | {max(samples[name]) * 1e6:.1f} | "
                        f"{ratio} |")
    lines = [
        "## Per-op overhead",
        "",
        f"Forward + backward of a {'-'.join(map(str, SIZES))} MLP with cross-entropy, "
        f"{args.rounds} interleaved rounds of {args.reps} steps; microseconds per step, one "
        f"thread. Machine: {machine()}. "
        f"Command: `python benchmarks/op_overhead.py --write`",
        "",
        "| batch | implementation | median µs | min µs | max µs | tinytorch / torch |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    sys.path.insert(0, str(HERE))
    from results_file import report

    report(lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
