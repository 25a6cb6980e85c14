"""Module 08 (training): schedules, clip_grad_norm_, checkpoints, the loop, exact resume."""
from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.activations import ReLU
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor, is_grad_enabled, manual_seed
from tinytorch.core.training import (CheckpointError, CosineAnnealingLR, EarlyStopping, StepLR,
                                     clip_grad_norm_, evaluate, fit, get_rng_state, load,
                                     pack_state, save, set_rng_state, train_epoch,
                                     training_state, unpack_state)

pytestmark = pytest.mark.module08


def params(*shapes) -> list[Tensor]:
    return [Tensor(np.zeros(s, np.float32), requires_grad=True) for s in shapes]


def same(a, b) -> bool:
    """Deep equality that also requires the same types and dtypes (arrays compared exactly)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (type(a) is type(b) and a.requires_grad == b.requires_grad
                and same(a.data, b.data))
    if isinstance(a, dict):
        return (isinstance(b, dict) and list(a) == list(b)
                and all(type(k) is type(j) for k, j in zip(a, b))
                and all(same(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(same(x, y) for x, y in zip(a, b)))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


# ---- schedules ------------------------------------------------------------------------------

def test_schedules_by_hand():
    opt = SGD([{"params": params(2)}, {"params": params(1), "lr": 0.02}], lr=0.1)
    step = StepLR(opt, step_size=3, gamma=0.5)
    seen = [step.get_last_lr()]
    for _ in range(6):
        step.step()
        seen.append(step.get_last_lr())
    assert step.last_epoch == 6
    np.testing.assert_allclose(seen, [[0.1, 0.02]] * 3 + [[0.05, 0.01]] * 3 + [[0.025, 0.005]],
                               rtol=1e-12)
    assert [g["lr"] for g in opt.param_groups] == seen[-1]
    cos = CosineAnnealingLR(SGD(params(2), lr=1.0), T_max=4, eta_min=0.2)
    rates = [cos.get_last_lr()[0]]
    for _ in range(4):
        cos.step()
        rates.append(cos.get_last_lr()[0])
    half = [(1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]
    assert rates == pytest.approx([0.2 + 0.8 * h for h in half], rel=1e-12)
    opt.param_groups[0]["lr"] = 7.0
    again = StepLR(opt, step_size=1)
    assert again.base_lrs == [0.1, 0.02], "an existing initial_lr is kept"


def test_scheduler_state_dict_round_trip_and_bad_arguments():
    opt = SGD(params(2), lr=1.0)
    sched = CosineAnnealingLR(opt, T_max=8, eta_min=0.1)
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state
    twin = CosineAnnealingLR(SGD(params(2), lr=1.0), T_max=8, eta_min=0.1)
    twin.load_state_dict(load_round_trip(state))
    for _ in range(4):
        sched.step()
        twin.step()
        assert twin.get_last_lr() == sched.get_last_lr()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="step_size"):
            StepLR(SGD(params(2), lr=0.1), step_size=bad)
        with pytest.raises(ValueError, match="T_max"):
            CosineAnnealingLR(SGD(params(2), lr=0.1), T_max=bad)
    with pytest.raises(TypeError, match="param_groups"):
        StepLR([1, 2], step_size=1)


# ---- gradient clipping ----------------------------------------------------------------------

def test_clip_by_hand():
    a, b = params(2, 1)
    a.grad, b.grad = Tensor(np.array([3.0, 0.0], np.float32)), Tensor(np.array([4.0], np.float32))
    total = clip_grad_norm_([a, b], 1.0)
    assert total.item() == pytest.approx(5.0)
    assert np.allclose(a.grad.data, [0.6, 0.0]) and np.allclose(b.grad.data, [0.8])
    assert clip_grad_norm_([a, b], 10.0).item() == pytest.approx(1.0, rel=1e-5)
    assert np.allclose(b.grad.data, [0.8]), "below max_norm: unchanged"


@settings(max_examples=40)
@given(st.lists(st.floats(-1e3, 1e3, width=32), min_size=1, max_size=12),
       st.floats(1e-3, 1e2))
def test_clipped_norm_never_exceeds_max_norm(values, max_norm):
    (p,) = params(len(values))
    p.grad = Tensor(np.array(values, np.float32))
    before = float(np.linalg.norm(np.array(values, np.float64)))
    total = clip_grad_norm_([p], max_norm).item()
    after = float(np.linalg.norm(p.grad.data.astype(np.float64)))
    assert total == pytest.approx(before, rel=1e-5, abs=1e-6)
    assert after <= max_norm * (1 + 1e-5) + 1e-6
    # As in PyTorch, the scale is max_norm / (norm + 1e-6): a norm within 1e-6 below the cap
    # is still scaled, slightly. Below that band the gradients stay as they were.
    if before + 2e-6 <= max_norm:
        assert after == pytest.approx(before, rel=1e-6, abs=1e-7), "under the cap: unchanged"


def test_a_norm_just_under_the_cap_is_scaled_as_pytorch_scales_it():
    (p,) = params(1)
    p.grad = Tensor(np.array([0.001], np.float32))
    norm = float(np.float32(0.001))
    clip_grad_norm_([p], norm + 5e-7)
    assert p.grad.data[0] == pytest.approx(norm * (norm + 5e-7) / (norm + 1e-6), rel=1e-6)


def test_clip_never_scales_a_shared_gradient_array_in_place():
    shared = np.array([3.0, 4.0], np.float32)
    a, b = params(2, 2)
    a.grad, b.grad = Tensor(shared), Tensor(shared)
    clip_grad_norm_([a, b], 1.0)
    assert shared.tolist() == [3.0, 4.0]
    assert np.allclose(a.grad.data, b.grad.data)
    assert np.linalg.norm(np.concatenate([a.grad.data, b.grad.data])) == pytest.approx(1.0,
                                                                                       rel=1e-5)


def test_clip_nonfinite_norm():
    (p,) = params(2)
    p.grad = Tensor(np.array([np.nan, 1.0], np.float32))
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isnan(clip_grad_norm_([p], 1.0).item())


# ---- checkpoints ----------------------------------------------------------------------------

def load_round_trip(obj, folder: Path | None = None):
    import tempfile

    folder = Path(tempfile.mkdtemp()) if folder is None else folder
    return load(save(obj, folder / "rt.npz"))


NESTED = {
    "ints": {0: 1, -5: 2**70, True: None, 2.5: "x", None: "none"},
    "tuple": (1, (2.0, [3, "four"]), ()),
    "empty": {"list": [], "dict": {}, "str": ""},
    "floats": [0.1, -0.0, 1e-310, float("inf"), float("-inf"), float("nan"), 1 / 3],
    "arrays": [np.arange(6, dtype=np.int8).reshape(2, 3), np.zeros((0, 4), np.float64),
               np.array(3.5, np.float16), np.array([True, False]),
               np.arange(4, dtype=np.float32)[::2], np.array(["a", "bc"])],
    "scalars": [np.float32(1.5), np.int64(7), np.bool_(True), np.float64(2.0)],
    "tensor": Tensor(np.ones((2, 2), np.float32), requires_grad=True),
    "unicode": "λ ∑ ✓",
}


def test_nested_values_round_trip_exactly(tmp_path):
    back = load_round_trip(NESTED, tmp_path)
    assert same(back, NESTED)
    assert list(back["ints"]) == [0, -5, True, 2.5, None]
    assert type(back["scalars"][0]) is np.float32


def test_pack_state_structure_is_plain_json_with_one_tag_per_object():
    structure, arrays = pack_state(NESTED)
    text = json.dumps(structure, allow_nan=True)
    assert same(unpack_state(json.loads(text), arrays), NESTED)

    def objects(node):
        if isinstance(node, dict):
            yield node
            for v in node.values():
                yield from objects(v)
        elif isinstance(node, list):
            for v in node:
                yield from objects(v)

    for obj in objects(structure):
        assert len(set(obj) - {"requires_grad"}) == 1, obj


def make_training(seed=0, opt_cls=Adam):
    manual_seed(seed)
    model = Sequential(Linear(6, 8), ReLU(), Dropout(0.25), Linear(8, 3))
    opt = opt_cls(model.parameters(), lr=0.05) if opt_cls is not SGD else \
        SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    return model, opt


@pytest.mark.parametrize("opt_cls", [SGD, Adam, AdamW], ids=lambda c: c.__name__)
def test_model_optimizer_and_scheduler_state_round_trip_exactly(tmp_path, opt_cls):
    model, opt = make_training(opt_cls=opt_cls)
    sched = StepLR(opt, step_size=2, gamma=0.3)
    x, y = Tensor(np.random.default_rng(0).standard_normal((10, 6)).astype(np.float32)), \
        np.arange(10) % 3
    for _ in range(3):
        opt.zero_grad()
        CrossEntropyLoss()(model(x), y).backward()
        opt.step()
        sched.step()
    obj = {"model": model.state_dict(), "optimizer": opt.state_dict(),
           "scheduler": sched.state_dict()}
    back = load_round_trip(obj, tmp_path)
    assert same(back["model"], dict(obj["model"]))
    assert same(back["optimizer"], obj["optimizer"])
    assert same(back["scheduler"], obj["scheduler"])
    twin_model, twin_opt = make_training(seed=9, opt_cls=opt_cls)
    twin_sched = StepLR(twin_opt, step_size=2, gamma=0.3)
    twin_model.load_state_dict(back["model"])
    twin_opt.load_state_dict(back["optimizer"])
    twin_sched.load_state_dict(back["scheduler"])
    assert same(twin_opt.state_dict(), opt.state_dict())
    assert same(twin_sched.state_dict(), sched.state_dict())


def test_save_refuses_what_it_cannot_store_and_names_the_place(tmp_path):
    with pytest.raises(TypeError, match=r"checkpoint\['opt'\]\['state'\]\[0\]\[1\]"):
        save({"opt": {"state": {0: [1, object()]}}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="object"):
        save({"a": np.array([1, None], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="key"):
        save({("a", 1): 2}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="state_dict"):
        save(Linear(2, 2), tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == [], "nothing is written when packing fails"


class Payload:
    """Unpickling this object touches a marker file: proof that code ran."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickled_object_array_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "code-ran"
    Payload.marker = marker
    evil = np.empty(1, dtype=object)
    evil[0] = Payload()
    header = {"format": "tinytorch-checkpoint", "version": 1, "structure": {"array": "a0"}}
    path = tmp_path / "evil.npz"
    np.savez(path, __structure__=np.frombuffer(json.dumps(header).encode(), np.uint8), a0=evil)
    with pytest.raises(CheckpointError, match="pickle"):
        load(path)
    assert not marker.exists(), "loading ran code from the file"
    raw = tmp_path / "raw.npz"                       # a bare pickle with a checkpoint's name
    raw.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError, match="not a tinytorch checkpoint"):
        load(raw)
    assert not marker.exists()


