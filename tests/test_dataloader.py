"""Module 07: Dataset, TensorDataset, default_collate, DataLoader, IDX parsing, normalisation."""
from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.dataloader import (IDX_DTYPES, DataLoader, Dataset, TensorDataset,
                                       compute_mean_std, default_collate, normalize, parse_idx,
                                       scale_pixels)
from tinytorch.core.tensor import Tensor, manual_seed

pytestmark = pytest.mark.module07


def epoch(loader, field=0) -> np.ndarray:
    """Concatenate one field of every batch of one epoch."""
    batches = [b[field].data for b in loader]
    return np.concatenate(batches) if batches else np.array([], dtype=np.int64)


class Counting(TensorDataset):
    """A TensorDataset that records every index it is asked for."""

    def __init__(self, *tensors):
        super().__init__(*tensors)
        self.requests = []

    def __getitem__(self, index):
        self.requests.append(index)
        return super().__getitem__(index)


class PerSample(Dataset):
    """A general dataset: one (Tensor, int) sample per call."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return Tensor(np.full(3, i, dtype=np.float32)), i


# ---- TensorDataset ---------------------------------------------------------------------------
def test_tensor_dataset_wraps_without_copy_and_keeps_dtypes():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    assert ds.tensors[0].data is x and ds.tensors[1].data is y
    xi, yi = ds[4]
    assert isinstance(xi, Tensor) and isinstance(yi, Tensor)
    assert xi.data.tolist() == [8.0, 9.0] and yi.item() == 4 and yi.dtype == np.int64
    xb, yb = ds[np.array([9, 0, 9])]
    assert xb.shape == (3, 2) and yb.data.tolist() == [9, 0, 9]
    assert xb.dtype == np.float32 and yb.dtype == np.int64
    assert ds[Tensor(np.array([1, 2]))][1].data.tolist() == [1, 2]
    assert ds[2:5][0].shape == (3, 2)


def test_tensor_dataset_accepts_tensors_and_lists():
    ds = TensorDataset(Tensor(np.ones((3, 2), np.float32)), [1.0, 2.0, 3.0])
    assert len(ds) == 3 and ds.tensors[1].dtype == np.float32


@pytest.mark.parametrize("tensors", [(), (np.float32(3.0),),
                                     (np.zeros((3, 2)), np.zeros(4)),
                                     (np.zeros(5), np.zeros(5), np.zeros(6))])
def test_tensor_dataset_rejects_bad_inputs(tensors):
    with pytest.raises(ValueError):
        TensorDataset(*tensors)


def test_tensor_dataset_error_names_the_sizes():
    with pytest.raises(ValueError, match=r"3.*4"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))


def test_tensor_dataset_out_of_range_raises_index_error():
    with pytest.raises(IndexError):
        TensorDataset(np.zeros(3))[3]


# ---- default_collate -------------------------------------------------------------------------
def test_collate_stacks_fields():
    samples = [(Tensor(np.full((2, 2), i, np.float32)), i, float(i) / 2) for i in range(4)]
    x, y, z = default_collate(samples)
    assert x.shape == (4, 2, 2) and x.dtype == np.float32
    assert y.dtype == np.int64 and y.data.tolist() == [0, 1, 2, 3]
    assert z.dtype == np.float32 and z.data.tolist() == [0.0, 0.5, 1.0, 1.5]


def test_collate_arrays_numpy_scalars_bools_and_lists():
    arrays = default_collate([np.zeros(3, np.uint8), np.ones(3, np.uint8)])
    assert arrays.shape == (2, 3) and arrays.dtype == np.uint8
    labels = default_collate([np.int64(3), np.int64(5)])
    assert labels.dtype == np.int64 and labels.data.tolist() == [3, 5]
    assert default_collate([True, False]).dtype == np.bool_
    pair = default_collate([[Tensor([1.0]), 1], [Tensor([2.0]), 2]])
    assert isinstance(pair, tuple) and pair[0].shape == (2, 1)
    single = default_collate([Tensor([1.0, 2.0]), Tensor([3.0, 4.0])])
    assert isinstance(single, Tensor) and single.shape == (2, 2)


def test_collate_errors():
    with pytest.raises(ValueError):
        default_collate([])
    with pytest.raises(TypeError, match="dict"):
        default_collate([{"x": 1}, {"x": 2}])


# ---- DataLoader: shapes, len, drop_last ------------------------------------------------------
def test_batches_shapes_and_last_batch():
    ds = TensorDataset(np.zeros((10, 3), np.float32), np.arange(10))
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 == len(batches)
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert all(isinstance(t, Tensor) for b in batches for t in b)
    assert [b[1].dtype for b in batches] == [np.int64] * 3
    dropped = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [b[0].shape[0] for b in dropped] == [4, 4]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 60), batch_size=st.integers(1, 20), drop_last=st.booleans(),
       shuffle=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_len_and_each_sample_once_per_epoch(n, batch_size, drop_last, shuffle, seed):
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=batch_size, shuffle=shuffle,
                        drop_last=drop_last, seed=seed)
    batches = [b[0].data for b in loader]
    assert len(batches) == len(loader)
    assert len(loader) == (n // batch_size if drop_last else -(-n // batch_size))
    sizes = [len(b) for b in batches]
    assert all(s == batch_size for s in sizes[:-1])
    if drop_last and sizes:
        assert sizes[-1] == batch_size
    seen = np.concatenate(batches) if batches else np.array([], dtype=np.int64)
    expected = n - n % batch_size if drop_last else n
    assert len(seen) == expected and len(set(seen.tolist())) == expected
    assert set(seen.tolist()) <= set(range(n))
    if not shuffle:
        assert seen.tolist() == list(range(expected))


def test_empty_dataset_gives_no_batches():
    loader = DataLoader(TensorDataset(np.zeros((0, 2))), batch_size=3)
    assert len(loader) == 0 and list(loader) == []


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "8", None])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(np.zeros(4)), batch_size=bad)


# ---- DataLoader: shuffling -------------------------------------------------------------------
def test_seeded_shuffle_is_reproducible_and_changes_every_epoch():
    ds = TensorDataset(np.arange(100))
    a = DataLoader(ds, batch_size=16, shuffle=True, seed=7)
    b = DataLoader(ds, batch_size=16, shuffle=True, seed=7)
    epochs_a = [epoch(a) for _ in range(3)]
    epochs_b = [epoch(b) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        assert np.array_equal(ea, eb)
        assert sorted(ea.tolist()) == list(range(100))
    assert not np.array_equal(epochs_a[0], np.arange(100))
    assert not np.array_equal(epochs_a[0], epochs_a[1])
    assert not np.array_equal(epochs_a[1], epochs_a[2])
    other = DataLoader(ds, batch_size=16, shuffle=True, seed=8)
    assert not np.array_equal(epoch(other), epochs_a[0])


def test_set_epoch_reproduces_a_given_epoch_and_epochs_count():
    ds = TensorDataset(np.arange(40))
    a = DataLoader(ds, batch_size=8, shuffle=True, seed=1)
    orders = [epoch(a) for _ in range(4)]
    assert a.epoch == 4
    b = DataLoader(ds, batch_size=8, shuffle=True, seed=1)
    b.set_epoch(3)
    assert np.array_equal(epoch(b), orders[3])
    assert np.array_equal(a.epoch_order(2), orders[2])


def test_seeded_loader_ignores_the_global_generator():
    ds = TensorDataset(np.arange(30))
    manual_seed(0)
    first = epoch(DataLoader(ds, batch_size=5, shuffle=True, seed=3))
    manual_seed(99)
    assert np.array_equal(first, epoch(DataLoader(ds, batch_size=5, shuffle=True, seed=3)))


def test_unseeded_shuffle_follows_manual_seed():
    ds = TensorDataset(np.arange(30))
    manual_seed(5)
    first = epoch(DataLoader(ds, batch_size=5, shuffle=True))
    manual_seed(5)
    again = epoch(DataLoader(ds, batch_size=5, shuffle=True))
    assert np.array_equal(first, again) and sorted(first.tolist()) == list(range(30))
    assert not np.array_equal(first, np.arange(30))


def test_shuffle_moves_images_and_labels_together():
    x = np.arange(50, dtype=np.float32)[:, None] * np.ones((1, 4), np.float32)
    ds = TensorDataset(x, np.arange(50))
    for xb, yb in DataLoader(ds, batch_size=8, shuffle=True, seed=0):
        assert np.array_equal(xb.data[:, 0].astype(np.int64), yb.data)


# ---- DataLoader: the vectorised path ---------------------------------------------------------
def test_tensor_dataset_is_asked_once_per_batch_with_an_index_array():
    ds = Counting(np.zeros((100, 3), np.float32), np.arange(100))
    loader = DataLoader(ds, batch_size=16, shuffle=True, seed=0)
    list(loader)
    assert len(ds.requests) == len(loader) == 7
    assert all(isinstance(r, np.ndarray) for r in ds.requests)


def test_collate_fn_forces_the_per_sample_path():
    ds = Counting(np.arange(10))
    out = list(DataLoader(ds, batch_size=4, collate_fn=lambda samples: len(samples)))
    assert out == [4, 4, 2] and len(ds.requests) == 10
    assert all(isinstance(r, int) for r in ds.requests)


def test_general_dataset_uses_per_sample_path_and_collates():
    loader = DataLoader(PerSample(7), batch_size=3, shuffle=True, seed=2)
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(3, 3), (3, 3), (1, 3)]
    for x, y in batches:
        assert y.dtype == np.int64 and np.array_equal(x.data[:, 0].astype(np.int64), y.data)


def test_fast_and_per_sample_paths_agree():
    x = np.random.default_rng(0).standard_normal((23, 5)).astype(np.float32)
    y = np.arange(23)
    fast = list(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=9))
    slow = list(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=9,
                           collate_fn=default_collate))
    assert len(fast) == len(slow)
    for (xf, yf), (xs, ys) in zip(fast, slow):
        assert np.array_equal(xf.data, xs.data) and np.array_equal(yf.data, ys.data)
        assert xf.dtype == xs.dtype == np.float32 and yf.dtype == ys.dtype == np.int64


def test_loader_over_the_shipped_digits_gives_image_batches():
    from tinytorch.datasets import Digits

    test = Digits(train=False)
    loader = DataLoader(test, batch_size=100, shuffle=True, seed=0)
    counts = np.zeros(10, dtype=np.int64)
    for images, labels in loader:
        assert images.shape == (100, 28, 28) and images.dtype == np.float32
        counts += np.bincount(labels.data, minlength=10)
    assert counts.tolist() == [100] * 10


# ---- IDX parsing -----------------------------------------------------------------------------
def encode_idx(array: np.ndarray, code: int) -> bytes:
    """The test's own IDX encoder (independent of the package's write_idx)."""
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(IDX_DTYPES[code]).tobytes()


CODES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32,
         0x0E: np.float64}


@settings(max_examples=60, deadline=None)
@given(code=st.sampled_from(sorted(CODES)),
       shape=st.lists(st.integers(0, 5), min_size=0, max_size=3),
       seed=st.integers(0, 1000))
def test_parse_idx_round_trip(code, shape, seed):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(CODES[code])
    if dtype.kind == "f":
        array = rng.standard_normal(shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    out = parse_idx(encode_idx(np.asarray(array), code))
    assert out.shape == tuple(shape) and out.dtype == dtype
    assert out.dtype.isnative and out.flags.writeable
    assert np.array_equal(out, array)


def test_parse_idx_reads_mnist_style_header():
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    blob = encode_idx(images, 0x08)
    assert blob[:4] == bytes.fromhex("00000803")
    assert np.array_equal(parse_idx(blob), images)
    labels = encode_idx(np.array([7, 2], np.uint8), 0x08)
    assert labels[:4] == bytes.fromhex("00000801") and parse_idx(labels).tolist() == [7, 2]


def test_the_package_reads_idx_with_parse_idx(tmp_path, monkeypatch):
    """tinytorch.datasets keeps no decoder of its own: MNIST is read by the student's code."""
    import tinytorch.core.dataloader as dataloader
    from tinytorch.datasets import read_idx, write_idx

    path = write_idx(tmp_path / "x-idx1-ubyte", np.arange(3, dtype=np.uint8))
    calls, real = [], dataloader.parse_idx
    monkeypatch.setattr(dataloader, "parse_idx", lambda buf: calls.append(len(buf)) or real(buf))
    assert read_idx(path).tolist() == [0, 1, 2]
    assert calls == [11], "read_idx must decode through tinytorch.core.dataloader.parse_idx"


