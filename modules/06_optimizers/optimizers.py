# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 06 — Optimizers: SGD, momentum and Adam
#
# After module 05, one call to `loss.backward()` leaves in every weight's `.grad` the direction in
# which the loss grows fastest. Training is what you do with that: step the other way, a little,
# and repeat a few thousand times. *How* you step turns out to matter enormously — the same
# network, with the same gradients, can train in minutes or not at all depending on the
# optimizer. In this module you write the three that carry most of deep learning: plain
# stochastic gradient descent, SGD with momentum, and Adam (with its sibling AdamW).
#
# ## Learning objectives
#
# - Write the `Optimizer` base class: parameter groups, per-parameter state, `zero_grad`, and a
#   `state_dict` you can save and restore.
# - Implement SGD with weight decay, momentum, dampening and Nesterov momentum — the same update
#   rules PyTorch documents, so your numbers match PyTorch's.
# - Implement Adam and AdamW, and understand bias correction and decoupled weight decay.
# - See on a picture why momentum and Adam cross a narrow valley that defeats plain SGD.
# - Measure what an optimizer costs: state memory per parameter, and the time of an update done
#   in place against one that allocates temporaries.
#
# ## Where this module fits
#
# ```
#  03 Layers ──► parameters ──┐
#                             ├──► 06 Optimizer.step(): p.data -= (a step computed from p.grad)
#  05 Autograd ──► p.grad ────┘
# ```
#
# An optimizer never builds a graph. It reads `p.grad.data`, keeps a little memory of its own
# per parameter (`state`), and rewrites `p.data` in place.

# %% [markdown]
# **How to work in this notebook.** Fill in each `TODO` where it stands and run the cell; the
# graded cell after it checks your work. `tito module test 06` tests this notebook *as
# saved on disk*, so save it first (Ctrl+S): edits that are only in the browser are not tested.
# `tito module test 06 -k NAME --verbose` runs the tests whose names contain NAME and
# prints each failure in full.

# %%
#| default_exp core.optimizers

# %%
import numpy as np

from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.activations import ReLU
from tinytorch.core.losses import CrossEntropyLoss

# %% [markdown]
# ## 1. Gradient descent, one step at a time
#
# The gradient `g = ∂L/∂p` points uphill. Gradient descent moves every parameter a small step
# `lr` (the *learning rate*) the other way:
#
# ```
#            p  ←  p − lr · g
#
#    loss
#     │ \                         /        lr too small: many tiny steps
#     │  \        •→•→•→•        /         lr right:     a few confident steps
#     │   \              •→•   /           lr too large: jumps across the bowl, further
#     │    \               •→•/                          up the other side each time
#     │     ‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾
#     └─────────────────────────── p
# ```
#
# "Stochastic" means the gradient comes from a mini-batch of examples rather than the whole
# dataset: a noisy but cheap estimate, and a thousand cheap noisy steps beat ten exact ones.
#
# Every optimizer in this module has the same outer loop; only the arithmetic inside differs:
#
# ```python
# for xb, yb in batches:
#     optimizer.zero_grad()            # forget the previous batch's gradients
#     loss = loss_fn(model(xb), yb)
#     loss.backward()                  # fill p.grad for every parameter
#     optimizer.step()                 # update every p.data from its p.grad
# ```
#
# `zero_grad()` is there because module 05's engine *accumulates*: a second `backward()` adds to
# the gradients already in `.grad`. Forgetting it is the most common bug in training loops — the
# gradient of batch 100 would include the 99 batches before it.

# %% [markdown]
# ## 2. The `Optimizer` base class
#
# An optimizer holds:
#
# - `param_groups`: a list of dicts, each with a `"params"` list and that group's
#   hyperparameters (`"lr"`, `"momentum"`, ...). One group is the usual case; several let you
#   train, say, a pretrained body with a small `lr` and a new head with a large one. A plain
#   iterable of parameters becomes one group; hyperparameters a group does not set come from the
#   optimizer's `defaults`.
# - `state`: a dict from each parameter to *its* memory (a momentum buffer, Adam's averages).
#
# ```
#   SGD(model.parameters(), lr=0.1, momentum=0.9)
#
#   param_groups = [ {"params": [W1, b1, W2, b2], "lr": 0.1, "momentum": 0.9, ...} ]
#   state        = { W1: {"momentum_buffer": array like W1}, b1: {...}, ... }
# ```
#
# `state` is keyed by the parameter object itself: `Tensor` hashes by identity, like PyTorch's
# tensors, so two different weights never share an entry even when their values are equal.
#
# `zero_grad(set_to_none=True)` sets every `p.grad` to None (the cheapest "zero": the next
# `backward()` stores its gradient without adding to anything). With `set_to_none=False` it gives
# each parameter a **new** array of zeros. Never zero a `.grad` array in place: module 05 showed
# that two parameters may share one gradient array.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "optimizer_base", "solution": true, "locked": false}
#| export
import math
from typing import Callable, Iterable

import numpy as np

from tinytorch.core.tensor import Tensor


