"""Where one training step's time goes: tinytorch beside the hand-written numpy step.

Everything runs in one process in interleaved rounds, every implementation on the same batches
(drawn afresh from the whole set each round), so a machine whose speed drifts slows them all
alike; ratios are taken within the run. The network is
784-128-10 with batch 128 on real MNIST (``--data digits``: the small shipped set).

Three tables:

1. Per step: the hand-written floor (``numpy``), tinytorch's own array operations without the
   framework (``numpy-ops``), tinytorch, and tinytorch's phases (gathering the batch,
   forward, loss, zero_grad, backward, optimizer step). Every implementation gathers its
   batch inside the timed step, as an epoch does.
2. The first layer's forward matmul ``x @ W.T``, with ``W`` stored row-major (as ``Linear``
   stores it) and column-major. BLAS may handle one layout faster than the other.
3. A tinytorch step with column-major weights (the "linear" rule registered anew so that the
   weight gradients share that layout) over the row-major step, for SGD and Adam, and the
   number of subnormal floats in Adam's first moments (units that never fire get a zero
   gradient, and their moments decay towards zero through the subnormal range, where every
   arithmetic instruction that meets one is slow).

    python benchmarks/step_breakdown.py             # prints the tables
    python benchmarks/step_breakdown.py --write     # ... and puts them into benchmarks/RESULTS.md
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
SIZES = (784, 128, 10)
BATCH = 128
PHASES = ("batch", "forward", "loss", "zero_grad", "backward", "step")


def tinytorch_model(opt: str, column_major: bool):
    import numpy as np

    from mlp_epoch import LR
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import SGD, Adam
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    model = Sequential(Linear(SIZES[0], SIZES[1]), ReLU(), Linear(SIZES[1], SIZES[2]))
    if column_major:
        for layer in (model[0], model[2]):
            layer.weight.data = np.asfortranarray(layer.weight.data)
    optimizer = (SGD(model.parameters(), lr=LR[opt]) if opt == "sgd"
                 else Adam(model.parameters(), lr=LR[opt]))
    return model, CrossEntropyLoss(), optimizer


def column_major_linear_backward(grad, node) -> tuple:
    """The "linear" rule with the weight gradient in the weight's column-major layout."""
    x, w = node.inputs[0].data, node.inputs[1].data
    grads = (grad @ w if node.needs[0] else None,
             (x.T @ grad).T if node.needs[1] else None)
    if len(node.inputs) == 3:
        grads += (grad.sum(axis=0) if node.needs[2] else None,)
    return grads


def use_linear_rule(rule) -> None:
    from tinytorch.core.autograd import backward_rule

    backward_rule("linear")(rule)


def subnormals(arrays) -> int:
    import numpy as np

    tiny = np.finfo(np.float32).tiny
    return int(sum(np.count_nonzero((a != 0) & (np.abs(a) < tiny)) for a in arrays))


class Runner:
    """One implementation's step on the given batches, timed as a whole or by phase."""

    def __init__(self, kind: str, opt: str, x, y):
        import mlp_epoch
        from tinytorch.core.autograd import linear_backward

        self.kind, self.x, self.y = kind, x, y
        self.rule = (column_major_linear_backward if kind == "tinytorch column-major"
                     else linear_backward)
        self.phases = {p: [] for p in PHASES}
        if kind in ("numpy", "numpy-ops"):
            weights, biases = mlp_epoch.uniform_init(SIZES, 0)
            make = mlp_epoch.numpy_step if kind == "numpy" else mlp_epoch.numpy_ops_step
            self.step = make(weights, biases, opt)
            self.model = None
        else:
            self.model, self.loss_fn, self.optimizer = tinytorch_model(
                opt, column_major=kind == "tinytorch column-major")

    def run(self, batches, by_phase: bool = False) -> float:
        """Seconds per step over ``batches``."""
        from tinytorch.core.tensor import Tensor

        x, y = self.x, self.y
        if self.model is None:
            start = time.perf_counter()
            for idx in batches:
                self.step(x[idx], y[idx])
            return (time.perf_counter() - start) / len(batches)
        use_linear_rule(self.rule)
        model, loss_fn, optimizer = self.model, self.loss_fn, self.optimizer
        clock = time.perf_counter
        total = 0.0
        for idx in batches:
            # The batch is gathered inside the timed step, as the numpy steps gather theirs.
            tb = clock()
            xb, yb = Tensor(x[idx]), Tensor(y[idx])
            t0 = clock()
            out = model(xb)
            t1 = clock()
            loss = loss_fn(out, yb)
            t2 = clock()
            optimizer.zero_grad()
            t3 = clock()
            loss.backward()
            t4 = clock()
            optimizer.step()
            t5 = clock()
            total += t5 - tb
            if by_phase:
                for name, seconds in zip(PHASES, (t0 - tb, t1 - t0, t2 - t1, t3 - t2, t4 - t3,
                                                  t5 - t4)):
                    self.phases[name].append(seconds)
        return total / len(batches)

    def first_moments(self) -> list:
        return [self.optimizer.state[p]["exp_avg"] for p in self.model.parameters()]


def paired(times: list[float], base: list[float]) -> str:
    """Median and spread of the round-by-round ratios ``times / base``."""
    ratios = [t / b for t, b in zip(times, base)]
    return f"{statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]"


