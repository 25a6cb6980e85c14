"""tinytorch against PyTorch on the same inputs: forward values, gradients, optimizer steps.

Skipped when PyTorch is not installed. Module 01's ops and module 05's rules are checked for
every op the autograd contract lists; the ops of modules 02-04 are skipped while those
modules are not exported.
"""
from __future__ import annotations

import importlib
import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from tinytorch.core.tensor import Tensor, manual_seed, permute  # noqa: E402


def _module(target: str):
    try:
        return importlib.import_module(f"tinytorch.{target}")
    except ImportError:
        pytest.skip(f"tinytorch.{target} is not exported yet")


def acts():
    return _module("core.activations")


def layers():
    return _module("core.layers")


def losses():
    return _module("core.losses")


def _data(spec, rng, dtype):
    shape, kind = spec
    if kind == "pos":
        return rng.uniform(0.5, 2.0, shape).astype(dtype)
    if kind == "prob":
        return rng.uniform(0.05, 0.95, shape).astype(dtype)
    if kind == "away":       # away from relu's kink
        x = rng.standard_normal(shape)
        return (x + np.sign(x) * 0.2).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


LABELS = np.array([1, 0, 3, 2, 1])
BINARY = np.array([[0, 1, 1, 0], [1, 0, 1, 1], [0, 0, 1, 0]], np.float64)
MASK = np.array([[True, False, True, False], [False, True, True, True], [True] * 4])
GATHER = np.array([[0, 0, 3], [2, 1, 1], [3, 3, 0]])        # row 0 picks place 0 twice
# probabilities that are confidently wrong, right, or on the edge, for BINARY's targets
EXTREME = np.array([[0.999, 1e-6, 0.999999, 0.5], [1e-7, 0.9999, 0.99, 1e-5],
                    [0.7, 0.3, 1e-4, 0.2]])


def _tensor_fn(name: str):
    return getattr(importlib.import_module("tinytorch.core.tensor"), name)

