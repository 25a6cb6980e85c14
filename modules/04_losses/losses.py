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
# # Module 04 — Losses: measuring how wrong a model is
#
# A network can already turn pixels into ten scores. Whether those scores are any good is a
# question only a **loss function** answers: it compares predictions with the right answers and
# returns one number — large when the model is wrong, small when it is right. Training is nothing
# more than nudging every weight so that this one number goes down. Choose the loss badly, or
# compute it carelessly, and no optimizer can save the run.
#
# ## Learning objectives
#
# - Explain what a loss is for, and what the `reduction` modes `mean`, `sum` and `none` do.
# - Implement mean squared error for regression, from the Tensor ops of module 01.
# - Implement `log_softmax` with the log-sum-exp trick, and show why `log(softmax(z))` breaks.
# - Implement cross-entropy for class labels as one fused, numerically stable operation.
# - Implement binary cross-entropy on probabilities, see why it must clamp, and build the stable
#   version that takes logits instead.
# - Measure what goes wrong with naive formulas on extreme logits, and what a loss over a large
#   vocabulary costs in memory and time.
#
# ## Where this module fits
#
# ```
#  01 Tensor ──► 02 Activations ──► 03 Layers ──► 04 Losses ──► 05 Autograd ──► 06 Optimizers
#                                                    │               ▲
#                                                    └─ each loss records what its gradient
#                                                       needs; module 05 computes it
# ```
#
# As in modules 01–03 you write forward math only. Two losses here are single fused operations
# with their own names (`"cross_entropy"`, `"binary_cross_entropy"`) and, like `log_softmax`,
# they save exactly the values module 05's backward rules will read.

# %% [markdown]
# **How to work in this notebook.** Fill in each `TODO` where it stands and run the cell; the
# graded cell after it checks your work. `tito module test 04` tests this notebook *as
# saved on disk*, so save it first (Ctrl+S): edits that are only in the browser are not tested.
# `tito module test 04 -k NAME --verbose` runs the tests whose names contain NAME and
# prints each failure in full.

# %%
#| default_exp core.losses

# %%
#| export
from __future__ import annotations

import numpy as np

from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor, as_tensor, record_op

# %% [markdown]
# ## 1. What a loss is
#
# ```
#   inputs ───► model ───► predictions ──┐
#                                        ├──► loss function ───► one number: how wrong
#   targets (the right answers) ─────────┘            │
#                                                     ▼
#                     module 05: how does that number change with every weight?
#                     module 06: move each weight a little in the direction that lowers it
# ```
#
# A loss first scores **each example** on its own, then usually combines the scores. PyTorch
# calls the combining step `reduction`, and so do we:
#
# ```
#   per-example losses         [0.2, 1.5, 0.1, 0.6]
#   reduction="none"   ──►     [0.2, 1.5, 0.1, 0.6]   shape (4,)  find the hardest examples
#   reduction="sum"    ──►     2.4                    shape ()
#   reduction="mean"   ──►     0.6                    shape ()    the default
# ```
#
# The mean is the default because it does not grow with the batch size: doubling the batch
# doubles a summed loss — and its gradient — and you would have to halve the learning rate to
# compensate.
#
# **An empty batch is an error here.** The mean of no losses is 0 / 0. PyTorch returns `nan`
# for it, and a single `nan` loss turns every weight into `nan` at the next update — silently.
# Our losses raise a `ValueError` that says the batch is empty instead, whatever the reduction:
# an empty batch in a training loop is always a bug upstream, and it is better found at once.
#
# The helpers below are given. They check arguments and produce the error messages, so that
# your code in the rest of the module is only the mathematics. Read them once: every loss uses
# them.

# %%
#| export
_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, op: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def _check_smoothing(label_smoothing, op: str) -> float:
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}; 0.1 is a common choice, 0 turns it off")
    return eps


def _reduce(losses, reduction: str):
    """Combine per-example losses (a numpy array or a Tensor) as ``reduction`` asks."""
    if reduction == "mean":
        if isinstance(losses, np.ndarray):
            return losses.sum() / losses.size     # np.mean's own bookkeeping costs more
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _check_floating(x: Tensor, op: str, what: str) -> None:
    if x.data.dtype.kind != "f":            # "f": a floating-point dtype
        raise TypeError(f"{op}: {what} must be floating point, got dtype {x.dtype}; "
                        f"convert with .float()")


def _empty_batch(op: str, shape: tuple) -> ValueError:
    return ValueError(f"{op}: the batch is empty (shape {shape}); a loss needs at least one "
                      f"example (check the data loader or the slice that produced the batch)")


def _float_target(target, like: Tensor, op: str) -> Tensor:
    """Targets for MSE and BCE: a Tensor with the same shape and dtype as the predictions.

    Shapes must match exactly. Broadcasting (32, 1) predictions against (32,) targets would
    silently compare every prediction with every target and give a (32, 32) loss.
    """
    if isinstance(target, Tensor) and target.dtype == like.dtype:
        t = target
    else:
        data = target.data if isinstance(target, Tensor) else target
        t = Tensor(np.asarray(data, dtype=like.dtype))
    if t.shape != like.shape:
        raise ValueError(f"{op}: predictions of shape {like.shape} and targets of shape "
                         f"{t.shape} differ; reshape one so the shapes match exactly "
                         f"(broadcasting would compare every prediction with every target)")
    if like.size == 0:
        raise _empty_batch(op, like.shape)
    return t


def _class_targets(logits: Tensor, target, op: str, what: str = "logits") -> np.ndarray:
    """Check integer class labels against ``what`` (logits, or log-probabilities) of shape
    (N, C) or (C,); return the labels as int64."""
    _check_floating(logits, op, what)
    if logits.ndim not in (1, 2):
        raise ValueError(f"{op}: {what} must have shape (N, C) or (C,), got {logits.shape}")
    classes = logits.shape[-1]
    if classes == 0:
        raise ValueError(f"{op}: {what} of shape {logits.shape} have no classes")
    labels = target.data if isinstance(target, Tensor) else np.asarray(target)
    if labels.dtype.kind not in "iu":      # signed or unsigned integers
        raise ValueError(f"{op}: target must hold integer class labels in [0, {classes - 1}], "
                         f"got dtype {labels.dtype}; convert them with .long() (Python ints "
                         f"make int64 already: Tensor([0, 2, 1]))")
    expected = logits.shape[:1] if logits.ndim == 2 else ()
    if labels.shape != expected:
        raise ValueError(f"{op}: {what} of shape {logits.shape} need a target of shape "
                         f"{expected} (one label per row), got {labels.shape}")
    if logits.shape[0] == 0:
        raise _empty_batch(op, logits.shape)
    # Seen as unsigned, a negative label wraps round to a huge number: one max() checks both
    # ends of the range.
    if labels.view(labels.dtype.str.replace("i", "u")).max() >= classes:
        outside = (labels < 0) | (labels >= classes)
        raise ValueError(f"{op}: class labels must be in [0, {classes - 1}] for {classes} "
                         f"classes, got {labels[outside].flat[0]}")
    return labels.astype(np.int64, copy=False)


