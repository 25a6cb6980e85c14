"""Module 06 (optimizers): Optimizer bookkeeping, SGD, Adam and AdamW, state_dict."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer
from tinytorch.core.tensor import Tensor, is_grad_enabled

pytestmark = pytest.mark.module06


def param(values, dtype=np.float32) -> Tensor:
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def with_grad(p: Tensor, g) -> Tensor:
    p.grad = Tensor(np.array(g, dtype=p.dtype))
    return p


# ---- references: the documented algorithms, transcribed with temporaries in float64 --------

def reference_sgd(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                  nesterov=False):
    p = np.array(p, dtype=np.float64)
    buf = None
    for g in grads:
        g = np.array(g, dtype=np.float64) + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def reference_adam(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   decoupled=False):
    p = np.array(p, dtype=np.float64)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = np.array(g, dtype=np.float64)
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        p = p - lr * (m / (1 - betas[0] ** t)) / (np.sqrt(v / (1 - betas[1] ** t)) + eps)
    return p


def run(make, start, grads):
    p = param(start)
    opt = make([p])
    for g in grads:
        with_grad(p, g)
        opt.step()
    return p, opt


START = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
GRADS = [np.random.default_rng(i + 1).standard_normal((3, 4)).astype(np.float32)
         for i in range(6)]


# ---- the base class ------------------------------------------------------------------------

class Plain(Optimizer):
    def __init__(self, params, lr=0.1, momentum=0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum})


def test_a_list_is_one_group_with_defaults():
    w, b = param([1.0]), param([2.0])
    opt = Plain([w, b], lr=0.5)
    assert len(opt.param_groups) == 1
    group = opt.param_groups[0]
    assert group["params"][0] is w and group["params"][1] is b
    assert group["lr"] == 0.5 and group["momentum"] == 0.0
    assert opt.state == {} and opt.defaults == {"lr": 0.5, "momentum": 0.0}


def test_groups_generators_and_single_tensors():
    w, b = param([1.0]), param([2.0])
    opt = Plain([{"params": [w]}, {"params": b, "lr": 0.01, "momentum": 0.9}])
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[1]["params"][0] is b and opt.param_groups[1]["momentum"] == 0.9
    assert len(Plain(p for p in [w, b]).param_groups[0]["params"]) == 2
    assert Plain(w).param_groups[0]["params"][0] is w
    opt.add_param_group({"params": [param([0.0])], "lr": 3.0})
    assert opt.param_groups[2]["lr"] == 3.0 and opt.param_groups[2]["momentum"] == 0.0


@pytest.mark.parametrize("bad,error", [([], ValueError), (["weights"], TypeError)])
def test_bad_parameter_lists_are_refused(bad, error):
    with pytest.raises(error):
        Plain(bad)


def test_a_parameter_in_two_places_is_refused():
    w = param([1.0])
    with pytest.raises(ValueError, match="more than one"):
        Plain([w, w])
    with pytest.raises(ValueError):
        Plain([{"params": [w]}, {"params": [w]}])


def test_a_non_leaf_is_refused_and_a_frozen_tensor_is_skipped():
    """As PyTorch: an op's output cannot be optimized; requires_grad=False is accepted."""
    w = param([1.0])
    with pytest.raises(ValueError, match="not a leaf"):
        Plain([w * 2])
    frozen = Tensor(np.array([5.0], np.float32))
    opt = SGD([w, frozen], lr=0.5)
    w.grad = Tensor(np.array([1.0], np.float32))
    opt.step()
    assert w.data.tolist() == [0.5] and frozen.data.tolist() == [5.0]