# (id, tinytorch function, torch function, input specs)
OPS = [
    ("add", lambda a, b: a + b, lambda a, b: a + b, [((3, 1), "any"), ((1, 4), "any")]),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, [((5,), "any"), ((2, 5), "any")]),
    ("mul-scalar", lambda a, b: a * b, lambda a, b: a * b, [((), "any"), ((2, 3), "any")]),
    ("div", lambda a, b: a / b, lambda a, b: a / b, [((2, 3), "any"), ((3,), "pos")]),
    ("pow", lambda a, b: a ** b, lambda a, b: a ** b, [((3, 4), "pos"), ((1, 4), "any")]),
    ("pow-const", lambda a: a ** 3, lambda a: a ** 3, [((2, 3), "any")]),
    ("neg", lambda a: -a, lambda a: -a, [((2, 3), "any")]),
    ("matmul", lambda a, b: a @ b, lambda a, b: a @ b, [((3, 4), "any"), ((4, 5), "any")]),
    ("matmul-vm", lambda a, b: a @ b, lambda a, b: a @ b, [((4,), "any"), ((4, 2), "any")]),
    ("matmul-mv", lambda a, b: a @ b, lambda a, b: a @ b, [((3, 4), "any"), ((4,), "any")]),
    ("matmul-vv", lambda a, b: a @ b, lambda a, b: a @ b, [((4,), "any"), ((4,), "any")]),
    ("matmul-batched", lambda a, b: a @ b, lambda a, b: a @ b,
     [((2, 1, 3, 4), "any"), ((5, 4, 2), "any")]),
    ("matmul-batch-shared", lambda a, b: a @ b, lambda a, b: a @ b,
     [((2, 3, 4), "any"), ((4, 5), "any")]),
    ("sum", lambda a: a.sum(), lambda a: a.sum(), [((2, 3), "any")]),
    ("sum-dim", lambda a: a.sum(dim=1, keepdim=True), lambda a: a.sum(dim=1, keepdim=True),
     [((2, 3, 4), "any")]),
    ("mean-dims", lambda a: a.mean(dim=(0, 2)), lambda a: a.mean(dim=(0, 2)),
     [((2, 3, 4), "any")]),
    ("max-dim", lambda a: a.max(dim=-1).values, lambda a: a.max(dim=-1).values,
     [((3, 5), "any")]),
    ("max-all", lambda a: a.max(), lambda a: a.amax(), [((3, 5), "any")]),
    ("reshape", lambda a: a.reshape(4, 6), lambda a: a.reshape(4, 6), [((2, 3, 4), "any")]),
    ("transpose", lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2),
     [((2, 3, 4), "any")]),
    ("permute", lambda a: permute(a, (1, 2, 0)), lambda a: a.permute(1, 2, 0),
     [((2, 3, 4), "any")]),
    ("T", lambda a: a.T, lambda a: a.T, [((3, 4), "any")]),
    ("getitem-fancy", lambda a: a[np.array([2, 0, 2])], lambda a: a[torch.tensor([2, 0, 2])],
     [((3, 4), "any")]),
    ("getitem-slices", lambda a: a[1:, ::2], lambda a: a[1:, ::2], [((3, 4), "any")]),
    ("getitem-mask", lambda a: a[MASK], lambda a: a[torch.tensor(MASK)], [((3, 4), "any")]),
    ("exp", lambda a: a.exp(), lambda a: a.exp(), [((2, 3), "any")]),
    ("log", lambda a: a.log(), lambda a: a.log(), [((2, 3), "pos")]),
    ("relu", lambda a: acts().relu(a), torch.relu, [((3, 4), "away")]),
    ("sigmoid", lambda a: acts().sigmoid(a), torch.sigmoid, [((3, 4), "any")]),
    ("tanh", lambda a: acts().tanh(a), torch.tanh, [((3, 4), "any")]),
    ("gelu", lambda a: acts().gelu(a), F.gelu, [((3, 4), "any")]),
    ("gelu-tanh", lambda a: acts().gelu(a, approximate="tanh"),
     lambda a: F.gelu(a, approximate="tanh"), [((3, 4), "any")]),
    ("clamp", lambda a: a.clamp(-0.5, 0.7), lambda a: a.clamp(-0.5, 0.7), [((3, 4), "any")]),
    ("clamp-min", lambda a: a.clamp(min=0.1), lambda a: a.clamp(min=0.1), [((3, 4), "any")]),
    ("where", lambda a, b: _tensor_fn("where")(Tensor(MASK), a, b),
     lambda a, b: torch.where(torch.tensor(MASK), a, b), [((3, 4), "any"), ((1, 4), "any")]),
    ("cat", lambda a, b: _tensor_fn("cat")([a, b], dim=1),
     lambda a, b: torch.cat([a, b], dim=1), [((3, 2), "any"), ((3, 4), "any")]),
    ("stack", lambda a, b: _tensor_fn("stack")([a, b], dim=-1),
     lambda a, b: torch.stack([a, b], dim=-1), [((3, 4), "any"), ((3, 4), "any")]),
    ("unsqueeze-squeeze", lambda a: a.unsqueeze(1).squeeze(-1),
     lambda a: a.unsqueeze(1).squeeze(-1), [((3, 1), "any")]),
    ("abs", lambda a: a.abs(), lambda a: a.abs(), [((3, 4), "away")]),
    ("sqrt", lambda a: a.sqrt(), lambda a: a.sqrt(), [((3, 4), "pos")]),
    ("clone", lambda a: a.clone() * a, lambda a: a.clone() * a, [((3, 4), "any")]),
    ("cast-roundtrip", lambda a: (a.double() * 3.0).to(a.dtype),
     lambda a: (a.double() * 3.0).to(a.dtype), [((3, 4), "any")]),
    ("min-dim", lambda a: a.min(dim=0).values, lambda a: a.min(dim=0).values,
     [((3, 5), "any")]),
    ("min-all", lambda a: a.min(), lambda a: a.amin(), [((3, 5), "any")]),
    ("var", lambda a: a.var(), lambda a: a.var(), [((3, 5), "any")]),
    ("var-dim-biased", lambda a: a.var(dim=1, correction=0),
     lambda a: a.var(dim=1, correction=0), [((3, 5), "any")]),
    ("std-keepdim", lambda a: a.std(dim=0, keepdim=True), lambda a: a.std(dim=0, keepdim=True),
     [((3, 5), "any")]),
    ("permute-method", lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1),
     [((2, 3, 4), "any")]),
    ("softmax", lambda a: acts().softmax(a, -1), lambda a: torch.softmax(a, -1),
     [((3, 4), "any")]),
    ("softmax-dim0", lambda a: acts().softmax(a, 0), lambda a: torch.softmax(a, 0),
     [((3, 4), "any")]),
    ("log_softmax", lambda a: losses().log_softmax(a, -1), lambda a: F.log_softmax(a, -1),
     [((3, 4), "any")]),
    ("linear", lambda x, w, b: layers().linear(x, w, b), F.linear,
     [((5, 3), "any"), ((4, 3), "any"), ((4,), "any")]),
    ("linear-nobias-batched", lambda x, w: layers().linear(x, w), F.linear,
     [((2, 5, 3), "any"), ((4, 3), "any")]),
    ("cross_entropy", lambda z: losses().cross_entropy(z, LABELS),
     lambda z: F.cross_entropy(z, torch.tensor(LABELS)), [((5, 4), "any")]),
    ("cross_entropy-sum", lambda z: losses().cross_entropy(z, LABELS, reduction="sum"),
     lambda z: F.cross_entropy(z, torch.tensor(LABELS), reduction="sum"), [((5, 4), "any")]),
    ("cross_entropy-none", lambda z: losses().cross_entropy(z, LABELS, reduction="none"),
     lambda z: F.cross_entropy(z, torch.tensor(LABELS), reduction="none"), [((5, 4), "any")]),
    ("cross_entropy-label_smoothing",
     lambda z: losses().cross_entropy(z, LABELS, label_smoothing=0.15),
     lambda z: F.cross_entropy(z, torch.tensor(LABELS), label_smoothing=0.15),
     [((5, 4), "any")]),
    ("CrossEntropyLoss-label_smoothing-none",
     lambda z: losses().CrossEntropyLoss("none", label_smoothing=0.3)(z, LABELS),
     lambda z: torch.nn.CrossEntropyLoss(reduction="none", label_smoothing=0.3)(
         z, torch.tensor(LABELS)), [((5, 4), "any")]),
    ("CrossEntropyLoss-label_smoothing-sum-one",
     lambda z: losses().CrossEntropyLoss("sum", label_smoothing=1.0)(z, 2),
     lambda z: torch.nn.CrossEntropyLoss(reduction="sum", label_smoothing=1.0)(
         z, torch.tensor(2)), [((4,), "any")]),
    ("nll_loss", lambda z: losses().nll_loss(losses().log_softmax(z, 1), LABELS),
     lambda z: F.nll_loss(F.log_softmax(z, 1), torch.tensor(LABELS)), [((5, 4), "any")]),
    ("nll_loss-none", lambda z: losses().nll_loss(z, LABELS, reduction="none"),
     lambda z: F.nll_loss(z, torch.tensor(LABELS), reduction="none"), [((5, 4), "any")]),
    ("nll_loss-sum-one", lambda z: losses().nll_loss(z, 2, reduction="sum"),
     lambda z: F.nll_loss(z, torch.tensor(2), reduction="sum"), [((4,), "any")]),
    ("bce", lambda p: losses().binary_cross_entropy(p, BINARY.astype(p.dtype)),
     lambda p: F.binary_cross_entropy(p, torch.tensor(BINARY, dtype=p.dtype)),
     [((3, 4), "prob")]),
    ("bce-confident-mistakes",
     lambda p: losses().binary_cross_entropy(p * 0 + Tensor(EXTREME.astype(p.dtype)) + p * 1e-9,
                                             BINARY.astype(p.dtype), "sum"),
     lambda p: F.binary_cross_entropy(p * 0 + torch.tensor(EXTREME, dtype=p.dtype) + p * 1e-9,
                                      torch.tensor(BINARY, dtype=p.dtype), reduction="sum"),
     [((3, 4), "prob")]),
    ("bce-none", lambda p: losses().binary_cross_entropy(p, BINARY.astype(p.dtype), "none"),
     lambda p: F.binary_cross_entropy(p, torch.tensor(BINARY, dtype=p.dtype),
                                      reduction="none"), [((3, 4), "prob")]),
    ("mse", lambda p: losses().mse_loss(p, Tensor(BINARY.astype(p.dtype))),
     lambda p: F.mse_loss(p, torch.tensor(BINARY, dtype=p.dtype)), [((3, 4), "any")]),
    ("masked_fill", lambda a: a.masked_fill(Tensor(MASK), 0.5) * a,
     lambda a: a.masked_fill(torch.tensor(MASK), 0.5) * a, [((3, 4), "any")]),
    ("t", lambda a: a.t(), lambda a: a.t(), [((3, 4), "any")]),
    ("add-sub-alpha", lambda a, b: a.add(b, alpha=2.5).sub(a, alpha=0.5),
     lambda a, b: a.add(b, alpha=2.5).sub(a, alpha=0.5), [((3, 1), "any"), ((1, 4), "any")]),
    ("mm-square", lambda a, b: a.mm(b).square(), lambda a, b: a.mm(b).square(),
     [((3, 4), "any"), ((4, 2), "any")]),
    ("mul-div-neg", lambda a, b: a.mul(b).div(b.add(3.0)).neg(),
     lambda a, b: a.mul(b).div(b.add(3.0)).neg(), [((3, 4), "any"), ((3, 4), "pos")]),
    ("flatten-function", lambda a: _tensor_fn("flatten")(a, 1), lambda a: torch.flatten(a, 1),
     [((2, 3, 4), "any")]),
    ("gather", lambda a: a.gather(1, Tensor(GATHER)), lambda a: a.gather(1, torch.tensor(GATHER)),
     [((3, 4), "any")]),
    ("sort-descending", lambda a: a.sort(dim=0, descending=True).values,
     lambda a: a.sort(dim=0, descending=True).values, [((3, 4), "any")]),
    ("topk", lambda a: a.topk(2, dim=1).values, lambda a: a.topk(2, dim=1).values,
     [((3, 4), "any")]),
    ("topk-smallest", lambda a: a.topk(2, dim=0, largest=False).values,
     lambda a: a.topk(2, dim=0, largest=False).values, [((3, 4), "any")]),
    ("split-chunk", lambda a: a.split([1, 3], dim=1)[1] * a.chunk(2, dim=1)[0].sum(1, keepdim=True),
     lambda a: a.split([1, 3], dim=1)[1] * a.chunk(2, dim=1)[0].sum(1, keepdim=True),
     [((3, 4), "any")]),
    ("expand", lambda a: a.expand(2, -1, 4) * 1.5, lambda a: a.expand(2, -1, 4) * 1.5,
     [((3, 1), "any")]),
    ("repeat", lambda a: a.repeat(2, 1, 3), lambda a: a.repeat(2, 1, 3), [((3, 2), "any")]),
    ("norm", lambda a: a.norm(), lambda a: a.norm(), [((3, 4), "any")]),
    ("norm-p3-dim-keepdim", lambda a: a.norm(3, dim=1, keepdim=True),
     lambda a: a.norm(3, dim=1, keepdim=True), [((3, 4), "any")]),
    ("norm-1-and-inf", lambda a: a.norm(1, dim=0) * a.norm(float("inf"), dim=0),
     lambda a: a.norm(1, dim=0) * a.norm(float("inf"), dim=0), [((3, 4), "any")]),
    ("leaky_relu", lambda a: acts().leaky_relu(a, 0.2), lambda a: F.leaky_relu(a, 0.2),
     [((3, 4), "away")]),
    ("LeakyReLU", lambda a: acts().LeakyReLU()(a), lambda a: torch.nn.LeakyReLU()(a),
     [((3, 4), "away")]),
    ("BCELoss", lambda p: losses().BCELoss()(p, BINARY.astype(p.dtype)),
     lambda p: torch.nn.BCELoss()(p, torch.tensor(BINARY, dtype=p.dtype)), [((3, 4), "prob")]),
    ("BCEWithLogitsLoss", lambda z: losses().BCEWithLogitsLoss("sum")(z, BINARY.astype(z.dtype)),
     lambda z: torch.nn.BCEWithLogitsLoss(reduction="sum")(z, torch.tensor(BINARY,
                                                                           dtype=z.dtype)),
     [((3, 4), "any")]),
]

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-5, atol=2e-6)}