# %% [markdown]
# ## 2. Mean squared error
#
# For regression — predicting a number such as a price or a temperature — the natural question
# is *how far off* each prediction is. Mean squared error squares the distance and averages:
#
# $$\text{MSE} = \frac{1}{n}\sum_i (\hat y_i - y_i)^2$$
#
# ```
#   loss                          target y = 3
#    9 ┤•                       •
#      │                             an error of 1 costs 1,
#    4 ┤    •               •        an error of 3 costs 9:
#      │                             large mistakes dominate the mean,
#    1 ┤        •       •            and the curve is smooth at its
#    0 ┼────────────•─────────────►  minimum, where it is exactly 0
#       0   1   2   3   4   5   6   prediction ŷ
# ```
#
# Squaring makes every term non-negative (so errors cannot cancel), and the loss is zero only
# when every prediction equals its target. MSE needs **no new operation**: subtraction,
# multiplication and the mean from module 01 already record everything autograd will need.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "mse_loss", "solution": true, "locked": false}
#| export
def mse_loss(pred, target, reduction: str = "mean") -> Tensor:
    """Squared error between predictions and targets, reduced as ``reduction`` asks.

    TODO: compute the elementwise squared difference with Tensor ops and reduce it.
    APPROACH:
        1. ``diff = pred - target`` (both are Tensors of the same shape; the given lines
           above the solution check that)
        2. square it with ``diff * diff``
        3. ``return _reduce(squared, reduction)``
    EXAMPLE:
        >>> mse_loss(Tensor([1.0, 2.0]), Tensor([1.0, 4.0])).item()
        2.0
        >>> mse_loss(Tensor([1.0, 2.0]), Tensor([1.0, 4.0]), reduction="none").data.tolist()
        [0.0, 4.0]
    HINTS:
        - Use Tensor operators, not numpy: they record the graph module 05 will walk.
        - ``_reduce`` works on Tensors as well as on numpy arrays.
    """
    pred = as_tensor(pred)
    _check_reduction(reduction, "mse_loss")
    _check_floating(pred, "mse_loss", "predictions")
    target = _float_target(target, pred, "mse_loss")
    ### BEGIN SOLUTION
    diff = pred - target
    return _reduce(diff * diff, reduction)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_mse_loss", "locked": true, "points": 10, "solution": false}
pred = Tensor([[1.0, 2.0], [3.0, 4.0]])
goal = Tensor([[1.0, 0.0], [3.0, 7.0]])
loss = mse_loss(pred, goal)
assert loss.shape == (), f"the mean reduction gives a scalar, got shape {loss.shape}"
assert abs(loss.item() - 13.0 / 4) < 1e-6, f"(0 + 4 + 0 + 9) / 4 = 3.25, got {loss.item()}"
assert abs(mse_loss(pred, goal, reduction="sum").item() - 13.0) < 1e-6, "sum should be 13"
per = mse_loss(pred, goal, reduction="none")
assert per.shape == (2, 2) and per.data.tolist() == [[0.0, 4.0], [0.0, 9.0]], \
    f"'none' keeps one squared error per element, got {per.data.tolist()}"
assert mse_loss(pred, pred).item() == 0.0, "a perfect prediction costs exactly 0"
assert loss.dtype == np.float32, f"float32 in, float32 out; got {loss.dtype}"
assert mse_loss(pred, np.zeros((2, 2))).dtype == np.float32, \
    "a float64 numpy target must not turn a float32 loss into float64"
w = Tensor([2.0], requires_grad=True)
assert mse_loss(w, Tensor([1.0]))._node is not None, "the loss must record the graph"
try:
    mse_loss(Tensor(np.zeros((4, 1), np.float32)), Tensor(np.zeros(4, np.float32)))
    raise AssertionError("shapes (4, 1) and (4,) must raise ValueError, not broadcast")
except ValueError:
    pass
### BEGIN HIDDEN TESTS
assert abs(mse_loss(Tensor([0.5]), [1.5]).item() - 1.0) < 1e-6
assert mse_loss(w, Tensor([1.0]))._node.op == "mean"
### END HIDDEN TESTS