def matmul_table(x, rounds: int) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(0)
    w = rng.uniform(-0.04, 0.04, (SIZES[1], SIZES[0])).astype(np.float32)
    layouts = {"row-major (C)": w, "column-major (F)": np.asfortranarray(w)}
    xb = np.ascontiguousarray(x[:BATCH])
    times = {name: [] for name in layouts}
    for _ in range(rounds):
        for name, weight in layouts.items():
            start = time.perf_counter()
            for _ in range(50):
                xb @ weight.T
            times[name].append((time.perf_counter() - start) / 50)
    lines = ["| W layout | median µs | / row-major |", "|---|---|---|"]
    for name, values in times.items():
        ratio = paired(values, times["row-major (C)"]) if name != "row-major (C)" else ""
        lines.append(f"| {name} | {statistics.median(values) * 1e6:.0f} | {ratio} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=24,
                   help="interleaved rounds (a multiple of 4: each implementation goes first alike)")
    p.add_argument("--steps", type=int, default=40, help="steps per implementation per round")
    p.add_argument("--warmup", type=int, default=800,
                   help="training steps before timing (Adam's subnormals appear after ~700)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads")
    p.add_argument("--data", choices=("mnist", "digits"), default="mnist")
    p.add_argument("--write", action="store_true",
                   help="also replace this script's section of benchmarks/RESULTS.md")
    args = p.parse_args(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)        # before numpy is first imported

    import numpy as np

    from mlp_epoch import load_mnist, machine_description

    x, y = load_mnist(args.data)
    rng = np.random.default_rng(1)
    warm = [rng.integers(0, len(x), BATCH) for _ in range(args.warmup)]

    step_lines = ["| optimizer | implementation | median µs | / numpy | "
                  + " | ".join(f"{ph} µs" for ph in PHASES) + " |",
                  "|---|---|---|---|" + "---|" * len(PHASES)]
    layout_lines = ["| optimizer | tinytorch weights | median µs | / row-major | "
                    "subnormals in exp_avg |", "|---|---|---|---|---|"]
    kinds = ("numpy", "numpy-ops", "tinytorch", "tinytorch column-major")
    for opt in ("sgd", "adam"):
        runners = {k: Runner(k, opt, x, y) for k in kinds}
        for runner in runners.values():
            runner.run(warm)
        times = {k: [] for k in kinds}
        for r in range(args.rounds):
            # Fresh batches from the whole set each round, as in an epoch; the first to run
            # gathers them from memory, so the order of the implementations rotates.
            batches = [rng.integers(0, len(x), BATCH) for _ in range(args.steps)]
            for k in kinds[r % len(kinds):] + kinds[:r % len(kinds)]:
                times[k].append(runners[k].run(batches, by_phase=True))
        med = {k: statistics.median(v) for k, v in times.items()}
        for k in kinds[:3]:
            phases = runners[k].phases
            cells = [f"{statistics.median(phases[ph]) * 1e6:.0f}" if phases[ph] else ""
                     for ph in PHASES]
            ratio = paired(times[k], times["numpy"]) if k != "numpy" else ""
            step_lines.append(f"| {opt} | {k} | {med[k] * 1e6:.0f} | {ratio} | "
                              + " | ".join(cells) + " |")
        for k, label in (("tinytorch", "row-major (C)"),
                         ("tinytorch column-major", "column-major (F)")):
            count = subnormals(runners[k].first_moments()) if opt == "adam" else "-"
            layout_lines.append(f"| {opt} | {label} | {med[k] * 1e6:.0f} | "
                                f"{paired(times[k], times['tinytorch']) if k != 'tinytorch' else ''}"
                                f" | {count} |")
        print(f"{opt}: done", flush=True)
    from tinytorch.core.autograd import linear_backward

    use_linear_rule(linear_backward)

    lines = [
        "## Where a training step's time goes",
        "",
        f"Machine: {machine_description()}.  ",
        f"784-128-10, batch {BATCH}, {'real MNIST' if args.data == 'mnist' else 'shipped digits'};"
        f" BLAS threads: {args.threads}; one process, {args.warmup} training steps first, then "
        f"{args.rounds} interleaved rounds of {args.steps} steps, each round on new batches that "
        f"every implementation runs; medians.  ",
        f"Command: `python benchmarks/step_breakdown.py --rounds {args.rounds} --steps "
        f"{args.steps} --write`",
        "",
        "Per step, each implementation gathering its batch from the whole set inside the "
        "timed step, as in an epoch. Phases are tinytorch's (gathering the batch into "
        "tensors, the forward pass, the loss, `zero_grad()`, `backward()`, `step()`); "
        "`numpy` is the hand-written floor and `numpy-ops` "
        "tinytorch's own array operations with no framework, as in the epoch table. Ratios "
        "are paired round by round: the median of the rounds' ratios and, in brackets, their "
        "spread.",
        "",
        *step_lines,
        "",
        "The first layer's forward matmul `x @ W.T`, x of shape (128, 784), W (128, 784):",
        "",
        *matmul_table(x, args.rounds),
        "",
        "A tinytorch step with the weights stored column-major (and their gradients made "
        "column-major by the linear rule) over the same step with row-major weights:",
        "",
        *layout_lines,
    ]
    from results_file import report

    report(lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