@pytest.mark.module05
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name,ours,theirs,specs", OPS, ids=[op[0] for op in OPS])
def test_op_and_gradients_match_pytorch(name, ours, theirs, specs, dtype):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [_data(spec, rng, dtype) for spec in specs]
    mine = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    ref = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = ours(*mine), theirs(*ref)
    assert out.dtype == dtype, f"{name}: the forward gave {out.dtype}"
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **TOL[dtype])
    upstream = rng.standard_normal(out.shape).astype(dtype)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    for i, (t, r) in enumerate(zip(mine, ref)):
        assert t.grad is not None, f"{name}: input {i} got no gradient"
        assert t.grad.dtype == dtype and t.grad.shape == t.shape
        np.testing.assert_allclose(t.grad.data, r.grad.numpy(), err_msg=f"{name}, input {i}",
                                   **TOL[dtype])


# ---- optimizers ---------------------------------------------------------------------------

SHAPES = [(4, 3), (3,), (2, 2, 2)]


def _run_both(ours_cls, theirs_cls, steps, **kwargs):
    rng = np.random.default_rng(0)
    starts = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]
    mine = [Tensor(s.copy(), requires_grad=True) for s in starts]
    ref = [torch.tensor(s.copy(), requires_grad=True) for s in starts]
    opt, topt = ours_cls(mine, **kwargs), theirs_cls(ref, **kwargs)
    for step_grads in grads:
        for p, r, g in zip(mine, ref, step_grads):
            p.grad = Tensor(g)
            r.grad = torch.tensor(g)
        opt.step()
        topt.step()
    return mine, ref, opt, topt


