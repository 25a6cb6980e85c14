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
# # Module 09 — Convolutions: im2col, pooling and a CNN
#
# An MLP treats a 28 x 28 digit as 784 unrelated numbers: shift the digit one pixel to the right
# and every input changes. A *convolution* slides one small filter over the whole image, so the
# same few weights look for the same stroke everywhere. That one idea — local, shared weights —
# is what took handwritten digit reading from 98% to above 99%, and it is the core of every
# image network since. In this module you write convolution twice, first as the loops of its
# definition and then as one matrix product, give both of its ops backward rules, and build the
# layers of a LeNet.
#
# ## Learning objectives
#
# - Compute the output size of a convolution from the input size, kernel, stride and padding.
# - Write a 2-D convolution (NCHW input, weight `(out, in, kh, kw)`) as plain loops, and
#   measure how slow that is.
# - Turn convolution into ONE matrix product with *im2col*: copy every receptive field into a
#   column, then multiply by the flattened filters; and undo it with *col2im* for the gradient.
# - Register backward rules for two new ops, `conv2d` and `max_pool2d`, through module 05's
#   public `backward_rule` decorator, and check them with `gradcheck`.
# - Build `Conv2d`, `MaxPool2d` and `Flatten` modules with PyTorch's default initialisation.
# - Measure what im2col costs in memory, and what it buys in time.
#
# ## Where this module fits
#
# ```
#  01 Tensor ─► 02 Activations ─► 03 Layers ─► 04 Losses ─► 05 Autograd ─► 06 Optimizers ─► 07 Data
#     │                              │                          │
#     │ record_op                    │ Module, Parameter        │ backward_rule("conv2d")
#     ▼                              ▼                          ▼
#  09 Convolutions:  conv2d, max_pool2d (ops)  +  Conv2d, MaxPool2d, Flatten (layers)
#                          │
#                          └──► milestone 04: LeNet reads MNIST at 99%
# ```
#
# Nothing here changes an earlier module. The forward ops record themselves with module 01's
# `record_op`; the backward rules join module 05's registry by name, exactly as `matmul` did.

# %%
#| default_exp core.spatial

# %%
#| export
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinytorch.core.autograd import backward_rule
from tinytorch.core.layers import Module, Parameter
from tinytorch.core.tensor import Tensor, as_tensor, default_generator, record_op

# %%
import time

from tinytorch.core.autograd import gradcheck, no_grad
from tinytorch.core.tensor import manual_seed


# %% [markdown]
# Two small helpers are given. `_pair` lets every function of this module accept
# `kernel_size=3` as well as `kernel_size=(3, 5)`, as PyTorch does, and refuses anything else in
# one line; `_check_images` insists on the 4-D NCHW layout.

