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
# # Module 05 — Autograd: the chain rule, automated
#
# Training a network means nudging every weight a little in the direction that lowers the loss.
# To know that direction you need the derivative of the loss with respect to every weight — for
# an MNIST network, a hundred thousand derivatives per batch, thousands of batches per epoch.
# Nobody writes those out by hand. In this module you build the machine that computes them all
# in one backward sweep: **reverse-mode automatic differentiation**, the engine inside every deep
# learning framework.
#
# ## Learning objectives
#
# - Read a computation as a graph and run the chain rule backwards through it by hand.
# - Write one small backward rule per operation: elementwise arithmetic, matmul, reductions,
#   reshapes and indexing, activations and losses.
# - Reduce a gradient over broadcast dimensions, so a bias shared by 32 rows collects all 32.
# - Build the engine: a topological order without recursion, accumulation into the weights, a
#   graph that is freed after use, and a `no_grad()` switch.
# - Check any gradient against finite differences with `gradcheck`.
# - Measure what autograd costs: the memory a graph holds and the time backward takes.
#
# ## Where this module fits
#
# ```
#  01 Tensor ──► 02 Activations ──► 03 Layers ──► 04 Losses ──► 05 Autograd ──► 06 Optimizers
#     │               │                 │             │              ▲
#     └───────────────┴─────────────────┴─────────────┘              │
#        every forward op left a note: (op name, inputs, saved) ─────┘
# ```
#
# Modules 01–04 wrote forward math only. Each op returned its result through `record_op`, which
# attached a `Node` to the output: the op's name, its input tensors, which of them need a
# gradient, and a few values the derivative will need. This module reads those notes. Nothing
# here changes a class from an earlier module; the connection is a table from op names to
# backward rules.

# %% [markdown]
# **How to work in this notebook.** Fill in each `TODO` where it stands and run the cell; the
# graded cell after it checks your work. `tito module test 05` tests this notebook *as
# saved on disk*, so save it first (Ctrl+S): edits that are only in the browser are not tested.
# `tito module test 05 -k NAME --verbose` runs the tests whose names contain NAME and
# prints each failure in full.

# %%
#| default_exp core.autograd

# %%
import numpy as np

from tinytorch.core.tensor import Tensor, randn, manual_seed
from tinytorch.core.activations import relu, sigmoid, tanh, gelu, softmax, ReLU
from tinytorch.core.layers import Linear, linear
from tinytorch.core.losses import (log_softmax, cross_entropy, binary_cross_entropy,
                                   CrossEntropyLoss)

# %% [markdown]
# ## 1. The chain rule on a graph
#
# Take three numbers and one formula: `L = (a·b + c)²` with `a = 2`, `b = -3`, `c = 10`.
# Written as the ops our tensors record, it is a small graph:
#
# ```
#              FORWARD (values flow right)                BACKWARD (gradients flow left)
#
#   a =  2 ──┐                                      ∂L/∂a = ∂L/∂e · b = 8 · (-3) = -24
#            ├─►[ mul ]─► e = -6 ──┐                ∂L/∂b = ∂L/∂e · a = 8 ·   2  =  16
#   b = -3 ──┘                     ├─►[ add ]─► d = 4 ─►[ pow 2 ]─► L = 16
#   c = 10 ────────────────────────┘                ∂L/∂e = ∂L/∂d · 1 = 8
#                                                   ∂L/∂c = ∂L/∂d · 1 = 8
#                                                   ∂L/∂d = 2·d       = 8      ∂L/∂L = 1
# ```
#
# Read the backward column from the bottom up. We start at the output with `∂L/∂L = 1`. Each op
# receives the gradient of `L` with respect to its **output** (call it `grad`) and turns it into
# the gradient with respect to each of its **inputs**, using only its own local derivative:
#
# | op        | forward     | backward: input gradients from `grad`       |
# |-----------|-------------|---------------------------------------------|
# | `pow 2`   | `L = d²`    | `grad · 2d`                                 |
# | `add`     | `d = e + c` | `grad` to both inputs                        |
# | `mul`     | `e = a · b` | `grad · b` to `a`, `grad · a` to `b`         |
#
# That is the chain rule, one link at a time: `∂L/∂a = ∂L/∂e · ∂e/∂a`. No op needs to know
# anything about the rest of the graph. This locality is the whole trick of reverse mode: one
# backward sweep, each op visited once, gives the derivative of `L` with respect to *every*
# input — about the cost of one more forward pass, however many weights there are.
#
# Two situations need care, and the engine handles both:
#
# - **A value used twice** (a weight shared by two layers, or `x * x`) receives a gradient from
#   each use. The chain rule for several paths says: add them up.
# - **An op may only run backward once all its consumers have reported.** `d` above must have
#   its full gradient before `add` splits it. The engine therefore visits ops in *reverse
#   topological order* — every consumer before its producers.
#
# Let's check the numbers with the note that module 01 already records:

# %%
a = Tensor(2.0, requires_grad=True)
b = Tensor(-3.0, requires_grad=True)
c = Tensor(10.0, requires_grad=True)
L = (a * b + c) ** 2
print("L =", L.item(), "| made by", L._node.op, "from", L._node.inputs[0]._node.op)

# %% [markdown]
# ## 2. The registry: op name → backward rule
#
# A backward rule is a plain function `rule(grad, node) -> tuple`:
#
# - `grad` is the numpy array `∂L/∂output`, with the output's shape;
# - `node` is the note: `node.inputs` (the input Tensors), `node.needs` (which inputs want a
#   gradient) and `node.saved` (the values the forward op saved, such as `out` or `dim`);
# - it returns one entry per input: a numpy array, or `None` where `node.needs[i]` is False.
#
# That last point matters for speed. The first Linear layer of an MNIST model multiplies the
# images by a weight matrix; nobody wants the gradient with respect to the *images*, and
# computing it would be one more large matmul per batch. A rule computes only what is needed.
#
# Rules find their op through a dictionary filled by a decorator, `@backward_rule("mul")`. This
# is how the forward code of modules 01–04 and the derivatives of this module meet without
# either one modifying the other (PyTorch keeps its derivative formulas apart from its kernels
# the same way). The cell below is given.

# %%
#| export
import functools
import math
from typing import Callable, Sequence

import numpy as np

from tinytorch.core.tensor import Node, Tensor, set_grad_enabled

_RULES: dict[str, Callable] = {}


def backward_rule(op: str) -> Callable:
    """Register the decorated function as the backward rule of the op called ``op``."""
    def register(rule: Callable) -> Callable:
        _RULES[op] = rule
        return rule
    return register


def registered_ops() -> list[str]:
    """Names of every op that has a backward rule."""
    return sorted(_RULES)


# %% [markdown]
# ## 3. First rules: elementwise arithmetic
#
# Each rule is the local derivative from calculus, multiplied by `grad`:
#
# | op    | forward   | gradient to `a`          | gradient to `b`                |
# |-------|-----------|--------------------------|--------------------------------|
# | `add` | `a + b`   | `grad`                   | `grad`                         |
# | `sub` | `a - b`   | `grad`                   | `-grad`                        |
# | `mul` | `a * b`   | `grad * b`               | `grad * a`                     |
# | `div` | `a / b`   | `grad / b`               | `-grad * a / b²`               |
# | `neg` | `-a`      | `-grad`                  |                                |
# | `pow` | `a ** e`  | `grad * e * a**(e-1)`    | `grad * out * ln(a)` (for `e`) |
#
# Write them with numpy on `.data`. Don't worry about shapes yet: when `a` is `(32, 10)` and
# `b` is `(10,)`, `grad * a.data` has shape `(32, 10)` and is *not* yet the right gradient for
# `b`. Your rules return the gradient in the broadcast shape; section 4 reduces it, once, for
# every rule.
#
# `add` can return the very same `grad` array for both inputs — no copy. That saves memory, and
# it is also why nobody downstream may ever modify a gradient array in place (section 5).

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "elementwise_rules", "solution": true, "locked": false}
#| export
@backward_rule("add")
def add_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradients of ``a + b``.

    TODO: return ``(grad_a, grad_b)``; an entry is ``None`` when ``node.needs[i]`` is False.
    APPROACH: the derivative of ``a + b`` is 1 for both inputs, so both get ``grad`` itself.
    EXAMPLE: add_backward(g, node) -> (g, g) when both inputs need a gradient
    HINTS: ``g if node.needs[0] else None`` — no copy is needed.
    """
    ### BEGIN SOLUTION
    return (grad if node.needs[0] else None, grad if node.needs[1] else None)
    ### END SOLUTION


@backward_rule("sub")
def sub_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradients of ``a - b``: ``grad`` and ``-grad``."""
    ### BEGIN SOLUTION
    return (grad if node.needs[0] else None, -grad if node.needs[1] else None)
    ### END SOLUTION


@backward_rule("mul")
def mul_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradients of ``a * b``: each input gets ``grad`` times the *other* input.

    HINTS: ``a, b = node.inputs``; use ``a.data`` and ``b.data``.
    """
    ### BEGIN SOLUTION
    a, b = node.inputs
    return (grad * b.data if node.needs[0] else None,
            grad * a.data if node.needs[1] else None)
    ### END SOLUTION


@backward_rule("div")
def div_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradients of ``a / b``: ``grad / b`` and ``-grad * a / b**2``."""
    ### BEGIN SOLUTION
    a, b = node.inputs
    grad_a = grad / b.data if node.needs[0] else None
    grad_b = -grad * a.data / (b.data * b.data) if node.needs[1] else None
    return (grad_a, grad_b)
    ### END SOLUTION


@backward_rule("neg")
def neg_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``-a``. A one-input rule still returns a tuple: ``(grad_a,)``."""
    ### BEGIN SOLUTION
    return (-grad,)
    ### END SOLUTION


@backward_rule("pow")
def pow_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradients of ``a ** e``; the inputs are ``(a, e)`` and ``node.saved["out"]`` is ``a ** e``.

    TODO: ``grad * e * a**(e - 1)`` for ``a``; ``grad * out * ln(a)`` for ``e``.
    HINTS: the exponent rarely needs a gradient (``x ** 2``), so check ``node.needs[1]`` before
        paying for a logarithm. Two places where numpy computes ``nan`` but the answer is 0:
        the gradient to ``a`` where ``e == 0`` (``a ** 0`` is constant, yet numpy computes
        ``0 * 0**-1`` at ``a == 0``), and the gradient to ``e`` where ``a == 0`` and ``e >= 0``
        (``0 * ln 0`` has the limit 0). ``np.where(mask, 0, g).astype(g.dtype)`` sets them.
    """
    ### BEGIN SOLUTION
    a, e = node.inputs
    grad_a = grad_e = None
    if node.needs[0]:
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_a = grad * e.data * np.power(a.data, e.data - 1)
        if np.any(e.data == 0):
            grad_a = np.where(e.data == 0, 0, grad_a).astype(grad_a.dtype)
    if node.needs[1]:
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_e = grad * node.saved["out"] * np.log(a.data)
        grad_e = np.where((a.data == 0) & (e.data >= 0), 0, grad_e).astype(grad_e.dtype)
    return (grad_a, grad_e)
    ### END SOLUTION