SGD_CONFIGS = [dict(lr=0.1), dict(lr=0.05, weight_decay=0.01), dict(lr=0.1, momentum=0.9),
               dict(lr=0.1, momentum=0.9, dampening=0.3),
               dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05)]
ADAM_CONFIGS = [dict(), dict(lr=0.01, betas=(0.8, 0.95)), dict(lr=0.01, eps=1e-4),
                dict(lr=0.02, weight_decay=0.1)]


@pytest.mark.module06
@pytest.mark.parametrize("name,config", [("SGD", c) for c in SGD_CONFIGS] +
                         [("Adam", c) for c in ADAM_CONFIGS] +
                         [("AdamW", c) for c in ADAM_CONFIGS + [dict(lr=0.01)]],
                         ids=lambda v: v if isinstance(v, str) else
                         ",".join(f"{k}={x}" for k, x in v.items()) or "defaults")
def test_optimizer_steps_match_pytorch(name, config):
    from tinytorch.core import optimizers

    mine, ref, opt, topt = _run_both(getattr(optimizers, name), getattr(torch.optim, name),
                                     steps=10, **config)
    for p, r in zip(mine, ref):
        np.testing.assert_allclose(p.data, r.detach().numpy(), rtol=1e-5, atol=1e-6)
        assert p.dtype == np.float32
        for key in ("momentum_buffer", "exp_avg", "exp_avg_sq"):
            if key in topt.state[r] and topt.state[r][key] is not None:
                np.testing.assert_allclose(opt.state[p][key], topt.state[r][key].numpy(),
                                           rtol=1e-5, atol=1e-7, err_msg=key)