# %%
#| export
def _pair(value, what: str, op: str, least: int = 1) -> tuple[int, int]:
    """``3 -> (3, 3)``, ``(3, 5) -> (3, 5)``; refuses anything else in one line."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{op}: {what} must be an int or a pair of ints, got {value!r}")
        pair = value
    else:
        pair = (value, value)
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least
           for v in pair):
        raise ValueError(f"{op}: {what} must be an int >= {least} or a pair of them, "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_images(x: np.ndarray, op: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{op}: the input must be 4-D (N, C, H, W), got shape {x.shape}; "
                         f"a single image needs a batch dimension: x.reshape(1, *x.shape)")


# %% [markdown]
# ## 1. What a convolution computes
#
# Images arrive as a 4-D array in **NCHW** order: `N` images in a batch, `C` channels each
# (1 for grey digits, 3 for colour), `H` rows and `W` columns. A convolution layer holds `O`
# filters, each a small `C x kh x kw` block of weights, so its weight has shape
# `(O, C, kh, kw)`. Every filter slides over the image; at each position it multiplies the
# patch under it element by element and sums — one number of the output:
#
# ```
#   input (1 channel, 5 x 5)        filter 3 x 3           output 3 x 3 (stride 1, no padding)
#   ┌───┬───┬───┬───┬───┐
#   │ 1 │ 2 │ 0 │ 1 │ 3 │          ┌───┬───┬───┐          ┌────┬────┬────┐
#   ├───┼───┼───┼───┼───┤          │ 1 │ 0 │-1 │          │ -3 │  . │  . │
#   │ 0 │ 1 │ 3 │ 2 │ 1 │    ⊛     ├───┼───┼───┤    =     ├────┼────┼────┤
#   ├───┼───┼───┼───┼───┤          │ 1 │ 0 │-1 │          │  . │  . │  . │
#   │ 2 │ 1 │ 4 │ 0 │ 2 │          ├───┼───┼───┤          ├────┼────┼────┤
#   ├───┼───┼───┼───┼───┤          │ 1 │ 0 │-1 │          │  . │  . │  . │
#   │ ...               │          └───┴───┴───┘          └────┴────┴────┘
#   top-left 3 x 3 patch · filter = (1 - 0) + (0 - 3) + (2 - 4) = -4   (then add the bias)
# ```
#
# (Deep learning's "convolution" does not flip the filter; mathematicians call this
# cross-correlation. Since the filter is learned, the flip would change nothing.)
#
# Two knobs change where the filter goes:
#
# - **stride** `s`: move the filter `s` pixels at a time; the output shrinks by about `s`.
# - **padding** `p`: surround the image with `p` rings of zeros first, so the filter can
#   centre on border pixels too. A 5 x 5 filter with `p = 2` and stride 1 keeps 28 x 28 at
#   28 x 28.
#
# Counting the positions along one axis gives the output size:
#
# ```
#   out = floor((size + 2 * padding - kernel) / stride) + 1
#
#   size 28, kernel 5, padding 2, stride 1:  (28 + 4 - 5) // 1 + 1 = 28
#   size 14, kernel 5, padding 0, stride 1:  (14 - 5) // 1 + 1     = 10
#   size  7, kernel 3, padding 1, stride 2:  (7 + 2 - 3) // 2 + 1  = 4
# ```
#
# Each output channel `o` at position `(i, j)` of image `n` is
# `out[n, o, i, j] = bias[o] + sum over c, a, b of xpad[n, c, i*s + a, j*s + b] * w[o, c, a, b]`.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "conv_output_size", "solution": true, "locked": false}
#| export
def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """How many positions a window of ``kernel`` takes along an axis of length ``size``.

    TODO: return ``(size + 2 * padding - kernel) // stride + 1``; refuse a kernel that does not
        fit.
    APPROACH:
        1. ``padded = size + 2 * padding``.
        2. If ``kernel > padded`` raise ValueError naming the kernel and the padded size.
        3. Return ``(padded - kernel) // stride + 1``.
    EXAMPLE:
        >>> conv_output_size(28, 5, padding=2), conv_output_size(7, 3, stride=2, padding=1)
        (28, 4)
    HINTS: ``//`` rounds down, as the formula wants: a window that would run off the edge is
        not counted.
    """
    ### BEGIN SOLUTION
    padded = size + 2 * padding
    if kernel > padded:
        raise ValueError(f"a kernel of {kernel} does not fit in {size} + 2 * {padding} = "
                         f"{padded} pixels: use a smaller kernel or more padding")
    return (padded - kernel) // stride + 1
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_conv_output_size", "locked": true, "points": 5, "solution": false}
assert conv_output_size(28, 5, 1, 2) == 28, "5 x 5 with padding 2 keeps 28"
assert conv_output_size(14, 5) == 10, "no padding: 14 - 5 + 1"
assert conv_output_size(7, 3, stride=2, padding=1) == 4, "(7 + 2 - 3) // 2 + 1"
assert conv_output_size(28, 2, stride=2) == 14, "a 2 x 2 pool halves the size"
try:
    conv_output_size(3, 5)
    raise AssertionError("a kernel larger than the padded input must raise ValueError")
except ValueError as err:
    assert "5" in str(err), f"name the kernel: {err}"
### BEGIN HIDDEN TESTS
assert conv_output_size(5, 5) == 1
assert conv_output_size(8, 3, stride=3) == 2
assert conv_output_size(3, 5, padding=1) == 1
### END HIDDEN TESTS

# %% [markdown]
# ### The definition, as loops
#
# Write the formula exactly as it reads: pad, then one loop per output index. This version is
# the *reference*: easy to check by eye, and the yardstick for the fast one. It works on numpy
# arrays (no Tensors, no graph).
#
# ```
#   for n in images:                 N
#     for o in filters:              O
#       for i in output rows:        Ho
#         for j in output columns:   Wo
#           patch = xpad[n, :, i*s : i*s + kh, j*s : j*s + kw]     (C, kh, kw)
#           out[n, o, i, j] = sum(patch * w[o]) + bias[o]
# ```

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "conv2d_naive", "solution": true, "locked": false}
#| export
def conv2d_naive(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                 stride=1, padding=0) -> np.ndarray:
    """2-D convolution of NCHW images with ``weight`` ``(O, C, kh, kw)``, written as loops.

    TODO: pad, then compute every output element with the formula above.
    APPROACH:
        1. ``sh, sw = _pair(stride, "stride", "conv2d_naive")``; ``ph, pw`` likewise for
           ``padding`` with ``least=0``.
        2. ``xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))``.
        3. ``Ho = conv_output_size(H, kh, sh, ph)``, ``Wo`` likewise;
           ``out = np.zeros((N, O, Ho, Wo), dtype=x.dtype)``.
        4. Four nested loops over ``n, o, i, j``: slice the patch, multiply by ``weight[o]``,
           sum, add ``bias[o]`` when there is a bias.
    EXAMPLE:
        >>> x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
        >>> conv2d_naive(x, np.ones((1, 1, 2, 2))).tolist()[0][0][0]
        [10.0, 14.0, 18.0]
    HINTS: ``np.sum(patch * weight[o])`` sums over all three axes of the patch.
    """
    ### BEGIN SOLUTION
    sh, sw = _pair(stride, "stride", "conv2d_naive")
    ph, pw = _pair(padding, "padding", "conv2d_naive", least=0)
    n_img, _, h, w = x.shape
    n_out, _, kh, kw = weight.shape
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    out = np.zeros((n_img, n_out, ho, wo), dtype=x.dtype)
    for n in range(n_img):
        for o in range(n_out):
            for i in range(ho):
                for j in range(wo):
                    patch = xpad[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, o, i, j] = np.sum(patch * weight[o])
                    if bias is not None:
                        out[n, o, i, j] += bias[o]
    return out
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_conv2d_naive", "locked": true, "points": 10, "solution": false}
x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
out = conv2d_naive(x, np.ones((1, 1, 2, 2)))
assert out.shape == (1, 1, 3, 3), f"4 x 4 with a 2 x 2 kernel gives 3 x 3, got {out.shape}"
assert out[0, 0, 0].tolist() == [10.0, 14.0, 18.0], f"first row of sums: {out[0, 0, 0]}"
edge = np.array([[[[1.0, 0.0, -1.0]] * 3]])                # (1, 1, 3, 3) vertical edge finder
img = np.array([[[[1, 2, 0, 1, 3], [0, 1, 3, 2, 1], [2, 1, 4, 0, 2], [1, 0, 1, 2, 1],
                  [0, 2, 1, 1, 0]]]], dtype=np.float64)
got = conv2d_naive(img, edge, bias=np.array([0.5]))
assert got[0, 0, 0, 0] == -3.5, f"the diagram's top-left value is -4, plus bias 0.5: {got[0, 0]}"
padded = conv2d_naive(x, np.ones((2, 1, 3, 3)), stride=2, padding=1)
assert padded.shape == (1, 2, 2, 2), f"stride 2, padding 1: shape (1, 2, 2, 2), got {padded.shape}"
assert padded[0, 0, 0, 0] == 0 + 1 + 4 + 5, "padding adds zeros around the image"
### BEGIN HIDDEN TESTS
rect = conv2d_naive(np.ones((2, 3, 5, 6)), np.ones((4, 3, 2, 3)), stride=(1, 2))
assert rect.shape == (2, 4, 4, 2) and np.all(rect == 18)
assert conv2d_naive(x.astype(np.float32), np.ones((1, 1, 2, 2), np.float32)).dtype == np.float32
### END HIDDEN TESTS

# %% [markdown]
# ### How slow are the loops?
#
# A LeNet-sized convolution reads 16 channels of 14 x 14 and writes 32 channels of 10 x 10
# with 5 x 5 filters. Time the loop version on a batch of 8 such images — a real batch has 128.

# %%
rng = np.random.default_rng(0)
x_small = rng.standard_normal((8, 16, 14, 14)).astype(np.float32)
w_small = rng.standard_normal((32, 16, 5, 5)).astype(np.float32)
t0 = time.perf_counter()
slow_out = conv2d_naive(x_small, w_small)
naive_s = time.perf_counter() - t0
print(f"naive conv2d, batch 8: {naive_s * 1e3:.0f} ms -> a batch of 128 would take about "
      f"{naive_s * 16:.1f} s, and an epoch of MNIST (469 batches) about "
      f"{naive_s * 16 * 469 / 60:.0f} minutes for this one layer's forward pass")

# %% [markdown]
# The arithmetic is not the problem: `8 x 32 x 10 x 10` outputs, each a dot product of 400
# numbers, is 10 million multiply-adds — a few milliseconds for a CPU. The time goes to
# 25,600 trips through the Python interpreter, each slicing a patch and calling numpy for a
# tiny amount of work. The cure, as in every module so far: give numpy (and the BLAS library
# under it) one big operation instead of many small ones.

# %% [markdown]
# ## 2. im2col: convolution as one matrix product
#
# Look at what the inner loop does: it takes a patch of `C x kh x kw` numbers and dots it
# with a filter of the same shape. If every patch were laid out as a *column* of one big matrix,
# and every filter as a *row* of another, all those dot products would be a single matrix
# product:
#
# ```
#      weight matrix W2              cols = im2col(x)                     out2
#      (O, C*kh*kw)                  (C*kh*kw, N*Ho*Wo)                   (O, N*Ho*Wo)
#   ┌──────────────────┐      ┌────┬────┬────┬─────┬────┐        ┌────┬────┬─────┬────┐
#   │ filter 0 (flat)  │      │ p  │ p  │ p  │     │ p  │        │    │    │     │    │
#   │ filter 1 (flat)  │  @   │ a  │ a  │ a  │ ... │ a  │   =    │ one number per │    │
#   │ ...              │      │ t  │ t  │ t  │     │ t  │        │ (filter, patch) │    │
#   │ filter O-1       │      │ 0  │ 1  │ 2  │     │ N*Ho*Wo-1 │   │    │    │     │    │
#   └──────────────────┘      └────┴────┴────┴─────┴────┘        └────┴────┴─────┴────┘
#                                                          reshape (O, N, Ho, Wo) -> NCHW
# ```
#
# Rows of `cols` are ordered `(c, a, b)` — channel, then kernel row, then kernel column — the
# same order in which `weight.reshape(O, -1)` lays out a filter. Columns are ordered
# `(n, i, j)`: image, output row, output column.
#
# **Building `cols` without loops.** `numpy.lib.stride_tricks.sliding_window_view(a,
# (kh, kw), axis=(2, 3))` returns a *view* of shape `(..., H - kh + 1, W - kw + 1, kh, kw)`:
# every window, without copying a byte (it only changes the strides numpy uses to walk memory).
# Slicing that view with `[:, :, ::sh, ::sw]` keeps the windows a stride visits. One
# `transpose` puts the axes in the order we want, and `reshape` finally copies everything
# into the matrix:
#
# ```
#   x (N, C, H, W) ──transpose──► (C, N, H, W) ──pad──► (C, N, Hp, Wp)
#        ──sliding_window_view──► (C, N, Hp-kh+1, Wp-kw+1, kh, kw)     a view: 0 bytes
#        ──[:, :, ::sh, ::sw]───► (C, N, Ho, Wo, kh, kw)                still a view
#        ──transpose(0,4,5,1,2,3)► (C, kh, kw, N, Ho, Wo)               still a view
#        ──reshape─────────────► (C*kh*kw, N*Ho*Wo)                     THE copy
# ```
#
# Putting `C` first before padding makes the matrix product's output come out as
# `(O, N, Ho, Wo)` and lets the backward pass use the same layout; section 7 measures what the
# copy costs.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "im2col", "solution": true, "locked": false}
#| export
def im2col(x: np.ndarray, kernel_size, stride=1, padding=0) -> np.ndarray:
    """Every receptive field of the NCHW images ``x`` as one column of a matrix.

    Returns ``cols`` of shape ``(C * kh * kw, N * Ho * Wo)``: rows ordered (channel, kernel
    row, kernel column), columns ordered (image, output row, output column).

    TODO: pad, take the sliding windows as a view, reorder the axes, copy once.
    APPROACH:
        1. ``kh, kw = _pair(kernel_size, "kernel_size", "im2col")``; stride and padding
           likewise (padding with ``least=0``). ``Ho, Wo`` from ``conv_output_size``.
        2. ``xc = x.transpose(1, 0, 2, 3)`` (C, N, H, W). With padding, make
           ``np.zeros((C, N, H + 2*ph, W + 2*pw), x.dtype)`` and copy ``xc`` into its middle.
        3. ``win = sliding_window_view(xc, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]``.
        4. ``win.transpose(0, 4, 5, 1, 2, 3).reshape(C * kh * kw, N * Ho * Wo)``.
    EXAMPLE:
        >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
        >>> im2col(x, 2)
        array([[0., 1., 3., 4.],
               [1., 2., 4., 5.],
               [3., 4., 6., 7.],
               [4., 5., 7., 8.]])
    HINTS:
        - Column ``k`` of the EXAMPLE is the ``k``-th 2 x 2 patch, read row by row.
        - ``sliding_window_view`` ignores the stride; slicing its window-position axes with a
          step applies it.
    """
    ### BEGIN SOLUTION
    kh, kw = _pair(kernel_size, "kernel_size", "im2col")
    sh, sw = _pair(stride, "stride", "im2col")
    ph, pw = _pair(padding, "padding", "im2col", least=0)
    n, c, h, w = x.shape
    ho, wo = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    xc = x.transpose(1, 0, 2, 3)
    if ph or pw:
        padded = np.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
        padded[:, :, ph:ph + h, pw:pw + w] = xc
        xc = padded
    win = sliding_window_view(xc, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return win.transpose(0, 4, 5, 1, 2, 3).reshape(c * kh * kw, n * ho * wo)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_im2col", "locked": true, "points": 10, "solution": false}
x = np.arange(9.0).reshape(1, 1, 3, 3)
cols = im2col(x, 2)
assert cols.shape == (4, 4), f"4 patches of 4 numbers: (4, 4), got {cols.shape}"
assert cols[:, 0].tolist() == [0, 1, 3, 4] and cols[:, 3].tolist() == [4, 5, 7, 8], cols
two = np.stack([x[0], 10 * x[0]])                            # (2, 1, 3, 3): columns per image
assert im2col(two, 2)[:, 4].tolist() == [0, 10, 30, 40], "columns run image by image"
rgbish = np.arange(2 * 2 * 4 * 4, dtype=np.float32).reshape(2, 2, 4, 4)
c2 = im2col(rgbish, (2, 3), stride=(2, 1), padding=1)
assert c2.shape == (2 * 2 * 3, 2 * 3 * 4), f"rows C*kh*kw, columns N*Ho*Wo: got {c2.shape}"
assert c2.dtype == np.float32, "im2col keeps the dtype"
w_rand = np.random.default_rng(1).standard_normal((3, 2, 2, 3)).astype(np.float32)
via_cols = (w_rand.reshape(3, -1) @ c2).reshape(3, 2, 3, 4).transpose(1, 0, 2, 3)
assert np.allclose(via_cols, conv2d_naive(rgbish, w_rand, stride=(2, 1), padding=1),
                   atol=1e-3), "W2 @ im2col(x) must equal the loop convolution"
### BEGIN HIDDEN TESTS
big = np.random.default_rng(2).standard_normal((3, 4, 9, 7))
wb = np.random.default_rng(3).standard_normal((5, 4, 3, 2))
got = (wb.reshape(5, -1) @ im2col(big, (3, 2), 2, (1, 0))).reshape(5, 3, 5, 3)
assert np.allclose(got.transpose(1, 0, 2, 3), conv2d_naive(big, wb, None, 2, (1, 0)))
### END HIDDEN TESTS

# %% [markdown]
# ## 3. The `conv2d` op
#
# With `im2col` the forward pass is three lines: make the columns, multiply, reshape. To take
# part in autograd it must also *record itself*: `record_op(out, "conv2d", inputs, **saved)`
# returns the Tensor and, when a gradient is wanted, notes the op's name, its inputs and what
# the backward rule will need. The rule needs the columns again (for the weight's gradient), so
# we save them: they are already made, and keeping them costs memory rather than time.
#
# ```
#   conv2d(x, weight, bias, stride, padding)
#     checks: x 4-D; weight 4-D; channels agree; bias (O,)
#     cols  = im2col(x.data, (kh, kw), stride, padding)            (C*kh*kw, N*Ho*Wo)
#     out2  = weight.data.reshape(O, -1) @ cols  (+ bias[:, None])   (O, N*Ho*Wo)
#     out   = out2.reshape(O, N, Ho, Wo).transpose(1, 0, 2, 3)       (N, O, Ho, Wo), contiguous
#     record_op(out, "conv2d", (x, weight[, bias]), cols=cols, stride=..., padding=...)
# ```
#
# Errors name the op and the shapes, so `conv2d: input (8, 3, 28, 28) has 3 channels but weight
# (6, 1, 5, 5) expects 1` tells the user which layer to fix.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "conv2d", "solution": true, "locked": false}
#| export
def conv2d(x, weight, bias=None, stride=1, padding=0) -> Tensor:
    """2-D convolution of NCHW ``x`` with ``weight`` ``(O, C, kh, kw)``, recorded as "conv2d".

    TODO: check the shapes, compute with ``im2col`` and one matrix product, record the op.
    APPROACH:
        1. ``x, weight = as_tensor(x), as_tensor(weight)``; ``_check_images(x.data,
           "conv2d")``. The weight must be 4-D and ``weight.shape[1]`` must equal the input's
           channels; a bias must have shape ``(O,)``. Raise ValueError naming both shapes.
        2. Normalise ``stride`` and ``padding`` with ``_pair`` (padding ``least=0``).
        3. ``cols = im2col(x.data, (kh, kw), stride, padding)``;
           ``out = weight.data.reshape(O, -1) @ cols``; add ``bias.data[:, None]`` if any.
        4. ``out = np.ascontiguousarray(out.reshape(O, N, Ho, Wo).transpose(1, 0, 2, 3))``.
        5. ``record_op(out, "conv2d", inputs, cols=cols, stride=(sh, sw), padding=(ph, pw))``
           where ``inputs`` is ``(x, weight)`` or ``(x, weight, bias)``.
    EXAMPLE:
        >>> conv2d(Tensor(np.ones((2, 3, 8, 8))), Tensor(np.ones((4, 3, 3, 3)))).shape
        (2, 4, 6, 6)
    HINTS:
        - A kernel larger than the padded image: ``conv_output_size`` already raises; call it
          before ``im2col`` and add "conv2d: " and the shapes to its message.
        - The output must be contiguous: the next layer's sliding windows read it many times.
    """
    ### BEGIN SOLUTION
    x, weight = as_tensor(x), as_tensor(weight)
    _check_images(x.data, "conv2d")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: the weight must be 4-D (out_channels, in_channels, kh, kw), "
                         f"got shape {weight.shape}")
    n, c, h, w = x.shape
    o, c_w, kh, kw = weight.shape
    if c != c_w:
        raise ValueError(f"conv2d: input {x.shape} has {c} channels but weight {weight.shape} "
                         f"expects {c_w}")
    if bias is not None:
        bias = as_tensor(bias)
        if bias.shape != (o,):
            raise ValueError(f"conv2d: bias {bias.shape} does not fit weight {weight.shape}: "
                             f"expected a bias of shape ({o},)")
    sh, sw = _pair(stride, "stride", "conv2d")
    ph, pw = _pair(padding, "padding", "conv2d", least=0)
    try:
        ho, wo = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    except ValueError as err:
        raise ValueError(f"conv2d: input {x.shape}, weight {weight.shape}: {err}") from None
    cols = im2col(x.data, (kh, kw), (sh, sw), (ph, pw))
    out = weight.data.reshape(o, -1) @ cols
    if bias is not None:
        out += bias.data[:, None]
    out = np.ascontiguousarray(out.reshape(o, n, ho, wo).transpose(1, 0, 2, 3))
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return record_op(out, "conv2d", inputs, cols=cols, stride=(sh, sw), padding=(ph, pw))
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_conv2d", "locked": true, "points": 10, "solution": false}
rng = np.random.default_rng(0)
x_np = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
w_np = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
b_np = rng.standard_normal(4).astype(np.float32)
for s, p in [(1, 0), (2, 1), ((1, 2), (2, 0))]:
    out = conv2d(Tensor(x_np), Tensor(w_np), Tensor(b_np), stride=s, padding=p)
    ref = conv2d_naive(x_np, w_np, b_np, stride=s, padding=p)
    assert isinstance(out, Tensor) and out.shape == ref.shape, f"shape {out.shape} vs {ref.shape}"
    assert np.allclose(out.data, ref, atol=1e-4), f"stride {s}, padding {p}: values differ"
    assert out.dtype == np.float32 and out.data.flags.c_contiguous, "float32, contiguous NCHW"
w_t = Tensor(w_np, requires_grad=True)
y = conv2d(Tensor(x_np), w_t)
assert y.requires_grad and y._node.op == "conv2d", "conv2d must record itself as 'conv2d'"
assert "cols" in y._node.saved, "save the columns for the backward rule"
try:
    conv2d(Tensor(x_np), Tensor(np.ones((4, 2, 3, 3), np.float32)))
    raise AssertionError("3 input channels with a weight for 2 must raise ValueError")
except ValueError as err:
    assert "conv2d" in str(err) and "(2, 3, 7, 6)" in str(err), f"name op and shapes: {err}"
### BEGIN HIDDEN TESTS
for bad in (np.ones((3, 7, 6), np.float32),):
    try:
        conv2d(Tensor(bad), Tensor(w_np))
        raise AssertionError("3-D input must raise")
    except ValueError as err:
        assert "4-D" in str(err)
try:
    conv2d(Tensor(x_np), Tensor(w_np), Tensor(np.ones(3, np.float32)))
    raise AssertionError("wrong bias must raise")
except ValueError as err:
    assert "bias" in str(err)
with no_grad():
    assert conv2d(Tensor(x_np), w_t)._node is None
### END HIDDEN TESTS

# %% [markdown]
# ## 4. The backward pass of `conv2d`
#
# In matrix form the forward pass is `out2 = W2 @ cols (+ b)`, a plain matrix product, so
# module 05's matmul rule tells us two of the three gradients at once. Let `g2` be the
# incoming gradient `(N, O, Ho, Wo)` rearranged like `out2`, as `(O, N*Ho*Wo)`:
#
# ```
#   grad W2   = g2 @ cols.T          (O, N*Ho*Wo) @ (N*Ho*Wo, C*kh*kw)  -> reshape (O, C, kh, kw)
#   grad b    = g2.sum(axis=1)       every output position used the same bias
#   grad cols = W2.T @ g2            (C*kh*kw, O) @ (O, N*Ho*Wo)          -> ... -> grad x ?
# ```
#
# The last line gives the gradient of the *columns*. But a pixel of `x` was copied into several
# columns — once for every window that covered it — so its gradient is the **sum** of the
# gradients of all its copies. That is `col2im`: the adjoint of `im2col`, which scatters every
# column entry back to the pixel it came from and adds.
#
# ```
#   im2col (copy out)                           col2im (add back)
#   x[0,0,1,1] ──► cols[(0,0,1),(0,0,0)]        grad x[0,0,1,1] = gcols[(0,0,1),(0,0,0)]
#             ├──► cols[(0,0,0),(0,0,1)]                        + gcols[(0,0,0),(0,0,1)]
#             ├──► cols[(0,1,1),(0,1,0)]                        + gcols[(0,1,1),(0,1,0)]
#             └──► cols[(0,1,0),(0,1,1)]                        + gcols[(0,1,0),(0,1,1)]
# ```
#
# The loop that does it is short: the kernel offset `(a, b)` of every column entry tells where
# its pixels sit — the whole `(N, Ho, Wo)` block for one `(c, a, b)` row lands on the strided
# slice `[a : a + sh*Ho : sh, b : b + sw*Wo : sw]` of the padded image. So `kh * kw` strided
# additions (25 for a 5 x 5 kernel), each over a whole batch, do the scatter; then we cut the
# padding off.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "col2im", "solution": true, "locked": false}
#| export
def col2im(cols: np.ndarray, x_shape: tuple, kernel_size, stride=1, padding=0) -> np.ndarray:
    """Add every entry of ``cols`` back onto the pixel of ``x`` it was copied from.

    The adjoint of ``im2col``: ``cols`` is ``(C*kh*kw, N*Ho*Wo)``; the result is ``x_shape``
    ``(N, C, H, W)``, in ``cols``'s dtype.

    TODO: reshape the columns, accumulate them kernel offset by kernel offset, crop the padding.
    APPROACH:
        1. Pairs ``kh, kw``, ``sh, sw``, ``ph, pw`` and ``Ho, Wo`` as in ``im2col``.
        2. ``blocks = cols.reshape(C, kh, kw, N, Ho, Wo)``.
        3. ``padded = np.zeros((C, N, H + 2*ph, W + 2*pw), cols.dtype)``.
        4. For every ``a`` in ``range(kh)`` and ``b`` in ``range(kw)``:
           ``padded[:, :, a:a + sh*Ho:sh, b:b + sw*Wo:sw] += blocks[:, a, b]``.
        5. Crop ``[:, :, ph:ph + H, pw:pw + W]``, transpose back to ``(N, C, H, W)`` and return
           it contiguous (``np.ascontiguousarray``).
    EXAMPLE:
        >>> col2im(np.ones((4, 4)), (1, 1, 3, 3), 2)[0, 0]    # how many windows cover each pixel
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]])
    HINTS: ``+=`` (not ``=``): windows overlap when the stride is smaller than the kernel.
    """
    ### BEGIN SOLUTION
    kh, kw = _pair(kernel_size, "kernel_size", "col2im")
    sh, sw = _pair(stride, "stride", "col2im")
    ph, pw = _pair(padding, "padding", "col2im", least=0)
    n, c, h, w = x_shape
    ho, wo = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    blocks = cols.reshape(c, kh, kw, n, ho, wo)
    padded = np.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for a in range(kh):
        for b in range(kw):
            padded[:, :, a:a + sh * ho:sh, b:b + sw * wo:sw] += blocks[:, a, b]
    return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3))
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_col2im", "locked": true, "points": 5, "solution": false}
cover = col2im(np.ones((4, 4)), (1, 1, 3, 3), 2)
assert cover.shape == (1, 1, 3, 3), f"back to the input's shape, got {cover.shape}"
assert cover[0, 0].tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]], f"overlaps add up: {cover}"
rng = np.random.default_rng(4)
xs = rng.standard_normal((2, 3, 6, 5))
cs = rng.standard_normal(im2col(xs, (3, 2), (2, 1), (1, 1)).shape)
lhs = np.sum(im2col(xs, (3, 2), (2, 1), (1, 1)) * cs)
rhs = np.sum(xs * col2im(cs, xs.shape, (3, 2), (2, 1), (1, 1)))
assert np.isclose(lhs, rhs), f"col2im must be im2col's adjoint: <im2col x, c> = <x, col2im c>"
### BEGIN HIDDEN TESTS
assert col2im(np.ones((4, 4), np.float32), (1, 1, 3, 3), 2).dtype == np.float32
assert col2im(np.ones((9, 4)), (1, 1, 4, 4), 3, stride=3, padding=1).sum() == 16  # pads cut
### END HIDDEN TESTS

# %% [markdown]
# Now the rule itself. It reads the columns the forward pass saved and computes only the
# gradients someone needs: the first layer of a network sees images that never need a
# gradient (`node.needs[0]` is False), and skipping the input's product and `col2im` there
# saves work whose result nobody would read.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "conv2d_backward", "solution": true, "locked": false}
#| export
@backward_rule("conv2d")
def conv2d_backward(grad: np.ndarray, node) -> tuple:
    """Gradients of ``conv2d`` for ``(x, weight)`` or ``(x, weight, bias)``.

    TODO: the three formulas above, each computed only when ``node.needs[i]`` is True.
    APPROACH:
        1. ``x, weight = node.inputs[0], node.inputs[1]``; ``cols = node.saved["cols"]``;
           ``O = weight.shape[0]``.
        2. ``g2 = np.ascontiguousarray(grad.transpose(1, 0, 2, 3)).reshape(O, -1)``.
        3. ``grad_x = col2im(weight.data.reshape(O, -1).T @ g2, x.shape, weight.shape[2:],
           node.saved["stride"], node.saved["padding"])`` if ``node.needs[0]``.
        4. ``grad_w = (g2 @ cols.T).reshape(weight.shape)`` if ``node.needs[1]``.
        5. With a bias (three inputs): ``grad_b = g2.sum(axis=1)`` if ``node.needs[2]``.
        6. Return a tuple with one entry per input (``None`` where not needed).
    EXAMPLE: x (2, 3, 8, 8), weight (4, 3, 3, 3), grad (2, 4, 6, 6) -> shapes (2, 3, 8, 8),
        (4, 3, 3, 3), (4,)
    HINTS: ``cols.T`` is a view; BLAS reads a transposed operand without copying it.
    """
    ### BEGIN SOLUTION
    x, weight = node.inputs[0], node.inputs[1]
    cols = node.saved["cols"]
    o = weight.shape[0]
    g2 = np.ascontiguousarray(grad.transpose(1, 0, 2, 3)).reshape(o, -1)
    grad_x = grad_w = grad_b = None
    if node.needs[0]:
        grad_x = col2im(weight.data.reshape(o, -1).T @ g2, x.shape, weight.shape[2:],
                        node.saved["stride"], node.saved["padding"])
    if node.needs[1]:
        grad_w = (g2 @ cols.T).reshape(weight.shape)
    if len(node.inputs) == 2:
        return (grad_x, grad_w)
    if node.needs[2]:
        grad_b = g2.sum(axis=1)
    return (grad_x, grad_w, grad_b)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_conv2d_backward", "locked": true, "points": 15, "solution": false}
rng = np.random.default_rng(5)
for s, p, k in [(1, 0, (3, 3)), (2, 1, (3, 2)), ((1, 2), (0, 1), (2, 3))]:
    xg = Tensor(rng.standard_normal((2, 2, 5, 6)), dtype=np.float64, requires_grad=True)
    wg = Tensor(rng.standard_normal((3, 2, *k)), dtype=np.float64, requires_grad=True)
    bg = Tensor(rng.standard_normal(3), dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda a, b, c: conv2d(a, b, c, stride=s, padding=p), [xg, wg, bg]), \
        f"conv2d gradients are wrong for stride {s}, padding {p}, kernel {k}"
frozen = Tensor(rng.standard_normal((3, 2, 3, 3)), dtype=np.float64)
xg = Tensor(rng.standard_normal((1, 2, 4, 4)), dtype=np.float64, requires_grad=True)
assert gradcheck(lambda a: conv2d(a, frozen, padding=1), [xg]), "input gradient alone"
image = Tensor(rng.standard_normal((2, 2, 4, 4)).astype(np.float32))
wl = Tensor(rng.standard_normal((3, 2, 3, 3)).astype(np.float32), requires_grad=True)
conv2d(image, wl).sum().backward()
assert image.grad is None and wl.grad.shape == (3, 2, 3, 3), "only the weight needed a gradient"
### BEGIN HIDDEN TESTS
xg = Tensor(rng.standard_normal((3, 1, 7, 5)), dtype=np.float64, requires_grad=True)
wg = Tensor(rng.standard_normal((2, 1, 3, 3)), dtype=np.float64, requires_grad=True)
assert gradcheck(lambda a, b: conv2d(a, b, stride=3, padding=2), [xg, wg])
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Max pooling
#
# After a convolution finds strokes, *pooling* shrinks the map: each `k x k` window is replaced
# by its largest value. The network becomes cheaper (a 2 x 2 pool quarters the next layer's
# work) and less sensitive to exactly where a stroke sits.
#
# ```
#   input 4 x 4 (one channel)        max_pool2d(k=2)         which entry won (argmax)
#   ┌───┬───┬───┬───┐
#   │ 1 │ 3 │ 2 │ 0 │                  ┌───┬───┐              ┌───┬───┐
#   ├───┼───┼───┼───┤                  │ 5 │ 2 │              │ 2 │ 0 │   offsets in the window,
#   │ 5 │ 0 │ 1 │ 1 │        ──►       ├───┼───┤              ├───┼───┤   read row by row:
#   ├───┼───┼───┼───┤                  │ 4 │ 8 │              │ 1 │ 3 │   0 1
#   │ 2 │ 4 │ 6 │ 0 │                  └───┴───┘              └───┴───┘   2 3
#   ├───┼───┼───┼───┤
#   │ 0 │ 1 │ 7 │ 8 │        backward: each window's gradient goes to its winner only
#   └───┴───┴───┴───┘
# ```
#
# The backward rule needs to know which entry won, so the forward pass saves that index (the
# *argmax*). When two entries tie, the first one in reading order wins, as in PyTorch.
#
# **Vectorising.** Instead of looping over windows, loop over the `kh * kw` *offsets* inside a
# window (4 for a 2 x 2 pool). For the offset `(a, b)`, the entries it contributes to every
# window at once are the strided slice `x[:, :, a : a + sh*Ho : sh, b : b + sw*Wo : sw]`, of
# shape `(N, C, Ho, Wo)`. Keep a running maximum and the offset where it was found:
#
# ```
#   best = copy of the slice at offset 0;  argmax = 0
#   for offset k = 1 .. kh*kw - 1:
#       cand   = slice at offset k
#       better = cand > best                  (strictly: ties keep the earlier offset)
#       best   = maximum(best, cand)
#       argmax = maximum(argmax, better * k)  (k grows, so the last improvement wins)
# ```
#
# The last line is a boolean mask times a number, then an elementwise maximum: two fast
# sweeps. The more obvious `argmax[better] = k` gathers the positions of the True entries
# first, which makes pooling several times slower. Offsets fit in one byte (`np.uint8`) for any
# kernel up to 16 x 16, which keeps the saved index a quarter of the size of a float32 map.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "max_pool2d", "solution": true, "locked": false}
#| export
def max_pool2d(x, kernel_size, stride=None) -> Tensor:
    """Largest value of every ``kernel_size`` window of NCHW ``x``; recorded as "max_pool2d".

    ``stride`` defaults to ``kernel_size`` (windows side by side, no overlap).

    TODO: compute the maxima and the winning offsets with a loop over kernel offsets.
    APPROACH:
        1. ``x = as_tensor(x)``; ``_check_images(x.data, "max_pool2d")``; pairs ``kh, kw``
           and ``sh, sw`` (``stride = kernel_size`` when None); ``Ho, Wo`` from
           ``conv_output_size`` (no padding) — on a ValueError, re-raise with
           "max_pool2d: input (...)" in front.
        2. ``best = x.data[:, :, 0:sh*Ho:sh, 0:sw*Wo:sw].copy()``;
           ``argmax = np.zeros(best.shape, np.uint8)`` (``np.int64`` if ``kh*kw > 256``).
        3. For ``k`` in ``1 .. kh*kw - 1``: ``a, b = divmod(k, kw)``; ``cand`` = the slice at
           ``(a, b)``; ``better = cand > best``; ``np.maximum(best, cand, out=best)``;
           ``np.maximum(argmax, better * argmax.dtype.type(k), out=argmax)``.
        4. ``record_op(best, "max_pool2d", (x,), argmax=argmax, kernel=(kh, kw),
           stride=(sh, sw))``.
    EXAMPLE:
        >>> max_pool2d(Tensor(np.arange(16.).reshape(1, 1, 4, 4)), 2).data[0, 0].tolist()
        [[5.0, 7.0], [13.0, 15.0]]
    HINTS: ``np.maximum`` alone gives the maxima, but the backward rule needs the offsets too.
        ``argmax.dtype.type(k)`` is ``k`` as a uint8, so the product stays one byte per entry.
    """
    ### BEGIN SOLUTION
    x = as_tensor(x)
    _check_images(x.data, "max_pool2d")
    kh, kw = _pair(kernel_size, "kernel_size", "max_pool2d")
    sh, sw = _pair(kernel_size if stride is None else stride, "stride", "max_pool2d")
    try:
        ho = conv_output_size(x.shape[2], kh, sh)
        wo = conv_output_size(x.shape[3], kw, sw)
    except ValueError as err:
        raise ValueError(f"max_pool2d: input {x.shape}, kernel {(kh, kw)}: {err}") from None
    data = x.data
    best = data[:, :, 0:sh * ho:sh, 0:sw * wo:sw].copy()
    argmax = np.zeros(best.shape, dtype=np.uint8 if kh * kw <= 256 else np.int64)
    for k in range(1, kh * kw):
        a, b = divmod(k, kw)
        cand = data[:, :, a:a + sh * ho:sh, b:b + sw * wo:sw]
        better = cand > best
        np.maximum(best, cand, out=best)
        np.maximum(argmax, better * argmax.dtype.type(k), out=argmax)
    return record_op(best, "max_pool2d", (x,), argmax=argmax, kernel=(kh, kw), stride=(sh, sw))
    ### END SOLUTION


# %% [markdown]
# Its backward rule walks the same offsets: the gradient of window `(i, j)` goes to the input
# entry at offset `argmax[..., i, j]`. For the offset `k = (a, b)` that is
# `(argmax == k) * grad`, placed on the strided slice at `(a, b)` of a zero array of the
# input's shape. When windows do not overlap (stride >= kernel, the usual case) every input
# entry belongs to at most one window, so the product can be written straight into the slice
# (`np.multiply(..., out=slice)`); when they overlap, `+=` sums the shares.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "max_pool2d_backward", "solution": true, "locked": false}
#| export
@backward_rule("max_pool2d")
def max_pool2d_backward(grad: np.ndarray, node) -> tuple:
    """Gradient of ``max_pool2d``: each window's gradient goes to the entry that won.

    TODO: scatter ``grad`` onto the input positions named by ``node.saved["argmax"]``.
    APPROACH:
        1. ``(x,) = node.inputs``; ``argmax``, ``(kh, kw)``, ``(sh, sw)`` from ``node.saved``;
           ``Ho, Wo = grad.shape[2:]``.
        2. ``grad_x = np.zeros(x.shape, grad.dtype)``.
        3. For every offset ``k`` in ``range(kh * kw)``: ``a, b = divmod(k, kw)``;
           ``part = grad_x[:, :, a:a + sh*Ho:sh, b:b + sw*Wo:sw]`` (a view); if the windows
           do not overlap (``sh >= kh and sw >= kw``) ``np.multiply(argmax == k, grad,
           out=part)``, else ``part += (argmax == k) * grad``.
        4. Return ``(grad_x,)``.
    EXAMPLE: for the 4 x 4 picture above and ``grad`` all ones, ``grad_x`` is 1 at the four
        winners (5, 2, 4, 8) and 0 elsewhere.
    HINTS: a boolean mask times a float32 array is float32: ``True`` counts as 1.
    """
    ### BEGIN SOLUTION
    (x,) = node.inputs
    argmax = node.saved["argmax"]
    kh, kw = node.saved["kernel"]
    sh, sw = node.saved["stride"]
    ho, wo = grad.shape[2:]
    grad_x = np.zeros(x.shape, dtype=grad.dtype)
    apart = sh >= kh and sw >= kw
    for k in range(kh * kw):
        a, b = divmod(k, kw)
        part = grad_x[:, :, a:a + sh * ho:sh, b:b + sw * wo:sw]
        if apart:
            np.multiply(argmax == k, grad, out=part)
        else:
            part += (argmax == k) * grad
    return (grad_x,)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_max_pool2d", "locked": true, "points": 15, "solution": false}
pic = np.array([[1, 3, 2, 0], [5, 0, 1, 1], [2, 4, 6, 0], [0, 1, 7, 8]], np.float32)
xp = Tensor(pic.reshape(1, 1, 4, 4), requires_grad=True)
pooled = max_pool2d(xp, 2)
assert pooled.shape == (1, 1, 2, 2), f"2 x 2 pool of 4 x 4 gives 2 x 2, got {pooled.shape}"
assert pooled.data[0, 0].tolist() == [[5, 2], [4, 8]], f"window maxima: {pooled.data[0, 0]}"
assert pooled._node is not None and pooled._node.op == "max_pool2d", "record 'max_pool2d'"
pooled.sum().backward()
winners = (xp.grad.data[0, 0] == 1)
assert winners.sum() == 4 and winners[1, 0] and winners[0, 2] and winners[2, 1] and \
    winners[3, 3], f"gradient only at the winners: {xp.grad.data[0, 0]}"
tie = Tensor(np.ones((1, 1, 2, 2), np.float32), requires_grad=True)
max_pool2d(tie, 2).sum().backward()
assert tie.grad.data[0, 0].tolist() == [[1, 0], [0, 0]], "a tie goes to the first entry"
rng = np.random.default_rng(6)
for k, s in [(2, None), ((2, 3), (1, 2)), (3, 2)]:
    xq = Tensor(rng.standard_normal((2, 3, 7, 8)), dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda a: max_pool2d(a, k, s), [xq]), f"kernel {k}, stride {s}"
try:
    max_pool2d(Tensor(np.ones((1, 1, 3, 3), np.float32)), 4)
    raise AssertionError("a window larger than the input must raise ValueError")
except ValueError as err:
    assert "max_pool2d" in str(err) and "(1, 1, 3, 3)" in str(err), f"name op and shape: {err}"
### BEGIN HIDDEN TESTS
over = Tensor(np.arange(25.0).reshape(1, 1, 5, 5), requires_grad=True)
max_pool2d(over, 3, 1).sum().backward()
assert over.grad.data[0, 0, 4, 4] == 1 and over.grad.data[0, 0, 2, 2] == 1
assert over.grad.data.sum() == 9
peak = Tensor(np.pad(np.ones((1, 1, 1, 1)), ((0, 0), (0, 0), (2, 2), (2, 2))), requires_grad=True)
max_pool2d(peak, 3, 1).sum().backward()
assert peak.grad.data[0, 0, 2, 2] == 9, "one entry winning nine windows gets nine shares"
### END HIDDEN TESTS

# %% [markdown]
# ## 6. The layers: `Conv2d`, `MaxPool2d`, `Flatten`
#
# The ops become layers the same way `linear` became `Linear` in module 03: a `Module` that
# owns Parameters and calls the op in `forward`.
#
# **Initialisation.** PyTorch initialises a convolution (and a linear layer) with
# `kaiming_uniform_(a=sqrt(5))`, which works out to a uniform distribution on
# `[-1/sqrt(fan_in), 1/sqrt(fan_in)]`, where `fan_in = in_channels * kh * kw` is the number
# of inputs one output sums. The bias uses the same bound. With this choice a network built
# here starts where the same network in PyTorch would start.
#
# ```
#   Conv2d(1, 6, 5)   fan_in = 1 * 5 * 5 = 25     bound = 1/5 = 0.2
#   Conv2d(6, 16, 5)  fan_in = 6 * 5 * 5 = 150    bound = 0.0816
# ```
#
# `Flatten` turns the `(N, C, H, W)` maps into `(N, C*H*W)` rows for the `Linear` layers that
# follow: a `reshape`, which autograd already knows.
#
# ```
#   (N,1,28,28) ─Conv2d(1,6,5,p=2)─► (N,6,28,28) ─ReLU─ MaxPool2d(2) ─► (N,6,14,14)
#               ─Conv2d(6,16,5)───► (N,16,10,10) ─ReLU─ MaxPool2d(2) ─► (N,16,5,5)
#               ─Flatten─► (N,400) ─Linear─► 120 ─ReLU─ Linear─► 84 ─ReLU─ Linear─► 10
# ```

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "layers", "solution": true, "locked": false}
#| export
class Conv2d(Module):
    """A 2-D convolution layer: ``weight`` ``(out, in, kh, kw)``, ``bias`` ``(out,)``.

    TODO: create the parameters and fill them with PyTorch's default initialisation.
    APPROACH:
        ``__init__``: refuse channel counts below 1 (ValueError); store ``in_channels``,
        ``out_channels``, ``kernel_size``, ``stride`` and ``padding`` as pairs (``_pair``);
        ``self.weight = Parameter(np.empty((out, in, kh, kw), np.float32))``; ``self.bias`` a
        float32 Parameter of shape ``(out,)`` or None; ``self.reset_parameters()``.
        ``reset_parameters``: ``bound = 1 / math.sqrt(in_channels * kh * kw)``; write
        ``default_generator().uniform(-bound, bound, shape)`` into ``weight.data[...]`` and,
        with a bias, into ``bias.data[...]``.
        ``forward``: ``conv2d(x, self.weight, self.bias, self.stride, self.padding)``.
    EXAMPLE:
        >>> Conv2d(1, 6, 5, padding=2)(Tensor(np.zeros((8, 1, 28, 28), np.float32))).shape
        (8, 6, 28, 28)
    HINTS: writing into ``.data[...]`` keeps the same Parameter objects (optimizers hold them).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1,
                 padding=0, bias: bool = True):
        super().__init__()
        ### BEGIN SOLUTION
        if int(in_channels) < 1 or int(out_channels) < 1:
            raise ValueError(f"Conv2d: in_channels and out_channels must be at least 1, got "
                             f"{in_channels} and {out_channels}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = _pair(stride, "stride", "Conv2d")
        self.padding = _pair(padding, "padding", "Conv2d", least=0)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, np.float32))
        self.bias = Parameter(np.empty(self.out_channels, np.float32)) if bias else None
        self.reset_parameters()
        ### END SOLUTION

    def reset_parameters(self) -> None:
        """Uniform on [-1/sqrt(fan_in), 1/sqrt(fan_in)] for weight and bias, as PyTorch."""
        ### BEGIN SOLUTION
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
        gen = default_generator()
        self.weight.data[...] = gen.uniform(-bound, bound, self.weight.shape)
        if self.bias is not None:
            self.bias.data[...] = gen.uniform(-bound, bound, self.bias.shape)
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        ### BEGIN SOLUTION
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)
        ### END SOLUTION

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class MaxPool2d(Module):
    """``max_pool2d`` as a layer (no parameters).

    TODO: store ``kernel_size`` and ``stride`` (``stride`` defaults to ``kernel_size``) as
        pairs; ``forward`` calls ``max_pool2d``.
    EXAMPLE:
        >>> MaxPool2d(2)(Tensor(np.zeros((8, 6, 28, 28), np.float32))).shape
        (8, 6, 14, 14)
    """

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        ### BEGIN SOLUTION
        self.kernel_size = _pair(kernel_size, "kernel_size", "MaxPool2d")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride",
                                                                    "MaxPool2d")
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        ### BEGIN SOLUTION
        return max_pool2d(x, self.kernel_size, self.stride)
        ### END SOLUTION

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class Flatten(Module):
    """Merge the dimensions from ``start_dim`` on: ``(N, C, H, W) -> (N, C*H*W)``.

    TODO: ``forward`` returns ``x.reshape(*x.shape[:start_dim], -1)``.
    EXAMPLE:
        >>> Flatten()(Tensor(np.zeros((8, 16, 5, 5), np.float32))).shape
        (8, 400)
    """

    def __init__(self, start_dim: int = 1):
        super().__init__()
        self.start_dim = int(start_dim)

    def forward(self, x) -> Tensor:
        ### BEGIN SOLUTION
        x = as_tensor(x)
        return x.reshape(*x.shape[:self.start_dim], -1)
        ### END SOLUTION

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}"


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_layers", "locked": true, "points": 10, "solution": false}
manual_seed(0)
conv = Conv2d(6, 16, 5)
assert conv.weight.shape == (16, 6, 5, 5) and conv.bias.shape == (16,), "parameter shapes"
assert [n for n, _ in conv.named_parameters()] == ["weight", "bias"], "both are Parameters"
bound = 1 / np.sqrt(6 * 5 * 5)
assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.weight.data).max() > 0.9 * bound, \
    f"weights uniform in +-1/sqrt(fan_in) = {bound:.4f}, max was {np.abs(conv.weight.data).max()}"