# %% [markdown]
# A rule is an ordinary function, so we can test it by hand: make a node with `record_op` (any
# op of module 01 does that) and call the rule with a made-up `grad`.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_elementwise_rules", "locked": true, "points": 10, "solution": false}
x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
y = Tensor([4.0, 5.0, 6.0], requires_grad=True)
g = np.array([1.0, 10.0, 100.0], dtype=np.float32)
ga, gb = add_backward(g, (x + y)._node)
assert np.allclose(ga, g) and np.allclose(gb, g), "add passes grad to both inputs"
ga, gb = sub_backward(g, (x - y)._node)
assert np.allclose(ga, g) and np.allclose(gb, -g), "sub: grad and -grad"
ga, gb = mul_backward(g, (x * y)._node)
assert np.allclose(ga, [4.0, 50.0, 600.0]), f"mul: grad_a = grad * b, got {ga}"
assert np.allclose(gb, [1.0, 20.0, 300.0]), f"mul: grad_b = grad * a, got {gb}"
ga, gb = div_backward(g, (x / y)._node)
assert np.allclose(ga, g / y.data), f"div: grad_a = grad / b, got {ga}"
assert np.allclose(gb, -g * x.data / y.data ** 2), f"div: grad_b = -grad*a/b^2, got {gb}"
(gn,) = neg_backward(g, (-x)._node)
assert np.allclose(gn, -g), "neg: -grad"
ga, ge = pow_backward(g, (x ** 3)._node)
assert np.allclose(ga, g * 3 * x.data ** 2), f"pow: grad * 3 * x^2, got {ga}"
assert ge is None, "the exponent 3 is a constant: its gradient must not be computed (None)"
zero = Tensor([0.0, 2.0], requires_grad=True)
ga, _ = pow_backward(np.ones(2, np.float32), (zero ** 0)._node)
assert np.all(ga == 0), f"x ** 0 is constant: its gradient is 0, also at x = 0; got {ga}"
const = Tensor([2.0, 2.0, 2.0])
ga, gb = mul_backward(g, (x * const)._node)
assert gb is None, "mul: an input that does not require grad gets None"
assert ga.dtype == np.float32, "float32 in, float32 gradients out"
### BEGIN HIDDEN TESTS
e = Tensor([2.0, 0.5, 1.0], requires_grad=True)
p = x ** e
ga, ge = pow_backward(g, p._node)
assert np.allclose(ge, g * p.data * np.log(x.data), atol=1e-4)
assert sub_backward(g, (const - y)._node)[0] is None
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Broadcasting, undone
#
# In module 01, `x + bias` with `x` of shape `(32, 10)` and `bias` of shape `(10,)` stretched the
# bias over 32 rows without copying it. The bias was *used* 32 times, so — the rule for a value
# used several times — its gradient is the **sum** of the 32 row gradients.
#
# ```
#   forward:  bias (10,) ──stretched──► (32, 10)        x + bias -> (32, 10)
#   backward: grad (32, 10) ──sum over the stretched axis──► (10,)
#
#   the two ways a shape gets stretched, and their reductions:
#     missing leading dims   (10,)   -> (32, 10)    sum over axis 0, drop it
#     dims of size 1         (3, 1)  -> (3, 4)      sum over axis 1, keep it as size 1
# ```
#
# `unbroadcast(grad, shape)` does both. The engine calls it on every gradient every rule
# returns, so the rules above (and all later ones) never think about broadcasting. One place,
# one reduction.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "unbroadcast", "solution": true, "locked": false}
#| export
def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape``, undoing numpy broadcasting.

    TODO: sum over the leading dimensions ``shape`` does not have, and over every dimension
        where ``shape`` has size 1 but ``grad`` does not.
    APPROACH:
        1. If the shapes already agree, return ``grad`` unchanged (no copy).
        2. ``extra = grad.ndim - len(shape)``; if negative, return ``grad`` (it cannot be a
           broadcast; the engine's shape check will report it).
        3. Collect the axes to sum: ``0 .. extra-1``, plus ``extra + i`` for every ``i``
           where ``shape[i] == 1`` and ``grad.shape[extra + i] != 1``.
        4. One ``grad.sum(axis=axes, keepdims=True)``, then drop the first ``extra`` dims.
    EXAMPLE: unbroadcast(np.ones((32, 10)), (10,)) -> array of 32.0, shape (10,)
             unbroadcast(np.ones((3, 4)), (3, 1))  -> array of 4.0, shape (3, 1)
    HINTS: dropping leading size-1 dims: ``out.reshape(out.shape[extra:])``.
    """
    ### BEGIN SOLUTION
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        return grad
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    return out.reshape(out.shape[extra:])
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_unbroadcast", "locked": true, "points": 5, "solution": false}
r = unbroadcast(np.ones((32, 10), np.float32), (10,))
assert r.shape == (10,), f"(32, 10) -> (10,): got shape {r.shape}"
assert np.all(r == 32.0), "each bias entry was used 32 times: its gradient is 32"
r = unbroadcast(np.ones((3, 4), np.float32), (3, 1))
assert r.shape == (3, 1) and np.all(r == 4.0), f"(3, 4) -> (3, 1) sums each row, got {r}"
r = unbroadcast(np.arange(6, dtype=np.float32).reshape(2, 3), ())
assert r.shape == () and float(r) == 15.0, "to a scalar: sum of everything"
same = np.ones((2, 3), np.float32)
assert unbroadcast(same, (2, 3)) is same, "matching shapes: return the same array, no copy"
assert r.dtype == np.float32, "the sum keeps float32"
### BEGIN HIDDEN TESTS
r = unbroadcast(np.ones((5, 2, 3, 4), np.float32), (2, 1, 4))
assert r.shape == (2, 1, 4) and np.all(r == 15.0)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. The engine
#
# ### 5a. Topological order, without recursion
#
# The engine must run each op's rule once, after every op that consumed its output. A
# depth-first search gives that order: finish all of a tensor's inputs, then list the tensor
# (a *post-order*); reversed, the list starts at the loss and every tensor comes before the
# tensors it was made from.
#
# ```
#   graph (arrows: "was made from")         post-order      reversed = backward order
#        L ─► d ─► e ─► a,b (leaves)        e, d, L         L, d, e
#             └──► c (leaf)
# ```
#
# The textbook version is recursive, and Python refuses more than about 1,000 nested calls: a
# recurrent network unrolled over a long sequence is easily 10,000 ops deep. So we keep our own
# stack. Each entry is `(tensor, expanded)`: the first time we pop a tensor we push it back
# marked `expanded=True` and then push its inputs above it; when it comes off the stack again,
# all its inputs are finished and it joins the order. A `visited` set (of `id(tensor)`) makes a
# shared subgraph visited once, not once per path — without it a ladder of 50 shared steps
# would mean 2⁵⁰ visits.
#
# Only tensors with a note (`_node`) belong in the order; leaves (your weights) have no rule to
# run, and inputs with `needs[i] == False` need nothing at all.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "topological_order", "solution": true, "locked": false}
#| export
def topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor with a graph note that ``root`` depends on, consumers before producers.

    TODO: iterative depth-first search from ``root`` over ``t._node.inputs``.
    APPROACH:
        1. If ``root._node`` is None, return ``[]``.
        2. ``stack = [(root, False)]``, ``visited = set()``, ``order = []``.
        3. Pop ``(t, expanded)``. If expanded, append ``t`` to ``order``. Otherwise, unless
           ``id(t)`` was visited: mark it, push ``(t, True)``, then push ``(inp, False)`` for
           every input with ``needs[i]`` True and a ``_node`` of its own.
        4. Return ``order`` reversed (``root`` first).
    EXAMPLE: for L = (a*b + c)**2 the order is [L, d, e] (three ops; a, b, c are leaves).
    HINTS: ``zip(node.inputs, node.needs)``; never call the function recursively.
    """
    ### BEGIN SOLUTION
    if root._node is None:
        return []
    order: list[Tensor] = []
    visited: set[int] = set()
    stack = [(root, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        node = t._node
        for inp, need in zip(node.inputs, node.needs):
            if need and inp._node is not None and id(inp) not in visited:
                stack.append((inp, False))
    order.reverse()
    return order
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_topological_order", "locked": true, "points": 10, "solution": false}
a = Tensor(2.0, requires_grad=True)
b = Tensor(-3.0, requires_grad=True)
c = Tensor(10.0, requires_grad=True)
e = a * b
d = e + c
L = d ** 2
order = topological_order(L)
assert [t._node.op for t in order] == ["pow", "add", "mul"], \
    f"expected ops pow, add, mul (loss first), got {[t._node.op for t in order]}"
assert all(t._node is not None for t in order), "leaves have no rule: keep them out"
# A diamond: h is used by two consumers but must appear once, before neither of them.
h = a * 2.0
top = h * h + h.exp()
order = topological_order(top)
ids = [id(t) for t in order]
assert ids.count(id(h)) == 1, "a shared tensor must be visited once"
assert ids.index(id(h)) == len(ids) - 1, "h feeds everything else, so it comes last"
# Deep chains must not hit Python's recursion limit.
deep = a
for _ in range(5000):
    deep = deep + 1.0
assert len(topological_order(deep)) == 5000, "a 5000-op chain has 5000 ops in its order"
assert topological_order(a) == [], "a leaf has no ops to run"
### BEGIN HIDDEN TESTS
ladder = a * 1.0
for _ in range(40):
    ladder = ladder + ladder
assert len(topological_order(ladder)) == 41
### END HIDDEN TESTS

# %% [markdown]
# ### 5b. Accumulating into the leaves
#
# Leaves — tensors you made, like weights — have no note; they collect gradients in `.grad`.
# Two rules, and the second one is subtle:
#
# 1. **The first contribution is stored as is, without a copy.** Copying a 100,000-weight
#    gradient costs time and memory for nothing.
# 2. **Later contributions make a new array: `leaf.grad = Tensor(old + g)`, never `old += g`.**
#    Remember that `add_backward` hands the *same* array to both of its inputs. If `w1` and `w2`
#    both got that array as their `.grad`, an in-place `w1.grad.data += more` would silently
#    change `w2.grad` too:
#
# ```
#   y = w1 + w2  ──backward──►  w1.grad.data ──┐
#                               w2.grad.data ──┴──► the same array in memory
#   w1.grad.data += 5   # would corrupt w2.grad as well
# ```
#
# Contributions add up both within one `backward()` (a weight used twice) and across calls (two
# `backward()` calls without `zero_grad()` in between — PyTorch behaves the same, and module 06
# clears gradients before each step for exactly this reason). One more case: a gradient may be a
# read-only broadcast view (the sum rule below makes one); a leaf then gets its own copy, so that
# its `.grad` is an ordinary array.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "accumulate_grad", "solution": true, "locked": false}
#| export
def accumulate_grad(leaf: Tensor, grad: np.ndarray) -> None:
    """Add ``grad`` to ``leaf.grad`` (a Tensor, or None before the first contribution).

    TODO: store the first contribution without copying; sum later ones into a NEW array.
    APPROACH:
        1. ``leaf.grad is None``: wrap ``grad`` in a Tensor — copy it first only when it is
           read-only (``not grad.flags.writeable``).
        2. Otherwise ``leaf.grad = Tensor(leaf.grad.data + grad)``.
    HINTS: never ``+=`` on an array that is already somebody's ``.grad``.
    """
    ### BEGIN SOLUTION
    if leaf.grad is None:
        if not grad.flags.writeable:
            grad = grad.copy()
        leaf.grad = Tensor(grad)
    else:
        leaf.grad = Tensor(leaf.grad.data + grad)
    ### END SOLUTION


# %% [markdown]
# ### 5c. `backward`
#
# Now the loop that ties it together. Given code first: the checks at the door (a scalar loss
# needs no `gradient` argument; anything else does), and `_fit`, which passes each gradient a
# rule returns through `unbroadcast` and checks its shape — so that a wrong rule fails *here*,
# with the op's name, instead of three layers later with a numpy broadcasting error.

# %%
#| export
def _initial_gradient(tensor: Tensor, gradient) -> np.ndarray:
    """The gradient backward() starts from: 1 for a one-element output, else ``gradient``."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"backward() needs a Tensor, got {type(tensor).__name__}")
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward(): this tensor does not require grad, so there is no graph to "
            "differentiate. Create the leaves (the weights) with requires_grad=True, and do not "
            "compute the loss inside no_grad().")
    if gradient is None:
        if tensor.data.size != 1:
            raise RuntimeError(
                f"backward(): the output has shape {tensor.shape}; only a one-element output "
                f"gets the implicit gradient 1. Pass gradient= an array of shape "
                f"{tensor.shape} (e.g. ones_like(out)), or reduce first (out.sum()).")
        return np.array(1, dtype=tensor.data.dtype).reshape(tensor.shape)
    g = gradient.data if isinstance(gradient, Tensor) else gradient
    # A copy in the output's dtype: the caller's array must never become somebody's .grad.
    g = np.array(g, dtype=tensor.data.dtype)
    if g.shape != tensor.shape:
        raise RuntimeError(f"backward(): gradient has shape {g.shape} but the output has shape "
                           f"{tensor.shape}; they must match")
    return g


def _run_rule(node: Node, grad: np.ndarray) -> tuple:
    """Look up and call the backward rule of ``node``, checking what it returns."""
    if node.saved is None:
        raise RuntimeError(
            f"backward(): the graph through op '{node.op}' was freed by an earlier backward(). "
            f"Pass retain_graph=True to the first backward() to go through the graph twice.")
    if type(grad) is not np.ndarray:
        grad = np.asarray(grad)   # ops on 0-d arrays give numpy scalars; rules expect arrays
    if node.retains is not None:
        _keep_gradient(node.retains(), grad)
    rule = _RULES.get(node.op)
    if rule is None:
        raise RuntimeError(
            f"backward(): no backward rule is registered for op '{node.op}'. Write one with "
            f"@backward_rule('{node.op}') (module 05, autograd).")
    grads = rule(grad, node)
    if not isinstance(grads, (tuple, list)) or len(grads) != len(node.inputs):
        got = len(grads) if isinstance(grads, (tuple, list)) else type(grads).__name__
        raise RuntimeError(f"backward rule '{node.op}' must return a tuple with one gradient per "
                           f"input ({len(node.inputs)}), got {got}")
    return _unshared(grads, node.needs)


def _keep_gradient(output, grad: np.ndarray) -> None:
    """Add ``grad``, the whole gradient of a tensor that called retain_grad(), to its ``.grad``
    as ``accumulate_grad`` does for a leaf.

    A copy: the rule still hands ``grad`` on, possibly to a leaf as its own ``.grad``.
    """
    if output is not None:                   # else the tensor is gone; nobody can read it
        accumulate_grad(output, np.array(grad, dtype=output.data.dtype))


def _unshared(grads, needs) -> tuple:
    """The rule's gradients, each in memory of its own.

    ``add`` hands its incoming gradient to both inputs: without a copy, two leaves would share
    one ``.grad`` array, and zeroing one in place would zero the other. The incoming gradient
    belongs to this op alone, so one input may keep it (or a view of it); only a second
    gradient over the same memory is copied. Rules that compute fresh arrays pay nothing but
    the check.
    """
    if len(grads) < 2:
        return grads
    out, seen = list(grads), []
    for i, (g, need) in enumerate(zip(grads, needs)):
        if need and type(g) is np.ndarray:
            for other in seen:
                # two arrays that own their memory share none of it unless they are one
                fresh = g.base is None and other.base is None
                if g is other or (not fresh and np.may_share_memory(g, other)):
                    out[i] = g = g.copy()
                    break
            seen.append(g)
    return tuple(out)


def _fit(grad, inp: Tensor, op: str, i: int) -> np.ndarray:
    """Reduce a rule's gradient to the input's shape and dtype, or name the rule that erred."""
    data = inp.data
    if type(grad) is np.ndarray and grad.shape == data.shape and grad.dtype == data.dtype:
        return grad                       # the common case: nothing to reduce or convert
    if grad is None:
        raise RuntimeError(f"backward rule '{op}' returned None for input {i}, which requires "
                           f"a gradient")
    if type(grad) is not np.ndarray:
        grad = np.asarray(grad)
    grad = unbroadcast(grad, inp.data.shape)
    if grad.shape != inp.data.shape:
        raise RuntimeError(f"backward rule '{op}' returned a gradient of shape {grad.shape} for "
                           f"input {i}, which has shape {inp.data.shape}")
    if grad.dtype != inp.data.dtype:
        grad = grad.astype(inp.data.dtype)
    return grad


# %% [markdown]
# Your part is the loop. Gradients of intermediate tensors live in a dictionary keyed by
# `id(tensor)` until their op runs; leaves get theirs through `accumulate_grad`. After an op has
# run, the engine frees its note (`node.saved = None`, `node.inputs = ()`) unless
# `retain_graph=True`: the saved activations of a large network are most of its memory, and
# they are useless once the gradients are out. A second `backward()` through a freed graph
# then fails with a message saying what to do (that check is in `_run_rule`).
#
# An intermediate gradient is dropped once its op has run, so only leaves end up with a
# `.grad`. To look at one anyway (a good way to watch gradients shrink through a deep
# network), call `h.retain_grad()` before `backward()`: `_run_rule` receives the whole
# gradient of `h` at the moment `h`'s op runs, and keeps a copy in `h.grad`. Your loop needs
# nothing extra for it.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "backward_engine", "solution": true, "locked": false}
#| export
def backward(tensor: Tensor, gradient=None, retain_graph: bool = False) -> None:
    """Fill ``.grad`` of every leaf that ``tensor`` depends on (``Tensor.backward`` calls this).

    TODO: walk the graph in topological order, run each rule once, pass gradients on.
    APPROACH:
        1. ``g = _initial_gradient(tensor, gradient)``. If ``tensor`` is itself a leaf
           (``_node is None``), ``accumulate_grad`` it and return.
        2. ``grads = {id(tensor): g}``. For each ``t`` in ``topological_order(tensor)``:
           ``node = t._node``, ``g = grads.pop(id(t))``, ``results = _run_rule(node, g)``.
        3. For each ``(inp, need, r)`` in ``zip(node.inputs, node.needs, results)`` with
           ``need`` True: ``r = _fit(r, inp, node.op, i)``; a leaf gets
           ``accumulate_grad(inp, r)``; a non-leaf gets ``r`` stored in ``grads`` — or added
           (into a new array) to what is already there. Never ``+=``: a rule may hand one
           array to several inputs (``add`` does), and broadcast gradients are read-only.
        4. Unless ``retain_graph``, free the note: ``node.saved = None``, ``node.inputs = ()``.
    EXAMPLE: L = (a*b + c)**2 with a=2, b=-3, c=10: backward(L) gives a.grad = -24.
    HINTS: ``enumerate`` gives you ``i`` for the error message of ``_fit``.
    """
    ### BEGIN SOLUTION
    g = _initial_gradient(tensor, gradient)
    if tensor._node is None:
        accumulate_grad(tensor, g)
        return
    grads = {id(tensor): g}
    for t in topological_order(tensor):
        node = t._node
        results = _run_rule(node, grads.pop(id(t)))
        for i, (inp, need, r) in enumerate(zip(node.inputs, node.needs, results)):
            if not need:
                continue
            r = _fit(r, inp, node.op, i)
            if inp._node is None:
                accumulate_grad(inp, r)
            else:
                key = id(inp)
                previous = grads.get(key)
                grads[key] = r if previous is None else previous + r
        if not retain_graph:
            node.saved = None
            node.inputs = ()
    ### END SOLUTION


# %% [markdown]
# `Tensor.backward()` (written in module 01) calls `tinytorch.core.autograd.backward` — the
# *package* version, which exists once you export this module. Inside this notebook we call our
# own `backward(L)` directly, so the tests below check the code you just wrote.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_backward_engine", "locked": true, "points": 15, "solution": false}
a = Tensor(2.0, requires_grad=True)
b = Tensor(-3.0, requires_grad=True)
c = Tensor(10.0, requires_grad=True)
backward((a * b + c) ** 2)
assert (a.grad.item(), b.grad.item(), c.grad.item()) == (-24.0, 16.0, 8.0), \
    f"the worked example gives -24, 16, 8; got {a.grad.item()}, {b.grad.item()}, {c.grad.item()}"
# A value used twice gets the sum of both contributions: d(x*x + x)/dx = 2x + 1.
x = Tensor([1.0, 2.0], requires_grad=True)
backward(x * x + x, np.ones(2, np.float32))
assert x.grad is not None and np.allclose(x.grad.data, [3.0, 5.0]), f"x*x + x: got {x.grad}"
# Broadcasting: a bias used by 4 rows collects 4 gradients.
w = Tensor(np.ones((4, 3), np.float32))
bias = Tensor(np.zeros(3, np.float32), requires_grad=True)
out = w + bias
backward(out, np.ones((4, 3), np.float32))
assert bias.grad.shape == (3,) and np.all(bias.grad.data == 4.0), "bias gradient must be 4s"
assert bias.grad.dtype == np.float32, "gradients keep float32"
# Two backward calls add up, into a NEW array (the first one may be shared).
p = Tensor([1.0, 2.0], requires_grad=True)
q = Tensor([3.0, 4.0], requires_grad=True)
y = p + q
backward(y, np.ones(2, np.float32), retain_graph=True)
first = p.grad.data
backward(y, np.ones(2, np.float32))
assert np.all(p.grad.data == 2.0) and np.all(first == 1.0), \
    "a second backward() must add into a new array, leaving the first one untouched"
try:
    backward(y, np.ones(2, np.float32))
    raise AssertionError("a freed graph must refuse a third backward()")
except RuntimeError as err:
    assert "retain_graph" in str(err), f"say how to fix it: {err}"
try:
    backward(Tensor([1.0, 2.0], requires_grad=True) * 2.0)
    raise AssertionError("a non-scalar output without a gradient must raise")
except RuntimeError as err:
    assert "gradient" in str(err), f"say what to pass: {err}"
### BEGIN HIDDEN TESTS
try:
    backward(Tensor([1.0]) * 2.0)
    raise AssertionError("no grad required")
except RuntimeError:
    pass
s = Tensor(3.0, requires_grad=True)
backward(s)
assert s.grad.item() == 1.0
p1 = Tensor([1.0, 2.0], requires_grad=True)
q1 = Tensor([3.0, 4.0], requires_grad=True)
y1, y2 = p1 * 2.0, q1 * 2.0
seed = np.ones(2, np.float32)
backward((y1 + y2) + y1, seed)
assert np.all(p1.grad.data == 4.0) and np.all(q1.grad.data == 2.0) and np.all(seed == 1.0)
from tinytorch.core.tensor import record_op


@backward_rule("grading_view")   # like sum's rule: a read-only broadcast view of the gradient
def _grading_view_rule(grad, node):
    return (np.broadcast_to(grad.sum(), node.inputs[0].shape),)


for flip in (False, True):
    leaf = Tensor([1.0, 2.0], requires_grad=True)
    mid = leaf * 2.0
    viewed = record_op(mid.data.sum(keepdims=True), "grading_view", (mid,))
    tripled = mid * 3.0
    backward(tripled + viewed if flip else viewed + tripled, np.ones(2, np.float32))
    assert np.allclose(leaf.grad.data, 2.0 * (3.0 + 2.0)), \
        f"mid gets 3 + 2 from its two uses, so leaf gets 10; got {leaf.grad}"
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Checking gradients: `gradcheck`
#
# A backward rule can be wrong in ways that still train — slowly, or to a worse model. The
# reliable test is numerical: nudge one input element by a tiny `ε` in each direction and watch
# the output,
#
# ```
#        ∂f        f(x + ε) − f(x − ε)
#       ──── ≈  ─────────────────────     (central difference; error shrinks like ε²)
#        ∂x              2ε
# ```
#
# and compare with what the engine computed. Two details make it trustworthy:
#
# - **float64.** With `ε = 1e-6`, float32's seven significant digits would drown the
#   difference in rounding noise; float64 has sixteen. Every `gradcheck` input is float64.
# - **A random projection.** For a non-scalar output we check `Σ w·f(x)` with fixed random
#   weights `w` rather than `Σ f(x)`. Summing is too kind: the outputs of softmax always sum to
#   1, so the gradient of their sum is zero whatever the rule returns.
#
# `gradcheck` is given: it is a testing tool rather than part of the engine. Read it — it is the
# judge of every rule in the rest of this module, and of the tests in `tests/`.

# %%
#| export
def gradcheck(fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3) -> bool:
    """Compare the engine's gradients of ``fn(*inputs)`` with central finite differences.

    ``inputs`` are float64 Tensors; those with ``requires_grad`` are checked. A non-scalar
    output is projected onto fixed random weights first. Returns True, or raises
    AssertionError naming the op, the input and the position of the worst mismatch.
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for i in checked:
        if inputs[i].data.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].data.dtype}; use float64 "
                            f"inputs (Tensor(x, dtype=np.float64, requires_grad=True))")
    kept = [t.grad for t in inputs if isinstance(t, Tensor)]
    previous_mode = set_grad_enabled(True)
    try:
        for i in checked:
            inputs[i].grad = None
        out = fn(*inputs)
        if not isinstance(out, Tensor) or not out.requires_grad:
            raise ValueError("gradcheck: fn's output does not depend on any input that "
                             "requires grad")
        op = out._node.op if out._node is not None else "(no op)"
        rng = np.random.default_rng(0)
        weights = rng.uniform(0.5, 1.5, out.shape) * rng.choice([-1.0, 1.0], out.shape)
        backward(out, weights)

        def projected() -> float:
            set_grad_enabled(False)
            try:
                return float(np.sum(fn(*inputs).data * weights))
            finally:
                set_grad_enabled(True)

        worst = None
        for i in checked:
            t = inputs[i]
            analytic = t.grad.data if t.grad is not None else np.zeros_like(t.data)
            if analytic.shape != t.data.shape:
                raise AssertionError(f"gradcheck ({op}): gradient of input {i} has shape "
                                     f"{analytic.shape}, the input has shape {t.data.shape}")
            for idx in np.ndindex(t.data.shape):
                original = t.data[idx]
                t.data[idx] = original + eps
                up = projected()
                t.data[idx] = original - eps
                down = projected()
                t.data[idx] = original
                numeric = (up - down) / (2 * eps)
                excess = abs(analytic[idx] - numeric) - (atol + rtol * abs(numeric))
                if not excess <= 0 and (worst is None or not excess <= worst[0]):
                    worst = (excess, i, idx, float(analytic[idx]), numeric)
        if worst is not None:
            _, i, idx, got, numeric = worst
            raise AssertionError(
                f"gradcheck failed for op '{op}': input {i} at position {idx}: analytic "
                f"{got:.6g}, numeric {numeric:.6g} (tolerance atol={atol}, rtol={rtol})")
        return True
    finally:
        set_grad_enabled(previous_mode)
        for t, g in zip((t for t in inputs if isinstance(t, Tensor)), kept):
            t.grad = g