@pytest.mark.module06
def test_adam_step_count_and_state_dict_layout_match_pytorch():
    from tinytorch.core.optimizers import Adam

    mine, ref, opt, topt = _run_both(Adam, torch.optim.Adam, steps=3, lr=0.01)
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert sorted(ours["state"]) == sorted(theirs["state"])
    assert [g["params"] for g in ours["param_groups"]] == \
        [g["params"] for g in theirs["param_groups"]]
    assert ours["state"][0]["step"] == int(theirs["state"][0]["step"])


# ---- the whole path: Linear, CrossEntropyLoss, backward, Adam -----------------------------

@pytest.mark.module06
@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "AdamW"])
def test_an_mlp_trains_exactly_like_pytorch(optimizer):
    from tinytorch.core.optimizers import SGD, Adam, AdamW

    L, A, Ls = layers(), acts(), losses()
    manual_seed(0)
    model = L.Sequential(L.Linear(20, 32), A.ReLU(), L.Linear(32, 16), A.ReLU(),
                         L.Linear(16, 5))
    tmodel = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(),
                                 torch.nn.Linear(32, 16), torch.nn.ReLU(),
                                 torch.nn.Linear(16, 5))
    with torch.no_grad():
        for ours, theirs in zip(model.parameters(), tmodel.parameters()):
            theirs.copy_(torch.tensor(ours.data))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 20)).astype(np.float32)
    y = rng.integers(0, 5, 64)
    kwargs = dict(lr=0.1, momentum=0.9) if optimizer == "SGD" else dict(lr=0.01)
    opt = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}[optimizer](model.parameters(), **kwargs)
    topt = getattr(torch.optim, optimizer)(tmodel.parameters(), **kwargs)
    loss_fn, tloss_fn = Ls.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for _ in range(5):
        opt.zero_grad()
        topt.zero_grad()
        loss = loss_fn(model(Tensor(x)), y)
        tloss = tloss_fn(tmodel(torch.tensor(x)), torch.tensor(y))
        assert abs(loss.item() - tloss.item()) < 1e-5
        loss.backward()
        tloss.backward()
        for ours, theirs in zip(model.parameters(), tmodel.parameters()):
            np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-4,
                                       atol=1e-6)
        opt.step()
        topt.step()
    for ours, theirs in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-4, atol=1e-5)


def _example_program(nn, F, optim, tensor, no_grad, x, y, init) -> list[tuple]:
    """A training and test loop in the style of PyTorch's MNIST example, written once for both."""
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 5),
                          nn.LogSoftmax(dim=1)).to("cpu")
    init(model)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    log = []
    for epoch in range(3):
        model.train()
        data, target = tensor(x).float().to("cpu"), tensor(y).long()
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        model.eval()
        with no_grad():
            output = model(data)
            test_loss = float(F.nll_loss(output, target, reduction="sum"))
            pred = output.argmax(dim=1, keepdim=True)
            correct = pred.eq(target.view_as(pred)).sum().item()
            accuracy = (output.argmax(dim=1) == target).float().mean()
            spread = output.exp().sum(dim=1).std()
        line = f"epoch {epoch}: loss {loss:.4f}, test {test_loss:.3f}, accuracy {accuracy:.3f}"
        log.append((line, loss.item(), test_loss, correct, accuracy.item(), spread.item()))
    return log


