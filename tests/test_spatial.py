"""Module 09: conv2d, max_pool2d, im2col/col2im and the Conv2d, MaxPool2d, Flatten layers.

Every backward rule is checked against central finite differences in float64, and, when
PyTorch is installed, forward values and gradients are compared with torch's over strides,
paddings, rectangular kernels, channel counts and batch sizes.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.autograd import gradcheck, no_grad, registered_ops
from tinytorch.core.spatial import (Conv2d, Flatten, MaxPool2d, col2im, conv2d,
                                    conv2d_backward, conv2d_naive, conv_output_size, im2col,
                                    max_pool2d)
from tinytorch.core.tensor import Tensor, manual_seed

pytestmark = pytest.mark.module09


def f64(rng, *shape) -> Tensor:
    return Tensor(rng.standard_normal(shape), dtype=np.float64, requires_grad=True)


# (N, C, H, W, O, kernel, stride, padding): strides, paddings, rectangular kernels and inputs,
# channel counts and batch sizes. Small enough for finite differences in float64.
CONV_CASES = [
    (1, 1, 5, 5, 1, 3, 1, 0),
    (2, 3, 6, 7, 4, 3, 1, 1),
    (3, 2, 7, 5, 3, (3, 2), (2, 1), (1, 0)),
    (2, 2, 8, 8, 2, 2, 2, 0),
    (1, 4, 6, 9, 2, (1, 4), (1, 3), (0, 2)),
    (4, 1, 5, 6, 3, 5, 1, 2),
]
POOL_CASES = [((2, 3, 6, 6), 2, None), ((1, 2, 7, 5), (2, 3), (1, 2)), ((3, 1, 9, 8), 3, 2),
              ((2, 2, 5, 5), 3, 1), ((1, 3, 4, 6), (1, 2), None)]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


# ---- shapes and the loop reference ---------------------------------------------------------
def test_output_size_formula():
    assert conv_output_size(28, 5, 1, 2) == 28
    assert conv_output_size(14, 5) == 10
    assert conv_output_size(7, 3, 2, 1) == 4
    with pytest.raises(ValueError, match="kernel of 5"):
        conv_output_size(3, 5)


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
def test_im2col_matrix_product_equals_the_loops(case):
    n, c, h, w, o, k, s, p = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w))
    kh, kw = _pair(k)
    weight = rng.standard_normal((o, c, kh, kw))
    bias = rng.standard_normal(o)
    expected = conv2d_naive(x, weight, bias, s, p)
    got = conv2d(Tensor(x), Tensor(weight), Tensor(bias), stride=s, padding=p)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.data, expected, rtol=1e-10, atol=1e-10)
    assert got.data.flags.c_contiguous


@given(st.integers(1, 3), st.integers(1, 3), st.integers(3, 7), st.integers(3, 7),
       st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2),
       st.integers(0, 2), st.integers(0, 2), st.integers(0, 2**31 - 1))
@settings(max_examples=40)
def test_col2im_is_the_adjoint_of_im2col(n, c, h, w, kh, kw, sh, sw, ph, pw, seed):
    """<im2col(x), g> == <x, col2im(g)> for every shape: col2im sums exactly the copies."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    cols = im2col(x, (kh, kw), (sh, sw), (ph, pw))
    rows_out = conv_output_size(h, kh, sh, ph)
    cols_out = conv_output_size(w, kw, sw, pw)
    assert cols.shape == (c * kh * kw, n * rows_out * cols_out)
    g = rng.standard_normal(cols.shape)
    back = col2im(g, x.shape, (kh, kw), (sh, sw), (ph, pw))
    assert back.shape == x.shape
    assert math.isclose(float(np.sum(cols * g)), float(np.sum(x * back)), rel_tol=1e-9,
                        abs_tol=1e-9)


def test_im2col_keeps_float32_and_column_order():
    x = np.arange(18, dtype=np.float32).reshape(2, 1, 3, 3)
    cols = im2col(x, 2)
    assert cols.dtype == np.float32 and cols.shape == (4, 8)
    assert cols[:, 0].tolist() == [0, 1, 3, 4]          # first patch of image 0
    assert cols[:, 4].tolist() == [9, 10, 12, 13]       # first patch of image 1


