"""One epoch of MLP training on MNIST: tinytorch against hand-written numpy and PyTorch.

A fourth implementation, numpy-ops, does tinytorch's own array operations without the
framework around them, which splits tinytorch's distance from the floor in two.

Every measurement runs in its own fresh process (so peak memory is that run's alone), and the
implementations are interleaved run by run, so a machine that slows down mid-benchmark slows all
of them alike. Ratios are taken within the same run of this script.

    python benchmarks/mlp_epoch.py                 # full table, printed
    python benchmarks/mlp_epoch.py --write         # ... and put into benchmarks/RESULTS.md
    python benchmarks/mlp_epoch.py --runs 3
    python benchmarks/mlp_epoch.py --data digits   # the small shipped set (smoke test only)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
CONFIGS = {"784-128-10": (784, 128, 10), "784-256-128-10": (784, 256, 128, 10)}
OPTIMIZERS = ("sgd", "adam")
IMPLS = ("numpy", "numpy-ops", "tinytorch", "torch")
BATCH = 128
LR = {"sgd": 0.05, "adam": 1e-3}
WARMUP_STEPS = 20


# ---- data ------------------------------------------------------------------------------------
def load_mnist(kind: str):
    """float32 images (N, 784) scaled to [0, 1] then normalised, int64 labels."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from tinytorch import datasets

    ds = datasets.MNIST(train=True) if kind == "mnist" else datasets.Digits(train=True)
    x = ds.images.reshape(len(ds.images), -1)
    x = np.ascontiguousarray(x, dtype=np.float32)
    x -= np.float32(0.1307)
    x /= np.float32(0.3081)
    return x, np.asarray(ds.labels, dtype=np.int64)


def peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows: no resource module
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def uniform_init(sizes, seed: int) -> tuple[list, list]:
    """float32 weights (out, in) and biases drawn from U(-1/sqrt(in), 1/sqrt(in))."""
    import numpy as np

    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        weights.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        biases.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return weights, biases


def adam_buffers(params) -> tuple[list, list, list]:
    """Zeroed first moments, second moments and scratch space, one array of each per parameter."""
    import numpy as np

    return tuple([np.zeros_like(p) for p in params] for _ in range(3))