def test_scratch_buffers_are_not_state():
    w = param([1.0, 2.0])
    opt = Adam([w], weight_decay=0.1)
    w.grad = Tensor(np.array([0.5, 0.5], np.float32))
    opt.step()
    assert set(opt.state[w]) == {"step", "exp_avg", "exp_avg_sq"}, "only what carries over"
    assert set(opt.state_dict()["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}


def test_zero_grad_writes_zeros_in_place_like_module_zero_grad():
    w, b = param([1.0, 2.0]), param([3.0])
    shared = np.ones(2, np.float32)
    w.grad = Tensor(shared)
    opt = Plain([w, b])
    opt.zero_grad(set_to_none=False)
    assert w.grad.data is shared and np.all(shared == 0)
    assert b.grad is None
    opt.zero_grad()
    assert w.grad is None


def test_base_class_cannot_step():
    with pytest.raises(NotImplementedError):
        Plain([param([1.0])]).step()


def test_repr_lists_the_groups():
    text = repr(SGD([param([1.0])], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "lr: 0.1" in text and "momentum: 0.9" in text


# ---- SGD -----------------------------------------------------------------------------------

SGD_CONFIGS = [dict(lr=0.1), dict(lr=0.05, weight_decay=0.1), dict(lr=0.1, momentum=0.9),
               dict(lr=0.1, momentum=0.9, dampening=0.5), dict(lr=0.1, momentum=0.9,
                                                               nesterov=True),
               dict(lr=0.01, momentum=0.8, weight_decay=0.05, nesterov=True),
               dict(lr=0.01, momentum=0.5, dampening=0.1, weight_decay=0.2)]


@pytest.mark.parametrize("config", SGD_CONFIGS, ids=lambda c: ",".join(c))
def test_sgd_matches_the_documented_algorithm(config):
    p, _ = run(lambda ps: SGD(ps, **config), START, GRADS)
    assert np.allclose(p.data, reference_sgd(START, GRADS, **config), atol=1e-6)
    assert p.dtype == np.float32


def test_sgd_by_hand():
    w = with_grad(param([1.0, -2.0]), [2.0, 0.5])
    SGD([w], lr=0.1).step()
    assert np.allclose(w.data, [0.8, -2.05])
    p = param([0.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    for _ in range(3):
        with_grad(p, [1.0])
        opt.step()
    assert np.allclose(p.data, [-(0.1 + 0.19 + 0.271)])
    assert np.allclose(opt.state[p]["momentum_buffer"], [2.71])


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1),
                                  lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
                                  lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                                  lambda ps: Adam(ps, lr=0.1, weight_decay=0.1),
                                  lambda ps: AdamW(ps, lr=0.1)],
                         ids=["sgd", "momentum-wd", "nesterov", "adam-l2", "adamw"])
def test_updates_in_place_and_leave_gradients_alone(make):
    p = param(START)
    storage = p.data
    opt = make([p])
    for g in GRADS[:3]:
        grad = g.copy()
        p.grad = Tensor(grad)
        opt.step()
        assert np.array_equal(grad, g), "the optimizer wrote into p.grad"
    assert p.data is storage and not np.array_equal(p.data, START)


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
                                  lambda ps: Adam(ps, lr=0.1, weight_decay=0.1)])
def test_two_parameters_sharing_one_gradient_array(make):
    # The engine may hand the same array to two leaves (y = a + b); stepping one must not
    # change the gradient the other reads.
    a, b = param([1.0, 2.0]), param([1.0, 2.0])
    shared = np.array([0.5, -0.5], np.float32)
    a.grad, b.grad = Tensor(shared), Tensor(shared)
    make([a, b]).step()
    assert np.array_equal(a.data, b.data) and np.all(shared == [0.5, -0.5])


def test_momentum_buffer_is_a_copy_of_the_first_gradient():
    g = np.array([1.0], np.float32)
    p = param([0.0])
    p.grad = Tensor(g)
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    opt.step()
    assert g[0] == 1.0 and opt.state[p]["momentum_buffer"] is not g


def test_parameters_without_gradients_are_skipped():
    p, q = param([3.0]), with_grad(param([3.0]), [1.0])
    for opt in (SGD([p, q], lr=1.0, momentum=0.9), Adam([p, q], lr=1.0)):
        opt.step()
        assert p.data[0] == 3.0 and p not in opt.state
        assert q.data[0] < 3.0


def test_hyperparameters_are_read_at_every_step():
    p = param([0.0])
    opt = SGD([p], lr=0.1)
    with_grad(p, [1.0])
    opt.step()
    opt.param_groups[0]["lr"] = 1.0
    opt.step()
    assert np.allclose(p.data, [-1.1])


def test_each_group_uses_its_own_learning_rate():
    a, b = with_grad(param([0.0]), [1.0]), with_grad(param([0.0]), [1.0])
    SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1).step()
    assert np.allclose(a.data, [-0.1]) and np.allclose(b.data, [-0.5])