def test_corrupt_and_foreign_files_give_one_clear_error(tmp_path):
    good = save({"w": np.arange(1000, dtype=np.float32)}, tmp_path / "good.npz")
    data = good.read_bytes()
    cases = {
        "truncated.npz": data[: len(data) // 2],
        "flipped.npz": data[:200] + bytes(b ^ 0xFF for b in data[200:260]) + data[260:],
        "text.npz": b"hello, this is not a checkpoint",
        "empty.npz": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    np.save(tmp_path / "single.npy", np.ones(3))
    np.savez(tmp_path / "foreign.npz", weights=np.ones(3))
    np.savez(tmp_path / "badjson.npz", __structure__=np.frombuffer(b"{not json", np.uint8))
    np.savez(tmp_path / "future.npz", __structure__=np.frombuffer(json.dumps(
        {"format": "tinytorch-checkpoint", "version": 99, "structure": 1}).encode(), np.uint8))
    for name in [*cases, "single.npy", "foreign.npz", "badjson.npz", "future.npz"]:
        with pytest.raises(CheckpointError) as err:
            load(tmp_path / name)
        message = str(err.value)
        assert name in message and "\n" not in message, message
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load(tmp_path / "missing.npz")


def test_a_failing_write_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = save({"epoch": 1, "w": np.ones(100)}, tmp_path / "ckpt.npz")
    before = path.read_bytes()
    real = np.savez

    def crash_midway(file, *args, **kwargs):
        real(file, *args, **kwargs)          # the whole archive is written ...
        raise OSError("No space left on device")   # ... and then the disk fills up

    monkeypatch.setattr(np, "savez", crash_midway)
    with pytest.raises(OSError, match="No space"):
        save({"epoch": 2, "w": np.zeros(100)}, path)

    def interrupted(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save({"epoch": 3}, path)
    monkeypatch.setattr(np, "savez", real)
    assert path.read_bytes() == before
    assert load(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"], "temporary files removed"
    save({"epoch": 4}, path)
    assert load(path) == {"epoch": 4}, "a later write replaces the file"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({}, tmp_path / "no" / "such" / "folder.npz")


def test_save_writes_exactly_the_given_name(tmp_path):
    for name in ("run", "run.ckpt", "run.npz"):
        save({"x": 1}, tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run.ckpt", "run.npz"]


def test_rng_state_round_trips_through_a_checkpoint(tmp_path):
    manual_seed(3)
    state = load_round_trip({"rng": get_rng_state()}, tmp_path)["rng"]
    expected = get_rng_state()
    a = Dropout(0.5)(Tensor(np.ones(64, np.float32))).data
    manual_seed(99)
    set_rng_state(state)
    assert get_rng_state() == expected
    assert np.array_equal(Dropout(0.5)(Tensor(np.ones(64, np.float32))).data, a)


# ---- the loop -------------------------------------------------------------------------------

def blobs(n=600, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = np.array([[2, 0, 0, 0, 0, 1], [0, 2, 0, 1, 0, 0], [0, 0, 2, 0, 1, 0]], np.float32)
    x = centres[labels] + noise * rng.standard_normal((n, 6)).astype(np.float32)
    return x.astype(np.float32), labels.astype(np.int64)


def test_train_and_evaluate_epochs():
    x, y = blobs()
    model, opt = make_training(opt_cls=Adam)
    loader = DataLoader(TensorDataset(x[:500], y[:500]), batch_size=64, shuffle=True, seed=0)
    val = DataLoader(TensorDataset(x[500:], y[500:]), batch_size=33)     # a short last batch
    grad_modes = []

    def loss_fn(logits, labels):
        grad_modes.append(is_grad_enabled())
        return CrossEntropyLoss()(logits, labels)

    before = evaluate(model, val, loss_fn)
    assert grad_modes == [False] * 4 and not model.training
    assert all(p.grad is None for p in model.parameters())
    logits = model(Tensor(x[500:]))
    expected = CrossEntropyLoss()(logits, y[500:]).item()
    assert before["loss"] == pytest.approx(expected, rel=1e-5), "weighted by batch size"
    assert before["accuracy"] == pytest.approx(float((logits.data.argmax(1) == y[500:]).mean()))
    grad_modes.clear()
    for _ in range(3):
        result = train_epoch(model, loader, loss_fn, opt, max_norm=2.0)
    assert grad_modes == [True] * 24 and model.training
    assert set(result) == {"loss", "accuracy"} and result["accuracy"] > 0.8
    after = evaluate(model, val, loss_fn)
    assert after["loss"] < before["loss"] and after["accuracy"] > 0.8
    with pytest.raises(ValueError, match="no batches"):
        evaluate(model, DataLoader(TensorDataset(x[:3], y[:3]), batch_size=4, drop_last=True),
                 loss_fn)


def test_early_stopping_rules():
    e = EarlyStopping(patience=2, min_delta=0.1)
    assert [e.step(v) for v in (1.0, 0.95, 0.85, 0.8, 0.7)] == [False] * 5, \
        "0.85 and 0.7 beat the best by more than min_delta: patience never runs out"
    assert e.best == 0.7 and e.best_epoch == 4 and e.bad_epochs == 0
    assert [e.step(v) for v in (0.65, 0.61)] == [False, True] and e.stopped
    assert e.best == 0.7, "improvements smaller than min_delta do not count"
    m = EarlyStopping(patience=1, mode="max")
    assert m.step(0.5) is False and m.step(0.4) is True and m.best == 0.5
    restored = EarlyStopping()
    restored.load_state_dict(load_round_trip(m.state_dict()))
    assert restored.state_dict() == m.state_dict() and restored.stopped
    for bad in (dict(mode="up"), dict(patience=0), dict(patience=1.5)):
        with pytest.raises(ValueError):
            EarlyStopping(**bad)


def test_fit_stops_early_and_restores_the_best_weights(tmp_path):
    x, y = blobs(400, noise=2.0)
    rng = np.random.default_rng(1)
    x_val, y_val = x[:100] + rng.standard_normal((100, 6)).astype(np.float32), \
        rng.integers(0, 3, 100)                 # labels unrelated to the inputs: it overfits
    model, opt = make_training(opt_cls=Adam)
    stopper = EarlyStopping(patience=2)
    history = fit(model, DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=0),
                  DataLoader(TensorDataset(x_val, y_val), batch_size=50), CrossEntropyLoss(),
                  opt, epochs=40, early_stopping=stopper)
    ran = len(history["val_loss"])
    assert ran < 40, "validation on random labels gets worse: training must stop early"
    assert set(history) == {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == ran for v in history.values())
    assert ran == stopper.best_epoch + 1 + stopper.patience
    best = min(history["val_loss"])
    assert history["val_loss"][stopper.best_epoch] == best
    val = DataLoader(TensorDataset(x_val, y_val), batch_size=50)
    assert evaluate(model, val, CrossEntropyLoss())["loss"] == best, "best weights restored"


class Crash(Exception):
    pass


class CrashingLoss:
    def __init__(self, at=None):
        self.calls, self.at = 0, at

    def __call__(self, logits, labels):
        self.calls += 1
        if self.calls == self.at:
            raise Crash
        return CrossEntropyLoss()(logits, labels)


def resumable_run(ckpt: Path, crash_at=None, reseed=None, seeded_loader=False):
    x, y = blobs(300, seed=4)
    model, opt = make_training(seed=2, opt_cls=SGD)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    stopper = EarlyStopping(patience=10)
    loader = DataLoader(TensorDataset(x[:240], y[:240]), batch_size=20, shuffle=True,
                        seed=7 if seeded_loader else None)
    if reseed is not None:
        manual_seed(reseed)
    history = fit(model, loader, DataLoader(TensorDataset(x[240:], y[240:]), batch_size=30),
                  CrashingLoss(crash_at), opt, epochs=5, scheduler=sched,
                  early_stopping=stopper, max_norm=1.0, checkpoint=ckpt)
    return model, opt, history


@pytest.mark.parametrize("seeded_loader", [False, True], ids=["global_rng", "seeded_loader"])
@pytest.mark.parametrize("crash_at", [5, 14 * 2 + 3, 14 * 4 + 13])
def test_resume_after_an_interruption_is_bit_identical(tmp_path, crash_at, seeded_loader):
    # one epoch: 12 training batches + 2 validation batches = 14 loss calls
    straight, straight_opt, straight_history = resumable_run(tmp_path / "a.npz",
                                                             seeded_loader=seeded_loader)
    with pytest.raises(Crash):
        resumable_run(tmp_path / "b.npz", crash_at=crash_at, seeded_loader=seeded_loader)
    done = (crash_at - 1) // 14
    assert (tmp_path / "b.npz").exists() == (done > 0)
    if done:
        assert load(tmp_path / "b.npz")["epoch"] == done
    # the new process's generator is elsewhere; with no checkpoint yet it starts over as the
    # first process did
    resumed, resumed_opt, resumed_history = resumable_run(
        tmp_path / "b.npz", reseed=2024 if done else None, seeded_loader=seeded_loader)
    for (name, p), q in zip(straight.named_parameters(), resumed.parameters()):
        assert p.data.tobytes() == q.data.tobytes(), f"{name} differs after resuming"
    assert same(resumed_opt.state_dict(), straight_opt.state_dict())
    assert resumed_history == straight_history


def test_resume_without_the_rng_state_is_not_identical(tmp_path):
    """The control: the test above could not fail if the generator did not matter."""
    straight, _, _ = resumable_run(tmp_path / "a.npz")
    with pytest.raises(Crash):
        resumable_run(tmp_path / "b.npz", crash_at=14 * 2 + 3)
    state = load(tmp_path / "b.npz")
    manual_seed(2024)
    state["rng"] = get_rng_state()
    save(state, tmp_path / "b.npz")
    resumed, _, _ = resumable_run(tmp_path / "b.npz", reseed=2024)
    assert any(p.data.tobytes() != q.data.tobytes()
               for p, q in zip(straight.parameters(), resumed.parameters()))


def test_training_state_holds_every_piece(tmp_path):
    model, opt = make_training()
    loader = DataLoader(TensorDataset(np.zeros((4, 6), np.float32)), batch_size=2)
    loader.set_epoch(3)
    state = training_state(model, opt, loader, StepLR(opt, step_size=1), EarlyStopping(),
                           epoch=3, history={"val_loss": [1.0]})
    assert {"model", "optimizer", "scheduler", "early_stopping", "loader_epoch", "rng", "epoch",
            "history"} <= set(state)
    assert state["loader_epoch"] == 3 and state["rng"] == get_rng_state()
    assert same(load_round_trip(state, tmp_path), {k: (dict(v) if k == "model" else v)
                                                   for k, v in state.items()})


# ---- against PyTorch (last: importing torch is the slowest thing in this file) --------------

SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=1, gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
]


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=[f"{n}-{k}" for n, k in SCHEDULES])
def test_schedules_match_pytorch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours_cls = {"StepLR": StepLR, "CosineAnnealingLR": CosineAnnealingLR}[name]
    theirs_cls = getattr(torch.optim.lr_scheduler, name)
    w1, w2 = params(2, 3)
    ours_opt = SGD([{"params": [w1]}, {"params": [w2], "lr": 0.03}], lr=0.1, momentum=0.9)
    t1, t2 = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    theirs_opt = torch.optim.SGD([{"params": [t1]}, {"params": [t2], "lr": 0.03}], lr=0.1,
                                 momentum=0.9)
    ours, theirs = ours_cls(ours_opt, **kwargs), theirs_cls(theirs_opt, **kwargs)
    for epoch in range(25):       # past T_max too: both climb back up the cosine
        assert ours.last_epoch == theirs.last_epoch == epoch
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-9,
                                   atol=1e-12, err_msg=f"epoch {epoch}")
        np.testing.assert_allclose([g["lr"] for g in ours_opt.param_groups],
                                   [g["lr"] for g in theirs_opt.param_groups], rtol=1e-9,
                                   atol=1e-12)
        assert [g["initial_lr"] for g in ours_opt.param_groups] == \
            [g["initial_lr"] for g in theirs_opt.param_groups]
        theirs_opt.step()         # PyTorch warns when the scheduler steps first
        ours.step()
        theirs.step()
    mine, its = ours.state_dict(), theirs.state_dict()
    for key in ("last_epoch", "base_lrs", "_last_lr", *kwargs):
        assert mine[key] == pytest.approx(its[key], rel=1e-9, abs=1e-12), key


def test_scheduler_resumes_with_last_epoch_like_pytorch():
    torch = pytest.importorskip("torch")
    # the optimizer holds what a run at epoch 4 holds: initial_lr and the epoch-4 rate
    (w,) = params(2)
    opt = SGD([w], lr=0.2 * 0.1 ** 2)
    opt.param_groups[0]["initial_lr"] = 0.2
    t = torch.zeros(2, requires_grad=True)
    topt = torch.optim.SGD([t], lr=0.2 * 0.1 ** 2)
    topt.param_groups[0]["initial_lr"] = 0.2
    ours, theirs = StepLR(opt, step_size=2, last_epoch=4), \
        torch.optim.lr_scheduler.StepLR(topt, step_size=2, last_epoch=4)
    for _ in range(4):
        assert ours.last_epoch == theirs.last_epoch
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-9)
        topt.step()
        ours.step()
        theirs.step()
    assert ours.last_epoch == 9
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(SGD(params(2), lr=0.1), step_size=2, last_epoch=3)


def test_a_second_scheduler_keeps_the_initial_lr_like_pytorch():
    torch = pytest.importorskip("torch")
    opt = SGD(params(2), lr=0.4)
    topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.4)
    first, tfirst = StepLR(opt, step_size=1), torch.optim.lr_scheduler.StepLR(topt, 1)
    for _ in range(2):
        topt.step()
        first.step()
        tfirst.step()
    second = CosineAnnealingLR(opt, T_max=5)
    tsecond = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=5)
    assert second.base_lrs == tsecond.base_lrs == [0.4]
    assert opt.param_groups[0]["initial_lr"] == topt.param_groups[0]["initial_lr"] == 0.4


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_pytorch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ours = params(*shapes)
    for p, g in zip(ours, grads):
        p.grad = Tensor(g.copy())
    extra = params(5)[0]                   # no gradient: skipped by both
    theirs = [torch.zeros(s, requires_grad=True) for s in shapes]
    for t, g in zip(theirs, grads):
        t.grad = torch.tensor(g)
    total = clip_grad_norm_(ours + [extra], max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs + [torch.zeros(5, requires_grad=True)],
                                              max_norm, norm_type=norm_type)
    assert isinstance(total, Tensor) and total.dtype == np.float32
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-5, atol=1e-7)
        assert p.grad.dtype == np.float32
    assert extra.grad is None