assert np.abs(conv.bias.data).max() <= bound and np.abs(conv.bias.data).max() > 0.5 * bound, \
    "the bias uses the same bound (it is not zero)"
assert abs(float(conv.weight.data.std()) - bound / np.sqrt(3)) < 0.1 * bound, "uniform spread"
rect = Conv2d(3, 4, (3, 5), stride=(1, 2), padding=(1, 0), bias=False)
assert rect.bias is None and rect.weight.shape == (4, 3, 3, 5), "rectangular kernel, no bias"
xb = Tensor(np.random.default_rng(7).standard_normal((2, 3, 9, 9)).astype(np.float32))
assert rect(xb).shape == (2, 4, 9, 3), f"(9 + 2 - 3) + 1 = 9 rows, (9 - 5)//2 + 1 = 3 columns"
assert MaxPool2d(2)(Tensor(np.zeros((8, 6, 28, 28), np.float32))).shape == (8, 6, 14, 14)
assert MaxPool2d(3, stride=1).stride == (1, 1), "an explicit stride is kept"
flat = Flatten()(Tensor(np.zeros((8, 16, 5, 5), np.float32), requires_grad=True))
assert flat.shape == (8, 400) and flat.requires_grad, "Flatten keeps the graph"
### BEGIN HIDDEN TESTS
assert Conv2d(1, 2, 3).kernel_size == (3, 3) and MaxPool2d((2, 3)).stride == (2, 3)
try:
    Conv2d(0, 4, 3)
    raise AssertionError("0 channels must raise")