def test_parse_idx_agrees_with_the_package_reader(tmp_path):
    from tinytorch.datasets import read_idx, write_idx

    array = np.random.default_rng(1).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    path = write_idx(tmp_path / "x-idx3-ubyte", array)
    assert np.array_equal(parse_idx(path.read_bytes()), read_idx(path))


GOOD = encode_idx(np.arange(24, dtype=np.uint8).reshape(2, 3, 4), 0x08)


@pytest.mark.parametrize("blob, what", [
    (b"", "empty"),
    (b"\x00\x00", "shorter than the magic number"),
    (b"\x1f\x8b" + GOOD[2:], "gzip bytes"),
    (b"\x08\x03" + GOOD[2:], "wrong magic number"),
    (GOOD[:10], "truncated header"),
    (GOOD[:-1], "truncated data"),
    (GOOD + b"\x00\x00", "extra bytes"),
    (struct.pack(">BBBBI", 0, 0, 0x0A, 1, 1) + b"\x00", "unknown type code"),
])
def test_parse_idx_rejects_broken_input(blob, what):
    with pytest.raises(ValueError):
        parse_idx(blob)


def test_parse_idx_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match="magic"):
        parse_idx(b"\x08\x03" + GOOD[2:])
    with pytest.raises(ValueError) as err:
        parse_idx(GOOD[:-4])
    assert str(len(GOOD)) in str(err.value) and str(len(GOOD) - 4) in str(err.value)
    with pytest.raises(ValueError, match="0x0a"):
        parse_idx(struct.pack(">BBBBI", 0, 0, 0x0A, 1, 1) + b"\x00")


