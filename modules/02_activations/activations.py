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
# # Module 02 — Activations: the nonlinearity that makes depth pay
#
# A layer of a neural network multiplies by a matrix and adds a bias. Stack two such layers and
# you have... another matrix and another bias. However many you stack, the result can only draw
# straight lines through the data. What breaks the spell is a small elementwise function applied
# between the layers: an **activation**. It is a few lines of numpy each, yet without it the
# network that reads handwritten digits at the end of this course could not exist.
#
# ## Learning objectives
#
# - Explain why a stack of linear layers without activations collapses into one linear layer.
# - Implement `relu`, `sigmoid`, `tanh`, `gelu` and `softmax` on `Tensor`s, each recording the
#   op name and the values its backward rule will need.
# - Make `sigmoid` and `softmax` numerically stable: correct for inputs like ±1000, with no
#   overflow warnings.
# - Read the derivative of each activation off its forward output, and check it against a
#   finite difference — the formulas module 05 turns into backward rules.
# - Wrap the functions in objects (`ReLU()`, `Softmax(dim=-1)`) that later modules chain together.
# - Measure the cost per element of each activation and say where that cost comes from.
#
# ## Where this module fits
#
# ```
#  01 Tensor ──► 02 Activations ──► 03 Layers ──► 04 Losses ──► 05 Autograd ──► 06 Optimizers
#                    │                                             ▲
#                    └── relu, sigmoid, tanh, gelu, softmax record ┘
#                        their op name and saved values here
# ```
#
# As in module 01 you write forward math only. Every function returns through `record_op`, so a
# result remembers the op that made it; module 05 supplies the derivatives.

# %% [markdown]
# **How to work in this notebook.** Fill in each `TODO` where it stands and run the cell; the
# graded cell after it checks your work. `tito module test 02` tests this notebook *as
# saved on disk*, so save it first (Ctrl+S): edits that are only in the browser are not tested.
# `tito module test 02 -k NAME --verbose` runs the tests whose names contain NAME and
# prints each failure in full.

# %%
#| default_exp core.activations

# %%
#| export
from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np

from tinytorch.core.tensor import Tensor, as_tensor, record_op, where

# %% [markdown]
# The next cell is for this notebook only (it is not exported): plotting and timing tools.
# `show` draws a figure inline in Jupyter and never blocks when the file runs as a plain script.

# %%
import time
import warnings

import matplotlib.pyplot as plt


def show(fig) -> None:
    """Display ``fig`` in a notebook; in a plain ``python`` run, just release it."""
    plt.show(block=False)
    plt.close(fig)