class Optimizer:
    """Base class of the optimizers: parameter groups, per-parameter state, zero_grad."""

    def __init__(self, params: Iterable, defaults: dict):
        """Build ``param_groups`` from ``params`` and fill in ``defaults``.

        TODO: accept an iterable of Tensors (one group) or of dicts (several groups).
        APPROACH:
            1. Set ``self.defaults = dict(defaults)``, ``self.state = {}``,
               ``self.param_groups = []``.
            2. ``params`` may be a single Tensor (wrap it in a list) or an iterable: make it
               a list. An empty list is a mistake: raise ValueError.
            3. If the first entry is not a dict, the list is one group: ``[{"params": ...}]``.
            4. ``self.add_param_group(group)`` for each group.
        EXAMPLE:
            >>> opt = SGD([w, b], lr=0.1)
            >>> len(opt.param_groups), opt.param_groups[0]["lr"]
            (1, 0.1)
        HINTS: ``model.parameters()`` is a generator: ``list(...)`` it once.
        """
        ### BEGIN SOLUTION
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        groups = [params] if isinstance(params, Tensor) else list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list; pass "
                             f"model.parameters() of a model that has parameters")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)
        ### END SOLUTION

    def add_param_group(self, group: dict) -> None:
        """Add one group: check its parameters and fill missing hyperparameters from defaults.

        TODO: validate and append ``group`` to ``self.param_groups``.
        APPROACH:
            1. Copy the dict. Its ``"params"`` may be one Tensor or an iterable: make a list.
            2. Check every entry: not a Tensor -> TypeError; not a leaf (``p.is_leaf`` is
               False: made by an op, so it is recomputed, never stored) -> ValueError;
               already seen, in an earlier group or earlier in this one -> ValueError (it
               would be stepped twice). Keep a set of the ``id(p)`` seen. A frozen tensor
               (``requires_grad=False``) is accepted, as in PyTorch: it never gets a
               gradient, so ``step`` skips it.
            3. ``group.setdefault(name, value)`` for every entry of ``self.defaults``.
        """
        ### BEGIN SOLUTION
        group = dict(group)
        params = group.get("params")
        params = [params] if isinstance(params, Tensor) else list(params or [])
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a "
                                f"{type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: parameter {i} (shape {p.shape}) is "
                                 f"not a leaf (an op made it), so updating it would change "
                                 f"nothing; pass the tensors the model stores")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: parameter {i} (shape {p.shape}) "
                                 f"appears in more than one place; it would be updated twice")
            seen.add(id(p))
        for name, value in self.defaults.items():
            group.setdefault(name, value)
        group["params"] = params
        self.param_groups.append(group)
        ### END SOLUTION

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter before the next backward().

        TODO: ``p.grad = None``, or with ``set_to_none=False`` zeros written into the existing
            gradient in place — exactly what ``Module.zero_grad`` does (and PyTorch).
        HINTS: ``p.grad.data[...] = 0``; a gradient that is None stays None.
        """
        ### BEGIN SOLUTION
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data[...] = 0
        ### END SOLUTION

    def step(self, closure: Callable | None = None):
        """Update every parameter from its gradient (each optimizer defines this)."""
        raise NotImplementedError(f"{type(self).__name__} must define step()")

    def _evaluate(self, closure: Callable | None):
        """Run ``closure`` (which recomputes the loss and calls backward) with grad mode on."""
        if closure is None:
            return None
        from tinytorch.core.autograd import enable_grad

        with enable_grad():
            return closure()

    def _buffer(self, p: Tensor, key: str = "scratch") -> np.ndarray:
        """A preallocated array shaped like ``p``, reused every step.

        Scratch arrays are not optimizer state (nothing carries over from one step to the
        next), so they live apart from ``self.state``, and ``state_dict`` never sees them.
        """
        scratch = self.__dict__.get("_scratch")
        if scratch is None:
            scratch = self._scratch = {}
        buf = scratch.get((p, key))
        if buf is None or buf.shape != p.data.shape or buf.dtype != p.data.dtype:
            buf = scratch[p, key] = np.empty_like(p.data)
        return buf

    # ---- saving and restoring (given) ------------------------------------------------------
    def state_dict(self) -> dict:
        """The optimizer's state and hyperparameters, with parameters named by position.

        Parameters are numbered in the order the groups list them, as PyTorch does, so the
        dict can be loaded into a fresh optimizer built over a fresh copy of the model.
        Arrays are copied.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: (v.copy() if isinstance(v, np.ndarray) else v)
                        for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict()`` returned (the groups must have the same sizes)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: the saved state has {len(saved_groups)} "
                             f"parameter groups, this optimizer has {len(self.param_groups)}")
        by_index = {}
        for mine, saved in zip(self.param_groups, saved_groups):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(f"load_state_dict: a saved group has {len(saved['params'])} "
                                 f"parameters, the matching group here has "
                                 f"{len(mine['params'])}")
            by_index.update(zip(saved["params"], mine["params"]))
        new_state: dict = {}
        for i, entries in state_dict["state"].items():
            p = by_index[i]
            restored = {}
            for key, value in entries.items():
                if isinstance(value, np.ndarray):
                    if value.shape != p.shape:
                        raise ValueError(f"load_state_dict: state '{key}' of parameter {i} "
                                         f"has shape {value.shape}, the parameter {p.shape}")
                    value = np.array(value, dtype=p.data.dtype)
                restored[key] = value
            new_state[p] = restored
        self.state = new_state
        for mine, saved in zip(self.param_groups, saved_groups):
            mine.update({k: v for k, v in saved.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines + [")"])


# %% [markdown]
# The base class cannot step, but we can test the bookkeeping with a tiny subclass.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_optimizer_base", "locked": true, "points": 10, "solution": false}
class _Plain(Optimizer):
    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr, "momentum": 0.0})


w = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
b = Tensor(np.zeros(3, np.float32), requires_grad=True)
opt = _Plain([w, b], lr=0.5)
assert len(opt.param_groups) == 1, "a list of tensors is one group"
group_params = opt.param_groups[0]["params"]
assert len(group_params) == 2 and group_params[0] is w and group_params[1] is b, "[w, b]"
assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["momentum"] == 0.0, \
    "hyperparameters come from the arguments and the defaults"