# ---- normalisation ---------------------------------------------------------------------------
def test_scale_pixels():
    raw = np.array([0, 1, 128, 255], dtype=np.uint8)
    out = scale_pixels(raw)
    assert out.dtype == np.float32 and out[0] == 0.0 and out[-1] == 1.0
    assert np.allclose(out, raw / 255.0)
    with pytest.raises(TypeError):
        scale_pixels(out)


def test_compute_mean_std_accumulates_in_float64():
    x = (np.random.default_rng(0).random((300, 28, 28)) + 1000).astype(np.float32)
    mean, std = compute_mean_std(x)
    assert isinstance(mean, float) and isinstance(std, float)
    ref = x.astype(np.float64)
    assert mean == pytest.approx(ref.mean(), rel=1e-12)
    assert std == pytest.approx(ref.std(), rel=1e-9)
    assert compute_mean_std(Tensor(x)) == (mean, std)


@settings(max_examples=40, deadline=None)
@given(mean=st.floats(-5, 5), std=st.floats(0.05, 10), seed=st.integers(0, 100))
def test_normalize_is_undone_by_scaling_back(mean, std, seed):
    x = np.random.default_rng(seed).random((6, 7)).astype(np.float32)
    z = normalize(x, mean, std)
    assert z.dtype == np.float32 and z.shape == x.shape
    assert np.allclose(z * np.float32(std) + np.float32(mean), x, atol=1e-4)
    zt = normalize(Tensor(x), mean, std)
    assert isinstance(zt, Tensor) and zt.dtype == np.float32 and np.array_equal(zt.data, z)


