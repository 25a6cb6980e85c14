"""Module 02: activations — values, numerical stability, dtypes, graph recording, objects."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.activations import (GELU, ReLU, Sigmoid, Softmax, Tanh, gelu, relu, sigmoid,
                                        softmax, tanh)
from tinytorch.core.tensor import Tensor, set_grad_enabled

pytestmark = pytest.mark.module02

FUNCTIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "gelu": gelu, "softmax": softmax}
CLASSES = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "gelu": GELU, "softmax": Softmax}
SAVED_KEYS = {"relu": {"out"}, "sigmoid": {"out"}, "tanh": {"out"}, "gelu": {"approximate"},
              "softmax": {"dim", "out"}}
F32_MAX = float(np.finfo(np.float32).max)

PROPERTY = settings(max_examples=60, deadline=None)


def float_arrays(lo: float, hi: float, dtype=np.float32, min_dims: int = 1, max_dims: int = 3):
    return hnp.arrays(
        dtype,
        hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=6),
        elements=st.floats(lo, hi, width=np.dtype(dtype).itemsize * 8,
                           allow_nan=False, allow_infinity=False),
    )


def reference(name: str, x: np.ndarray, dim: int = -1) -> np.ndarray:
    """Float64 reference values written independently of the module (no stability tricks)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        if name == "relu":
            return np.where(x > 0, x, 0.0)
        if name == "sigmoid":
            return 1.0 / (1.0 + np.exp(-x))
        if name == "tanh":
            return np.tanh(x)
        if name == "gelu":   # exact: x * Phi(x), Phi from math.erf
            return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
        if name == "softmax":
            e = np.exp(x - x.max(axis=dim, keepdims=True))
            return e / e.sum(axis=dim, keepdims=True)
    raise KeyError(name)


class no_float_trouble:
    """Turn numpy overflow / invalid / divide warnings (and any other warning) into errors."""

    def __enter__(self):
        self._warn = warnings.catch_warnings()
        self._warn.__enter__()
        warnings.simplefilter("error")
        self._err = np.errstate(over="raise", invalid="raise", divide="raise")
        self._err.__enter__()
        return self

    def __exit__(self, *exc):
        self._err.__exit__(*exc)
        return self._warn.__exit__(*exc)


# ---- values against a float64 reference ---------------------------------------------------------