assert opt.state == {}, "state starts empty"
two = _Plain([{"params": [w]}, {"params": b, "lr": 0.01}])
assert [g["lr"] for g in two.param_groups] == [0.1, 0.01], "a group may override lr"
assert two.param_groups[1]["params"][0] is b, "a single tensor in a group becomes a list"
gen = _Plain(p for p in [w, b])
assert len(gen.param_groups[0]["params"]) == 2, "a generator (model.parameters()) works"
for bad in ([], [Tensor([1.0], requires_grad=True) * 2], [w, w]):
    try:
        _Plain(bad)
        raise AssertionError(f"{bad!r} must be refused with ValueError")
    except ValueError:
        pass
w.grad = Tensor(np.ones((2, 3), np.float32))
shared = w.grad.data
opt.zero_grad()
assert w.grad is None, "zero_grad() sets grads to None"
w.grad = Tensor(shared)
opt.zero_grad(set_to_none=False)
assert w.grad.data is shared and np.all(shared == 0), "zeros written in place, as Module does"
### BEGIN HIDDEN TESTS
assert b.grad is None
opt.zero_grad(set_to_none=False)
assert b.grad is None
### END HIDDEN TESTS

# %% [markdown]
# ## 3. SGD, and updating in place
#
# PyTorch documents SGD as follows; we implement exactly this, so that the same model with the
# same seed gives the same numbers in both libraries.
#
# ```
#   for each parameter p with gradient g:
#       g ← g + weight_decay · p                       (if weight_decay ≠ 0: L2 penalty)
#       if momentum ≠ 0:
#           b ← g                              on the first step
#           b ← momentum · b + (1 − dampening) · g      afterwards
#           g ← g + momentum · b   if nesterov, else   g ← b
#       p ← p − lr · g
# ```
#
# Two rules for *how* we compute it:
#
# 1. **Never write into `p.grad.data`.** It is the gradient the user sees (and may still want
#    to read or clip). `g + weight_decay · p` goes into a buffer of our own.
# 2. **Update in place, without temporaries.** `p.data = p.data - lr * g` allocates two new
#    arrays the size of the parameter on every step, and replaces `p.data` with a new object.
#    Instead we compute into a *scratch* array, kept by the optimizer apart from its state
#    (nothing in it carries over between steps) and allocated once, with numpy's `out=`
#    argument:
#
# ```python
#   s = self._buffer(p)                      # allocated on the first step, reused afterwards
#   np.multiply(g, -lr, out=s)               # s = -lr * g, written into s: no new array
#   p.data += s                              # in place: p.data stays the same array
# ```
#
# Section 7 measures what this buys. Momentum's buffer `b` is updated in place the same way
# (`b *= momentum; b += g`). The momentum buffer is created on the first step as a *copy* of `g`
# — never `g` itself, or the next `b *= momentum` would scribble on the gradient.
#
# Momentum needs `momentum > 0` for Nesterov, and PyTorch refuses Nesterov with dampening;
# we do the same (those checks are given).

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "sgd", "solution": true, "locked": false}
#| export
class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and L2 decay."""

    def __init__(self, params: Iterable, lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        if lr < 0:
            raise ValueError(f"SGD: invalid learning rate {lr}; it must be >= 0")
        if momentum < 0:
            raise ValueError(f"SGD: invalid momentum {momentum}; it must be >= 0")
        if weight_decay < 0:
            raise ValueError(f"SGD: invalid weight_decay {weight_decay}; it must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def step(self, closure: Callable | None = None):
        """One SGD update of every parameter that has a gradient.

        TODO: implement the algorithm above for each ``p`` in each group, in place.
        APPROACH (per parameter, with ``grad = p.grad.data`` and ``s = self._buffer(p)``):
            1. ``d = grad``. With weight decay: ``np.multiply(p.data, wd, out=s)``,
               ``s += grad``, ``d = s``.
            2. With momentum: ``buf = state.get("momentum_buffer")``; on the first step store
               ``d.copy()``; afterwards ``buf *= momentum`` then add ``d`` (times
               ``1 - dampening`` when dampening is set — compute that into ``s`` first).
               Nesterov: ``p.data`` gets ``-lr * d`` and ``-lr * momentum * buf``, each
               through ``s``. Otherwise ``d = buf``.
            3. ``np.multiply(d, -lr, out=s)``; ``p.data += s``.
        EXAMPLE: w = 1.0, grad 2.0, lr 0.1 -> w becomes 0.8
        HINTS: ``state = self.state.setdefault(p, {})``; skip parameters whose ``grad`` is
            None; return ``loss`` (from ``self._evaluate(closure)``) at the end.
        """
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            wd, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                ### BEGIN SOLUTION
                grad = p.grad.data
                state = self.state.setdefault(p, {})
                s = self._buffer(p)
                d = grad
                if wd != 0:
                    np.multiply(p.data, wd, out=s)
                    s += grad
                    d = s
                if momentum != 0:
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = np.array(d, dtype=p.data.dtype)
                    else:
                        buf *= momentum
                        if dampening == 0:
                            buf += d
                        else:
                            np.multiply(d, 1 - dampening, out=s)
                            buf += s
                    if nesterov:
                        np.multiply(d, -lr, out=s)
                        p.data += s
                        np.multiply(buf, -lr * momentum, out=s)
                        p.data += s
                        continue
                    d = buf
                np.multiply(d, -lr, out=s)
                p.data += s
                ### END SOLUTION
        return loss


# %% [markdown]
# Test plain SGD and weight decay first, on numbers small enough to check by hand.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_sgd", "locked": true, "points": 10, "solution": false}
w = Tensor(np.array([1.0, -2.0], np.float32), requires_grad=True)
storage = w.data
w.grad = Tensor(np.array([2.0, 0.5], np.float32))
grad_before = w.grad.data.copy()
SGD([w], lr=0.1).step()
assert np.allclose(w.data, [0.8, -2.05]), f"p - lr*g = [0.8, -2.05], got {w.data}"
assert w.data is storage, "SGD must update p.data in place (the same array)"
assert np.array_equal(w.grad.data, grad_before), "SGD must not modify p.grad"
assert w.data.dtype == np.float32, "parameters stay float32"
v = Tensor(np.array([1.0, -2.0], np.float32), requires_grad=True)
v.grad = Tensor(np.array([2.0, 0.5], np.float32))
SGD([v], lr=0.1, weight_decay=0.5).step()       # g + 0.5 * p = [2.5, -0.5]
assert np.allclose(v.data, [0.75, -1.95]), f"with weight decay expected [0.75, -1.95], got {v.data}"
assert np.allclose(v.grad.data, [2.0, 0.5]), "weight decay must not be written into p.grad"
skip = Tensor(np.array([3.0], np.float32), requires_grad=True)
SGD([skip], lr=1.0).step()
assert skip.data[0] == 3.0, "a parameter without a gradient is left alone"
### BEGIN HIDDEN TESTS
u = Tensor(np.array([1.0], np.float32), requires_grad=True)
opt = SGD([u], lr=0.5)
for _ in range(3):
    u.grad = Tensor(np.array([1.0], np.float32))
    opt.step()
assert np.allclose(u.data, [-0.5])
### END HIDDEN TESTS

# %% [markdown]
# ### Momentum, by hand
#
# With `momentum = 0.9`, a constant gradient `g = 1` and `lr = 0.1`, the buffer grows
# `1, 1.9, 2.71, ...` towards `g / (1 − 0.9) = 10`: in a direction where the gradient keeps its
# sign, momentum multiplies the effective learning rate by up to ten. Where the gradient flips
# sign every step, the buffer's terms cancel. That is the whole idea — accelerate along the
# valley, damp the zig-zag across it. Nesterov evaluates the step "one momentum step ahead",
# which corrects overshoot a little earlier.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_momentum", "locked": true, "points": 10, "solution": false}
def run_sgd(steps, grads, **kw):
    p = Tensor(np.array([0.0], np.float32), requires_grad=True)
    opt = SGD([p], **kw)
    for g in grads[:steps]:
        p.grad = Tensor(np.array([g], np.float32))
        opt.step()
    return p, opt


p, opt = run_sgd(3, [1.0, 1.0, 1.0], lr=0.1, momentum=0.9)
assert np.allclose(p.data, [-(0.1 + 0.19 + 0.271)]), f"buffers 1, 1.9, 2.71: got {p.data}"
assert np.allclose(opt.state[p]["momentum_buffer"], [2.71]), "momentum_buffer holds b"
p, _ = run_sgd(2, [1.0, 1.0], lr=0.1, momentum=0.9, dampening=0.5)
assert np.allclose(p.data, [-(0.1 + 0.1 * 1.4)]), f"dampening: b = 0.9*1 + 0.5*1, got {p.data}"
p, _ = run_sgd(2, [1.0, 1.0], lr=0.1, momentum=0.9, nesterov=True)
assert np.allclose(p.data, [-(0.1 * 1.9 + 0.1 * 2.71)]), f"nesterov: g + 0.9 b, got {p.data}"
p, opt = run_sgd(2, [1.0, -1.0], lr=0.1, momentum=0.9)
assert np.allclose(p.data, [-(0.1 + 0.1 * -0.1)]), f"a sign flip cancels: got {p.data}"
g = Tensor(np.array([1.0], np.float32))
q = Tensor(np.array([0.0], np.float32), requires_grad=True)
q.grad = g
opt = SGD([q], lr=0.1, momentum=0.9)
opt.step()
opt.step()
assert g.data[0] == 1.0, "the momentum buffer must be a copy, not the gradient array itself"
### BEGIN HIDDEN TESTS
p, _ = run_sgd(2, [1.0, 1.0], lr=0.1, momentum=0.5, weight_decay=1.0)
# step 1: d = 1 + 0 = 1, b = 1, p = -0.1; step 2: d = 1 - 0.1 = 0.9, b = 0.5 + 0.9 = 1.4
assert np.allclose(p.data, [-0.1 - 0.14])
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Adam
#
# SGD uses one learning rate for every parameter. But gradients differ wildly in scale: the
# weights of a rarely active feature see small, rare gradients; a bias sees large ones on every
# batch. **Adam** (adaptive moment estimation) gives each parameter its own step size, from
# running averages of its gradient (`m`, the first moment) and of its squared gradient (`v`, the
# second moment):
#
# ```
#   t ← t + 1
#   g ← g + weight_decay · p                         (Adam: L2 penalty, like SGD)
#   m ← β₁ · m + (1 − β₁) · g                        direction, smoothed
#   v ← β₂ · v + (1 − β₂) · g²                       typical size², per parameter
#   m̂ = m / (1 − β₁ᵗ)     v̂ = v / (1 − β₂ᵗ)          bias correction
#   p ← p − lr · m̂ / (√v̂ + ε)
# ```
#
# `m̂ / √v̂` is roughly "the gradient measured in units of its own typical size": about ±1 for a
# parameter whose gradient is consistent, smaller for one whose gradient is noise. So every
# parameter moves by *about* `lr` per step, whatever the scale of its gradient.
#
# **Bias correction.** `m` and `v` start at zero, so for the first steps they are biased
# towards zero: after one step `m = (1 − β₁)·g = 0.1·g` and `v = (1 − β₂)·g² = 0.001·g²`.
# Dividing by `1 − β₁ᵗ` and `1 − β₂ᵗ` (0.1 and 0.001 at `t = 1`) removes exactly that bias;
# as `t` grows both corrections fade to 1. The two biases do not cancel: `√v` starts too small
# by a factor `√0.001 ≈ 0.03`, `m` only by 0.1, so an uncorrected first step would be about
# three times too large. And `v`'s bias is the slower to fade, since `β₂ = 0.999` remembers the
# zero start for thousands of steps. The ratio of an uncorrected step to a corrected one is
# `(1 − β₁ᵗ) / √(1 − β₂ᵗ)`:

# %%
for t in (1, 10, 100, 1000, 10_000):
    ratio = (1 - 0.9 ** t) / (1 - 0.999 ** t) ** 0.5
    print(f"step {t:>6,}: without bias correction the step would be {ratio:.2f}x as large")

# %% [markdown]
# Without the correction, the early steps would be three to six and a half times larger than
# the learning rate asks for; after a few thousand steps the correction hardly matters.
#
# ### AdamW: decoupled weight decay
#
# With Adam, an L2 penalty folded into `g` gets divided by `√v̂` like the rest of the gradient:
# parameters with large gradients are barely decayed at all. **AdamW** decays the weights
# *directly*, before the Adam step and outside the adaptive scaling:
#
# ```
#   p ← p · (1 − lr · weight_decay)                   then the Adam step, with no L2 term in g
# ```
#
# `AdamW` is `Adam` with that switch (`decoupled = True`) and a default decay of `1e-2`, so your
# `step` handles both.
#
# In place, with the scratch buffer `s` (and, for Adam's L2 term, a second buffer for `g`):
#
# ```python
#   m *= β₁;  np.multiply(g, 1 - β₁, out=s);  m += s
#   v *= β₂;  np.multiply(g, g, out=s);  s *= 1 - β₂;  v += s
#   np.sqrt(v, out=s);  s /= √(1 − β₂ᵗ);  s += ε          # the denominator
#   np.divide(m, s, out=s);  s *= -lr / (1 − β₁ᵗ);  p.data += s
# ```

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "adam", "solution": true, "locked": false}
#| export
class Adam(Optimizer):
    """Adam: per-parameter step sizes from running averages of the gradient and its square."""

    decoupled = False   # AdamW sets this: weight decay applied to p directly, not through g

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        name = type(self).__name__
        if lr < 0:
            raise ValueError(f"{name}: invalid learning rate {lr}; it must be >= 0")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"{name}: invalid betas {betas}; each must be in [0, 1)")
        if eps < 0:
            raise ValueError(f"{name}: invalid eps {eps}; it must be >= 0")
        if weight_decay < 0:
            raise ValueError(f"{name}: invalid weight_decay {weight_decay}; it must be >= 0")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    def step(self, closure: Callable | None = None):
        """One Adam (or AdamW) update of every parameter that has a gradient.

        TODO: implement the algorithm above, in place, for each parameter.
        APPROACH (per parameter, ``grad = p.grad.data``):
            1. ``state = self.state.setdefault(p, {})``; on the first step set
               ``state["step"] = 0`` and ``state["exp_avg"]``, ``state["exp_avg_sq"]`` to
               zeros like ``p.data``. Then ``state["step"] += 1``.
            2. Weight decay. AdamW (``self.decoupled``) shrinks the parameter itself, by the
               factor ``1 - lr · wd``, before the update. Adam instead uses ``grad + wd · p``
               as the gradient, built in the scratch buffer ``self._buffer(p, "decayed")``
               (never in ``p.grad``, which belongs to the caller).
            3. Update ``m`` and ``v`` in place, then the parameter (see the cell above), with
               ``s = self._buffer(p)``.
        EXAMPLE: first step, g = 0.5, lr = 0.1: m̂ = 0.5, v̂ = 0.25, p moves by -0.1
        HINTS: ``math.sqrt`` for the Python-number corrections; ``beta1 ** t`` works with the
            integer step count.
        """
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2) = group["lr"], group["betas"]
            eps, wd = group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                ### BEGIN SOLUTION
                grad = p.grad.data
                state = self.state.setdefault(p, {})
                if "step" not in state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                d = grad
                if wd != 0:
                    if self.decoupled:
                        p.data *= 1 - lr * wd
                    else:
                        d = self._buffer(p, "decayed")
                        np.multiply(p.data, wd, out=d)
                        d += grad
                s = self._buffer(p)
                m *= beta1
                np.multiply(d, 1 - beta1, out=s)
                m += s
                v *= beta2
                np.multiply(d, d, out=s)
                s *= 1 - beta2
                v += s
                np.sqrt(v, out=s)
                s /= math.sqrt(1 - beta2 ** t)
                s += eps
                np.divide(m, s, out=s)
                s *= -lr / (1 - beta1 ** t)
                p.data += s
                ### END SOLUTION
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p ← p·(1 − lr·wd)`` before each Adam step."""

    decoupled = True

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