def central_difference(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Slope of an elementwise activation ``f`` at every point of ``x``, from f alone."""
    return (f(Tensor(x + h)).data - f(Tensor(x - h)).data) / (2 * h)


def plot_activation(name: str, f, derivative, x: np.ndarray | None = None) -> None:
    """Draw ``f`` and its derivative side by side; dots are finite differences of ``f``.

    ``derivative(x, y)`` gets the inputs and the forward outputs ``y = f(x)``.
    """
    if x is None:
        x = np.linspace(-5.0, 5.0, 200)    # float64, and an even count never lands on 0.0
    y = f(Tensor(x)).data
    dy = derivative(x, y)
    fd = central_difference(f, x)
    gap = float(np.max(np.abs(dy - fd)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(x, y, color="tab:blue")
    left.set_title(f"{name}(x)")
    right.plot(x, dy, color="tab:orange", label="formula")
    right.plot(x[::8], fd[::8], "o", ms=3, color="black", label="finite difference")
    right.set_title(f"{name}'(x)")
    right.legend(loc="best", fontsize=8)
    for ax in (left, right):
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_xlabel("x")
    fig.tight_layout()
    print(f"{name}: largest gap between the derivative formula and a finite difference: "
          f"{gap:.1e}")
    show(fig)


# %% [markdown]
# ## 1. Why a network needs a nonlinearity
#
# A linear layer maps `x` to `x @ W.T + b`. Feed one into another and the algebra folds up:
#
# ```
#   h = x @ W1.T + b1
#   y = h @ W2.T + b2  =  x @ (W2 @ W1).T  +  (b1 @ W2.T + b2)
#                           └─── one W ───┘    └──── one b ────┘
# ```
#
# A hundred layers, one matrix. The extra layers add cost and no power: the network can still
# only separate classes with a flat plane. Put a nonlinear function `act` between them —
# `y = act(x @ W1.T + b1) @ W2.T + b2` — and the fold no longer works. That one change is what
# lets a network bend its decision boundary around the data.
#
# Check the fold with the Tensor you built in module 01:

# %%
rng = np.random.default_rng(0)
W1 = Tensor(rng.standard_normal((4, 3)).astype(np.float32))
W2 = Tensor(rng.standard_normal((2, 4)).astype(np.float32))
x_demo = Tensor(rng.standard_normal((5, 3)).astype(np.float32))
two_layers = (x_demo @ W1.T) @ W2.T
one_layer = x_demo @ (W2 @ W1).T
print("largest difference between two stacked layers and one folded layer:",
      float(np.abs(two_layers.data - one_layer.data).max()))

# %% [markdown]
# The difference is rounding noise. Every activation in this module exists to prevent exactly
# this collapse; they differ in shape, in what their gradients do, and in what they cost.

# %% [markdown]
# ## 2. ReLU: keep the positives, zero the rest
#
# The rectified linear unit is the simplest nonlinearity there is: `relu(x) = max(0, x)`.
#
# ```
#        relu(x)                                relu'(x)
#     3 ┤           ╱                       1 ┤         ○──────────
#     2 ┤         ╱                           │
#     1 ┤       ╱                             │
#     0 ┼─────●──────── x                   0 ┼─────────●─────────── x
#      -3     0     3                        -3         0          3
# ```
#
# Two straight pieces, one kink. That kink is enough: a sum of shifted ReLUs can follow any
# continuous curve on an interval as closely as you like, given enough of them (you will see
# it happen below). ReLU became the default for deep networks because its slope is exactly 1
# wherever it is active, so gradients pass through many layers without shrinking, and because
# it costs a single comparison.
#
# **What to record.** The backward rule passes the gradient where the output is positive and
# blocks it elsewhere, so `relu` saves its output: `record_op(out, "relu", (x,), out=out)`.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "relu", "solution": true, "locked": false}
#| export
def relu(x: Tensor) -> Tensor:
    """Rectified linear unit, elementwise: ``max(0, x)`` (op name "relu"; save ``out``).

    TODO: zero every negative element, keep the rest, and record the op.
    APPROACH:
        1. ``x = as_tensor(x)`` so lists and arrays work too.
        2. Compute ``out`` from ``x.data`` with one numpy call.
        3. ``return record_op(out, "relu", (x,), out=out)``
    EXAMPLE:
        >>> relu(Tensor([-2.0, 0.0, 3.0])).data.tolist()
        [0.0, 0.0, 3.0]
    HINTS:
        - ``np.maximum`` compares elementwise (``np.max`` reduces — not what you want).
        - A Python ``0`` does not change the dtype: float32 in, float32 out.
        - Do not modify ``x.data`` in place: the input may be needed again.
    """
    ### BEGIN SOLUTION
    x = as_tensor(x)
    out = np.maximum(x.data, 0)
    return record_op(out, "relu", (x,), out=out)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_relu", "locked": true, "points": 5, "solution": false}
x = Tensor([[-3.0, -0.5, 0.0], [0.5, 2.0, -1.0]])
y = relu(x)
assert isinstance(y, Tensor), f"relu should return a Tensor, got {type(y).__name__}"
assert y.data.tolist() == [[0.0, 0.0, 0.0], [0.5, 2.0, 0.0]], f"wrong values: {y.data.tolist()}"
assert y.shape == (2, 3), f"relu keeps the shape (2, 3), got {y.shape}"
assert y.dtype == np.float32, f"float32 in should give float32 out, got {y.dtype}"
assert x.data.tolist()[0] == [-3.0, -0.5, 0.0], "relu must not change its input in place"
w = Tensor([-1.0, 1.0], requires_grad=True)
r = relu(w)
assert r._node is not None and r._node.op == "relu", "relu should record the op name 'relu'"
assert np.array_equal(r._node.saved.get("out"), r.data), "relu should save its output as out"
### BEGIN HIDDEN TESTS
assert relu(Tensor(np.array([-1.0, 4.0]))).dtype == np.float64
assert relu(Tensor(np.zeros((0, 3), np.float32))).shape == (0, 3)
assert relu(Tensor([1.0]))._node is None
### END HIDDEN TESTS

# %% [markdown]
# ### Seeing ReLU and its derivative
#
# The slope of ReLU is 1 where the output is positive and 0 elsewhere — readable straight off
# the output: `relu'(x) = 1[out > 0]`. (At exactly 0 the slope is undefined; like PyTorch, we
# call it 0.) The right-hand plot draws that formula and, as dots, a **central finite
# difference** `(f(x+h) - f(x-h)) / 2h` computed from `relu` alone. When formula and dots agree,
# the formula is right. Module 05 uses the same trick to test every backward rule.

# %%
plot_activation("relu", relu, lambda x, y: (y > 0).astype(y.dtype))

# %% [markdown]
# ### A curve out of hinges
#
# Here is the claim from above made visible. Each feature `relu(x - k)` is a hinge that switches
# on at the knot `k`. A weighted sum of hinges — which is exactly a one-hidden-layer network
# with a ReLU — is a bendy line that bends only at the knots. Fit the weights by least squares
# and watch more hidden units follow `sin` more closely.

# %%
xs = np.linspace(-np.pi, np.pi, 300)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
for ax, units in zip(axes, (3, 12)):
    knots = np.linspace(-np.pi, np.pi, units, endpoint=False)
    hinges = relu(Tensor(xs[:, None] - knots[None, :])).data        # (300, units)
    features = np.hstack([hinges, np.ones((len(xs), 1))])           # plus a bias column
    weights, *_ = np.linalg.lstsq(features, np.sin(xs), rcond=None)
    fit = features @ weights
    ax.plot(xs, np.sin(xs), color="grey", lw=3, alpha=0.5, label="sin(x)")
    ax.plot(xs, fit, color="tab:red", label=f"{units} ReLU units")
    ax.plot(knots, np.interp(knots, xs, fit), "k|", ms=12)
    ax.set_title(f"{units} hinges: worst error {np.abs(fit - np.sin(xs)).max():.3f}")
    ax.legend(loc="upper left", fontsize=8)
fig.tight_layout()
show(fig)

# %% [markdown]
# ## 3. Sigmoid: squash anything into (0, 1)
#
# `sigmoid(x) = 1 / (1 + e^(-x))` turns any real number into something that reads as a
# probability. It was the activation of early neural networks and is still the output of every
# yes/no classifier (module 04's binary cross-entropy takes its output).
#
# ```
#    1.0 ┤                           ••••••••••
#        │                       ••••
#        │                     ••
#        │                   ••
#    0.5 ┤                  ●                      sigmoid(0) = 0.5
#        │                ••
#        │              ••                         sigmoid(-x) = 1 - sigmoid(x)
#        │          ••••
#    0.0 ┤••••••••••
#        └──────────────────┼───────────────────► x
#         -6                0                 6
# ```
#
# ### The overflow trap
#
# float32 overflows once `e^x` passes about 3.4e38, which happens at `x ≈ 88.7`. Each of the two
# textbook forms of sigmoid trips on one side:
#
# ```
#   1 / (1 + e^(-x))     x = -1000:  e^(+1000) = inf   → 1/inf = 0      right value, but an
#                                                                        overflow warning
#   e^x / (1 + e^x)      x = +1000:  inf / inf         → nan            wrong value
# ```
#
# The cure is to use each form only on the side where it is safe. Both need only
# `z = e^(-|x|)`, which lies in (0, 1] for every input, so it never overflows:
#
# ```
#   z = e^(-|x|)
#   x ≥ 0:   sigmoid(x) = 1 / (1 + z)          (here z = e^(-x))
#   x < 0:   sigmoid(x) = z / (1 + z)          (here z = e^(x))
# ```
#
# One warning about `np.where(cond, a, b)`: it computes *both* `a` and `b` for every element
# before choosing. `np.where(x >= 0, 1 / (1 + np.exp(-x)), ...)` would still overflow on the
# negative elements. With `z` that is no longer a danger — both branches are safe everywhere.
#
# **What to record.** `sigmoid' = sigmoid · (1 - sigmoid)`: the backward rule needs only the
# output, so save `out`.
#
# First, see the trap spring (warnings silenced so the notebook stays tidy):

# %%
hot = np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=np.float32)
with np.errstate(over="ignore", invalid="ignore"):
    print("1 / (1 + e^-x):  ", 1 / (1 + np.exp(-hot)), "  <- overflowed inside on the left")
    print("e^x / (1 + e^x): ", np.exp(hot) / (1 + np.exp(hot)), "  <- nan on the right")


# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "sigmoid", "solution": true, "locked": false}
#| export
def sigmoid(x: Tensor) -> Tensor:
    """Logistic sigmoid ``1 / (1 + e^(-x))``, stable for any input (op name "sigmoid"; save ``out``).

    TODO: compute the sigmoid without ever taking ``exp`` of a large positive number.
    APPROACH:
        1. ``z = np.exp(-np.abs(x.data))`` — always in (0, 1].
        2. Where ``x >= 0`` the answer is ``1 / (1 + z)``; elsewhere it is ``z / (1 + z)``.
        3. ``return record_op(out, "sigmoid", (x,), out=out)``
    EXAMPLE:
        >>> sigmoid(Tensor([0.0])).item()
        0.5
        >>> sigmoid(Tensor([-1000.0, 1000.0])).data.tolist()    # no warning, no nan
        [0.0, 1.0]
    HINTS:
        - ``np.where(x.data >= 0, a, b)`` picks elementwise between two arrays of the same shape.
        - Python numbers such as ``1`` keep float32 arrays float32.
    """
    ### BEGIN SOLUTION
    x = as_tensor(x)
    z = np.exp(-np.abs(x.data))
    out = np.where(x.data >= 0, 1 / (1 + z), z / (1 + z))
    return record_op(out, "sigmoid", (x,), out=out)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_sigmoid", "locked": true, "points": 10, "solution": false}
s = sigmoid(Tensor([-2.0, 0.0, 2.0]))
assert isinstance(s, Tensor), f"sigmoid should return a Tensor, got {type(s).__name__}"
assert np.allclose(s.data, [0.11920292, 0.5, 0.88079708], atol=1e-6), f"wrong: {s.data}"
assert s.dtype == np.float32, f"float32 in should give float32 out, got {s.dtype}"
with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise"):
    warnings.simplefilter("error")
    try:
        big = sigmoid(Tensor([-1000.0, -100.0, 100.0, 1000.0]))
    except (FloatingPointError, RuntimeWarning) as err:
        raise AssertionError(f"sigmoid overflowed on large |x|: {err}") from None
assert not np.isnan(big.data).any(), f"sigmoid gave nan for large |x|: {big.data}"
assert np.allclose(big.data, [0.0, 0.0, 1.0, 1.0], rtol=0, atol=1e-30) and \
    (big.data >= 0).all(), f"sigmoid(±100, ±1000) is wrong: {big.data}"
tail = sigmoid(Tensor([-30.0])).item()
assert 0 < tail < 1e-12, f"sigmoid(-30) is about 9.4e-14 and must stay positive, got {tail}"
w = Tensor([0.3], requires_grad=True)
node = sigmoid(w)._node
assert node is not None and node.op == "sigmoid", "sigmoid should record the op name 'sigmoid'"
assert "out" in node.saved, "sigmoid should save its output as out"
### BEGIN HIDDEN TESTS
grid = np.linspace(-20, 20, 101)
assert np.allclose(sigmoid(Tensor(grid)).data, 1 / (1 + np.exp(-grid)), rtol=1e-12)
assert sigmoid(Tensor(np.zeros(0, np.float32))).shape == (0,)
assert np.allclose(sigmoid(Tensor(-grid)).data, 1 - sigmoid(Tensor(grid)).data)
### END HIDDEN TESTS

# %% [markdown]
# ### Seeing sigmoid and its derivative
#
# The derivative comes straight from the output: `sigmoid'(x) = s · (1 - s)` with `s =
# sigmoid(x)`. Notice how small it is — at most 0.25, at `x = 0`, and almost nothing once
# `|x| > 5`. Ten stacked sigmoid layers multiply ten such factors: at best `0.25^10 ≈ 1e-6`.
# That is the **vanishing gradient** that made deep sigmoid networks so hard to train, and one
# reason ReLU replaced it between layers.

# %%
plot_activation("sigmoid", sigmoid, lambda x, y: y * (1 - y))

# %% [markdown]
# ## 4. Tanh: a zero-centred sigmoid
#
# `tanh(x) = (e^x - e^(-x)) / (e^x + e^(-x))` has the same S shape, stretched to (-1, 1). In
# fact `tanh(x) = 2 · sigmoid(2x) - 1`. Because its outputs are centred on 0, the next layer sees
# inputs of both signs, which makes learning better behaved than with sigmoid's all-positive
# outputs; recurrent networks (LSTMs) use it for exactly that.
#
# ```
#      1 ┤                           ••••••••••
#        │                       ••••
#        │                     ••
#        │                   ••
#      0 ┤                  ●                      tanh(0) = 0,  tanh(-x) = -tanh(x)
#        │                ••
#        │              ••                         tanh'(x) = 1 - tanh(x)²
#        │          ••••                           (peak 1 at x = 0)
#     -1 ┤••••••••••
#        └──────────────────┼───────────────────► x
#         -3                0                 3
#
#   The same picture as sigmoid's, with both axes rescaled.
# ```
#
# numpy's `np.tanh` is already stable for any input (it never forms `e^x` for large `x`), so
# the computation is one call. The backward rule needs `1 - out²`, so save `out`.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "tanh", "solution": true, "locked": false}
#| export
def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent, elementwise (op name "tanh"; save ``out``).

    TODO: compute tanh and record the op with the output saved.
    APPROACH: ``out = np.tanh(x.data)``, then ``record_op(out, "tanh", (x,), out=out)``.
    EXAMPLE:
        >>> round(tanh(Tensor([1.0])).item(), 4)
        0.7616
    HINTS: remember ``x = as_tensor(x)`` first, as in ``relu``.
    """
    ### BEGIN SOLUTION
    x = as_tensor(x)
    out = np.tanh(x.data)
    return record_op(out, "tanh", (x,), out=out)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_tanh", "locked": true, "points": 5, "solution": false}
t = tanh(Tensor([-1.0, 0.0, 1.0, 50.0]))
assert isinstance(t, Tensor), f"tanh should return a Tensor, got {type(t).__name__}"
assert np.allclose(t.data, [-0.76159416, 0.0, 0.76159416, 1.0], atol=1e-6), f"wrong: {t.data}"
assert t.dtype == np.float32, f"float32 in should give float32 out, got {t.dtype}"
grid = Tensor(np.linspace(-3, 3, 13))
assert np.allclose(tanh(grid).data, 2 * sigmoid(Tensor(2 * grid.data)).data - 1), \
    "tanh(x) should equal 2 * sigmoid(2x) - 1"
node = tanh(Tensor([0.5], requires_grad=True))._node
assert node is not None and node.op == "tanh" and "out" in node.saved, \
    "tanh should record op 'tanh' and save out"
### BEGIN HIDDEN TESTS
assert np.allclose(tanh(Tensor([-1000.0, 1000.0])).data, [-1.0, 1.0])
assert tanh(Tensor(np.zeros((2, 0), np.float32))).shape == (2, 0)
### END HIDDEN TESTS

# %%
plot_activation("tanh", tanh, lambda x, y: 1 - y ** 2)

# %% [markdown]
# ## 5. GELU: a smooth ReLU
#
# Transformers (BERT, the GPT family) mostly use the Gaussian error linear unit. Its idea: scale
# `x` by the probability that a standard normal variable falls below it,
# `gelu(x) = x · Φ(x)`. Large positive inputs pass almost unchanged, large negative ones are
# almost zeroed, and in between the curve is smooth, with a small dip below zero.
#
# ```
#   x         -3      -2      -1     -0.75     0       1       2       3
#   relu(x)    0       0       0       0       0       1       2       3
#   gelu(x)  -0.004  -0.045  -0.159  -0.170    0     0.841   1.955   2.996
#                                      ▲
#                          the lowest point of the curve; there is no kink at 0
# ```
#
# Read the table as "gelu is relu with the corner sanded off": far from 0 the two agree, near
# 0 GELU is smooth, and for small negative inputs it lets a little negative signal through.
#
# `Φ` needs the error function, so the usual fast version replaces it with a tanh:
#
# ```
#   gelu(x) ≈ 0.5 · x · (1 + tanh( √(2/π) · (x + 0.044715 · x³) ))
# ```
#
# PyTorch's default is the exact form, `gelu(x)`; the tanh form is `gelu(x, approximate="tanh")`.
# Ours is the same: the exact form is given (numpy has no error function, so it calls Python's
# `math.erf` on every element: exact, and slower), and you write the tanh approximation. Two
# numerical details:
#
# - **Keep the constants Python floats.** `math.sqrt(2 / math.pi)` is a Python float and keeps
#   float32 arrays float32. `np.sqrt(2 / np.pi)` is a numpy float64 scalar, and multiplying a
#   float32 array by it gives float64 — twice the memory, silently.
# - **The cube overflows first.** For `|x|` above about 7e12, `x³` passes float32's limit and
#   numpy warns — long after the tanh has stopped changing: `tanh(u)` is exactly ±1 in float32
#   and float64 alike once `|x| > 10`. So cube a copy of `x` clipped to [-10, 10]: the result is
#   identical and the overflow is gone.
#
# **What to record.** Nothing needs saving: module 05's rule recomputes the inner tanh from the
# input, so `record_op(out, "gelu", (x,))`.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "gelu", "solution": true, "locked": false}
#| export
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)   # a Python float: float32 stays float32
_GELU_CUBIC = 0.044715
_erf = np.frompyfunc(math.erf, 1, 1)          # numpy has no erf: Python's, element by element


