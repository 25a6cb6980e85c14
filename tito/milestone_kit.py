"""What every milestone script shares: arguments, progress display, figures and the result record.

The scripts in ``milestones/`` build and train their models with the ``tinytorch`` package only;
this file handles everything around the training (terminal output, PNG figures, the JSON
record) so that each script reads as the experiment it reproduces.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

# One BLAS thread unless the user says otherwise. The matrices of these MLPs are small
# (128 x 784 @ 784 x 256); on two-core laptops a second BLAS thread spends more time
# synchronising than computing, and on a busy machine it can make an epoch several times slower
# (benchmarks/mlp_epoch.py --threads 1 / 2 measures this). Must happen before numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

RESULT_FILE = "result.json"


def parse_args(description: str, default_epochs: int, default_data: str | None = None,
               argv: list[str] | None = None, resumable: bool = False) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=default_epochs)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="folder for figures and result.json")
    if default_data is not None:
        p.add_argument("--data", choices=("mnist", "digits"), default=default_data)
    if resumable:
        p.add_argument("--resume", action="store_true",
                       help="continue from the checkpoint of the last finished epoch in --out")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error("--epochs must be at least 1")
    if args.seed < 0:
        p.error("--seed must be at least 0")
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def console():
    from rich.console import Console

    return Console(highlight=False)


def load_digit_data(kind: str, target: str):
    """(train images, train labels, test images, test labels, description) of MNIST, or of the
    shipped digits set when ``kind`` is "digits" or MNIST cannot be had (said in a banner that
    names the ``target`` the fallback cannot be compared with)."""
    from tinytorch import datasets

    if kind == "mnist":
        try:
            train = datasets.MNIST(train=True)
            test = datasets.MNIST(train=False)
            return train.images, train.labels, test.images, test.labels, "MNIST (60000 + 10000)"
        except Exception as err:  # offline with no copy: fall back, and say so loudly
            banner("MNIST could not be obtained, so this run uses the small digits set "
                   "shipped with tinytorch instead.\n"
                   f"Reason: {err}\n"
                   f"Results on the digits set are NOT comparable with the {target} MNIST "
                   "target.\nGet MNIST with `tito data fetch mnist`, then run this milestone "
                   "again.")
    train = datasets.Digits(train=True)
    test = datasets.Digits(train=False)
    return (train.images, train.labels, test.images, test.labels,
            f"shipped digits ({len(train)} + {len(test)}, a subset of MNIST)")


def evaluate(model, x, y, loss_fn, batch: int = 1000):
    """(mean loss, accuracy, predictions) of ``model`` on arrays ``x``, ``y``, in eval mode and
    without a graph, ``batch`` rows at a time."""
    import numpy as np
    from tinytorch import Tensor, no_grad

    model.eval()
    predictions, loss_sum = [], 0.0
    with no_grad():
        for i in range(0, len(x), batch):
            logits = model(Tensor(x[i:i + batch]))
            loss_sum += loss_fn(logits, Tensor(y[i:i + batch])).item() * len(logits.data)
            predictions.append(logits.data.argmax(axis=1))
    model.train()
    pred = np.concatenate(predictions)
    return loss_sum / len(x), float((pred == y).mean()), pred


def banner(text: str, style: str = "bold yellow") -> None:
    from rich.panel import Panel

    console().print(Panel(text, style=style, expand=False))


class EpochProgress:
    """A progress bar over the batches of one epoch showing loss, accuracy and samples/s."""

    def __init__(self, epoch: int, epochs: int, total_batches: int):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn)

        self.progress = Progress(
            TextColumn(f"epoch {epoch:>2}/{epochs}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[acc]:6.2%}  "
                       "{task.fields[rate]:>7.0f} samples/s"),
            TimeElapsedColumn(), console=console(), transient=False,
            disable=not sys.stdout.isatty() and os.environ.get("TINYTORCH_PROGRESS") != "1",
        )
        self.task = self.progress.add_task("train", total=total_batches, loss=0.0, acc=0.0,
                                           rate=0.0)
        self.start = time.perf_counter()
        self.samples = 0
        self.loss_sum = 0.0
        self.correct = 0

    def __enter__(self) -> "EpochProgress":
        self.progress.__enter__()
        return self

    def update(self, loss: float, correct: int, batch_size: int) -> None:
        self.samples += batch_size
        self.loss_sum += loss * batch_size
        self.correct += correct
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        self.progress.update(self.task, advance=1, loss=self.loss_sum / self.samples,
                             acc=self.correct / self.samples, rate=self.samples / elapsed)

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / max(self.samples, 1)

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.samples, 1)

    @property
    def rate(self) -> float:
        return self.samples / max(time.perf_counter() - self.start, 1e-9)

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)
        if self.progress.disable:   # no live display: still leave one line per epoch
            print(f"  loss {self.mean_loss:.4f}  acc {self.accuracy:6.2%}  "
                  f"{self.rate:7.0f} samples/s", flush=True)


def summary_table(title: str, rows: list[tuple[str, str]]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for k, v in rows:
        table.add_row(k, v)
    console().print(table)


def package_version() -> str:
    try:
        import tinytorch

        return str(tinytorch.__version__)
    except Exception:  # a broken package must not stop the record from being written
        return "unknown"


def save_result(out: Path, script: str, result: dict) -> Path:
    """Write the JSON record that `tito milestone list` and `tito module status` read.

    ``script`` is the milestone script's ``__file__``: its folder names the milestone.
    """
    from tito import course

    record = {
        "milestone": course.get_milestone(Path(script).resolve().parent.name).number,
        **result,
        "package_version": package_version(),
        "python": platform.python_version(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    from tito.progress import atomic_write_text

    path = out / RESULT_FILE
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")
    return path


# ---- figures ---------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training_curves(history: dict, path: Path, title: str) -> Path:
    """Loss and accuracy per epoch (train, and test when present)."""
    plt = _plt()
    epochs = range(1, len(history["train_loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, history["train_loss"], "o-", label="train")
    if history.get("test_loss"):
        ax1.plot(epochs, history["test_loss"], "s--", label="test")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy loss")
    ax1.set_title("Loss")
    ax1.grid(alpha=0.3)
    ax1.legend()
    ax2.plot(epochs, [100 * a for a in history["train_acc"]], "o-", label="train")
    if history.get("test_acc"):
        ax2.plot(epochs, [100 * a for a in history["test_acc"]], "s--", label="test")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy (%)")
    ax2.set_title("Accuracy")
    ax2.grid(alpha=0.3)
    ax2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_confusion_matrix(labels, predictions, path: Path, title: str,
                          classes: int = 10) -> Path:
    import numpy as np

    plt = _plt()
    cm = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(predictions)), 1)
    # The diagonal (correct answers) would swamp the colour scale; colour only the mistakes,
    # so the confusions worth discussing (4/9, 3/5, 7/2) stand out.
    errors = cm.astype(float)
    np.fill_diagonal(errors, np.nan)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(errors, cmap="Reds", vmin=0)
    fig.colorbar(im, ax=ax, label="test digits misread")
    ax.set_xticks(range(classes))
    ax.set_yticks(range(classes))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    threshold = np.nanmax(errors) / 2 if np.nanmax(errors) > 0 else 1
    for i in range(classes):
        for j in range(classes):
            on_diag = i == j
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    fontsize=7 if on_diag else 8, fontweight="bold" if on_diag else "normal",
                    color="white" if not on_diag and cm[i, j] > threshold else
                    ("tab:green" if on_diag else "black"))
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_misclassified(images, labels, predictions, path: Path, title: str,
                       limit: int = 32) -> Path:
    import numpy as np

    plt = _plt()
    wrong = np.flatnonzero(np.asarray(labels) != np.asarray(predictions))[:limit]
    cols = 8
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.5))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, i in zip(np.atleast_1d(axes).ravel(), wrong):
        ax.imshow(np.asarray(images[i]).reshape(28, 28), cmap="gray_r")
        ax.set_title(f"{labels[i]} → {predictions[i]}", fontsize=9, color="crimson")
    if len(wrong) == 0:
        fig.text(0.5, 0.5, "no test digit was misclassified", ha="center")
    fig.suptitle(title + "  (true → predicted)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_decision_regions(panels: list[dict], path: Path, title: str) -> Path:
    """One panel per model: ``{"title", "points", "labels", "grid": (xx, yy, probs)}``."""
    import numpy as np

    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        xx, yy, probs = panel["grid"]
        ax.contourf(xx, yy, probs, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
        ax.contour(xx, yy, probs, levels=[0.5], colors="k", linewidths=2)
        pts, lab = np.asarray(panel["points"]), np.asarray(panel["labels"]).ravel()
        ax.scatter(pts[lab == 0, 0], pts[lab == 0, 1], c="tab:blue", edgecolors="k",
                   label="class 0", s=panel.get("size", 30))
        ax.scatter(pts[lab == 1, 0], pts[lab == 1, 1], c="tab:red", edgecolors="k",
                   label="class 1", s=panel.get("size", 30))
        if "line" in panel:   # w·x + b = 0, drawn across the panel
            (w1, w2), b = panel["line"]
            xs = np.array([xx.min(), xx.max()])
            if abs(w2) > 1e-9:
                ax.plot(xs, -(w1 * xs + b) / w2, "k--", linewidth=2)
            else:
                ax.axvline(-b / w1, color="k", linestyle="--", linewidth=2)
            ax.set_ylim(yy.min(), yy.max())
        ax.set_title(panel["title"], fontsize=10)
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.legend(loc="upper right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_filters_and_maps(filters, image, maps, path: Path, title: str) -> Path:
    """A convolution's filters ``(C, kh, kw)`` in one row, under each its feature map on
    ``image`` (``maps``: ``(C, H, W)``), the image itself on the left."""
    import numpy as np

    plt = _plt()
    n = len(filters)
    cols = min(n, 8)
    blocks = -(-n // cols)          # rows of filters; each has its maps underneath
    fig, axes = plt.subplots(2 * blocks, cols + 1, figsize=(1.3 * (cols + 1), 2.7 * blocks),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(np.asarray(image).reshape(28, 28), cmap="gray_r")
    axes[0, 0].set_title("input", fontsize=8)
    for i in range(n):
        row, col = 2 * (i // cols), i % cols + 1
        w = np.asarray(filters[i])
        limit = float(np.abs(w).max()) or 1.0
        axes[row, col].imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[row, col].set_title(f"filter {i}", fontsize=7)
        axes[row + 1, col].imshow(np.asarray(maps[i]), cmap="viridis")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
