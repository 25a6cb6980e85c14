"""Module 04 (losses): values, laws, edge cases and the autograd contract of each loss.

Run against whatever ``tinytorch`` is on the path, so a student's own build is tested too.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.losses import (BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss,
                                   binary_cross_entropy, binary_cross_entropy_with_logits,
                                   cross_entropy, log_softmax, mse_loss, nll_loss)
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module04

FAST = settings(max_examples=60, deadline=None)


def ref_log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """float64 reference, shifted the same way but computed in double precision."""
    z = z.astype(np.float64)
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def logit_batches(max_abs: float = 1e4):
    """(logits (N, C) float32, labels (N,) int64) with 1 <= N <= 6 and 1 <= C <= 7."""
    @st.composite
    def build(draw):
        n = draw(st.integers(1, 6))
        c = draw(st.integers(1, 7))
        z = draw(hnp.arrays(np.float32, (n, c), elements=st.floats(
            -max_abs, max_abs, width=32, allow_nan=False, allow_infinity=False)))
        y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
        return z, y
    return build()


@pytest.fixture
def strict_numpy():
    """Overflow, division by zero, invalid values and any warning become errors.

    Underflow stays allowed: exp(-20000) rounding to 0 is the correct float32 answer.
    """
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"), \
            warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---- log_softmax -------------------------------------------------------------------------------

@FAST
@given(logit_batches(max_abs=1e3))
def test_log_softmax_rows_exp_sum_to_one(batch):
    z, _ = batch
    out = log_softmax(Tensor(z)).data
    assert out.dtype == np.float32
    assert np.all(out <= 1e-6), "log-probabilities are never positive"
    np.testing.assert_allclose(np.exp(out.astype(np.float64)).sum(axis=-1), 1.0, atol=1e-5)


@FAST
@given(logit_batches(max_abs=50.0), st.lists(st.floats(-1e3, 1e3), min_size=6, max_size=6))
def test_log_softmax_ignores_a_constant_added_to_each_row(batch, shifts):
    z, _ = batch
    z = z.astype(np.float64)                       # exact law, so test it in double precision
    c = np.array(shifts[: len(z)])[:, None]
    np.testing.assert_allclose(log_softmax(Tensor(z + c)).data, log_softmax(Tensor(z)).data,
                               atol=1e-9)


def test_log_softmax_matches_reference_along_any_dim():
    z = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    for dim in (0, 1, 2, -1):
        out = log_softmax(Tensor(z), dim=dim)
        assert out.shape == z.shape and out.dtype == np.float32
        np.testing.assert_allclose(out.data, ref_log_softmax(z, axis=dim), atol=1e-5)


def test_log_softmax_is_the_tensor_method():
    z = Tensor([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(z.log_softmax(dim=-1).data, log_softmax(z).data)


def test_log_softmax_extreme_logits_are_exact(strict_numpy):
    out = log_softmax(Tensor([[1e4, -1e4, 0.0], [1000.0, 999.0, 998.0]])).data
    np.testing.assert_allclose(out[0], [0.0, -2e4, -1e4], atol=1e-3)
    np.testing.assert_allclose(out[1], [-0.4076059, -1.4076059, -2.4076059], atol=1e-5)


def test_log_softmax_records_the_contract():
    x = Tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    out = log_softmax(x, dim=1)
    node = out._node
    assert node.op == "log_softmax" and node.needs == (True,)
    assert len(node.inputs) == 1 and node.inputs[0] is x
    assert node.saved["dim"] == 1
    np.testing.assert_array_equal(node.saved["out"], out.data)
    assert log_softmax(Tensor([1.0, 2.0]))._node is None, "nothing recorded without grad"


def test_log_softmax_refuses_an_empty_dimension():
    with pytest.raises(ValueError, match="log_softmax"):
        log_softmax(Tensor(np.zeros((2, 0), np.float32)))


def test_log_softmax_keeps_float64_for_gradient_checks():
    assert log_softmax(Tensor(np.zeros((2, 3)))).dtype == np.float64


# ---- cross_entropy -----------------------------------------------------------------------------

@FAST
@given(logit_batches())
def test_cross_entropy_is_minus_log_p_of_the_label(batch):
    z, y = batch
    per = cross_entropy(Tensor(z), y, reduction="none").data
    expected = -ref_log_softmax(z)[np.arange(len(y)), y]
    assert per.dtype == np.float32 and per.shape == y.shape
    assert np.all(per >= 0.0), f"cross-entropy is never negative: {per}"
    np.testing.assert_allclose(per, expected, rtol=1e-5, atol=1e-3)


@FAST
@given(logit_batches())
def test_cross_entropy_reductions_agree(batch):
    z, y = batch
    per = cross_entropy(Tensor(z), y, reduction="none").data.astype(np.float64)
    mean = cross_entropy(Tensor(z), y).data
    total = cross_entropy(Tensor(z), y, reduction="sum").data
    assert mean.shape == () and total.shape == ()
    assert mean.dtype == np.float32 and total.dtype == np.float32
    np.testing.assert_allclose(mean, per.mean(), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(total, per.sum(), rtol=1e-5, atol=1e-3)


def test_cross_entropy_known_value():
    z = Tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
    assert cross_entropy(z, np.array([0, 1])).item() == pytest.approx(1.5754564, abs=1e-5)


def test_cross_entropy_extreme_logits_are_finite_without_warnings(strict_numpy):
    z = Tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4], [-1e4, -1e4, -1e4]])
    per = cross_entropy(z, np.array([1, 1, 2]), reduction="none").data
    assert np.all(np.isfinite(per))
    np.testing.assert_allclose(per, [2e4, 0.0, np.log(3.0)], rtol=1e-6, atol=1e-5)


def test_cross_entropy_records_one_fused_op():
    w = Tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], requires_grad=True)
    loss = cross_entropy(w, np.array([2, 0], dtype=np.int32), reduction="sum")
    node = loss._node
    assert node.op == "cross_entropy" and len(node.inputs) == 1 and node.inputs[0] is w
    probs = node.saved["probs"]
    assert probs.shape == (2, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, np.exp(ref_log_softmax(w.data)), atol=1e-6)
    assert node.saved["target"].dtype == np.int64
    np.testing.assert_array_equal(node.saved["target"], [2, 0])
    assert node.saved["reduction"] == "sum"
    assert cross_entropy(Tensor([[1.0, 2.0]]), np.array([0]))._node is None


def test_cross_entropy_does_not_modify_the_logits():
    z = np.array([[3.0, 1.0, -2.0]], np.float32)
    before = z.copy()
    cross_entropy(Tensor(z, requires_grad=True), np.array([1]))
    np.testing.assert_array_equal(z, before)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64])
def test_cross_entropy_accepts_any_integer_labels(dtype):
    z = Tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    expected = cross_entropy(z, np.array([2, 0])).item()
    assert cross_entropy(z, np.array([2, 0], dtype=dtype)).item() == pytest.approx(expected)
    assert cross_entropy(z, Tensor(np.array([2, 0], dtype=dtype))).item() == \
        pytest.approx(expected)
    assert cross_entropy(z, [2, 0]).item() == pytest.approx(expected)


def test_cross_entropy_single_example():
    z = Tensor([0.0, 0.0, 0.0, 0.0], requires_grad=True)
    for reduction in ("mean", "sum", "none"):
        loss = cross_entropy(z, 3, reduction=reduction)
        assert loss.shape == () and loss.item() == pytest.approx(np.log(4.0))
        assert loss.requires_grad
    with pytest.raises(ValueError, match=r"\(\)"):
        cross_entropy(z, np.array([3]))


@pytest.mark.parametrize("bad, names", [
    (np.array([0.0, 2.0]), r"\[0, 2\]"),              # float labels
    (Tensor([0.0, 2.0]), r"\[0, 2\]"),                # float32 from a Python list
    (np.array([True, False]), r"\[0, 2\]"),           # booleans are not labels
    (np.array([0, 3]), r"\[0, 2\]"),                  # one past the last class
    (np.array([-1, 0]), r"\[0, 2\]"),                 # negative
    (np.array([[0], [2]]), r"\(2,\)"),                # (N, 1) instead of (N,)
    (np.array([0, 1, 2]), r"\(2,\)"),                 # one label too many
    (np.array(1), r"\(2,\)"),                         # a scalar for a batch
])
def test_cross_entropy_rejects_bad_labels_with_a_clear_message(bad, names):
    z = Tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=names):
        cross_entropy(z, bad)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, ">i8", np.uint8])
@pytest.mark.parametrize("label", ["most negative", -1, "largest", 3])
def test_cross_entropy_refuses_labels_outside_the_classes_in_every_integer_dtype(dtype, label):
    info = np.iinfo(dtype)
    if label == "most negative":
        label = info.min
    elif label == "largest":
        label = info.max
    if not info.min <= label <= info.max or 0 <= label <= 2:
        pytest.skip("this label fits no such dtype or is a valid class")
    z = Tensor(np.zeros((3, 3), np.float32))
    labels = np.array([1, 9, label, 9, 0, 9], dtype=dtype)[::2]   # a strided view
    with pytest.raises(ValueError, match=rf"\[0, 2\] for 3 classes, got {label}$"):
        cross_entropy(z, labels)
    with pytest.raises(ValueError, match=rf"got {label}$"):
        nll_loss(log_softmax(z), labels)
    assert cross_entropy(z, np.array([1, 2, 0], dtype=dtype)).item() == pytest.approx(np.log(3))


def test_cross_entropy_empty_batch_is_an_error_for_every_reduction():
    # Documented choice: an empty batch raises instead of PyTorch's nan for the mean.
    for reduction in ("mean", "sum", "none"):
        with pytest.raises(ValueError, match="empty"):
            cross_entropy(Tensor(np.zeros((0, 3), np.float32)), np.zeros(0, np.int64),
                          reduction=reduction)


def test_cross_entropy_rejects_bad_logits_and_reductions():
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        cross_entropy(Tensor(np.zeros((2, 3, 4), np.float32)), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="no classes"):
        cross_entropy(Tensor(np.zeros((2, 0), np.float32)), np.zeros(2, np.int64))
    with pytest.raises(TypeError, match="floating"):
        cross_entropy(Tensor(np.zeros((2, 3), np.int64)), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="'mean', 'sum' or 'none'"):
        cross_entropy(Tensor(np.zeros((2, 3), np.float32)), np.zeros(2, np.int64), "avg")


# ---- mse_loss ----------------------------------------------------------------------------------

finite32 = st.floats(-1e6, 1e6, width=32, allow_nan=False, allow_subnormal=False)


@FAST
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5).flatmap(
    lambda shape: st.tuples(hnp.arrays(np.float32, shape, elements=finite32),
                            hnp.arrays(np.float32, shape, elements=finite32))))
def test_mse_is_non_negative_and_zero_exactly_when_equal(pair):
    a, b = (x.astype(np.float64) for x in pair)     # float64: squares of float32 gaps stay > 0
    loss = mse_loss(Tensor(a), Tensor(b)).item()
    assert loss >= 0.0
    assert (loss == 0.0) == bool(np.array_equal(a, b))
    assert mse_loss(Tensor(a), Tensor(a)).item() == 0.0
    np.testing.assert_allclose(loss, np.mean((a - b) ** 2), rtol=1e-12)


def test_mse_reductions_and_dtype():
    pred = Tensor([[1.0, 2.0], [3.0, 4.0]])
    goal = np.array([[1.0, 0.0], [3.0, 7.0]])                 # float64 numpy target
    assert mse_loss(pred, goal).item() == pytest.approx(3.25)
    assert mse_loss(pred, goal, "sum").item() == pytest.approx(13.0)
    np.testing.assert_array_equal(mse_loss(pred, goal, "none").data, [[0, 4], [0, 9]])
    for reduction in ("mean", "sum", "none"):
        assert mse_loss(pred, goal, reduction).dtype == np.float32


def test_mse_is_composed_from_module_01_ops():
    w = Tensor([1.0, 2.0], requires_grad=True)
    node = mse_loss(w, Tensor([0.0, 0.0]))._node
    assert node.op == "mean"
    square = node.inputs[0]._node
    assert square.op == "mul"
    assert square.inputs[0]._node.op == "sub" and square.inputs[0]._node.inputs[0] is w


def test_mse_refuses_shapes_that_would_broadcast():
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        mse_loss(Tensor(np.zeros((4, 1), np.float32)), Tensor(np.zeros(4, np.float32)))


def test_mse_empty_batch_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        mse_loss(Tensor(np.zeros(0, np.float32)), np.zeros(0))


# ---- binary cross-entropy ----------------------------------------------------------------------

probabilities = st.floats(0.0, 1.0, width=32)


@FAST
@given(hnp.arrays(np.float32, st.integers(1, 8), elements=probabilities).flatmap(
    lambda p: st.tuples(st.just(p), hnp.arrays(np.float32, p.shape, elements=probabilities))))
def test_bce_matches_the_clamped_formula_and_is_finite(pair):
    p, t = pair
    per = binary_cross_entropy(Tensor(p), Tensor(t), reduction="none").data
    # As PyTorch: each log clamped at -100 (1 - p taken in float32, like the loss).
    floor = np.exp(-100.0)                # log(max(x, e^-100)) is max(log x, -100)
    log_p = np.log(np.maximum(p.astype(np.float64), floor))
    log_q = np.log(np.maximum((1 - p).astype(np.float64), floor))
    expected = -(t * log_p + (1 - t) * log_q)
    assert per.dtype == np.float32 and np.all(np.isfinite(per)) and np.all(per >= -1e-6)
    np.testing.assert_allclose(per, expected, rtol=1e-4, atol=1e-5)


def test_bce_saturates_at_the_clamp(strict_numpy):
    per = binary_cross_entropy(Tensor([0.0, 1.0, 1.0, 0.0]), Tensor([1.0, 0.0, 1.0, 0.0]),
                               reduction="none").data
    assert per[0] == 100.0 and per[1] == 100.0, "log 0 is clamped at -100, as in PyTorch"
    assert per[2] == 0.0 and per[3] == 0.0


def test_bce_records_the_contract():
    w = Tensor([0.0, 0.25, 1.0], requires_grad=True)
    loss = binary_cross_entropy(w, np.array([1.0, 0.0, 1.0]), reduction="sum")
    node = loss._node
    assert node.op == "binary_cross_entropy" and len(node.inputs) == 1 and node.inputs[0] is w
    np.testing.assert_array_equal(node.saved["p"], [0.0, 0.25, 1.0])
    assert node.saved["target"].dtype == np.float32
    np.testing.assert_array_equal(node.saved["target"], [1.0, 0.0, 1.0])
    assert set(node.saved) == {"p", "target", "reduction"} and node.saved["reduction"] == "sum"
    assert loss.item() == pytest.approx(100.0 - np.log(0.75), rel=1e-5)


@pytest.mark.module05
def test_bce_gradient_of_a_confident_mistake_is_pytorchs():
    """p = 1e-6 for target 1: the gradient is -1/p as in PyTorch, not cut by a clamp."""
    p = Tensor(np.array([1e-6, 0.0], np.float32), requires_grad=True)
    binary_cross_entropy(p, Tensor([1.0, 1.0]), reduction="sum").backward()
    assert p.grad.data[0] == pytest.approx(-1e6, rel=1e-3)
    assert p.grad.data[1] == pytest.approx(-1e12, rel=1e-3), "denominator bounded at 1e-12"


def test_bce_rejects_values_that_are_not_probabilities():
    with pytest.raises(ValueError, match="sigmoid"):
        binary_cross_entropy(Tensor([0.5, 2.5]), Tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="shape"):
        binary_cross_entropy(Tensor([0.5, 0.5]), Tensor([1.0]))
    with pytest.raises(ValueError, match="empty"):
        binary_cross_entropy(Tensor(np.zeros(0, np.float32)), np.zeros(0))


@FAST
@given(hnp.arrays(np.float32, st.integers(1, 8), elements=st.floats(-1e3, 1e3, width=32)),
       st.floats(0.0, 1.0))
def test_bce_with_logits_matches_the_exact_softplus_form(z, soft):
    t = np.where(np.arange(len(z)) % 2 == 0, 1.0, soft).astype(np.float32)
    z64 = z.astype(np.float64)
    # -(t log s(z) + (1 - t) log(1 - s(z))) = t softplus(-z) + (1 - t) softplus(z)
    exact = t * np.logaddexp(0.0, -z64) + (1 - t) * np.logaddexp(0.0, z64)
    per = binary_cross_entropy_with_logits(Tensor(z), Tensor(t), reduction="none").data
    assert per.dtype == np.float32 and np.all(per >= 0.0)
    np.testing.assert_allclose(per, exact, rtol=1e-5, atol=1e-5)


@FAST
@given(hnp.arrays(np.float32, st.integers(1, 8), elements=st.floats(-8, 8, width=32)))
def test_bce_with_logits_equals_bce_of_the_sigmoid_for_moderate_logits(z):
    t = (np.arange(len(z)) % 2).astype(np.float32)
    p = (1.0 / (1.0 + np.exp(-z.astype(np.float64)))).astype(np.float32)
    on_logits = binary_cross_entropy_with_logits(Tensor(z), Tensor(t), reduction="none").data
    on_probs = binary_cross_entropy(Tensor(p), Tensor(t), reduction="none").data
    np.testing.assert_allclose(on_logits, on_probs, rtol=1e-3, atol=1e-4)


def test_bce_with_logits_does_not_saturate(strict_numpy):
    per = binary_cross_entropy_with_logits(Tensor([-1e4, 1e4, -40.0, 40.0]),
                                           Tensor([1.0, 0.0, 0.0, 1.0]), reduction="none").data
    np.testing.assert_allclose(per, [1e4, 1e4, 0.0, 0.0], atol=1e-6)


def test_bce_with_logits_stays_in_the_graph():
    w = Tensor([[0.5, -0.5]], requires_grad=True)
    loss = binary_cross_entropy_with_logits(w, np.array([[1.0, 0.0]]))
    assert loss.shape == () and loss.requires_grad
    ops, stack = set(), [loss]
    while stack:
        node = stack.pop()._node
        if node is not None:
            ops.add(node.op)
            stack.extend(node.inputs)
    assert "log_softmax" in ops, f"the stable part should be log_softmax, saw {sorted(ops)}"


# ---- loss objects ------------------------------------------------------------------------------

def test_loss_classes_call_their_functions():
    z, y = Tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), np.array([0, 1])
    assert CrossEntropyLoss()(z, y).item() == cross_entropy(z, y).item()
    assert CrossEntropyLoss("none")(z, y).shape == (2,)
    a, b = Tensor([1.0, 2.0]), Tensor([0.0, 0.0])
    assert MSELoss()(a, b).item() == pytest.approx(2.5)
    assert MSELoss(reduction="sum")(a, b).item() == pytest.approx(5.0)
    p, t = Tensor([0.0, 0.9]), Tensor([1.0, 1.0])
    assert BinaryCrossEntropyLoss()(p, t).item() == binary_cross_entropy(p, t).item()
    assert repr(BinaryCrossEntropyLoss()) == "BinaryCrossEntropyLoss(reduction='mean')"


def test_pytorch_names_of_the_binary_losses():
    from tinytorch.core.losses import BCELoss, BCEWithLogitsLoss

    p, t = Tensor([0.2, 0.9]), Tensor([0.0, 1.0])
    assert BCELoss()(p, t).item() == binary_cross_entropy(p, t).item()
    assert isinstance(BCELoss(), BinaryCrossEntropyLoss)
    assert repr(BCELoss("sum")) == "BCELoss(reduction='sum')"
    z = Tensor([-40.0, 0.5, 3.0])
    t3 = Tensor([1.0, 0.0, 1.0])
    assert BCEWithLogitsLoss()(z, t3).item() == binary_cross_entropy_with_logits(z, t3).item()
    assert BCEWithLogitsLoss("none")(z, t3).shape == (3,)
    with pytest.raises(ValueError, match="reduction"):
        BCEWithLogitsLoss(reduction="average")


def test_losses_are_modules():
    from tinytorch.core.layers import Module

    for cls in (MSELoss, CrossEntropyLoss, BinaryCrossEntropyLoss):
        loss_fn = cls()
        assert isinstance(loss_fn, Module) and list(loss_fn.parameters()) == []
        assert loss_fn.eval() is loss_fn and loss_fn.training is False

    class WithLoss(Module):
        def __init__(self):
            super().__init__()
            self.criterion = CrossEntropyLoss()

    assert "(criterion): CrossEntropyLoss(reduction='mean')" in repr(WithLoss())


def smoothed_reference(z: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
    """Per-example cross-entropy against the smoothed target distribution, in float64."""
    target = np.full(z.shape, eps / z.shape[1])
    target[np.arange(len(y)), y] += 1.0 - eps
    return -(target * ref_log_softmax(z, axis=1)).sum(axis=1)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5, 1.0])
def test_label_smoothing_is_the_loss_against_the_smoothed_targets(eps):
    rng = np.random.default_rng(7)
    z = rng.standard_normal((6, 5)).astype(np.float32) * 3
    y = np.array([0, 4, 2, 2, 1, 3])
    expected = smoothed_reference(z, y, eps)
    per = cross_entropy(Tensor(z), y, "none", label_smoothing=eps)
    assert per.shape == (6,) and per.dtype == np.float32
    np.testing.assert_allclose(per.data, expected, rtol=1e-5, atol=1e-5)
    assert cross_entropy(Tensor(z), y, label_smoothing=eps).item() == pytest.approx(
        expected.mean(), rel=1e-5)
    assert CrossEntropyLoss("sum", label_smoothing=eps)(Tensor(z), y).item() == pytest.approx(
        expected.sum(), rel=1e-5)
    one = cross_entropy(Tensor(z[1]), 4, "none", label_smoothing=eps)
    assert one.shape == () and one.item() == pytest.approx(expected[1], rel=1e-5)


def test_label_smoothing_keeps_a_confident_right_answer_from_costing_nothing():
    z = Tensor([[30.0, 0.0, 0.0]])
    assert cross_entropy(z, np.array([0])).item() < 1e-6
    assert cross_entropy(z, np.array([0]), label_smoothing=0.1).item() > 1.0


@pytest.mark.module05
def test_label_smoothing_trains_through_recorded_ops():
    from tinytorch.core.autograd import gradcheck

    rng = np.random.default_rng(8)
    z = Tensor(rng.standard_normal((4, 3)), dtype=np.float64, requires_grad=True)
    y = np.array([2, 0, 1, 2])
    for reduction in ("mean", "sum", "none"):
        assert gradcheck(lambda t, r=reduction: cross_entropy(t, y, r, label_smoothing=0.2), [z])
    z.grad = None
    CrossEntropyLoss(label_smoothing=0.2)(z, y).backward()
    probs = np.exp(ref_log_softmax(z.data, axis=1))
    target = np.full((4, 3), 0.2 / 3)
    target[np.arange(4), y] += 0.8
    np.testing.assert_allclose(z.grad.data, (probs - target) / 4, rtol=1e-9, atol=1e-12)


def test_label_smoothing_outside_zero_to_one_is_refused():
    z, y = Tensor([[1.0, 2.0]]), np.array([1])
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
            CrossEntropyLoss(label_smoothing=bad)
        with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
            cross_entropy(z, y, label_smoothing=bad)
    assert repr(CrossEntropyLoss()) == "CrossEntropyLoss(reduction='mean')"
    assert (repr(CrossEntropyLoss("sum", label_smoothing=0.1))
            == "CrossEntropyLoss(reduction='sum', label_smoothing=0.1)")


@pytest.mark.parametrize("cls", [MSELoss, CrossEntropyLoss, BinaryCrossEntropyLoss])
def test_loss_classes_refuse_unknown_reductions(cls):
    with pytest.raises(ValueError, match="reduction"):
        cls(reduction="average")


# ---- nll_loss, NLLLoss, LogSoftmax (given) ----------------------------------------------------

@pytest.mark.module05
def test_nll_of_log_softmax_is_cross_entropy_values_and_gradients():
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.losses import LogSoftmax, NLLLoss, log_softmax, nll_loss
    from tinytorch.core.tensor import manual_seed

    rng = np.random.default_rng(3)
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    labels = np.array([0, 3, 1, 1, 2, 0])
    for reduction in ("mean", "sum", "none"):
        a, b = Tensor(logits.copy(), requires_grad=True), Tensor(logits.copy(),
                                                                 requires_grad=True)
        ours = nll_loss(log_softmax(a, dim=1), labels, reduction)
        fused = cross_entropy(b, labels, reduction)
        np.testing.assert_allclose(ours.data, fused.data, rtol=1e-5, atol=1e-6)
        ours.sum().backward()
        fused.sum().backward()
        np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-5, atol=1e-6)
    manual_seed(0)
    model = Sequential(Linear(4, 4), LogSoftmax(dim=1))
    loss = NLLLoss()(model(Tensor(logits)), labels)
    loss.backward()
    assert model[0].weight.grad is not None and loss.shape == ()
    assert repr(model[1]) == "LogSoftmax(dim=1)" and repr(NLLLoss("sum")) == "NLLLoss(reduction='sum')"
    one = Tensor(np.log(np.array([0.25, 0.75], np.float32)))
    assert nll_loss(one, 1).item() == pytest.approx(-np.log(0.75), rel=1e-6)


def test_nll_loss_refuses_bad_labels_and_inputs():
    from tinytorch.core.losses import nll_loss

    log_probs = Tensor(np.log(np.full((2, 3), 1 / 3, np.float32)))
    with pytest.raises(ValueError, match=r"class labels must be in \[0, 2\]"):
        nll_loss(log_probs, np.array([0, 3]))
    with pytest.raises(ValueError, match="integer class labels"):
        nll_loss(log_probs, np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="log-probabilities must be floating point"):
        nll_loss(Tensor(np.zeros((2, 3), np.int64)), np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        nll_loss(log_probs, np.array([0, 1]), reduction="avg")