def _gelu_exact(x: Tensor) -> Tensor:
    """``x · Φ(x)`` with ``Φ(x) = (1 + erf(x / √2)) / 2``, the default of PyTorch (given)."""
    phi = (_erf(x.data * math.sqrt(0.5)).astype(x.data.dtype) + 1) * 0.5
    return record_op(x.data * phi, "gelu", (x,), approximate="none")


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit (op name "gelu"): exact, or the tanh approximation.

    ``approximate="none"`` (the default, as in PyTorch) is the exact form, given above;
    ``approximate="tanh"`` is the approximation you write here (nothing saved).

    TODO: compute ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3)))`` elementwise
        and record the op (nothing saved: its rule recomputes what it needs from the input).
    APPROACH: the formula is the function, written with numpy on ``x.data``. One trap: the
        cube of a large float32 value overflows to ``inf``. The tanh is already exactly ±1
        once its argument is beyond about ±10, so only the tanh's argument needs protecting:
        compute it from a clipped copy of ``x``, and keep the unclipped ``x`` for the factor
        ``0.5 * x`` in front (gelu(100) is 100, not 10).
    EXAMPLE:
        >>> [round(v, 4) for v in gelu(Tensor([-1.0, 0.0, 1.0]), approximate="tanh").data.tolist()]
        [-0.1588, 0.0, 0.8412]
    HINTS:
        - Large positive x: ``gelu(x)`` is ``x``. Large negative x: it is 0.
        - The constants above are Python floats on purpose (see the markdown).
        - Write the cube as a product of three factors; section 8 measures why.
        - More help: ``np.clip(x.data, -10, 10)`` is the clipped copy.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    if approximate == "none":
        return _gelu_exact(as_tensor(x))
    ### BEGIN SOLUTION
    x = as_tensor(x)
    xc = np.clip(x.data, -10, 10)
    u = _SQRT_2_OVER_PI * (xc + _GELU_CUBIC * xc * xc * xc)
    out = 0.5 * x.data * (1 + np.tanh(u))
    return record_op(out, "gelu", (x,))
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_gelu", "locked": true, "points": 10, "solution": false}
g = gelu(Tensor([-3.0, -1.0, 0.0, 1.0, 3.0]), approximate="tanh")
assert isinstance(g, Tensor), f"gelu should return a Tensor, got {type(g).__name__}"
expected = [-0.00363752, -0.15880801, 0.0, 0.84119199, 2.99636248]
assert np.allclose(g.data, expected, atol=1e-6), f"gelu values are wrong: {g.data}"
assert g.dtype == np.float32, f"float32 in should give float32 out, got {g.dtype}"
with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise"):
    warnings.simplefilter("error")
    try:
        far = gelu(Tensor([-1e30, -50.0, 50.0, 1e30]), approximate="tanh")
    except (FloatingPointError, RuntimeWarning) as err:
        raise AssertionError(f"gelu overflowed on large |x|: {err}") from None