# %% [markdown]
# ## 3. log-softmax and the log-sum-exp trick
#
# A classifier outputs one raw score per class, a **logit**. Softmax turns a row of logits into
# probabilities, and classification losses need their logarithm:
#
# $$\log \text{softmax}(z)_i = z_i - \log \sum_j e^{z_j}$$
#
# Computing it as `log(softmax(z))` — exponentiate, divide, take the log — works in a textbook
# and fails on a computer. float32 can hold numbers up to about $3.4 \times 10^{38}$, so
# `exp(z)` overflows to `inf` as soon as $z > 88.7$. Logits of a few hundred are not unusual in
# a network that has become confident, or in one that is diverging.
#
# ```
#   logits z                  [1000.0,  999.0,  998.0]
#
#   naive:  exp(z)            [   inf,    inf,    inf]    overflow above z ≈ 88.7
#           exp(z) / sum      [   nan,    nan,    nan]    inf / inf
#
#   trick:  m = max(z)        1000.0
#           z - m             [   0.0,   -1.0,   -2.0]    the largest term is now e^0 = 1
#           exp(z - m)        [ 1.000,  0.368,  0.135]    nothing overflows, the sum is ≥ 1
#           log Σ exp(z - m)  0.408                      so its log is finite and ≥ 0
#           (z - m) - 0.408   [-0.408, -1.408, -2.408]    exact, no nan, no -inf
# ```
#
# The trick rests on one identity: for any constant $m$,
# $\log \sum_j e^{z_j} = m + \log \sum_j e^{z_j - m}$. Choosing $m = \max_j z_j$ makes every
# exponent $\le 0$, so nothing overflows; one exponent is exactly $0$, so the sum is at least 1
# and its log can never be $\log 0 = -\infty$. It also explains a property worth remembering:
# adding the same constant to every logit of a row changes nothing.
#
# `log_softmax` is its own operation, `"log_softmax"`. Save `dim` and the output `out`: its
# backward rule needs only $\text{softmax} = e^{\text{out}}$.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "log_softmax", "solution": true, "locked": false}
#| export
def log_softmax(x, dim: int = -1) -> Tensor:
    """Logarithm of softmax along ``dim``, computed stably (op name "log_softmax").

    TODO: compute ``z - logsumexp(z)`` along ``dim`` with the max-shift trick and record the op.
    APPROACH: the max shift of module 02's softmax, then *subtract the log* of the summed
        exponentials instead of dividing by the sum: with ``s = z - max(z)``,
        ``log_softmax(z) = s - log(sum(exp(s)))``. Both reductions run along ``dim`` and keep
        the reduced axis with size 1. Record the op with ``dim`` and ``out`` saved (the
        backward rule gets softmax back from ``out`` with one ``exp``).
    EXAMPLE:
        >>> log_softmax(Tensor([1000.0, 999.0, 998.0])).data.round(3).tolist()
        [-0.408, -1.408, -2.408]
    HINTS:
        - ``keepdims=True`` keeps the reduced axis with size 1, so it broadcasts against ``z``.
        - Never compute ``np.log(softmax)``: that is exactly what overflows.
        - numpy keeps float32 here by itself; do not mix in float64 arrays.
    """
    x = as_tensor(x)
    _check_floating(x, "log_softmax", "the input")
    if x.ndim == 0 or x.shape[dim] == 0:
        raise ValueError(f"log_softmax: dim {dim} of a tensor of shape {x.shape} has no "
                         f"entries to normalise over")
    ### BEGIN SOLUTION
    z = x.data
    shifted = z - z.max(axis=dim, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return record_op(out, "log_softmax", (x,), dim=dim, out=out)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_log_softmax", "locked": true, "points": 10, "solution": false}
z = Tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
ls = log_softmax(z)
ref = z.data - np.log(np.exp(z.data.astype(np.float64)).sum(axis=1, keepdims=True))
assert ls.shape == (2, 3), f"log_softmax keeps the shape, got {ls.shape}"
assert np.allclose(ls.data, ref, atol=1e-6), f"wrong values {ls.data}, expected {ref}"
assert np.allclose(np.exp(ls.data).sum(axis=1), 1.0, atol=1e-6), "each row must exp-sum to 1"
assert ls.dtype == np.float32, f"float32 in, float32 out; got {ls.dtype}"
big = log_softmax(Tensor([1000.0, 999.0, 998.0]))
assert np.all(np.isfinite(big.data)), f"logits near 1000 must not overflow: {big.data}"
assert np.allclose(big.data, [-0.40761, -1.40761, -2.40761], atol=1e-4), \
    f"the max-shift trick gives [-0.408, -1.408, -2.408], got {big.data}"
assert np.allclose(log_softmax(z + 50.0).data, ls.data, atol=1e-4), \
    "adding a constant to every logit must not change log_softmax"
col = log_softmax(z, dim=0)
assert np.allclose(np.exp(col.data).sum(axis=0), 1.0, atol=1e-6), "dim=0 normalises columns"
w = Tensor([[1.0, 2.0]], requires_grad=True)
node = log_softmax(w)._node
assert node is not None and node.op == "log_softmax", "record the op as 'log_softmax'"
assert node.saved["dim"] == -1 and np.allclose(node.saved["out"], log_softmax(w).data), \
    "save dim and out for the backward rule"
### BEGIN HIDDEN TESTS
far = log_softmax(Tensor([[1e4, -1e4]]))
assert np.all(np.isfinite(far.data)) and abs(float(far.data[0, 1]) + 2e4) < 1.0
assert log_softmax(Tensor(np.zeros((3, 4), np.float64))).dtype == np.float64
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Cross-entropy for class labels
#
# A classifier is good when it puts high probability on the right class. Cross-entropy scores
# one example by the negative log-probability of its label:
#
# $$\text{loss} = -\log p_y = -\log \text{softmax}(z)_y
#   = \log \sum_j e^{z_j} - z_y$$
#
# ```
#   logits (N = 2, C = 3)     label   log_softmax row              pick the label  -log p
#   [ 2.0   0.5  -1.0 ]         0     [-0.241  -1.741  -3.241]      -0.241  ──►   0.241
#   [ 0.1   0.2   3.0 ]         1     [-3.010  -2.910  -0.110]      -2.910  ──►   2.910
#                                                                     mean ──►   1.575
# ```
#
# The first row is right and confident (p = 0.79): small loss. The second row gives the true
# class only p = 0.05: large loss. A perfect prediction (p = 1) costs 0, and the loss grows
# without bound as p → 0, so confident mistakes are punished hardest. The loss is never
# negative, because a probability is never more than 1.
#
# **Why one fused operation.** We could compose `log_softmax`, indexing, a minus sign and a
# mean — four recorded ops. Doing it as one op, `"cross_entropy"`, pays twice:
#
# - *Stable:* we compute $\log \sum_j e^{z_j - m} - (z_y - m)$ straight from the logits, with
#   the same max shift as above. Nothing is ever exponentiated and then logged back.
# - *Fast:* the gradient of the whole chain collapses to one line,
#   $\partial\,\text{loss} / \partial z = \text{softmax}(z) - \text{onehot}(y)$
#   (divided by N for the mean). So the op saves only `probs` (the softmax, N × C), the integer
#   labels `target` and the `reduction` — and module 05's rule is a copy and a subtraction at N
#   positions, instead of a walk back through four ops and their saved intermediates. The
#   systems section measures the difference.
#
# The given lines at the top of the function check the labels (integers of any integer dtype,
# shape `(N,)`, values in `[0, C - 1]`), hand PyTorch's `label_smoothing` option to a given
# helper (next cell but one), and handle a single example, `(C,)` logits with a scalar label,
# by treating it as a batch of one. You write the batched case.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "cross_entropy", "solution": true, "locked": false}
#| export
def cross_entropy(logits, target, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits (N, C) and integer labels (N,) — op name "cross_entropy".

    ``label_smoothing`` ε in [0, 1] (given, as in PyTorch) trains towards ``1 - ε`` on the
    label and ``ε / C`` on every class; 0 is plain cross-entropy.

    TODO: compute ``logsumexp(z) - z[label]`` per row from the logits, reduce it, and record
          one "cross_entropy" op that saves ``probs``, ``target`` and ``reduction``.
    APPROACH: work on the (N, C) array ``z = logits.data``, one row per example:
        1. Shift each row by its maximum (a (N, 1) array), as in ``log_softmax``.
        2. Pick each row's shifted entry at its label: shape (N,). Take it *before* anything
           overwrites the shifted array.
        3. A row's loss is ``log(sum of exp(shifted row)) - picked``; each sum is ≥ 1.
        4. ``probs`` (N, C) is the softmax: the exponentials divided by their row sums, so
           every row sums to 1. Module 05's rule reads it, so it is saved.
        5. Reduce with ``_reduce(losses, reduction)`` and record ONE op "cross_entropy" on
           ``(logits,)`` that saves ``probs``, ``target=labels`` and ``reduction``.
    EXAMPLE:
        >>> z = Tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> round(cross_entropy(z, np.array([0, 1])).item(), 4)
        1.5755
    HINTS:
        - ``shifted[rows, labels]`` with ``rows = np.arange(N)`` picks one entry per row.
        - Do not call ``np.log`` on ``probs``: a probability that underflows to 0 gives -inf.
        - Faster: ``shifted`` is a fresh array nobody else holds, so steps 3 and 5 may reuse
          it — ``np.exp(shifted, out=shifted)`` and an in-place division. With 50,000
          classes that saves two large allocations per call (section 8 measures it).
    """
    logits = as_tensor(logits)
    _check_reduction(reduction, "cross_entropy")
    labels = _class_targets(logits, target, "cross_entropy")
    if label_smoothing != 0:
        return _label_smoothed_cross_entropy(logits, labels, reduction, label_smoothing)
    if logits.ndim == 1:
        # One example: a batch of one. The reshapes are recorded ops, so gradients still
        # reach the (C,) logits.
        loss = cross_entropy(logits.reshape(1, -1), labels.reshape(1), reduction)
        return loss.reshape(()) if reduction == "none" else loss
    ### BEGIN SOLUTION
    z = logits.data
    shifted = z - z.max(axis=1, keepdims=True)
    picked = shifted[np.arange(len(labels)), labels]    # a copy, taken before the overwrite
    probs = np.exp(shifted, out=shifted)                # reuse the buffer: no new N x C array
    total = probs.sum(axis=1)
    losses = np.log(total) - picked
    probs /= total[:, None]
    return record_op(_reduce(losses, reduction), "cross_entropy", (logits,),
                     probs=probs, target=labels, reduction=reduction)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_cross_entropy", "locked": true, "points": 15, "solution": false}
z = Tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
y = np.array([0, 1])
z64 = z.data.astype(np.float64)
expected = np.log(np.exp(z64).sum(axis=1)) - z64[[0, 1], y]
loss = cross_entropy(z, y)
assert loss.shape == (), f"the mean reduction gives a scalar, got shape {loss.shape}"
assert abs(loss.item() - expected.mean()) < 1e-5, f"expected {expected.mean()}, got {loss.item()}"
assert abs(cross_entropy(z, y, reduction="sum").item() - expected.sum()) < 1e-5, "sum is wrong"
per = cross_entropy(z, y, reduction="none")
assert per.shape == (2,) and np.allclose(per.data, expected, atol=1e-5), \
    f"'none' gives one loss per row: expected {expected}, got {per.data}"
assert loss.dtype == np.float32 and per.dtype == np.float32, "float32 in, float32 out"
extreme = cross_entropy(Tensor([[1000.0, 0.0, -1000.0]]), np.array([2]))
assert np.isfinite(extreme.item()) and abs(extreme.item() - 2000.0) < 1e-2, \
    f"logits of ±1000 must give the exact loss 2000, got {extreme.item()}"
w = Tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], requires_grad=True)
node = cross_entropy(w, np.array([2, 0]))._node
assert node is not None and node.op == "cross_entropy", "record ONE op named 'cross_entropy'"
assert node.inputs[0] is w, "the op's only input is the logits tensor"
probs = node.saved["probs"]
assert probs.shape == (2, 3) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-6), \
    "saved probs must be the softmax of the logits, shape (N, C)"
assert node.saved["target"].dtype == np.int64 and node.saved["target"].tolist() == [2, 0], \
    "save the labels as an int64 array"
assert node.saved["reduction"] == "mean", "save the reduction"
### BEGIN HIDDEN TESTS
assert abs(cross_entropy(Tensor([0.0, 0.0]), 1).item() - np.log(2.0)) < 1e-6
far = cross_entropy(Tensor([[1e4, -1e4], [-1e4, 1e4]]), np.array([1, 1]), reduction="none")
assert np.all(np.isfinite(far.data)) and abs(float(far.data[0]) - 2e4) < 1.0
### END HIDDEN TESTS

# %% [markdown]
# ### Label smoothing, given
#
# A network trained on one-hot targets can always lower its loss a little more by pushing the
# right logit further up: the loss reaches 0 only at p = 1, which needs an infinite logit.
# *Label smoothing* aims lower. With ε = 0.1 and C = 10 classes, the target of an example
# whose label is 3 becomes 0.91 on class 3 and 0.01 on each of the other nine: 0.9 stays on
# the label, and 0.1 is spread evenly over all ten classes. The loss against that target
# splits into two terms, both built from ops you have written:
#
# ```
#   loss = -Σ_c target_c · log p_c
#        = (1 - ε) · cross_entropy(z, y)   +   ε · mean over c of ( -log_softmax(z)_c )
#            the usual loss, scaled             pulls every log-probability up a little
# ```
#
# The second term is smallest when all classes are equally likely, so together the two stop
# pushing once the label's probability is high but short of 1. PyTorch offers it as
# `CrossEntropyLoss(label_smoothing=0.1)` and `F.cross_entropy(..., label_smoothing=0.1)`; here
# it is the `label_smoothing` argument of `cross_entropy`. The helper below is composed of
# recorded ops (your `cross_entropy` with reduction "none", your `log_softmax`, a mean and
# a weighted sum), so module 05 needs no new backward rule for it.

# %%
#| export
def _label_smoothed_cross_entropy(logits, target, reduction: str = "mean",
                                 label_smoothing: float = 0.1) -> Tensor:
    """Cross-entropy against targets smoothed towards uniform: ``1 - ε`` on the label, ``ε / C``
    on every class (PyTorch's ``label_smoothing``).

    Example:
        >>> z, y = Tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), np.array([0, 1])
        >>> round(_label_smoothed_cross_entropy(z, y, "mean", 0.1).item(), 4)
        1.6055
    """
    eps = _check_smoothing(label_smoothing, "cross_entropy")
    logits = as_tensor(logits)
    per_example = cross_entropy(logits, target, "none")
    spread = -log_softmax(logits, dim=-1).mean(dim=-1)
    return _reduce(per_example * (1.0 - eps) + spread * eps, reduction)


# %% [markdown]
# ### Labels that are not labels
#
# Most cross-entropy bugs are label bugs: labels that are floats (`Tensor([1, 0, 2])` builds
# float32 from a Python list), labels with an extra dimension (`(N, 1)` from slicing a column),
# labels counted from 1 instead of 0. Each of these gives a clear `ValueError` that says what was
# expected. Try the next cell with your own mistakes.

# %%
for bad_target in (Tensor([1, 0]), np.array([[1], [0]]), np.array([0, 3])):
    try:
        cross_entropy(Tensor(np.zeros((2, 3), np.float32)), bad_target)
    except ValueError as err:
        print("ValueError:", err)

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_cross_entropy_labels", "locked": true, "points": 10, "solution": false}
z = Tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
reference = cross_entropy(z, np.array([2, 0], dtype=np.int64)).item()
assert abs(reference - 0.4076059) < 1e-5, \
    f"each row's label holds its largest logit: log(1 + e^-1 + e^-2) = 0.4076, got {reference}"
for dtype in (np.int8, np.int32, np.uint8):
    value = cross_entropy(z, np.array([2, 0], dtype=dtype)).item()
    assert abs(value - reference) < 1e-6, f"labels of dtype {np.dtype(dtype)} must be accepted"
assert abs(cross_entropy(z, Tensor(np.array([2, 0]))).item() - reference) < 1e-6, \
    "integer labels wrapped in a Tensor must be accepted"
cases = {
    "float labels": (Tensor([2.0, 0.0]), "[0, 2]"),
    "label 3 with 3 classes": (np.array([3, 0]), "[0, 2]"),
    "negative label": (np.array([-1, 0]), "[0, 2]"),
    "labels of shape (2, 1)": (np.array([[2], [0]]), "(2,)"),
    "three labels for two rows": (np.array([2, 0, 1]), "(2,)"),
}
for what, (bad, must_name) in cases.items():
    try:
        cross_entropy(z, bad)
        raise AssertionError(f"{what}: cross_entropy must raise ValueError")
    except ValueError as err:
        assert must_name in str(err), f"{what}: the message should name {must_name}: {err}"
try:
    cross_entropy(Tensor(np.zeros((0, 3), np.float32)), np.zeros(0, np.int64))
    raise AssertionError("an empty batch must raise ValueError")
except ValueError as err:
    assert "empty" in str(err), f"say that the batch is empty: {err}"
### BEGIN HIDDEN TESTS
mixed = cross_entropy(z, np.array([1, 2], dtype=np.uint8), reduction="none").data
z64 = z.data.astype(np.float64)
exact = np.log(np.exp(z64).sum(axis=1)) - z64[[0, 1], [1, 2]]
assert np.allclose(mixed, exact, atol=1e-5), (mixed, exact)
try:
    cross_entropy(z, np.array([2, 0]), reduction="average")
    raise AssertionError("an unknown reduction must raise ValueError")
except ValueError:
    pass
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Binary cross-entropy on probabilities
#
# With two classes — spam or not, a pixel on or off, several independent yes/no tags — a
# network usually outputs one number per question, squashed by a sigmoid into a probability
# $p$. The target $t$ is 1 or 0 (or any value in between, a soft label):
#
# $$\text{loss} = -\big(t \log p + (1 - t)\log(1 - p)\big)$$
#
# ```
#   target t = 1:  loss = -log p          t = 0:  loss = -log(1 - p)
#
#   loss                                  p → 0 with t = 1, or p → 1 with t = 0:
#  100 ┤•·······  ceiling: log clamped       log 0 = -inf, the loss is inf, and inf
#      │ •        at -100                    times a zero gradient is nan
#    4 ┤   •
#    1 ┤      •                           so, as PyTorch does, each log is clamped at -100:
#    0 ┼──────────•──► p                     the worst loss is 100, never inf
#      0         1
# ```
#
# Clamping is a patch, not a cure. A probability of exactly 0 or 1 is common in float32: a
# sigmoid of a logit above about 17 *rounds to 1.0*. Then every such example costs the same
# ceiling, however wrong it is, and the sigmoid in front of it, flat at 1.0, passes no
# gradient back — the model cannot learn from its most confident mistakes. Section 6 fixes
# that properly.
#
# `binary_cross_entropy` is one fused op. It saves the probabilities `p`, the `target` array
# and `reduction`. Its backward rule is $(p - t) / (p(1 - p))$, with the denominator kept at
# least $10^{-12}$ (PyTorch's bound), so a 0 or a 1 gives a large but finite gradient.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "binary_cross_entropy", "solution": true, "locked": false}
#| export
def binary_cross_entropy(probs, target, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities in [0, 1] (op name "binary_cross_entropy").

    TODO: take both logs clamped at -100, compute the per-element loss, reduce it, record the op.
    APPROACH: per element, ``-(t · log p + (1 - t) · log(1 - p))`` on the numpy arrays of
        ``probs`` and ``target``. A probability of exactly 0 or 1 makes one log ``-inf``:
        clamp both logs from below at -100 (as PyTorch does), so the loss stays finite. Then
        reduce, and record one op "binary_cross_entropy" on ``(probs,)`` that saves ``p``
        (the probabilities' array), ``target`` (the targets' array) and ``reduction``.
    EXAMPLE:
        >>> round(binary_cross_entropy(Tensor([0.9, 0.2]), Tensor([1.0, 0.0])).item(), 4)
        0.1643
        >>> binary_cross_entropy(Tensor([0.0]), Tensor([1.0])).item()   # clamped, finite
        100.0
    HINTS:
        - numpy keeps float32 when the other operand is a Python number, so ``1 - p`` and
          ``np.maximum(..., -100)`` stay float32.
        - numpy warns about ``log(0)`` before your clamp runs; ``with
          np.errstate(divide="ignore"):`` around the two logs keeps the output quiet.
    """
    probs = as_tensor(probs)
    _check_reduction(reduction, "binary_cross_entropy")
    _check_floating(probs, "binary_cross_entropy", "probabilities")
    target = _float_target(target, probs, "binary_cross_entropy")
    if np.any(probs.data < 0) or np.any(probs.data > 1):
        raise ValueError(f"binary_cross_entropy: probabilities must lie in [0, 1], got values "
                         f"from {probs.data.min()} to {probs.data.max()}; apply a sigmoid "
                         f"first, or pass the raw scores to binary_cross_entropy_with_logits")
    ### BEGIN SOLUTION
    t = target.data
    p = probs.data
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100)
        log_q = np.maximum(np.log(1 - p), -100)
    losses = -(t * log_p + (1 - t) * log_q)
    return record_op(_reduce(losses, reduction), "binary_cross_entropy", (probs,),
                     p=p, target=t, reduction=reduction)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_binary_cross_entropy", "locked": true, "points": 10, "solution": false}
p = Tensor([0.9, 0.2, 0.6])
t = Tensor([1.0, 0.0, 1.0])
expected = -np.array([np.log(0.9), np.log(0.8), np.log(0.6)])
loss = binary_cross_entropy(p, t)
assert loss.shape == () and abs(loss.item() - expected.mean()) < 1e-5, \
    f"expected {expected.mean()}, got {loss.item()}"
per = binary_cross_entropy(p, t, reduction="none")
assert np.allclose(per.data, expected, atol=1e-5), f"per-element losses wrong: {per.data}"
assert abs(binary_cross_entropy(p, t, reduction="sum").item() - expected.sum()) < 1e-5
assert loss.dtype == np.float32, f"float32 in, float32 out; got {loss.dtype}"
edge = binary_cross_entropy(Tensor([0.0, 1.0, 1.0, 0.0]), Tensor([1.0, 0.0, 1.0, 0.0]),
                            reduction="none")
assert np.all(np.isfinite(edge.data)), f"p of exactly 0 or 1 must be clamped: {edge.data}"
assert float(edge.data[0]) == 100.0, f"log 0 is clamped at -100: expected 100, got {edge.data[0]}"
assert float(edge.data[2]) == 0.0, "p = 1 with target 1 costs nothing"
soft = binary_cross_entropy(Tensor([0.5]), Tensor([0.5])).item()
assert abs(soft - np.log(2.0)) < 1e-6, f"soft target 0.5 at p = 0.5 costs log 2, got {soft}"
w = Tensor([0.0, 0.7], requires_grad=True)
node = binary_cross_entropy(w, np.array([1.0, 0.0]))._node
assert node is not None and node.op == "binary_cross_entropy", "record the fused op"
assert node.inputs[0] is w and node.saved["p"].tolist() == [0.0, np.float32(0.7)], "save p"
assert node.saved["target"].tolist() == [1.0, 0.0], "save the target array"
assert node.saved["reduction"] == "mean", "save the reduction"
### BEGIN HIDDEN TESTS
tiny = binary_cross_entropy(Tensor([1e-30, 1.0]), Tensor([1.0, 0.0]), reduction="none")
assert np.allclose(tiny.data, [69.0776, 100.0], rtol=1e-4), tiny.data
try:
    binary_cross_entropy(Tensor([2.5]), Tensor([1.0]))
    raise AssertionError("a probability of 2.5 must raise ValueError")
except ValueError:
    pass
### END HIDDEN TESTS

# %% [markdown]
# ## 6. The stable version takes logits
#
# The trouble in section 5 starts before the loss: once the sigmoid has rounded $p$ to 1.0, the
# information *how* wrong the model is has gone. The fix is to never form $p$ at all, and
# compute the loss from the logit $z$. A sigmoid is a two-class softmax in disguise:
#
# $$\sigma(z) = \frac{e^z}{e^0 + e^z} = \text{softmax}([0, z])_1,
#   \qquad 1 - \sigma(z) = \text{softmax}([0, z])_0$$
#
# so $\log\sigma(z)$ and $\log(1 - \sigma(z))$ are the two entries of
# `log_softmax([0, z])` — which you have already made stable:
#
# ```
#   z (N,)   ──► pair = z[:, None] * [0, 1]   ──► log_softmax(pair, dim=-1)
#   [ 3.0,         [[0.0,   3.0],                  [[-3.049, -0.049],    col 0: log(1 - σ(z))
#   -40.0 ]         [0.0, -40.0]]                   [-0.000, -40.000]]   col 1: log σ(z)
#
#   loss = -( t · col1 + (1 - t) · col0 )          z = -40, t = 1  ──►  40, at any z
# ```
#
# The loss now keeps growing linearly with how wrong the logit is, and its gradient,
# $\sigma(z) - t$, never vanishes on a confident mistake. This is why PyTorch recommends
# `BCEWithLogitsLoss` over `Sigmoid` + `BCELoss`, and why section 4 gave cross-entropy the
# logits rather than probabilities.
#
# Build it by composition, so it needs no new backward rule: a broadcast multiply makes the
# pair, `log_softmax` does the stable part, indexing picks the columns.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "bce_with_logits", "solution": true, "locked": false}
#| export
def binary_cross_entropy_with_logits(logits, target, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy computed from raw scores (logits), stable for any logit.

    Composed from recorded ops (mul, log_softmax, getitem, ...): no new backward rule.

    TODO: build the pair [0, z] per element, take log_softmax over it, combine the columns.
    APPROACH:
        1. ``pair = logits.reshape(logits.shape + (1,)) * Tensor(np.array([0, 1], dtype))``
           with ``dtype = logits.dtype``: shape (..., 2), holding [0, z]
        2. ``ls = log_softmax(pair, dim=-1)``
        3. ``losses = -(ls[..., 1] * t + ls[..., 0] * (1 - t))`` with ``t = target``
        4. ``return _reduce(losses, reduction)``
    EXAMPLE:
        >>> round(binary_cross_entropy_with_logits(Tensor([-40.0]), Tensor([1.0])).item(), 3)
        40.0
    HINTS:
        - ``ls[..., 1]`` is the last column whatever the number of leading dimensions.
        - ``1 - t`` with a Tensor ``t`` is a Tensor; everything stays in the graph.
    """
    logits = as_tensor(logits)
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    _check_floating(logits, "binary_cross_entropy_with_logits", "logits")
    target = _float_target(target, logits, "binary_cross_entropy_with_logits")
    ### BEGIN SOLUTION
    pair = logits.reshape(logits.shape + (1,)) * Tensor(np.array([0, 1], dtype=logits.dtype))
    ls = log_softmax(pair, dim=-1)
    losses = -(ls[..., 1] * target + ls[..., 0] * (1 - target))
    return _reduce(losses, reduction)
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_bce_with_logits", "locked": true, "points": 10, "solution": false}
z = Tensor([3.0, -1.0, 0.5, -2.0])
t = Tensor([1.0, 0.0, 0.0, 1.0])
sig = 1.0 / (1.0 + np.exp(-z.data.astype(np.float64)))
expected = -(t.data * np.log(sig) + (1 - t.data) * np.log(1 - sig))
loss = binary_cross_entropy_with_logits(z, t)
assert loss.shape == () and abs(loss.item() - expected.mean()) < 1e-5, \
    f"expected {expected.mean()}, got {loss.item()}"
per = binary_cross_entropy_with_logits(z, t, reduction="none")
assert per.shape == (4,) and np.allclose(per.data, expected, atol=1e-5), f"wrong: {per.data}"
assert loss.dtype == np.float32, f"float32 in, float32 out; got {loss.dtype}"
far = binary_cross_entropy_with_logits(Tensor([-40.0, 40.0, 1e4]), Tensor([1.0, 0.0, 0.0]),
                                       reduction="none")
assert np.all(np.isfinite(far.data)), f"extreme logits must give finite losses: {far.data}"
assert np.allclose(far.data, [40.0, 40.0, 1e4], rtol=1e-4), \
    f"a confident mistake must cost about |z|, not a clamped ceiling: {far.data}"
grid = Tensor(np.ones((2, 3), np.float32))
assert binary_cross_entropy_with_logits(grid, grid, reduction="none").shape == (2, 3), \
    "multi-label targets of shape (N, K) give losses of shape (N, K)"
### BEGIN HIDDEN TESTS
w = Tensor([0.5], requires_grad=True)
assert binary_cross_entropy_with_logits(w, Tensor([1.0]))._node is not None
### END HIDDEN TESTS

# %% [markdown]
# A picture of the difference: the loss for target 1 as the logit moves from right (positive)
# to very wrong (negative), far enough that float32's sigmoid underflows to exactly 0. On
# probabilities the loss follows the logit curve until then, and sits at the ceiling of 100
# beyond: the curve is flat, and a flat loss has no gradient. (With target 0 it goes wrong much
# sooner: beyond $z \approx 17$ float32 rounds $\sigma(z)$ to exactly 1, and no formula applied
# afterwards can tell those logits apart.) On logits the loss keeps climbing.

# %%
import matplotlib.pyplot as plt

z_axis = np.linspace(-120.0, 10.0, 501).astype(np.float32)
ones_t = Tensor(np.ones_like(z_axis))
sigmoid_p = (1.0 / (1.0 + np.exp(-z_axis))).astype(np.float32)
on_probs = binary_cross_entropy(Tensor(sigmoid_p), ones_t, reduction="none").data
on_logits = binary_cross_entropy_with_logits(Tensor(z_axis), ones_t, reduction="none").data

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(z_axis, on_logits, label="binary_cross_entropy_with_logits(z, 1)")
ax.plot(z_axis, on_probs, "--", label="binary_cross_entropy(sigmoid(z), 1), log clamped at -100")
ax.axhline(100.0, color="gray", lw=0.8, ls=":")
ax.set_xlabel("logit z  (target 1: negative z is a confident mistake)")
ax.set_ylabel("loss")
ax.set_title("Clamped probabilities saturate; logits do not")
ax.legend()
fig.tight_layout()
plt.show()
print(f"z = {z_axis[0]:.0f}: on probabilities {on_probs[0]:.2f}, on logits {on_logits[0]:.2f}")

# %% [markdown]
# ## 7. Loss objects
#
# PyTorch code creates a loss once and calls it in the training loop:
#
# ```
#   loss_fn = CrossEntropyLoss()            # configured once (here: reduction)
#   for x, y in loader:
#       loss = loss_fn(model(x), y)         # __call__ ──► forward ──► cross_entropy(...)
# ```
#
# As in PyTorch, a loss is a `Module` (module 03): one without parameters, so calling it runs
# `forward`, and a model that keeps its loss as an attribute prints, walks and switches it like
# any layer. The shared part (checking `reduction`, the repr's settings) is given; each class's
# `forward` is one line calling the function you wrote.

# %%
#| export
class _Loss(Module):
    """Shared behaviour of the loss modules: ``loss_fn(pred, target)`` calls ``forward``."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = _check_reduction(reduction, type(self).__name__)

    def forward(self, pred, target) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward(pred, target)")

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "loss_classes", "solution": true, "locked": false}
#| export
class MSELoss(_Loss):
    """Mean squared error as an object: ``MSELoss()(pred, target)``.

    TODO: return ``mse_loss`` of the arguments with this object's reduction.
    EXAMPLE: MSELoss(reduction="sum")(Tensor([1.0, 2.0]), Tensor([0.0, 0.0])).item() == 5.0
    """

    def forward(self, pred, target) -> Tensor:
        ### BEGIN SOLUTION
        return mse_loss(pred, target, self.reduction)
        ### END SOLUTION


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits (N, C) and integer labels (N,): ``CrossEntropyLoss()(z, y)``.

    ``CrossEntropyLoss(label_smoothing=0.1)`` smooths the targets, as in PyTorch.

    TODO: return ``cross_entropy`` of the arguments with this object's reduction and
          label smoothing.
    """

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(reduction)
        self.label_smoothing = _check_smoothing(label_smoothing, "CrossEntropyLoss")

    def forward(self, logits, target) -> Tensor:
        ### BEGIN SOLUTION
        return cross_entropy(logits, target, self.reduction, self.label_smoothing)
        ### END SOLUTION

    def extra_repr(self) -> str:
        smoothing = f", label_smoothing={self.label_smoothing}" if self.label_smoothing else ""
        return super().extra_repr() + smoothing


class BinaryCrossEntropyLoss(_Loss):
    """Binary cross-entropy of probabilities: ``BinaryCrossEntropyLoss()(p, t)``.

    TODO: return ``binary_cross_entropy`` with this object's reduction.
    """

    def forward(self, probs, target) -> Tensor:
        ### BEGIN SOLUTION
        return binary_cross_entropy(probs, target, self.reduction)
        ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_loss_classes", "locked": true, "points": 5, "solution": false}
a, b = Tensor([1.0, 2.0]), Tensor([0.0, 0.0])
assert abs(MSELoss()(a, b).item() - 2.5) < 1e-6, "MSELoss() should give the mean, 2.5"
assert abs(MSELoss(reduction="sum")(a, b).item() - 5.0) < 1e-6, "MSELoss('sum') gives 5"
z, y = Tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), np.array([0, 1])
assert abs(CrossEntropyLoss()(z, y).item() - cross_entropy(z, y).item()) < 1e-7
assert CrossEntropyLoss(reduction="none")(z, y).shape == (2,), "'none' keeps one loss per row"
p, t = Tensor([0.9, 0.2]), Tensor([1.0, 0.0])
assert abs(BinaryCrossEntropyLoss()(p, t).item() - binary_cross_entropy(p, t).item()) < 1e-7
assert repr(CrossEntropyLoss()) == "CrossEntropyLoss(reduction='mean')", repr(CrossEntropyLoss())
smooth = cross_entropy(z, y, label_smoothing=0.2).item()
assert abs(CrossEntropyLoss(label_smoothing=0.2)(z, y).item() - smooth) < 1e-6, \
    "CrossEntropyLoss(label_smoothing=0.2) passes its label_smoothing on to cross_entropy"
try:
    MSELoss(reduction="avg")
    raise AssertionError("an unknown reduction must be refused when the loss is created")
except ValueError:
    pass
### BEGIN HIDDEN TESTS
assert BinaryCrossEntropyLoss(reduction="none")(p, t).shape == (2,)
### END HIDDEN TESTS

# %% [markdown]
# ### PyTorch's other spelling of cross-entropy, given
#
# Much PyTorch code (PyTorch's own MNIST example among it) ends the network with `log_softmax`
# and trains with the negative log-likelihood loss. `nll_loss(log_probs, y)` takes each row's
# log-probability at its label, negates it and averages, so `nll_loss(log_softmax(z, dim=1), y)`
# is `cross_entropy(z, y)`, computed as two ops instead of one fused op. `NLLLoss` and
# `LogSoftmax` are the module forms, for a `Sequential` that ends in `LogSoftmax(dim=1)`. They
# are built from ops that already have rules (indexing, negation, the reduction), so they need
# no backward rule of their own. `BCELoss` is PyTorch's name for `BinaryCrossEntropyLoss`, and
# `BCEWithLogitsLoss` is the module form of `binary_cross_entropy_with_logits`.

# %%
#| export
def nll_loss(log_probs, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of integer labels, from log-probabilities (N, C) or (C,).

    Example:
        >>> z = Tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> round(nll_loss(log_softmax(z, dim=1), np.array([0, 1])).item(), 4)
        1.5755
    """
    log_probs = as_tensor(log_probs)
    _check_reduction(reduction, "nll_loss")
    labels = _class_targets(log_probs, target, "nll_loss", "log-probabilities")
    if log_probs.ndim == 1:
        picked = log_probs[labels]                                # one example: a 0-d tensor
    else:
        picked = log_probs[np.arange(len(labels)), labels]        # row i, column labels[i]
    return _reduce(-picked, reduction)


class NLLLoss(_Loss):
    """``NLLLoss()(log_probs, y)``: ``nll_loss`` with this object's reduction."""

    def forward(self, log_probs, target) -> Tensor:
        return nll_loss(log_probs, target, self.reduction)


class LogSoftmax(Module):
    """``LogSoftmax(dim=1)(z)`` applies ``log_softmax`` along ``dim``."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x) -> Tensor:
        return log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class BCELoss(BinaryCrossEntropyLoss):
    """PyTorch's name for ``BinaryCrossEntropyLoss``: ``BCELoss()(p, t)``."""


class BCEWithLogitsLoss(_Loss):
    """``BCEWithLogitsLoss()(z, t)``: ``binary_cross_entropy_with_logits`` as a module."""

    def forward(self, logits, target) -> Tensor:
        return binary_cross_entropy_with_logits(logits, target, self.reduction)


# %%
z, y = Tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), np.array([0, 1])
print("nll_loss(log_softmax(z)):", nll_loss(LogSoftmax(dim=1)(z), y).item(),
      " cross_entropy(z):", cross_entropy(z, y).item())