# %% [markdown]
# The tests below make their float64 inputs with a small helper, `_f64(*shape)`: random normal
# values, or uniform values in `[low, 2)` when an op needs positive inputs (`log`). Let's check
# two rules from section 3 — with a broadcast, so that `unbroadcast` is exercised too.

# %%
def _f64(*shape, seed: int = 0, low: float | None = None) -> Tensor:
    """A float64 tensor of random values that requires grad (for gradient checks)."""
    rng = np.random.default_rng(seed)
    data = rng.uniform(low, 2.0, shape) if low is not None else rng.standard_normal(shape)
    return Tensor(np.asarray(data, dtype=np.float64), requires_grad=True)


xs = _f64(3, 1, seed=1)
ys = _f64(1, 4, seed=2)
print("broadcast mul:", gradcheck(lambda p, q: p * q, [xs, ys]))
print("division:     ", gradcheck(lambda p, q: p / q, [_f64(2, 5, seed=3), _f64(5, low=0.5)]))

# %% [markdown]
# ## 7. Matrix multiplication
#
# For `C = A @ B` with `A (n, k)`, `B (k, m)`: every `A[i, p]` meets every `B[p, j]` in
# `C[i, j]`, so
#
# ```
#   ∂L/∂A = grad @ Bᵀ      (n, m) @ (m, k) -> (n, k)   ✓ the shape of A
#   ∂L/∂B = Aᵀ @ grad      (k, n) @ (n, m) -> (k, m)   ✓ the shape of B
# ```
#
# If you forget which side the transpose goes on, let the shapes decide: there is only one way
# to combine `grad` with the other operand into the right shape.
#
# `np.matmul` accepts more than matrices, and so must the rule:
#
# - **stacks** `(b, n, k) @ (b, k, m)`: the same formulas with the last two axes swapped
#   (`np.swapaxes(x, -1, -2)`); batch dimensions that broadcast are reduced by the engine;
# - **1-D operands**: a vector `(k,)` on the left acts as a row `(1, k)`, on the right as a
#   column `(k, 1)`. Promote it, use the matrix formulas, then drop the added axis again.
#   Two vectors give a scalar (a dot product): then `grad * b` and `grad * a`.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "matmul_rule", "solution": true, "locked": false}
#| export
def _swap(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


@backward_rule("matmul")
def matmul_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradients of ``a @ b`` for 1-D, 2-D and batched operands.

    TODO: ``grad @ bᵀ`` for ``a`` and ``aᵀ @ grad`` for ``b``, with 1-D operands promoted.
    APPROACH:
        1. Both 1-D: return ``grad * b`` and ``grad * a``.
        2. ``a`` 1-D: use ``a[None, :]`` and ``grad[..., None, :]``; afterwards take
           ``grad_a[..., 0, :]``. ``b`` 1-D: use ``b[:, None]`` and ``grad[..., None]``;
           afterwards take ``grad_b[..., 0]``.
        3. ``grad_a = grad @ swap(b)``, ``grad_b = swap(a) @ grad`` — each only if needed.
    EXAMPLE: a (2, 3), b (3, 4), grad (2, 4) -> grad_a (2, 3), grad_b (3, 4)
    HINTS: extra batch dimensions in a gradient are fine: the engine sums them away. A batched
        ``a`` with a 2-D ``b`` (a layer applied to ``(batch, seq, k)``) is cheaper as one
        matmul after ``reshape(-1, k)`` than as a stack of products summed afterwards.
    """
    ### BEGIN SOLUTION
    A, B = node.inputs[0].data, node.inputs[1].data
    if A.ndim == 1 and B.ndim == 1:
        return (grad * B if node.needs[0] else None, grad * A if node.needs[1] else None)
    a_vec, b_vec = A.ndim == 1, B.ndim == 1
    if a_vec:
        A, grad = A[None, :], grad[..., None, :]
    if b_vec:
        B, grad = B[:, None], grad[..., None]
    grad_a = grad_b = None
    if node.needs[0]:
        grad_a = grad @ _swap(B)
        if a_vec:
            grad_a = grad_a[..., 0, :]
    if node.needs[1]:
        if B.ndim == 2 and A.ndim > 2:
            grad_b = A.reshape(-1, A.shape[-1]).T @ grad.reshape(-1, grad.shape[-1])
        else:
            grad_b = _swap(A) @ grad
        if b_vec:
            grad_b = grad_b[..., 0]
    return (grad_a, grad_b)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_matmul_rule", "locked": true, "points": 10, "solution": false}
A = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), requires_grad=True)
B = Tensor(np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]], np.float32), requires_grad=True)
ga, gb = matmul_backward(np.ones((2, 3), np.float32), (A @ B)._node)
assert ga.shape == (2, 2) and np.allclose(ga, [[3.0, 4.0], [3.0, 4.0]]), f"grad_a wrong: {ga}"
assert gb.shape == (2, 3) and np.allclose(gb, [[4.0] * 3, [6.0] * 3]), f"grad_b wrong: {gb}"
assert gradcheck(lambda p, q: p @ q, [_f64(3, 4, seed=1), _f64(4, 5, seed=2)])
assert gradcheck(lambda p, q: p @ q, [_f64(4, seed=1), _f64(4, 2, seed=2)]), "vector @ matrix"
assert gradcheck(lambda p, q: p @ q, [_f64(3, 4, seed=1), _f64(4, seed=2)]), "matrix @ vector"
assert gradcheck(lambda p, q: p @ q, [_f64(4, seed=1), _f64(4, seed=2)]), "vector @ vector"
assert gradcheck(lambda p, q: p @ q, [_f64(2, 3, 4, seed=1), _f64(2, 4, 5, seed=2)]), "batched"
assert gradcheck(lambda p, q: p @ q, [_f64(2, 3, 4, seed=1), _f64(4, 5, seed=2)]), \
    "a batch times one shared matrix"
x_const = Tensor(np.ones((2, 2), np.float32))
assert matmul_backward(np.ones((2, 3), np.float32), (x_const @ B)._node)[0] is None, \
    "an input that needs no gradient (the images in a first layer) must get None"
### BEGIN HIDDEN TESTS
assert gradcheck(lambda p, q: p @ q, [_f64(1, 3, 4, seed=5), _f64(2, 4, 2, seed=6)])
assert gradcheck(lambda p, q: p @ q, [_f64(3, seed=5), _f64(2, 3, 2, seed=6)])
### END HIDDEN TESTS

# %% [markdown]
# ## 8. Reductions: sum, mean, max
#
# A reduction collapses dimensions, so its backward pass must *expand* `grad` back:
#
# ```
#   x (2, 3) ──sum(dim=1)──► (2,)          grad (2,) ──expand to (2, 1)──► broadcast to (2, 3)
#   [[1, 2, 3],                [6,           [g0,                            [[g0, g0, g0],
#    [4, 5, 6]]                 15]           g1]                             [g1, g1, g1]]
# ```
#
# - **sum**: every input element contributed with weight 1, so each receives `grad` of its
#   row. If the forward dropped the dimension (`keepdim=False`), put it back with
#   `np.expand_dims` before broadcasting. `np.broadcast_to` gives a read-only view — no copy.
# - **mean**: the same, divided by the number of elements averaged.
# - **max**: only the element(s) that *were* the maximum influenced the output. With ties, we
#   split the gradient evenly among them (as `torch.amax` does), so the gradients still sum to
#   `grad`.
#
# The saved values: `dim` and `keepdim` (all three) and `out` (max). `dim` may be an int, a
# tuple, negative, or None for "everything".

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "reduction_rules", "solution": true, "locked": false}
#| export
def _reduced_axes(dim, ndim: int) -> tuple:
    """``dim`` (None, int or tuple, possibly negative) as a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    return tuple(sorted(int(d) % ndim for d in dims)) if ndim else ()


def _restore_dims(grad: np.ndarray, node: Node, ndim: int) -> np.ndarray:
    """Put back the dimensions a reduction dropped, so ``grad`` broadcasts against the input."""
    if node.saved["keepdim"] or node.saved["dim"] is None:
        return grad if node.saved["keepdim"] else np.reshape(grad, (1,) * ndim)
    return np.expand_dims(grad, _reduced_axes(node.saved["dim"], ndim))


@backward_rule("sum")
def sum_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of a sum: ``grad`` copied (as a view) to every element that was summed.

    TODO: restore the reduced dimensions, then broadcast to the input's shape.
    APPROACH: ``g = _restore_dims(grad, node, x.ndim)``; ``np.broadcast_to(g, x.shape)``.
    EXAMPLE: x (2, 3), sum(dim=1), grad [1, 2] -> [[1, 1, 1], [2, 2, 2]]
    HINTS: ``_restore_dims`` (given) handles ``dim=None``, negative dims and ``keepdim``.
    """
    ### BEGIN SOLUTION
    x = node.inputs[0]
    return (np.broadcast_to(_restore_dims(grad, node, x.ndim), x.shape),)
    ### END SOLUTION


@backward_rule("mean")
def mean_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of a mean: like sum, divided by how many elements each output averaged.

    HINTS: that count is ``x.size // output size``; make it a Python ``int`` — a numpy
        integer would turn a float32 gradient into float64.
    """
    ### BEGIN SOLUTION
    x = node.inputs[0]
    count = int(x.data.size // max(np.size(grad), 1))
    g = _restore_dims(grad, node, x.ndim) / count
    return (np.broadcast_to(g, x.shape),)
    ### END SOLUTION


@backward_rule("max")
def max_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of a max: ``grad`` goes to the positions that held the maximum.

    TODO: a mask of the positions equal to the (restored) output; ties share evenly.
    APPROACH:
        1. ``out`` and ``grad`` with their dimensions restored (``_restore_dims``).
        2. ``mask = x.data == out``; ``count = mask.sum(axis=axes, keepdims=True)``.
        3. ``mask * (grad / count)``.
    HINTS: sum the mask with ``dtype=grad.dtype`` so the count does not upcast to float64.
    """
    ### BEGIN SOLUTION
    x = node.inputs[0]
    out = _restore_dims(node.saved["out"], node, x.ndim)
    mask = x.data == out
    count = mask.sum(axis=_reduced_axes(node.saved["dim"], x.ndim), keepdims=True,
                     dtype=grad.dtype)
    return (mask * (_restore_dims(grad, node, x.ndim) / count),)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_reduction_rules", "locked": true, "points": 10, "solution": false}
from tinytorch.core.tensor import tensor_max   # max over a tuple of dims, as a plain Tensor

x = Tensor(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32), requires_grad=True)
(g,) = sum_backward(np.array([1.0, 2.0], np.float32), x.sum(dim=1)._node)
assert g.shape == (2, 3) and np.allclose(g, [[1, 1, 1], [2, 2, 2]]), f"sum(dim=1): got {g}"
(g,) = mean_backward(np.array(6.0, np.float32), x.mean()._node)
assert np.allclose(g, 1.0) and g.dtype == np.float32, f"mean of 6 elements, grad 6: got {g}"
(g,) = max_backward(np.array([1.0, 1.0, 1.0], np.float32), x.max(dim=0).values._node)
assert np.allclose(g, [[0, 0, 0], [1, 1, 1]]), f"max(dim=0): the bottom row wins, got {g}"
tie = Tensor(np.array([2.0, 5.0, 5.0], np.float32), requires_grad=True)
(g,) = max_backward(np.array(1.0, np.float32), tie.max()._node)
assert np.allclose(g, [0.0, 0.5, 0.5]), f"ties split the gradient evenly, got {g}"
for dim, keep in [(None, False), (0, False), (1, True), (-1, False), ((0, 2), False)]:
    assert gradcheck(lambda t: t.sum(dim=dim, keepdim=keep), [_f64(2, 3, 4)]), f"sum {dim}"
    assert gradcheck(lambda t: t.mean(dim=dim, keepdim=keep), [_f64(2, 3, 4)]), f"mean {dim}"
    assert gradcheck(lambda t: tensor_max(t, dim=dim, keepdim=keep), [_f64(2, 3, 4)]), \
        f"max {dim}"
### BEGIN HIDDEN TESTS
assert gradcheck(lambda t: t.sum(), [_f64()])
(g,) = sum_backward(np.array(1.0, np.float32), x.sum()._node)
assert g.shape == (2, 3)
### END HIDDEN TESTS

# %% [markdown]
# ## 9. Moving elements around: reshape, transpose, indexing
#
# These ops do no arithmetic; their backward passes move `grad` back to where each element
# came from.
#
# ```
#   reshape (2, 3) -> (6,)        backward: grad (6,) -> reshape to (2, 3)
#   transpose axes (2, 0, 1)      backward: transpose by the INVERSE permutation, np.argsort(axes)
#   x[index]                      backward: zeros like x, then scatter grad into [index]
# ```
#
# Indexing has a trap. With `x[[0, 0, 1]]` row 0 is read twice, so it must receive two
# gradients. `full[index] += grad` does *not* do that: numpy evaluates it as
# `full[index] = full[index] + grad`, and the second write to row 0 overwrites the first.
# `np.add.at(full, index, grad)` adds every occurrence. It is slower, so for indices that
# cannot repeat (ints, slices, boolean masks) a plain assignment is enough.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "shape_rules", "solution": true, "locked": false}
#| export
def _cannot_repeat(index) -> bool:
    """True for indices that select every element at most once (ints, slices, masks)."""
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, np.ndarray) and part.dtype == bool:
            continue
        if not isinstance(part, (int, np.integer, slice, type(None), type(Ellipsis))):
            return False
    return True


@backward_rule("reshape")
def reshape_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of a reshape: ``grad`` reshaped back to the input's shape."""
    ### BEGIN SOLUTION
    return (grad.reshape(node.inputs[0].shape),)
    ### END SOLUTION


@backward_rule("transpose")
def transpose_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of a permutation of axes (``node.saved["axes"]``): apply its inverse.

    EXAMPLE: axes (2, 0, 1) has the inverse (1, 2, 0) — ``np.argsort(axes)``.
    """
    ### BEGIN SOLUTION
    return (np.transpose(grad, np.argsort(node.saved["axes"])),)
    ### END SOLUTION


@backward_rule("getitem")
def getitem_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``x[index]`` (``node.saved["index"]``): scatter ``grad`` into zeros.

    TODO: zeros of the input's shape and dtype, then put ``grad`` at ``index``.
    APPROACH: ``_cannot_repeat(index)``: ``full[index] = grad``; otherwise
        ``np.add.at(full, index, grad)`` so repeated indices accumulate.
    """
    ### BEGIN SOLUTION
    x = node.inputs[0]
    index = node.saved["index"]
    full = np.zeros(x.shape, dtype=x.data.dtype)
    if _cannot_repeat(index):
        full[index] = grad
    else:
        np.add.at(full, index, grad)
    return (full,)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_shape_rules", "locked": true, "points": 10, "solution": false}
x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
(g,) = reshape_backward(np.arange(6, dtype=np.float32), x.reshape(6)._node)
assert g.shape == (2, 3), f"reshape back to (2, 3), got {g.shape}"
(g,) = transpose_backward(np.ones((3, 2), np.float32), x.T._node)
assert g.shape == (2, 3), f"transpose back to (2, 3), got {g.shape}"
from tinytorch.core.tensor import permute   # a 3-cycle is not its own inverse

cube = Tensor(np.zeros((2, 3, 4), np.float32), requires_grad=True)
(g,) = transpose_backward(np.ones((3, 4, 2), np.float32), permute(cube, (1, 2, 0))._node)
assert g.shape == (2, 3, 4), f"axes (1, 2, 0) are undone by their inverse: got {g.shape}"
(g,) = getitem_backward(np.ones((3, 3), np.float32), x[np.array([0, 0, 1])]._node)
assert np.allclose(g, [[2, 2, 2], [1, 1, 1]]), f"row 0 was read twice: it gets 2, got {g}"
assert gradcheck(lambda t: t.reshape(3, 2) * t.reshape(3, 2), [_f64(2, 3)])
assert gradcheck(lambda t: t.transpose(0, 2), [_f64(2, 3, 4)])
assert gradcheck(lambda t: t.reshape(4, 6).T @ t.reshape(4, 6), [_f64(2, 3, 4)])
assert gradcheck(lambda t: t[1:, ::2], [_f64(3, 4)]), "basic slicing"
assert gradcheck(lambda t: t[np.array([2, 0, 2])], [_f64(3, 4)]), "fancy index with repeats"
assert gradcheck(lambda t: t[np.arange(3), np.array([1, 3, 1])], [_f64(3, 4)]), "pairs"
### BEGIN HIDDEN TESTS
assert gradcheck(lambda t: t[t.data > 0], [_f64(3, 4, seed=7)])
assert gradcheck(lambda t: t[..., 1], [_f64(2, 3, 4, seed=7)])
### END HIDDEN TESTS

# %% [markdown]
# ## 10. exp, log and the activations
#
# Several forward ops saved their output, and here is why: the derivative can be written in
# terms of it, which saves recomputing anything.
#
# | op        | forward `out`     | local derivative                                      |
# |-----------|-------------------|-------------------------------------------------------|
# | `exp`     | `eˣ`              | `out`                                                 |
# | `log`     | `ln x`            | `1 / x`                                               |
# | `relu`    | `max(x, 0)`       | `1 where out > 0, else 0`                             |
# | `sigmoid` | `1 / (1 + e⁻ˣ)`   | `out · (1 − out)`                                     |
# | `tanh`    | `tanh x`          | `1 − out²`                                            |
# | `gelu`    | `½x(1 + tanh u)`  | `½(1 + tanh u) + ½x(1 − tanh²u) · c(1 + 3·0.044715x²)` |
#
# where, for gelu, `u = c(x + 0.044715x³)` and `c = √(2/π)`.
#
# Softmax mixes a whole row: each output depends on every input of its row. Its Jacobian is
# `∂sᵢ/∂xⱼ = sᵢ(δᵢⱼ − sⱼ)`; multiplied by `grad` that collapses to one line, no matrix needed:
#
# ```
#   grad_x = s · (grad − Σⱼ gradⱼ·sⱼ)          (the sum along `dim`, kept as size 1)
# ```
#
# The gelu note saved nothing, so its rule recomputes `tanh u` from the input. Write each rule
# with numpy and keep float32: a Python float such as `0.5` keeps a float32 array float32.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "pointwise_rules", "solution": true, "locked": false}
#| export
@backward_rule("exp")
def exp_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``exp``: ``grad * out`` (``node.saved["out"]``)."""
    ### BEGIN SOLUTION
    return (grad * node.saved["out"],)
    ### END SOLUTION


@backward_rule("log")
def log_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``log``: ``grad / x``."""
    ### BEGIN SOLUTION
    return (grad / node.inputs[0].data,)
    ### END SOLUTION


@backward_rule("relu")
def relu_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``relu``: ``grad`` where the output was positive, 0 elsewhere.

    HINTS: ``grad * (out > 0)`` — multiplying by a boolean mask keeps float32.
    """
    ### BEGIN SOLUTION
    return (grad * (node.saved["out"] > 0),)
    ### END SOLUTION


@backward_rule("sigmoid")
def sigmoid_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``sigmoid``: ``grad * out * (1 - out)``."""
    ### BEGIN SOLUTION
    out = node.saved["out"]
    return (grad * out * (1 - out),)
    ### END SOLUTION


@backward_rule("tanh")
def tanh_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``tanh``: ``grad * (1 - out²)``."""
    ### BEGIN SOLUTION
    out = node.saved["out"]
    return (grad * (1 - out * out),)
    ### END SOLUTION


_erf = np.frompyfunc(math.erf, 1, 1)


def _gelu_exact_slope(x: np.ndarray) -> np.ndarray:
    """d/dx of ``x·Φ(x)``: ``Φ(x) + x·φ(x)``, with the standard normal's Φ and density φ."""
    xc = np.clip(x, -40, 40)            # beyond, φ is 0 in float64 and x² cannot overflow
    cdf = (_erf(xc * math.sqrt(0.5)).astype(x.dtype) + 1) * 0.5
    return cdf + xc * np.exp(-0.5 * xc * xc) * (1 / math.sqrt(2 * math.pi))


@backward_rule("gelu")
def gelu_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of GELU, recomputed from the input (see the table).

    The exact form (``approximate="none"``, given) has the slope ``Φ(x) + x·φ(x)``; you write
    the slope of the tanh approximation, the form module 02 had you write.
    """
    if node.saved.get("approximate", "tanh") == "none":
        return (grad * _gelu_exact_slope(node.inputs[0].data),)
    ### BEGIN SOLUTION
    x = node.inputs[0].data
    c = math.sqrt(2.0 / math.pi)
    x2 = x * x
    t = np.tanh(c * (x + 0.044715 * x * x2))
    local = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x2)
    return (grad * local,)
    ### END SOLUTION


@backward_rule("softmax")
def softmax_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``softmax`` along ``node.saved["dim"]``; ``s = node.saved["out"]``.

    TODO: ``s * (grad - sum(grad * s, along dim, keepdims=True))``.
    """
    ### BEGIN SOLUTION
    s, dim = node.saved["out"], node.saved["dim"]
    gs = grad * s
    return (gs - s * gs.sum(axis=dim, keepdims=True),)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_pointwise_rules", "locked": true, "points": 10, "solution": false}
x = Tensor(np.array([-1.0, 0.5, 2.0], np.float32), requires_grad=True)
g = np.ones(3, np.float32)
(r,) = relu_backward(g, relu(x)._node)
assert np.allclose(r, [0.0, 1.0, 1.0]) and r.dtype == np.float32, f"relu: got {r}"
(r,) = sigmoid_backward(g, sigmoid(x)._node)
s = 1 / (1 + np.exp(-x.data))
assert np.allclose(r, s * (1 - s)), f"sigmoid: got {r}"
(r,) = exp_backward(g, x.exp()._node)
assert np.allclose(r, np.exp(x.data)), f"exp: got {r}"
(r,) = softmax_backward(g, softmax(x)._node)
assert np.allclose(r, 0.0, atol=1e-6), "softmax: an all-ones grad gives zero (outputs sum to 1)"
assert gradcheck(lambda t: t.exp(), [_f64(2, 3)])
assert gradcheck(lambda t: t.log(), [_f64(2, 3, low=0.5)])
away_from_0 = Tensor(np.array([[-1.5, -0.3, 0.4], [0.9, -2.0, 1.1]]), requires_grad=True)
assert gradcheck(relu, [away_from_0]), "relu (kinked at 0, so inputs stay away from it)"
assert gradcheck(sigmoid, [_f64(2, 3)]), "sigmoid"
assert gradcheck(tanh, [_f64(2, 3)]), "tanh"
assert gradcheck(gelu, [_f64(2, 3)]), "gelu"
assert gradcheck(lambda t: softmax(t, dim=-1), [_f64(2, 4)]), "softmax over the last dim"
assert gradcheck(lambda t: softmax(t, dim=0), [_f64(3, 2)]), "softmax over dim 0"
### BEGIN HIDDEN TESTS
assert gradcheck(lambda t: softmax(t, dim=1), [_f64(2, 3, 2, seed=4)])
(r,) = tanh_backward(g, tanh(x)._node)
assert np.allclose(r, 1 - np.tanh(x.data) ** 2)
### END HIDDEN TESTS

# %% [markdown]
# ## 11. Losses and the fused Linear
#
# Module 04 fused its losses into single ops, and this is where that pays off. The gradient of
# cross-entropy with respect to the logits is startlingly simple — no exponentials, no
# divisions:
#
# ```
#   loss = mean over rows of  −log softmax(z)[target]
#   ∂loss/∂z = (softmax(z) − onehot(target)) / N           N = batch size
#
#   z row:   [2.0, 1.0, 0.1]   target 0
#   softmax: [0.66, 0.24, 0.10]
#   grad:    [0.66 − 1, 0.24, 0.10] / N  = [−0.34, 0.24, 0.10] / N
# ```
#
# Push the correct class up by how wrong it was, push the others down by how much probability
# they stole. Recorded as separate ops (softmax, log, indexing, mean) the same gradient would
# take four rules, four saved arrays, and — through `log` — lose precision when a probability
# underflows. The forward op saved `probs`, `target` and `reduction`; with `reduction="none"`
# the incoming `grad` has one entry per row.
#
# | op                     | saved                  | gradient                                |
# |------------------------|------------------------|-----------------------------------------|
# | `log_softmax`          | `dim`, `out`           | `grad − exp(out) · Σ grad` along `dim`   |
# | `cross_entropy`        | `probs`, `target`, ... | `(probs − onehot) · grad`, ÷ N for mean  |
# | `binary_cross_entropy` | `p`, `target`, ...     | `(p − t) / (p(1 − p)) · grad`, ÷ size    |
# | `linear`               | nothing                | `grad @ W`, `gradᵀ @ x`, `Σ grad` (rows) |
#
# Binary cross-entropy clamps its input into `[eps, 1 − eps]`. Where the clamp was active the
# forward value is flat, so the exact derivative there is zero — but a prediction stuck at 1.0
# for a target of 0 is exactly the one that most needs a push. So, like PyTorch, we do not zero
# it: we evaluate the formula at the clamped `p`, which gives a large gradient of the right sign.
# (Inside the clamp range our gradient equals PyTorch's; outside it PyTorch's is larger still,
# since it clamps the denominator `p(1 − p)` at `1e-12` instead of clamping `p`.)
#
# `linear(x, W, b) = x @ Wᵀ + b` is one op with up to three inputs, `x` of shape `(..., in)`.
# Flatten the leading dimensions of `x` and `grad` to rows first: then `gradᵀ @ x` is one
# matmul, whatever the batch shape. And compute `grad @ W` **only if `x` needs it** — for the
# first layer (`x` = the images) it does not, and skipping it saves a third of the layer's
# backward time.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "loss_rules", "solution": true, "locked": false}
#| export
@backward_rule("log_softmax")
def log_softmax_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``log_softmax`` along ``dim``: ``grad - exp(out) * sum(grad, dim)``."""
    ### BEGIN SOLUTION
    out, dim = node.saved["out"], node.saved["dim"]
    return (grad - np.exp(out) * grad.sum(axis=dim, keepdims=True),)
    ### END SOLUTION


@backward_rule("cross_entropy")
def cross_entropy_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of the fused cross-entropy with respect to the logits.

    TODO: ``probs - onehot(target)``, scaled by ``grad`` (and divided by N for "mean").
    APPROACH:
        1. ``g = probs.copy()``; ``g[np.arange(N), target] -= 1`` (our own copy: in place is
           safe here).
        2. "mean": ``g *= grad / N``; "sum": ``g *= grad``; "none": ``g *= grad[:, None]``.
    EXAMPLE: probs [[0.5, 0.5]], target [1], mean -> [[0.5, -0.5]]
    """
    ### BEGIN SOLUTION
    probs = node.saved["probs"]
    target = np.asarray(getattr(node.saved["target"], "data", node.saved["target"]))
    n = probs.shape[0]
    g = probs.copy()
    g[np.arange(n), target] -= 1
    reduction = node.saved["reduction"]
    if reduction == "mean":
        g *= grad / n
    elif reduction == "sum":
        g *= grad
    else:
        g *= grad[:, None]
    return (g,)
    ### END SOLUTION


@backward_rule("binary_cross_entropy")
def binary_cross_entropy_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of the fused binary cross-entropy with respect to the probabilities.

    HINTS: ``(p - t) / max(p * (1 - p), 1e-12)`` with the saved ``p`` (PyTorch bounds the
        denominator the same way, so p = 0 or 1 gives a large, finite gradient); divide by
        ``p.size`` for "mean", multiply by ``grad`` (elementwise for "none").
    """
    ### BEGIN SOLUTION
    p = node.saved["p"]
    t = np.asarray(getattr(node.saved["target"], "data", node.saved["target"]))
    g = (p - t.astype(p.dtype, copy=False)) / np.maximum(p * (1 - p), 1e-12)
    if node.saved["reduction"] == "mean":
        g *= grad / p.size
    else:
        g *= grad
    return (g,)
    ### END SOLUTION


@backward_rule("linear")
def linear_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradients of ``x @ W.T + b`` for inputs ``(x, W)`` or ``(x, W, b)``.

    TODO: grad_x = ``grad @ W``; grad_W = ``grad2.T @ x2``; grad_b = ``grad2.sum(0)``, where
        ``grad2``, ``x2`` are ``grad`` and ``x`` flattened to 2-D rows. Only what is needed.
    EXAMPLE: x (32, 784), W (128, 784), grad (32, 128) -> (32, 784), (128, 784), (128,)
    """
    ### BEGIN SOLUTION
    x, w = node.inputs[0].data, node.inputs[1].data
    if x.dtype != grad.dtype and not np.issubdtype(x.dtype, np.floating):
        x = x.astype(grad.dtype)       # raw integer pixels: keep the matmul in float32
    grad2 = grad.reshape(-1, grad.shape[-1]) if grad.ndim != 2 else grad
    grad_x = grad @ w if node.needs[0] else None
    grad_w = grad2.T @ x.reshape(-1, x.shape[-1]) if node.needs[1] else None
    if len(node.inputs) == 2:
        return (grad_x, grad_w)
    grad_b = grad2.sum(axis=0) if node.needs[2] else None
    return (grad_x, grad_w, grad_b)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_loss_rules", "locked": true, "points": 15, "solution": false}
logits = Tensor(np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]], np.float32), requires_grad=True)
labels = np.array([0, 2])
(g,) = cross_entropy_backward(np.array(1.0, np.float32), cross_entropy(logits, labels)._node)
probs = np.exp(logits.data) / np.exp(logits.data).sum(1, keepdims=True)
onehot = np.eye(3)[labels]
assert np.allclose(g, (probs - onehot) / 2, atol=1e-6), f"(softmax - onehot) / N, got {g}"
assert g.dtype == np.float32, "cross-entropy gradient must stay float32"
for red in ("mean", "sum", "none"):
    assert gradcheck(lambda z: cross_entropy(z, np.array([1, 0, 2, 1]), reduction=red),
                     [_f64(4, 3)]), f"cross_entropy reduction={red}"