assert np.array_equal(far.data, np.array([0.0, 0.0, 50.0, 1e30], dtype=np.float32)), \
    f"gelu should be 0 far left and x far right, got {far.data.tolist()}"
node = gelu(Tensor([0.5], requires_grad=True), approximate="tanh")._node
assert node is not None and node.op == "gelu", "gelu should record the op name 'gelu'"
### BEGIN HIDDEN TESTS
grid = np.linspace(-6, 6, 61)
ref = 0.5 * grid * (1 + np.tanh(math.sqrt(2 / math.pi) * (grid + 0.044715 * grid ** 3)))
assert np.allclose(gelu(Tensor(grid), approximate="tanh").data, ref, rtol=1e-12, atol=1e-15)
assert abs(float(gelu(Tensor(np.linspace(-2, 0, 2001)), "tanh").data.min()) + 0.17) < 0.005
### END HIDDEN TESTS

# %% [markdown]
# ### GELU's derivative
#
# GELU's slope is not a function of its output alone, so the formula takes `x`. With
# `u = √(2/π)(x + 0.044715x³)` and `t = tanh(u)`:
#
# ```
#   gelu'(x) = 0.5 · (1 + t)  +  0.5 · x · (1 - t²) · √(2/π) · (1 + 3 · 0.044715 · x²)
# ```
#
# That is why `gelu` saves nothing: its backward rule recomputes `t` from the input. Note the
# slope slightly above 1 near `x = 1.5` and slightly below 0 near `x = -1.5` — ReLU never does
# that.

# %%
def gelu_slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x ** 3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t ** 2) * _SQRT_2_OVER_PI * (
        1 + 3 * _GELU_CUBIC * x ** 2)


plot_activation("gelu", gelu, gelu_slope)

# %% [markdown]
# ### From these formulas to module 05
#
# You now have four derivative formulas, each confirmed by finite differences:
#
# | op        | saved     | derivative used by the backward rule          |
# |-----------|-----------|-----------------------------------------------|
# | `relu`    | `out`     | `1[out > 0]`                                  |
# | `sigmoid` | `out`     | `out · (1 - out)`                             |
# | `tanh`    | `out`     | `1 - out²`                                    |
# | `gelu`    | (nothing) | the formula above, recomputed from `x`        |
#
# Module 05 turns each row into a backward rule: multiply the gradient arriving from above by
# this derivative. Saving `out` is a trade — a little memory now, no recomputation of `exp` or
# `tanh` later.

