"""Module 05 (autograd): every backward rule, the engine, no_grad and gradcheck.

Rules for the ops of modules 02-04 are checked twice: through nodes built with ``record_op``
exactly as the contract describes (so these tests do not depend on those modules), and through
the modules' public functions when they are exported.
"""
from __future__ import annotations

import importlib
import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core import autograd as ag
from tinytorch.core.autograd import (backward, enable_grad, gradcheck, no_grad,
                                     topological_order, unbroadcast)
from tinytorch.core.tensor import Tensor, is_grad_enabled, permute, record_op
from tinytorch.core.tensor import pow as tpow

pytestmark = pytest.mark.module05


def f64(*shape, seed: int = 0, low: float | None = None, high: float = 2.0) -> Tensor:
    rng = np.random.default_rng(seed)
    data = rng.uniform(low, high, shape) if low is not None else rng.standard_normal(shape)
    return Tensor(np.asarray(data, dtype=np.float64), requires_grad=True)


def f32(*shape, seed: int = 0, low: float | None = None) -> Tensor:
    t = f64(*shape, seed=seed, low=low)
    return Tensor(t.data.astype(np.float32), requires_grad=True)


def optional(target: str):
    """The package module ``tinytorch.<target>``, or None while it is not exported."""
    try:
        return importlib.import_module(f"tinytorch.{target}")
    except ImportError:
        return None


# ---- stand-ins for the ops of modules 02-04, recorded exactly as the contract says ----------

def recorded(op: str, inputs: tuple, value: np.ndarray, **saved) -> Tensor:
    return record_op(value, op, inputs, **saved)


def relu_op(x):
    y = np.maximum(x.data, 0)
    return recorded("relu", (x,), y, out=y)


def sigmoid_op(x):
    y = 1 / (1 + np.exp(-x.data))
    return recorded("sigmoid", (x,), y, out=y)


def tanh_op(x):
    y = np.tanh(x.data)
    return recorded("tanh", (x,), y, out=y)


def gelu_op(x):
    v = x.data
    y = 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
    return recorded("gelu", (x,), y)


def softmax_op(x, dim=-1):
    e = np.exp(x.data - x.data.max(axis=dim, keepdims=True))
    y = e / np.sum(e, axis=dim, keepdims=True)
    return recorded("softmax", (x,), y, dim=dim, out=y)


def log_softmax_op(x, dim=-1):
    z = x.data - x.data.max(axis=dim, keepdims=True)
    y = z - np.log(np.exp(z).sum(axis=dim, keepdims=True))
    return recorded("log_softmax", (x,), y, dim=dim, out=y)


def linear_op(x, w, b=None):
    y = x.data @ w.data.T
    if b is None:
        return recorded("linear", (x, w), y)
    return recorded("linear", (x, w, b), y + b.data)


def cross_entropy_op(logits, target, reduction="mean"):
    z = logits.data - logits.data.max(axis=1, keepdims=True)
    e = np.exp(z)
    probs = e / e.sum(axis=1, keepdims=True)
    per_row = np.log(e.sum(axis=1)) - z[np.arange(len(target)), target]
    y = {"mean": per_row.mean(), "sum": per_row.sum(), "none": per_row}[reduction]
    return recorded("cross_entropy", (logits,), np.asarray(y), probs=probs,
                    target=np.asarray(target, dtype=np.int64), reduction=reduction)


def bce_op(probs, target, reduction="mean", eps=1e-7):
    clamped = np.clip(probs.data, eps, 1.0 - eps)
    t = np.asarray(target, dtype=probs.dtype)
    per_item = -(t * np.log(clamped) + (1 - t) * np.log(1 - clamped))
    y = {"mean": per_item.mean(), "sum": per_item.sum(), "none": per_item}[reduction]
    return recorded("binary_cross_entropy", (probs,), np.asarray(y), p=clamped, target=t,
                    reduction=reduction, eps=eps)


def check(fn, inputs):
    """gradcheck, plus: every checked input's gradient has the input's shape and dtype."""
    assert gradcheck(fn, inputs)
    out = fn(*inputs)
    for t in inputs:
        t.grad = None
    backward(out, np.ones(out.shape, dtype=out.dtype))
    for t in inputs:
        if t.requires_grad:
            assert t.grad is not None
            assert t.grad.shape == t.shape, (t.grad.shape, t.shape)
            assert t.grad.dtype == t.dtype


# ---- every rule, by gradcheck in float64 ---------------------------------------------------

BROADCAST_PAIRS = [((3, 1), (1, 4)), ((5,), (2, 5)), ((2, 5), (5,)), ((), (2, 3)),
                   ((2, 3), ()), ((), ()), ((4,), (4,)), ((2, 1, 3), (4, 1))]