# ---- gradients against finite differences ---------------------------------------------------
def test_both_ops_have_registered_rules():
    assert {"conv2d", "max_pool2d"} <= set(registered_ops())


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
def test_conv2d_gradcheck(case):
    n, c, h, w, o, k, s, p = case
    rng = np.random.default_rng(1)
    kh, kw = _pair(k)
    x, weight, bias = f64(rng, n, c, h, w), f64(rng, o, c, kh, kw), f64(rng, o)
    assert gradcheck(lambda a, b, d: conv2d(a, b, d, stride=s, padding=p), [x, weight, bias])


def test_conv2d_gradcheck_without_bias_and_with_frozen_inputs():
    rng = np.random.default_rng(2)
    x, weight = f64(rng, 2, 2, 5, 5), f64(rng, 3, 2, 3, 3)
    assert gradcheck(lambda a, b: conv2d(a, b, padding=1), [x, weight])
    frozen_w = Tensor(rng.standard_normal((3, 2, 3, 3)), dtype=np.float64)
    assert gradcheck(lambda a: conv2d(a, frozen_w, stride=2), [x])
    frozen_x = Tensor(rng.standard_normal((2, 2, 5, 5)), dtype=np.float64)
    assert gradcheck(lambda b: conv2d(frozen_x, b), [weight])


def test_conv2d_skips_the_input_gradient_nobody_needs():
    rng = np.random.default_rng(3)
    image = Tensor(rng.standard_normal((2, 1, 6, 6)).astype(np.float32))
    weight = Tensor(rng.standard_normal((2, 1, 3, 3)).astype(np.float32), requires_grad=True)
    out = conv2d(image, weight)
    result = conv2d_backward(np.ones(out.shape, np.float32), out._node)
    assert result[0] is None and result[1].shape == weight.shape
    out.sum().backward()
    assert image.grad is None and weight.grad.dtype == np.float32


@pytest.mark.parametrize("shape, k, s", POOL_CASES, ids=[str(i) for i in range(len(POOL_CASES))])
def test_max_pool2d_gradcheck(shape, k, s):
    rng = np.random.default_rng(4)
    x = f64(rng, *shape)
    assert gradcheck(lambda a: max_pool2d(a, k, s), [x])


def test_max_pool2d_windows_sit_side_by_side_unless_a_stride_is_given():
    """stride defaults to kernel_size, as in PyTorch: a 2 x 2 pool halves each side."""
    x = Tensor(np.arange(16.0, dtype=np.float32).reshape(1, 1, 4, 4))
    assert max_pool2d(x, 2).data[0, 0].tolist() == [[5, 7], [13, 15]]
    assert max_pool2d(x, 2, 2).data[0, 0].tolist() == [[5, 7], [13, 15]]
    assert max_pool2d(x, 2, 1).data[0, 0].tolist() == [[5, 6, 7], [9, 10, 11], [13, 14, 15]]
    assert max_pool2d(x, (2, 1)).data[0, 0].tolist() == [[4, 5, 6, 7], [12, 13, 14, 15]]
    assert max_pool2d(Tensor(np.zeros((2, 3, 9, 8), np.float32)), 3).shape == (2, 3, 3, 2)
    assert MaxPool2d(2)(Tensor(np.zeros((2, 3, 8, 8), np.float32))).shape == (2, 3, 4, 4)


def test_max_pool2d_ties_go_to_the_first_entry_and_shares_add_when_windows_overlap():
    x = Tensor(np.zeros((1, 1, 2, 2), np.float32), requires_grad=True)
    max_pool2d(x, 2).sum().backward()
    assert x.grad.data[0, 0].tolist() == [[1, 0], [0, 0]]
    y = Tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    max_pool2d(y, 2, 1).sum().backward()     # 9 overlapping windows
    assert y.grad.data.sum() == 9 and y.grad.data[0, 0, 3, 3] == 1
    assert y.grad.data[0, 0, 2, 2] == 1 and y.grad.data[0, 0, 0, 0] == 0
    peak = np.random.default_rng(9).uniform(0, 0.1, (1, 1, 5, 5))
    peak[0, 0, 2, 2] = 1.0                   # the winner of all nine 3 x 3 windows
    z = Tensor(peak, requires_grad=True)
    max_pool2d(z, 3, 1).sum().backward()
    assert z.grad.data[0, 0, 2, 2] == 9 and z.grad.data.sum() == 9