# %% [markdown]
# ## 8. Systems: stability and the cost of a loss
#
# ### (a) Extreme logits: the naive formula against the stable one
#
# The naive loss is `-log(softmax(z)[y])`, computed in float32 exactly as the formula reads.
# The stable one is your `cross_entropy`. The "exact" column is computed in float64 with the
# same shift trick. Run the table and look for the rows where the naive column breaks.

# %%
def naive_cross_entropy(z: np.ndarray, label: int) -> float:
    """-log softmax(z)[label], straight from the formula (float32, warnings silenced)."""
    with np.errstate(all="ignore"):
        e = np.exp(z)
        return float(-np.log(e[label] / e.sum()))


def exact_cross_entropy(z: np.ndarray, label: int) -> float:
    z64 = z.astype(np.float64)
    m = z64.max()
    return float(m + np.log(np.exp(z64 - m).sum()) - z64[label])


cases = [([2.0, 1.0, 0.1], 0), ([50.0, 0.0, -50.0], 2), ([60.0, 0.0, -60.0], 2),
         ([88.0, 0.0], 0), ([89.0, 0.0], 0),
         ([1000.0, 999.0, 998.0], 0), ([1000.0, 0.0, -1000.0], 2),
         ([-1000.0, -1000.0, -1000.0], 1), ([1e4, -1e4], 1)]
