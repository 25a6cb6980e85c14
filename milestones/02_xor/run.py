"""Milestone 02 — XOR (Minsky and Papert, 1969) and the hidden layer that solves it.

A single linear unit cannot reach more than 3 of the 4 XOR points; a two-layer network gets all
four. Both are trained with the same loss and optimizer from the tinytorch package.
"""
from __future__ import annotations

# The kit comes first: it sets the BLAS thread count, which must precede numpy's import.
from tito import milestone_kit as kit  # isort: skip

import time

import numpy as np

from tinytorch.core.activations import Tanh
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import BinaryCrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor, manual_seed

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


def train(model, epochs: int, lr: float, label: str) -> dict:
    """Full-batch training on the four points; returns loss and accuracy per epoch."""
    loss_fn = BinaryCrossEntropyLoss()
    optimizer = Adam(model.parameters(), lr=lr)
    x, y = Tensor(XOR_X), Tensor(XOR_Y)
    history = {"train_loss": [], "train_acc": []}
    steps_per_epoch = 50
    for epoch in range(1, epochs + 1):
        with kit.EpochProgress(epoch, epochs, steps_per_epoch) as bar:
            for _ in range(steps_per_epoch):
                probs = model(x).sigmoid()
                loss = loss_fn(probs, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                bar.update(loss.item(), int(((probs.data > 0.5) == (XOR_Y > 0.5)).sum()), 4)
        history["train_loss"].append(bar.mean_loss)
        history["train_acc"].append(bar.accuracy)
    print(f"{label}: final loss {history['train_loss'][-1]:.4f}")
    return history


def accuracy(model) -> float:
    predictions = model(Tensor(XOR_X)).data > 0
    return float((predictions == (XOR_Y > 0.5)).mean())


def best_line(trials: int, rng: np.random.Generator) -> tuple[float, np.ndarray, float]:
    """The best of ``trials`` random lines on XOR: (accuracy, w, b). It is never above 3/4."""
    w = rng.standard_normal((trials, 2))
    b = rng.standard_normal(trials) * 2
    predictions = (XOR_X @ w.T + b) > 0          # (4, trials)
    scores = (predictions == (XOR_Y > 0.5)).mean(axis=0)
    # Among the top scorers, draw the one that stays farthest from all four points.
    margin = np.abs(XOR_X @ w.T + b).min(axis=0) / np.linalg.norm(w, axis=1)
    best = int(np.argmax(np.where(scores == scores.max(), margin, -1.0)))
    return float(scores[best]), w[best], float(b[best])


def grid_probs(model):
    xx, yy = np.meshgrid(np.linspace(-0.5, 1.5, 200), np.linspace(-0.5, 1.5, 200))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    return xx, yy, model(Tensor(grid)).sigmoid().data.reshape(xx.shape)


def main() -> int:
    args = kit.parse_args(__doc__.splitlines()[0], default_epochs=20)
    manual_seed(args.seed)
    start = time.perf_counter()

    single = Linear(2, 1)
    single_losses = train(single, args.epochs, 0.05, "single layer")["train_loss"]
    single_acc = accuracy(single)

    searched, line_w, line_b = best_line(100_000, np.random.default_rng(args.seed))

    mlp = Sequential(Linear(2, 8), Tanh(), Linear(8, 1))
    history = train(mlp, args.epochs, 0.05, "two-layer MLP")
    mlp_losses = history["train_loss"]
    mlp_acc = accuracy(mlp)
    elapsed = time.perf_counter() - start

    figures = [
        kit.plot_decision_regions([
            {"title": f"one linear unit: {single_acc:.0%} trained, "
                      f"{searched:.0%} for the best line (dashed)",
             "points": XOR_X, "labels": XOR_Y, "grid": grid_probs(single), "size": 160,
             "line": (line_w, line_b)},
            {"title": f"hidden layer of 8 tanh units: {mlp_acc:.0%}", "points": XOR_X,
             "labels": XOR_Y, "grid": grid_probs(mlp), "size": 160},
        ], args.out / "decision_regions.png", "XOR: a straight line is not enough"),
        kit.plot_training_curves(history, args.out / "training_curves.png",
                                 "XOR: the two-layer MLP's training"),
    ]
    kit.summary_table("Milestone 02 — XOR", [
        ("single layer accuracy", f"{single_acc:.0%}  (a line can get at most 3 of 4 right)"),
        ("best of 100,000 random lines", f"{searched:.0%}"),
        ("two-layer MLP accuracy", f"{mlp_acc:.0%}"),
        ("single layer final loss", f"{single_losses[-1]:.4f}"),
        ("MLP final loss", f"{mlp_losses[-1]:.4f}"),
        ("epochs / seed", f"{args.epochs} / {args.seed}"),
        ("time", f"{elapsed:.2f} s"),
        ("figures", ", ".join(str(f) for f in figures)),
    ])
    kit.save_result(args.out, __file__, {
        "accuracy": mlp_acc, "single_layer_accuracy": single_acc,
        "best_random_line_accuracy": searched, "time_s": round(elapsed, 3),
        "seed": args.seed, "epochs": args.epochs, "data": "the four XOR points",
        "first_loss": mlp_losses[0], "final_loss": mlp_losses[-1],
        "figures": [f.name for f in figures],
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
