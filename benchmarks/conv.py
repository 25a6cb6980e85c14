"""Convolutions at LeNet's shapes: tinytorch's conv2d and max_pool2d against PyTorch's.

Three measurements, each with the same number of threads for both frameworks:

1. ops: conv2d and max_pool2d, forward and forward + backward, at the shapes of milestone 04's
   network with a batch of 128 (the two frameworks interleaved round by round in one process);
2. epoch: one training epoch of that network on MNIST, each run in a fresh process,
   the frameworks interleaved run by run;
3. memory: the bytes of im2col's column matrix and the peak while building it (tracemalloc),
   against the bytes of the input.

Ratios are always taken within the same run of this script.

    python benchmarks/conv.py                      # everything, printed
    python benchmarks/conv.py --write              # ... and put into benchmarks/RESULTS.md
    python benchmarks/conv.py --runs 1             # a quick look
    python benchmarks/conv.py --data digits        # the small shipped set (smoke test only)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
BATCH = 128
LR = 2e-3
WARMUP_STEPS = 5

# (name, input shape, out channels, kernel, padding, does the input need a gradient?)
# The first layer's input is the images: nobody needs their gradient, so neither framework
# computes it (PyTorch skips it too when the input does not require grad).
CONVS = [("conv1 1->16 28x28 k5 p2", (BATCH, 1, 28, 28), 16, 5, 2, False),
         ("conv2 16->32 14x14 k5", (BATCH, 16, 14, 14), 32, 5, 0, True)]
POOLS = [("pool 16x28x28 k2", (BATCH, 16, 28, 28), 2), ("pool 32x10x10 k2", (BATCH, 32, 10, 10), 2)]


def set_threads(threads: int) -> None:
    """Before numpy is imported: BLAS reads these once."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


# ---- the network of milestone 04, in both frameworks ------------------------------------------
def lenet_tinytorch():
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d

    return Sequential(Conv2d(1, 16, 5, padding=2), ReLU(), MaxPool2d(2),
                      Conv2d(16, 32, 5), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(800, 128), ReLU(), Linear(128, 10))


def lenet_torch():
    import torch.nn as nn

    return nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(800, 128), nn.ReLU(), nn.Linear(128, 10))


def load_mnist(kind: str):
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from tinytorch import datasets

    ds = datasets.MNIST(train=True) if kind == "mnist" else datasets.Digits(train=True)
    x = np.ascontiguousarray(ds.images.reshape(-1, 1, 28, 28), dtype=np.float32)
    x -= np.float32(0.1307)
    x /= np.float32(0.3081)
    return x, np.asarray(ds.labels, dtype=np.int64)


def peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def epoch_tinytorch(x, y, seed: int) -> float:
    import numpy as np

    from tinytorch.core.dataloader import DataLoader, TensorDataset
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import Adam
    from tinytorch.core.tensor import Tensor, manual_seed

    manual_seed(seed)
    model = lenet_tinytorch()
    loss_fn, optimizer = CrossEntropyLoss(), Adam(model.parameters(), lr=LR)

    def step(xb, yb):
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    rng = np.random.default_rng(seed)
    for _ in range(WARMUP_STEPS):
        idx = rng.integers(0, len(x), BATCH)
        step(Tensor(x[idx]), Tensor(y[idx]))
    loader = DataLoader(TensorDataset(Tensor(x), Tensor(y)), batch_size=BATCH, shuffle=True,
                        seed=seed)
    start = time.perf_counter()
    for xb, yb in loader:
        step(xb, yb)
    return time.perf_counter() - start


def epoch_torch(x, y, seed: int) -> float:
    import numpy as np
    import torch

    torch.manual_seed(seed)
    model = lenet_torch()
    loss_fn, optimizer = torch.nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=LR)

    def step(xb, yb):
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    rng = np.random.default_rng(seed)
    for _ in range(WARMUP_STEPS):
        idx = torch.from_numpy(rng.integers(0, len(x), BATCH))
        step(xt[idx], yt[idx])
    order = torch.from_numpy(np.random.default_rng([seed, 0]).permutation(len(x)))
    start = time.perf_counter()
    for i in range(0, len(x), BATCH):
        idx = order[i:i + BATCH]
        step(xt[idx], yt[idx])
    return time.perf_counter() - start