def test_no_grad_records_nothing():
    x = Tensor(np.ones((1, 1, 4, 4), np.float32), requires_grad=True)
    w = Tensor(np.ones((1, 1, 2, 2), np.float32), requires_grad=True)
    with no_grad():
        assert conv2d(x, w)._node is None and max_pool2d(x, 2)._node is None
    assert conv2d(x, w)._node.op == "conv2d" and max_pool2d(x, 2)._node.op == "max_pool2d"


# ---- errors name the op and the shapes ------------------------------------------------------
@pytest.mark.parametrize("call, words", [
    (lambda: conv2d(Tensor(np.ones((3, 8, 8))), Tensor(np.ones((2, 3, 3, 3)))),
     ["conv2d", "4-D", "(3, 8, 8)"]),
    (lambda: conv2d(Tensor(np.ones((1, 3, 8, 8))), Tensor(np.ones((2, 1, 3, 3)))),
     ["conv2d", "(1, 3, 8, 8)", "(2, 1, 3, 3)", "3 channels"]),
    (lambda: conv2d(Tensor(np.ones((1, 1, 8, 8))), Tensor(np.ones((2, 1, 3))),),
     ["conv2d", "4-D", "(2, 1, 3)"]),
    (lambda: conv2d(Tensor(np.ones((1, 1, 8, 8))), Tensor(np.ones((2, 1, 3, 3))),
                    Tensor(np.ones(3))), ["conv2d", "bias", "(3,)", "(2,)"]),
    (lambda: conv2d(Tensor(np.ones((1, 1, 4, 4))), Tensor(np.ones((2, 1, 5, 5)))),
     ["conv2d", "(1, 1, 4, 4)", "(2, 1, 5, 5)", "kernel of 5"]),
    (lambda: conv2d(Tensor(np.ones((1, 1, 8, 8))), Tensor(np.ones((2, 1, 3, 3))), stride=0),
     ["conv2d", "stride", "0"]),
    (lambda: conv2d(Tensor(np.ones((1, 1, 8, 8))), Tensor(np.ones((2, 1, 3, 3))),
                    padding=(1, 2, 3)), ["conv2d", "padding"]),
    (lambda: max_pool2d(Tensor(np.ones((4, 4))), 2), ["max_pool2d", "4-D", "(4, 4)"]),
    (lambda: max_pool2d(Tensor(np.ones((1, 1, 3, 3))), 4), ["max_pool2d", "(1, 1, 3, 3)"]),
    (lambda: Conv2d(0, 4, 3), ["Conv2d", "in_channels"]),
    (lambda: MaxPool2d(2.5), ["MaxPool2d", "kernel_size"]),
])
def test_bad_input_is_a_one_line_error_naming_op_and_shapes(call, words):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for w in words:
        assert w in message, f"{w!r} missing from: {message}"