@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
def test_binary_ops_with_broadcasting(op, sa, sb):
    if op == "pow":
        a, b = f64(*sa, seed=1, low=0.5), f64(*sb, seed=2, low=0.5)
    elif op == "div":
        a, b = f64(*sa, seed=1), f64(*sb, seed=2, low=0.5)
    else:
        a, b = f64(*sa, seed=1), f64(*sb, seed=2)
    fn = {"add": lambda p, q: p + q, "sub": lambda p, q: p - q, "mul": lambda p, q: p * q,
          "div": lambda p, q: p / q, "pow": lambda p, q: p ** q}[op]
    check(fn, [a, b])


@pytest.mark.parametrize("fn", [
    lambda t: -t, lambda t: t ** 2, lambda t: t ** 0.5,
    lambda t: tpow(Tensor(np.float64(2.0)), t), lambda t: t.exp(),
    lambda t: t.log(), lambda t: 1.0 / t, lambda t: 3.0 - t,
], ids=["neg", "square", "sqrt", "exp2", "exp", "log", "reciprocal", "rsub"])
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
def test_unary_ops(fn, shape):
    check(fn, [f64(*shape, low=0.5)])


def test_pow_at_zero_base_gives_no_nan():
    a = Tensor(np.array([0.0, 1.0, 2.0]), requires_grad=True)
    e = Tensor(np.array([2.0, 2.0, 2.0]), requires_grad=True)
    backward((a ** e).sum())
    assert np.all(np.isfinite(a.grad.data)) and np.all(np.isfinite(e.grad.data))
    assert e.grad.data[0] == 0.0


def test_zero_exponent_gives_zero_gradient_at_zero_base():
    # x ** 0 is constant: PyTorch gives 0 everywhere, where 0 * 0**-1 would be nan.
    a = Tensor(np.array([0.0, 1.0, -2.0]), requires_grad=True)
    backward((a ** 0).sum())
    assert a.grad.data.tolist() == [0.0, 0.0, 0.0]
    b = Tensor(np.array([0.0, 3.0]), requires_grad=True)
    e = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    backward((b ** e).sum())
    assert b.grad.data.tolist() == [0.0, 6.0]


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((4,), (4, 2)), ((3, 4), (4,)),
                                   ((4,), (4,)), ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)),
                                   ((3, 4), (2, 4, 5)), ((1, 3, 4), (2, 4, 2)),
                                   ((3,), (2, 3, 2)), ((2, 2, 3), (3,)),
                                   ((2, 1, 3, 4), (5, 4, 2))])
def test_matmul_shapes(sa, sb):
    check(lambda p, q: p @ q, [f64(*sa, seed=1), f64(*sb, seed=2)])


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (0, False), (1, True),
                                         (-1, False), ((0, 2), False), ((1, -1), True)])
def test_reductions(reduce, dim, keepdim):
    if reduce == "max" and isinstance(dim, int):   # x.max(dim): (values, indices)
        check(lambda t: t.max(dim=dim, keepdim=keepdim).values, [f64(2, 3, 4)])
        return
    check(lambda t: getattr(t, reduce)(dim=dim, keepdim=keepdim), [f64(2, 3, 4)])


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_reductions_of_scalars_and_vectors(reduce):
    check(lambda t: getattr(t, reduce)(), [f64()])
    if reduce == "max":
        check(lambda t: t.max(dim=0).values, [f64(5)])
        return
    check(lambda t: getattr(t, reduce)(dim=0), [f64(5)])


def test_max_splits_ties_evenly():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    backward(x.max(dim=1).values.sum())
    assert np.allclose(x.grad.data, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    y = Tensor(np.array([5.0, 1.0, 5.0]), requires_grad=True)
    backward(y.max())
    assert np.allclose(y.grad.data, [0.5, 0.0, 0.5])


@pytest.mark.parametrize("fn", [
    lambda t: t.reshape(6, 4), lambda t: t.reshape(-1), lambda t: t.flatten(1),
    lambda t: t.transpose(0, 2), lambda t: t.transpose(-1, -2),
    lambda t: permute(t, (2, 0, 1)), lambda t: t.T,
    lambda t: t[1], lambda t: t[:, 1:, ::2], lambda t: t[..., -1],
    lambda t: t[np.array([1, 1, 0])], lambda t: t[np.arange(2), np.array([2, 2])],
    lambda t: t[t.data > 0], lambda t: t[None, 0],
    lambda t: t[[0, 0, 1], :, [3, 3, 0]],
], ids=["reshape", "reshape-1", "flatten", "transpose", "transpose-neg", "permute", "T",
        "int", "slices", "ellipsis", "fancy-repeat", "pairs-repeat", "mask", "newaxis",
        "list-index"])
def test_shape_ops_and_indexing(fn):
    check(fn, [f64(2, 3, 4)])


def test_getitem_accumulates_repeated_indices():
    x = Tensor(np.zeros(3), requires_grad=True)
    backward(x[np.array([0, 0, 0, 2])].sum())
    assert x.grad.data.tolist() == [3.0, 0.0, 1.0]


# ---- the ops of modules 02-04, through record_op stand-ins ---------------------------------

@pytest.mark.parametrize("fn", [sigmoid_op, tanh_op, gelu_op,
                                lambda t: softmax_op(t, -1), lambda t: softmax_op(t, 0),
                                lambda t: softmax_op(t, min(1, t.ndim - 1)),
                                lambda t: log_softmax_op(t, -1), lambda t: log_softmax_op(t, 0)],
                         ids=["sigmoid", "tanh", "gelu", "softmax-1", "softmax0", "softmax1",
                              "log_softmax-1", "log_softmax0"])
@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 2)])
def test_activation_rules(fn, shape):
    check(fn, [f64(*shape, seed=3)])