def test_normalize_with_own_statistics_gives_zero_mean_unit_std():
    x = np.random.default_rng(3).random((50, 10)).astype(np.float32) * 4 + 2
    z = normalize(x, *compute_mean_std(x))
    assert abs(float(z.mean())) < 1e-5 and abs(float(z.std()) - 1) < 1e-5


@pytest.mark.parametrize("std", [0.0, -1.0, float("nan")])
def test_normalize_rejects_bad_std(std):
    with pytest.raises(ValueError):
        normalize(np.zeros(3, np.float32), 0.0, std)


def test_manual_seed_seeds_every_random_draw_of_the_package():
    """The README example's tinytorch.manual_seed(0) makes init, dropout and shuffling repeat."""
    import tinytorch
    from tinytorch.core.layers import Dropout, Linear

    def draw():
        tinytorch.manual_seed(0)
        layer = Linear(4, 3)
        mask = Dropout(0.5)(tinytorch.ones(8)).data
        order = [b[0].data.tolist() for b in DataLoader(TensorDataset(np.arange(6)),
                                                         batch_size=6, shuffle=True)]
        return layer.weight.data.copy(), mask, order, tinytorch.randn(3).data

    first, second = draw(), draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    tinytorch.manual_seed(1)
    assert not np.array_equal(Linear(4, 3).weight.data, first[0]), "another seed, other weights"