print(f"{'logits':>26} {'label':>5} {'naive':>10} {'stable':>10} {'exact':>10}")
for row, label in cases:
    z32 = np.array(row, dtype=np.float32)
    stable = cross_entropy(Tensor(z32[None, :]), np.array([label])).item()
    print(f"{str(row):>26} {label:>5} {naive_cross_entropy(z32, label):>10.4g} "
          f"{stable:>10.4g} {exact_cross_entropy(z32, label):>10.4g}")

# %% [markdown]
# Three ways the naive formula fails, all of them real in training:
#
# - **Overflow** (`[89, 0]`, `[1000, 999, 998]`): `exp(89)` is larger than any float32, so it
#   becomes `inf`, and `inf / inf` is `nan`. One `nan` in a loss reaches every weight after the
#   next update.
# - **Underflow** (`[60, 0, -60]`, `[1000, 0, -1000]` with the wrong label): the true
#   probability is tiny but not zero — $e^{-120}$ or $e^{-2000}$ — and rounds to 0. The loss
#   becomes `inf` when its exact value is 120 or 2000, and its gradient is lost with it. Just
#   before that (`[50, 0, -50]`), $e^{-100}$ survives only as a float32 *subnormal* number with
#   a few significant bits left, and the naive loss is already visibly off.
# - **Everything underflows** (`[-1000, -1000, -1000]`): each `exp` is 0, the sum is 0, and
#   0 / 0 is `nan`, although the answer is simply $\log 3$.
#
# The stable column matches the exact one everywhere, because the shift makes the largest
# exponent 0 and the label's term is taken from the logits, never from a probability.