assert gradcheck(lambda z: log_softmax(z, dim=-1), [_f64(3, 4)]), "log_softmax"
assert gradcheck(lambda z: log_softmax(z, dim=0), [_f64(3, 4)]), "log_softmax dim 0"
p_in = Tensor(np.random.default_rng(0).uniform(0.1, 0.9, (2, 3)), requires_grad=True)
t_in = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]])
for red in ("mean", "sum", "none"):
    assert gradcheck(lambda p: binary_cross_entropy(p, t_in, reduction=red), [p_in]), red
edge = Tensor(np.array([0.0, 1.0], np.float32), requires_grad=True)
(g,) = binary_cross_entropy_backward(
    np.array(1.0, np.float32),
    binary_cross_entropy(edge, np.array([1.0, 0.0], np.float32), reduction="sum")._node)
assert np.all(np.abs(g) > 1e11) and np.all(np.isfinite(g)), \
    f"p = 0 or 1 (and the wrong target): a large, finite gradient, 1 / 1e-12; got {g}"
assert gradcheck(lambda x, w, b: linear(x, w, b), [_f64(4, 3), _f64(2, 3, seed=1),
                                                   _f64(2, seed=2)]), "linear with bias"
assert gradcheck(lambda x, w: linear(x, w), [_f64(2, 5, 3), _f64(4, 3, seed=1)]), "batched"
images = Tensor(np.ones((5, 3), np.float32))
weight = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
grads = linear_backward(np.ones((5, 2), np.float32), linear(images, weight)._node)
assert grads[0] is None, "never compute the gradient of the images (x needs none)"
### BEGIN HIDDEN TESTS
assert gradcheck(lambda x, w, b: linear(x, w, b), [_f64(3), _f64(2, 3, seed=1), _f64(2, seed=2)])
(g,) = cross_entropy_backward(np.array([1.0, 2.0], np.float32),
                              cross_entropy(logits, labels, reduction="none")._node)