# %% [markdown]
# The test compares your optimizer with a direct, unhurried numpy transcription of the formulas
# above (allocating freely — it is only a reference).

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_adam", "locked": true, "points": 15, "solution": false}
def reference_adam(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, wd=0.0, decoupled=False):
    p = p.astype(np.float64)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


rng = np.random.default_rng(0)
start = rng.standard_normal((3, 4)).astype(np.float32)
grads = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(5)]
w = Tensor(start.copy(), requires_grad=True)
storage = w.data
w.grad = Tensor(np.full((3, 4), 0.5, np.float32))
Adam([w], lr=0.1).step()
assert np.allclose(w.data, start - 0.1, atol=1e-6), "first Adam step moves every entry by lr"
w = Tensor(start.copy(), requires_grad=True)
opt = Adam([w], lr=0.01, betas=(0.8, 0.99))
for g in grads:
    w.grad = Tensor(g)
    opt.step()
expected = reference_adam(start, grads, lr=0.01, betas=(0.8, 0.99))
assert np.allclose(w.data, expected, atol=1e-6), "5 Adam steps differ from the formulas"
assert opt.state[w]["step"] == 5, "state['step'] counts the steps"
assert w.data.dtype == np.float32 and opt.state[w]["exp_avg"].dtype == np.float32, \
    "parameters and Adam's state stay float32 (np.zeros_like(p.data) keeps the dtype)"
