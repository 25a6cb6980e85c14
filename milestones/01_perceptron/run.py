"""Milestone 01 — the perceptron (Rosenblatt, 1957).

One linear unit learns to separate two clouds of points in the plane. Everything that learns
here — the model, the loss, the gradients and the update — is the tinytorch you built.
"""
from __future__ import annotations

# The kit comes first: it sets the BLAS thread count, which must precede numpy's import.
from tito import milestone_kit as kit  # isort: skip

import time

import numpy as np

from tinytorch.core.layers import Linear
from tinytorch.core.losses import BinaryCrossEntropyLoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor, manual_seed


def make_line(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The hidden rule the perceptron must discover: a random line through the square."""
    angle = rng.uniform(0, np.pi)
    return np.array([np.cos(angle), np.sin(angle)]), float(rng.uniform(-0.5, 0.5))


def make_data(n: int, line, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points on both sides of the line, at least a small margin away from it."""
    normal, offset = line
    points = []
    while sum(len(p) for p in points) < n:
        cand = rng.uniform(-3, 3, size=(2 * n, 2))
        margin = cand @ normal + offset
        points.append(cand[np.abs(margin) > 0.25])
    x = np.concatenate(points)[:n].astype(np.float32)
    y = ((x @ normal + offset) > 0).astype(np.float32).reshape(-1, 1)
    return x, y


def accuracy(model: Linear, x: np.ndarray, y: np.ndarray) -> float:
    # The perceptron's step output: class 1 when the unit's activation is positive.
    predictions = (model(Tensor(x)).data > 0).astype(np.float32)
    return float((predictions == y).mean())


def main() -> int:
    args = kit.parse_args(__doc__.splitlines()[0], default_epochs=40)
    rng = np.random.default_rng(args.seed)
    manual_seed(args.seed)
    line = make_line(rng)
    x_train, y_train = make_data(400, line, rng)
    x_test, y_test = make_data(200, line, rng)

    model = Linear(2, 1)
    loss_fn = BinaryCrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=0.5)
    history = {"train_loss": [], "train_acc": [], "test_acc": []}
    batch = 20
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        with kit.EpochProgress(epoch, args.epochs, len(x_train) // batch) as bar:
            for i in range(0, len(x_train) - batch + 1, batch):
                idx = order[i:i + batch]
                xb, yb = Tensor(x_train[idx]), Tensor(y_train[idx])
                probs = model(xb).sigmoid()
                loss = loss_fn(probs, yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                correct = int(((probs.data > 0.5) == (yb.data > 0.5)).sum())
                bar.update(loss.item(), correct, len(idx))
        history["train_loss"].append(bar.mean_loss)
        history["train_acc"].append(bar.accuracy)
        history["test_acc"].append(accuracy(model, x_test, y_test))
    elapsed = time.perf_counter() - start

    test_acc = history["test_acc"][-1]
    train_acc = accuracy(model, x_train, y_train)
    xx, yy = np.meshgrid(np.linspace(-3, 3, 200), np.linspace(-3, 3, 200))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    probs = model(Tensor(grid)).sigmoid().data.reshape(xx.shape)
    figures = [
        kit.plot_decision_regions(
            [{"title": f"learned boundary — test accuracy {test_acc:.1%}", "points": x_test,
              "labels": y_test, "grid": (xx, yy, probs)}],
            args.out / "decision_boundary.png", "Perceptron (1957): one linear unit"),
        kit.plot_training_curves(history, args.out / "training_curves.png",
                                 "Perceptron training"),
    ]
    w = model.weight.data.ravel()
    kit.summary_table("Milestone 01 — the perceptron", [
        ("train accuracy", f"{train_acc:.2%}"),
        ("test accuracy", f"{test_acc:.2%}"),
        ("learned line", f"{w[0]:+.2f}·x1 {w[1]:+.2f}·x2 {model.bias.data[0]:+.2f} = 0"),
        ("epochs / seed", f"{args.epochs} / {args.seed}"),
        ("time", f"{elapsed:.2f} s"),
        ("figures", ", ".join(str(f) for f in figures)),
    ])
    kit.save_result(args.out, __file__, {
        "accuracy": test_acc, "train_accuracy": train_acc, "time_s": round(elapsed, 3),
        "seed": args.seed, "epochs": args.epochs, "data": "separable 2-D points",
        "first_loss": history["train_loss"][0], "final_loss": history["train_loss"][-1],
        "figures": [f.name for f in figures],
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