assert np.allclose(g, (probs - onehot) * np.array([[1.0], [2.0]]), atol=1e-6)
### END HIDDEN TESTS

# %% [markdown]
# Module 01 also gave ops without asking you to write them: `clamp`, `where`, `cat`, `stack`,
# `absolute`, `clone` and `cast`. Their rules are given too, and each follows one idea you have
# used above: `clamp` passes the gradient where the input was inside the range (like `relu`,
# which is `clamp(min=0)`); `where` sends each element's gradient to the tensor it was taken
# from; `cat` and `stack` cut the gradient back into the pieces they joined (like `getitem`);
# `abs` multiplies by the sign of the input; `clone` passes the gradient through unchanged, and
# `cast` converts it back to the input's dtype.

# %%
#| export
@backward_rule("clamp")
def clamp_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``clamp``: ``grad`` where ``min <= x <= max`` (bounds included, as in PyTorch)."""
    x, lo, hi = node.inputs[0].data, node.saved["min"], node.saved["max"]
    inside = np.ones(x.shape, dtype=bool)
    if lo is not None:
        inside &= x >= lo
    if hi is not None:
        inside &= x <= hi
    return (grad * inside,)


@backward_rule("where")
def where_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``where(c, a, b)``: ``grad`` goes to ``a`` where ``c`` holds, else to ``b``."""
    cond, zero = node.saved["condition"].astype(bool, copy=False), np.zeros((), grad.dtype)
    return (np.where(cond, grad, zero), np.where(cond, zero, grad))