def test_relu_rule_away_from_the_kink():
    x = f64(3, 4, seed=4)
    x.data[np.abs(x.data) < 0.1] = 0.5
    check(relu_op, [x])


@pytest.mark.parametrize("xs,bias", [((4, 3), True), ((4, 3), False), ((3,), True),
                                     ((2, 5, 3), True), ((2, 5, 3), False)])
def test_linear_rule(xs, bias):
    inputs = [f64(*xs, seed=1), f64(2, 3, seed=2)] + ([f64(2, seed=3)] if bias else [])
    check(linear_op, inputs)


def test_linear_rule_computes_only_needed_gradients():
    x = Tensor(np.ones((5, 3), np.float32))
    w = f32(2, 3)
    b = Tensor(np.zeros(2, np.float32))
    grads = ag.linear_backward(np.ones((5, 2), np.float32), linear_op(x, w, b)._node)
    assert grads[0] is None and grads[2] is None and grads[1].shape == (2, 3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_rule(reduction):
    target = np.array([1, 0, 2, 1, 2])
    check(lambda z: cross_entropy_op(z, target, reduction), [f64(5, 3)])


def test_cross_entropy_rule_is_softmax_minus_onehot():
    z = f32(4, 3)
    target = np.array([0, 2, 1, 1])
    loss = cross_entropy_op(z, target)
    backward(loss)
    probs = np.exp(z.data) / np.exp(z.data).sum(1, keepdims=True)
    assert z.grad.dtype == np.float32
    assert np.allclose(z.grad.data, (probs - np.eye(3)[target]) / 4, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_rule(reduction):
    rng = np.random.default_rng(5)
    target = rng.integers(0, 2, (3, 4)).astype(np.float64)
    probs = Tensor(rng.uniform(0.05, 0.95, (3, 4)), requires_grad=True)
    check(lambda p: bce_op(p, target, reduction), [probs])


def test_binary_cross_entropy_keeps_a_gradient_where_clamped():
    # Like PyTorch: a saturated, confidently wrong probability still gets pushed back.
    p = Tensor(np.array([1.0, 0.0], np.float32), requires_grad=True)
    backward(bce_op(p, np.array([0.0, 1.0], np.float32), "sum"))
    assert np.all(np.isfinite(p.grad.data))
    assert p.grad.data[0] > 1e3 and p.grad.data[1] < -1e3


# ---- the same ops through the real modules, once they are exported -------------------------

def _require(target):
    module = optional(target)
    if module is None:
        pytest.skip(f"tinytorch.{target} is not exported yet")
    return module


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "gelu", "softmax"])
def test_activation_functions_from_module_02(name):
    act = _require("core.activations")
    x = f64(3, 4, seed=6)
    x.data[np.abs(x.data) < 0.1] = 0.3
    check(getattr(act, name), [x])
    if name == "softmax":
        check(lambda t: act.softmax(t, 0), [f64(3, 4, seed=6)])


def test_layers_and_losses_from_modules_03_and_04():
    layers = _require("core.layers")
    losses = _require("core.losses")
    check(lambda x, w, b: layers.linear(x, w, b), [f64(4, 3), f64(2, 3, seed=1), f64(2, seed=2)])
    check(lambda x, w: layers.linear(x, w), [f64(2, 4, 3), f64(5, 3, seed=1)])
    for reduction in ("mean", "sum", "none"):
        check(lambda z: losses.cross_entropy(z, np.array([0, 2, 1]), reduction), [f64(3, 3)])
        check(lambda z: losses.log_softmax(z, 0), [f64(3, 3)])
        p = Tensor(np.random.default_rng(1).uniform(0.1, 0.9, (2, 3)), requires_grad=True)
        t = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
        check(lambda q: losses.binary_cross_entropy(q, t, reduction), [p])
        check(lambda z: losses.mse_loss(z, t, reduction), [f64(2, 3)])


