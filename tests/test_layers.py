"""Module 03 (layers): Parameter, Module, linear/Linear, Sequential, Dropout."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.layers import Dropout, Linear, Module, Parameter, Sequential, linear
from tinytorch.core.tensor import Tensor, manual_seed, randn

pytestmark = pytest.mark.module03


# ---- small modules used by several tests ----------------------------------------------------

class Affine(Module):
    def __init__(self, n: int):
        super().__init__()
        self.weight = Parameter(np.ones(n, dtype=np.float32))
        self.bias = Parameter(np.zeros(n, dtype=np.float32))
        self.size = n

    def forward(self, x):
        return x * self.weight + self.bias


class Block(Module):
    def __init__(self):
        super().__init__()
        self.fc = Linear(3, 3)
        self.norm = Affine(3)

    def forward(self, x):
        return self.norm(self.fc(x))


class Encoder(Module):
    def __init__(self):
        super().__init__()
        self.encoder = Block()
        self.scale = Parameter([2.0])

    def forward(self, x):
        return self.encoder(x) * self.scale


class Tied(Module):
    """Two layers that share one weight Parameter."""

    def __init__(self):
        super().__init__()
        self.a = Affine(3)
        self.b = Affine(3)
        self.b.weight = self.a.weight

    def forward(self, x):
        return self.b(self.a(x))


def names(module: Module) -> list[str]:
    return [n for n, _ in module.named_parameters()]


def relu_mlp(*sizes: int) -> Sequential:
    from tinytorch.core.activations import ReLU

    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ReLU())
    return Sequential(*layers)


# ---- Parameter --------------------------------------------------------------------------------

def test_parameter_is_a_float32_tensor_that_requires_grad():
    p = Parameter([[1, 2], [3, 4]])
    assert isinstance(p, Tensor) and isinstance(p, Parameter)
    assert p.dtype == np.float32 and p.requires_grad and p.grad is None and p.is_leaf
    assert Parameter(np.arange(3)).dtype == np.float32
    assert Parameter(5).shape == ()
    assert Parameter([1.0], requires_grad=False).requires_grad is False


def test_parameter_shares_float_arrays_and_keeps_float64():
    a = np.zeros(4, dtype=np.float32)
    assert Parameter(a).data is a
    t = Tensor(np.ones(2, dtype=np.float32))
    assert Parameter(t).data is t.data
    assert Parameter(np.zeros(2)).dtype == np.float64


def test_ops_on_a_parameter_give_plain_tensors():
    p = Parameter([1.0, 2.0])
    for result in (p * 2, p + p, p.sum(), p.reshape(2, 1)):
        assert type(result) is Tensor
    assert repr(p).startswith("Parameter containing:")


# ---- Module: registration and names -----------------------------------------------------------

def test_assignment_registers_parameters_and_modules_in_order():
    m = Encoder()
    assert list(m._parameters) == ["scale"]
    assert list(m._modules) == ["encoder"]
    assert list(m.encoder._modules) == ["fc", "norm"]
    assert "size" not in m.encoder.norm._parameters


def test_plain_tensors_and_values_are_not_registered():
    m = Affine(2)
    m.cache = Tensor([1.0], requires_grad=True)
    m.label = "x"
    assert names(m) == ["weight", "bias"]


def test_dotted_names_follow_the_tree():
    assert names(Encoder()) == ["scale", "encoder.fc.weight", "encoder.fc.bias",
                                "encoder.norm.weight", "encoder.norm.bias"]
    assert [n for n, _ in Encoder().named_parameters(prefix="model")][0] == "model.scale"
    assert [n for n, _ in Encoder().named_parameters(recurse=False)] == ["scale"]


def test_parameters_match_named_parameters():
    m = Encoder()
    assert [id(p) for p in m.parameters()] == [id(p) for _, p in m.named_parameters()]
    assert all(isinstance(p, Parameter) for p in m.parameters())


def test_shared_parameter_appears_once():
    m = Tied()
    assert names(m) == ["a.weight", "a.bias", "b.bias"]
    assert len(list(m.parameters())) == 3
    assert m.b.weight is m.a.weight


def test_shared_submodule_appears_once():
    m = Module()
    shared = Affine(2)
    m.first = shared
    m.second = shared
    assert [n for n, _ in m.named_modules()] == ["", "first"]
    assert names(m) == ["first.weight", "first.bias"]
    assert len(list(m.children())) == 1


def test_reassigning_a_parameter_keeps_its_position():
    m = Affine(2)
    m.weight = Parameter([5.0, 5.0])
    assert names(m) == ["weight", "bias"]
    assert m.weight.data.tolist() == [5.0, 5.0]


def test_assigning_a_plain_tensor_over_a_parameter_is_refused():
    m = Affine(2)
    with pytest.raises(TypeError, match="weight"):
        m.weight = m.weight * 2
    assert isinstance(m.weight, Parameter)


def test_assigning_none_or_deleting_unregisters():
    m = Affine(2)
    m.bias = None
    assert names(m) == ["weight"] and m.bias is None
    del m.weight
    assert names(m) == []
    m.sub = Affine(1)
    m.sub = 3
    assert list(m._modules) == []


def test_missing_super_init_on_assignment_names_the_fix():
    class Forgetful(Module):
        def __init__(self):
            self.w = Parameter([1.0])

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__\(\)") as info:
        Forgetful()
    assert "Forgetful" in str(info.value) and "'w'" in str(info.value)


@pytest.mark.parametrize("use", [lambda m: list(m.parameters()), lambda m: m.train(),
                                 lambda m: m.state_dict(), lambda m: m(Tensor([1.0])),
                                 lambda m: repr(m)])
def test_missing_super_init_on_method_call_names_the_fix(use):
    class Lazy(Module):
        def __init__(self):
            pass

        def forward(self, x):
            return x

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__\(\)"):
        use(Lazy())


def test_unknown_attribute_is_an_ordinary_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        Affine(1).nothing  # noqa: B018
    assert not hasattr(Affine(1), "nothing")


def test_call_runs_forward_and_base_forward_explains():
    m = Affine(3)
    assert m(Tensor([1.0, 2.0, 3.0])).data.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(NotImplementedError, match="forward"):
        Module()(Tensor([1.0]))


def test_module_can_be_deep_copied():
    import copy

    m = Encoder()
    twin = copy.deepcopy(m)
    assert names(twin) == names(m)
    assert twin.encoder.fc.weight is not m.encoder.fc.weight
    assert np.array_equal(twin.encoder.fc.weight.data, m.encoder.fc.weight.data)


# ---- Module: modes and gradients ---------------------------------------------------------------

def test_train_and_eval_reach_every_module():
    m = Sequential(Encoder(), Dropout(0.5))
    assert all(sub.training for sub in m.modules())
    assert m.eval() is m
    assert not any(sub.training for sub in m.modules())
    assert m.train() is m and all(sub.training for sub in m.modules())
    m.train(False)
    assert not m[1].training and not m[0].encoder.norm.training


def test_train_refuses_non_bool():
    with pytest.raises(ValueError):
        Affine(1).train("no")


def test_zero_grad_sets_to_none_or_zeroes_in_place():
    m = Encoder()
    for p in m.parameters():
        p.grad = Tensor(np.ones(p.shape, dtype=np.float32))
    kept = m.scale.grad
    m.zero_grad(set_to_none=False)
    assert m.scale.grad is kept and not kept.data.any()
    assert all(not p.grad.data.any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.zero_grad(set_to_none=False)       # no gradients: nothing to zero, nothing created
    assert all(p.grad is None for p in m.parameters())


# ---- Module: state_dict ----------------------------------------------------------------------

def test_state_dict_is_an_ordered_copy():
    m = Encoder()
    sd = m.state_dict()
    assert list(sd) == names(m)
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    sd["scale"][0] = 100.0
    assert m.scale.data[0] == 2.0


def test_state_dict_lists_both_names_of_a_tied_weight():
    assert list(Tied().state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]


def test_load_state_dict_round_trip_in_place():
    manual_seed(0)
    src = Encoder()
    manual_seed(1)
    dst = Encoder()
    x = randn(4, 3)
    keep = {n: (p, p.data) for n, p in dst.named_parameters()}
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert np.array_equal(dst(x).data, src(x).data)
    for n, p in dst.named_parameters():
        assert p is keep[n][0] and p.data is keep[n][1], f"{n} was replaced, not filled"


def test_load_state_dict_accepts_tensors_and_casts_to_the_model_dtype():
    m = Affine(2)
    m.load_state_dict({"weight": np.array([3.0, 4.0]), "bias": Tensor([1.0, 1.0])})
    assert m.weight.dtype == np.float32 and m.weight.data.tolist() == [3.0, 4.0]
    assert m.bias.data.tolist() == [1.0, 1.0]


def test_load_state_dict_refuses_missing_and_unexpected_keys():
    m = Encoder()
    sd = m.state_dict()
    del sd["encoder.fc.bias"]
    with pytest.raises(RuntimeError, match=r"encoder\.fc\.bias"):
        m.load_state_dict(sd)
    sd = m.state_dict()
    sd["decoder.weight"] = np.zeros(1, np.float32)
    with pytest.raises(RuntimeError, match=r"decoder\.weight"):
        m.load_state_dict(sd)


def test_load_state_dict_names_key_and_both_shapes_on_mismatch():
    m = Encoder()
    sd = m.state_dict()
    sd["encoder.fc.weight"] = np.zeros((4, 3), np.float32)
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(sd)
    msg = str(info.value)
    assert "encoder.fc.weight" in msg and "(4, 3)" in msg and "(3, 3)" in msg
    with pytest.raises(RuntimeError, match="shape"):
        m.load_state_dict(sd, strict=False)


def test_failed_load_changes_nothing():
    m = Encoder()
    before = m.state_dict()
    sd = {k: np.full_like(v, 7.0) for k, v in before.items()}
    sd["encoder.norm.bias"] = np.zeros(5, np.float32)     # the last key is wrong
    with pytest.raises(RuntimeError):
        m.load_state_dict(sd)
    for k, v in m.state_dict().items():
        assert np.array_equal(v, before[k]), f"{k} was changed by a failed load"


def test_load_state_dict_non_strict_reports_keys():
    m = Affine(2)
    result = m.load_state_dict({"weight": np.zeros(2), "other": np.zeros(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    assert m.weight.data.tolist() == [0.0, 0.0]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=2, max_size=4), st.integers(0, 2**16))
def test_state_dict_round_trip_reproduces_outputs(sizes, seed):
    manual_seed(seed)
    src = relu_mlp(*sizes)
    dst = relu_mlp(*sizes)
    dst.load_state_dict(src.state_dict())
    x = randn(3, sizes[0], seed=seed)
    assert np.array_equal(dst(x).data, src(x).data)


# ---- Module: repr ------------------------------------------------------------------------------

def test_repr_nests_like_pytorch():
    m = Block()
    assert repr(m) == ("Block(\n"
                       "  (fc): Linear(in_features=3, out_features=3, bias=True)\n"
                       "  (norm): Affine()\n"
                       ")")
    outer = Sequential(Block(), Dropout(0.1))
    assert repr(outer).splitlines()[1:3] == ["  (0): Block(",
                                             "    (fc): Linear(in_features=3, out_features=3, "
                                             "bias=True)"]


# ---- linear ------------------------------------------------------------------------------------

W = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=np.float32)
B = np.array([0.0, 0.0, 1.0], dtype=np.float32)


@pytest.mark.parametrize("shape", [(2,), (4, 2), (3, 4, 2), (2, 1, 3, 2)])
def test_linear_accepts_any_leading_shape(shape):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    y = linear(Tensor(x), Tensor(W), Tensor(B))
    assert y.shape == shape[:-1] + (3,)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, x @ W.T + B, rtol=1e-6)


def test_linear_without_bias_and_with_integer_input():
    x = np.array([[1, 2]], dtype=np.int64)
    y = linear(Tensor(x), Tensor(W))
    assert y.dtype == np.float32 and y.data.tolist() == [[1.0, 4.0, 3.0]]


def test_linear_records_one_op_with_its_inputs_and_nothing_saved():
    x = Tensor(np.ones((2, 2), np.float32))
    w = Tensor(W, requires_grad=True)
    b = Tensor(B, requires_grad=True)
    y = linear(x, w, b)
    node = y._node
    assert node.op == "linear" and node.saved == {}
    assert len(node.inputs) == 3 and node.inputs[0] is x and node.inputs[1] is w
    assert node.inputs[2] is b
    assert node.needs == (False, True, True)
    node = linear(x, w)._node
    assert len(node.inputs) == 2 and node.inputs[1] is w
    assert linear(x, Tensor(W), Tensor(B))._node is None


def test_linear_does_not_record_in_no_grad_mode():
    from tinytorch.core.tensor import set_grad_enabled

    previous = set_grad_enabled(False)
    try:
        assert linear(Tensor([1.0, 1.0]), Tensor(W, requires_grad=True))._node is None
    finally:
        set_grad_enabled(previous)


def test_linear_errors_name_both_shapes():
    with pytest.raises(ValueError) as info:
        linear(Tensor(np.ones((32, 100), np.float32)), Tensor(np.ones((128, 784), np.float32)))
    msg = str(info.value)
    assert "(32, 100)" in msg and "(128, 784)" in msg and "linear" in msg
    with pytest.raises(ValueError, match=r"\(2,\)"):
        linear(Tensor([1.0, 1.0]), Tensor(W), Tensor([1.0, 2.0]))
    with pytest.raises(ValueError):
        linear(Tensor(1.0), Tensor(W))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=0, max_size=2), st.integers(1, 6),
       st.integers(1, 6), st.booleans(), st.integers(0, 2**16))
def test_linear_matches_numpy(lead, n_in, n_out, with_bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*lead, n_in)).astype(np.float32)
    w = rng.standard_normal((n_out, n_in)).astype(np.float32)
    b = rng.standard_normal(n_out).astype(np.float32)
    y = linear(Tensor(x), Tensor(w), Tensor(b) if with_bias else None)
    expected = x @ w.T + (b if with_bias else 0)
    assert y.shape == (*lead, n_out) and y.dtype == np.float32
    np.testing.assert_allclose(y.data, expected, rtol=1e-5, atol=1e-5)


# ---- Linear ------------------------------------------------------------------------------------

def test_linear_layer_shapes_dtype_and_names():
    layer = Linear(5, 3)
    assert layer.weight.shape == (3, 5) and layer.bias.shape == (3,)
    assert isinstance(layer.weight, Parameter) and layer.weight.dtype == np.float32
    assert layer.bias.dtype == np.float32
    assert names(layer) == ["weight", "bias"]
    y = layer(randn(7, 5))
    assert y.shape == (7, 3) and y.dtype == np.float32 and y._node.op == "linear"
    assert layer(randn(5)).shape == (3,)
    assert repr(layer) == "Linear(in_features=5, out_features=3, bias=True)"


def test_linear_layer_without_bias():
    layer = Linear(4, 2, bias=False)
    assert layer.bias is None and names(layer) == ["weight"]
    x = randn(3, 4)
    np.testing.assert_allclose(layer(x).data, x.data @ layer.weight.data.T, rtol=1e-6)
    assert len(layer(x)._node.inputs) == 2
    assert repr(layer).endswith("bias=False)")


@pytest.mark.parametrize("n_in", [1, 10, 784])
def test_linear_init_is_kaiming_uniform_with_zero_bias(n_in):
    manual_seed(0)
    layer = Linear(n_in, max(300, 30_000 // n_in))     # enough weights for tight statistics
    bound = math.sqrt(6 / n_in)
    w = layer.weight.data
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.95 * bound          # the whole interval is used
    assert abs(float(w.mean())) < 0.05 * bound
    assert abs(float(w.std()) - math.sqrt(2 / n_in)) < 0.05 * math.sqrt(2 / n_in)
    assert not layer.bias.data.any()


def test_linear_init_keeps_relu_activations_at_scale():
    from tinytorch.core.activations import ReLU

    manual_seed(0)
    h = randn(256, 128)
    for _ in range(8):
        h = ReLU()(Linear(128, 128)(h))
    assert 0.5 < float(h.data.std()) < 2.0


def test_linear_init_is_reproducible_with_manual_seed():
    manual_seed(0)
    a = Linear(3, 2)
    manual_seed(0)
    b = Linear(3, 2)
    c = Linear(3, 2)
    assert np.array_equal(a.weight.data, b.weight.data)
    assert not np.array_equal(b.weight.data, c.weight.data)


def test_reset_parameters_refills_in_place():
    layer = Linear(6, 4)
    w, arr = layer.weight, layer.weight.data
    old = arr.copy()
    layer.bias.data[...] = 1.0
    layer.reset_parameters()
    assert layer.weight is w and layer.weight.data is arr and not np.array_equal(arr, old)
    assert not layer.bias.data.any()


@pytest.mark.parametrize("sizes", [(0, 3), (3, 0), (-1, 2)])
def test_linear_refuses_empty_sizes(sizes):
    with pytest.raises(ValueError):
        Linear(*sizes)


# ---- Sequential --------------------------------------------------------------------------------

def test_sequential_with_activations_names_and_forward():
    from tinytorch.core.activations import ReLU, Tanh

    manual_seed(3)
    model = Sequential(Linear(4, 8), ReLU(), Linear(8, 5), Tanh(), Linear(5, 2))
    assert names(model) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert list(model._modules) == ["0", "1", "2", "3", "4"], "every layer is registered"
    x = randn(6, 4)
    h = np.maximum(x.data @ model[0].weight.data.T + model[0].bias.data, 0)
    h = np.tanh(h @ model[2].weight.data.T + model[2].bias.data)
    expected = h @ model[4].weight.data.T + model[4].bias.data
    y = model(x)
    assert y.shape == (6, 2) and y.dtype == np.float32
    np.testing.assert_allclose(y.data, expected, rtol=1e-5, atol=1e-6)


def test_sequential_is_list_like():
    from tinytorch.core.activations import ReLU

    layers = [Linear(2, 3), ReLU(), Linear(3, 1)]
    model = Sequential(*layers)
    assert len(model) == 3
    assert list(model) == layers and model[0] is layers[0] and model[-1] is layers[2]
    head = model[:2]
    assert isinstance(head, Sequential) and len(head) == 2 and head[0] is layers[0]
    assert head(Tensor([1.0, 2.0])).shape == (3,)


def test_sequential_takes_modules_only_as_pytorch():
    with pytest.raises(TypeError, match="layer 1 is a function, not a Module"):
        Sequential(Linear(2, 2), lambda t: t * 0.0, Linear(2, 1))


def test_sequential_keeps_one_list_of_layers():
    """Replacing a registered layer changes the parameters AND the computation."""
    from tinytorch.core.activations import ReLU

    model = Sequential(Linear(2, 2), ReLU(), Linear(2, 1))
    new = Linear(2, 2)
    setattr(model, "0", new)
    assert model[0] is new and list(model)[0] is new
    assert [p for p in model.parameters()][0] is new.weight
    x = randn(3, 2)
    expected = np.maximum(x.data @ new.weight.data.T + new.bias.data, 0)
    expected = expected @ model[2].weight.data.T + model[2].bias.data
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-5, atol=1e-6)
    assert not hasattr(model, "_layers")


def test_module_list_registers_by_position():
    from tinytorch.core.layers import ModuleList

    blocks = ModuleList([Linear(3, 3) for _ in range(2)])
    blocks.append(Linear(3, 1))

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.blocks = blocks

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    net = Net()
    assert len(blocks) == 3 and blocks[-1].out_features == 1 and len(blocks[:2]) == 2
    assert [n for n, _ in net.named_parameters()][:2] == ["blocks.0.weight", "blocks.0.bias"]
    assert len(list(net.parameters())) == 6 and net(randn(4, 3)).shape == (4, 1)
    blocks[0] = Linear(3, 3)
    assert net.blocks[0] is blocks[0] and list(net.parameters())[0] is blocks[0].weight
    with pytest.raises(TypeError):
        blocks.append(lambda t: t)
    with pytest.raises(NotImplementedError):
        blocks(randn(1, 3))


def test_sequential_and_module_list_store_entries_by_the_same_rules():
    """Both containers replace and append through one rule: same checks, same wording, and a
    replaced entry keeps its position even when its name is not a number."""
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import ModuleList

    for container in (Sequential(Linear(2, 2)), ModuleList([Linear(2, 2)])):
        kind = type(container).__name__
        with pytest.raises(TypeError, match=rf"^{kind}: entry 1 is the class ReLU, not a "
                                            rf"layer; did you mean ReLU\(\)\?"):
            container.append(ReLU)
        with pytest.raises(TypeError, match=rf"^{kind}: entry 0 is a int, not a Module"):
            container[0] = 3
        with pytest.raises(IndexError):
            container[1] = ReLU()
        assert len(container) == 1
        container.add_module("head", Linear(2, 1))
        head = Linear(2, 1)
        container[-1] = head
        assert list(container._modules) == ["0", "head"] and container[1] is head


def test_linear_refuses_float64_input_as_pytorch():
    layer = Linear(3, 2)
    with pytest.raises(RuntimeError, match="float64.*float32"):
        layer(Tensor(np.ones((1, 3), np.float64)))
    assert layer(Tensor(np.ones((1, 3), np.uint8))).dtype == np.float32, "raw pixels convert"


@pytest.mark.module06
def test_zero_grads_of_module_and_optimizer_agree():
    from tinytorch.core.optimizers import SGD

    for zero in (lambda m: m.zero_grad(set_to_none=False),
                 lambda m: SGD(m.parameters(), lr=0.1).zero_grad(set_to_none=False)):
        model = Linear(2, 2)
        model.weight.grad = Tensor(np.ones((2, 2), np.float32))
        kept = model.weight.grad.data
        zero(model)
        assert model.weight.grad.data is kept and not kept.any(), "zeros written in place"
        assert model.bias.grad is None, "a missing gradient stays None"


def test_empty_sequential_is_the_identity():
    x = Tensor([1.0])
    assert Sequential()(x) is x


def test_sequential_refuses_classes_and_non_callables():
    from tinytorch.core.activations import ReLU

    with pytest.raises(TypeError, match=r"ReLU\(\)"):
        Sequential(Linear(2, 2), ReLU)
    with pytest.raises(TypeError, match="1"):
        Sequential(Linear(2, 2), 3)


def test_sequential_repr_lists_every_layer():
    from tinytorch.core.activations import ReLU

    model = Sequential(Linear(2, 3), ReLU(), Dropout(0.25))
    assert repr(model) == ("Sequential(\n"
                           "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                           "  (1): ReLU()\n"
                           "  (2): Dropout(p=0.25)\n"
                           ")")


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=2, max_size=5))
def test_parameter_count_matches_formula(sizes):
    model = relu_mlp(*sizes)
    expected = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    assert sum(p.size for p in model.parameters()) == expected
    assert sum(p.data.nbytes for p in model.parameters()) == 4 * expected


def test_mnist_mlp_sizes():
    assert sum(p.size for p in relu_mlp(784, 128, 10).parameters()) == 101_770
    assert sum(p.size for p in relu_mlp(784, 256, 128, 10).parameters()) == 235_146


# ---- Dropout -----------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_the_expected_value(p):
    manual_seed(0)
    x = Tensor(np.full((400, 500), 3.0, dtype=np.float32))
    y = Dropout(p)(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    values = np.unique(y.data)
    np.testing.assert_allclose(values, [0.0, 3.0 / (1 - p)], rtol=1e-6)
    assert abs(float((y.data == 0).mean()) - p) < 0.01
    assert abs(float(y.data.mean()) - 3.0) < 0.05


@settings(max_examples=25, deadline=None)
@given(st.floats(0.0, 0.99), st.integers(0, 2**16))
def test_dropout_output_is_zero_or_scaled_input(p, seed):
    manual_seed(seed)
    x = randn(50, seed=seed)
    y = Dropout(p)(x).data
    scaled = x.data / np.float32(1 - p)
    assert np.all((y == 0) | np.isclose(y, scaled, rtol=1e-5))


def test_dropout_is_the_identity_in_eval_mode_and_for_p_zero():
    x = randn(10, 10)
    drop = Dropout(0.5).eval()
    assert drop(x) is x
    assert Dropout(0.0)(x) is x
    drop.train()
    assert drop(x) is not x


def test_dropout_p_one_gives_zeros():
    x = Tensor(np.ones((3, 4), np.float32), requires_grad=True)
    y = Dropout(1.0)(x)
    assert y.shape == (3, 4) and not y.data.any() and np.isfinite(y.data).all()
    assert y._node.op == "mul"


@pytest.mark.parametrize("p", [-0.01, 1.01, float("nan"), 2])
def test_dropout_validates_p(p):
    with pytest.raises(ValueError, match="between 0 and 1"):
        Dropout(p)


def test_dropout_is_a_mul_by_a_constant_mask():
    x = Tensor(np.ones(20, np.float32), requires_grad=True)
    y = Dropout(0.4)(x)
    node = y._node
    assert node.op == "mul" and node.inputs[0] is x
    mask = node.inputs[1]
    assert not mask.requires_grad and mask._node is None
    np.testing.assert_allclose(y.data, mask.data)


def test_dropout_uses_the_course_generator():
    x = Tensor(np.ones(100, np.float32))
    manual_seed(5)
    a = Dropout(0.5)(x).data
    manual_seed(5)
    b = Dropout(0.5)(x).data
    c = Dropout(0.5)(x).data
    assert np.array_equal(a, b) and not np.array_equal(b, c)


def test_dropout_has_no_parameters():
    assert names(Dropout(0.3)) == [] and repr(Dropout(0.3)) == "Dropout(p=0.3)"


# ---- against PyTorch, when it is installed ---------------------------------------------------

def test_names_outputs_and_repr_match_pytorch():
    torch = pytest.importorskip("torch")
    from tinytorch.core.activations import ReLU

    ours = Sequential(Linear(6, 4), ReLU(), Linear(4, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert names(ours) == [n for n, _ in theirs.named_parameters()]
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours(Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)
    assert repr(ours) == repr(theirs)
    assert repr(Linear(3, 2, bias=False)) == repr(torch.nn.Linear(3, 2, bias=False))


# ---- devices and dtypes ------------------------------------------------------------------------

@pytest.mark.module06
def test_module_to_keeps_the_cpu_and_converts_parameters_in_place():
    from tinytorch.core.optimizers import SGD

    manual_seed(0)
    model = Sequential(Linear(3, 2))
    weight = model[0].weight
    assert model.to("cpu") is model and model.cpu() is model
    with pytest.raises(RuntimeError, match="CPU only"):
        model.to("cuda")
    with pytest.raises(TypeError, match="floating-point"):
        model.to(np.int64)
    optimizer = SGD(model.parameters(), lr=0.1)
    assert model.to(np.float64) is model and model[0].weight is weight
    assert weight.dtype == np.float64 and model[0].bias.dtype == np.float64
    before = weight.data.copy()
    model(Tensor(np.ones((4, 3)))).sum().backward()
    optimizer.step()
    assert weight.grad.dtype == np.float64 and not np.array_equal(weight.data, before), \
        "the optimizer still holds the converted parameters"


# ---- more of PyTorch's Module --------------------------------------------------------------------

def test_apply_visits_children_before_parents_and_reaches_activations():
    from tinytorch.core.activations import ReLU

    inner = Sequential(Linear(2, 3), ReLU())
    model = Sequential(inner, Linear(3, 1))
    seen = []
    assert model.apply(lambda m: seen.append(m)) is model
    assert seen == [inner[0], inner[1], inner, model[1], model]

    def zero_linear(m):
        if isinstance(m, Linear):
            m.weight.data[...] = 0.0

    model.apply(zero_linear)
    assert not inner[0].weight.data.any() and not model[1].weight.data.any()


@pytest.mark.module06
def test_requires_grad_freezes_parameters_and_the_optimizer_skips_them():
    from tinytorch.core.optimizers import SGD

    manual_seed(0)
    model = Sequential(Linear(3, 2), Linear(2, 1))
    assert model[0].requires_grad_(False) is model[0]
    frozen = model[0].weight.data.copy()
    optimizer = SGD(model.parameters(), lr=0.1)
    model(randn(4, 3)).sum().backward()
    optimizer.step()
    assert model[0].weight.grad is None and np.array_equal(model[0].weight.data, frozen)
    assert model[1].weight.grad is not None
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())


def test_add_module_registers_like_assignment():
    model = Sequential()
    model.add_module("first", Linear(2, 3))
    assert [n for n, _ in model.named_parameters()] == ["first.weight", "first.bias"]
    assert model(Tensor(np.ones((1, 2), np.float32))).shape == (1, 3)
    with pytest.raises(KeyError, match="without '.'"):
        model.add_module("a.b", Linear(2, 2))
    with pytest.raises(TypeError, match="not a Module"):
        model.add_module("x", np.zeros(2))


def test_sequential_item_assignment_and_append_change_the_computation():
    from tinytorch.core.activations import ReLU

    manual_seed(0)
    model = Sequential(Linear(2, 3), ReLU())
    replacement = Linear(2, 3)
    model[0] = replacement
    x = Tensor(np.ones((1, 2), np.float32))
    assert model[0] is replacement and model[-1] is model[1]
    np.testing.assert_array_equal(model(x).data, np.maximum(replacement(x).data, 0))
    assert model.append(Linear(3, 1)) is model and len(model) == 3
    assert model(x).shape == (1, 1)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight",
                                                        "2.bias"]
    with pytest.raises(TypeError, match="not a Module"):
        model.append(np.zeros(3))
    with pytest.raises(TypeError, match="not a Module"):
        model[0] = "relu"
    with pytest.raises(IndexError):
        model[5] = ReLU()


def test_identity_stands_in_for_a_layer():
    from tinytorch.core.layers import Identity

    manual_seed(0)
    x = randn(3, 4)
    assert Identity()(x) is x and Identity(54, unused="ok")(x) is x
    model = Sequential(Linear(4, 8), Linear(8, 2))
    model[1] = Identity()
    assert model(x).shape == (3, 8)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert repr(Identity()) == "Identity()" and isinstance(Identity(), Module)


def test_sequential_of_an_ordered_dict_names_its_layers():
    from collections import OrderedDict

    from tinytorch.core.activations import ReLU

    manual_seed(0)
    model = Sequential(OrderedDict([("hidden", Linear(4, 8)), ("act", ReLU()),
                                    ("out", Linear(8, 2))]))
    assert [n for n, _ in model.named_parameters()] == ["hidden.weight", "hidden.bias",
                                                         "out.weight", "out.bias"]
    assert model.hidden is model[0] and isinstance(model.act, ReLU) and len(model) == 3
    x = randn(3, 4)
    np.testing.assert_allclose(model(x).data, model.out(model.act(model.hidden(x))).data)
    model[2] = Linear(8, 5)
    assert model(x).shape == (3, 5) and "out.weight" in dict(model.named_parameters())
    with pytest.raises(TypeError, match="entry 1 is the class ReLU"):
        Sequential(OrderedDict([("a", Linear(2, 2)), ("b", ReLU)]))