# ---- Subset and random_split (given) ---------------------------------------------------------

def test_random_split_cuts_disjoint_subsets_that_cover_the_dataset():
    from tinytorch.core.dataloader import Subset, random_split

    ds = TensorDataset(np.arange(100) * 10, np.arange(100))
    parts = random_split(ds, [70, 20, 10], generator=0)
    assert [len(p) for p in parts] == [70, 20, 10]
    assert all(isinstance(p, Subset) for p in parts)
    seen = np.concatenate([p.indices for p in parts])
    assert sorted(seen.tolist()) == list(range(100)), "every sample in exactly one part"
    assert not np.array_equal(seen, np.arange(100)), "the split is random"
    x, y = parts[1][3]
    assert x.item() == 10 * y.item() == 10 * parts[1].indices[3]
    xb, yb = DataLoader(parts[0], batch_size=32, shuffle=True, seed=0).__iter__().__next__()
    assert xb.shape == (32,) and np.array_equal(xb.data, 10 * yb.data)


def test_random_split_fractions_follow_pytorchs_rounding():
    from tinytorch.core.dataloader import random_split

    ds = TensorDataset(np.arange(10))
    assert [len(p) for p in random_split(ds, [0.8, 0.2])] == [8, 2]
    assert [len(p) for p in random_split(ds, [0.34, 0.33, 0.33])] == [4, 3, 3]
    assert [len(p) for p in random_split(ds, [0.25, 0.25, 0.25, 0.25])] == [3, 3, 2, 2]


def test_random_split_repeats_with_a_seed():
    from tinytorch.core.dataloader import random_split

    ds = TensorDataset(np.arange(50))
    manual_seed(4)
    a = random_split(ds, [0.5, 0.5])[0].indices
    manual_seed(4)
    assert np.array_equal(random_split(ds, [0.5, 0.5])[0].indices, a)
    assert np.array_equal(random_split(ds, [25, 25], generator=9)[0].indices,
                          random_split(ds, [25, 25], generator=np.random.default_rng(9))[0]
                          .indices)


def test_random_split_refuses_lengths_that_do_not_fit():
    from tinytorch.core.dataloader import random_split

    ds = TensorDataset(np.arange(10))
    with pytest.raises(ValueError, match=r"add up to 9, but the dataset has 10"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="add up to 0.9"):
        random_split(ds, [0.5, 0.4])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(ds, [12, -2])


def test_subset_of_a_one_at_a_time_dataset():
    from tinytorch.core.dataloader import Subset

    class Squares(Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return Tensor(float(i * i))

    sub = Subset(Squares(), [9, 2])
    assert len(sub) == 2 and sub[0].item() == 81.0
    assert [b.data.tolist() for b in DataLoader(sub, batch_size=2)] == [[81.0, 4.0]]
    with pytest.raises(TypeError, match="index the subset with an int"):
        sub[np.array([0, 1])]