def test_every_recorded_op_has_a_rule():
    contract = {"add", "sub", "mul", "div", "neg", "pow", "matmul", "sum", "mean", "max",
                "reshape", "transpose", "getitem", "exp", "log", "relu", "sigmoid", "tanh",
                "gelu", "softmax", "log_softmax", "linear", "cross_entropy",
                "binary_cross_entropy", "clamp", "where", "cat", "stack"}
    # The op names the package's modules really record (in code or, in a student edition
    # whose solutions are stubs, in the docstrings that tell the student what to record).
    import re
    from pathlib import Path

    import tinytorch

    package = Path(tinytorch.__file__).parent
    recorded_ops = {name for source in package.rglob("*.py")
                    for name in re.findall(r'record_op\([^"\n]*?,\s*"(\w+)"',
                                           source.read_text(encoding="utf-8"))}
    assert {"add", "matmul", "mul"} <= recorded_ops, "the scan found too few ops"
    # Later modules register their rules in their own files: import every package file.
    import importlib

    for source in package.rglob("*.py"):
        parts = source.relative_to(package.parent).with_suffix("").parts
        if parts[-1] != "__init__" and not parts[-1].startswith("_"):
            importlib.import_module(".".join(parts))
    missing = (contract | recorded_ops) - set(ag.registered_ops())
    assert not missing, f"ops recorded without a backward rule: {sorted(missing)}"


# ---- float32 stays float32 ----------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda a, b: (a * b + a / (b * b + 1.0) - a ** 2).sum(),
    lambda a, b: (a @ b.T).mean(),
    lambda a, b: (a.exp() + (b * b + 1.0).log()).max(),
    lambda a, b: softmax_op(a).sum() + log_softmax_op(b).mean() + sigmoid_op(a).sum(),
    lambda a, b: tanh_op(a).sum() + gelu_op(b).sum() + relu_op(a).sum(),
    lambda a, b: cross_entropy_op(linear_op(a, b), np.array([0, 1, 2])),
    lambda a, b: bce_op(sigmoid_op(a), np.ones((3, 3), np.float32)),
    lambda a, b: a[np.array([0, 0])].sum() + a.T.reshape(-1).sum() + (a - 0.5).mean(),
], ids=["arith", "matmul", "exp-log-max", "softmaxes", "acts", "ce", "bce", "shape"])
def test_gradients_stay_float32(fn):
    a, b = f32(3, 3, seed=1), f32(3, 3, seed=2)
    backward(fn(a, b))
    assert a.grad is not None, "every case uses a"
    for t in (a, b):
        if t.grad is not None:      # some cases do not use b
            assert t.grad.dtype == np.float32


@pytest.mark.parametrize("dim, keepdim", [(None, False), (1, False), (0, True), ((0, 1), False)])
def test_reduction_rules_return_float32(dim, keepdim):
    """A rule's own output stays float32 (the engine would cast it back, at a cost)."""
    x = f32(3, 4, seed=3)
    for name in ("sum", "mean"):
        made = getattr(x, name)(dim=dim, keepdim=keepdim)
        (g,) = getattr(ag, f"{name}_backward")(np.ones(made.shape, np.float32), made._node)
        assert g.dtype == np.float32, f"{name}_backward(dim={dim}) returned {g.dtype}"


def test_a_shared_gradient_array_is_never_added_into():
    """add hands one array to both inputs; broadcast gradients are read-only views."""
    p, q = f32(2, seed=1), f32(2, seed=2)
    y1, y2 = p * 2.0, q * 2.0
    seed = np.ones(2, np.float32)
    backward((y1 + y2) + y1, seed)
    assert np.allclose(p.grad.data, 4.0) and np.allclose(q.grad.data, 2.0), \
        "y1 is used twice: 2 + 2 for p, while q's gradient must stay 2"
    assert np.all(seed == 1.0), "the caller's gradient array is left as it was"
    for flip in (False, True):      # whichever use reports first, its array may be read-only
        p.grad = q.grad = None
        y1, y2 = p * 2.0, q * 2.0
        out = (y1 + (y1 + y2)) if flip else ((y1 + y2) + y1)
        backward(out.sum())
        assert np.allclose(p.grad.data, 4.0) and np.allclose(q.grad.data, 2.0)