# %% [markdown]
# ## 6. Softmax: scores in, probabilities out
#
# A classifier ends with one score (a *logit*) per class. Softmax turns a row of logits into a
# probability distribution: exponentiate, then divide by the row's sum.
#
# ```
#   softmax(x)_i = e^(x_i) / Σ_j e^(x_j)
#
#   logits     [ 2.0,   1.0,   0.1]
#   - max      [ 0.0,  -1.0,  -1.9]     same answer: the shift cancels in the division
#   exp        [ 1.00,  0.37,  0.15]    every exponent ≤ 0, so every exp lies in (0, 1]
#   / sum      [ 0.66,  0.24,  0.10]    non-negative, sums to 1, biggest logit wins most
# ```
#
# **Why subtract the max.** `e^1000` is infinite in any float format, and a classifier's logits
# can easily reach a few hundred. Because `e^(x-c) / Σ e^(x_j-c)` equals `e^x / Σ e^(x_j)` for
# any constant `c`, subtracting the row's maximum changes nothing mathematically, but makes
# the largest exponent exactly `e^0 = 1`: no overflow, and the sum is at least 1, so no division
# by zero either.
#
# **Which dimension.** A batch of logits has shape `(batch, classes)`; each *row* is normalised,
# so `dim=-1` is the default. Reduce with `keepdims=True` so the max and the sum broadcast back
# against the row:
#
# ```
#   x (2, 3)              x.max(dim=-1, keepdim=True) (2, 1)         x - max   (2, 3)
#   [[ 2.0, 1.0, 0.1],    [[2.0],                                    [[ 0.0, -1.0, -1.9],
#    [ 5.0, 5.0, 5.0]]     [5.0]]                                     [ 0.0,  0.0,  0.0]]
# ```
#
# **Empty input.** A tensor can have zero rows — or zero classes, and numpy cannot take the max
# of an empty row. There is nothing to normalise then: return a copy of the (empty) data.
#
# **What to record.** The softmax backward rule needs the output and the dimension: save both,
# `record_op(out, "softmax", (x,), dim=dim, out=out)`.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "softmax", "solution": true, "locked": false}
#| export
def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """Softmax along ``dim``: non-negative values that sum to 1 (op name "softmax").

    TODO: exponentiate the max-shifted input and normalise along ``dim``; save ``dim``, ``out``.
    APPROACH:
        1. An empty input has nothing to normalise: its output is a copy of it.
        2. Subtract the maximum along ``dim`` from every element. Softmax does not change when
           a row is shifted, and the largest exponent becomes e^0 = 1: nothing overflows.
        3. Exponentiate, divide by the sum along ``dim``, and record the op.
        Shapes, for ``x`` of shape (N, C) and ``dim=-1``: the max and the sum must be (N, 1),
        the reduced axis kept with size 1, so that they broadcast back over the C columns. As
        (N,) numpy would line them up with the columns instead: wrong numbers or an error.
    EXAMPLE:
        >>> softmax(Tensor([[1.0, 1.0], [0.0, 1000.0]])).data.tolist()
        [[0.5, 0.5], [0.0, 1.0]]
    HINTS:
        - numpy's ``max`` and ``sum`` take ``axis=`` and ``keepdims=True``.
        - Never take ``np.exp`` of the raw logits: ``np.exp(1000.0)`` is ``inf``.
    """
    ### BEGIN SOLUTION
    x = as_tensor(x)
    if x.data.size == 0:
        out = x.data.copy()
    else:
        shifted = x.data - x.data.max(axis=dim, keepdims=True)
        e = np.exp(shifted)
        out = e / e.sum(axis=dim, keepdims=True)
    return record_op(out, "softmax", (x,), dim=dim, out=out)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_softmax", "locked": true, "points": 10, "solution": false}
logits = Tensor([[2.0, 1.0, 0.1], [5.0, 5.0, 5.0]])
p = softmax(logits)
assert isinstance(p, Tensor), f"softmax should return a Tensor, got {type(p).__name__}"
assert p.shape == (2, 3), f"softmax keeps the shape (2, 3), got {p.shape}"
assert np.allclose(p.data[0], [0.65900114, 0.24243297, 0.09856589], atol=1e-6), \
    f"softmax of [2, 1, 0.1] is wrong: {p.data[0]}"
assert np.allclose(p.data[1], 1 / 3), f"equal logits give equal probabilities: {p.data[1]}"
assert np.allclose(p.data.sum(axis=-1), 1.0), "each row must sum to 1 (dim=-1 by default)"
assert p.dtype == np.float32, f"float32 in should give float32 out, got {p.dtype}"
cols = softmax(logits, dim=0)
assert np.allclose(cols.data.sum(axis=0), 1.0), "softmax(x, dim=0) must normalise each column"
with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise"):
    warnings.simplefilter("error")
    try:
        huge = softmax(Tensor([[1000.0, 0.0, -1000.0]]))
    except (FloatingPointError, RuntimeWarning) as err:
        raise AssertionError(f"softmax overflowed: subtract the max first ({err})") from None
assert np.allclose(huge.data, [[1.0, 0.0, 0.0]]), f"softmax of large logits: {huge.data}"
assert softmax(Tensor(np.zeros((3, 0), np.float32))).shape == (3, 0), \
    "softmax of rows with zero classes should return the empty shape (3, 0)"
node = softmax(Tensor([[0.5, 1.5]], requires_grad=True), dim=-1)._node
assert node is not None and node.op == "softmax", "softmax should record the op name 'softmax'"
assert node.saved.get("dim") == -1 and "out" in node.saved, "softmax should save dim and out"
### BEGIN HIDDEN TESTS
shift = softmax(Tensor(logits.data + 123.0))
assert np.allclose(shift.data, p.data, atol=1e-6)
assert softmax(Tensor(np.zeros((0, 4), np.float32))).shape == (0, 4)
assert softmax(Tensor(np.ones((2, 3, 4))), dim=1).data.sum(axis=1).round(6).tolist() == \
    [[1.0] * 4] * 2
### END HIDDEN TESTS

# %% [markdown]
# ### Seeing softmax
#
# Softmax is not elementwise, so its picture has two parts. Left: the same logits scaled up
# and down. Multiplying logits by a large number sharpens the distribution towards the
# largest entry ("soft" max becomes hard max); dividing flattens it towards uniform. Right: move
# the first logit while the others stay put. Its probability traces a sigmoid, and its slope
# is `p · (1 - p)` — the diagonal of softmax's derivative, the same shape of formula as
# sigmoid's. (For two classes, softmax *is* a sigmoid: `softmax([a, 0])[0] = sigmoid(a)`.)

# %%
base_logits = np.array([2.0, 1.0, 0.1])
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
for k, scale in enumerate((0.3, 1.0, 3.0)):
    probs = softmax(Tensor(base_logits * scale)).data
    left.bar(np.arange(3) + (k - 1) * 0.27, probs, width=0.27, label=f"logits x {scale}")