@backward_rule("cat")
def cat_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``cat``: ``grad`` split back into the pieces, along the same ``dim``."""
    cuts = np.cumsum(node.saved["sizes"])[:-1]
    return tuple(np.split(grad, cuts, axis=node.saved["dim"]))


@backward_rule("stack")
def stack_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``stack``: slice ``i`` along ``dim`` is the gradient of tensor ``i``."""
    dim = node.saved["dim"]
    return tuple(np.take(grad, i, axis=dim) for i in range(len(node.inputs)))


@backward_rule("abs")
def abs_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of ``|x|``: ``grad * sign(x)``, 0 at x = 0 (as in PyTorch)."""
    return (grad * np.sign(node.inputs[0].data),)


@backward_rule("clone")
def clone_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of a copy: ``grad`` itself."""
    return (grad,)


@backward_rule("cast")
def cast_backward(grad: np.ndarray, node: Node) -> tuple:
    """Gradient of a dtype conversion: ``grad`` converted back to the input's dtype."""
    return (grad.astype(node.inputs[0].data.dtype, copy=False),)


# %% [markdown]
# Every op the earlier modules record now has a rule. If a later module (or you) adds an op and
# forgets its rule, `backward()` says which one is missing.

# %%
print(len(registered_ops()), "backward rules:", ", ".join(registered_ops()))