def test_integer_inputs_to_linear():
    pixels = np.arange(6).reshape(2, 3)          # raw int64 pixel values
    w = f32(4, 3)
    out = record_op((pixels @ w.data.T).astype(np.float32), "linear", (Tensor(pixels), w))
    backward(out.sum())
    assert w.grad.dtype == np.float32
    assert np.allclose(w.grad.data, np.ones((2, 4)).T @ pixels)


# ---- the engine ----------------------------------------------------------------------------

def test_worked_example_and_tensor_method():
    a = Tensor(2.0, requires_grad=True)
    b = Tensor(-3.0, requires_grad=True)
    c = Tensor(10.0, requires_grad=True)
    ((a * b + c) ** 2).backward()
    assert (a.grad.item(), b.grad.item(), c.grad.item()) == (-24.0, 16.0, 8.0)


def test_backward_of_a_leaf():
    x = Tensor(3.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0


def test_non_scalar_output_needs_a_gradient():
    x = f32(2, 3)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"gradient.*\(2, 3\)|\(2, 3\).*gradient"):
        y.backward()
    with pytest.raises(RuntimeError, match="shape"):
        y.backward(np.ones(3, np.float32))
    y.backward(Tensor(np.full((2, 3), 2.0, np.float32)))
    assert np.all(x.grad.data == 4.0)


def test_tensor_without_grad_is_refused():
    with pytest.raises(RuntimeError, match="requires_grad"):
        (Tensor([1.0]) * 2.0).sum().backward()


def test_missing_rule_names_the_op():
    x = f32(3)
    y = record_op(x.data * 2, "mystery_op", (x,))
    with pytest.raises(RuntimeError, match="mystery_op"):
        backward(y, np.ones(3, np.float32))


def test_wrong_shape_from_a_rule_names_op_and_shapes(monkeypatch):
    monkeypatch.setitem(ag._RULES, "bad_shape_op", lambda g, node: (np.ones((7, 2)),))
    x = f32(3, 4)
    y = record_op(x.data.copy(), "bad_shape_op", (x,))
    with pytest.raises(RuntimeError) as err:
        backward(y, np.ones((3, 4), np.float32))
    msg = str(err.value)
    assert "bad_shape_op" in msg and "(7, 2)" in msg and "(3, 4)" in msg


def test_wrong_number_of_gradients_names_the_op(monkeypatch):
    monkeypatch.setitem(ag._RULES, "bad_count_op", lambda g, node: (g, g))
    x = f32(3)
    with pytest.raises(RuntimeError, match="bad_count_op"):
        backward(record_op(x.data.copy(), "bad_count_op", (x,)), np.ones(3, np.float32))


def test_none_for_a_needed_input_names_the_op(monkeypatch):
    monkeypatch.setitem(ag._RULES, "lazy_op", lambda g, node: (None,))
    x = f32(3)
    with pytest.raises(RuntimeError, match="lazy_op"):
        backward(record_op(x.data.copy(), "lazy_op", (x,)), np.ones(3, np.float32))


def test_graph_is_freed_unless_retained():
    x = f32(3)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert np.allclose(x.grad.data, 4 * x.data)
    assert y._node.saved is None
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_freed_graph_releases_the_activations():
    import gc
    import weakref

    x = f32(64, 32)
    hidden = (x * 2.0).exp()              # an activation only the graph refers to
    alive = weakref.ref(hidden)
    saved_out = weakref.ref(hidden._node.saved["out"])
    loss = hidden.sum()
    del hidden
    loss.backward(retain_graph=True)
    gc.collect()
    assert alive() is not None, "retain_graph=True must keep the graph"
    loss.backward()
    gc.collect()
    assert alive() is None and saved_out() is None, \
        "after backward() the graph must not keep the activations alive"
    assert loss._node.saved is None and loss._node.inputs == ()
    assert np.allclose(x.grad.data, 2 * 2 * np.exp(2 * x.data), rtol=1e-5)


def test_accumulation_across_calls_makes_a_new_array():
    p, q = f32(2, seed=1), f32(2, seed=2)
    y = p + q
    y.backward(np.ones(2, np.float32), retain_graph=True)
    first_p, first_q = p.grad.data, q.grad.data
    y.backward(np.ones(2, np.float32))
    assert np.all(p.grad.data == 2) and np.all(q.grad.data == 2)
    assert np.all(first_p == 1) and np.all(first_q == 1)
    assert p.grad.data is not first_p


def test_leaf_grad_is_a_writeable_array_not_a_broadcast_view():
    x = f32(3, 4)
    x.sum().backward()
    assert x.grad.data.flags.writeable and np.all(x.grad.data == 1)


def test_callers_gradient_array_is_not_aliased():
    x = f32(3)
    g = np.ones(3, np.float32)
    (x + 0.0).backward(g)
    g[:] = 5
    assert np.all(x.grad.data == 1)