w = Tensor(start.copy(), requires_grad=True)
opt = Adam([w], lr=0.01, weight_decay=0.1)
for g in grads:
    w.grad = Tensor(g)
    opt.step()
expected = reference_adam(start, grads, lr=0.01, wd=0.1)
assert np.allclose(w.data, expected, atol=1e-6), "Adam's weight decay is an L2 term in g"
assert np.array_equal(w.grad.data, grads[-1]), "Adam must not modify p.grad"
### BEGIN HIDDEN TESTS
w = Tensor(start.copy(), requires_grad=True)
same = w.data
opt = Adam([w], lr=0.05, eps=1e-3)
for g in grads:
    w.grad = Tensor(g)
    opt.step()
assert w.data is same
assert np.allclose(w.data, reference_adam(start, grads, lr=0.05, eps=1e-3), atol=1e-6)
### END HIDDEN TESTS

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_adamw", "locked": true, "points": 10, "solution": false}
w = Tensor(start.copy(), requires_grad=True)
opt = AdamW([w], lr=0.01)
assert opt.param_groups[0]["weight_decay"] == 1e-2, "AdamW's default weight decay is 1e-2"
for g in grads:
    w.grad = Tensor(g)
    opt.step()
expected = reference_adam(start, grads, lr=0.01, wd=1e-2, decoupled=True)
assert np.allclose(w.data, expected, atol=1e-6), "AdamW: decay p directly, then Adam"
l2 = reference_adam(start, grads, lr=0.01, wd=1e-2)
assert not np.allclose(expected, l2, atol=1e-6), "(sanity: the two decays differ)"
z = Tensor(np.array([2.0], np.float32), requires_grad=True)
z.grad = Tensor(np.array([0.0], np.float32))
AdamW([z], lr=0.1, weight_decay=0.5).step()
assert np.allclose(z.data, [2.0 * (1 - 0.05)]), f"zero gradient: only the decay acts, {z.data}"
### BEGIN HIDDEN TESTS
z = Tensor(np.array([2.0], np.float32), requires_grad=True)
z.grad = Tensor(np.array([0.0], np.float32))
Adam([z], lr=0.1, weight_decay=0.5).step()
assert np.allclose(z.data, [2.0 - 0.1], atol=1e-5)   # L2 Adam: g = 1.0 -> a full lr step
### END HIDDEN TESTS