left.set_xticks(range(3), ["class 0", "class 1", "class 2"])
left.set_title("softmax of [2, 1, 0.1], scaled")
left.legend(fontsize=8)
a = np.linspace(-6, 8, 200)
rows = np.stack([a, np.full_like(a, 1.0), np.full_like(a, 0.1)], axis=1)   # (200, 3)
p0 = softmax(Tensor(rows), dim=-1).data[:, 0]
right.plot(a, p0, label="p0 = softmax([a, 1, 0.1])[0]")
right.plot(a, p0 * (1 - p0), label="dp0/da = p0 (1 - p0)")
right.set_xlabel("a")
right.legend(fontsize=8)
fig.tight_layout()
show(fig)

# %% [markdown]
# ## 7. Activations as objects
#
# Module 03 builds networks as lists of layers: `Sequential(Linear(784, 128), ReLU(),
# Linear(128, 10))`. For an activation to sit in that list it should be an object you can call,
# like a layer. The classes below do exactly that and nothing more: `ReLU()(x)` is `relu(x)`.
#
# ```
#   Activation                 __call__(x) → forward(x);  repr → "ReLU()"
#     ├── ReLU                 forward: relu(x)
#     ├── Sigmoid              forward: sigmoid(x)
#     ├── Tanh                 forward: tanh(x)
#     ├── GELU(approximate)    forward: gelu(x, self.approximate)
#     └── Softmax(dim=-1)      forward: softmax(x, self.dim)
# ```
#
# In PyTorch an activation is a `Module` like any layer, so a model's `modules()`, `train()`,
# `eval()` and printout reach it. Ours are too, but `Module` is written in module 03, and the
# package imports forward only: this file may not import module 03's. So the base class here
# carries what a module without parameters has (empty registries of parameters and
# sub-modules, a `training` flag), module 03 declares `Activation` a kind of `Module`
# (`isinstance(ReLU(), Module)` is then true), and any other `Module` method asked of an
# activation (`ReLU().parameters()`, `.train()`, `.state_dict()`) is looked up on module 03's
# class when it is called. One copy of each method, and no import backwards. Before module 03
# is complete, such a call names it. The shared base class is given.

# %%
#| export
class Activation:
    """Base of the activation modules: call one like a function, print it like PyTorch.

    A subclass defines ``forward(x)``; ``act(x)`` calls it. ``extra_repr`` names the settings
    shown inside the parentheses of the repr (``Softmax(dim=-1)``). Module 03 makes every
    activation a ``Module`` (see the markdown above): the registries below are the empty ones
    of a module without parameters, and other Module methods are found on module 03's class.
    """

    _parameters = MappingProxyType({})
    _modules = MappingProxyType({})
    training = True

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    def __getattr__(self, name: str):
        # Python asks only for names this class lacks: Module's methods, from module 03.
        if name.startswith("__"):
            raise AttributeError(name)
        from tinytorch._course import require

        module = require("core.layers", feature=f"{type(self).__name__}().{name}").Module
        method = getattr(module, name, None)
        if not callable(method):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        return method.__get__(self, type(self))

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward(x)")

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "activation_classes", "solution": true, "locked": false}
#| export
class ReLU(Activation):
    """``ReLU()(x)`` applies ``relu`` to ``x``.

    TODO: make ``forward`` of each class below call the function you wrote for it.
    APPROACH: one line each — ``return relu(x)``, ``return sigmoid(x)``, ...;
              ``Softmax`` passes its own ``self.dim``.
    EXAMPLE:
        >>> ReLU()(Tensor([-1.0, 2.0])).data.tolist()
        [0.0, 2.0]
        >>> Softmax(dim=0)
        Softmax(dim=0)
    HINTS: ``__call__`` and ``__repr__`` come from ``Activation``; you only write ``forward``.
    """

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        return relu(x)
        ### END SOLUTION


class Sigmoid(Activation):
    """``Sigmoid()(x)`` applies the stable ``sigmoid``."""

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        return sigmoid(x)
        ### END SOLUTION


class Tanh(Activation):
    """``Tanh()(x)`` applies ``tanh``."""

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        return tanh(x)
        ### END SOLUTION


class GELU(Activation):
    """``GELU()(x)`` applies the exact ``gelu``; ``GELU(approximate="tanh")`` the tanh form."""

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        return gelu(x, self.approximate)
        ### END SOLUTION


class Softmax(Activation):
    """``Softmax(dim)(x)`` applies ``softmax`` along ``dim`` (default: the last dimension)."""

    def __init__(self, dim: int = -1):
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        return softmax(x, self.dim)
        ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_activation_classes", "locked": true, "points": 5, "solution": false}
x = Tensor([[-1.0, 0.5, 2.0], [3.0, -2.0, 0.0]])
for act, fn in [(ReLU(), relu), (Sigmoid(), sigmoid), (Tanh(), tanh), (GELU(), gelu),
                (Softmax(), softmax)]:
    out = act(x)
    assert isinstance(out, Tensor), f"{act!r}(x) should return a Tensor"
    assert np.allclose(out.data, fn(x).data), f"{act!r}(x) should equal {fn.__name__}(x)"
    assert np.allclose(act.forward(x).data, out.data), f"{act!r}: calling should run forward"
assert repr(ReLU()) == "ReLU()" and repr(GELU()) == "GELU(approximate='none')", \
    f"repr as in PyTorch: {ReLU()!r}, {GELU()!r}"
assert repr(Softmax()) == "Softmax(dim=-1)", f"default Softmax repr: {Softmax()!r}"
assert repr(Softmax(dim=0)) == "Softmax(dim=0)", f"Softmax(dim=0) repr: {Softmax(dim=0)!r}"
assert np.allclose(Softmax(dim=0)(x).data.sum(axis=0), 1.0), "Softmax(dim=0) normalises columns"
### BEGIN HIDDEN TESTS
assert Sigmoid()(Tensor([0.0], requires_grad=True))._node.op == "sigmoid"
assert Softmax(dim=1)(Tensor(x.data, requires_grad=True))._node.saved["dim"] == 1
assert repr(Sigmoid()) == "Sigmoid()" and repr(Tanh()) == "Tanh()"
### END HIDDEN TESTS

# %% [markdown]
# ### LeakyReLU, given
#
# A ReLU unit whose input is negative for every example passes no gradient back, so it never
# recovers: a "dead" unit. `LeakyReLU` keeps a small slope for negative inputs (0.01 by
# default, PyTorch's `negative_slope`), so such a unit still learns slowly. It is built from
# `where`: for each element, `x` where `x > 0`, else `negative_slope * x`. The gradient then
# follows the chosen branch, so no new backward rule is needed, and at 0 it is
# `negative_slope`, as in PyTorch.