# ---- the layers -----------------------------------------------------------------------------
def test_conv2d_layer_uses_pytorchs_default_bounds():
    manual_seed(0)
    layer = Conv2d(6, 16, 5)
    bound = 1 / math.sqrt(6 * 25)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32 and p.requires_grad
        assert np.abs(p.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.95 * bound           # uniform, not narrower
    assert np.abs(layer.bias.data).max() > 0.5 * bound              # the bias is not zero
    assert abs(float(layer.weight.data.std()) - bound / math.sqrt(3)) < 0.05 * bound
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert Conv2d(3, 2, (3, 5), bias=False).bias is None
    manual_seed(0)
    again = Conv2d(6, 16, 5)
    assert np.array_equal(again.weight.data, layer.weight.data), "manual_seed repeats the init"


def test_layers_in_a_sequential_train_and_report_shapes():
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import Adam

    manual_seed(0)
    model = Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(),
                       Linear(4 * 4 * 4, 3))
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((12, 1, 8, 8)).astype(np.float32))
    y = Tensor(np.arange(12) % 3)
    opt, loss_fn = Adam(model.parameters(), lr=1e-2), CrossEntropyLoss()
    first = None
    for _ in range(30):
        loss = loss_fn(model(x), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first, "a tiny CNN memorises 12 images"
    assert "Conv2d(1, 4, kernel_size=(3, 3)" in repr(model)
    assert Flatten(2)(Tensor(np.zeros((2, 3, 4, 5)))).shape == (2, 3, 20)


# ---- PyTorch parity -------------------------------------------------------------------------
PARITY = [  # (N, C, H, W, O, kernel, stride, padding)
    (1, 1, 28, 28, 6, 5, 1, 2),
    (8, 6, 14, 14, 16, 5, 1, 0),
    (3, 3, 11, 9, 5, (3, 2), (2, 1), (1, 0)),
    (5, 2, 10, 13, 4, (2, 5), (3, 2), (0, 2)),
    (2, 4, 7, 7, 8, 1, 1, 0),
    (16, 3, 9, 9, 2, 3, 2, 1),
]


@pytest.mark.parametrize("case", PARITY, ids=[str(i) for i in range(len(PARITY))])
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
def test_conv2d_matches_pytorch_forward_and_backward(case, with_bias):
    torch = pytest.importorskip("torch")
    n, c, h, w, o, k, s, p = case
    kh, kw = _pair(k)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    weight = rng.standard_normal((o, c, kh, kw)).astype(np.float32)
    bias = rng.standard_normal(o).astype(np.float32) if with_bias else None
    tx, tw = Tensor(x, requires_grad=True), Tensor(weight, requires_grad=True)
    tb = Tensor(bias, requires_grad=True) if with_bias else None
    px, pw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    pb = torch.tensor(bias, requires_grad=True) if with_bias else None
    out = conv2d(tx, tw, tb, stride=s, padding=p)
    ref = torch.nn.functional.conv2d(px, pw, pb, stride=s, padding=p)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-4)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    ref.backward(torch.from_numpy(g))
    np.testing.assert_allclose(tx.grad.data, px.grad.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(tw.grad.data, pw.grad.numpy(), rtol=1e-4, atol=1e-3)
    if with_bias:
        np.testing.assert_allclose(tb.grad.data, pb.grad.numpy(), rtol=1e-4, atol=1e-3)
    assert tx.grad.dtype == tw.grad.dtype == np.float32


@pytest.mark.parametrize("shape, k, s", POOL_CASES + [((16, 6, 28, 28), 2, None)],
                         ids=[str(i) for i in range(len(POOL_CASES) + 1)])
def test_max_pool2d_matches_pytorch_forward_and_backward(shape, k, s):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape).astype(np.float32)
    tx, px = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = max_pool2d(tx, k, s)
    ref = torch.nn.functional.max_pool2d(px, k, s)
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    ref.backward(torch.from_numpy(g))
    np.testing.assert_allclose(tx.grad.data, px.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_max_pool2d_after_relu_matches_pytorch_on_ties():
    """ReLU makes whole windows of zeros: the gradient goes to the first, as in PyTorch."""
    torch = pytest.importorskip("torch")
    x = np.maximum(np.random.default_rng(7).standard_normal((4, 3, 8, 8)), 0).astype(np.float32)
    x[0, 0, :2, :2] = 0.0
    tx, px = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    max_pool2d(tx, 2).sum().backward()
    torch.nn.functional.max_pool2d(px, 2).sum().backward()
    np.testing.assert_array_equal(tx.grad.data, px.grad.numpy())


def test_same_initial_weights_give_pytorchs_training_step():
    """A Conv2d + MaxPool2d + Linear network and its torch twin stay equal through Adam."""
    torch = pytest.importorskip("torch")
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import Adam

    manual_seed(1)
    ours = Sequential(Conv2d(1, 3, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(),
                      Linear(3 * 3 * 3, 4))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.ReLU(),
                                 torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                 torch.nn.Linear(27, 4))
    with torch.no_grad():
        for (_, p), q in zip(ours.named_parameters(), theirs.parameters()):
            q.copy_(torch.from_numpy(p.data))
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 1, 6, 6)).astype(np.float32)
    y = rng.integers(0, 4, 6)
    opt_a, opt_b = Adam(ours.parameters(), lr=1e-2), torch.optim.Adam(theirs.parameters(), 1e-2)
    for _ in range(5):
        loss_a = CrossEntropyLoss()(ours(Tensor(x)), Tensor(y))
        opt_a.zero_grad()
        loss_a.backward()
        opt_a.step()
        loss_b = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)),
                                                   torch.from_numpy(y))
        opt_b.zero_grad()
        loss_b.backward()
        opt_b.step()
        assert abs(loss_a.item() - loss_b.item()) < 1e-4
    for (_, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-3, atol=1e-4)