# %% [markdown]
# ## 5. A picture: crossing a narrow valley
#
# Real loss surfaces have directions of very different curvature. A 2-D toy shows what that does:
#
# ```
#   f(x, y) = 0.01·x² + y²        steep across (y), nearly flat along (x); minimum at (0, 0)
# ```
#
# Plain SGD must keep `lr` below `1.0` or it diverges across the steep direction — and with such
# a rate it crawls along the flat one. Each optimizer below gets a learning rate that suits it,
# and 40 steps from `(-4, 1)`. The optimizers run on tinytorch Tensors: the loss is built with
# Tensor ops and `backward()` supplies the gradient, as in any training loop.

# %%
import matplotlib.pyplot as plt

CURVATURE = np.array([0.01, 1.0], np.float32)


def valley(p: Tensor) -> Tensor:
    return (p * p * Tensor(CURVATURE)).sum()


def trajectory(make_optimizer, steps: int = 40) -> np.ndarray:
    p = Tensor(np.array([-4.0, 1.0], np.float32), requires_grad=True)
    opt = make_optimizer([p])
    path = [p.data.copy()]
    for _ in range(steps):
        opt.zero_grad()
        valley(p).backward()
        opt.step()
        path.append(p.data.copy())
    return np.array(path)


runs = {
    "SGD, lr 0.9": trajectory(lambda ps: SGD(ps, lr=0.9)),
    "momentum 0.9, lr 0.3": trajectory(lambda ps: SGD(ps, lr=0.3, momentum=0.9)),
    "Adam, lr 0.3": trajectory(lambda ps: Adam(ps, lr=0.3)),
}
xs, ys = np.meshgrid(np.linspace(-4.5, 1.5, 200), np.linspace(-1.3, 1.3, 200))
fig, ax = plt.subplots(figsize=(8, 3.8))
ax.contour(xs, ys, CURVATURE[0] * xs ** 2 + CURVATURE[1] * ys ** 2, levels=20, cmap="Greys",
           linewidths=0.6)
for (label, path), color in zip(runs.items(), ["tab:red", "tab:blue", "tab:green"]):
    final = float((path[-1] ** 2 * CURVATURE).sum())
    ax.plot(path[:, 0], path[:, 1], "o-", ms=2.5, lw=1, color=color,
            label=f"{label}: loss {final:.1e} after 40 steps")