@pytest.mark.parametrize("kwargs", [dict(lr=-1.0), dict(lr=0.1, momentum=-0.1),
                                    dict(lr=0.1, weight_decay=-1.0),
                                    dict(lr=0.1, nesterov=True),
                                    dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)])
def test_sgd_refuses_invalid_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        SGD([param([1.0])], **kwargs)


@pytest.mark.parametrize("kwargs", [dict(lr=-1.0), dict(betas=(1.0, 0.999)),
                                    dict(betas=(0.9, -0.1)), dict(eps=-1.0),
                                    dict(weight_decay=-0.1)])
def test_adam_refuses_invalid_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        Adam([param([1.0])], **kwargs)


def test_closure_is_called_with_grad_enabled_and_its_loss_returned():
    from tinytorch.core.autograd import no_grad

    p = param([2.0])

    def closure():
        assert is_grad_enabled()
        p.grad = None
        loss = (p * p).sum()
        loss.backward()
        return loss

    with no_grad():
        loss = SGD([p], lr=0.1).step(closure)
    assert loss.item() == 4.0 and np.allclose(p.data, [1.6])


# ---- Adam and AdamW -----------------------------------------------------------------------

ADAM_CONFIGS = [dict(), dict(lr=0.01), dict(lr=0.05, betas=(0.8, 0.99)),
                dict(lr=0.01, eps=1e-3), dict(lr=0.01, weight_decay=0.1)]


@pytest.mark.parametrize("config", ADAM_CONFIGS, ids=lambda c: ",".join(c) or "defaults")
def test_adam_matches_the_documented_algorithm(config):
    p, opt = run(lambda ps: Adam(ps, **config), START, GRADS)
    assert np.allclose(p.data, reference_adam(START, GRADS, **config), atol=2e-6)
    assert opt.state[p]["step"] == len(GRADS)
    assert opt.state[p]["exp_avg"].dtype == np.float32 and p.dtype == np.float32


@pytest.mark.parametrize("config", [dict(), dict(lr=0.01, weight_decay=0.1),
                                    dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.0)])
def test_adamw_matches_the_documented_algorithm(config):
    p, _ = run(lambda ps: AdamW(ps, **config), START, GRADS)
    wd = config.pop("weight_decay", 1e-2)
    expected = reference_adam(START, GRADS, weight_decay=wd, decoupled=True, **config)
    assert np.allclose(p.data, expected, atol=2e-6)


def test_adamw_defaults_and_decoupled_decay():
    assert AdamW([param([1.0])]).param_groups[0]["weight_decay"] == 1e-2
    assert Adam([param([1.0])]).param_groups[0]["weight_decay"] == 0.0
    z = with_grad(param([2.0]), [0.0])
    AdamW([z], lr=0.1, weight_decay=0.5).step()
    assert np.allclose(z.data, [1.9])


def test_adam_in_float64_stays_float64():
    p = param(START, dtype=np.float64)
    opt = Adam([p], lr=0.01)
    for g in GRADS:
        p.grad = Tensor(g.astype(np.float64))
        opt.step()
    assert p.dtype == np.float64
    assert np.allclose(p.data, reference_adam(START, GRADS, lr=0.01), atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(max_dims=3, max_side=4),
                  elements=st.floats(-10, 10, width=32)),
       st.floats(0.0, 1.0), st.integers(0, 2**31))
def test_sgd_step_is_p_minus_lr_g(start, lr, seed):
    grad = np.random.default_rng(seed).standard_normal(start.shape).astype(np.float32)
    p = param(start.copy())
    p.grad = Tensor(grad)
    SGD([p], lr=lr).step()
    assert np.allclose(p.data, start - np.float32(lr) * grad, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(max_dims=2, max_side=5),
                  elements=st.floats(0.0625, 100, width=32)),
       st.floats(1e-4, 0.5), st.integers(0, 2**31))
def test_first_adam_step_moves_every_entry_by_lr(magnitude, lr, seed):
    sign = np.random.default_rng(seed).choice([-1.0, 1.0], magnitude.shape).astype(np.float32)
    p = param(np.zeros(magnitude.shape))
    p.grad = Tensor(magnitude * sign)
    Adam([p], lr=lr).step()
    assert np.allclose(p.data, -lr * sign, rtol=1e-4, atol=1e-7)