# %% [markdown]
# ### (b) The memory of a loss over a large vocabulary
#
# A language model classifies every position into one of $V$ tokens: GPT-2 has
# $V = 50{,}257$. For $N$ positions in a batch the logits are an $N \times V$ float32 array,
# and the fused op saves `probs`, another $N \times V$ array, until backward runs. We measure
# both with `nbytes` and time the forward call.

# %%
import time


def time_per_call(fn, repeats: int = 3) -> float:
    """Best of a few runs, in seconds (the minimum is the least disturbed by other work)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


rng = np.random.default_rng(0)
print(f"{'N':>5} {'V':>7} {'logits MB':>10} {'probs MB':>9} {'ms/call':>8}")
for n, v in [(32, 10_000), (128, 10_000), (32, 50_000), (128, 50_000)]:
    logits = Tensor(rng.standard_normal((n, v), dtype=np.float32), requires_grad=True)
    labels = rng.integers(0, v, size=n)
    loss = cross_entropy(logits, labels)
    saved = loss._node.saved["probs"]
    seconds = time_per_call(lambda: cross_entropy(logits, labels))
    print(f"{n:>5} {v:>7} {logits.data.nbytes / 1e6:>10.1f} {saved.nbytes / 1e6:>9.1f} "
          f"{seconds * 1e3:>8.1f}")
del logits, loss, saved

n_big, v_big = 512, 50_000
per_array = n_big * v_big * 4
print(f"N = {n_big}, V = {v_big}: logits {per_array / 1e6:.1f} MB + saved probs "
      f"{per_array / 1e6:.1f} MB = {2 * per_array / 1e6:.1f} MB for one loss call")

# %% [markdown]
# The measured bytes follow the formula exactly: $4NV$ bytes per array. At $N = 512$,
# $V = 50{,}000$ one loss call holds about 205 MB — before the gradient of the logits, another
# $4NV$, is created in module 05. The time grows with $N \times V$ as well: each call
# exponentiates every logit once. This is why large language models compute the loss in chunks
# of positions, and why some never materialise the full softmax at all.

# %% [markdown]
# ### (c) Fused against composed
#
# The same loss composed from module-01 ops — `max`, `-`, `exp`, `sum`, `log`, `-`, indexing,
# `mean` — gives the same number. But every intermediate stays alive in the graph until backward,
# because each node keeps its inputs. The function below walks a graph and adds up the bytes of
# every array it holds (counting each array once).

# %%
def composed_cross_entropy(logits: Tensor, labels: np.ndarray) -> Tensor:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[np.arange(len(labels)), labels].mean()


def graph_bytes(t: Tensor) -> int:
    """Bytes of every distinct array reachable from ``t``'s graph (tensors and saved values)."""
    seen, total, stack = set(), 0, [t]
    while stack:
        node_tensor = stack.pop()
        arrays = [node_tensor.data]
        node = node_tensor._node
        if node is not None:
            arrays += [v for v in node.saved.values() if isinstance(v, np.ndarray)]
            stack.extend(node.inputs)
        for arr in arrays:
            if id(arr) not in seen:
                seen.add(id(arr))
                total += arr.nbytes
    return total