# %% [markdown]
# ## 12. Turning the recorder off: `no_grad`
#
# At evaluation time nobody will call `backward()`, so recording notes — and keeping every
# activation alive for them — is wasted memory. `no_grad()` switches recording off for a block
# and then restores **whatever mode was active before** (not simply "on"): a `no_grad` block
# nested inside another must not switch recording back on when it ends. `enable_grad()` does the
# opposite, for the rare block that needs a graph inside a `no_grad` region (module 06 runs an
# optimizer's loss-recomputing closure that way).
#
# ```
#   with no_grad():                       @no_grad()
#       preds = model(x_test)             def evaluate(model, x): ...
# ```
#
# Both are context managers (`__enter__`, `__exit__`) built on `set_grad_enabled`, which returns
# the previous mode. The decorator form is given: it wraps the function in a fresh `with`. Keep
# the previous modes on a list, so even the *same* object can be entered twice.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "no_grad", "solution": true, "locked": false}
#| export
class no_grad:
    """Context manager and decorator that turns graph recording off, then restores it.

    TODO: ``__enter__`` switches the mode to ``self.mode`` and remembers the previous mode;
        ``__exit__`` restores it (also when the block raised).
    APPROACH: ``set_grad_enabled(mode)`` returns the mode it replaced. Keep those on the list
        ``self._previous`` (a stack), not in a single attribute: the same ``no_grad`` object
        may be entered again before it exits (a decorated function that calls itself), and
        each exit must restore what its own entry replaced.
    EXAMPLE:
        >>> with no_grad():
        ...     y = w * 2          # y._node is None
    HINTS: return False from ``__exit__`` so that exceptions propagate.
    """

    mode = False

    def __new__(cls, func=None):
        self = super().__new__(cls)
        self._previous = []
        # ``@no_grad`` without parentheses passes the function straight in.
        return self(func) if func is not None else self

    def __enter__(self) -> "no_grad":
        ### BEGIN SOLUTION
        self._previous.append(set_grad_enabled(self.mode))
        return self
        ### END SOLUTION

    def __exit__(self, *exc) -> bool:
        ### BEGIN SOLUTION
        set_grad_enabled(self._previous.pop())
        return False
        ### END SOLUTION

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with type(self)():
                return func(*args, **kwargs)
        return wrapper


class enable_grad(no_grad):
    """Context manager and decorator that turns graph recording on, then restores it."""

    mode = True


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_no_grad", "locked": true, "points": 10, "solution": false}
from tinytorch.core.tensor import is_grad_enabled

w = Tensor([1.0, 2.0], requires_grad=True)
with no_grad():
    y = w * 2.0
    assert not is_grad_enabled(), "inside no_grad recording is off"
assert y._node is None and not y.requires_grad, "nothing is recorded under no_grad"
assert is_grad_enabled(), "no_grad must switch recording back on afterwards"
with no_grad():
    with no_grad():
        pass
    assert not is_grad_enabled(), "a nested no_grad must restore OFF, not switch to on"
    with enable_grad():
        assert (w * 2.0)._node is not None, "enable_grad records inside no_grad"
    assert not is_grad_enabled(), "enable_grad restores the previous mode (off)"
