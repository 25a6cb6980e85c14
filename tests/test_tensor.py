"""Module 01: tinytorch.core.tensor behaves like a float32 numpy array that records its graph."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import copy_package, run_python
from tinytorch.core.tensor import (Tensor, arange, exp, log, manual_seed, matmul, ones, permute,
                                   rand, randn, set_grad_enabled, tensor, transpose, zeros)

pytestmark = pytest.mark.module01

FLOATS = st.floats(-50, 50, width=32, allow_subnormal=False)


def f32(shape):
    return hnp.arrays(np.float32, shape, elements=FLOATS)


# ---- dtype rules ----------------------------------------------------------------------------

def test_python_data_takes_pytorchs_dtypes():
    """As torch.tensor: Python floats become float32, ints int64 (labels work), bools bool."""
    assert Tensor([1.5, 2.5]).dtype == np.float32
    assert Tensor([[1, 2.5], [3, 4]]).dtype == np.float32, "one float makes the list float"
    assert Tensor([[1, 2], [3, 4]]).dtype == np.int64
    assert Tensor(3).dtype == np.int64 and Tensor(3).shape == ()
    assert Tensor(3.0).dtype == np.float32 and Tensor([]).dtype == np.float32
    assert tensor([True, False]).dtype == np.bool_


def test_integer_division_and_mixing_give_float32_as_in_pytorch():
    labels = Tensor([1, 2, 3])
    assert (labels / 2).dtype == np.float32 and (labels / 2).data.tolist() == [0.5, 1.0, 1.5]
    assert (labels * 0.5).dtype == np.float32
    assert (labels + Tensor([0.5, 0.5, 0.5])).dtype == np.float32
    assert (labels + 1).dtype == np.int64, "int with a Python int stays int64"
    wide = Tensor(np.ones(3, np.float64))
    assert (wide / labels).dtype == np.float64, "a float64 input keeps float64"


def test_size_is_the_shape_when_called():
    x = Tensor(np.zeros((2, 3, 4), np.float32))
    assert x.size() == (2, 3, 4) and x.size(0) == 2 and x.size(-1) == 4
    assert x.size == 24 and x.numel() == 24, "x.size without parentheses counts elements"


def test_max_over_a_dim_returns_values_and_indices():
    x = Tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    v, i = x.max(dim=1)
    assert v.data.tolist() == [5.0, 7.0] and i.data.tolist() == [1, 0]
    assert i.dtype == np.int64
    pair = x.max(dim=0, keepdim=True)
    assert pair.values.shape == (1, 3) and pair.indices.data.tolist() == [[1, 0, 1]]
    assert x.max().item() == 7.0, "without dim: one tensor, as in PyTorch"


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.bool_])
def test_arrays_keep_their_dtype_without_a_copy(dtype):
    a = np.zeros((2, 3), dtype=dtype)
    t = Tensor(a)
    assert t.dtype == dtype and t.data is a, "numpy arrays are wrapped, not copied"
    assert Tensor(t).data is a, "a Tensor of a Tensor shares its data"


def test_explicit_dtype_and_requires_grad_rules():
    assert Tensor([1, 2], dtype=np.int32).dtype == np.int32
    assert Tensor(np.arange(3), dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError):
        Tensor(np.arange(3), requires_grad=True)
    t = Tensor([1.0], requires_grad=True)
    assert t.requires_grad and t.grad is None and t.is_leaf
    assert zeros(2, 3).dtype == np.float32 and ones((4,)).shape == (4,)
    assert arange(3).data.tolist() == [0.0, 1.0, 2.0]


# ---- arithmetic with broadcasting -----------------------------------------------------------

OPS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}


@given(data=st.data(), shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4,
                                                                max_side=4))
@pytest.mark.parametrize("op", list(OPS))
def test_broadcasting_arithmetic_matches_numpy(op, data, shapes):
    a_np = data.draw(f32(shapes.input_shapes[0]))
    b_np = data.draw(f32(shapes.input_shapes[1]))
    a, b = Tensor(a_np), Tensor(b_np)
    with np.errstate(all="ignore"):
        got = {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[op]
        want = OPS[op](a_np, b_np)
    assert got.shape == np.broadcast_shapes(a_np.shape, b_np.shape) == shapes.result_shape
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.data, want)


@given(x=f32(hnp.array_shapes(max_dims=3, max_side=4)),
       s=st.one_of(st.integers(-5, 5), st.floats(-5, 5, allow_nan=False, width=32)))
def test_python_scalars_do_not_upcast_and_reflect(x, s):
    t = Tensor(x)
    with np.errstate(all="ignore"):
        for got, want in [(t + s, x + np.float32(s)), (s + t, np.float32(s) + x),
                          (t - s, x - np.float32(s)), (s - t, np.float32(s) - x),
                          (t * s, x * np.float32(s)), (s * t, np.float32(s) * x),
                          (s / t, np.float32(s) / x)]:
            assert got.dtype == np.float32, "a Python number must not upcast float32"
            np.testing.assert_array_equal(got.data, want)


def test_negation_power_and_mixed_dtypes():
    a = Tensor([1.0, -2.0, 3.0])
    assert (-a).data.tolist() == [-1.0, 2.0, -3.0]
    assert (a ** 2).data.tolist() == [1.0, 4.0, 9.0] and (a ** 2).dtype == np.float32
    assert (Tensor([2.0]) ** Tensor([3.0])).item() == 8.0
    assert (a + Tensor(np.ones(3))).dtype == np.float64, "float32 + float64 follows numpy"


# ---- matmul ---------------------------------------------------------------------------------

@pytest.mark.parametrize("sa, sb", [((2, 3), (3, 4)), ((3,), (3,)), ((2, 3), (3,)),
                                    ((3,), (3, 5)), ((4, 2, 3), (4, 3, 5)), ((4, 2, 3), (3, 5)),
                                    ((2, 1, 2, 3), (5, 3, 2))])
def test_matmul_matches_numpy(sa, sb):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    got = Tensor(a) @ Tensor(b)
    want = np.matmul(a, b)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got.data, want, rtol=1e-6)
    np.testing.assert_allclose(matmul(a, b).data, want, rtol=1e-6)


@pytest.mark.parametrize("sa, sb, ka, kb", [((32, 784), (128, 10), 784, 128),
                                            ((2, 3), (4,), 3, 4), ((5,), (6, 2), 5, 6),
                                            ((8, 2, 3), (8, 4, 5), 3, 4)])
def test_matmul_error_names_both_shapes_and_sizes(sa, sb, ka, kb):
    with pytest.raises(ValueError) as err:
        Tensor(np.ones(sa, np.float32)) @ Tensor(np.ones(sb, np.float32))
    msg = str(err.value)
    assert "matmul" in msg and str(sa) in msg and str(sb) in msg, msg
    assert f"{ka} and {kb}" in msg, msg


def test_matmul_refuses_scalars():
    with pytest.raises(ValueError, match="matmul"):
        Tensor(2.0) @ Tensor([1.0])


# ---- reductions -----------------------------------------------------------------------------

@st.composite
def array_and_dim(draw):
    x = draw(f32(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4)))
    choice = draw(st.sampled_from(["none", "int", "negative", "tuple"]))
    if choice == "none":
        return x, None
    if choice == "tuple":
        dims = draw(st.lists(st.integers(0, x.ndim - 1), min_size=1, max_size=x.ndim,
                             unique=True))
        return x, tuple(dims)
    d = draw(st.integers(0, x.ndim - 1))
    return x, (d - x.ndim if choice == "negative" else d)


@given(case=array_and_dim(), keepdim=st.booleans())
@pytest.mark.parametrize("name, ref", [("sum", np.sum), ("mean", np.mean), ("max", np.max)])
def test_reductions_match_numpy(name, ref, case, keepdim):
    x, dim = case
    got = getattr(Tensor(x), name)(dim=dim, keepdim=keepdim)
    if name == "max" and isinstance(dim, int):
        got = got.values
    want = ref(x, axis=dim, keepdims=keepdim)
    assert got.shape == np.shape(want), f"{name}(dim={dim}, keepdim={keepdim})"
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.data, want, rtol=1e-5, atol=1e-5)


@given(x=f32(hnp.array_shapes(min_dims=2, max_dims=3, max_side=4)))
def test_reduction_laws(x):
    t = Tensor(x.astype(np.float64))
    np.testing.assert_allclose(t.sum().item(), t.sum(dim=0).sum().item(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(t.mean().item() * x.size, t.sum().item(), rtol=1e-9, atol=1e-7)
    assert t.max().item() == max(t.max(dim=-1).values.data.ravel())
    assert t.sum(dim=1, keepdim=True).shape == x.shape[:1] + (1,) + x.shape[2:]


# ---- shape ops and indexing -----------------------------------------------------------------

def test_reshape_transpose_permute_and_T():
    x_np = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = Tensor(x_np)
    assert x.reshape(6, 4).shape == (6, 4) and x.reshape((4, -1)).shape == (4, 6)
    np.testing.assert_array_equal(x.reshape(-1).data, x_np.ravel())
    np.testing.assert_array_equal(x.transpose(0, 2).data, np.swapaxes(x_np, 0, 2))
    np.testing.assert_array_equal(transpose(x, -1, -2).data, np.swapaxes(x_np, -1, -2))
    np.testing.assert_array_equal(permute(x, (2, 0, 1)).data, np.transpose(x_np, (2, 0, 1)))
    m = Tensor(x_np[0])
    np.testing.assert_array_equal(m.T.data, x_np[0].T)
    assert Tensor([1.0, 2.0]).T.shape == (2,)
    assert np.shares_memory(x.reshape(4, 6).data, x_np), "reshape is a view"
    assert np.shares_memory(x.transpose(0, 1).data, x_np), "transpose is a view"
    with pytest.raises(ValueError):
        x.reshape(5, 5)


def test_indexing():
    x_np = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = Tensor(x_np)
    np.testing.assert_array_equal(x[1].data, x_np[1])
    np.testing.assert_array_equal(x[1:, ::2].data, x_np[1:, ::2])
    np.testing.assert_array_equal(x[[2, 0]].data, x_np[[2, 0]])
    np.testing.assert_array_equal(x[x > 5].data, x_np[x_np > 5])
    np.testing.assert_array_equal(x[Tensor(np.array([2, 1]))].data, x_np[[2, 1]])
    rows, cols = Tensor(np.array([0, 2])), np.array([3, 1])
    np.testing.assert_array_equal(x[rows, cols].data, x_np[[0, 2], [3, 1]])
    assert x[2, 3].item() == 11.0 and x[2, 3].shape == ()


# ---- elementwise functions, argmax, comparisons ---------------------------------------------

@given(x=f32(hnp.array_shapes(max_dims=3, max_side=4)))
def test_exp_log_match_numpy(x):
    t = Tensor(x / 10)
    np.testing.assert_allclose(t.exp().data, np.exp(x / 10), rtol=1e-6)
    pos = Tensor(np.abs(x) + 1)
    np.testing.assert_allclose(log(pos).data, np.log(np.abs(x) + 1), rtol=1e-6)
    assert exp(t).dtype == np.float32 and log(pos).dtype == np.float32


def test_argmax():
    x_np = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], np.float32)
    x = Tensor(x_np)
    assert x.argmax().item() == 3
    assert x.argmax(dim=1).data.tolist() == [1, 0]
    assert x.argmax(dim=0, keepdim=True).shape == (1, 3)


def test_comparisons_give_boolean_tensors_outside_the_graph():
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for got, want in [(a == 2.0, [False, True, False]), (a != 2.0, [True, False, True]),
                      (a < 2.0, [True, False, False]), (a <= 2.0, [True, True, False]),
                      (a > 2.0, [False, False, True]), (a >= Tensor([3.0, 2.0, 1.0]),
                                                        [False, True, True])]:
        assert got.dtype == np.bool_ and got.data.tolist() == want
        assert got._node is None and not got.requires_grad


def test_truth_value_only_for_one_element():
    loss = Tensor(0.05)
    assert bool(loss < 0.1) and not bool(Tensor([2.0]) > 3.0)
    if loss > 1.0:
        raise AssertionError("0.05 > 1.0 must be False")
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]) == Tensor([3.0, 4.0]))
    with pytest.raises(ValueError, match="ambiguous"):
        assert Tensor(np.zeros(0, np.float32))


# ---- graph recording (the contract module 05 reads) -----------------------------------------

W = np.ones((2, 2), np.float32)
GRAPH_CASES = [
    ("add", lambda w, c: w + c, ()), ("sub", lambda w, c: w - c, ()),
    ("mul", lambda w, c: w * c, ()), ("div", lambda w, c: w / c, ()),
    ("neg", lambda w, c: -w, ()), ("pow", lambda w, c: w ** 2, ("out",)),
    ("matmul", lambda w, c: w @ c, ()), ("sum", lambda w, c: w.sum(dim=0), ("dim", "keepdim")),
    ("mean", lambda w, c: w.mean(), ("dim", "keepdim")),
    ("max", lambda w, c: w.max(dim=1, keepdim=True).values, ("dim", "keepdim", "out")),
    ("reshape", lambda w, c: w.reshape(4), ()), ("transpose", lambda w, c: w.T, ("axes",)),
    ("getitem", lambda w, c: w[0], ("index",)), ("exp", lambda w, c: w.exp(), ("out",)),
    ("log", lambda w, c: w.log(), ()),
]


@pytest.mark.parametrize("op, fn, saved", GRAPH_CASES, ids=[c[0] for c in GRAPH_CASES])
def test_ops_record_name_inputs_needs_and_saved(op, fn, saved):
    w = Tensor(W.copy(), requires_grad=True)
    c = Tensor(W.copy())
    out = fn(w, c)
    node = out._node
    assert node is not None and out.requires_grad and not out.is_leaf
    assert node.op == op
    assert node.inputs[0] is w
    assert node.needs[0] is True and len(node.needs) == len(node.inputs)
    assert all(need is False for need in node.needs[1:]), "constants need no gradient"
    assert set(node.saved) == set(saved), f"{op} saves {sorted(node.saved)}"


@pytest.mark.parametrize("op, fn, saved", GRAPH_CASES, ids=[c[0] for c in GRAPH_CASES])
def test_nothing_recorded_without_grad(op, fn, saved):
    plain = fn(Tensor(W.copy()), Tensor(W.copy()))
    assert plain._node is None and not plain.requires_grad, "no input requires grad"
    w = Tensor(W.copy(), requires_grad=True)
    previous = set_grad_enabled(False)
    try:
        off = fn(w, Tensor(W.copy()))
    finally:
        assert set_grad_enabled(previous) is False
    assert off._node is None and not off.requires_grad, "grad mode off records nothing"
    assert fn(w, Tensor(W.copy()))._node is not None, "grad mode restored"


@pytest.mark.parametrize("op, fn, saved", GRAPH_CASES, ids=[c[0] for c in GRAPH_CASES])
def test_ops_leave_their_inputs_unchanged(op, fn, saved):
    w = Tensor(np.array([[1.0, -2.0], [3.0, 0.5]], np.float32), requires_grad=True)
    c = Tensor(np.array([[2.0, 4.0], [-1.0, 0.25]], np.float32))
    before_w, before_c = w.data.copy(), c.data.copy()
    fn(w, c)
    np.testing.assert_array_equal(w.data, before_w, err_msg=f"{op} changed its first input")
    np.testing.assert_array_equal(c.data, before_c, err_msg=f"{op} changed its second input")


def test_saved_values_are_the_right_ones():
    w = Tensor(np.array([[1.0, 3.0], [2.0, 0.5]], np.float32), requires_grad=True)
    m = w.max(dim=1, keepdim=True).values
    assert m._node.saved["dim"] == 1 and m._node.saved["keepdim"] is True
    np.testing.assert_array_equal(m._node.saved["out"], m.data)
    e = w.exp()
    np.testing.assert_array_equal(e._node.saved["out"], e.data)
    assert w.transpose(0, 1)._node.saved["axes"] == (1, 0)
    assert w[1]._node.saved["index"] == 1
    b = Tensor([1.0, 2.0], requires_grad=True)
    s = w + b
    assert s._node.needs == (True, True) and len(s._node.inputs) == 2 \
        and s._node.inputs[0] is w and s._node.inputs[1] is b


# ---- randomness -----------------------------------------------------------------------------

def test_manual_seed_makes_random_tensors_repeatable():
    manual_seed(123)
    a, b = randn(3, 4), rand(5)
    manual_seed(123)
    a2, b2 = randn(3, 4), rand(5)
    np.testing.assert_array_equal(a.data, a2.data)
    np.testing.assert_array_equal(b.data, b2.data)
    assert a.dtype == np.float32 and b.dtype == np.float32
    manual_seed(124)
    assert not np.array_equal(randn(3, 4).data, a.data)
    np.testing.assert_array_equal(randn(4, seed=9).data, randn(4, seed=9).data)
    assert randn(2, 3, requires_grad=True).requires_grad


# ---- before module 05 -----------------------------------------------------------------------

def test_backward_before_autograd_names_module_05(tmp_path):
    root = copy_package(tmp_path)
    (root / "tinytorch" / "core" / "autograd.py").unlink(missing_ok=True)
    r = run_python(
        "from tinytorch.core.tensor import Tensor\n"
        "loss = (Tensor([1.0, 2.0], requires_grad=True) * 3.0).sum()\n"
        "try:\n"
        "    loss.backward()\n"
        "except Exception as err:\n"
        "    print(type(err).__name__, '|', err)\n"
        "else:\n"
        "    print('no error')\n", root)
    assert r.returncode == 0, (r.stderr.strip().splitlines() or ["no output"])[-1]
    out = r.stdout.strip()
    assert "backward()" in out and "module 05" in out and "tito module complete 05" in out, out


# ---- grad mode per thread, in-place ops, the given ops ----------------------------------------

def test_grad_mode_is_per_thread():
    """A thread that turns recording off leaves the other threads recording, as in PyTorch."""
    import threading

    from tinytorch.core.tensor import is_grad_enabled, set_grad_enabled

    inside, release, seen = threading.Event(), threading.Event(), {}

    def worker():
        previous = set_grad_enabled(False)
        inside.set()
        release.wait(5)
        seen["worker"] = is_grad_enabled()
        set_grad_enabled(previous)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    w = Tensor([1.0], requires_grad=True)
    seen["main"] = is_grad_enabled()
    recorded = (w * 2)._node is not None
    release.set()
    t.join()
    assert seen == {"main": True, "worker": False} and recorded
    fresh = {}
    t2 = threading.Thread(target=lambda: fresh.setdefault("mode", is_grad_enabled()))
    previous = set_grad_enabled(False)
    try:
        t2.start()
        t2.join()
    finally:
        set_grad_enabled(previous)
    assert fresh["mode"] is True, "a new thread starts with recording on"


def test_inplace_update_changes_the_tensor_itself():
    from tinytorch.core.tensor import set_grad_enabled

    p = Tensor([1.0, 2.0], requires_grad=True)
    alias, data = p, p.data
    previous = set_grad_enabled(False)           # what no_grad() does
    try:
        p -= Tensor([0.5, 0.5])
        p *= 2
        p.add_(Tensor([1.0, 1.0]), alpha=-0.5)
        p.mul_(2).div_(2).sub_(0.5)
    finally:
        set_grad_enabled(previous)
    assert p is alias and p.data is data, "the same tensor and array, changed in place"
    assert p.data.tolist() == [0.0, 2.0] and p.dtype == np.float32 and p.is_leaf


def test_inplace_on_a_leaf_that_requires_grad_raises_while_recording():
    w = Tensor([1.0], requires_grad=True)
    for change in (lambda: w.__iadd__(1.0), lambda: w.__isub__(1.0), lambda: w.__imul__(2.0),
                   lambda: w.add_(1.0), lambda: w.mul_(2.0), lambda: w.zero_(),
                   lambda: w.copy_(Tensor([3.0]))):
        with pytest.raises(RuntimeError, match="no_grad"):
            change()
    assert w.data.tolist() == [1.0] and w.is_leaf


def test_inplace_on_a_non_leaf_is_recorded():
    w = Tensor([2.0, 3.0], requires_grad=True)
    h = w * 1.0
    before = h
    h += w                                        # h = 2w, recorded
    assert h is before and h._node is not None and h._node.op == "add"
    assert h.data.tolist() == [4.0, 6.0]
    plain = Tensor([1.0, 2.0])
    plain += w                                    # a plain tensor joins the graph
    assert plain.requires_grad and plain._node is not None


def test_grad_buffers_zero_copy_fill():
    g = Tensor([1.0, 2.0])
    assert g.zero_() is g and g.data.tolist() == [0.0, 0.0]
    assert g.fill_(3.0).data.tolist() == [3.0, 3.0]
    assert g.copy_(Tensor([5, 6])).data.tolist() == [5.0, 6.0] and g.dtype == np.float32
    labels = Tensor([1, 2])
    with pytest.raises(TypeError):
        labels += 0.5                             # int64 cannot hold 1.5, as in PyTorch


def test_unsqueeze_squeeze_clamp_where_cat_stack_forward():
    from tinytorch.core.tensor import cat, clamp, stack, where

    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert x.unsqueeze(0).shape == (1, 2, 3) and x.unsqueeze(-1).shape == (2, 3, 1)
    assert x.unsqueeze(1).squeeze(1).shape == (2, 3) and x.squeeze(0).shape == (2, 3)
    assert Tensor(np.zeros((1, 3, 1))).squeeze().shape == (3,)
    assert clamp(x, 1.0, 4.0).data.tolist() == [[1, 1, 2], [3, 4, 4]]
    assert x.clamp(min=2.0).data.min() == 2.0 and clamp(x, max=1.0).dtype == np.float32
    with pytest.raises(ValueError, match="min, max"):
        clamp(x)
    assert where(x > 2, x, 0.0).data.tolist() == [[0, 0, 0], [3, 4, 5]]
    assert where(x > 2, x, 0.0).dtype == np.float32
    assert cat([x, x], dim=1).shape == (2, 6) and cat([x, x]).shape == (4, 3)
    assert stack([x, x], dim=1).shape == (2, 2, 3)
    for op in (lambda: cat([]), lambda: stack([])):
        with pytest.raises(ValueError):
            op()


# ---- conversions and everyday methods (given in module 01) ------------------------------------

def test_python_numbers_and_formatting_of_one_element_tensors():
    loss = Tensor(np.float32(0.25))
    assert float(loss) == 0.25 and f"{loss:.3f}" == "0.250" and f"{loss}" == "0.25"
    assert f"{Tensor([1.0, 2.0])}" == str(Tensor([1.0, 2.0])), "no spec: the repr, any shape"
    assert int(Tensor(np.int64(7))) == 7 and float(Tensor([[2.5]])) == 2.5
    with pytest.raises(ValueError, match=r"float\(\) needs a tensor with one element.*\(2,\)"):
        float(Tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"needs a 0-d tensor.*\.item\(\)"):
        f"{Tensor([1.0]):.2f}"
    assert Tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert Tensor(np.zeros((2, 3, 4))).dim() == 3


def test_dtype_conversions_and_the_one_device():
    from tinytorch.core.tensor import cast, from_numpy

    x = Tensor([1.5, -2.5], requires_grad=True)
    assert x.float() is x and x.to(np.float32) is x and x.to("cpu") is x and x.cpu() is x
    hits = Tensor([1, 2, 3]) == Tensor([1, 0, 3])
    assert hits.float().dtype == np.float32 and hits.float().mean().item() == pytest.approx(2 / 3)
    assert x.long().data.tolist() == [1, -2] and x.long().dtype == np.int64
    assert not x.long().requires_grad, "integers have no gradient: the cast leaves the graph"
    for wide in (x.double(), x.to(np.float64), x.to(dtype="float64"), x.to("cpu", np.float64),
                 x.to(Tensor(np.zeros(1)))):
        assert wide.dtype == np.float64 and wide.requires_grad and wide._node.op == "cast"
    assert cast(x, np.float64).data.tolist() == [1.5, -2.5]
    for device in ("cuda", "cuda:0", "mps"):
        with pytest.raises(RuntimeError, match="CPU only"):
            x.to(device)
    array = np.arange(3.0)
    shared = from_numpy(array)
    assert shared.dtype == np.float64 and np.shares_memory(shared.data, array)
    with pytest.raises(TypeError, match="numpy array"):
        from_numpy([1.0, 2.0])


def test_min_var_std_abs_sqrt_clone_permute_forward():
    data = np.array([[3.0, -1.0, 2.0], [0.5, 4.0, -6.0]], np.float32)
    x = Tensor(data)
    values, indices = x.min(dim=1)
    assert values.data.tolist() == [-1.0, -6.0] and indices.data.tolist() == [1, 2]
    assert x.min().item() == -6.0 and x.argmin().item() == 5
    assert x.min(dim=0, keepdim=True).values.shape == (1, 3)
    np.testing.assert_allclose(x.var().data, data.var(ddof=1), rtol=1e-6)
    np.testing.assert_allclose(x.var(dim=1, correction=0).data, data.var(axis=1), rtol=1e-6)
    np.testing.assert_allclose(x.var(1, unbiased=False).data, data.var(axis=1), rtol=1e-6)
    np.testing.assert_allclose(x.std(dim=0, keepdim=True).data,
                               data.std(axis=0, ddof=1, keepdims=True), rtol=1e-6)
    assert x.abs().data.tolist() == abs(x).data.tolist() == np.abs(data).tolist()
    np.testing.assert_allclose(x.abs().sqrt().data, np.sqrt(np.abs(data)), rtol=1e-6)
    assert x.pow(2).data.tolist() == (data ** 2).tolist()
    copy = x.clone()
    assert copy.data.tolist() == data.tolist() and not np.shares_memory(copy.data, x.data)
    assert x.permute(1, 0).shape == (3, 2) and x.permute((1, 0)).data.tolist() == data.T.tolist()


def test_pytorch_spellings_of_comparisons_and_reshapes():
    pred, target = Tensor(np.array([[1], [2], [0]])), Tensor(np.array([1, 0, 0]))
    assert pred.eq(target.view_as(pred)).sum().item() == 2
    assert pred.ne(target.reshape_as(pred)).data.ravel().tolist() == [False, True, False]
    x = Tensor([1.0, 2.0, 3.0])
    assert [x.lt(2).tolist(), x.le(2).tolist(), x.gt(2).tolist(), x.ge(2).tolist()] == \
        [[True, False, False], [True, True, False], [False, False, True], [False, True, True]]


def test_t_masked_fill_all_any():
    m = Tensor([[1.0, -2.0, 3.0], [-4.0, 5.0, 0.0]])
    assert m.t().shape == (3, 2) and m.t().data.tolist() == m.data.T.tolist()
    assert Tensor([1.0, 2.0]).t().shape == (2,)
    with pytest.raises(RuntimeError, match="at most 2 dimensions.*transpose"):
        Tensor(np.zeros((2, 3, 4))).t()
    assert m.masked_fill(m < 0, 0.0).data.tolist() == [[1.0, 0.0, 3.0], [0.0, 5.0, 0.0]]
    assert m.masked_fill(m < 0, 0.0).dtype == np.float32
    assert m.data.tolist() == [[1.0, -2.0, 3.0], [-4.0, 5.0, 0.0]], "masked_fill makes a copy"
    assert m.all().item() is False and (m != 7).all().item() is True
    assert m.any(dim=1).data.tolist() == [True, True]
    assert (m > 4).any(dim=0, keepdim=True).data.tolist() == [[False, True, False]]


def test_package_level_spellings_of_pytorch():
    import tinytorch
    from tinytorch.core.tensor import (allclose, argmax, empty, equal, eye, flatten, full,
                                       full_like, is_tensor, linspace, numel, rand_like, randint,
                                       randn_like, randperm, squeeze, unsqueeze)

    x = Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    assert flatten(x, 1).shape == (2, 12) and flatten(x).shape == (24,)
    assert unsqueeze(x, 0).shape == (1, 2, 3, 4) and squeeze(unsqueeze(x, -1)).shape == x.shape
    assert argmax(x, dim=2).data.tolist() == [[3, 3, 3], [3, 3, 3]] and numel(x) == 24
    assert is_tensor(x) and not is_tensor(x.data)
    assert allclose(x + 1, x + (1 + 1e-6)) and not allclose(x, x + 1e-3) and equal(x, x.clone())
    assert not equal(x, x.reshape(6, 4)), "equal needs the same shape"
    assert [full((2,), 1.5).dtype, full(3, 7).dtype, full((1,), True).dtype] == \
        [np.float32, np.int64, np.bool_]
    assert full((2, 2), 3, dtype=np.float64).data.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert full_like(x, 2).dtype == np.float32 and full_like(x, 2).shape == x.shape
    assert full_like(x, 2, dtype=np.dtype(np.int64)).dtype == np.int64
    assert empty(2, 3).shape == (2, 3) and empty((2, 3), dtype=np.int64).dtype == np.int64
    assert eye(3).data.tolist() == np.eye(3).tolist() and eye(2, 3).shape == (2, 3)
    assert linspace(0, 1, 5).data.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    manual_seed(3)
    first = [randint(0, 10, (50,)).data, randint(5, (4,)).data, randperm(6).data]
    manual_seed(3)
    again = [randint(0, 10, (50,)).data, randint(5, (4,)).data, randperm(6).data]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert first[0].dtype == np.int64 and first[0].min() >= 0 and first[0].max() < 10
    assert first[1].max() < 5 and sorted(first[2].tolist()) == list(range(6))
    with pytest.raises(TypeError, match="randint needs a size"):
        randint(10)
    assert randn_like(x).shape == x.shape and rand_like(x.double()).dtype == np.float64
    assert tinytorch.flatten is flatten and tinytorch.full is full and tinytorch.eye is eye


def test_method_spellings_of_the_operators_device_and_grad_fn():
    a, b = Tensor([[1.0, 2.0], [3.0, 4.0]]), Tensor([[0.5, -1.0], [2.0, 0.0]])
    assert a.add(b).data.tolist() == (a + b).data.tolist()
    assert a.add(b, alpha=2).data.tolist() == (a + b * 2).data.tolist()
    assert a.sub(b, alpha=0.5).data.tolist() == (a - b * 0.5).data.tolist()
    assert a.mul(b).data.tolist() == (a * b).data.tolist()
    assert a.div(2).data.tolist() == (a / 2).data.tolist() and a.neg().data.tolist() == \
        (-a).data.tolist()
    assert a.mm(b).data.tolist() == (a @ b).data.tolist() == a.matmul(b).data.tolist()
    with pytest.raises(RuntimeError, match="2-d.*matmul"):
        a.mm(Tensor([1.0, 2.0]))
    assert a.square().data.tolist() == (a * a).data.tolist() and a.add(b, alpha=2).dtype == \
        np.float32
    assert a.contiguous() is a and a.device == "cpu" and a.to(b.device) is a
    leaf = Tensor([1.0], requires_grad=True)
    assert leaf.grad_fn is None and (leaf * 2).grad_fn.op == "mul"


def test_gather_sort_topk_split_chunk_expand_repeat_forward():
    from tinytorch.core import tensor as tt

    x = Tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    assert x.gather(1, Tensor([[2, 2], [1, 0]])).tolist() == [[2.0, 2.0], [5.0, 0.0]]
    with pytest.raises(RuntimeError, match="as many dimensions"):
        x.gather(1, Tensor([0, 1]))
    with pytest.raises(RuntimeError, match="larger than input"):
        x.gather(1, Tensor(np.zeros((3, 1), np.int64)))
    for bad in ([[0, 3]], [[-1, 0]]):                  # PyTorch refuses both; numpy would wrap -1
        with pytest.raises(RuntimeError, match=r"indices must be in \[0, 2\]"):
            x.gather(1, Tensor(bad))
    values, indices = x.sort(dim=1, descending=True)
    assert values.tolist() == [[3.0, 2.0, 1.0], [5.0, 4.0, 0.0]]
    assert indices.tolist() == [[0, 2, 1], [1, 2, 0]] and indices.dtype == np.int64
    assert tt.sort(x, 0).values.tolist() == [[0.0, 1.0, 2.0], [3.0, 5.0, 4.0]]
    assert x.argsort().tolist() == [[1, 2, 0], [0, 2, 1]]
    top = tt.topk(x, 1, dim=0)
    assert top.values.tolist() == [[3.0, 5.0, 4.0]] and top.indices.tolist() == [[0, 1, 1]]
    assert x.topk(2, largest=False).values.tolist() == [[1.0, 2.0], [0.0, 4.0]]
    with pytest.raises(RuntimeError, match="k=4 is out of range"):
        x.topk(4)
    assert [p.shape for p in tt.split(x, 2, dim=1)] == [(2, 2), (2, 1)]
    assert [p.tolist() for p in x.split([1, 1])] == [[[3.0, 1.0, 2.0]], [[0.0, 5.0, 4.0]]]
    with pytest.raises(RuntimeError, match="add up to 2"):
        x.split([1, 2])
    with pytest.raises(RuntimeError, match="must be positive"):
        x.split(0)
    assert [p.shape for p in tt.chunk(x, 2, dim=1)] == [(2, 2), (2, 1)]
    assert len(x.chunk(5)) == 2, "never more pieces than rows"
    col = Tensor([[1.0], [2.0]])
    assert col.expand(2, 3).tolist() == [[1.0] * 3, [2.0] * 3]
    assert col.expand(4, -1, 2).shape == (4, 2, 2) and col.expand_as(x).shape == (2, 3)
    with pytest.raises(RuntimeError, match="only dimensions of size 1 can grow"):
        x.expand(2, 6)
    with pytest.raises(RuntimeError, match="at least one size per dimension"):
        x.expand(3)
    with pytest.raises(RuntimeError, match="only allowed for existing dimensions"):
        x.expand(-1, 2, 3)
    np.testing.assert_array_equal(x.repeat(2, 1, 3).data, np.tile(x.data, (2, 1, 3)))
    assert x.repeat(0, 1).shape == (0, 3)
    with pytest.raises(RuntimeError, match="one count per dimension"):
        x.repeat(2)


def test_one_hot_normal_and_uniform():
    from tinytorch.core import tensor as tt

    hot = tt.one_hot(Tensor([0, 2, 1]))
    assert hot.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]] and hot.dtype == np.int64
    assert tt.one_hot(np.array([[1]]), 4).shape == (1, 1, 4)
    with pytest.raises(RuntimeError, match=r"must be in \[0, 2\]"):
        tt.one_hot(Tensor([0, 3]), 3)
    with pytest.raises(RuntimeError, match="must be integers"):
        tt.one_hot(Tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="pass num_classes"):
        tt.one_hot(Tensor(np.zeros(0, np.int64)))
    w = tt.zeros(200, 50, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.normal_()
    with pytest.raises(TypeError, match="floating-point"):
        tt.zeros(3, dtype=np.int64).uniform_()
    manual_seed(3)
    previous = set_grad_enabled(False)            # what no_grad() does (module 05)
    try:
        assert w.normal_(1.0, 0.5) is w
        assert w.dtype == np.float32 and abs(w.data.mean() - 1.0) < 0.02
        assert abs(w.data.std() - 0.5) < 0.02
        first = w.data.copy()
        manual_seed(3)
        w.normal_(1.0, 0.5)
        np.testing.assert_array_equal(w.data, first)
        w.uniform_(-2.0, -1.0)
        assert w.data.min() >= -2.0 and w.data.max() < -1.0 and w.data.std() > 0.2
    finally:
        set_grad_enabled(previous)


def test_int_bool_and_half_convert_as_in_pytorch():
    x = Tensor([-1.5, 0.0, 2.7])
    assert x.int().dtype == np.int32 and x.int().data.tolist() == [-1, 0, 2]
    assert x.bool().dtype == np.bool_ and x.bool().data.tolist() == [True, False, True]
    assert x.half().dtype == np.float16 and x.half().data.tolist() == [-1.5, 0.0, 2.69921875]
    assert int(Tensor(3.9)) == 3 and bool(Tensor(1.0)) is True, "Python's builtins still work"


def test_norm_values():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4, 5)).astype(np.float32)
    x = Tensor(a)
    assert x.norm().dtype == np.float32 and x.norm().shape == ()
    np.testing.assert_allclose(x.norm().item(), np.sqrt((a.astype(np.float64) ** 2).sum()),
                               rtol=1e-6)
    assert x.norm("fro").item() == x.norm().item()
    np.testing.assert_allclose(x.norm(1, dim=1).data, np.abs(a).sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(x.norm(3, dim=(0, 2), keepdim=True).data,
                               (np.abs(a) ** 3).sum(axis=(0, 2), keepdims=True) ** (1 / 3),
                               rtol=1e-5)
    np.testing.assert_allclose(x.norm(float("inf"), dim=-1).data, np.abs(a).max(axis=-1))
    assert Tensor([3.0, -4.0]).norm().item() == 5.0
    assert Tensor(np.zeros(3, np.float32)).norm().item() == 0.0


def test_norm_refuses_what_it_cannot_compute():
    with pytest.raises(TypeError, match=r"x.float\(\).norm\(\)"):
        Tensor([3, 4]).norm()
    for p in (0, -1, "nuc"):
        with pytest.raises(ValueError, match="p must be a positive number"):
            Tensor([3.0, 4.0]).norm(p)