def test_inputs_that_need_no_gradient_get_none():
    x = Tensor(np.ones((4, 3), np.float32))
    w = f32(3, 2)
    (x @ w).sum().backward()
    assert x.grad is None and w.grad.shape == (3, 2)


def test_shared_subgraph_runs_each_rule_once(monkeypatch):
    calls = {"mul": 0}
    real = ag._RULES["mul"]

    def counting(g, node):
        calls["mul"] += 1
        return real(g, node)

    monkeypatch.setitem(ag._RULES, "mul", counting)
    u = Tensor(1.0, requires_grad=True)
    z = u * 1.0
    for _ in range(40):            # without a visited set: 2**40 visits
        z = z * 0.5 + z * 0.5
    z.backward()
    assert calls["mul"] == 1 + 2 * 40
    assert abs(u.grad.item() - 1.0) < 1e-6


def test_deep_chain_has_no_recursion_limit():
    assert sys.getrecursionlimit() < 10_000
    x = Tensor(0.5, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + 1.0
    assert len(topological_order(y)) == 10_000
    y.backward()
    assert x.grad.item() == 1.0


def test_mlp_with_a_shared_weight_gets_the_summed_gradient():
    rng = np.random.default_rng(0)
    w_data = rng.standard_normal((4, 4)).astype(np.float32)
    x = Tensor(rng.standard_normal((3, 4)).astype(np.float32))
    target = np.array([0, 3, 1])
    w = Tensor(w_data.copy(), requires_grad=True)
    cross_entropy_op(linear_op(relu_op(linear_op(x, w)), w), target).backward()
    w1 = Tensor(w_data.copy(), requires_grad=True)
    w2 = Tensor(w_data.copy(), requires_grad=True)
    cross_entropy_op(linear_op(relu_op(linear_op(x, w1)), w2), target).backward()
    assert np.allclose(w.grad.data, w1.grad.data + w2.grad.data, atol=1e-6)


def test_value_used_twice_in_one_op():
    x = f64(3)
    (x * x).sum().backward()
    assert np.allclose(x.grad.data, 2 * x.data)
    y = f64(3)
    (y + y).sum().backward()
    assert np.allclose(y.grad.data, 2.0)


# ---- no_grad --------------------------------------------------------------------------------

def test_no_grad_records_nothing_and_restores():
    w = f32(2)
    with no_grad():
        y = w * 2.0 + 1.0
        assert not is_grad_enabled()
    assert y._node is None and not y.requires_grad and is_grad_enabled()


def test_no_grad_nesting_exceptions_and_enable_grad():
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()
        with enable_grad():
            assert is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError("x")
    assert is_grad_enabled()
    ctx = no_grad()
    with ctx:
        with ctx:
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_no_grad_as_decorator_with_and_without_parentheses():
    w = f32(2)

    @no_grad()
    def f(t):
        assert not is_grad_enabled()
        return t * 2.0

    @no_grad
    def g(t):
        return t * 3.0

    assert f(w)._node is None and g(w)._node is None and is_grad_enabled()
    assert f.__name__ == "f"


def test_top_level_package_exports_no_grad():
    import tinytorch

    assert tinytorch.no_grad is no_grad


# ---- gradcheck itself -----------------------------------------------------------------------

def test_gradcheck_catches_a_wrong_rule(monkeypatch):
    # The derivative of t**2 is 2t; this rule forgets the 2.
    monkeypatch.setitem(ag._RULES, "off_by_two", lambda g, node: (g * node.inputs[0].data,))

    def square(t):
        return record_op(t.data ** 2, "off_by_two", (t,))

    x = f64(2, 3, seed=1)
    x.data[1, 2] = 3.0
    with pytest.raises(AssertionError) as err:
        gradcheck(lambda t: square(t) * 0.5, [x])   # worst where |t| is largest: (1, 2)
    msg = str(err.value)
    assert "input 0" in msg and "position" in msg and "(1, 2)" in msg


def test_gradcheck_names_the_output_op(monkeypatch):
    monkeypatch.setitem(ag._RULES, "wrong_op", lambda g, node: (g,))
    with pytest.raises(AssertionError, match="wrong_op"):
        gradcheck(lambda t: record_op(t.data * 3, "wrong_op", (t,)), [f64(3)])


def test_gradcheck_wants_float64_and_restores_grads():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2.0, [f32(3)])
    x = f64(3)
    x.grad = Tensor(np.full(3, 7.0))
    assert gradcheck(lambda t: (t * t).sum(), [x])
    assert np.all(x.grad.data == 7.0) and is_grad_enabled()