@pytest.mark.module06
def test_a_pytorch_example_style_program_runs_unchanged_on_both():
    """nll_loss after LogSoftmax, .to("cpu"), .float()/.long(), float(t), f"{loss:.4f}",
    pred.eq(target.view_as(pred)): the program's lines are the same for both frameworks."""
    from types import SimpleNamespace

    from tinytorch.core.tensor import tensor

    L, A, Ls = layers(), acts(), losses()
    no_grad, SGD = _module("core.autograd").no_grad, _module("core.optimizers").SGD
    ours_nn = SimpleNamespace(Sequential=L.Sequential, Linear=L.Linear, ReLU=A.ReLU,
                              LogSoftmax=Ls.LogSoftmax)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 20)).astype(np.float32)
    y = rng.integers(0, 5, 32)
    start = []

    def keep(model):
        start.extend(p.data.copy() for p in model.parameters())

    def load(model):
        with torch.no_grad():
            for p, value in zip(model.parameters(), start):
                p.copy_(torch.tensor(value))

    manual_seed(0)
    ours = _example_program(ours_nn, SimpleNamespace(nll_loss=Ls.nll_loss),
                            SimpleNamespace(SGD=SGD), tensor, no_grad, x, y, keep)
    theirs = _example_program(torch.nn, F, torch.optim, torch.tensor, torch.no_grad, x, y, load)
    for mine, ref in zip(ours, theirs):
        assert mine[0].startswith("epoch ") and mine[0].count(".") == 3, mine[0]
        assert mine[3] == ref[3], "the same predictions are right"
        np.testing.assert_allclose(mine[1:3] + mine[4:], ref[1:3] + ref[4:], rtol=2e-5,
                                   atol=1e-6)
    assert ours[-1][1] < ours[0][1], "the loss goes down"


# ---- semantics PyTorch users lean on ------------------------------------------------------------

@pytest.mark.module01
def test_int_bool_half_conversions_match_pytorch():
    data = [-1.5, 0.0, 2.7, 1e-3]
    for name in ("int", "bool", "half"):
        ours, theirs = getattr(Tensor(data), name)(), getattr(torch.tensor(data), name)()
        assert str(ours.dtype).replace("float16", "half") == \
            str(theirs.dtype).replace("torch.", "").replace("float16", "half"), name
        assert ours.data.tolist() == theirs.tolist(), name


@pytest.mark.module05
def test_norm_of_zeros_and_leaky_relu_at_zero_have_pytorchs_gradients():
    ours, theirs = Tensor(np.zeros(3), requires_grad=True), torch.zeros(3, requires_grad=True,
                                                                        dtype=torch.float64)
    ours.norm().backward()
    theirs.norm().backward()
    assert ours.grad.data.tolist() == theirs.grad.tolist()
    a = Tensor(np.zeros(2), requires_grad=True)
    b = torch.zeros(2, requires_grad=True, dtype=torch.float64)
    acts().leaky_relu(a, 0.3).sum().backward()
    F.leaky_relu(b, 0.3).sum().backward()
    assert a.grad.data.tolist() == b.grad.tolist()


@pytest.mark.module03
def test_named_sequential_matches_pytorchs_names():
    from collections import OrderedDict

    ours = layers().Sequential(OrderedDict([("fc1", layers().Linear(3, 4)),
                                            ("act", acts().ReLU()),
                                            ("fc2", layers().Linear(4, 2))]))
    theirs = torch.nn.Sequential(OrderedDict([("fc1", torch.nn.Linear(3, 4)),
                                              ("act", torch.nn.ReLU()),
                                              ("fc2", torch.nn.Linear(4, 2))]))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]


@pytest.mark.module07
def test_random_split_lengths_match_pytorch():
    from tinytorch.core.dataloader import TensorDataset, random_split

    for n, lengths in ((10, [0.34, 0.33, 0.33]), (101, [0.9, 0.1]), (7, [0.5, 0.5]),
                       (13, [0.2, 0.2, 0.2, 0.2, 0.2]), (12, [5, 7])):
        ours = [len(p) for p in random_split(TensorDataset(np.arange(n)), lengths)]
        theirs = [len(p) for p in torch.utils.data.random_split(range(n), lengths)]
        assert ours == theirs, (n, lengths)