@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_matches_reference_on_a_grid(name):
    x = np.linspace(-8.0, 8.0, 161).reshape(7, 23)
    out = FUNCTIONS[name](Tensor(x))
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, reference(name, x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@PROPERTY
@given(x=float_arrays(-30.0, 30.0))
def test_float32_close_to_float64_reference(name, x):
    out = FUNCTIONS[name](Tensor(x))
    np.testing.assert_allclose(out.data, reference(name, x), rtol=2e-5, atol=2e-6)


def test_known_values():
    assert relu(Tensor([-2.0, 0.0, 3.5])).data.tolist() == [0.0, 0.0, 3.5]
    assert sigmoid(Tensor([0.0])).item() == 0.5
    assert tanh(Tensor([0.0])).item() == 0.0
    assert gelu(Tensor([0.0])).item() == 0.0
    np.testing.assert_allclose(gelu(Tensor([1.0, -1.0])).data, [0.8413447, -0.1586553], atol=1e-6)
    np.testing.assert_allclose(gelu(Tensor([1.0, -1.0]), approximate="tanh").data,
                               [0.8411920, -0.1588080], atol=1e-6)
    with pytest.raises(ValueError, match="approximate"):
        gelu(Tensor([1.0]), approximate="fast")
    np.testing.assert_allclose(softmax(Tensor([2.0, 1.0, 0.1])).data,
                               [0.6590012, 0.2424330, 0.0985659], atol=1e-6)


def test_gelu_is_exact_by_default_and_tanh_on_request():
    """PyTorch's default GELU is exact; the tanh form agrees with it to a few 1e-4."""
    x = np.linspace(-6.0, 6.0, 241)
    exact = np.array([0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x])
    np.testing.assert_allclose(gelu(Tensor(x)).data, exact, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(GELU()(Tensor(x)).data, exact, rtol=1e-12, atol=1e-15)
    approx = GELU(approximate="tanh")(Tensor(x)).data
    assert 1e-5 < np.max(np.abs(approx - exact)) < 1e-3
    assert repr(GELU(approximate="tanh")) == "GELU(approximate='tanh')"


def test_gelu_minimum_is_the_known_dip():
    x = np.linspace(-3.0, 0.0, 3001)
    y = gelu(Tensor(x)).data
    assert -0.171 < y.min() < -0.169
    assert -0.80 < x[np.argmin(y)] < -0.70


# ---- properties -------------------------------------------------------------------------------

@PROPERTY
@given(x=float_arrays(-F32_MAX, F32_MAX))
def test_relu_properties(x):
    y = relu(Tensor(x)).data
    assert (y >= 0).all()
    assert np.array_equal(y[x > 0], x[x > 0])
    assert (y[x <= 0] == 0).all()
    assert np.array_equal(relu(Tensor(y)).data, y)          # idempotent


@PROPERTY
@given(x=float_arrays(-F32_MAX, F32_MAX))
def test_sigmoid_in_unit_interval_and_symmetric_for_any_finite_input(x):
    with no_float_trouble():
        y = sigmoid(Tensor(x)).data
        y_neg = sigmoid(Tensor(-x)).data
    assert not np.isnan(y).any()
    assert ((y >= 0) & (y <= 1)).all()
    np.testing.assert_allclose(y + y_neg, 1.0, atol=1e-6)


@PROPERTY
@given(x=float_arrays(-50.0, 50.0, dtype=np.float64, min_dims=1, max_dims=1))
def test_sigmoid_and_tanh_are_monotone(x):
    x = np.sort(x)
    slack = -4 * np.finfo(np.float64).eps       # rounding may wobble by an ulp, never more
    assert (np.diff(sigmoid(Tensor(x)).data) >= slack).all()
    assert (np.diff(tanh(Tensor(x)).data) >= slack).all()


@PROPERTY
@given(x=float_arrays(-F32_MAX, F32_MAX))
def test_tanh_in_range_and_odd(x):
    with no_float_trouble():
        y = tanh(Tensor(x)).data
    assert ((y >= -1) & (y <= 1)).all()
    np.testing.assert_allclose(tanh(Tensor(-x)).data, -y, rtol=1e-6, atol=1e-12)


@PROPERTY
@given(x=float_arrays(-20.0, 20.0, dtype=np.float64))
def test_tanh_is_a_rescaled_sigmoid(x):
    np.testing.assert_allclose(tanh(Tensor(x)).data, 2 * sigmoid(Tensor(2 * x)).data - 1,
                               atol=1e-12)


@PROPERTY
@given(x=float_arrays(-F32_MAX, F32_MAX))
def test_gelu_bounds_for_any_finite_input(x):
    with no_float_trouble():
        y = gelu(Tensor(x)).data
    assert not np.isnan(y).any()
    assert (y >= -0.1701).all()                               # the dip is the global minimum
    pos = x > 0
    assert (y[pos] <= x[pos]).all() and (y[pos] >= 0).all()   # 0 <= gelu(x) <= x for x > 0
    assert (y[~pos] <= 0).all()
    far = x > 10
    assert np.array_equal(y[far], x[far])                     # fully on: exactly x


@st.composite
def array_and_dim(draw, lo=-1e4, hi=1e4, dtype=np.float32):
    x = draw(float_arrays(lo, hi, dtype=dtype))
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    return x, dim


@PROPERTY
@given(case=array_and_dim())
def test_softmax_is_a_distribution_along_dim(case):
    x, dim = case
    with no_float_trouble():
        p = softmax(Tensor(x), dim=dim).data
    assert p.shape == x.shape and p.dtype == np.float32
    assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(p.sum(axis=dim), 1.0, atol=1e-5)
    # the largest logit gets the largest probability
    winner = np.expand_dims(np.argmax(x, axis=dim), dim)
    assert np.array_equal(np.take_along_axis(p, winner, axis=dim), p.max(axis=dim, keepdims=True))


@PROPERTY
@given(case=array_and_dim(-50.0, 50.0), shift=st.floats(-50.0, 50.0))
def test_softmax_ignores_a_constant_added_along_dim(case, shift):
    x, dim = case
    p = softmax(Tensor(x), dim=dim).data
    shifted = softmax(Tensor(x + np.float32(shift)), dim=dim).data
    np.testing.assert_allclose(shifted, p, rtol=1e-4, atol=1e-6)


@st.composite
def array_dim_and_shifts(draw):
    x, dim = draw(array_and_dim(-1e6, 1e6, dtype=np.float64))
    shape = list(x.shape)
    shape[dim] = 1                      # one constant per slice along dim
    shifts = draw(hnp.arrays(np.float64, tuple(shape), elements=st.floats(-1e6, 1e6)))
    return x, dim, shifts


@PROPERTY
@given(case=array_dim_and_shifts())
def test_softmax_shift_invariance_per_slice_in_float64(case):
    # Adding a different constant to every slice along dim changes nothing.
    x, dim, shifts = case
    np.testing.assert_allclose(softmax(Tensor(x + shifts), dim=dim).data,
                               softmax(Tensor(x), dim=dim).data, rtol=1e-6, atol=1e-9)


# ---- numerical edge cases ---------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs_give_no_warnings_and_no_nan(name, dtype):
    big = float(np.finfo(dtype).max)
    values = [-big, -1e30, -1000.0, -100.0, -89.0, 0.0, 89.0, 100.0, 1000.0, 1e30, big]
    if name == "softmax":
        # Mixed signs near the float limit would overflow x - max itself; keep each row one-signed.
        values = [[-big, -1e30, -1000.0, -100.0, -89.0, 0.0], [0.0, 89.0, 100.0, 1000.0, 1e30, big]]
    x = Tensor(np.array(values, dtype=dtype))
    with no_float_trouble():
        y = FUNCTIONS[name](x).data
    assert not np.isnan(y).any(), f"{name} gave nan: {y}"
    assert y.dtype == dtype


def test_large_input_values():
    with no_float_trouble():
        s = sigmoid(Tensor([-1000.0, 1000.0])).data
        g = gelu(Tensor([-1e30, 1e30])).data
        t = tanh(Tensor([-1000.0, 1000.0])).data
        p = softmax(Tensor([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 0.0]])).data
    assert s.tolist() == [0.0, 1.0]
    assert g[0] == 0.0 and g[1] == np.float32(1e30)
    assert t.tolist() == [-1.0, 1.0]
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]], atol=1e-7)