ax.plot([0], [0], "k*", ms=10)
ax.set_xlabel("x (flat direction)")
ax.set_ylabel("y (steep direction)")
ax.set_title("40 steps through a narrow valley")
ax.legend(loc="lower right", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Plain SGD zig-zags across the valley on its first steps, then creeps along its floor: each
# step in `x` is `lr · 0.02 · x`, under two percent of the remaining distance. Momentum's buffer
# accumulates those small, consistent `x` gradients into large steps; across the valley the
# gradient flips sign, the buffer's terms partly cancel, and the swings die down as it travels.
# Adam rescales each coordinate by its own gradient size, so `x` and `y` both move about `lr`
# per step from the start: it cuts diagonally into the valley, runs along it at a steady pace,
# overshoots the minimum (its `m` is a momentum too) and curls back.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_valley", "locked": true, "points": 10, "solution": false}
def final_loss(path):
    return float((path[-1].astype(np.float64) ** 2 * CURVATURE).sum())


sgd_loss = final_loss(trajectory(lambda ps: SGD(ps, lr=0.9)))
momentum_loss = final_loss(trajectory(lambda ps: SGD(ps, lr=0.3, momentum=0.9)))
adam_loss = final_loss(trajectory(lambda ps: Adam(ps, lr=0.3)))
assert sgd_loss < 0.17, \
    f"plain SGD should settle y and move x (from a loss of 1.16 at the start), got {sgd_loss}"
assert momentum_loss < sgd_loss / 10, f"momentum should beat SGD by 10x: {momentum_loss}"
assert adam_loss < sgd_loss / 3, f"Adam should beat SGD clearly: {adam_loss} vs {sgd_loss}"
### BEGIN HIDDEN TESTS
nesterov_loss = final_loss(trajectory(lambda ps: SGD(ps, lr=0.3, momentum=0.9, nesterov=True)))
assert nesterov_loss < sgd_loss / 10
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Saving and restoring an optimizer
#
# A long training run is saved in checkpoints, and resuming needs more than the weights: Adam's
# `m`, `v` and step count are part of where training *is*. Restarting Adam with fresh zeros would
# redo the bias-corrected warm-up and jolt the weights. `state_dict()` (given, in the base class)
# returns the state with parameters numbered by position — an object identity would mean nothing
# in a new process — plus the hyperparameters of every group; `load_state_dict()` maps the
# numbers back onto the parameters of a freshly built optimizer.
#
# ```
#   {"state": {0: {"step": 3, "exp_avg": array, "exp_avg_sq": array}, 1: {...}},
#    "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]}]}
# ```

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_state_dict", "locked": true, "points": 10, "solution": false}
def make(seed_data):
    p = Tensor(seed_data.copy(), requires_grad=True)
    return p, Adam([p], lr=0.05)


def train(p, opt, grads):
    for g in grads:
        p.grad = Tensor(g)
        opt.step()


straight, opt_a = make(start)
train(straight, opt_a, grads)                    # 5 steps in one go
first, opt_b = make(start)
train(first, opt_b, grads[:3])
saved = opt_b.state_dict()
assert set(saved) == {"state", "param_groups"} and saved["param_groups"][0]["params"] == [0], \
    f"state_dict() layout: {saved['param_groups']}"
assert saved["state"][0]["step"] == 3, "the saved state includes the step count"
resumed, opt_c = make(first.data)                # a new parameter and a new optimizer
opt_c.load_state_dict(saved)
train(resumed, opt_c, grads[3:])
assert np.allclose(resumed.data, straight.data, atol=1e-7), \
    "3 steps + save + load + 2 steps must equal 5 uninterrupted steps"
train(first, opt_b, grads[3:])
assert np.allclose(first.data, straight.data, atol=1e-7), \
    "saving must copy the state: continuing the original optimizer still works"
### BEGIN HIDDEN TESTS
sd = SGD([Tensor(np.zeros(2, np.float32), requires_grad=True)], lr=0.1, momentum=0.9)
sd.param_groups[0]["lr"] = 0.5
other = SGD([Tensor(np.zeros(2, np.float32), requires_grad=True)], lr=0.1, momentum=0.9)
other.load_state_dict(sd.state_dict())
assert other.param_groups[0]["lr"] == 0.5
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Systems: what does an optimizer cost?
#
# ### Memory per parameter
#
# The optimizer's state lives as long as training does, alongside the weights. For an
# MNIST-sized MLP (784 → 256 → 128 → 10, about 235,000 parameters), let's count the bytes each
# optimizer keeps after one step — its state proper, and the scratch buffers we added for speed.

# %%
import time
import tracemalloc


def mnist_mlp() -> Sequential:
    manual_seed(0)
    return Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))


def give_gradients(model) -> None:
    for i, p in enumerate(model.parameters()):
        p.grad = Tensor(np.random.default_rng(i).standard_normal(p.shape).astype(np.float32))


def state_bytes(opt) -> tuple[int, int]:
    kept = scratch = 0
    for entries in opt.state.values():
        for key, value in entries.items():
            if isinstance(value, np.ndarray):
                if key.startswith("_"):
                    scratch += value.nbytes
                else:
                    kept += value.nbytes
    return kept, scratch


model = mnist_mlp()
param_bytes = sum(p.data.nbytes for p in model.parameters())
print(f"parameters: {sum(p.size for p in model.parameters()):,} "
      f"({param_bytes / 2**20:.2f} MiB)")