# %%
#| export
def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` where ``x > 0``, else ``negative_slope * x``, elementwise.

    Example:
        >>> leaky_relu(Tensor([-2.0, 0.0, 3.0]), 0.1).data.tolist()
        [-0.20000000298023224, 0.0, 3.0]
    """
    x = as_tensor(x)
    return where(x > 0, x, x * negative_slope)


class LeakyReLU(Activation):
    """``LeakyReLU(negative_slope=0.01)(x)`` applies ``leaky_relu``."""

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = float(negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def forward(self, x: Tensor) -> Tensor:
        return leaky_relu(x, self.negative_slope)

# %% [markdown]
# ## 8. Systems: what does an activation cost?
#
# Every activation runs on every element of every hidden layer, forward and backward, for every
# batch. So: what does one cost per element? We time each on a million float32 numbers (a
# 1000 × 1000 tensor) and compare with the cheapest useful thing numpy can do to an array —
# adding it to itself. Each timing is the best of several runs, which filters out interference
# from other programs. Your numbers will differ from your neighbour's; the ratios are the
# lesson.
#
# We also measure memory: Python's `tracemalloc` sees numpy's allocations, so it can report the
# most memory each call holds at once — its output plus every temporary array the formula
# creates on the way — in multiples of the input's size.

# %%
import tracemalloc

N_ROWS = N_COLS = 1000
REPEATS = 5


def ns_per_element(fn, arg) -> float:
    """Best-of-REPEATS wall time of ``fn(arg)``, in nanoseconds per element of ``arg``."""
    size = arg.size
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn(arg)
        best = min(best, time.perf_counter() - start)
    return best / size * 1e9


def peak_memory(fn, arg) -> float:
    """Most memory ``fn(arg)`` holds at once, in multiples of the size of ``arg``."""
    tracemalloc.start()
    fn(arg)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / np.asarray(arg).nbytes


candidates = {
    "numpy add (baseline)": lambda t: np.add(t.data, t.data),
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "gelu": lambda t: gelu(t, approximate="tanh"),
    "softmax (rows)": softmax,
}
costs, memory = {}, {}
data64 = np.random.default_rng(0).standard_normal((N_ROWS, N_COLS))
for dtype in (np.float32, np.float64):
    big_input = Tensor(data64.astype(dtype))
    for label, fn in candidates.items():
        costs[label, np.dtype(dtype).name] = ns_per_element(fn, big_input)
        if dtype is np.float32:
            memory[label] = peak_memory(fn, big_input)

print(f"{'op':<22}{'float32 ns/elem':>16}{'x add':>8}{'float64 ns/elem':>17}{'64 / 32':>9}"
      f"{'peak memory':>13}")
for label in candidates:
    c32, c64 = costs[label, "float32"], costs[label, "float64"]
    ratio_to_add = c32 / costs["numpy add (baseline)", "float32"]
    print(f"{label:<22}{c32:>16.2f}{ratio_to_add:>8.1f}{c64:>17.2f}{c64 / c32:>9.1f}"
          f"{memory[label]:>11.1f} x")
# The comparison the prose below discusses, in this run's numbers (they move from run to run
# and from machine to machine; the ranking of relu and tanh is not fixed).
relu32, tanh32 = costs["relu", "float32"], costs["tanh", "float32"]
faster, slower = ("relu", "tanh") if relu32 <= tanh32 else ("tanh", "relu")
print(f"this run, float32: {faster} took {min(relu32, tanh32):.2f} ns/elem and {slower} "
      f"{max(relu32, tanh32):.2f}: {slower} cost {max(relu32, tanh32) / min(relu32, tanh32):.1f}x"
      f" as much")

# %% [markdown]
# ### Where does sigmoid's time go?
#
# A one-line numpy formula is really several full passes over memory: every operator reads one
# or two million-element arrays and writes a new one. Time each step of our stable sigmoid
# separately and the cost falls into place.

# %%
x32 = data64.astype(np.float32)
z32 = np.exp(-np.abs(x32))
mask = x32 >= 0
pos, neg = 1 / (1 + z32), z32 / (1 + z32)
steps = {
    "np.abs(x)": lambda: np.abs(x32),
    "np.exp(-|x|)": lambda: np.exp(-np.abs(x32)),
    "x >= 0": lambda: x32 >= 0,
    "1 / (1 + z)": lambda: 1 / (1 + z32),
    "z / (1 + z)": lambda: z32 / (1 + z32),
    "np.where(mask, a, b)": lambda: np.where(mask, pos, neg),
}
step_costs = {k: ns_per_element(lambda _, f=f: f(), x32) for k, f in steps.items()}
for k, v in step_costs.items():
    print(f"{k:<22}{v:8.2f} ns/elem")
print(f"{'sum of the steps':<22}{sum(step_costs.values()):8.2f} ns/elem   "
      f"(sigmoid as a whole: {costs['sigmoid', 'float32']:.2f})")

# %% [markdown]
# If the whole costs clearly more than the sum of its steps on your machine, the peak-memory
# column explains it. Timed one by one, each step allocates one output, frees it, and gets the
# same block back next time. The whole formula holds four or five million-element arrays at
# once; many memory allocators hand blocks that large back to the operating system when they
# are freed, and the next call must ask for them again — the system then maps and zeroes each
# fresh 4 KB page the first time it is written. Temporaries cost time twice: once to compute,
# once to find memory for.

# %% [markdown]
# `np.where` often stands out. It does little arithmetic, so why? Give it the same amount of
# data with the same number of `True`s, once in random order and once sorted:

# %%
sorted_mask = np.sort(mask.ravel())[::-1].reshape(mask.shape)   # same count of True, in a block
where_random = ns_per_element(lambda _: np.where(mask, pos, neg), x32)
where_sorted = ns_per_element(lambda _: np.where(sorted_mask, pos, neg), x32)
print(f"np.where, random signs: {where_random:6.2f} ns/elem")
print(f"np.where, sorted signs: {where_sorted:6.2f} ns/elem")

# %% [markdown]
# On most CPUs the random mask is several times slower. The bytes are identical; what differs
# is predictability. A CPU guesses which way each branch in a loop will go and races ahead; a
# random sign pattern makes half of those guesses wrong, and each wrong guess throws away work.
# Real activations look like the random case: about half of a layer's inputs are negative, in
# no particular order.
#
# ### `x ** 3` or `x * x * x`?
#
# GELU needs a cube. The two spellings give the same numbers, but not at the same speed:

# %%
cube_pow = ns_per_element(lambda a: a ** 3, x32)
cube_mul = ns_per_element(lambda a: a * a * a, x32)
print(f"x ** 3   : {cube_pow:6.2f} ns/elem")
print(f"x * x * x: {cube_mul:6.2f} ns/elem   ({cube_pow / cube_mul:.0f}x faster)")
assert np.allclose(x32 ** 3, x32 * x32 * x32, rtol=1e-6)

# %% [markdown]
# numpy turns `x ** 2` into `x * x` by itself, but sends `x ** 3` to the general power routine,
# built for any real exponent, such as `x ** 2.7`. Two multiplications are far cheaper. That is
# why `gelu` spells its cube out.
#
# ### A cheaper sigmoid, and what it costs
#
# Since `sigmoid(x) = 0.5 + 0.5 · tanh(x / 2)`, one fast `np.tanh` could replace our half-dozen
# steps, with no overflow either. Why not use it? Look at the far left tail:

# %%
tail_x = np.array([-10.0, -20.0, -30.0], dtype=np.float32)
print("two-branch sigmoid:", sigmoid(Tensor(tail_x)).data)
print("via tanh:          ", 0.5 + 0.5 * np.tanh(tail_x / 2))
print("tanh version, ns/elem:", round(ns_per_element(lambda a: 0.5 + 0.5 * np.tanh(a / 2),
                                                     x32), 2))

# %% [markdown]
# Finally, the first table as a picture:

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
names = list(candidates)
rows_at = np.arange(len(names))
ax.barh(rows_at - 0.2, [costs[n, "float32"] for n in names], height=0.4, label="float32")
ax.barh(rows_at + 0.2, [costs[n, "float64"] for n in names], height=0.4, label="float64")
ax.set_yticks(rows_at, names)
ax.set_xlabel("nanoseconds per element (lower is better)")
ax.invert_yaxis()
ax.legend(fontsize=8)
fig.tight_layout()
show(fig)

# %% [markdown]
# **What the numbers say.**
#
# - **ReLU costs a small multiple of an add.** It is one compare-and-select per element, which a
#   CPU does many elements at a time with SIMD instructions; like the add, it is limited by how
#   fast memory can be read and written, not by arithmetic.
# - **A single transcendental function is not much dearer.** `exp` and `tanh` are not CPU
#   instructions: each is a short polynomial plus range reduction, a dozen or two operations
#   per element. numpy vectorises them well for float32, so one `np.tanh` costs the same order
#   as ReLU: the line printed under the table says which of the two was faster on this run, and
#   by how much. Do not expect "ReLU is much cheaper than tanh" to hold on every machine; what
#   makes an activation expensive is the next point.
# - **The formula's length costs more than its mathematics.** Our sigmoid is nine numpy passes
#   (`abs`, minus, `exp`, `>=`, two `1 + z`, two divisions, `where`), each writing a fresh
#   million-element temporary, and holds four to five times its input in memory at its peak;
#   GELU is around ten passes. On top of that, sigmoid's `np.where` pays for unpredictable
#   branches. A fused kernel (what PyTorch's C++ and GPU code does)
#   computes the whole formula in one pass with no temporaries and no branches — that, far more
#   than cleverer mathematics, is why it is faster. ReLU and the add hold only their output.
# - **Spelling matters.** `x ** 3` and `x * x * x` are the same number, at very different prices.
#   Before blaming the mathematics, time the individual steps.
# - **float64 costs more than float32** wherever arithmetic and memory traffic dominate: twice
#   the bytes to move, half as many numbers per SIMD instruction, and a longer polynomial to
#   reach float64 accuracy (compare the add, relu and especially the tanh rows). Where the two
#   columns are close, the overheads above — branches, fresh memory — dominate both. Networks
#   train well in float32, so that is our default.
# - **Speed is not everything.** The tanh-based sigmoid is cheaper, but loses the left tail:
#   `0.5 - 0.5 · (1 - tiny)` cancels to 0 where the true value is 2e-9 or 9e-14. The two-branch
#   form keeps those small probabilities, and module 04's losses take their logarithm.

# %% [markdown]
# ## 9. Module test
#
# The point of this module in one check: a two-layer network with hand-picked weights that
# computes XOR — a function no single linear layer can compute — followed by a softmax. It
# works only because of the ReLU in the middle.
#
# ```
#   x (4, 2) ──► h = relu(x @ W1.T + b1) (4, 2) ──► score = h @ w2.T (4, 1) ──► XOR
#                   W1 = [[1, 1], [1, 1]]               w2 = [[1, -2]]
#                   b1 = [0, -1]
# ```

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_module_activations", "locked": true, "points": 10, "solution": false}
X = Tensor(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32))
W1 = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
b1 = Tensor(np.array([0.0, -1.0], dtype=np.float32), requires_grad=True)
w2 = Tensor(np.array([[1.0, -2.0]], dtype=np.float32), requires_grad=True)
hidden = ReLU()(X @ W1.T + b1)
score = hidden @ w2.T
assert score.data.ravel().tolist() == [0.0, 1.0, 1.0, 0.0], \
    f"the ReLU network should compute XOR = [0, 1, 1, 0], got {score.data.ravel().tolist()}"