@pytest.mark.module01
def test_dtypes_of_new_tensors_match_pytorch():
    for data in ([0, 1, 2], [1.5, 2.0], 3, 2.5, [[1, 2], [3, 4]], [True, False]):
        ours, theirs = Tensor(data), torch.tensor(data)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), data
    labels, t_labels = Tensor([1, 2, 3]), torch.tensor([1, 2, 3])
    assert str((labels / 2).dtype) == str((t_labels / 2).dtype).replace("torch.", "")
    np.testing.assert_array_equal((labels / 2).data, (t_labels / 2).numpy())
    x = Tensor(np.zeros((2, 3, 4), np.float32))
    assert x.size() == tuple(torch.zeros(2, 3, 4).size()) and x.size(1) == 3


@pytest.mark.module01
def test_conversions_and_formatting_match_pytorch():
    data = np.array([[1.5, -2.7], [0.0, 3.2]], np.float32)
    ours, theirs = Tensor(data), torch.tensor(data)
    for convert in (lambda t: t.long(), lambda t: t.float(), lambda t: t.double(),
                    lambda t: (t > 0).float(), lambda t: t.to("cpu"), lambda t: t.abs().sqrt()):
        a, b = convert(ours), convert(theirs)
        assert str(a.dtype) == str(b.dtype).replace("torch.", "")
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-6)
        np.testing.assert_allclose(np.array(a.tolist()), np.array(b.tolist()), rtol=1e-6)
    total, t_total = ours.sum(), theirs.sum()
    assert f"{total:.3f}" == f"{t_total:.3f}" and float(total) == pytest.approx(float(t_total))
    assert int(Tensor(np.int64(4))) == int(torch.tensor(4)) and ours.dim() == theirs.dim()
    pred, target = Tensor(np.array([[1], [2], [0]])), Tensor(np.array([1, 0, 0]))
    t_pred, t_target = torch.tensor([[1], [2], [0]]), torch.tensor([1, 0, 0])
    assert pred.eq(target.view_as(pred)).sum().item() == \
        t_pred.eq(t_target.view_as(t_pred)).sum().item()
    v, i = ours.min(dim=1)
    tv, ti = theirs.min(dim=1)
    np.testing.assert_array_equal(v.data, tv.numpy())
    np.testing.assert_array_equal(i.data, ti.numpy())


@pytest.mark.module01
def test_package_level_creation_and_comparison_match_pytorch():
    from tinytorch.core import tensor as tt

    for ours, theirs in ((tt.full((2, 3), 1.5), torch.full((2, 3), 1.5)),
                         (tt.full((2,), 7), torch.full((2,), 7)),
                         (tt.full((2,), False), torch.full((2,), False)),
                         (tt.eye(3, 4), torch.eye(3, 4)), (tt.linspace(-1, 2, 7),
                                                            torch.linspace(-1, 2, 7)),
                         (tt.randint(0, 5, (3,)), torch.randint(0, 5, (3,))),
                         (tt.randint(5, (3,)), torch.randint(5, (3,))),
                         (tt.randperm(4), torch.randperm(4)), (tt.empty(2, 3), torch.empty(2, 3))):
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(tt.linspace(-1, 2, 7).data, torch.linspace(-1, 2, 7).numpy())
    np.testing.assert_array_equal(tt.eye(3, 4).data, torch.eye(3, 4).numpy())
    data = np.array([[0.0, 1.0, -2.0], [3.0, 0.0, 4.0]], np.float32)
    ours, theirs = Tensor(data), torch.tensor(data)
    for reduce in (lambda t: t.all(), lambda t: t.any(), lambda t: t.all(dim=1),
                   lambda t: t.any(dim=0, keepdim=True), lambda t: (t > -3).all()):
        a, b = reduce(ours), reduce(theirs)
        assert str(a.dtype) == str(b.dtype).replace("torch.", "")
        np.testing.assert_array_equal(a.data, b.numpy())
    near = data + np.float32(1e-6)
    assert tt.allclose(ours, Tensor(near)) == torch.allclose(theirs, torch.tensor(near))
    assert tt.allclose(ours, ours + 0.01) == torch.allclose(theirs, theirs + 0.01)
    assert tt.equal(ours, ours.clone()) == torch.equal(theirs, theirs.clone())
    assert tt.equal(ours, ours + 1) == torch.equal(theirs, theirs + 1)