def epoch_worker(args: argparse.Namespace) -> None:
    x, y = load_mnist(args.data)
    if args.impl == "torch":
        import torch

        torch.set_num_threads(args.threads)
    seconds = (epoch_torch if args.impl == "torch" else epoch_tinytorch)(x, y, args.seed)
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "batches":
                      -(-len(x) // BATCH)}))


def measure_epoch(impl: str, args: argparse.Namespace, seed: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, __file__, "--worker", "--impl", impl, "--data", args.data,
           "--threads", str(args.threads), "--seed", str(seed)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{impl} epoch failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- ops, in this process ------------------------------------------------------------------
def op_cases():
    """(name, tinytorch callable, torch callable) for every op measurement."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from tinytorch.core.spatial import conv2d, max_pool2d
    from tinytorch.core.tensor import Tensor

    rng = np.random.default_rng(0)
    cases = []
    for name, shape, out_ch, k, pad, input_grad in CONVS:
        x = rng.standard_normal(shape).astype(np.float32)
        w = (rng.standard_normal((out_ch, shape[1], k, k)) * 0.1).astype(np.float32)
        b = np.zeros(out_ch, np.float32)
        g = rng.standard_normal((shape[0], out_ch, shape[2] + 2 * pad - k + 1,
                                 shape[3] + 2 * pad - k + 1)).astype(np.float32)
        tx, tw, tb = (Tensor(x, requires_grad=input_grad), Tensor(w, requires_grad=True),
                      Tensor(b, requires_grad=True))
        px, pw, pb = (torch.tensor(x, requires_grad=input_grad),
                      torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True))
        pg = torch.from_numpy(g)

        def tiny_fwd(tx=tx, tw=tw, tb=tb, pad=pad):
            conv2d(tx, tw, tb, padding=pad)

        def tiny_both(tx=tx, tw=tw, tb=tb, pad=pad, g=g):
            conv2d(tx, tw, tb, padding=pad).backward(g)

        def torch_fwd(px=px, pw=pw, pb=pb, pad=pad):
            with torch.no_grad():
                F.conv2d(px, pw, pb, padding=pad)

        def torch_both(px=px, pw=pw, pb=pb, pad=pad, pg=pg):
            F.conv2d(px, pw, pb, padding=pad).backward(pg)

        cases.append((f"{name} forward", tiny_fwd, torch_fwd))
        cases.append((f"{name} forward + backward", tiny_both, torch_both))
    for name, shape, k in POOLS:
        x = rng.standard_normal(shape).astype(np.float32)
        g = rng.standard_normal((shape[0], shape[1], shape[2] // k, shape[3] // k)) \
            .astype(np.float32)
        tx, px, pg = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True), \
            torch.from_numpy(g)

        def tiny_pool(tx=tx, k=k, g=g):
            max_pool2d(tx, k).backward(g)

        def torch_pool(px=px, k=k, pg=pg):
            F.max_pool2d(px, k).backward(pg)

        cases.append((f"{name} forward + backward", tiny_pool, torch_pool))
    return cases


def time_ops(rounds: int, reps: int) -> list[tuple[str, float, float]]:
    """Median over ``rounds`` of the mean time per call, frameworks interleaved per round."""
    cases = op_cases()
    times: dict[tuple[str, str], list[float]] = {}
    for tiny, torch_fn in ((c[1], c[2]) for c in cases):
        tiny(), torch_fn()                                  # warm-up: first-touch costs
    for _ in range(rounds):
        for name, tiny, torch_fn in cases:
            for impl, fn in (("tinytorch", tiny), ("torch", torch_fn)):
                start = time.perf_counter()
                for _ in range(reps):
                    fn()
                times.setdefault((name, impl), []).append((time.perf_counter() - start) / reps)
    return [(name, statistics.median(times[(name, "tinytorch")]),
             statistics.median(times[(name, "torch")])) for name, _, _ in cases]


def im2col_memory() -> list[tuple[str, int, int, int]]:
    """(layer, input bytes, column bytes, peak bytes while building) at batch 128."""
    import tracemalloc

    import numpy as np

    from tinytorch.core.spatial import im2col

    rows = []
    for name, shape, _, k, pad, _ in CONVS:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        tracemalloc.start()
        cols = im2col(x, k, 1, pad)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append((name, x.nbytes, cols.nbytes, peak))
        del cols
    return rows


# ---- the driver ------------------------------------------------------------------------------
def load_now() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except (AttributeError, OSError):   # Windows has no load average
        return "n/a"


def machine_description() -> str:
    from mlp_epoch import machine_description as describe

    return describe()


def driver(args: argparse.Namespace) -> int:
    try:
        import torch
    except ImportError:
        print("benchmarks/conv.py compares against PyTorch: pip install torch", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    load = [load_now()]
    ops = time_ops(args.rounds, args.reps)
    for name, tiny, ref in ops:
        print(f"{name:<42} tinytorch {tiny * 1e3:7.2f} ms   torch {ref * 1e3:7.2f} ms   "
              f"{tiny / ref:5.2f}x", flush=True)
    memory = im2col_memory()
    epochs: dict[str, list[dict]] = {"tinytorch": [], "torch": []}
    for run in range(args.runs):
        for impl in epochs:      # interleaved: each run measures both frameworks
            r = measure_epoch(impl, args, seed=run)
            epochs[impl].append(r)
            print(f"epoch run {run + 1}/{args.runs}  {impl:<10} {r['seconds']:.2f} s  "
                  f"peak {r['peak_rss_mb']:.0f} MB", flush=True)

    data = "real MNIST, 60000 images" if args.data == "mnist" else "shipped digits, 6000 images"
    lines = [
        "## Convolutions: LeNet on MNIST",
        "",
        f"Machine: {machine_description()}.  ",
        f"Threads: {args.threads} for both frameworks (BLAS and torch.set_num_threads); "
        f"batch {BATCH}; network of milestone 04 ({ARCH_TEXT}); Adam.  ",
        f"Command: `python benchmarks/conv.py --runs {args.runs} --threads {args.threads} "
        f"--write`; load average (1 min) {load[0]} at the start, {load_now()} at the end "
        f"(the machine is shared: absolute times vary, the ratios are what to compare).",
        "",
        f"**One training epoch** ({data}; {args.runs} runs, each in a fresh process, "
        f"interleaved):",
        "",
        "| implementation | median s | min s | max s | tinytorch / torch, per run: median "
        "(range) | peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    # Each run's tinytorch time over the same run's PyTorch time: the two ran back to back, so
    # the ratio cancels most of what the rest of a shared machine was doing at that moment.
    paired = sorted(a["seconds"] / b["seconds"] for a, b in zip(epochs["tinytorch"],
                                                                 epochs["torch"]))
    for impl, rs in epochs.items():
        secs = [r["seconds"] for r in rs]
        ratio = (f"{statistics.median(paired):.2f}x ({paired[0]:.2f}x-{paired[-1]:.2f}x)"
                 if impl == "tinytorch" else "")
        lines.append(f"| {impl} | {statistics.median(secs):.2f} | {min(secs):.2f} | "
                     f"{max(secs):.2f} | {ratio} | {max(r['peak_rss_mb'] for r in rs):.0f} |")
    lines += [
        "",
        f"**Ops** (median over {args.rounds} interleaved rounds of the mean of {args.reps} "
        f"calls; the first convolution's input needs no gradient, the second's does):",
        "",
        "| op at batch 128 | tinytorch ms | torch ms | tinytorch / torch |",
        "|---|---|---|---|",
    ]
    for name, tiny, ref in ops:
        lines.append(f"| {name} | {tiny * 1e3:.2f} | {ref * 1e3:.2f} | {tiny / ref:.2f}x |")
    lines += [
        "",
        "**im2col memory** (tracemalloc, batch 128, float32):",
        "",
        "| layer | input MiB | columns MiB | columns / input | peak while building MiB |",
        "|---|---|---|---|---|",
    ]
    for name, x_bytes, cols_bytes, peak in memory:
        lines.append(f"| {name} | {x_bytes / 2**20:.2f} | {cols_bytes / 2**20:.2f} | "
                     f"{cols_bytes / x_bytes:.1f}x | {peak / 2**20:.2f} |")
    from results_file import report

    report(lines, args.write)
    return 0


ARCH_TEXT = "conv 1->16 k5 p2, pool 2, conv 16->32 k5, pool 2, 800-128-10"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="training epochs per framework")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds of op timings")
    p.add_argument("--reps", type=int, default=10, help="calls per op per round")
    p.add_argument("--threads", type=int, default=1, help="threads for both frameworks")
    p.add_argument("--data", choices=("mnist", "digits"), default="mnist")
    p.add_argument("--write", action="store_true",
                   help="also replace this script's section of benchmarks/RESULTS.md")
    p.add_argument("--no-write", dest="write", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--impl", choices=("tinytorch", "torch"), help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ("runs", "rounds", "reps", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.worker:
        epoch_worker(args)
        return 0
    return driver(args)


if __name__ == "__main__":
    set_threads(int(next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")),
                         sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv
                         else "1")))
    raise SystemExit(main())