def test_sigmoid_keeps_its_small_tail():
    # 1 - sigmoid(30) cancels to 0, but sigmoid(-30) itself is representable.
    np.testing.assert_allclose(sigmoid(Tensor([-30.0, -80.0])).data,
                               [math.exp(-30) / (1 + math.exp(-30)), math.exp(-80)], rtol=1e-5)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (2, 0, 4)])
def test_empty_tensors(name, shape):
    x = Tensor(np.zeros(shape, dtype=np.float32))
    with no_float_trouble():
        y = FUNCTIONS[name](x)
    assert y.shape == shape and y.dtype == np.float32


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(name, dtype):
    x = Tensor(np.linspace(-3, 3, 12, dtype=dtype).reshape(3, 4))
    assert FUNCTIONS[name](x).dtype == dtype


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_python_lists_become_float32_and_input_is_untouched(name):
    data = np.array([[-1.5, 0.0, 2.0], [3.0, -4.0, 0.5]], dtype=np.float32)
    keep = data.copy()
    y = FUNCTIONS[name](Tensor(data))
    assert np.array_equal(data, keep), f"{name} modified its input"
    assert not np.shares_memory(y.data, data), f"{name} returned its input's memory"
    assert FUNCTIONS[name](Tensor([[-1.0, 2.0]])).dtype == np.float32


def test_softmax_dim_selects_the_axis():
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    for dim in range(-3, 3):
        moved = np.moveaxis(x, dim, -1)
        expected = np.moveaxis(softmax(Tensor(moved)).data, -1, dim)
        np.testing.assert_allclose(softmax(Tensor(x), dim=dim).data, expected, rtol=1e-6)
        np.testing.assert_allclose(Softmax(dim=dim)(Tensor(x)).data, expected, rtol=1e-6)


# ---- what autograd will need ------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_records_op_name_inputs_and_saved_values(name):
    x = Tensor(np.array([[-1.0, 0.5, 2.0]], dtype=np.float32), requires_grad=True)
    y = FUNCTIONS[name](x)
    node = y._node
    assert y.requires_grad and node is not None
    assert node.op == name
    assert len(node.inputs) == 1 and node.inputs[0] is x
    assert node.needs == (True,)
    assert set(node.saved) == SAVED_KEYS[name]
    if "out" in node.saved:
        assert np.array_equal(node.saved["out"], y.data)
    if name == "softmax":
        assert node.saved["dim"] == -1
        assert softmax(x, dim=0)._node.saved["dim"] == 0


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_nothing_recorded_without_grad(name):
    plain = FUNCTIONS[name](Tensor([[0.5, -0.5]]))
    assert plain._node is None and not plain.requires_grad
    previous = set_grad_enabled(False)
    try:
        off = FUNCTIONS[name](Tensor([[0.5, -0.5]], requires_grad=True))
    finally:
        set_grad_enabled(previous)
    assert off._node is None and not off.requires_grad


# ---- activation objects and Tensor methods ----------------------------------------------------

