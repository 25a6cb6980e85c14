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
# # Module 01 — Tensor: the data structure of deep learning
#
# Every number a neural network touches — an image, a weight, a gradient, a loss — lives in a
# **tensor**: an n-dimensional grid of numbers of one type. In this module you build `Tensor`,
# the class every later module stands on. By the end of the course the same class will carry
# gradients through a network that reads handwritten digits.
#
# ## Learning objectives
#
# - Wrap a numpy array in a `Tensor` that knows its shape, dtype and whether it needs gradients.
# - Implement elementwise arithmetic with numpy's broadcasting rules.
# - Implement matrix multiplication with error messages that name both shapes.
# - Implement reductions (`sum`, `mean`, `max`) along a dimension, with `keepdim`.
# - Reshape, transpose and index tensors — and know which of these copy memory.
# - Measure what a tensor costs: bytes per element, views against copies, and why a library
#   matmul is thousands of times faster than three nested Python loops.
#
# ## Where this module fits
#
# ```
#  01 Tensor ──► 02 Activations ──► 03 Layers ──► 04 Losses ──► 05 Autograd ──► 06 Optimizers
#     ▲                                                            │
#     └──── every op you write here records what autograd needs ───┘
# ```
#
# You write forward math only. Each operation also leaves a small note on its result — *which op
# made me, from which inputs* — and module 05 will read those notes to run the chain rule
# backwards. You do not need to understand that yet: the helper that writes the note is given.

# %% [markdown]
# **How to work in this notebook.** Fill in each `TODO` where it stands and run the cell; the
# graded cell after it checks your work. `tito module test 01` tests this notebook *as
# saved on disk*, so save it first (Ctrl+S): edits that are only in the browser are not tested.
# `tito module test 01 -k NAME --verbose` runs the tests whose names contain NAME and
# prints each failure in full.

# %%
#| default_exp core.tensor

# %% [markdown]
# ## 1. What a tensor is
#
# A tensor is a block of memory plus a description of how to walk it:
#
# ```
#   shape (2, 3), dtype float32               memory (row-major, 4 bytes each)
#   ┌─────┬─────┬─────┐
#   │ 1.0 │ 2.0 │ 3.0 │   row 0     ──►   [1.0][2.0][3.0][4.0][5.0][6.0]
#   ├─────┼─────┼─────┤                      ▲                 ▲
#   │ 4.0 │ 5.0 │ 6.0 │   row 1              start            + 5 × 4 bytes
#   └─────┴─────┴─────┘
#   ndim = 2, size = 6, nbytes = 24
# ```
#
# numpy already does this very well, so our `Tensor` is a thin wrapper around an `np.ndarray`
# stored in `.data`. What the wrapper adds is what deep learning needs on top of numpy:
#
# | attribute        | meaning                                                          |
# |------------------|------------------------------------------------------------------|
# | `data`           | the numpy array holding the values                               |
# | `requires_grad`  | should autograd compute a gradient for this tensor?              |
# | `grad`           | the gradient (a `Tensor`), filled in by `backward()` in module 05 |
# | `_node`          | which operation produced this tensor, from which inputs           |
#
# **Why float32?** Neural networks do not need 16 significant digits; they need many numbers,
# fast. float32 halves the memory of float64 and, on most CPUs, doubles the numbers a SIMD
# instruction processes at once. So Python numbers become float32 by default. numpy arrays keep
# their dtype (integer class labels stay integers; float64 arrays stay float64, which gradient
# checks in module 05 rely on).
#
# **Why not copy?** `np.asarray` wraps an existing array of the right dtype without copying it.
# A dataset of 60,000 images should not be duplicated just because we wrapped it.

# %% [markdown]
# ### Grad mode and the graph note (given)
#
# The next cell is given code. `record_op` is how every operation in this course returns its
# result: it wraps the numpy result in a `Tensor` and, when grad mode is on and some input
# requires a gradient, attaches a `Node` — the op's name, its inputs and anything the backward
# rule will need (`saved`). Module 05's `no_grad()` turns grad mode off through
# `set_grad_enabled`.

# %%
#| export
from __future__ import annotations

import sys
import threading
import weakref
from collections import namedtuple

import numpy as np


class _GradMode(threading.local):
    """Grad mode, kept per thread as PyTorch does: a thread inside ``no_grad()`` leaves the
    other threads recording. Every thread starts with recording on."""

    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True when operations record the graph that backward() walks (in this thread)."""
    return _grad_mode.enabled


def set_grad_enabled(mode: bool) -> bool:
    """Turn graph recording on or off in this thread; returns the previous mode."""
    previous = _grad_mode.enabled
    _grad_mode.enabled = bool(mode)
    return previous


class Node:
    """How a tensor was made: the op's name, its inputs and what its backward rule needs."""

    __slots__ = ("op", "inputs", "needs", "saved", "retains")

    def __init__(self, op: str, inputs: tuple, needs: tuple, saved: dict):
        self.op = op            # name of the backward rule in module 05's registry
        self.inputs = inputs    # the Tensors the op read
        self.needs = needs      # needs[i]: does inputs[i] want a gradient?
        self.saved = saved      # values the backward rule reads (dims, masks, outputs, ...)
        self.retains = None     # the output, weakly, if retain_grad() asked to keep its .grad

    def __repr__(self) -> str:
        return f"Node({self.op!r}, inputs={len(self.inputs)})"


_FLOAT64 = np.dtype(np.float64)


def record_op(data, op: str, inputs: tuple, **saved) -> "Tensor":
    """Wrap an op's numpy result in a Tensor and note how it was made.

    The note (a Node) is attached only when grad mode is on and some input requires a
    gradient; otherwise the result is a plain tensor and costs nothing extra.
    """
    if type(data) is not np.ndarray:
        data = np.asarray(data)
    if data.dtype is _FLOAT64 and not any(t.data.dtype is _FLOAT64 for t in inputs):
        # numpy computes int / int and int64 * float32 in float64; PyTorch gives float32.
        data = data.astype(np.float32)
    out = Tensor.__new__(Tensor)
    out.data = data
    out.grad = None
    out.requires_grad = False
    out._node = None
    if _grad_mode.enabled:
        needs = tuple([t.requires_grad for t in inputs])
        if True in needs:
            out.requires_grad = True
            out._node = Node(op, inputs, needs, saved)
    return out


def as_tensor(value, like: "Tensor | None" = None) -> "Tensor":
    """Return ``value`` as a Tensor; Python numbers take the dtype of ``like`` when given.

    A bare Python float would otherwise become a float64 array, and float32 + float64 is
    float64 in numpy: one stray constant would silently double the memory of a network.
    """
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, (int, float, bool)) and \
            np.issubdtype(like.data.dtype, np.floating):
        return Tensor(np.asarray(value, dtype=like.data.dtype))
    return Tensor(value)