# ---- memory: state, scratch, and no per-step allocations -----------------------------------

@pytest.mark.parametrize("make,arrays", [(lambda ps: SGD(ps, lr=0.1), set()),
                                         (lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                          {"momentum_buffer"}),
                                         (lambda ps: Adam(ps), {"exp_avg", "exp_avg_sq"})])
def test_state_holds_what_the_algorithm_needs(make, arrays):
    p, opt = run(make, START, GRADS[:2])
    kept = {k for k, v in opt.state[p].items() if isinstance(v, np.ndarray)}
    assert kept == arrays


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
                                  lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                                  lambda ps: Adam(ps, weight_decay=0.1),
                                  lambda ps: AdamW(ps)],
                         ids=["momentum-wd", "nesterov", "adam-l2", "adamw"])
def test_steps_after_the_first_allocate_nothing_parameter_sized(make):
    p = param(np.zeros((256, 256)))
    p.grad = Tensor(np.ones((256, 256), np.float32))
    opt = make([p])
    opt.step()
    tracemalloc.start()
    opt.step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < p.data.nbytes // 4, f"a step allocated {peak} bytes"


# ---- state_dict -----------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
                                  lambda ps: Adam(ps, lr=0.05),
                                  lambda ps: AdamW(ps, lr=0.05, weight_decay=0.1)])
def test_save_load_and_resume_equals_an_uninterrupted_run(make):
    straight, _ = run(make, START, GRADS)
    first, opt = run(make, START, GRADS[:3])
    saved = opt.state_dict()
    resumed = param(first.data.copy())
    opt2 = make([resumed])
    opt2.load_state_dict(saved)
    for g in GRADS[3:]:
        with_grad(resumed, g)
        opt2.step()
    assert np.allclose(resumed.data, straight.data, atol=1e-7)
    for g in GRADS[3:]:               # the saved copy did not alias the original's state
        with_grad(first, g)
        opt.step()
    assert np.allclose(first.data, straight.data, atol=1e-7)


def test_state_dict_layout_and_hyperparameters():
    a, b = with_grad(param([1.0]), [1.0]), with_grad(param([2.0, 3.0]), [1.0, 1.0])
    opt = Adam([{"params": [a]}, {"params": [b], "lr": 0.5}])
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["state"][1]["step"] == 1
    assert not any(k.startswith("_") for entry in sd["state"].values() for k in entry)
    c, d = param([0.0]), param([0.0, 0.0])
    other = Adam([{"params": [c]}, {"params": [d]}])
    other.load_state_dict(sd)
    assert other.param_groups[1]["lr"] == 0.5 and other.state[d]["step"] == 1
    assert np.array_equal(other.state[d]["exp_avg"], opt.state[b]["exp_avg"])


def test_load_state_dict_refuses_a_mismatch():
    a, b = with_grad(param([1.0]), [1.0]), with_grad(param([2.0, 3.0]), [1.0, 1.0])
    opt = Adam([a, b])
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError):
        Adam([param([1.0])]).load_state_dict(sd)
    with pytest.raises(ValueError, match="shape"):
        Adam([param([1.0]), param([1.0, 2.0, 3.0])]).load_state_dict(sd)
    with pytest.raises(ValueError):
        Adam([{"params": [param([1.0])]}, {"params": [param([1.0, 2.0])]}]).load_state_dict(sd)


# ---- training, end to end -------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.5, momentum=0.9),
                                  lambda ps: Adam(ps, lr=0.05), lambda ps: AdamW(ps, lr=0.05)])
def test_a_small_mlp_learns_xor(make):
    layers = pytest.importorskip("tinytorch.core.layers")
    acts = pytest.importorskip("tinytorch.core.activations")
    losses = pytest.importorskip("tinytorch.core.losses")
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    net = layers.Sequential(layers.Linear(2, 8), acts.Tanh(), layers.Linear(8, 2))
    X = Tensor(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32))
    y = np.array([0, 1, 1, 0])
    opt = make(net.parameters())
    loss_fn = losses.CrossEntropyLoss()
    for _ in range(200):
        opt.zero_grad()
        loss = loss_fn(net(X), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    assert (net(X).data.argmax(axis=1) == y).all()
