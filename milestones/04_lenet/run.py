"""Milestone 04 — LeNet (LeCun, Bottou, Bengio and Haffner, 1998): a CNN reads handwritten digits.

A LeNet-style convolutional network is trained on real MNIST with the course's Conv2d,
MaxPool2d, DataLoader, CrossEntropyLoss, autograd and Adam. Target: at least 99% test accuracy
in under five minutes of training. ``--resume`` continues from the checkpoint of the last
finished epoch.
"""
from __future__ import annotations

# The kit comes first: it sets the BLAS thread count, which must precede numpy's import.
from tito import milestone_kit as kit  # isort: skip

import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor, manual_seed

PIXEL_MEAN, PIXEL_STD = 0.1307, 0.3081
TARGET = 0.99
BATCH = 128
BASE_LR = 2e-3
CHECKPOINT = "checkpoint.npz"
ARCH = "conv5(1->16,pad2)-relu-pool2-conv5(16->32)-relu-pool2-fc(800->128)-relu-fc(128->10)"


def build_model() -> Sequential:
    """LeNet's shape (two convolution + pooling stages, then fully connected layers), with the
    ReLU, max pooling and wider maps that later practice found train faster than 1998's."""
    return Sequential(
        Conv2d(1, 16, 5, padding=2), ReLU(), MaxPool2d(2),      # 28x28 -> 28x28 -> 14x14
        Conv2d(16, 32, 5), ReLU(), MaxPool2d(2),                 # 14x14 -> 10x10 -> 5x5
        Flatten(), Linear(32 * 5 * 5, 128), ReLU(), Linear(128, 10))


def prepare(images: np.ndarray) -> np.ndarray:
    x = images.reshape(len(images), 1, 28, 28).astype(np.float32)
    x -= np.float32(PIXEL_MEAN)
    x /= np.float32(PIXEL_STD)
    return x


# ---- checkpoints: one .npz of arrays, with the rest as JSON text inside it (no pickle) -------
def save_checkpoint(path: Path, model, optimizer, meta: dict) -> None:
    """Write model weights, optimizer state and ``meta`` to ``path`` atomically."""
    arrays = {f"model/{name}": value for name, value in model.state_dict().items()}
    opt = optimizer.state_dict()
    scalars = {}
    for index, entries in opt["state"].items():
        for key, value in entries.items():
            if isinstance(value, np.ndarray):
                arrays[f"optim/{index}/{key}"] = value
            else:
                scalars[f"{index}/{key}"] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
              for g in opt["param_groups"]]
    meta = dict(meta, optim_scalars=scalars, param_groups=groups)
    arrays["meta"] = np.array(json.dumps(meta))     # a unicode array: loads without pickle
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_checkpoint(path: Path, model, optimizer) -> dict:
    """Restore what ``save_checkpoint`` wrote; returns its ``meta``."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        model.load_state_dict({k[len("model/"):]: data[k] for k in data.files
                               if k.startswith("model/")})
        state: dict = {}
        for key in data.files:
            if key.startswith("optim/"):
                _, index, name = key.split("/")
                state.setdefault(int(index), {})[name] = data[key]
    for key, value in meta["optim_scalars"].items():
        index, name = key.split("/")
        state.setdefault(int(index), {})[name] = value
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()}
              for g in meta["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    return meta


def resume_from(out: Path, model, optimizer, args, source: str) -> dict | None:
    """The checkpoint's ``meta`` when ``--resume`` applies; exits with a one-line error if not."""
    path = out / CHECKPOINT
    if not path.exists():
        sys.exit(f"--resume: no {CHECKPOINT} in {out}; run without --resume to start training")
    try:
        meta = load_checkpoint(path, model, optimizer)
    except Exception as err:  # a damaged or foreign file: say which, do not crash
        sys.exit(f"--resume: {path} cannot be read as a checkpoint of this milestone ({err}); "
                 f"delete it and run without --resume")
    for key, now in (("seed", args.seed), ("data", source), ("arch", ARCH)):
        if meta.get(key) != now:
            sys.exit(f"--resume: the checkpoint was made with {key} {meta.get(key)!r}, this run "
                     f"has {now!r}; use the same options or run without --resume")
    return meta