makers = {
    "SGD": lambda ps: SGD(ps, lr=0.01),
    "SGD + momentum": lambda ps: SGD(ps, lr=0.01, momentum=0.9),
    "Adam": lambda ps: Adam(ps, lr=1e-3),
}
for name, make_opt in makers.items():
    model = mnist_mlp()
    opt = make_opt(model.parameters())
    give_gradients(model)
    opt.step()
    kept, scratch = state_bytes(opt)
    print(f"{name:>15}: state {kept / param_bytes:.0f}x the parameters, "
          f"scratch {scratch / param_bytes:.0f}x")

# %% [markdown]
# ### Update cost, and why in place
#
# Now the time of one `step()`, and the memory it allocates while running. To see what the
# in-place style buys, here is Adam written the straightforward way, where every arithmetic
# expression makes a new array:

# %%
def naive_adam_step(params, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    for p in params:
        s = state.setdefault(id(p), {"t": 0, "m": np.zeros_like(p.data),
                                     "v": np.zeros_like(p.data)})
        s["t"] += 1
        g = p.grad.data
        s["m"] = betas[0] * s["m"] + (1 - betas[0]) * g
        s["v"] = betas[1] * s["v"] + (1 - betas[1]) * g * g
        m_hat = s["m"] / (1 - betas[0] ** s["t"])
        v_hat = s["v"] / (1 - betas[1] ** s["t"])
        p.data = p.data - lr * m_hat / (np.sqrt(v_hat) + eps)


def measure(step, reps: int = 15) -> tuple[float, int]:
    step()                                   # first step: state and scratch get allocated
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return float(np.median(times)), peak


results = {}
for name, make_opt in makers.items():
    model = mnist_mlp()
    opt = make_opt(model.parameters())
    give_gradients(model)
    results[name] = measure(opt.step)
model = mnist_mlp()
give_gradients(model)
params, naive_state = list(model.parameters()), {}
results["Adam, naive"] = measure(lambda: naive_adam_step(params, naive_state))
for name, (seconds, peak) in results.items():
    print(f"{name:>15}: {seconds * 1e3:6.2f} ms per step, "
          f"allocates {peak / param_bytes:4.1f}x the parameters' size while stepping")

# %% [markdown]
# **What the numbers say.**
#
# - **Memory.** Plain SGD keeps nothing; momentum keeps one buffer the size of the parameters,
#   Adam two (`m` and `v`). With the weights and their gradients, training a model with Adam
#   needs about four times the memory of the weights — before counting activations (module 05).
#   For a billion-parameter model that is the difference between fitting on one accelerator
#   and needing several, which is why large models use optimizers that store less (or store it
#   in lower precision). Our scratch buffer adds one more copy; a framework can share a single
#   scratch buffer across all parameters, since only one parameter is updated at a time.
# - **Time.** All three are a handful of passes over the parameters — cheap next to the
#   forward and backward passes, which do matrix products. Adam does about ten elementwise
#   passes per step, SGD one or two.
# - **In place.** The naive Adam allocates several temporaries per parameter per step (each
#   `*`, `+`, `/` and `sqrt` makes one) and is measurably slower: allocating and first-touching
#   fresh memory is work, and a new array for `p.data` also breaks anything that held the old
#   one. The in-place version allocates essentially nothing after its first step.

# %% [markdown]
# ## 8. Module test: training a network
#
# Everything together: a small MLP learns to separate two interleaved spirals, a classic
# problem no linear model can solve, with `Linear`, `ReLU`, `CrossEntropyLoss`, `backward()`
# and your `Adam`.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_module_optimizers", "locked": true, "points": 15, "solution": false}
def spirals(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0.05, 1.0, n)) * 3 * np.pi
    labels = rng.integers(0, 2, n)
    angle = t + np.pi * labels
    points = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) / (3 * np.pi)
    points += rng.normal(0, 0.02, points.shape)
    return points.astype(np.float32), labels.astype(np.int64)


X_train, y_train = spirals(400)
manual_seed(0)
net = Sequential(Linear(2, 32), ReLU(), Linear(32, 32), ReLU(), Linear(32, 2))
optimizer = Adam(net.parameters(), lr=0.02)
loss_fn = CrossEntropyLoss()
losses = []
for step in range(300):
    optimizer.zero_grad()
    loss = loss_fn(net(Tensor(X_train)), y_train)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
accuracy = float((net(Tensor(X_train)).data.argmax(axis=1) == y_train).mean())
print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}, training accuracy {accuracy:.1%}")
assert losses[-1] < 0.5 * losses[0], "Adam should at least halve the loss"
assert accuracy > 0.9, f"the spirals should be separated (>90% accuracy), got {accuracy:.1%}"
print("Module 06 complete: your network trains.")

# %% [markdown]
# ## Summary
#
# You wrote the optimizers that train nearly every network in use:
#
# - **`Optimizer`**: parameter groups with their own hyperparameters, per-parameter `state`,
#   `zero_grad` that never writes into a shared gradient, and a `state_dict` that makes
#   training resumable.
# - **`SGD`** with weight decay, momentum, dampening and Nesterov — PyTorch's documented
#   algorithm, step for step.
# - **`Adam`** and **`AdamW`**: per-parameter step sizes, bias correction, and weight decay
#   either folded into the gradient or applied to the weights directly.
#
# You saw why momentum and Adam cross narrow valleys that stall plain SGD, measured that Adam
# keeps two extra copies of every parameter, and that updating in place avoids a stream of
# temporary arrays.
#
# **Next:** module 07 feeds real data — datasets, shuffled mini-batches, and the MNIST files —
# so the training loop above can read handwritten digits. Run `tito module complete 06` to add
# your optimizers to the package.