@pytest.mark.parametrize("name", sorted(CLASSES))
def test_objects_call_forward_and_match_the_functions(name):
    act = CLASSES[name]()
    x = Tensor(np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    y = act(x)
    np.testing.assert_array_equal(y.data, FUNCTIONS[name](x).data)
    np.testing.assert_array_equal(act.forward(x).data, y.data)
    assert y._node.op == name


def test_reprs():
    assert [repr(c()) for c in (ReLU, Sigmoid, Tanh, GELU)] == \
        ["ReLU()", "Sigmoid()", "Tanh()", "GELU(approximate='none')"]
    assert repr(Softmax()) == "Softmax(dim=-1)"
    assert repr(Softmax(dim=1)) == "Softmax(dim=1)"
    assert Softmax(0).dim == 0


def test_objects_chain_like_layers():
    layers = [ReLU(), Tanh(), Sigmoid(), GELU(), Softmax(dim=-1)]
    h = Tensor(np.array([[-1.0, 0.0, 1.0]], dtype=np.float32))
    for layer in layers:
        h = layer(h)
    assert h.shape == (1, 3) and abs(float(h.data.sum()) - 1.0) < 1e-6


@pytest.mark.parametrize("method", ["relu", "sigmoid", "tanh"])
def test_tensor_methods_use_the_activations(method):
    x = Tensor(np.array([[-2.0, 0.3, 4.0]], dtype=np.float32), requires_grad=True)
    y = getattr(x, method)()
    np.testing.assert_array_equal(y.data, FUNCTIONS[method](x).data)
    assert y._node.op == method


def test_tensor_softmax_method_takes_dim():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 5.0]], dtype=np.float32), requires_grad=True)
    np.testing.assert_allclose(x.softmax(dim=0).data.sum(axis=0), 1.0, atol=1e-6)
    np.testing.assert_allclose(x.softmax(1).data.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(x.softmax().data, softmax(x).data)
    assert x.softmax(dim=0)._node.saved["dim"] == 0


def test_top_level_package_exposes_the_classes():
    import tinytorch

    assert tinytorch.ReLU is ReLU and tinytorch.Softmax is Softmax and tinytorch.gelu is gelu


# ---- optional cross-check with PyTorch ---------------------------------------------------------

def test_against_pytorch_when_installed():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((5, 7)) * 4
    tx = torch.tensor(x)
    pairs = {
        "relu": torch.relu(tx), "sigmoid": torch.sigmoid(tx), "tanh": torch.tanh(tx),
        "gelu": torch.nn.functional.gelu(tx),
        "softmax": torch.softmax(tx, dim=-1),
    }
    for name, expected in pairs.items():
        np.testing.assert_allclose(FUNCTIONS[name](Tensor(x)).data, expected.numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(gelu(Tensor(x), approximate="tanh").data,
                               torch.nn.functional.gelu(tx, approximate="tanh").numpy(),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.module03
def test_activations_are_modules():
    """As in PyTorch: an activation is a Module, so a model's tree reaches it."""
    from tinytorch.core.layers import Linear, Module, Sequential

    relu_ = ReLU()
    assert isinstance(relu_, Module) and all(isinstance(c(), Module) for c in CLASSES.values())
    model = Sequential(Linear(2, 3), relu_, Linear(3, 1))
    assert relu_ in list(model.modules()), "modules() reaches the activation"
    model.eval()
    assert relu_.training is False, "eval() reaches the activation"
    model.train()
    assert relu_.training is True
    assert "(1): ReLU()" in repr(model)
    assert list(relu_.parameters()) == [] and relu_.state_dict() == {}
    assert relu_.train(False) is relu_ and not relu_.training
    with pytest.raises(AttributeError):
        relu_.no_such_method


def test_leaky_relu_keeps_a_slope_below_zero():
    from tinytorch.core.activations import LeakyReLU, leaky_relu

    x = Tensor([-2.0, -0.5, 0.0, 3.0])
    assert leaky_relu(x).data.tolist() == pytest.approx([-0.02, -0.005, 0.0, 3.0])
    assert leaky_relu(x, 0.5).dtype == np.float32
    assert LeakyReLU(0.2)(x).data.tolist() == pytest.approx([-0.4, -0.1, 0.0, 3.0])
    assert repr(LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"


@pytest.mark.module05
def test_leaky_relu_gradient_is_the_slope_at_and_below_zero():
    from tinytorch.core.activations import leaky_relu

    x = Tensor([-2.0, 0.0, 3.0], requires_grad=True)
    leaky_relu(x, 0.1).sum().backward()
    assert x.grad.data.tolist() == pytest.approx([0.1, 0.1, 1.0])