except ValueError:
    pass
assert Flatten(2)(Tensor(np.zeros((2, 3, 4, 5), np.float32))).shape == (2, 3, 20)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Systems: what im2col costs and what it buys
#
# **Time.** The same layer as in section 1 (16 -> 32 channels, 14 x 14, 5 x 5), on the same 8
# images (best of 3 runs), then on a full batch of 128 — forward only, then forward and
# backward.

# %%
def best_of(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


fast_out = conv2d(Tensor(x_small), Tensor(w_small)).data
assert np.allclose(fast_out, slow_out, atol=1e-3), "both versions compute the same thing"
fast_s = best_of(lambda: conv2d(Tensor(x_small), Tensor(w_small)))
print(f"batch 8:   loops {naive_s * 1e3:8.1f} ms   im2col {fast_s * 1e3:6.2f} ms   "
      f"-> {naive_s / fast_s:,.0f}x faster")

x_batch = Tensor(rng.standard_normal((128, 16, 14, 14)).astype(np.float32), requires_grad=True)
w_batch = Tensor(w_small, requires_grad=True)
fwd_s = best_of(lambda: conv2d(x_batch, w_batch))
both_s = best_of(lambda: conv2d(x_batch, w_batch).sum().backward())
print(f"batch 128: forward {fwd_s * 1e3:.1f} ms, forward + backward {both_s * 1e3:.1f} ms "
      f"(the loops would need about {naive_s * 16:.1f} s for the forward alone)")

# %% [markdown]
# **Memory.** The column matrix holds every pixel once per window that covers it: up to
# `kh * kw` copies. Measure it with `tracemalloc` (it counts numpy's allocations) at LeNet's
# two convolutions, batch 128:

# %%
import tracemalloc


def im2col_memory(shape, kernel, padding):
    xm = rng.standard_normal(shape).astype(np.float32)
    tracemalloc.start()
    cols_m = im2col(xm, kernel, 1, padding)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return xm.nbytes, cols_m.nbytes, peak


memory_rows = []
for name, shape, kernel, padding in [("conv1: 1 -> 6, 28 x 28, pad 2", (128, 1, 28, 28), 5, 2),
                                     ("conv2: 6 -> 16, 14 x 14", (128, 6, 14, 14), 5, 0)]:
    x_bytes, cols_bytes, peak = im2col_memory(shape, kernel, padding)
    memory_rows.append((name, x_bytes, cols_bytes, peak))
    print(f"{name:30s} input {x_bytes / 2**20:6.2f} MiB   cols {cols_bytes / 2**20:6.2f} MiB "
          f"({cols_bytes / x_bytes:4.1f}x the input)   peak while building "
          f"{peak / 2**20:6.2f} MiB")

# %% [markdown]
# **What the numbers say.** (Exact figures depend on the machine; the ratios are the point.)
#
# - The loop version and the im2col version compute the same numbers; the matrix product is
#   faster by orders of magnitude (the ratio printed above), because the loops pay the
#   interpreter for every output pixel while the product runs in optimised BLAS code.
# - The price is memory. The columns hold `kh * kw` numbers per output pixel and channel. With
#   padding that keeps the size there are as many output pixels as input pixels, so the
#   columns are exactly `5 * 5 = 25` times the input. Without padding the ratio falls with the
#   output size: `25 * (10 * 10) / (14 * 14)`, about 13 times. The peak while building them
#   adds the padded copy of the input on top.
# - The backward rule keeps the columns of every convolution until `backward()` runs, so a
#   deep CNN with large images can run out of memory in the columns alone. Frameworks avoid
#   keeping them (recomputing them, or using direct and Winograd kernels that never build
#   them); for LeNet-sized inputs the copy is cheap and the one big matrix product wins.
#
# `benchmarks/conv.py` times the whole LeNet training step against PyTorch and measures the
# same memory at batch 128.

# %% [markdown]
# ## 8. Module test
#
# A small CNN — one convolution, one pool, one linear layer — trained for one epoch on the
# shipped digits must learn: everything in this module, together with modules 03-07.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_module_convolutions", "locked": true, "points": 10, "solution": false}
from tinytorch.core.activations import ReLU
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.datasets import Digits

manual_seed(0)
train_digits, test_digits = Digits(train=True), Digits(train=False)
x_train = ((train_digits.images - 0.13) / 0.31).astype(np.float32).reshape(-1, 1, 28, 28)
x_test = ((test_digits.images - 0.13) / 0.31).astype(np.float32).reshape(-1, 1, 28, 28)
cnn = Sequential(Conv2d(1, 8, 5, padding=2), ReLU(), MaxPool2d(2), Flatten(),
                 Linear(8 * 14 * 14, 10))
optimizer = Adam(cnn.parameters(), lr=3e-3)
loss_fn = CrossEntropyLoss()
losses = []
for xb, yb in DataLoader(TensorDataset(x_train, train_digits.labels.astype(np.int64)),
                         batch_size=64, shuffle=True, seed=0):
    loss = loss_fn(cnn(xb), yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
with no_grad():
    cnn.eval()
    accuracy = float((cnn(Tensor(x_test)).data.argmax(axis=1) == test_digits.labels).mean())
print(f"one epoch on {len(x_train)} digits: loss {np.mean(losses[:10]):.3f} -> "
      f"{np.mean(losses[-10:]):.3f}, test accuracy {accuracy:.1%}")
assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10]), "the loss should fall by half"
assert accuracy > 0.8, f"chance is 10%; a small CNN reads digits: test accuracy {accuracy:.1%}"
print("Module 09 complete: convolutions learn.")

# %% [markdown]
# ## Summary
#
# You built the two ops that make a network see:
#
# - `conv_output_size`, the one formula behind every shape in a CNN;
# - `conv2d_naive`, convolution as its definition, and the measurement that rules it out;
# - `im2col` and `col2im`: every receptive field copied into a column, and every column entry
#   added back where it came from — the pair that turns convolution and its gradient into
#   matrix products;
# - `conv2d` with its backward rule (weight gradient `g2 @ cols.T`, input gradient through
#   `col2im`, skipped when nobody needs it) and `max_pool2d` with its rule (the gradient goes
#   to each window's winner), both registered by name in module 05's registry;
# - `Conv2d` (PyTorch's default initialisation), `MaxPool2d` and `Flatten`.
#
# You measured the trade at the centre of this module: im2col is orders of magnitude faster
# than loops and costs up to `kh * kw` times the input's memory.
#
# **Next:** run `tito module complete 09`, then `tito milestone run 04`: a LeNet trained on
# MNIST with these layers reads handwritten digits at 99%.