def test_gradcheck_works_inside_no_grad():
    with no_grad():
        assert gradcheck(lambda t: t.exp(), [f64(3)])
        assert not is_grad_enabled()


# ---- properties -----------------------------------------------------------------------------

@st.composite
def broadcast_pair(draw):
    target = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    small = tuple(1 if draw(st.booleans()) else n for n in target)
    return lead + target, small


@settings(max_examples=60, deadline=None)
@given(broadcast_pair(), st.integers(0, 2**31))
def test_unbroadcast_keeps_the_total_and_reaches_the_shape(pair, seed):
    big, small = pair
    grad = np.random.default_rng(seed).standard_normal(big)
    grad = np.broadcast_to(grad, np.broadcast_shapes(big, small))
    out = unbroadcast(grad, small)
    assert out.shape == small
    assert np.isclose(out.sum(), grad.sum())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=0, max_size=3), st.floats(-3, 3))
def test_gradient_is_linear_in_the_output(shape, k):
    x = f64(*shape, seed=len(shape))
    (x * x * k).sum().backward()
    assert np.allclose(x.grad.data, 2 * k * x.data)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.integers(0, 2**31))
def test_softmax_gradient_sums_to_zero_along_dim(rows, cols, seed):
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((rows, cols)), requires_grad=True)
    softmax_op(x, dim=1).backward(rng.standard_normal((rows, cols)))
    assert np.allclose(x.grad.data.sum(axis=1), 0.0, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**31))
def test_broadcast_add_gradient_counts_uses(rows, cols, seed):
    a = Tensor(np.random.default_rng(seed).standard_normal((rows, 1)), requires_grad=True)
    b = Tensor(np.zeros((1, cols)), requires_grad=True)
    (a + b).sum().backward()
    assert np.all(a.grad.data == cols) and np.all(b.grad.data == rows)


# ---- the given ops of module 01: clamp, where, cat, stack; exact GELU ------------------------

def test_given_ops_pass_finite_differences():
    from tinytorch.core.tensor import cat, clamp, stack, where

    x = f64(3, 4, seed=3)
    x.data[np.abs(np.abs(x.data) - 0.5) < 0.05] += 0.2      # away from the clamp's corners
    check(lambda t: clamp(t, -0.5, 0.5), [x])
    check(lambda t: t.clamp(min=0.1), [f64(3, 4, seed=4, low=-1.0)])
    mask = np.array([[True, False, True, False]] * 3)
    check(lambda a, b: where(mask, a, b), [f64(3, 4, seed=5), f64(1, 4, seed=6)])
    check(lambda a, b: where(mask, a, b * 2.0), [f64(3, 4, seed=5), f64(3, 4, seed=6)])
    check(lambda a, b: cat([a, b, a], dim=1), [f64(2, 3, seed=7), f64(2, 1, seed=8)])
    check(lambda a, b: stack([a, b], dim=1), [f64(2, 3, seed=9), f64(2, 3, seed=10)])
    check(lambda a: a.unsqueeze(0).squeeze(), [f64(2, 1, 3, seed=11)])


def test_norms_and_leaky_relu_pass_finite_differences():
    from tinytorch.core.activations import leaky_relu

    for p in (2, "fro", 3, 1.5, 1, float("inf")):
        check(lambda t, p=p: t.norm(p), [f64(3, 4, seed=14)])
        check(lambda t, p=p: t.norm(p, dim=1, keepdim=True), [f64(3, 4, seed=15)])
    check(lambda t: t.norm(dim=(0, 2)), [f64(2, 3, 2, seed=16)])
    check(lambda t: leaky_relu(t, 0.2), [f64(4, 5, seed=17)])


def test_the_norm_of_zeros_has_gradient_zero_not_nan():
    for p in (2, 3):
        t = Tensor(np.zeros((2, 3)), requires_grad=True)
        t.norm(p, dim=1).sum().backward()
        assert t.grad.data.tolist() == [[0.0] * 3] * 2, (p, t.grad.data)
    t = Tensor(np.array([[0.0, 0.0], [3.0, 4.0]]), requires_grad=True)
    t.norm(dim=1).sum().backward()
    np.testing.assert_allclose(t.grad.data, [[0.0, 0.0], [0.6, 0.8]])


def test_exact_gelu_passes_finite_differences():
    from tinytorch.core.activations import gelu

    check(lambda t: gelu(t), [f64(4, 5, seed=12)])
    check(lambda t: gelu(t, approximate="tanh"), [f64(4, 5, seed=13)])