n, v = 128, 50_000
logits = Tensor(rng.standard_normal((n, v), dtype=np.float32), requires_grad=True)
labels = rng.integers(0, v, size=n)
fused, composed = cross_entropy(logits, labels), composed_cross_entropy(logits, labels)
assert abs(fused.item() - composed.item()) < 1e-3, "both ways must give the same loss"
print(f"N = {n}, V = {v}: loss {fused.item():.4f} both ways")
print(f"  fused    graph holds {graph_bytes(fused) / 1e6:7.1f} MB, "
      f"{time_per_call(lambda: cross_entropy(logits, labels)) * 1e3:6.1f} ms/call")
print(f"  composed graph holds {graph_bytes(composed) / 1e6:7.1f} MB, "
      f"{time_per_call(lambda: composed_cross_entropy(logits, labels)) * 1e3:6.1f} ms/call")
del logits, fused, composed

# %% [markdown]
# The composed graph keeps the logits, the shifted logits, their exponentials and the
# log-probabilities — four $N \times V$ arrays — while the fused op keeps the logits and the
# probabilities: half the memory. The forward pass is faster too, because the fused op writes
# one new $N \times V$ array (it exponentiates and normalises in place) where the composed one
# writes three; at this size, moving memory costs more than the arithmetic. Backward widens
# the gap further: the composed version would run one backward rule per op, most of them over
# the full $N \times V$ array, where the fused rule is `probs` minus 1 at N label positions.
# Fusing a few ops into one, with a hand-derived gradient, is the same idea real frameworks
# use for their fastest kernels.