@pytest.mark.module01
def test_indices_pieces_and_one_hot_match_pytorch():
    from tinytorch.core import tensor as tt

    data = np.random.default_rng(5).standard_normal((4, 5)).astype(np.float32)
    ours, theirs = Tensor(data), torch.tensor(data)
    for pick in (lambda t: t.sort(dim=1).indices, lambda t: t.sort(0, descending=True).indices,
                 lambda t: t.argsort(dim=0), lambda t: t.topk(3).indices,
                 lambda t: t.topk(1, dim=0, largest=False).indices):
        a, b = pick(ours), pick(theirs)
        assert str(a.dtype) == str(b.dtype).replace("torch.", "")
        np.testing.assert_array_equal(a.data, b.numpy())
    for cut in (lambda t: t.split(2), lambda t: t.split(3, dim=1), lambda t: t.split([1, 0, 3]),
                lambda t: t.chunk(3), lambda t: t.chunk(2, dim=1), lambda t: t.chunk(9)):
        mine, ref = cut(ours), cut(theirs)
        assert [m.shape for m in mine] == [tuple(r.shape) for r in ref]
        for m, r in zip(mine, ref):
            np.testing.assert_array_equal(m.data, r.numpy())
    labels = np.array([[0, 3], [2, 2]])
    for classes in (-1, 6):
        a, b = tt.one_hot(Tensor(labels), classes), F.one_hot(torch.tensor(labels), classes)
        assert str(a.dtype) == str(b.dtype).replace("torch.", "")
        np.testing.assert_array_equal(a.data, b.numpy())
    for name in ("float16", "half", "float32", "float64", "double", "uint8", "int8", "int16",
                 "int32", "int64", "long"):
        assert str(np.dtype(getattr(tt, name))) == str(getattr(torch, name)).replace("torch.", "")


@pytest.mark.module05
def test_retained_gradients_match_pytorch():
    rng = np.random.default_rng(9)
    x0, w0 = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    results = []
    for lib, make in ((None, lambda a: Tensor(a.copy(), requires_grad=True)),
                      (torch, lambda a: torch.tensor(a, requires_grad=True))):
        x, w = make(x0), make(w0)
        h = x @ w
        h.retain_grad()
        r = h.relu() if lib is None else torch.relu(h)
        r.retain_grad()
        loss = (r * r).sum() + h.sum()
        loss.retain_grad()
        loss.backward()
        results.append([np.asarray(t.grad.data if lib is None else t.grad.numpy())
                        for t in (h, r, loss, x, w)])
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)


@pytest.mark.module01
def test_max_over_a_dim_unpacks_like_pytorch():
    data = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], np.float32)
    v, i = Tensor(data).max(dim=1)
    tv, ti = torch.tensor(data).max(dim=1)
    np.testing.assert_array_equal(v.data, tv.numpy())
    np.testing.assert_array_equal(i.data, ti.numpy())


@pytest.mark.module06
def test_inplace_sgd_by_hand_matches_pytorch():
    """The loop PyTorch tutorials write: no_grad(), p -= lr * p.grad, p.grad.zero_()."""
    autograd = _module("core.autograd")
    rng = np.random.default_rng(0)
    w0, x = rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal((4, 3))
    x = x.astype(np.float32)
    w, tw = Tensor(w0.copy(), requires_grad=True), torch.tensor(w0.copy(), requires_grad=True)
    for _ in range(3):
        ((Tensor(x) @ w) ** 2).sum().backward()
        ((torch.tensor(x) @ tw) ** 2).sum().backward()
        with autograd.no_grad():
            w -= 0.01 * w.grad
            w.grad.zero_()
        with torch.no_grad():
            tw -= 0.01 * tw.grad
            tw.grad.zero_()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError):
        w += 1.0
    with pytest.raises(RuntimeError):
        tw += 1.0


@pytest.mark.module05
def test_leaves_never_share_a_gradient_buffer():
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    (a + b).backward(Tensor([1.0, 1.0]))
    assert not np.shares_memory(a.grad.data, b.grad.data)
    c, d = Tensor([[1.0]], requires_grad=True), Tensor([2.0], requires_grad=True)
    (c.reshape(1) + d).sum().backward()
    assert not np.shares_memory(c.grad.data, d.grad.data)
    a.grad.zero_()
    assert b.grad.data.tolist() == [1.0, 1.0]


@pytest.mark.module04
def test_bce_of_a_certain_mistake_matches_pytorch():
    p = np.array([0.0, 1.0, 1e-30], np.float32)
    t = np.array([1.0, 0.0, 1.0], np.float32)
    ours = losses().binary_cross_entropy(Tensor(p), Tensor(t), "none").data
    theirs = F.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none")
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-6)