try:
    with no_grad():
        raise KeyError("boom")
except KeyError:
    pass
assert is_grad_enabled(), "the mode is restored even when the block raises"


@no_grad()
def double(t):
    return t * 2.0


assert double(w)._node is None and is_grad_enabled(), "no_grad() works as a decorator"
### BEGIN HIDDEN TESTS
@no_grad
def triple(t):
    return t * 3.0


assert triple(w)._node is None and is_grad_enabled()
ctx = no_grad()
with ctx:
    with ctx:
        pass
    assert not is_grad_enabled()
assert is_grad_enabled()
### END HIDDEN TESTS

# %% [markdown]
# ## 13. Putting it together: shared weights and deep graphs
#
# Two stress tests for the engine. A weight matrix used by two layers (weight tying, as in
# language models that share their input and output embeddings) must receive the **sum** of the
# gradients from both uses. And a graph thousands of ops deep — 10,000 steps of a recurrence —
# must go through without touching Python's recursion limit.

# %%
import sys

print("Python's recursion limit:", sys.getrecursionlimit())
chain_start = Tensor(1.0, requires_grad=True)
chain = chain_start
for _ in range(10_000):
    chain = chain * 1.0001
backward(chain)
print(f"10,000-op chain: d(out)/d(in) = {chain_start.grad.item():.4f} "
      f"(exact: 1.0001^10000 = {1.0001 ** 10_000:.4f})")

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_shared_and_deep", "locked": true, "points": 10, "solution": false}
rng = np.random.default_rng(0)
W = Tensor(rng.standard_normal((4, 4)).astype(np.float32), requires_grad=True)
x0 = Tensor(rng.standard_normal((3, 4)).astype(np.float32))
h = relu(linear(x0, W))
out = linear(h, W).sum()          # W is used twice
backward(out)
shared_grad = W.grad.data
# The same network with two separate copies of W: the shared gradient is their sum.
W1 = Tensor(W.data.copy(), requires_grad=True)
W2 = Tensor(W.data.copy(), requires_grad=True)
backward(linear(relu(linear(x0, W1)), W2).sum())
assert np.allclose(shared_grad, W1.grad.data + W2.grad.data, atol=1e-5), \
    "a weight used twice must get the sum of both gradients"
start = Tensor(0.5, requires_grad=True)
y = start
for _ in range(10_000):
    y = y * 1.0 + 0.0
backward(y)
assert abs(start.grad.item() - 1.0) < 1e-4, f"10,000-op chain: gradient 1, got {start.grad}"
### BEGIN HIDDEN TESTS
u = Tensor(1.0, requires_grad=True)
z = u * 1.0
for _ in range(60):
    z = z * 0.5 + z * 0.5
backward(z)
assert abs(u.grad.item() - 1.0) < 1e-5
### END HIDDEN TESTS

# %% [markdown]
# ## 14. Systems: what does autograd cost?
#
# ### Memory held by the graph
#
# A graph keeps alive everything its rules will read: the inputs of `mul` and `linear`, the
# outputs of `relu` and `softmax`, the probabilities of the loss. All of that scales with the
# **batch size**, while the weights do not. Let's measure it for an MNIST-sized MLP
# (784 → 256 → 128 → 10), counting every distinct array the graph of one batch holds on to.

# %%
import time

import matplotlib.pyplot as plt


def graph_bytes(loss: Tensor) -> int:
    """Bytes of the arrays the graph behind ``loss`` keeps alive, apart from the weights.

    That is the op inputs (the batch, the activations) and the saved values; the weights are
    not counted, since they exist with or without a graph.
    """
    seen, total = set(), 0
    for t in topological_order(loss):
        arrays = [inp.data for inp in t._node.inputs if not (inp.is_leaf and inp.requires_grad)]
        arrays += [v for v in t._node.saved.values() if isinstance(v, np.ndarray)]
        for arr in arrays:
            base = arr if arr.base is None else arr.base
            if id(base) not in seen:
                seen.add(id(base))
                total += base.nbytes
    return total


manual_seed(0)
mlp = [Linear(784, 256), Linear(256, 128), Linear(128, 10)]
weight_bytes = sum(layer.weight.data.nbytes + layer.bias.data.nbytes for layer in mlp)
loss_fn = CrossEntropyLoss()


def mlp_loss(xb: Tensor, yb: np.ndarray) -> Tensor:
    h = xb
    for i, layer in enumerate(mlp):
        h = layer(h)
        if i < len(mlp) - 1:
            h = relu(h)
    return loss_fn(h, yb)


batches = [16, 32, 64, 128, 256, 512]
held = []
for n in batches:
    xb = randn(n, 784, seed=n)
    yb = np.random.default_rng(n).integers(0, 10, n)
    held.append(graph_bytes(mlp_loss(xb, yb)))
    print(f"batch {n:4d}: graph holds {held[-1] / 2**20:6.2f} MiB "
          f"(weights: {weight_bytes / 2**20:.2f} MiB)")
with no_grad():
    no_graph = mlp_loss(randn(512, 784, seed=1), np.zeros(512, dtype=np.int64))
print("under no_grad the loss has a note:", no_graph._node is not None)

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(batches, [b / 2**20 for b in held], "o-", label="held by the graph")
ax.axhline(weight_bytes / 2**20, color="gray", linestyle="--", label="the weights themselves")
ax.set_xlabel("batch size")
ax.set_ylabel("MiB")
ax.set_title("Autograd memory grows with the batch")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Backward time against forward time
#
# Each `linear` forward is one matmul; its backward is two (`grad @ W` and `gradᵀ @ x`), or one
# for the first layer, whose input needs no gradient. So backward should cost roughly one to two
# forward passes. Let's time both, on the same batches, and take the median of several runs
# (a shared machine is noisy; the median ignores the odd slow run).

# %%
xb = randn(256, 784, seed=0)
yb = np.random.default_rng(0).integers(0, 10, 256)
forward_times, backward_times = [], []
for _ in range(9):
    for layer in mlp:
        layer.weight.grad = layer.bias.grad = None
    t0 = time.perf_counter()
    loss = mlp_loss(xb, yb)
    t1 = time.perf_counter()
    backward(loss)
    t2 = time.perf_counter()
    forward_times.append(t1 - t0)
    backward_times.append(t2 - t1)
t_forward, t_backward = np.median(forward_times), np.median(backward_times)
print(f"forward  {t_forward * 1e3:6.2f} ms")
print(f"backward {t_backward * 1e3:6.2f} ms  ({t_backward / t_forward:.1f}x the forward pass)")
ratio = t_backward / t_forward
verdict = ("within" if 0.8 <= ratio <= 2.5 else "outside") + \
    " the one-to-two forward passes the matmul count predicts"
print(f"this run: backward took {ratio:.1f}x the forward pass, {verdict}")

# %% [markdown]
# **What the numbers say.**
#
# - The graph's memory grows **linearly with the batch**: every activation `(batch, width)` is
#   held until backward has used it. From a batch of about 150 on, the graph holds more than
#   the weights themselves. This — not the weights — is what limits the batch size you can
#   train with, and why evaluation runs under `no_grad()`, which keeps none of it.
# - The matmul count predicts that backward costs one to two forward passes; the last line
#   printed above says where this run landed. Timings of a few milliseconds are noisy on a
#   shared machine (other programs' work lands in the timer), so one run can fall well outside
#   the prediction: run the cell again before drawing a conclusion. Either way this is the
#   promise of reverse mode: all 235,000 derivatives for a small constant times the cost of the
#   loss itself. (Finite differences would need two forward passes *per weight*.)
# - Freeing the graph after `backward()` is what returns that memory between batches; a
#   training loop that kept every loss tensor around (say, in a list, for plotting) would keep
#   every graph alive too. Store `loss.item()` instead.

# %% [markdown]
# ## 15. Module test
#
# The full path a training step takes: a `Linear → ReLU → Linear` network, cross-entropy
# loss, and your engine — compared against backpropagation written out by hand in numpy.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_module_autograd", "locked": true, "points": 15, "solution": false}
manual_seed(1)
l1, l2 = Linear(5, 8), Linear(8, 3)
X = randn(6, 5, seed=2)
Y = np.array([0, 1, 2, 1, 0, 2])
hidden = ReLU()(l1(X))
loss = CrossEntropyLoss()(l2(hidden), Y)
backward(loss)
# By hand, in float64.
x64 = X.data.astype(np.float64)
W1, b1 = l1.weight.data.astype(np.float64), l1.bias.data.astype(np.float64)
W2, b2 = l2.weight.data.astype(np.float64), l2.bias.data.astype(np.float64)
z1 = x64 @ W1.T + b1
a1 = np.maximum(z1, 0)
z2 = a1 @ W2.T + b2
p = np.exp(z2 - z2.max(1, keepdims=True))
p /= p.sum(1, keepdims=True)
dz2 = (p - np.eye(3)[Y]) / len(Y)
dW2, db2 = dz2.T @ a1, dz2.sum(0)
dz1 = (dz2 @ W2) * (z1 > 0)
dW1, db1 = dz1.T @ x64, dz1.sum(0)
for name, got, want in [("l1.weight", l1.weight.grad, dW1), ("l1.bias", l1.bias.grad, db1),
                        ("l2.weight", l2.weight.grad, dW2), ("l2.bias", l2.bias.grad, db2)]:
    assert got is not None, f"{name} got no gradient"
    assert got.shape == want.shape, f"{name}: gradient shape {got.shape}, expected {want.shape}"
    assert got.dtype == np.float32, f"{name}: gradient should be float32"
    assert np.allclose(got.data, want, atol=1e-5), f"{name}: gradient differs from hand backprop"
assert X.grad is None, "the input batch does not require grad and gets no gradient"
print("Module 05 complete: autograd works.")

# %% [markdown]
# ## Summary
#
# You built reverse-mode automatic differentiation:
#
# - **Backward rules**, one per op, each a few lines of numpy: arithmetic, matmul in all its
#   shapes, reductions, reshapes and indexing, activations, and the fused losses and Linear.
#   Each computes only the gradients that are needed.
# - **One place for broadcasting**: `unbroadcast` sums each gradient back to its input's shape.
# - **The engine**: an iterative topological order (no recursion limit, shared subgraphs
#   visited once), accumulation into leaves that never writes into a shared array, a graph freed
#   after use, and errors that name the op.
# - **`no_grad`**, and **`gradcheck`** — the finite-difference judge of every rule.
#
# You measured that the graph's memory grows with the batch while the weights stay fixed, and
# how backward's time compares with the forward pass (the matmul count predicts one to two).
#
# **Next:** module 06 uses these gradients. An optimizer reads every weight's `.grad` and takes a
# step — SGD, momentum, Adam. Run `tito module complete 05`: after the export, `loss.backward()`
# works on every Tensor in the package.