def adam_update(params, grads, m, v, scratch, t: int, lr: float,
                b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
    """Adam step ``t`` in place, every temporary in ``scratch`` (the same ops as tinytorch)."""
    import math

    import numpy as np

    for p, gr, mi, vi, s in zip(params, grads, m, v, scratch):
        mi *= b1
        np.multiply(gr, 1 - b1, out=s)
        mi += s
        vi *= b2
        np.multiply(gr, gr, out=s)
        s *= 1 - b2
        vi += s
        np.sqrt(vi, out=s)
        s /= math.sqrt(1 - b2 ** t)
        s += eps
        np.divide(mi, s, out=s)
        s *= -lr / (1 - b1 ** t)
        p += s


# ---- the implementations ---------------------------------------------------------------------
def numpy_step(weights: list, biases: list, opt: str):
    """One step of the floor, updating ``weights`` and ``biases`` in place.

    Forward and backward written by hand; every update in place, Adam with out= arguments.
    """
    import numpy as np

    params = weights + biases
    m, v, tmp = adam_buffers(params)
    lr = LR[opt]
    state = {"t": 0}

    def step(xb, yb):
        acts = [xb]
        for i, (w, b) in enumerate(zip(weights, biases)):
            z = acts[-1] @ w.T
            z += b
            if i < len(weights) - 1:
                np.maximum(z, 0, out=z)
            acts.append(z)
        z = acts[-1]
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        z[np.arange(len(yb)), yb] -= 1
        g = z
        g /= len(yb)
        grads_w, grads_b = [None] * len(weights), [None] * len(weights)
        for i in reversed(range(len(weights))):
            grads_w[i] = g.T @ acts[i]
            grads_b[i] = g.sum(axis=0)
            if i > 0:
                g = g @ weights[i]
                g *= acts[i] > 0
        grads = grads_w + grads_b
        if opt == "sgd":
            for p, gr in zip(params, grads):
                gr *= -lr
                p += gr
            return
        state["t"] += 1
        adam_update(params, grads, m, v, tmp, state["t"], lr)

    return step


def epoch_numpy(x, y, sizes, opt: str, seed: int) -> float:
    """The floor: forward and backward written by hand, Adam in place with out= arguments."""
    weights, biases = uniform_init(sizes, seed)
    return run_epoch(x, y, numpy_step(weights, biases, opt), seed)


def numpy_ops_step(weights: list, biases: list, opt: str):
    """One training step of numpy-ops, updating ``weights`` and ``biases`` in place."""
    import numpy as np

    params = weights + biases
    m, v, scratch = adam_buffers(params)
    lr = LR[opt]
    state = {"t": 0}
    classes = weights[-1].shape[0]

    def step(xb, labels):
        acts = [xb]                                  # linear: matmul, bias in place; relu: new
        for i, (w, b) in enumerate(zip(weights, biases)):
            z = acts[-1] @ w.T
            z += b
            acts.append(np.maximum(z, 0) if i < len(weights) - 1 else z)
        z = acts[-1]
        if labels.view(np.uint64).max() >= classes:     # tinytorch's one-sided range check
            raise ValueError("label out of range")
        n = len(labels)                              # cross-entropy, as tinytorch computes it
        zs = z - np.max(z, axis=1, keepdims=True)
        at_label = zs[np.arange(n), labels]
        probs = np.exp(zs, out=zs)
        norm = probs.sum(axis=1)
        losses = np.log(norm) - at_label
        probs /= norm[:, None]
        loss = losses.sum() / losses.size            # noqa: F841 (computed, as tinytorch does)
        g = probs.copy()                             # its backward
        g[np.arange(n), labels] -= 1
        g *= np.ones((), np.float32) / n
        grads_w, grads_b = [None] * len(weights), [None] * len(weights)
        for i in reversed(range(len(weights))):
            grads_w[i] = g.T @ acts[i]
            grads_b[i] = g.sum(axis=0)
            if i > 0:
                g = (g @ weights[i]) * (acts[i] > 0)  # linear's grad_x, then relu's rule
        grads = grads_w + grads_b
        if opt == "sgd":
            for p, gr, s in zip(params, grads, scratch):
                np.multiply(gr, -lr, out=s)
                p += s
            return
        state["t"] += 1
        adam_update(params, grads, m, v, scratch, state["t"], lr)   # as tinytorch's Adam

    return step


def epoch_numpy_ops(x, y, sizes, opt: str, seed: int) -> float:
    """tinytorch's own array operations, written out in numpy with no Tensor, graph or check.

    Every array tinytorch makes in a step is made here too: a new array per op result, relu's
    output and its mask, the loss value (which the hand-written floor never computes), the
    label range check, probabilities copied for backward, one scratch buffer per parameter in
    the optimizer. tinytorch / this is the cost of the framework's machinery (objects, graph,
    rule calls, checks); this / numpy is the cost of the operations it chooses.
    """
    weights, biases = uniform_init(sizes, seed)
    step = numpy_ops_step(weights, biases, opt)
    return run_epoch(x, y, step, seed)


def run_epoch(x, y, step, seed: int) -> float:
    import numpy as np

    warm_up(step, x, y, seed, lambda a: a)
    start = time.perf_counter()       # the shuffle is part of the epoch, as in DataLoader
    order = np.random.default_rng(seed + 1).permutation(len(x))
    for i in range(0, len(x), BATCH):
        idx = order[i:i + BATCH]
        step(x[idx], y[idx])
    return time.perf_counter() - start


def make_step(model, loss_fn, optimizer):
    """One training step, written the same way for both frameworks (PyTorch's API names)."""
    def step(xb, yb):
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def warm_up(step, x, y, seed: int, wrap) -> None:
    """A few steps on random batches first, so no one-time cost lands in the timed epoch."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for _ in range(WARMUP_STEPS):
        idx = rng.integers(0, len(x), BATCH)
        step(wrap(x[idx]), wrap(y[idx]))


def epoch_torch(x, y, sizes, opt: str, seed: int) -> float:
    import torch

    torch.manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = (torch.optim.SGD(model.parameters(), lr=LR[opt]) if opt == "sgd"
                 else torch.optim.Adam(model.parameters(), lr=LR[opt]))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    step = make_step(model, loss_fn, optimizer)
    warm_up(step, x, y, seed, torch.from_numpy)
    import numpy as np

    start = time.perf_counter()       # the shuffle is part of the epoch, as in DataLoader
    order = torch.from_numpy(np.random.default_rng(seed + 1).permutation(len(x)))
    for i in range(0, len(x), BATCH):
        idx = order[i:i + BATCH]
        step(xt[idx], yt[idx])
    return time.perf_counter() - start


def tinytorch_training(sizes, opt: str, seed: int) -> tuple:
    """The model, loss and optimizer a student writes: Sequential, CrossEntropyLoss, SGD or Adam."""
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import SGD, Adam
    from tinytorch.core.tensor import manual_seed

    manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(ReLU())
    model = Sequential(*layers)
    optimizer = (SGD(model.parameters(), lr=LR[opt]) if opt == "sgd"
                 else Adam(model.parameters(), lr=LR[opt]))
    return model, CrossEntropyLoss(), optimizer


def epoch_tinytorch(x, y, sizes, opt: str, seed: int) -> float:
    """What a student writes: Sequential, CrossEntropyLoss, backward(), an optimizer, DataLoader."""
    from tinytorch.core.dataloader import DataLoader, TensorDataset
    from tinytorch.core.tensor import Tensor

    step = make_step(*tinytorch_training(sizes, opt, seed))
    warm_up(step, x, y, seed, Tensor)
    loader = DataLoader(TensorDataset(Tensor(x), Tensor(y)), batch_size=BATCH, shuffle=True,
                        seed=seed)
    start = time.perf_counter()
    for xb, yb in loader:
        step(xb, yb)
    return time.perf_counter() - start


EPOCH = {"numpy": epoch_numpy, "numpy-ops": epoch_numpy_ops, "torch": epoch_torch,
         "tinytorch": epoch_tinytorch}


def worker(args: argparse.Namespace) -> None:
    x, y = load_mnist(args.data)
    if args.impl == "torch":
        import torch

        torch.set_num_threads(args.threads)
    seconds = EPOCH[args.impl](x, y, CONFIGS[args.config], args.opt, args.seed)
    dataset_mb = (x.nbytes + y.nbytes) / 2**20
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb(),
                      "dataset_mb": dataset_mb}))


# ---- the driver ------------------------------------------------------------------------------
def torch_available() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def measure(impl: str, config: str, opt: str, args: argparse.Namespace, seed: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, __file__, "--worker", "--impl", impl, "--config", config,
           "--opt", opt, "--data", args.data, "--threads", str(args.threads),
           "--seed", str(seed)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{impl} {config} {opt} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def model_mb(sizes) -> float:
    n = sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))
    return n * 4 / 2**20


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy as np

    parts = [f"{cpu}, {os.cpu_count()} logical cores", f"Python {platform.python_version()}",
             f"numpy {np.__version__}"]
    if torch_available():
        import torch

        parts.append(f"torch {torch.__version__}")
    return "; ".join(parts)


def stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def driver(args: argparse.Namespace) -> int:
    impls = [i for i in args.impls if i != "torch" or torch_available()]
    if "torch" in args.impls and "torch" not in impls:
        print("PyTorch is not installed: its column is left out (pip install torch).")
    cells = [(c, o) for c in args.configs for o in args.opts]
    results: dict[tuple, list[dict]] = {}
    for run in range(args.runs):
        for config, opt in cells:
            for impl in impls:   # interleaved: each run measures every implementation
                r = measure(impl, config, opt, args, seed=run)
                results.setdefault((impl, config, opt), []).append(r)
                print(f"run {run + 1}/{args.runs}  {config:<15} {opt:<5} {impl:<10} "
                      f"{r['seconds']:.3f} s  peak {r['peak_rss_mb']:.0f} MB", flush=True)

    lines = [
        "## One epoch of MNIST MLP training",
        "",
        f"Machine: {machine_description()}.  ",
        f"BLAS threads: {args.threads}; batch {BATCH}; data: "
        f"{'real MNIST, 60000 x 784 float32' if args.data == 'mnist' else 'shipped digits'}; "
        f"{args.runs} runs per cell, interleaved; each run in a fresh process.  ",
        f"Command: `python benchmarks/mlp_epoch.py --runs {args.runs} --threads {args.threads} "
        f"--write`",
        "",
        "Ratios are paired: each run's time over the same run's numpy (or torch) time,"
        " measured back to back; the table gives the median of those ratios and, in brackets, "
        "their spread over the runs. `numpy` is the hand-written floor (every update in place, "
        "no loss value); `numpy-ops` performs exactly the array operations tinytorch performs, "
        "with no Tensor, graph or check, so tinytorch / numpy-ops is the cost of the "
        "framework's machinery and numpy-ops / numpy the cost of the operations it chooses.",
        "",
        "| config | optimizer | implementation | median s | min s | max s | / numpy "
        "| / numpy-ops | / torch | peak RSS MB | RSS / (data + model) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    def paired(impl: str, config: str, opt: str, other: str) -> str:
        """Median and spread of run-by-run ratios impl / other (same run, back to back)."""
        if impl == other or impl not in impls or other not in impls:
            return ""
        ratios = [t["seconds"] / o["seconds"] for t, o in
                  zip(results[(impl, config, opt)], results[(other, config, opt)])]
        m, lo, hi = stats(ratios)
        return f"{m:.2f}x [{lo:.2f}-{hi:.2f}]"

    for config, opt in cells:
        for impl in impls:
            rs = results[(impl, config, opt)]
            m, lo, hi = stats([r["seconds"] for r in rs])
            peak = max(r["peak_rss_mb"] for r in rs)
            budget = rs[0]["dataset_mb"] + model_mb(CONFIGS[config])
            vs_np = paired(impl, config, opt, "numpy") if impl != "torch" else ""
            vs_ops = paired(impl, config, opt, "numpy-ops") if impl == "tinytorch" else ""
            vs_t = paired(impl, config, opt, "torch") if impl == "tinytorch" else ""
            lines.append(f"| {config} | {opt} | {impl} | {m:.3f} | {lo:.3f} | {hi:.3f} | "
                         f"{vs_np} | {vs_ops} | {vs_t} | {peak:.0f} | {peak / budget:.2f} |")
    from results_file import report

    report(lines, args.write)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads for every implementation")
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--opts", nargs="+", default=list(OPTIMIZERS), choices=OPTIMIZERS)
    p.add_argument("--impls", nargs="+", default=list(IMPLS), choices=IMPLS)
    p.add_argument("--data", choices=("mnist", "digits"), default="mnist")
    p.add_argument("--write", action="store_true",
                   help="also replace this script's section of benchmarks/RESULTS.md")
    p.add_argument("--no-write", dest="write", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--impl", choices=IMPLS, help=argparse.SUPPRESS)
    p.add_argument("--config", choices=list(CONFIGS), help=argparse.SUPPRESS)
    p.add_argument("--opt", choices=OPTIMIZERS, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    return driver(args)


if __name__ == "__main__":
    raise SystemExit(main())