# %% [markdown]
# ## 2. The Tensor class
#
# The class below is mostly given: properties, printing, and operator methods (`a + b` calls
# `a.__add__(b)`) that forward to the functions you write in the rest of this module. Python
# looks those functions up when an operator is *used*, not when the class is defined, so the
# class works as soon as each function exists.
#
# Your part is the constructor.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "tensor_class", "solution": true, "locked": false}
#| export
class Tensor:
    """An n-dimensional array of numbers that can take part in automatic differentiation.

    TODO: store ``data`` as a numpy array in ``self.data`` and set up the autograd fields.
    APPROACH:
        1. If ``data`` is a Tensor, take its ``.data``.
        2. With ``dtype`` given, convert with ``np.asarray(data, dtype=dtype)``.
        3. Otherwise numpy arrays keep their dtype. Python data goes through ``np.asarray``;
           then, as in PyTorch, floats become float32 and integers int64 (class labels).
        4. ``requires_grad`` is only allowed for floating-point dtypes (raise ``TypeError``).
        5. Set ``self.requires_grad``, ``self.grad = None`` and ``self._node = None``.
    EXAMPLE:
        >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).data.dtype
        dtype('float32')
        >>> Tensor([0, 2, 1]).data.dtype           # Python ints: int64, like PyTorch (labels)
        dtype('int64')
    HINTS:
        - ``np.asarray`` does not copy an array that already has the right dtype.
        - ``np.issubdtype(arr.dtype, np.floating)`` tells whether an array holds floats.
    """

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        ### BEGIN SOLUTION
        if isinstance(data, Tensor):
            data = data.data
        if dtype is not None:
            arr = np.asarray(data, dtype=dtype)
        elif isinstance(data, np.ndarray):
            arr = data
        elif isinstance(data, np.generic):
            arr = np.asarray(data)
        else:
            arr = np.asarray(data)
            if np.issubdtype(arr.dtype, np.floating):
                arr = arr.astype(np.float32)
            elif np.issubdtype(arr.dtype, np.integer):
                arr = arr.astype(np.int64, copy=False)
        if requires_grad and not np.issubdtype(arr.dtype, np.floating):
            raise TypeError(f"only floating-point tensors can require gradients, "
                            f"got dtype {arr.dtype}; pass dtype=np.float32")
        self.data = arr
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._node = None
        ### END SOLUTION

    # ---- description ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self) -> "_Size":
        """``x.size()`` is the shape and ``x.size(0)`` one dimension, as in PyTorch.

        Deliberate difference: ``x.size`` without parentheses is still the number of
        elements (numpy's meaning), which the earlier modules of the course use.
        """
        return _Size(self.data.size, self.data.shape)

    def numel(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op on tensors needing grad."""
        return self._node is None

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __bool__(self) -> bool:
        # Without this, Python would fall back on len(): `if loss < 0.1` would fail on a 0-d
        # tensor, and `assert a == b` would pass for any two non-empty tensors.
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous: "
                             f"reduce it to one element first, e.g. (a == b).data.all() "
                             f"or (a > 0).data.any()")
        return bool(self.data.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self.data.dtype != np.float32:
            extra = f", dtype={self.data.dtype}" + extra
        return f"tensor({body}{extra})"

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    # ---- leaving the graph -----------------------------------------------------------------
    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        return self._one_value("item()")

    def numpy(self) -> np.ndarray:
        """The underlying numpy array (shared, not copied)."""
        return self.data

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data but cut out of the graph."""
        return Tensor(self.data)

    def requires_grad_(self, mode: bool = True) -> "Tensor":
        if mode and not np.issubdtype(self.data.dtype, np.floating):
            raise TypeError(f"only floating-point tensors can require gradients, "
                            f"got dtype {self.data.dtype}")
        self.requires_grad = bool(mode)
        return self

    def retain_grad(self) -> None:
        """Keep this tensor's gradient in ``.grad`` after backward(), though it is not a leaf.

        Only leaves keep gradients otherwise: an intermediate result's gradient is handed on
        to the op that made it and dropped. Leaves keep theirs anyway, so for them this does
        nothing. Like a leaf's, the kept gradient adds up over backward() calls.
        """
        if not self.requires_grad:
            raise RuntimeError("retain_grad(): this tensor does not require grad, so no "
                               "gradient will reach it")
        if self._node is not None:
            self._node.retains = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        """Whether retain_grad() was called on this non-leaf tensor."""
        return self._node is not None and self._node.retains is not None

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Fill ``.grad`` of every leaf this tensor depends on (module 05's engine)."""
        engine = sys.modules.get("tinytorch.core.autograd")   # once imported: no lookup cost
        if engine is None:
            from tinytorch._course import require

            engine = require("core.autograd", feature="Tensor.backward()")
        engine.backward(self, gradient, retain_graph=retain_graph)

    # ---- arithmetic (the functions are written below) ---------------------------------------
    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(as_tensor(other, like=self), self)

    def __sub__(self, other):
        return sub(self, other)

    def __rsub__(self, other):
        return sub(as_tensor(other, like=self), self)

    def __mul__(self, other):
        return mul(self, other)

    def __rmul__(self, other):
        return mul(as_tensor(other, like=self), self)

    def __truediv__(self, other):
        return div(self, other)

    def __rtruediv__(self, other):
        return div(as_tensor(other, like=self), self)

    def __neg__(self):
        return neg(self)

    def __pow__(self, exponent):
        return pow(self, exponent)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(as_tensor(other), self)

    def __getitem__(self, index):
        return getitem(self, index)

    # Comparisons give boolean tensors outside the graph (useful for accuracy).
    def __eq__(self, other):  # type: ignore[override]
        return Tensor(self.data == as_tensor(other, like=self).data)

    def __ne__(self, other):  # type: ignore[override]
        return Tensor(self.data != as_tensor(other, like=self).data)

    def __lt__(self, other):
        return Tensor(self.data < as_tensor(other, like=self).data)

    def __le__(self, other):
        return Tensor(self.data <= as_tensor(other, like=self).data)

    def __gt__(self, other):
        return Tensor(self.data > as_tensor(other, like=self).data)

    def __ge__(self, other):
        return Tensor(self.data >= as_tensor(other, like=self).data)

    __hash__ = object.__hash__

    # PyTorch's method spellings of the comparisons: pred.eq(target).sum().item()
    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    # ---- methods -------------------------------------------------------------------------
    def matmul(self, other):
        return matmul(self, other)

    def sum(self, dim=None, keepdim: bool = False):
        return tensor_sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim: bool = False):
        return tensor_mean(self, dim, keepdim)

    def max(self, dim=None, keepdim: bool = False):
        """The largest value; with an int ``dim``, PyTorch's pair ``(values, indices)``.

        ``v, i = x.max(dim=1)`` gives the row maxima and where they are; ``x.max(dim=1).values``
        the maxima alone. A tuple of dims gives the values only.
        """
        values = tensor_max(self, dim, keepdim)
        if dim is None or isinstance(dim, (tuple, list)):
            return values
        return MaxResult(values, self.argmax(dim, keepdim))

    def argmax(self, dim=None, keepdim: bool = False):
        """Index of the largest value (no gradient: indices are not differentiable)."""
        return _position(np.argmax, self, dim, keepdim)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return reshape(self, shape)

    def view(self, *shape):
        return self.reshape(*shape)

    def view_as(self, other):
        return reshape(self, other.shape)

    reshape_as = view_as

    def flatten(self, start_dim: int = 0):
        start = start_dim % max(self.ndim, 1)
        return reshape(self, self.shape[:start] + (-1,))

    def transpose(self, dim0: int = 0, dim1: int = 1):
        return transpose(self, dim0, dim1)

    @property
    def T(self):
        if self.ndim < 2:
            return self
        return transpose(self, -2, -1) if self.ndim == 2 else permute(
            self, tuple(reversed(range(self.ndim))))

    def exp(self):
        return exp(self)

    def log(self):
        return log(self)

    # Activations and log-softmax are written in modules 02 and 04; these methods reach them
    # through the course map, so using one early names the module to complete.
    def relu(self):
        from tinytorch._course import require
        return require("core.activations", feature="Tensor.relu()").relu(self)

    def sigmoid(self):
        from tinytorch._course import require
        return require("core.activations", feature="Tensor.sigmoid()").sigmoid(self)

    def tanh(self):
        from tinytorch._course import require
        return require("core.activations", feature="Tensor.tanh()").tanh(self)

    def softmax(self, dim: int = -1):
        from tinytorch._course import require
        return require("core.activations", feature="Tensor.softmax()").softmax(self, dim)

    def log_softmax(self, dim: int = -1):
        from tinytorch._course import require
        return require("core.losses", feature="Tensor.log_softmax()").log_softmax(self, dim)

    # ---- shapes and limits (given; written with the functions of this module) ---------------
    def unsqueeze(self, dim: int):
        """A new dimension of size 1 at ``dim`` (negative counts from the end, as in PyTorch)."""
        d = dim + self.ndim + 1 if dim < 0 else dim
        return reshape(self, self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        """Drop dimensions of size 1 (only ``dim`` when given; a no-op if it is not 1)."""
        if dim is None:
            return reshape(self, tuple(n for n in self.shape if n != 1))
        d = dim % self.ndim if self.ndim else 0
        if self.ndim == 0 or self.shape[d] != 1:
            return reshape(self, self.shape)
        return reshape(self, self.shape[:d] + self.shape[d + 1:])

    def clamp(self, min=None, max=None):
        return clamp(self, min, max)

    def permute(self, *dims):
        """Reorder the dimensions: ``x.permute(0, 2, 3, 1)`` or ``x.permute((0, 2, 3, 1))``."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return permute(self, dims)

    def min(self, dim=None, keepdim: bool = False):
        """The smallest value; with an int ``dim``, the pair ``(values, indices)`` as ``max``."""
        values = neg(tensor_max(neg(self), dim, keepdim))     # min(x) = -max(-x)
        if dim is None or isinstance(dim, (tuple, list)):
            return values
        return MinResult(values, self.argmin(dim, keepdim))

    def argmin(self, dim=None, keepdim: bool = False):
        """Index of the smallest value (no gradient)."""
        return _position(np.argmin, self, dim, keepdim)

    def var(self, dim=None, keepdim: bool = False, *, correction: int = 1, unbiased=None):
        """Variance over ``dim``, divided by ``n - correction`` (PyTorch's default: n - 1)."""
        if unbiased is not None:                   # PyTorch's older spelling of correction
            correction = 1 if unbiased else 0
        dims = range(self.ndim) if dim is None else dim if isinstance(dim, (tuple, list)) \
            else (dim,)
        n = 1
        for d in dims:
            n *= self.shape[d]
        centred = self - tensor_mean(self, dim, keepdim=True)
        return tensor_sum(centred * centred, dim, keepdim) / (n - correction)

    def std(self, dim=None, keepdim: bool = False, *, correction: int = 1, unbiased=None):
        """Standard deviation: the square root of ``var`` with the same arguments."""
        return self.var(dim, keepdim, correction=correction, unbiased=unbiased) ** 0.5

    def norm(self, p=2, dim=None, keepdim: bool = False):
        """The ``p``-norm over ``dim`` (every element by default): ``x.norm()`` is the length.

        ``p`` is a positive number, ``"fro"`` (the same as 2) or ``float("inf")`` (the largest
        absolute value). Built from recorded ops, so gradients flow through it; at an all-zero
        input the gradient is 0, as in PyTorch, not the 0/0 of the formula.

        Example: Tensor([3.0, -4.0]).norm().item() == 5.0
        """
        return tensor_norm(self, p, dim, keepdim)

    def abs(self):
        return absolute(self)

    def __abs__(self):            # abs(x)
        return absolute(self)

    def sqrt(self):
        return pow(self, 0.5)

    def pow(self, exponent):
        return pow(self, exponent)

    def clone(self):
        """A copy with memory of its own that stays in the graph (gradients flow through)."""
        return clone(self)

    def t(self):
        """The transpose of a matrix; a 0-d or 1-d tensor comes back as it is (as in PyTorch)."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with at most 2 dimensions, got shape "
                               f"{self.shape}; use x.transpose(dim0, dim1) or x.permute(...)")
        return self.T

    def masked_fill(self, mask, value):
        """A copy with ``value`` wherever ``mask`` is true (no gradient reaches those places)."""
        return where(mask, value, self)

    # PyTorch's method spellings of the operators: x.add(y) is x + y, x.mm(w) is x @ w.
    def add(self, other, alpha=1):
        return add(self, other if alpha == 1 else as_tensor(other, like=self) * alpha)

    def sub(self, other, alpha=1):
        return sub(self, other if alpha == 1 else as_tensor(other, like=self) * alpha)

    def mul(self, other):
        return mul(self, other)

    def div(self, other):
        return div(self, other)

    def neg(self):
        return neg(self)

    def matmul(self, other):
        return matmul(self, other)

    def mm(self, other):
        """Matrix product of two 2-d tensors (``matmul`` also takes vectors and batches)."""
        if self.ndim != 2 or as_tensor(other).ndim != 2:
            raise RuntimeError(f"mm: both tensors must be 2-d, got shapes {self.shape} and "
                               f"{as_tensor(other).shape}; use matmul (or @) for other shapes")
        return matmul(self, other)

    def square(self):
        return mul(self, self)

    def contiguous(self):
        """The tensor itself: a tensor's layout never changes what tinytorch computes."""
        return self

    @property
    def device(self) -> str:
        """Always "cpu", so ``x.to(y.device)`` works as in PyTorch code."""
        return "cpu"

    @property
    def grad_fn(self):
        """The graph note of the op that made this tensor (a Node), or None for a leaf."""
        return self._node

    def all(self, dim=None, keepdim: bool = False):
        """Whether every element (along ``dim``) is nonzero, as a bool tensor."""
        return Tensor(np.all(self.data, axis=dim, keepdims=keepdim))

    def any(self, dim=None, keepdim: bool = False):
        """Whether some element (along ``dim``) is nonzero, as a bool tensor."""
        return Tensor(np.any(self.data, axis=dim, keepdims=keepdim))

    # ---- picking, sorting, splitting and expanding (given; built from getitem, cat, add) ----
    def gather(self, dim: int, index):
        """``out[i][j] = self[i][index[i][j]]`` for ``dim=1`` (likewise for any ``dim``).

        ``index`` has as many dimensions as ``self``; the result has its shape. Gradients flow
        back to the picked places (to a place picked twice, twice).
        """
        idx = index.data if isinstance(index, Tensor) else np.asarray(index)
        if idx.ndim != self.ndim or not np.issubdtype(idx.dtype, np.integer):
            raise RuntimeError(f"gather: the index must be an integer tensor with as many "
                               f"dimensions as the input ({self.ndim}), got shape {idx.shape} "
                               f"and dtype {idx.dtype}")
        d = dim % self.ndim
        if any(idx.shape[k] > self.shape[k] for k in range(self.ndim) if k != d):
            raise RuntimeError(f"gather: index {idx.shape} is larger than input {self.shape} "
                               f"outside dimension {d}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.shape[d]):
            raise RuntimeError(f"gather: indices must be in [0, {self.shape[d] - 1}] for "
                               f"dimension {d} of size {self.shape[d]}, got values from "
                               f"{idx.min()} to {idx.max()}")
        picks = list(np.indices(idx.shape, sparse=True))
        picks[d] = idx
        return getitem(self, tuple(picks))

    def argsort(self, dim: int = -1, descending: bool = False):
        """Indices that sort ``self`` along ``dim`` (int64, no gradient)."""
        order = np.argsort(self.data, axis=dim, kind="stable")
        return Tensor(np.flip(order, axis=dim).copy() if descending else order)

    def sort(self, dim: int = -1, descending: bool = False):
        """PyTorch's pair ``(values, indices)`` along ``dim``; gradients reach ``self``."""
        indices = self.argsort(dim, descending)
        return SortResult(self.gather(dim, indices), indices)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        """The ``k`` largest (``largest=False``: smallest) entries along ``dim``, with indices.

        They always come sorted, largest first (which ``sorted=False`` also allows).
        """
        n = self.shape[dim] if self.ndim else 1
        if not 0 <= k <= n:
            raise RuntimeError(f"topk: k={k} is out of range for dimension {dim} of size {n}")
        order = self.argsort(dim, descending=largest).data
        indices = Tensor(np.take(order, np.arange(k), axis=dim))
        return TopkResult(self.gather(dim, indices), indices)

    def split(self, split_size_or_sections, dim: int = 0):
        """Pieces along ``dim``: of ``split_size`` each (the last may be smaller), or of the
        sizes in a list, which must add up to the dimension's size."""
        n = self.shape[dim]
        if isinstance(split_size_or_sections, (int, np.integer)):
            size = int(split_size_or_sections)
            if size <= 0:
                raise RuntimeError(f"split: the size of a piece must be positive, got {size}")
            sizes = [min(size, n - start) for start in range(0, n, size)] or [0]
        else:
            sizes = [int(k) for k in split_size_or_sections]
            if sum(sizes) != n or min(sizes, default=0) < 0:
                raise RuntimeError(f"split: sizes {sizes} must be non-negative and add up to "
                                   f"{n}, the size of dimension {dim}")
        lead = (slice(None),) * (dim % self.ndim)
        pieces, start = [], 0
        for size in sizes:
            pieces.append(getitem(self, lead + (slice(start, start + size),)))
            start += size
        return tuple(pieces)

    def chunk(self, chunks: int, dim: int = 0):
        """At most ``chunks`` pieces of equal size along ``dim`` (the last may be smaller)."""
        if chunks <= 0:
            raise RuntimeError(f"chunk: the number of chunks must be positive, got {chunks}")
        return self.split(max(1, -(-self.shape[dim] // chunks)), dim)

    def expand(self, *sizes):
        """``self`` repeated along its dimensions of size 1 (and new leading ones) to ``sizes``;
        -1 keeps a dimension. Gradients are summed back over the repeats.

        Deliberate difference: PyTorch returns a view that shares memory; this is a copy.
        """
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        new = len(sizes) - self.ndim
        if new < 0:
            raise RuntimeError(f"expand: {len(sizes)} sizes for a tensor with {self.ndim} "
                               f"dimensions; give at least one size per dimension")
        if any(k == -1 for k in sizes[:new]):
            raise RuntimeError("expand: -1 (keep) is only allowed for existing dimensions")
        target = tuple(sizes[:new]) + tuple(
            n if k == -1 else k for n, k in zip(self.shape, sizes[new:]))
        if any(n != 1 and n != k for n, k in zip(self.shape, target[new:])):
            raise RuntimeError(f"expand: cannot expand shape {self.shape} to {target}: only "
                               f"dimensions of size 1 can grow")
        return add(self, Tensor(np.zeros(target, dtype=self.data.dtype)))

    def expand_as(self, other):
        return self.expand(other.shape)

    def repeat(self, *repeats):
        """``self`` tiled ``repeats[d]`` times along each dimension ``d`` (as ``np.tile``)."""
        if len(repeats) == 1 and isinstance(repeats[0], (tuple, list)):
            repeats = tuple(repeats[0])
        if len(repeats) < self.ndim:
            raise RuntimeError(f"repeat: {len(repeats)} counts for a tensor with {self.ndim} "
                               f"dimensions; give at least one count per dimension")
        out = reshape(self, (1,) * (len(repeats) - self.ndim) + self.shape)
        for d, r in enumerate(repeats):
            if r < 0:
                raise RuntimeError(f"repeat: counts must be >= 0, got {r}")
            if r != 1:
                out = (cat([out] * r, dim=d) if r else
                       getitem(out, (slice(None),) * d + (slice(0, 0),)))
        return out

    # ---- dtypes, devices and Python numbers (given) -----------------------------------------
    # PyTorch code converts with .float() and .long(), moves with .to(device), and prints with
    # float(loss) or f"{loss:.4f}". tinytorch has one device, the CPU.
    def to(self, *args, dtype=None, device=None):
        """``x.to(np.float64)`` converts (see ``cast``); ``x.to("cpu")`` is ``x`` itself."""
        dtype = _to_arguments(args, dtype, device)
        return self if dtype is None else cast(self, dtype)

    def cpu(self):
        return self

    def float(self):
        return cast(self, np.float32)

    def double(self):
        return cast(self, np.float64)

    def long(self):
        return cast(self, np.int64)

    def int(self):
        return cast(self, np.int32)

    def bool(self):
        return cast(self, np.bool_)

    def half(self):
        return cast(self, np.float16)

    def dim(self) -> int:
        return self.data.ndim

    def tolist(self):
        return self.data.tolist()

    def _one_value(self, what: str):
        if self.data.size != 1:
            raise ValueError(f"{what} needs a tensor with one element, this one has shape "
                             f"{self.shape}; reduce it first (.sum(), .mean()) or index it")
        return self.data.item()

    def __float__(self):
        return float(self._one_value("float()"))

    def __int__(self):
        return int(self._one_value("int()"))

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats the value of a 0-d tensor, as in PyTorch."""
        if self.data.ndim == 0:
            return format(self.data.item(), spec)
        if not spec:
            return str(self)
        raise TypeError(f"format {spec!r} needs a 0-d tensor, this one has shape {self.shape}; "
                        f"format t.item() for one element, or t.tolist()")

    # ---- in place (given) ----------------------------------------------------------------------
    # ``p -= lr * p.grad`` changes the tensor itself, as in PyTorch: every other reference to
    # it (a model's parameter, an optimizer's list) sees the new values. PyTorch's rule for
    # leaves holds: a leaf that requires grad may only change in place while no graph is
    # recorded (inside ``no_grad()``, as an optimizer step does), since the graph may have
    # saved its old value. On any other tensor that takes part in a graph the op is recorded:
    # the tensor becomes the op's output. Deliberate difference: PyTorch also notices when a
    # value the graph saved was changed in place afterwards (version counters); we do not.
    def _inplace(self, name: str, other, op, ufunc):
        other = as_tensor(other, like=self)
        if _grad_mode.enabled and (self.requires_grad or other.requires_grad):
            if self.requires_grad and self._node is None:
                raise RuntimeError(
                    f"{name}: a leaf tensor that requires grad cannot change in place while "
                    f"the graph is recorded; do it inside `with no_grad():` (as an optimizer "
                    f"step does), or write y = x {name[0]} ... to make a new tensor")
            before = Tensor.__new__(Tensor)
            before.data, before.grad = self.data, None
            before.requires_grad, before._node = self.requires_grad, self._node
            out = op(before, other)
            self.data, self.requires_grad, self._node = out.data, True, out._node
            return self
        ufunc(self.data, other.data, out=self.data, casting="same_kind")
        return self

    def _check_unrecorded(self, name: str, src=None) -> None:
        if _grad_mode.enabled and (self.requires_grad or getattr(src, "requires_grad", False)):
            raise RuntimeError(f"{name}: a tensor that takes part in the graph cannot be "
                               f"overwritten while the graph is recorded; do it inside "
                               f"`with no_grad():`")

    def __iadd__(self, other):
        return self._inplace("+=", other, add, np.add)

    def __isub__(self, other):
        return self._inplace("-=", other, sub, np.subtract)

    def __imul__(self, other):
        return self._inplace("*=", other, mul, np.multiply)

    def __itruediv__(self, other):
        return self._inplace("/=", other, div, np.true_divide)

    def add_(self, other, alpha=1):
        """``self += alpha * other`` in place."""
        return self._inplace("+=", other if alpha == 1 else as_tensor(other, like=self) * alpha,
                             add, np.add)

    def sub_(self, other, alpha=1):
        """``self -= alpha * other`` in place."""
        return self._inplace("-=", other if alpha == 1 else as_tensor(other, like=self) * alpha,
                             sub, np.subtract)

    def mul_(self, other):
        """``self *= other`` in place."""
        return self._inplace("*=", other, mul, np.multiply)

    def div_(self, other):
        """``self /= other`` in place."""
        return self._inplace("/=", other, div, np.true_divide)

    def zero_(self):
        """Set every element to 0 in place (``p.grad.zero_()``)."""
        self._check_unrecorded("zero_()")
        self.data[...] = 0
        return self

    def fill_(self, value):
        """Set every element to ``value`` in place."""
        self._check_unrecorded("fill_()")
        self.data[...] = value
        return self

    def copy_(self, src):
        """Copy ``src``'s values (broadcast, converted to this dtype) into this tensor."""
        src = as_tensor(src)
        self._check_unrecorded("copy_()", src)
        np.copyto(self.data, src.data, casting="unsafe")
        return self

    def _check_floating_fill(self, name: str) -> None:
        if self.data.dtype.kind != "f":
            raise TypeError(f"{name} fills floating-point tensors, this one is "
                            f"{self.data.dtype}; convert it with .float() first")
        self._check_unrecorded(name)

    def normal_(self, mean: float = 0.0, std: float = 1.0):
        """Fill in place with normal samples from the generator ``manual_seed`` seeds."""
        self._check_floating_fill("normal_()")
        self.data[...] = default_generator().normal(mean, std, self.shape)
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0):
        """Fill in place with uniform samples in ``[a, b)`` from the seeded generator."""
        self._check_floating_fill("uniform_()")
        self.data[...] = default_generator().uniform(a, b, self.shape)
        return self


MaxResult = namedtuple("MaxResult", ["values", "indices"])
MaxResult.__doc__ = "What ``x.max(dim)`` returns: the maxima and their indices along ``dim``."
MinResult = namedtuple("MinResult", ["values", "indices"])
MinResult.__doc__ = "What ``x.min(dim)`` returns: the minima and their indices along ``dim``."
SortResult = namedtuple("SortResult", ["values", "indices"])
SortResult.__doc__ = "What ``x.sort(dim)`` returns: the sorted values and where they were."
TopkResult = namedtuple("TopkResult", ["values", "indices"])
TopkResult.__doc__ = "What ``x.topk(k)`` returns: the k chosen values and their indices."



def _position(arg_fn, t: Tensor, dim, keepdim: bool) -> Tensor:
    """``np.argmax`` or ``np.argmin`` of ``t`` along ``dim``, as an int64 tensor."""
    idx = arg_fn(t.data, axis=dim)
    if keepdim and dim is not None:
        idx = np.expand_dims(idx, dim)
    return Tensor(np.asarray(idx))


_DEVICES = ("cpu", "cuda", "mps", "xpu")


def _to_arguments(args: tuple, dtype=None, device=None):
    """The dtype that ``.to(...)``'s arguments ask for (or None); any device but the CPU is
    refused, since tinytorch has no other."""
    for arg in args:
        if isinstance(arg, str) and arg.split(":")[0] in _DEVICES:
            device = arg
        else:
            dtype = arg.dtype if isinstance(arg, Tensor) else arg
    if device is not None and str(device).split(":")[0] != "cpu":
        raise RuntimeError(f"tinytorch runs on the CPU only, so it cannot use device "
                           f"{str(device)!r}; use 'cpu', or drop the .to(device) call")
    return dtype


class _Size(int):
    """``x.size``: the number of elements, which called gives PyTorch's shape or one dim."""

    def __new__(cls, count: int, shape: tuple):
        self = super().__new__(cls, count)
        self.shape = shape
        return self

    def __call__(self, dim=None):
        return self.shape if dim is None else self.shape[dim]


# %% [markdown]
# Let's check the constructor. Each check below is a graded cell: it is locked, and it is worth
# points when your notebook is autograded.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_tensor_class", "locked": true, "points": 5, "solution": false}
t = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
assert t.shape == (2, 3), f"shape should be (2, 3), got {t.shape}"
assert t.dtype == np.float32, f"Python floats should become float32, got {t.dtype}"
assert Tensor([0, 2, 1]).dtype == np.int64, "Python ints should become int64 (as in PyTorch)"
assert t.ndim == 2 and t.size == 6, "ndim should be 2 and size 6"
assert t.requires_grad is False and t.grad is None, "new tensors need no gradient by default"
labels = Tensor(np.array([0, 3, 1]))
assert labels.dtype == np.int64, f"integer arrays keep their dtype, got {labels.dtype}"
a = np.ones(4, dtype=np.float32)
assert Tensor(a).data is a, "a float32 array should be wrapped, not copied"
w = Tensor([0.5], requires_grad=True)
assert w.requires_grad is True
try:
    Tensor(np.array([1, 2]), requires_grad=True)
    raise AssertionError("an integer tensor must refuse requires_grad=True")
except TypeError:
    pass
### BEGIN HIDDEN TESTS
assert Tensor(3.0).shape == () and Tensor(3.0).item() == 3.0
assert Tensor(np.zeros(2, dtype=np.float64)).dtype == np.float64
assert Tensor([1, 2], dtype=np.int32).dtype == np.int32
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Creating tensors
#
# Models need tensors full of zeros (biases), ones, and random numbers (weights). Random numbers
# come from a `np.random.Generator`. Passing a `seed` gives a fresh generator; without one, the
# course-wide generator is used, and `manual_seed(0)` resets it — like `torch.manual_seed`.
# Either way an experiment can be repeated exactly, which the milestones rely on.

# %%
#| export
_default_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed tinytorch's generator: the one every random draw of the package uses.

    That is ``randn``/``rand`` without their own ``seed``, ``Linear`` initialisation,
    ``Dropout`` masks and the shuffling of a ``DataLoader`` built without a ``seed``. It does
    not touch numpy's global ``np.random`` state or Python's ``random`` module, which the
    package never reads.
    """
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def default_generator() -> np.random.Generator:
    """The generator used when no ``seed`` is passed (reseeded by ``manual_seed``)."""
    return _default_rng


def _rng(seed) -> np.random.Generator:
    return _default_rng if seed is None else np.random.default_rng(seed)


# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "creation", "solution": true, "locked": false}
#| export
def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def zeros(*shape, requires_grad: bool = False, dtype=np.float32) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``.

    TODO: build the numpy array and wrap it.
    APPROACH: ``np.zeros(shape, dtype=dtype)`` then ``Tensor(..., requires_grad=...)``.
    EXAMPLE: zeros(2, 3).shape == (2, 3)
    HINTS: ``_shape_arg(shape)`` accepts both calling styles.
    """
    ### BEGIN SOLUTION
    return Tensor(np.zeros(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)
    ### END SOLUTION


def ones(*shape, requires_grad: bool = False, dtype=np.float32) -> Tensor:
    """A tensor of ones (same calling styles as ``zeros``)."""
    ### BEGIN SOLUTION
    return Tensor(np.ones(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)
    ### END SOLUTION


def randn(*shape, requires_grad: bool = False, seed=None, dtype=np.float32) -> Tensor:
    """Standard normal samples. ``seed`` may be an int or a ``np.random.Generator``.

    HINTS: ``_rng(seed)`` gives the course-wide generator when ``seed`` is None (see
    ``manual_seed``) and a fresh one otherwise; ``rng.standard_normal(shape,
    dtype=np.float32)`` draws float32 directly.
    """
    ### BEGIN SOLUTION
    rng = _rng(seed)
    data = rng.standard_normal(_shape_arg(shape), dtype=np.float32).astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad)
    ### END SOLUTION


def rand(*shape, requires_grad: bool = False, seed=None, dtype=np.float32) -> Tensor:
    """Uniform samples in [0, 1)."""
    ### BEGIN SOLUTION
    rng = _rng(seed)
    data = rng.random(_shape_arg(shape), dtype=np.float32).astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad)
    ### END SOLUTION


def arange(start, stop=None, step=1, dtype=np.float32) -> Tensor:
    """Evenly spaced values, like ``np.arange`` (float32 unless ``dtype`` says otherwise)."""
    ### BEGIN SOLUTION
    if stop is None:
        start, stop = 0, start
    return Tensor(np.arange(start, stop, step, dtype=dtype))
    ### END SOLUTION


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return zeros(t.shape, requires_grad=requires_grad, dtype=t.dtype)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return ones(t.shape, requires_grad=requires_grad, dtype=t.dtype)


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """PyTorch-style spelling of ``Tensor(...)``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_creation", "locked": true, "points": 5, "solution": false}
z = zeros(2, 3)
assert z.shape == (2, 3) and float(z.data.sum()) == 0.0, "zeros(2, 3) should be all zeros"
assert z.dtype == np.float32, f"zeros should be float32, got {z.dtype}"
assert ones((4,)).data.tolist() == [1.0, 1.0, 1.0, 1.0], "ones((4,)) should be four ones"
r1, r2 = randn(3, 4, seed=0), randn(3, 4, seed=0)
assert r1.shape == (3, 4) and r1.dtype == np.float32
assert np.array_equal(r1.data, r2.data), "the same seed must give the same numbers"
assert not np.array_equal(r1.data, randn(3, 4, seed=1).data), "other seeds, other numbers"
manual_seed(7)
g1 = randn(5)
manual_seed(7)
assert np.array_equal(g1.data, randn(5).data), "manual_seed must make randn repeatable"
u = rand(1000, seed=0)
assert 0.0 <= float(u.data.min()) and float(u.data.max()) < 1.0, "rand must lie in [0, 1)"
assert arange(4).data.tolist() == [0.0, 1.0, 2.0, 3.0]
### BEGIN HIDDEN TESTS
assert abs(float(randn(20000, seed=3).data.std()) - 1.0) < 0.05
assert zeros(2, requires_grad=True).requires_grad
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Elementwise arithmetic and broadcasting
#
# `a + b` adds matching elements. When shapes differ, numpy **broadcasts**: it lines the shapes
# up from the right, and a dimension of size 1 (or a missing one) is stretched to match.
#
# ```
#   x       (32, 10)      a batch of 32 rows          (32, 10)
#   bias        (10,)  ─► seen as   (1, 10)   ─► stretched to (32, 10)   ✓
#
#   (3, 1) + (1, 4)  ─►  (3, 4)        (5,) + (2, 5)  ─►  (2, 5)        (3,) + (4,)  ✗
# ```
#
# Broadcasting never copies the stretched operand: numpy walks it with a stride of 0. It matters
# again in module 05: a bias used by 32 rows must collect the gradient of all 32.
#
# Each function below computes with numpy and returns `record_op(result, "<op name>", inputs)`.
# The op names (`"add"`, `"sub"`, `"mul"`, `"div"`, `"neg"`, `"pow"`) are how module 05 finds the
# matching backward rule. `mul` and `div` need nothing saved: their rules read the inputs.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "arithmetic", "solution": true, "locked": false}
#| export
def add(a, b) -> Tensor:
    """Elementwise ``a + b`` with broadcasting.

    TODO: make both operands tensors, add their data, record the op as "add".
    APPROACH:
        1. ``a = as_tensor(a)``; ``b = as_tensor(b, like=a)`` (a Python number takes a's dtype)
        2. ``return record_op(a.data + b.data, "add", (a, b))``
    EXAMPLE: add(Tensor([1., 2.]), 3.0).data.tolist() == [4.0, 5.0]
    HINTS: an op returns a *new* Tensor and never changes its inputs (no ``+=`` on
        ``a.data``): other parts of the graph may still read them.
    """
    ### BEGIN SOLUTION
    a = as_tensor(a)
    b = as_tensor(b, like=a)
    return record_op(a.data + b.data, "add", (a, b))
    ### END SOLUTION


def sub(a, b) -> Tensor:
    """Elementwise ``a - b`` with broadcasting (op name "sub")."""
    ### BEGIN SOLUTION
    a = as_tensor(a)
    b = as_tensor(b, like=a)
    return record_op(a.data - b.data, "sub", (a, b))
    ### END SOLUTION


def mul(a, b) -> Tensor:
    """Elementwise ``a * b`` with broadcasting (op name "mul")."""
    ### BEGIN SOLUTION
    a = as_tensor(a)
    b = as_tensor(b, like=a)
    return record_op(a.data * b.data, "mul", (a, b))
    ### END SOLUTION


def div(a, b) -> Tensor:
    """Elementwise ``a / b`` with broadcasting (op name "div")."""
    ### BEGIN SOLUTION
    a = as_tensor(a)
    b = as_tensor(b, like=a)
    return record_op(a.data / b.data, "div", (a, b))
    ### END SOLUTION


def neg(a) -> Tensor:
    """``-a`` (op name "neg"); a new tensor, ``a`` itself is left unchanged."""
    ### BEGIN SOLUTION
    a = as_tensor(a)
    return record_op(-a.data, "neg", (a,))
    ### END SOLUTION


def pow(a, exponent) -> Tensor:
    """``a ** exponent``; the exponent may be a number or a tensor (op name "pow").

    HINTS: save the output (``out=...``): the rule for the exponent's gradient reuses it.
    """
    ### BEGIN SOLUTION
    a = as_tensor(a)
    b = as_tensor(exponent, like=a)
    out = np.power(a.data, b.data)
    return record_op(out, "pow", (a, b), out=out)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_arithmetic", "locked": true, "points": 10, "solution": false}
a = Tensor([[1.0, 2.0], [3.0, 4.0]])
b = Tensor([10.0, 20.0])
assert (a + b).data.tolist() == [[11, 22], [13, 24]], "a + b should broadcast b over rows"
assert (a - 1).data.tolist() == [[0, 1], [2, 3]], "a - 1 should subtract from every element"
assert (2 * a).data.tolist() == [[2, 4], [6, 8]], "2 * a should work (reflected operand)"
assert np.allclose((a / b).data, [[0.1, 0.1], [0.3, 0.2]]), "a / b should divide by row b"
assert (-a).data.tolist() == [[-1, -2], [-3, -4]], "-a should negate"
assert np.allclose((a ** 2).data, [[1, 4], [9, 16]]), "a ** 2 should square"
assert (a + 0.5).dtype == np.float32, "a Python float must not upcast a float32 tensor"
col, row = Tensor(np.ones((3, 1), np.float32)), Tensor(np.ones((1, 4), np.float32))
assert (col * row).shape == (3, 4), "(3, 1) * (1, 4) should broadcast to (3, 4)"
assert a.data.tolist() == [[1, 2], [3, 4]], "an op returns a new tensor: a must be unchanged"
### BEGIN HIDDEN TESTS
assert np.allclose((1 / Tensor([2.0, 4.0])).data, [0.5, 0.25])
assert np.allclose((Tensor([2.0]) ** Tensor([3.0])).data, [8.0])
assert (3 - Tensor([1.0])).data.tolist() == [2.0]
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Matrix multiplication
#
# A linear layer is one matrix product: a batch of inputs `(batch, in)` times a weight matrix
# gives `(batch, out)`. Each output element is a dot product of a row and a column:
#
# ```
#       A (2, 3)            B (3, 2)           C = A @ B (2, 2)
#   ┌───────────────┐    ┌───────┐
#   │ a00  a01  a02 │ ×  │b00 b01│   =   c00 = a00·b00 + a01·b10 + a02·b20
#   │ a10  a11  a12 │    │b10 b11│       ... 2 × 2 outputs, 3 multiply-adds each
#   └───────────────┘    │b20 b21│
#                        └───────┘
#   (m, k) @ (k, n) -> (m, n): the inner sizes k must agree.
# ```
#
# `np.matmul` also handles 1-D operands (a vector is a row on the left, a column on the right)
# and stacks of matrices (`(b, m, k) @ (b, k, n)`), so we use it. What we add is an error a
# student can act on: numpy says *"matmul: Input operand 1 has a mismatch in its core dimension
# 0"*; we say which shapes met and which sizes differ.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "matmul", "solution": true, "locked": false}
#| export
def matmul(a, b) -> Tensor:
    """Matrix product ``a @ b`` (op name "matmul").

    TODO: check the inner dimensions, multiply with numpy, record the op.
    APPROACH:
        1. Make both operands tensors. Refuse 0-d operands with a ValueError.
        2. The inner size of ``a`` is its last dimension; of ``b``, its first dimension when
           ``b`` is 1-D, else its second-to-last.
        3. If they differ raise ``ValueError`` naming both shapes and both sizes, e.g.
           ``"matmul: (32, 784) @ (128, 10): inner dimensions 784 and 128 differ"``.
        4. Multiply with ``np.matmul`` and return the result through ``record_op`` under the
           op name "matmul" with inputs ``(a, b)``. A bare ``Tensor(...)`` would work forward
           but leave no note, and module 05 could not differentiate through it.
    HINTS: ``a.shape[-1]`` and ``b.shape[-2]``; format a shape with ``{a.shape}``.
    """
    ### BEGIN SOLUTION
    a = as_tensor(a)
    b = as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes "
                         f"{a.shape} and {b.shape}; use * to scale by a number")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: {a.shape} @ {b.shape}: inner dimensions {k_a} and {k_b} "
                         f"differ")
    return record_op(np.matmul(a.data, b.data), "matmul", (a, b))
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_matmul", "locked": true, "points": 10, "solution": false}
A = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
B = Tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
C = A @ B
assert C.shape == (2, 2), f"(2, 3) @ (3, 2) should be (2, 2), got {C.shape}"
assert C.data.tolist() == [[4.0, 5.0], [10.0, 11.0]], f"wrong product {C.data.tolist()}"
assert (A @ Tensor([1.0, 1.0, 1.0])).data.tolist() == [6.0, 15.0], "matrix @ vector"
try:
    matmul(Tensor(np.ones((32, 784), np.float32)), Tensor(np.ones((128, 10), np.float32)))
    raise AssertionError("mismatched shapes must raise ValueError")
except ValueError as err:
    msg = str(err)
    assert "(32, 784)" in msg and "(128, 10)" in msg, f"name both shapes: {msg}"
    assert "784" in msg and "128" in msg, f"name both inner sizes: {msg}"
### BEGIN HIDDEN TESTS
batched = matmul(Tensor(np.ones((4, 2, 3), np.float32)), Tensor(np.ones((4, 3, 5), np.float32)))
assert batched.shape == (4, 2, 5) and float(batched.data[0, 0, 0]) == 3.0
assert (Tensor([1.0, 2.0]) @ Tensor([3.0, 4.0])).item() == 11.0
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Reductions: sum, mean, max
#
# A reduction collapses a dimension. `dim` says which (an int, a tuple, or `None` for all);
# `keepdim=True` keeps the collapsed dimension with size 1, so the result still broadcasts
# against the input — exactly what softmax needs in module 02.
#
# ```
#   x (2, 3)            x.sum(dim=0) -> (3,)      x.sum(dim=1) -> (2,)    x.sum() -> ()
#   [[1, 2, 3],         [5, 7, 9]                 [ 6, 15]               21
#    [4, 5, 6]]                                   keepdim=True: [[6], [15]]  shape (2, 1)
# ```
#
# Save what the backward rule needs: `dim` and `keepdim` for all three; `max` also saves its
# output (`out=`), because only the positions that held the maximum get a gradient.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "reductions", "solution": true, "locked": false}
#| export
def tensor_sum(a, dim=None, keepdim: bool = False) -> Tensor:
    """Sum over ``dim`` (int, tuple or None) — ``Tensor.sum`` calls this (op name "sum").

    TODO: reduce with numpy and record the op with ``dim`` and ``keepdim`` saved.
    APPROACH: ``np.sum(a.data, axis=dim, keepdims=keepdim)`` then
              ``record_op(out, "sum", (a,), dim=dim, keepdim=keepdim)``
    EXAMPLE: Tensor([[1., 2.], [3., 4.]]).sum(dim=0).data.tolist() == [4.0, 6.0]
    HINTS: numpy calls them ``axis`` and ``keepdims``; PyTorch calls them ``dim``, ``keepdim``.
    """
    ### BEGIN SOLUTION
    a = as_tensor(a)
    out = np.sum(a.data, axis=dim, keepdims=keepdim)
    return record_op(out, "sum", (a,), dim=dim, keepdim=keepdim)
    ### END SOLUTION


def tensor_mean(a, dim=None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim`` (op name "mean"; save ``dim`` and ``keepdim``).

    Like ``tensor_sum``: ``keepdim=True`` keeps every reduced dimension with size 1.
    """
    ### BEGIN SOLUTION
    a = as_tensor(a)
    out = np.mean(a.data, axis=dim, keepdims=keepdim)
    return record_op(out, "mean", (a,), dim=dim, keepdim=keepdim)
    ### END SOLUTION


def tensor_max(a, dim=None, keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (op name "max"; save ``dim``, ``keepdim`` and ``out``)."""
    ### BEGIN SOLUTION
    a = as_tensor(a)
    out = np.max(a.data, axis=dim, keepdims=keepdim)
    return record_op(out, "max", (a,), dim=dim, keepdim=keepdim, out=out)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_reductions", "locked": true, "points": 10, "solution": false}
x = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
assert x.sum().item() == 21.0, "sum of everything should be 21"
assert x.sum(dim=0).data.tolist() == [5.0, 7.0, 9.0], "sum over rows (dim=0)"
assert x.sum(dim=1, keepdim=True).shape == (2, 1), "keepdim keeps a size-1 dimension"
assert x.mean().item() == 3.5, "mean should be 3.5"
assert x.mean(dim=1).data.tolist() == [2.0, 5.0], "mean of each row"
assert x.mean(dim=1, keepdim=True).shape == (2, 1), "mean(dim=1, keepdim=True) is (2, 1)"
assert x.max().item() == 6.0, "max should be 6"
assert x.max(dim=0).values.data.tolist() == [4.0, 5.0, 6.0], "max down each column"
assert x.sum(dim=0).dtype == np.float32, "reductions keep float32"
### BEGIN HIDDEN TESTS
assert x.max(dim=1, keepdim=True).values.data.tolist() == [[3.0], [6.0]]
assert x.sum(dim=(0, 1)).item() == 21.0
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Reshape, transpose and indexing
#
# These ops move no arithmetic at all — they change how memory is *read*.
#
# ```
#   reshape (2, 3) -> (3, 2): same 6 numbers, same order, new row length    (a view)
#   transpose (2, 3) -> (3, 2): rows become columns; numpy swaps the strides (a view)
#   x[0]      row 0, a view          x[:, 1]   column 1, a view
#   x[[0, 0]] fancy index: a copy    x[mask]   boolean mask: a copy
# ```
#
# `Tensor.reshape(*shape)` and `Tensor.transpose(dim0, dim1)` call the functions below; `x.T`
# reverses the order of all dimensions (for a matrix: rows become columns; `(2, 3, 4)` becomes
# `(4, 3, 2)`). The backward rules undo the move: a reshape is undone by reshaping back, a
# permutation of the axes by the inverse permutation, and indexing by scattering into zeros.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "shape_ops", "solution": true, "locked": false}
#| export
def reshape(a, shape: tuple) -> Tensor:
    """The same elements with a new shape; one entry may be -1 (op name "reshape").

    TODO: reshape the data and record the op (the rule reads the input's shape itself).
    APPROACH: ``record_op(a.data.reshape(shape), "reshape", (a,))``
    HINTS: a ValueError from numpy is already clear; let it through.
    """
    ### BEGIN SOLUTION
    a = as_tensor(a)
    return record_op(a.data.reshape(shape), "reshape", (a,))
    ### END SOLUTION


def permute(a, axes: tuple) -> Tensor:
    """Reorder all dimensions (op name "transpose", with ``axes`` saved)."""
    ### BEGIN SOLUTION
    a = as_tensor(a)
    axes = tuple(int(ax) % a.ndim for ax in axes)
    return record_op(np.transpose(a.data, axes), "transpose", (a,), axes=axes)
    ### END SOLUTION


def transpose(a, dim0: int = 0, dim1: int = 1) -> Tensor:
    """Swap two dimensions.

    TODO: build the permutation that swaps ``dim0`` and ``dim1`` and call ``permute``.
    EXAMPLE: transpose(zeros(2, 3, 4), 0, 2).shape == (4, 3, 2)
    HINTS: start from ``list(range(a.ndim))`` and swap two entries.
    """
    ### BEGIN SOLUTION
    a = as_tensor(a)
    axes = list(range(a.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return permute(a, tuple(axes))
    ### END SOLUTION


def getitem(a, index) -> Tensor:
    """``a[index]`` for ints, slices, lists, arrays and masks (op name "getitem").

    HINTS: an index may itself be a Tensor: use its ``.data``. Save ``index`` for the rule.
    """
    ### BEGIN SOLUTION
    a = as_tensor(a)
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return record_op(a.data[index], "getitem", (a,), index=index)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_shape_ops", "locked": true, "points": 10, "solution": false}
x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
assert x.reshape(3, 2).data.tolist() == [[0, 1], [2, 3], [4, 5]], "reshape keeps the order"
assert x.reshape(-1).shape == (6,), "-1 infers a dimension"
assert x.T.shape == (3, 2) and x.T.data.tolist() == [[0, 3], [1, 4], [2, 5]], "x.T swaps"
assert x.transpose(0, 1).data.tolist() == x.T.data.tolist()
y = Tensor(np.zeros((2, 3, 4), np.float32))
assert y.transpose(0, 2).shape == (4, 3, 2), "transpose(0, 2) of (2, 3, 4) is (4, 3, 2)"
assert x[1].data.tolist() == [3, 4, 5], "x[1] is the second row"
assert x[:, 1].data.tolist() == [1, 4], "x[:, 1] is the second column"
assert x[Tensor(np.array([1, 0]))].data.tolist() == [[3, 4, 5], [0, 1, 2]], "tensor index"
### BEGIN HIDDEN TESTS
assert x[np.arange(2), np.array([2, 0])].data.tolist() == [2.0, 3.0]
assert x[x > 2].data.tolist() == [3.0, 4.0, 5.0]
### END HIDDEN TESTS

# %% [markdown]
# ## 8. exp and log
#
# Softmax, sigmoid and cross-entropy are built from `exp` and `log`. Both are elementwise. `exp`
# saves its output: the derivative of `exp(x)` is `exp(x)` itself, so the backward rule can
# reuse it instead of computing it again.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "exp_log", "solution": true, "locked": false}
#| export
def exp(a) -> Tensor:
    """Elementwise e**a (op name "exp"; save ``out``).

    TODO: compute with ``np.exp`` and record the op with the output saved.
    EXAMPLE: exp(Tensor([0.0])).item() == 1.0
    """
    ### BEGIN SOLUTION
    a = as_tensor(a)
    out = np.exp(a.data)
    return record_op(out, "exp", (a,), out=out)
    ### END SOLUTION


def log(a) -> Tensor:
    """Elementwise natural logarithm (op name "log")."""
    ### BEGIN SOLUTION
    a = as_tensor(a)
    return record_op(np.log(a.data), "log", (a,))
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_exp_log", "locked": true, "points": 5, "solution": false}
v = Tensor([0.0, 1.0, 2.0])
assert np.allclose(v.exp().data, np.exp([0.0, 1.0, 2.0])), "exp is wrong"
assert np.allclose(v.exp().log().data, v.data, atol=1e-6), "log(exp(x)) should be x"
assert v.exp().dtype == np.float32, "exp keeps float32"
### BEGIN HIDDEN TESTS
assert np.allclose(log(Tensor([1.0, np.e])).data, [0.0, 1.0])
### END HIDDEN TESTS

# %% [markdown]
# ### More ops, given
#
# A PyTorch user reaches for these in the first hour, so they are given rather than set as
# exercises: each is a few lines in the pattern you now know (compute with numpy, then
# `record_op`). `clamp` limits values to a range, `where` picks elementwise between two
# tensors, `cat` joins tensors along an existing dimension and `stack` along a new one.
# `absolute` is `x.abs()`, `clone` is `x.clone()` (a copy that stays in the graph), and `cast`
# is what `x.float()`, `x.long()` and `x.to(dtype)` call. Module 05 gives each its backward
# rule. The class above also builds a few methods from ops you wrote: `x.unsqueeze(d)` and
# `x.squeeze(d)` are reshapes, `x.min()` is `-max(-x)`, `x.var()` and `x.std()` are means and
# powers, `x.sqrt()` is `x ** 0.5`, `x.masked_fill(mask, v)` is a `where`, and `x.add(y)`,
# `x.mm(w)` and the other method spellings of the operators call your functions; those need
# no rule of their own. Neither do PyTorch's picking and cutting methods: `x.gather(1, idx)`,
# `x.sort()` and `x.topk(k)` index with arrays (your `getitem`), `x.split(2)` and `x.chunk(4)`
# slice, `x.repeat(...)` is a `cat` and `x.expand(...)` an `add` that broadcasts, so gradients
# reach the right places through module 05's rules. Last come PyTorch's
# package-level spellings (`flatten(x, 1)`, `full`, `eye`, `randint`, `allclose`, `one_hot`,
# ...), each a line or two over what exists already, and its dtype names (`float32`, `long`).

# %%
#| export
def clamp(a, min=None, max=None) -> Tensor:
    """Limit every element to ``[min, max]`` (either bound may be None); op name "clamp"."""
    a = as_tensor(a)
    if min is None and max is None:
        raise ValueError("clamp: give min, max or both")
    out = np.clip(a.data, min, max)
    return record_op(out, "clamp", (a,), min=min, max=max)


def where(condition, a, b) -> Tensor:
    """Elementwise ``a`` where ``condition`` is true, else ``b`` (op name "where").

    Example: where(Tensor([1.0, -2.0]) > 0, Tensor([1.0, -2.0]), 0.0) is [1.0, 0.0]
    """
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    b = as_tensor(b, like=a)
    return record_op(np.where(cond.astype(bool, copy=False), a.data, b.data), "where", (a, b),
                     condition=cond)


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension ``dim`` (op name "cat")."""
    tensors = tuple(as_tensor(t) for t in tensors)
    if not tensors:
        raise ValueError("cat: needs at least one tensor")
    out = np.concatenate([t.data for t in tensors], axis=dim)
    return record_op(out, "cat", tensors, dim=dim, sizes=[t.shape[dim] for t in tensors])


def stack(tensors, dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension ``dim`` (op name "stack")."""
    tensors = tuple(as_tensor(t) for t in tensors)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    return record_op(np.stack([t.data for t in tensors], axis=dim), "stack", tensors, dim=dim)


def absolute(a) -> Tensor:
    """Elementwise ``|a|`` (op name "abs"); ``x.abs()`` calls this."""
    a = as_tensor(a)
    return record_op(np.abs(a.data), "abs", (a,))


def clone(a) -> Tensor:
    """A copy of ``a`` in memory of its own, still in the graph (op name "clone")."""
    a = as_tensor(a)
    return record_op(a.data.copy(), "clone", (a,))


def cast(a, dtype) -> Tensor:
    """``a`` converted to ``dtype`` (op name "cast"); ``a`` itself if it has that dtype already.

    Gradients flow through a cast between floating-point dtypes. A cast to integers or bool
    leaves the graph, as in PyTorch: such values have no gradient.

    Example: cast(Tensor([1.5, 2.5]), np.int64).data.tolist() == [1, 2]
    """
    a = as_tensor(a)
    dtype = np.dtype(dtype)
    if a.data.dtype == dtype:
        return a
    out = a.data.astype(dtype)
    if dtype.kind != "f":
        return Tensor(out)
    result = record_op(out, "cast", (a,))
    result.data = out   # record_op narrows float64 results of float32 inputs; a cast means it
    return result


def tensor_norm(x, p=2, dim=None, keepdim: bool = False) -> Tensor:
    """``x.norm(p, dim, keepdim)``: see ``Tensor.norm``."""
    x = as_tensor(x)
    if x.data.dtype.kind != "f":
        raise TypeError(f"norm needs a floating-point tensor, got dtype {x.dtype}; use "
                        f"x.float().norm()")
    if p == "fro":
        p = 2
    if isinstance(p, str) or not p > 0:
        raise ValueError(f"norm: p must be a positive number, 'fro' or float('inf'), got {p!r}")
    if p == float("inf"):
        largest = x.abs().max(dim=dim, keepdim=keepdim)
        return getattr(largest, "values", largest)
    if p == 1:
        return x.abs().sum(dim=dim, keepdim=keepdim)
    total = (x * x if p == 2 else x.abs() ** p).sum(dim=dim, keepdim=keepdim)
    # The root's slope is infinite at 0, and 0 * inf is nan. Take the root of 1 where the total
    # is 0 and return 0 there: the gradient at zero is then 0, as in PyTorch.
    nonzero = total > 0
    safe = where(nonzero, total, ones_like(total))
    return where(nonzero, safe ** (1.0 / p), zeros_like(total))


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor over ``array`` itself: same memory, same dtype (float64 stays float64)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy needs a numpy array, got {type(array).__name__}; "
                        f"use tensor(...) for Python lists and numbers")
    return Tensor(array)


# PyTorch spells these as functions of the package (torch.flatten(x, 1), torch.full(...)).
# sum, max, min and abs are not among them: as functions here they would hide Python's own
# builtins of those names; use the methods (x.sum(), x.max(), ...).
def flatten(a, start_dim: int = 0) -> Tensor:
    """``a.flatten(start_dim)``: every dimension from ``start_dim`` on merged into one."""
    return as_tensor(a).flatten(start_dim)


def unsqueeze(a, dim: int) -> Tensor:
    """``a.unsqueeze(dim)``: a new dimension of size 1 at ``dim``."""
    return as_tensor(a).unsqueeze(dim)


def squeeze(a, dim=None) -> Tensor:
    """``a.squeeze(dim)``: dimensions of size 1 dropped."""
    return as_tensor(a).squeeze(dim)


def argmax(a, dim=None, keepdim: bool = False) -> Tensor:
    """``a.argmax(dim)``: the index of the largest value (no gradient)."""
    return as_tensor(a).argmax(dim, keepdim)


def numel(a) -> int:
    """The number of elements of ``a``."""
    return as_tensor(a).numel()


def is_tensor(obj) -> bool:
    """Whether ``obj`` is a tinytorch Tensor."""
    return isinstance(obj, Tensor)


def allclose(a, b, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether ``|a - b| <= atol + rtol * |b|`` everywhere (PyTorch's default tolerances)."""
    return bool(np.allclose(as_tensor(a).data, as_tensor(b).data, rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


def equal(a, b) -> bool:
    """Whether ``a`` and ``b`` have the same shape and the same values."""
    return bool(np.array_equal(as_tensor(a).data, as_tensor(b).data))


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value``.

    The dtype follows the value, as in PyTorch: a float gives float32, an int int64, a bool
    bool. Example: full((2, 3), 7).data.dtype == np.int64
    """
    if dtype is None:
        dtype = Tensor(fill_value).data.dtype
    shape = (size,) if isinstance(size, int) else tuple(size)
    return Tensor(np.full(shape, fill_value, dtype=dtype), requires_grad=requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """Shaped like ``t``, filled with ``fill_value``, in ``t``'s dtype unless told otherwise."""
    return full(t.shape, fill_value, t.dtype if dtype is None else dtype, requires_grad)


def empty(*shape, requires_grad: bool = False, dtype=np.float32) -> Tensor:
    """A tensor whose values are whatever the memory held: fill it before reading it."""
    return Tensor(np.empty(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)


def eye(n: int, m=None, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """The ``n`` x ``m`` identity matrix (square when ``m`` is None)."""
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


def linspace(start, end, steps: int, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    return Tensor(np.linspace(start, end, steps, dtype=dtype), requires_grad=requires_grad)


def randint(low, high=None, size=None, *, seed=None, dtype=np.int64) -> Tensor:
    """Random integers in ``[low, high)``: ``randint(10, (3,))`` or ``randint(0, 10, (3,))``.

    Drawn from the generator ``manual_seed`` seeds (or from ``seed``).
    """
    if size is None:                          # randint(high, size), as PyTorch allows
        if high is None:
            raise TypeError("randint needs a size: randint(high, size) or "
                            "randint(low, high, size)")
        low, high, size = 0, low, high
    shape = (size,) if isinstance(size, int) else tuple(size)
    return Tensor(_rng(seed).integers(low, high, shape).astype(dtype, copy=False))


def randperm(n: int, *, seed=None) -> Tensor:
    """The integers 0 .. n-1 in random order (int64), from the seeded generator."""
    return Tensor(_rng(seed).permutation(n).astype(np.int64, copy=False))


def rand_like(t: Tensor, requires_grad: bool = False, seed=None) -> Tensor:
    """Uniform samples in [0, 1), shaped like ``t``, in its dtype."""
    return rand(*t.shape, requires_grad=requires_grad, seed=seed, dtype=t.dtype)


def randn_like(t: Tensor, requires_grad: bool = False, seed=None) -> Tensor:
    """Standard normal samples shaped like ``t``, in its dtype."""
    return randn(*t.shape, requires_grad=requires_grad, seed=seed, dtype=t.dtype)


def gather(a, dim: int, index) -> Tensor:
    """``a.gather(dim, index)``: the entries of ``a`` that ``index`` picks along ``dim``."""
    return as_tensor(a).gather(dim, index)


def sort(a, dim: int = -1, descending: bool = False):
    """``a.sort(dim)``: ``(values, indices)``."""
    return as_tensor(a).sort(dim, descending)


def topk(a, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """``a.topk(k, dim)``: ``(values, indices)`` of the ``k`` largest entries."""
    return as_tensor(a).topk(k, dim, largest, sorted)


def split(a, split_size_or_sections, dim: int = 0) -> tuple:
    """``a.split(...)``: a tuple of pieces along ``dim``."""
    return as_tensor(a).split(split_size_or_sections, dim)


def chunk(a, chunks: int, dim: int = 0) -> tuple:
    """``a.chunk(chunks, dim)``: at most ``chunks`` equal pieces."""
    return as_tensor(a).chunk(chunks, dim)


def one_hot(labels, num_classes: int = -1) -> Tensor:
    """Class labels as rows of 0s with one 1 (int64, one more dimension than ``labels``).

    With ``num_classes=-1`` the number of classes is the largest label + 1, as in PyTorch.
    Example: one_hot(Tensor([0, 2]), 3).tolist() == [[1, 0, 0], [0, 0, 1]]
    """
    idx = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    if not np.issubdtype(idx.dtype, np.integer):
        raise RuntimeError(f"one_hot: labels must be integers, got dtype {idx.dtype}; "
                           f"convert them with .long()")
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("one_hot: cannot infer the number of classes from no labels; "
                               "pass num_classes")
        num_classes = int(idx.max()) + 1
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise RuntimeError(f"one_hot: labels must be in [0, {num_classes - 1}], got values "
                           f"from {idx.min()} to {idx.max()}")
    return Tensor((idx[..., None] == np.arange(num_classes)).astype(np.int64))


# PyTorch's dtype names, so dtype=float32 or x.to(long) reads as in PyTorch code. float, int
# and bool are not among them: as names here they would hide Python's own (Python's bool works
# as a dtype as it is; Python's float means float64 to numpy, where PyTorch means float32).
float16 = half = np.float16
float32 = np.float32
float64 = double = np.float64
uint8 = np.uint8
int8 = np.int8
int16 = np.int16
int32 = np.int32
int64 = long = np.int64


# %%
z = Tensor([[-2.0, 0.5], [3.0, -0.1]])
print("clamp(z, -1, 1):", clamp(z, -1.0, 1.0).data.tolist())
print("where(z > 0, z, 0):", where(z > 0, z, 0.0).data.tolist())
print("cat rows:", cat([z, z], dim=0).shape, " stack:", stack([z, z], dim=0).shape)
print("unsqueeze(0):", z.unsqueeze(0).shape, " squeeze back:", z.unsqueeze(0).squeeze(0).shape)
print("abs:", z.abs().tolist(), " min per row:", z.min(dim=1).values.tolist())
print("(z > 0).float():", (z > 0).float().tolist(), " z.long():", z.long().tolist())
print(f"f-string of a 0-d tensor: {z.sum():.3f}")
print("topk(1) per row:", z.topk(1).values.tolist(), " sorted:", z.sort(dim=1).values.tolist())
print("split into rows:", [p.tolist() for p in z.split(1)], " repeat(1, 2):", z.repeat(1, 2).shape)

# %% [markdown]
# ## 9. The graph note, seen from outside
#
# You have been calling `record_op` all along. With an input that requires a gradient, each
# result now remembers where it came from; module 05 walks these notes backwards.

# %%
w = Tensor([[0.5, -1.0]], requires_grad=True)
xin = Tensor([[2.0], [3.0]])
score = (w @ xin).sum()
print("score:", score, "made by", score._node, "from", score._node.inputs[0]._node)
plain = Tensor([1.0]) + Tensor([2.0])
print("no input requires grad, so no note:", plain._node)

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_graph_recording", "locked": true, "points": 5, "solution": false}
w = Tensor([1.0, 2.0], requires_grad=True)
out = (w * 3.0).sum()
assert out.requires_grad, "a result of a tensor that requires grad requires grad too"
assert out._node is not None and out._node.op == "sum", "sum should record op 'sum'"
inner = out._node.inputs[0]
assert inner._node.op == "mul" and inner._node.inputs[0] is w, "mul should record its inputs"
assert (Tensor([1.0]) * 2.0)._node is None, "no input requires grad -> nothing recorded"
previous = set_grad_enabled(False)
try:
    assert (w * 2.0)._node is None, "with grad mode off nothing is recorded"
finally:
    set_grad_enabled(previous)
for made, keys in [(w.max(dim=0).values, {"dim", "keepdim", "out"}), (w.mean(), {"dim", "keepdim"}),
                   (w ** 2, {"out"}), (w.exp(), {"out"}), (w[0], {"index"}),
                   (w.reshape(2, 1).T, {"axes"})]:
    node = made._node
    assert keys <= set(node.saved), \
        f"{node.op} should save {sorted(keys)} for its backward rule, saved {sorted(node.saved)}"
### BEGIN HIDDEN TESTS
assert (w - 1.0)._node.op == "sub" and (w / 2.0)._node.op == "div"
assert w.reshape(2, 1)._node.op == "reshape" and w.exp()._node.saved["out"] is not None
assert (w @ Tensor([1.0, 1.0]))._node.op == "matmul"
assert (Tensor([[1.0, 2.0]]) @ w.reshape(2, 1))._node.inputs[1]._node.op == "reshape"
### END HIDDEN TESTS

# %% [markdown]
# ## 10. Systems: what does a tensor cost?
#
# Three measurements. Run them, and read the numbers before the explanation below.

# %%
import time

# (a) Memory: bytes per element by dtype, for one MNIST-sized batch of images.
batch = np.zeros((128, 784))
for dt in (np.float64, np.float32, np.float16):
    print(f"{np.dtype(dt).name:>8}: {batch.astype(dt).nbytes / 1024:8.1f} KiB for 128 x 784")

# (b) Views against copies: which ops share memory with their input?
base = Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
for label, t in [("reshape", base.reshape(4, 3)), ("transpose", base.T), ("x[1]", base[1]),
                 ("x[:, 1]", base[:, 1]), ("x[[0, 2]]", base[np.array([0, 2])]),
                 ("x + 0", base + 0)]:
    print(f"{label:>10}: shares memory with x = {np.shares_memory(t.data, base.data)}")


# (c) Time: a Python triple loop against numpy's matmul on small square matrices.
def loop_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n, k = a.shape
    m = b.shape[1]
    c = np.zeros((n, m), dtype=a.dtype)
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for p in range(k):
                acc += a[i, p] * b[p, j]
            c[i, j] = acc
    return c


rng = np.random.default_rng(0)
for n in (16, 32, 64):
    a_np = rng.standard_normal((n, n)).astype(np.float32)
    b_np = rng.standard_normal((n, n)).astype(np.float32)
    t0 = time.perf_counter()
    slow = loop_matmul(a_np, b_np)
    t_loop = time.perf_counter() - t0
    reps = 200
    t0 = time.perf_counter()
    for _ in range(reps):
        fast = (Tensor(a_np) @ Tensor(b_np)).data
    t_np = (time.perf_counter() - t0) / reps
    assert np.allclose(slow, fast, atol=1e-3)
    print(f"n={n:3d}: loops {t_loop * 1e3:8.2f} ms   tinytorch/numpy {t_np * 1e6:7.1f} us   "
          f"speed-up {t_loop / t_np:8.0f}x")

# One epoch of MNIST (60,000 images) through a 784-128-10 network: each layer does one matrix
# product forward and two backward. Priced at the per-multiply-add cost of the n=64 run above:
epoch_macs = 3 * 60_000 * (784 * 128 + 128 * 10)
print(f"one MNIST epoch, {epoch_macs / 1e9:.1f} billion multiply-adds: "
      f"loops about {epoch_macs * t_loop / n ** 3 / 3600:.1f} hours, "
      f"numpy about {epoch_macs * t_np / n ** 3:.1f} seconds")

# %% [markdown]
# **What the numbers say.**
#
# - float32 is half of float64 — for a network with millions of weights and a dataset of
#   millions of pixels, that halves memory *and* the bytes moved through the cache, which is
#   usually what limits speed. float16 halves it again, at a precision cost we will not pay here.
# - `reshape`, `transpose` and basic slicing return **views**: no data moves, they cost the same
#   for a 10-element and a 10-million-element tensor. Fancy indexing and arithmetic make copies.
#   A transposed view is not contiguous in memory, so a later op may copy it anyway.
# - The triple loop runs `n³` Python-level multiply-adds, each a few dozen bytecode
#   instructions. numpy hands the whole product to a BLAS library that uses SIMD registers and
#   cache blocking. The gap grows with `n` (the loop is `O(n³)` interpreted steps; the library
#   also does `O(n³)` work but many times faster per step). The last line prices one epoch of
#   MNIST training at the rates you just measured — and a training run takes several epochs.
#   numpy's time per multiply-add still falls as `n` grows (compare its three rows), so on the
#   real layer sizes it does even better. This is why every op in this course calls one numpy
#   function on whole arrays, and never loops over elements in Python.

# %% [markdown]
# ## 11. Module test
#
# One last check that the pieces work together: a tiny linear model's forward pass.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_module_tensor", "locked": true, "points": 10, "solution": false}
X = Tensor(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=np.float32))
W = Tensor(np.array([[0.5, -0.5], [1.0, 1.0]], dtype=np.float32), requires_grad=True)
bias = Tensor(np.array([0.1, 0.2], dtype=np.float32), requires_grad=True)
logits = X @ W.T + bias
assert logits.shape == (3, 2), f"(3, 2) @ (2, 2) + (2,) should be (3, 2), got {logits.shape}"
expected = X.data @ W.data.T + bias.data
assert np.allclose(logits.data, expected), "forward pass of the linear model is wrong"
loss = ((logits - 1.0) ** 2).mean()
assert loss.shape == () and loss.requires_grad and loss._node.op == "mean"
assert loss.dtype == np.float32, "the whole forward pass should stay float32"
print("Module 01 complete: Tensor works.")

# %% [markdown]
# ## Summary
#
# You built the `Tensor`: a float32 numpy array with the fields autograd needs, creation helpers,
# broadcasting arithmetic, a matmul whose errors name the shapes, reductions with `dim` and
# `keepdim`, views and copies, `exp` and `log`. Every op returns through `record_op`, so each
# result already knows the op and inputs that made it.
#
# You measured that dtype sets memory, that reshape and transpose are free views, and that one
# numpy call beats Python loops by orders of magnitude.
#
# **Next:** module 02 adds the activation functions — the nonlinearities without which a deep
# network would collapse into a single linear map. Run `tito module complete 01` to export your
# `Tensor` into the `tinytorch` package.