def main() -> int:
    args = kit.parse_args(__doc__.splitlines()[0], default_epochs=6, default_data="mnist",
                          resumable=True)
    manual_seed(args.seed)
    train_images, train_labels, test_images, test_labels, source = kit.load_digit_data(
        args.data, "99%")
    using_mnist = source.startswith("MNIST")
    x_train, x_test = prepare(train_images), prepare(test_images)
    y_train, y_test = train_labels.astype(np.int64), test_labels.astype(np.int64)

    model = build_model()
    loss_fn = CrossEntropyLoss()
    optimizer = Adam(model.parameters(), lr=BASE_LR)
    loader = DataLoader(TensorDataset(Tensor(x_train), Tensor(y_train)), batch_size=BATCH,
                        shuffle=True, seed=args.seed)
    total_steps = args.epochs * len(loader)
    history = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    done, train_time, cpu_time = 0, 0.0, 0.0
    if args.resume:
        meta = resume_from(args.out, model, optimizer, args, source)
        done, train_time, history = meta["epoch"], meta["train_time"], meta["history"]
        cpu_time = meta.get("cpu_time", 0.0)
        print(f"resuming after epoch {done} from {args.out / CHECKPOINT}")
    print(f"data: {source}; model: {ARCH}, "
          f"{sum(p.data.size for p in model.parameters()):,} parameters")

    for epoch in range(done + 1, args.epochs + 1):
        start, cpu_start = time.perf_counter(), time.process_time()
        loader.set_epoch(epoch - 1)       # the same order as an uninterrupted run
        step = (epoch - 1) * len(loader)
        with kit.EpochProgress(epoch, args.epochs, len(loader)) as bar:
            for xb, yb in loader:
                lr = BASE_LR * 0.5 * (1 + math.cos(math.pi * step / total_steps))
                for group in optimizer.param_groups:
                    group["lr"] = lr
                logits = model(xb)
                loss = loss_fn(logits, yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                step += 1
                correct = int((logits.data.argmax(axis=1) == yb.data).sum())
                bar.update(loss.item(), correct, len(yb.data))
        test_loss, test_acc, _ = kit.evaluate(model, x_test, y_test, loss_fn, batch=500)
        train_time += time.perf_counter() - start
        # CPU seconds, too: on a shared machine wall time counts the other programs' work.
        cpu_time += time.process_time() - cpu_start
        history["train_loss"].append(bar.mean_loss)
        history["train_acc"].append(bar.accuracy)
        history["test_loss"].append(test_loss)
        history["test_acc"].append(test_acc)
        print(f"  test accuracy after epoch {epoch}: {test_acc:.2%}", flush=True)
        save_checkpoint(args.out / CHECKPOINT, model, optimizer, {
            "epoch": epoch, "train_time": train_time, "cpu_time": cpu_time,
            "history": history, "seed": args.seed,
            "data": source, "arch": ARCH})

    _, test_acc, predictions = kit.evaluate(model, x_test, y_test, loss_fn, batch=500)
    first = model[0]
    sample = int(np.flatnonzero(y_test == 7)[0]) if np.any(y_test == 7) else 0
    with no_grad():
        maps = first(Tensor(x_test[sample:sample + 1])).data[0]
    figures = [
        kit.plot_training_curves(history, args.out / "training_curves.png",
                                 f"LeNet-style CNN on {source}"),
        kit.plot_confusion_matrix(y_test, predictions, args.out / "confusion_matrix.png",
                                  f"Test set confusion matrix — accuracy {test_acc:.2%}"),
        kit.plot_misclassified(test_images, y_test, predictions,
                               args.out / "misclassified.png", "Misclassified test digits"),
        kit.plot_filters_and_maps(first.weight.data[:, 0], test_images[sample], maps,
                                  args.out / "filters_and_maps.png",
                                  "First-layer filters, each above its feature map of "
                                  "one test digit"),
    ]
    reached = test_acc >= TARGET
    kit.summary_table("Milestone 04 — LeNet on handwritten digits", [
        ("data", source),
        ("test accuracy", f"{test_acc:.2%}" + (
            ("  ✓ target 99% reached" if reached else "  ✗ below the 99% target")
            if using_mnist else "  (digits set: the 99% target applies to MNIST)")),
        ("final train loss", f"{history['train_loss'][-1]:.4f}"),
        ("training time", f"{train_time:.1f} s for {args.epochs} epochs "
                          f"({len(x_train) * args.epochs / max(train_time, 1e-9):,.0f} samples/s; "
                          f"{cpu_time:.1f} s of CPU time)"),
        ("seed", str(args.seed)),
        ("checkpoint", str(args.out / CHECKPOINT)),
        ("figures", ", ".join(str(f) for f in figures)),
    ])
    kit.save_result(args.out, __file__, {
        "accuracy": test_acc, "time_s": round(train_time, 3), "cpu_s": round(cpu_time, 3),
        "seed": args.seed,
        "epochs": args.epochs, "resumed_after_epoch": done if args.resume else None,
        "data": "mnist" if using_mnist else "digits",
        "data_description": source, "target": TARGET, "model": ARCH,
        "first_loss": history["train_loss"][0], "final_loss": history["train_loss"][-1],
        "test_accuracy_per_epoch": history["test_acc"],
        "figures": [f.name for f in figures],
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