def test_a_thread_in_no_grad_does_not_stop_another_from_recording():
    import threading

    entered, done = threading.Event(), threading.Event()

    def hold_no_grad():
        with no_grad():
            entered.set()
            done.wait(5)

    t = threading.Thread(target=hold_no_grad)
    t.start()
    entered.wait(5)
    w = Tensor([1.0], requires_grad=True)
    recorded = (w * 2)._node is not None
    done.set()
    t.join()
    assert recorded, "the main thread records while another thread is inside no_grad()"


def test_retain_grad_keeps_an_intermediate_gradient():
    x = f64(3)
    h = x * 2.0
    assert h.retain_grad() is None and h.retains_grad and not x.retains_grad
    loss = (h * h).sum()
    loss.retain_grad()
    backward(loss, retain_graph=True)
    np.testing.assert_allclose(h.grad.data, 2 * h.data)                 # d(sum h^2)/dh
    np.testing.assert_allclose(x.grad.data, 8 * x.data)
    assert loss.grad.data == 1.0
    backward(loss)                                                         # adds up, as leaves do
    np.testing.assert_allclose(h.grad.data, 4 * h.data)
    free = x * 3.0
    free.sum().backward()
    assert free.grad is None, "a non-leaf that did not ask keeps no gradient"


def test_a_retained_gradient_is_not_shared_with_a_leaf():
    """``add`` hands its whole gradient to an input: the kept copy must be a separate array."""
    a, b = f64(3), f64(3, seed=1)
    s = a + b
    s.retain_grad()
    backward(s, np.ones(3))
    assert not np.shares_memory(s.grad.data, a.grad.data)
    a.grad.zero_()
    np.testing.assert_array_equal(s.grad.data, np.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).retain_grad()


def test_gradients_of_a_shared_add_are_separate_arrays():
    a, b = f64(3), f64(3, seed=1)
    backward(a + b, np.ones(3))
    assert a.grad.data is not b.grad.data and not np.shares_memory(a.grad.data, b.grad.data)


def test_more_given_ops_pass_finite_differences():
    """abs, clone, cast (module 05's rules) and the methods built from other ops."""
    x = f64(3, 4, seed=21)
    x.data[np.abs(x.data) < 0.05] += 0.2                      # |x| has a kink at 0
    check(lambda t: t.abs(), [x])
    check(lambda t: t.clone() * t, [f64(3, 4, seed=22)])
    check(lambda t: t.min(dim=1).values, [f64(3, 4, seed=23)])
    check(lambda t: t.min(), [f64(3, 4, seed=24)])
    check(lambda t: t.var(dim=0), [f64(3, 4, seed=25)])
    check(lambda t: t.std(), [f64(3, 4, seed=26)])
    check(lambda t: t.abs().sqrt(), [x])
    check(lambda t: t.permute(2, 0, 1), [f64(2, 3, 4, seed=27)])
    check(lambda t: t.masked_fill(t > 0.3, -1.0) * t, [f64(3, 4, seed=28)])
    check(lambda t: t.t() @ t, [f64(3, 2, seed=29)])


def test_picking_sorting_splitting_and_expanding_pass_finite_differences():
    """gather (a place picked twice gets two gradients), sort, topk, split, chunk, expand and
    repeat, all built from getitem, cat and add."""
    check(lambda t: t.gather(1, Tensor(np.array([[0, 0, 2], [3, 1, 1]]))), [f64(2, 4, seed=30)])
    check(lambda t: t.sort(dim=0, descending=True).values, [f64(3, 4, seed=31)])
    check(lambda t: t.topk(2).values * t.topk(2, largest=False).values, [f64(3, 4, seed=32)])
    check(lambda t: t.split([3, 1], dim=1)[0] * t.chunk(4, dim=1)[3], [f64(2, 4, seed=33)])
    check(lambda t: t.expand(2, 3, -1) * Tensor(np.arange(6.0).reshape(2, 3, 1)),
          [f64(3, 1, seed=34)])
    check(lambda t: t.repeat(2, 1, 2), [f64(2, 3, seed=35)])


def test_cast_passes_the_gradient_back_in_the_inputs_dtype():
    a = Tensor(np.array([0.5, -1.5], np.float32), requires_grad=True)
    ((a.double() ** 2) * 3.0).sum().backward()
    assert a.grad.dtype == np.float32
    np.testing.assert_allclose(a.grad.data, 6.0 * a.data, rtol=1e-6)
    b = Tensor(np.array([0.25, 2.0]), requires_grad=True)           # float64 through float32
    (b.float() * b.float()).sum().backward()
    assert b.grad.dtype == np.float64
    np.testing.assert_allclose(b.grad.data, 2.0 * b.data, rtol=1e-6)
    labels = Tensor(np.array([0.7, 1.2]), requires_grad=True).long()
    assert labels._node is None and not labels.requires_grad
