"""The speed choices change no result: float32 end to end, gradients only where needed.

The benchmarks (benchmarks/mlp_epoch.py) measure the speed; these tests pin down that the fast
path computes the same training step a plain implementation would.
"""
from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor, manual_seed

# Spans modules 03-06: in a student edition it runs once the optimizers module is complete.
pytestmark = [pytest.mark.integration, pytest.mark.module06]


def _mlp():
    manual_seed(0)
    return Sequential(Linear(784, 32), ReLU(), Linear(32, 16), ReLU(), Linear(16, 10))


def _batch(n=64):
    rng = np.random.default_rng(1)
    return (Tensor(rng.random((n, 784), dtype=np.float32)),
            Tensor(rng.integers(0, 10, n)))


@pytest.mark.parametrize("make", [lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-4),
                                  lambda p: Adam(p, lr=1e-3, weight_decay=1e-4),
                                  lambda p: AdamW(p, lr=1e-3)])
def test_a_training_step_stays_float32_everywhere(make):
    model = _mlp()
    optimizer = make(model.parameters())
    x, y = _batch()
    for _ in range(2):
        logits = model(x)
        loss = CrossEntropyLoss()(logits, y)
        assert logits.dtype == np.float32 and loss.dtype == np.float32
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for name, p in model.named_parameters():
        assert p.dtype == np.float32, f"{name} became {p.dtype}"
        assert p.grad.dtype == np.float32, f"{name}.grad is {p.grad.dtype}"
    for state in optimizer.state.values():
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32, f"optimizer state {key} is {value.dtype}"


def test_the_input_batch_gets_no_gradient_and_its_rule_is_not_asked_for_one():
    model = _mlp()
    x, y = _batch()
    logits = model(x)
    first = logits
    while first._node.inputs[0]._node is not None:   # walk down to the first layer's node
        first = first._node.inputs[0]
    assert first._node.op == "linear" and first._node.needs[0] is False
    CrossEntropyLoss()(logits, y).backward()
    assert x.grad is None
    assert all(p.grad is not None for p in model.parameters())


def test_fused_linear_equals_the_composed_ops_in_value_and_gradient():
    manual_seed(3)
    layer = Linear(20, 7)
    x = Tensor(np.random.default_rng(2).standard_normal((5, 20), dtype=np.float32))
    fused = layer(x)
    (fused * fused).sum().backward()
    g_fused = layer.weight.grad.data.copy(), layer.bias.grad.data.copy()
    layer.zero_grad()
    composed = x @ layer.weight.T + layer.bias
    (composed * composed).sum().backward()
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g_fused[0], layer.weight.grad.data, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(g_fused[1], layer.bias.grad.data, rtol=1e-4, atol=1e-5)


def test_wrapping_a_float32_dataset_copies_nothing():
    data = np.zeros((1000, 784), dtype=np.float32)
    assert Tensor(data).data is data
    assert np.shares_memory(Tensor(data).reshape(1000, 28, 28).data, data)