# %% [markdown]
# ## 9. Module test
#
# A tiny three-class classifier and a regression head, forward only: every loss of the module
# on the same data, checked against numpy in float64.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_module_losses", "locked": true, "points": 10, "solution": false}
data_rng = np.random.default_rng(4)
X = Tensor(data_rng.standard_normal((6, 4), dtype=np.float32))
W = Tensor(data_rng.standard_normal((3, 4), dtype=np.float32), requires_grad=True)
bias = Tensor(np.zeros(3, np.float32), requires_grad=True)
scores = X @ W.T + bias
labels = np.array([0, 2, 1, 1, 0, 2])
loss = CrossEntropyLoss()(scores, labels)
s64 = scores.data.astype(np.float64)
ref = np.mean(np.log(np.exp(s64).sum(axis=1)) - s64[np.arange(6), labels])
assert abs(loss.item() - ref) < 1e-5, f"cross-entropy of the classifier: {loss.item()} vs {ref}"
assert loss.requires_grad and loss._node.op == "cross_entropy", "the loss joins the graph"
lsm = log_softmax(scores)
assert abs(-lsm.data[np.arange(6), labels].mean() - loss.item()) < 1e-5, \
    "cross_entropy must equal -mean(log_softmax[label])"
targets = Tensor(data_rng.standard_normal((6, 3), dtype=np.float32))
mse = MSELoss()(scores, targets)
assert abs(mse.item() - np.mean((s64 - targets.data) ** 2)) < 1e-4, "MSE of the same scores"
probs = 1.0 / (1.0 + np.exp(-scores.data))
onehot = np.eye(3, dtype=np.float32)[labels]
bce = BinaryCrossEntropyLoss()(Tensor(probs), onehot)
bce_logits = binary_cross_entropy_with_logits(scores, onehot)
assert abs(bce.item() - bce_logits.item()) < 1e-4, \
    "on moderate scores, BCE of sigmoid(z) and BCE with logits agree"
for value in (loss, mse, bce, bce_logits):
    assert value.dtype == np.float32 and value.shape == (), "every loss is a float32 scalar"
print("Module 04 complete: losses work.")

# %% [markdown]
# ## Summary
#
# You built the losses that turn a model's output into the one number training minimises:
#
# - `mse_loss` / `MSELoss` for regression, composed from module-01 ops, with shapes checked so
#   that broadcasting cannot quietly compare everything with everything;
# - `log_softmax`, stable for any logits thanks to the log-sum-exp shift;
# - `cross_entropy` / `CrossEntropyLoss`, one fused op from logits and integer labels, saving
#   the softmax so that its gradient will be `probs - onehot`;
# - `binary_cross_entropy` / `BinaryCrossEntropyLoss` on probabilities, clamped to stay finite,
#   and `binary_cross_entropy_with_logits`, which does not need the clamp because it never forms
#   a probability.
#
# You saw the naive formula overflow to `nan` and underflow to `inf` while the stable one stayed
# exact, and you measured that a loss over a 50,000-word vocabulary holds hundreds of megabytes,
# and that fusing it halves what the graph keeps.
#
# **Next:** module 05 reads every note these ops left — `"log_softmax"` with its `out`,
# `"cross_entropy"` with its `probs` — and runs the chain rule backwards, so that
# `loss.backward()` fills `.grad` of every weight. Run `tito module complete 04` to export your
# losses into the `tinytorch` package.