linear_only = (X @ W1.T + b1) @ w2.T
assert linear_only.data.ravel().tolist() != [0.0, 1.0, 1.0, 0.0], "without ReLU it is not XOR"
two_class = softmax((score - 0.5) * Tensor([[-6.0, 6.0]]))     # class 1 means "XOR is 1"
assert two_class.shape == (4, 2) and np.allclose(two_class.data.sum(axis=1), 1.0), \
    "softmax over 2 classes should give (4, 2) rows summing to 1"
assert two_class.data.argmax(axis=1).tolist() == [0, 1, 1, 0], \
    f"the most probable class should be XOR itself: {two_class.data.argmax(axis=1).tolist()}"
assert two_class._node.op == "softmax" and hidden._node.op == "relu", "ops should be recorded"
assert two_class.dtype == np.float32, f"the forward pass should stay float32: {two_class.dtype}"
for act in (Sigmoid(), Tanh(), GELU()):
    y = act(X @ W1.T + b1)
    assert y.shape == (4, 2) and y.dtype == np.float32, f"{act!r} broke shape or dtype"
print("Module 02 complete: activations work.")

# %% [markdown]
# ## Summary
#
# You wrote the five activations a modern network needs, each one a numpy formula that returns
# through `record_op`:
#
# - `relu` — one compare; slope 1 or 0; the default between layers.
# - `sigmoid` — into (0, 1); made stable by computing only `e^(-|x|)`, so ±1000 gives 0 and 1
#   with no warning and the tiny tail values survive.
# - `tanh` — a zero-centred sigmoid, one numpy call.
# - `gelu` — the smooth ReLU of transformers, with Python-float constants (float32 stays
#   float32) and a clipped cube (no overflow).
# - `softmax` — probabilities along a dimension, made safe by subtracting the max.
#
# You read each derivative off the forward output and confirmed it with a finite difference:
# module 05 turns those formulas into backward rules, using the `out` you saved. You wrapped the
# functions as `ReLU()`, `Sigmoid()`, `Tanh()`, `GELU()`, `Softmax(dim)` objects for module 03's
# networks, and you measured that an activation's cost comes less from its mathematics than from
# how many passes over memory its formula takes.
#
# **Next:** module 03 builds layers with parameters — `Linear`, `Sequential`, `Dropout` — and
# stacks them with these activations. Run `tito module complete 02` to export your activations
# into the `tinytorch` package; after that `x.relu()`, `x.sigmoid()`, `x.tanh()` and
# `x.softmax(dim)` work on every `Tensor`.
