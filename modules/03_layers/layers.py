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
# # Module 03 — Layers: parameters, modules and Linear
#
# A neural network is a function with a few hundred thousand knobs. The function itself is
# short — multiply, add, squash, repeat — but the knobs need looking after: someone must create
# them at sensible values, hand them to an optimizer, clear their gradients, switch the network
# between training and evaluation, and save them to disk. In this module you build the small
# amount of machinery that does all of that, and the first real layer that uses it.
#
# By the end you will write `Sequential(Linear(784, 128), ReLU(), Linear(128, 10))` and get a
# model that lists its 101,770 parameters by name, runs a batch of images forward, and can be
# saved and restored — the same API a PyTorch user types every day.
#
# ## Learning objectives
#
# - Explain why a trained weight is a `Parameter` and not just any `Tensor`.
# - Build `Module`, which discovers parameters and sub-modules when they are assigned as
#   attributes, names them with dotted paths, and walks the tree for `train()`, `eval()`,
#   `zero_grad()`, `state_dict()` and `load_state_dict()`.
# - Implement the linear map `y = x Wᵀ + b` as one fused operation, and the `Linear` layer on it.
# - Choose an initialisation from a variance argument and check it with an experiment.
# - Chain layers with `Sequential` and regularise with inverted `Dropout`.
# - Count parameters and bytes of an MLP, and measure the FLOP rate of a linear layer.
#
# ## Where this module fits
#
# ```
#  01 Tensor ──► 02 Activations ──► 03 Layers ──► 04 Losses ──► 05 Autograd ──► 06 Optimizers
#                                      │                                          ▲
#                                      └── model.parameters() is what an optimizer ┘
#                                          receives, and what it updates each step
# ```
#
# As in modules 01 and 02 you write forward math only. The new operation of this module,
# `linear`, records a note for autograd exactly like `matmul` did; module 05 will use it.

# %% [markdown]
# **How to work in this notebook.** Fill in each `TODO` where it stands and run the cell; the
# graded cell after it checks your work. `tito module test 03` tests this notebook *as
# saved on disk*, so save it first (Ctrl+S): edits that are only in the browser are not tested.
# `tito module test 03 -k NAME --verbose` runs the tests whose names contain NAME and
# prints each failure in full.

# %%
#| default_exp core.layers

# %%
#| export
from __future__ import annotations

import math
import types
from abc import ABCMeta
from collections import OrderedDict, namedtuple
from typing import Iterator

import numpy as np

from tinytorch.core.activations import Activation
from tinytorch.core.tensor import (Tensor, _to_arguments, as_tensor, default_generator,
                                   record_op)

# %%
# Used by the examples and checks in this notebook (not part of the package).
from tinytorch.core.activations import ReLU
from tinytorch.core.tensor import manual_seed, randn

# %% [markdown]
# ## 1. Parameter: a tensor the model owns
#
# Look at one step of a linear layer: `y = x @ W.T + b`. Three tensors go in, but they are not
# alike. `x` is this batch's input: it arrives, is used once, and is gone. `W` and `b` are the
# layer's *state*: they live as long as the model, an optimizer changes them after every batch,
# and they are what you save when training is done.
#
# Code that walks a model needs to tell these apart, and the type system is the cheapest way to
# do it. A `Parameter` is a `Tensor` subclass — the same data, the same ops — whose type says
# "I belong to a layer, train me". Two defaults follow from that meaning: it requires a
# gradient, and it is floating point (float32 unless you hand it a float array on purpose).
#
# ```
#   Tensor ───────────── data, requires_grad, grad, _node, all the ops of module 01
#     ▲
#     │  subclass: nothing new to compute, only a new meaning
#     │
#   Parameter ────────── requires_grad=True by default, always a leaf of the graph,
#                        registered by Module when assigned as an attribute
#
#   w = Parameter(...)      a Parameter
#   w * 2, w @ x, w.T       plain Tensors: values computed from a parameter, not parameters
# ```
#
# The last line matters: module 01's ops build their results with `record_op`, which always
# makes a plain `Tensor`, so nothing you compute from a weight is mistaken for a weight.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "parameter", "solution": true, "locked": false}
#| export
class Parameter(Tensor):
    """A Tensor that a Module owns and an optimizer trains (requires_grad=True by default).

    TODO: turn ``data`` into a numpy array following the rules below and initialise the Tensor.
    APPROACH:
        1. If ``data`` is a Tensor, take its ``.data`` (share it, do not copy).
        2. A numpy array with a floating dtype is used as it is (float64 parameters are allowed:
           module 05's gradient checks use them). Anything else — Python numbers, lists,
           integer arrays — becomes float32.
        3. Call ``super().__init__(array, requires_grad=requires_grad)``.
    EXAMPLE:
        >>> w = Parameter([[1, 2], [3, 4]])
        >>> w.dtype, w.requires_grad, isinstance(w, Tensor)
        (dtype('float32'), True, True)
    HINTS:
        - ``np.issubdtype(arr.dtype, np.floating)`` tells whether an array holds floats.
        - ``np.asarray(data, dtype=np.float32)`` converts lists, numbers and integer arrays.
    """

    def __init__(self, data, requires_grad: bool = True):
        ### BEGIN SOLUTION
        if isinstance(data, Tensor):
            data = data.data
        if not (isinstance(data, np.ndarray) and np.issubdtype(data.dtype, np.floating)):
            data = np.asarray(data, dtype=np.float32)
        super().__init__(data, requires_grad=requires_grad)
        ### END SOLUTION

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_parameter", "locked": true, "points": 5, "solution": false}
w = Parameter([[1, 2], [3, 4]])
assert isinstance(w, Tensor), "Parameter must be a subclass of Tensor"
assert w.dtype == np.float32, f"a list should become float32, got {w.dtype}"
assert w.requires_grad is True, "a Parameter requires a gradient by default"
assert w.shape == (2, 2) and w.data.tolist() == [[1, 2], [3, 4]], "the values must be kept"
assert Parameter(np.arange(3)).dtype == np.float32, "an integer array should become float32"
arr = np.zeros(3, dtype=np.float32)
assert Parameter(arr).data is arr, "a float32 array should be wrapped, not copied"
t = Tensor([1.0, 2.0])
assert Parameter(t).data is t.data, "a Parameter made from a Tensor should share its data"
assert Parameter([1.0], requires_grad=False).requires_grad is False, "requires_grad=False"
assert type(w * 2) is Tensor, "an op on a Parameter gives a plain Tensor, not a Parameter"
### BEGIN HIDDEN TESTS
assert Parameter(np.zeros(2)).dtype == np.float64, "float64 arrays keep their dtype"
assert Parameter(3.0).shape == () and w.is_leaf and w.grad is None
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Module: a tree that finds its own parameters
#
# Every layer and every model is a `Module`. A model is a tree of them, and the tree is built
# by nothing more than attribute assignment in `__init__`:
#
# ```
#   class MLP(Module):
#       def __init__(self):
#           super().__init__()                 # creates the two registries below
#           self.hidden = Linear(784, 128)     # a Module   -> self._modules["hidden"]
#           self.out = Linear(128, 10)         # a Module   -> self._modules["out"]
#           self.scale = Parameter([1.0])      # a Parameter-> self._parameters["scale"]
#           self.name = "digits"               # anything else: an ordinary attribute
#
#   MLP                           _parameters {"scale"}      _modules {"hidden", "out"}
#   ├── hidden: Linear            _parameters {"weight" (128, 784), "bias" (128,)}
#   └── out: Linear               _parameters {"weight" (10, 128),  "bias" (10,)}
#
#   named_parameters():  "scale", "hidden.weight", "hidden.bias", "out.weight", "out.bias"
# ```
#
# How can `Module` see those assignments? Python turns every `self.x = value` into a call
# `type(self).__setattr__(self, "x", value)`. `Module` overrides `__setattr__`:
#
# ```
#   self.hidden = Linear(784, 128)
#        │
#        ▼
#   Module.__setattr__(self, "hidden", <Linear>)
#        ├─ no self._parameters yet?  -> super().__init__() was forgotten: say so, loudly
#        ├─ a Parameter?  -> record it in self._parameters
#        ├─ a Module?     -> record it in self._modules
#        └─ then store it as a normal attribute, so self.hidden keeps working
# ```
#
# The registries are created by `Module.__init__`, which is why every subclass must call
# `super().__init__()` before assigning anything. Forgetting it is the most common bug in
# PyTorch code written by beginners, and Python's own message for it would be an obscure
# `AttributeError` about `_parameters`. Ours says what to do.
#
# With the tree in place, the rest are short walks over it:
#
# - `named_parameters()` yields `("hidden.weight", tensor)` pairs: the dotted path of the
#   module, a dot, the attribute name. A parameter reachable by two paths — *tied weights*,
#   say an encoder and a decoder sharing one matrix — is yielded **once**, under the first name,
#   or an optimizer would update it twice per step. `parameters()` drops the names.
# - `train()` and `eval()` set the flag `.training` on every module in the tree. Most layers
#   ignore it; dropout (section 6) behaves differently in the two modes.
# - `zero_grad()` clears gradients. Module 05 *adds* into `.grad` (a weight used twice gets
#   two contributions), so the gradients of the last batch must go before the next backward.
#   Setting them to `None` is the default: it allocates nothing, and "no gradient yet" stays
#   distinguishable from "a gradient of zero".
# - `state_dict()` is a snapshot — an ordered dict from name to a numpy *copy* of each
#   parameter. `load_state_dict()` checks it key by key and shape by shape and then copies the
#   values **into the arrays the model already has**:
#
# ```
#   optimizer ──holds──► Parameter "0.weight" ──.data──► [ float32 array (128, 784) ]
#   (momentum, Adam's                                               ▲
#    moment buffers ...)     load_state_dict: np.copyto(p.data, new)┘  same object, new values
# ```
#
# Anything that holds a reference to a parameter or its array — an optimizer, a tied layer,
# your own variable — sees the loaded values, and the dtype stays what the model uses. A
# checkpoint that does not fit is refused before anything is copied, with the key and both
# shapes in the message, so a model is never left half-loaded.
#
# Module 02's activations are Modules too, with no parameters. They were written before this
# class existed, and package files import forward only (module 02's may not import this one),
# so they cannot inherit from it. Instead the line `Module.register(Activation)` below the
# class declares them Modules (`Module` is an abstract base class, `ABCMeta`, which allows
# that), and an activation finds any other Module method on this class when it is called.
# Either way there is one copy of each method, and `modules()`, `train()`, `eval()` and the
# printout of a model reach its activations as in PyTorch.
#
# Read the given methods first (`__init__`, `__getattr__`, `__call__`, `named_modules`,
# `parameters`, `__repr__`), then fill in the six solution blocks. The last given methods are
# PyTorch conveniences built on the walk over the tree: `to`, `apply(fn)` (for example to
# re-initialise every Linear), `requires_grad_(False)` to freeze a part of a model, and
# `add_module`.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "module_class", "solution": true, "locked": false}
#| export
_IncompatibleKeys = namedtuple("_IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _forgot_super(module, name: str, assigning: bool) -> AttributeError:
    """The error for a Module whose __init__ did not call super().__init__()."""
    cls = type(module).__name__
    what = (f"{cls}.__init__ assigned '{name}' before calling super().__init__()" if assigning
            else f"{cls} has no '{name}': its __init__ did not call super().__init__()")
    return AttributeError(f"{what}. Call super().__init__() as the first line of "
                          f"{cls}.__init__: Module.__init__ creates the registry of parameters "
                          f"and sub-modules.")


def _layer_repr(layer) -> str:
    """How a layer shows inside its parent's repr."""
    if isinstance(layer, Module):
        return repr(layer)
    if isinstance(layer, (types.FunctionType, types.BuiltinFunctionType)):
        return layer.__name__
    if type(layer).__repr__ is object.__repr__:
        return type(layer).__name__ + "()"
    return repr(layer)


def _repr_tree(head: str, extra: str, children) -> str:
    lines = [f"({name}): " + _layer_repr(child).replace("\n", "\n  ")
             for name, child in children]
    if not lines:
        return f"{head}({extra})"
    body = (extra.split("\n") if extra else []) + lines
    return head + "(\n  " + "\n  ".join(body) + "\n)"


class Module(metaclass=ABCMeta):
    """Base class of every layer and model.

    A subclass calls ``super().__init__()`` first, assigns its Parameters and sub-Modules as
    attributes, and defines ``forward``; ``model(x)`` then runs ``model.forward(x)``.
    Assignment registers them in ``self._parameters`` and ``self._modules`` (both dicts keep
    the order of assignment), and every method below walks that tree.

    You write six methods (each docstring says how): ``__setattr__``, ``named_parameters``,
    ``zero_grad``, ``train``, ``state_dict`` and ``load_state_dict``.
    """

    def __init__(self) -> None:
        # object.__setattr__ skips our own __setattr__, which needs these to exist already.
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value) -> None:
        """Store an attribute, registering Parameters and sub-Modules on the way.

        TODO: keep ``self._parameters`` and ``self._modules`` in step with the attributes.
        APPROACH:
            1. ``params = self.__dict__.get("_parameters")``. If it is None, ``__init__`` never
               ran: ``raise _forgot_super(self, name, assigning=True)``.
            2. If ``name`` is already a registered parameter and ``value`` is neither a
               Parameter nor None, raise ``TypeError`` (``self.weight = self.weight * 2``
               would otherwise quietly replace a trained weight by a constant). Say how to
               do it instead: wrap in ``Parameter(...)`` or change ``.data`` in place.
            3. A Parameter goes into ``params[name]`` (and leaves ``self._modules``); a Module
               goes into ``self._modules[name]`` (and leaves ``params``); any other value
               removes ``name`` from both.
            4. Store the attribute itself: ``object.__setattr__(self, name, value)``.
        EXAMPLE:
            >>> m = Module(); m.w = Parameter([1.0]); m.note = "hello"
            >>> list(m._parameters), list(m._modules)
            (['w'], [])
        HINTS:
            - ``d.pop(name, None)`` removes a key that may be missing.
            - Re-assigning an existing key of a dict keeps its position; keep that (do not pop
              first), so replacing ``self.weight`` does not reorder ``named_parameters()``.
        """
        ### BEGIN SOLUTION
        params = self.__dict__.get("_parameters")
        if params is None:
            raise _forgot_super(self, name, assigning=True)
        if name in params and value is not None and not isinstance(value, Parameter):
            raise TypeError(
                f"cannot assign a {type(value).__name__} to '{name}', a Parameter of "
                f"{type(self).__name__}: wrap it as Parameter(...) to replace the parameter, "
                f"or change its values in place with self.{name}.data[...] = ...")
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            self._modules[name] = value
        else:
            params.pop(name, None)
            self._modules.pop(name, None)
        object.__setattr__(self, name, value)
        ### END SOLUTION

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def __getattr__(self, name: str):
        # Python calls this only after the normal lookup failed. If the registries themselves
        # are missing, __init__ never ran: a method such as parameters() just hit that.
        if name in ("_parameters", "_modules", "training"):
            raise _forgot_super(self, name, assigning=False)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    # ---- running -----------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(): define "
                                  f"forward(self, x) to say what the module computes")

    def __call__(self, *args, **kwargs):
        if "_parameters" not in self.__dict__:
            raise _forgot_super(self, "_parameters", assigning=False)
        return self.forward(*args, **kwargs)

    # ---- walking the tree ----------------------------------------------------------------------
    def named_modules(self, prefix: str = "", remove_duplicate: bool = True,
                      _seen: set | None = None) -> Iterator[tuple[str, "Module"]]:
        """This module and all below it, depth first, as ``(dotted_name, module)`` pairs."""
        if remove_duplicate:
            _seen = set() if _seen is None else _seen
            if id(self) in _seen:
                return
            _seen.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            # Module's own walk, also for module 02's activations: asking them for the method
            # would need this module exported, which it is not while it is being graded.
            yield from Module.named_modules(child, f"{prefix}.{name}" if prefix else name,
                                            remove_duplicate, _seen)

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """The direct sub-modules (one level down), each once."""
        seen = set()
        for name, child in self._modules.items():
            if id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator["Module"]:
        for _, child in self.named_children():
            yield child

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name, e.g. ``("encoder.fc.bias", tensor)``.

        TODO: walk the modules and yield ``(dotted_name, parameter)`` pairs.
        APPROACH:
            1. The modules to visit: ``self.named_modules(prefix, remove_duplicate)``, or only
               ``[(prefix, self)]`` when ``recurse`` is False.
            2. For each module, for each ``(name, p)`` in its ``_parameters``: the full name is
               ``module_name + "." + name``, or just ``name`` when ``module_name`` is "".
            3. With ``remove_duplicate`` (the default), skip a parameter you already yielded,
               so tied weights appear once.
        EXAMPLE:
            >>> net = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
            >>> [name for name, _ in net.named_parameters()]
            ['0.weight', '0.bias', '2.weight', '2.bias']
        HINTS:
            - Remember what you yielded in a set of ``id(p)``. (Tensors override ``==`` to
              compare elementwise, so a set of the tensors themselves would not work.)
            - ``yield`` inside the method makes it a generator, like PyTorch's.
        """
        ### BEGIN SOLUTION
        seen = set()
        walk = (self.named_modules(prefix, remove_duplicate) if recurse
                else [(prefix, self)])
        for module_name, module in walk:
            for name, p in module._parameters.items():
                if remove_duplicate:
                    if id(p) in seen:
                        continue
                    seen.add(id(p))
                yield (f"{module_name}.{name}" if module_name else name), p
        ### END SOLUTION

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The parameters, each once: what you hand to an optimizer."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    # ---- gradients and modes -------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter.

        TODO: for each parameter, set ``.grad`` to None — or, with ``set_to_none=False``, fill
        an existing gradient with zeros in place (a missing gradient stays None).
        EXAMPLE: after ``model.zero_grad()`` every ``p.grad`` of ``model.parameters()`` is None.
        HINTS: ``p.grad.data[...] = 0`` writes zeros into the existing array.
        """
        ### BEGIN SOLUTION
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.data[...] = 0
        ### END SOLUTION

    def train(self, mode: bool = True) -> "Module":
        """Put this module and every module below it in training mode (or eval with False).

        TODO: set ``.training = mode`` on every module of the tree and return ``self``.
        APPROACH: raise ValueError unless ``mode`` is a bool (``model.train(0.5)`` is a bug);
                  then loop over ``self.modules()``.
        EXAMPLE: ``model.train(False).training`` is False, and so is every sub-module's.
        HINTS: returning ``self`` allows ``model = Net().eval()``.
        """
        ### BEGIN SOLUTION
        if not isinstance(mode, bool):
            raise ValueError(f"train(mode) expects True or False, got {mode!r}")
        for module in self.modules():
            module.training = mode
        return self
        ### END SOLUTION

    def eval(self) -> "Module":
        """Evaluation mode: the same as ``train(False)``."""
        return self.train(False)

    # ---- devices and dtypes (given) -----------------------------------------------------------
    def to(self, *args, dtype=None, device=None) -> "Module":
        """``model.to("cpu")`` is the model itself (tinytorch has only the CPU);
        ``model.to(np.float64)`` converts every parameter in place, as PyTorch does."""
        dtype = _to_arguments(args, dtype, device)
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: parameters need a floating-point "
                            f"dtype, got {dtype}")
        for p in self.parameters():       # the same Parameter objects: optimizers keep them
            p.data = p.data.astype(dtype, copy=False)
            if p.grad is not None:
                p.grad = Tensor(p.grad.data.astype(dtype, copy=False))
        return self

    def cpu(self) -> "Module":
        return self

    # ---- more of PyTorch's Module (given) -------------------------------------------------------
    def apply(self, fn) -> "Module":
        """Call ``fn`` on every sub-module, children before parents, then on ``self``.

        Example: ``model.apply(init)`` where ``init(m)`` re-initialises ``m`` if it is a Linear.
        """
        for child in self.children():
            child_apply = getattr(child, "apply", None)
            if child_apply is None:       # module 02's activations: no children of their own
                fn(child)
            else:
                child_apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freeze (False) or unfreeze every parameter; optimizers skip frozen ones."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def add_module(self, name: str, module) -> None:
        """Register ``module`` under ``name``, as assigning ``self.<name> = module`` does."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"add_module: the name must be a non-empty string without '.', "
                           f"got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        setattr(self, name, module)

    # ---- saving and loading ---------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """A snapshot of the parameters: an OrderedDict from dotted name to a numpy copy.

        TODO: build the dict from ``self.named_parameters(remove_duplicate=False)``.
        APPROACH: every name, including the second name of a tied weight (like PyTorch, so a
                  model can be loaded name by name), maps to ``p.data.copy()``.
        EXAMPLE: ``list(Linear(3, 2).state_dict())`` is ``['weight', 'bias']``.
        HINTS: a copy, not ``p.data`` itself: training on must not change a saved snapshot.
        """
        ### BEGIN SOLUTION
        return OrderedDict((name, p.data.copy())
                           for name, p in self.named_parameters(remove_duplicate=False))
        ### END SOLUTION

    def load_state_dict(self, state_dict, strict: bool = True) -> _IncompatibleKeys:
        """Copy the values of ``state_dict`` into this module's parameters, in place.

        TODO: check everything first, then copy; return ``_IncompatibleKeys(missing,
        unexpected)``.
        APPROACH:
            1. ``own = dict(self.named_parameters(remove_duplicate=False))``.
            2. ``missing``: names of ``own`` not in ``state_dict``; ``unexpected``: names of
               ``state_dict`` not in ``own`` (both lists, in order). With ``strict`` and either
               list non-empty, raise RuntimeError naming the keys.
            3. For every name in both: the value may be a numpy array or a Tensor (use
               ``.data``). If its shape differs from the parameter's, raise RuntimeError naming
               the key and both shapes — even when ``strict`` is False.
            4. Only when every check passed: ``np.copyto(p.data, value)`` for each.
        EXAMPLE:
            >>> twin = Linear(3, 2)
            >>> twin.load_state_dict(Linear(3, 2).state_dict())
            _IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        HINTS:
            - ``np.copyto`` writes into the existing array and casts, e.g. a float64 checkpoint
              into float32 weights.
            - Collect the pairs to copy in a list during the checks, copy after the loop.
        """
        ### BEGIN SOLUTION
        cls = type(self).__name__
        own = dict(self.named_parameters(remove_duplicate=False))
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            problems = []
            if missing:
                problems.append(f"missing keys {missing}")
            if unexpected:
                problems.append(f"unexpected keys {unexpected}")
            raise RuntimeError(f"load_state_dict into {cls}: " + "; ".join(problems))
        todo = []
        for key, p in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            value = value.data if isinstance(value, Tensor) else np.asarray(value)
            if value.shape != p.shape:
                raise RuntimeError(f"load_state_dict into {cls}: shape mismatch for '{key}': "
                                   f"the state dict has {value.shape}, the model has {p.shape}")
            todo.append((p, value))
        for p, value in todo:
            np.copyto(p.data, value)
        return _IncompatibleKeys(missing, unexpected)
        ### END SOLUTION

    # ---- printing ----------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr; layers override it."""
        return ""

    def __repr__(self) -> str:
        return _repr_tree(type(self).__name__, self.extra_repr(), self._modules.items())


# Module 02's activations are modules without parameters (its section 7 says why they cannot
# inherit from this class): declare them Modules, so a model registers, walks, switches and
# prints them like any layer.
Module.register(Activation)

# %% [markdown]
# Three checks follow: registration (with tied weights and a forgotten `super().__init__()`),
# modes and gradients, and saving and loading. They share two small modules defined here: an
# elementwise `Affine` layer, and a `Net` whose `head` shares its weight with its `encoder`.

# %%
class Affine(Module):
    """y = x * weight + bias, elementwise: the smallest layer with two parameters."""

    def __init__(self, n: int):
        super().__init__()
        self.weight = Parameter(np.ones(n, dtype=np.float32))
        self.bias = Parameter(np.zeros(n, dtype=np.float32))
        self.size = n                                  # a plain attribute: not registered

    def forward(self, x):
        return x * self.weight + self.bias


class Net(Module):
    def __init__(self):
        super().__init__()
        self.encoder = Affine(3)
        self.head = Affine(3)
        self.head.weight = self.encoder.weight         # tied: one Parameter, two paths
        self.cache = Tensor([0.0], requires_grad=True)  # a Tensor, but not a Parameter

    def forward(self, x):
        return self.head(self.encoder(x))


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_module_registration", "locked": true, "points": 10, "solution": false}
net = Net()
assert list(net._modules) == ["encoder", "head"], f"sub-modules: {list(net._modules)}"
assert list(net.encoder._parameters) == ["weight", "bias"], "Affine registers weight and bias"
names = [name for name, _ in net.named_parameters()]
assert names == ["encoder.weight", "encoder.bias", "head.bias"], \
    f"dotted names, the tied weight once: expected encoder.weight, encoder.bias, head.bias; " \
    f"got {names}"
assert len(list(net.parameters())) == 3, "parameters() yields each parameter once"
assert "size" not in net.encoder._parameters and "cache" not in net._parameters, \
    "plain attributes and plain Tensors must not be registered"
assert net.head.weight is net.encoder.weight, "attribute access must still work"
out = net(Tensor([1.0, 2.0, 3.0]))
assert out.data.tolist() == [1.0, 2.0, 3.0], "net(x) should call forward(x)"


class Forgetful(Module):
    def __init__(self):
        self.w = Parameter([1.0])


try:
    Forgetful()
    raise AssertionError("assigning before super().__init__() must raise")
except AttributeError as err:
    assert "super().__init__()" in str(err), f"the error should say what to call: {err}"
### BEGIN HIDDEN TESTS
class Lazy(Module):
    def __init__(self):
        pass


try:
    list(Lazy().parameters())
    raise AssertionError("a module without super().__init__() must refuse parameters()")
except AttributeError as err:
    assert "super().__init__()" in str(err)
try:
    net.encoder.weight = Tensor([1.0, 1.0, 1.0])
    raise AssertionError("a plain Tensor must not silently replace a Parameter")
except TypeError:
    pass
net.encoder.extra = Affine(1)
prefixed = [n for n, _ in net.named_parameters(prefix="m")]
assert prefixed == ["m.encoder.weight", "m.encoder.bias", "m.encoder.extra.weight",
                    "m.encoder.extra.bias", "m.head.bias"], prefixed
assert [n for n, _ in net.named_parameters(recurse=False)] == []
### END HIDDEN TESTS

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_module_modes", "locked": true, "points": 5, "solution": false}
net = Net()
assert net.training and net.encoder.training, "modules start in training mode"
assert net.eval() is net, "eval() should return the module itself"
assert not net.training and not net.encoder.training and not net.head.training, \
    "eval() must reach every sub-module"
net.train()
assert net.training and net.head.training, "train() must switch every sub-module back"
for p in net.parameters():
    p.grad = Tensor(np.ones(p.shape, dtype=np.float32))
net.zero_grad()
assert all(p.grad is None for p in net.parameters()), "zero_grad() sets gradients to None"
g = Tensor(np.ones(3, dtype=np.float32))
net.encoder.bias.grad = g
net.zero_grad(set_to_none=False)
assert net.encoder.bias.grad is g and g.data.tolist() == [0.0, 0.0, 0.0], \
    "zero_grad(set_to_none=False) should fill the existing gradient with zeros"
assert net.encoder.weight.grad is None, "a missing gradient stays None"
### BEGIN HIDDEN TESTS
assert net.train(False) is net and not net.head.training
try:
    net.train(0.5)
    raise AssertionError("train(0.5) must be refused")
except ValueError:
    pass
### END HIDDEN TESTS

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_state_dict", "locked": true, "points": 10, "solution": false}
src, dst = Net(), Net()
src.encoder.weight.data[...] = [1.0, 2.0, 3.0]
src.head.bias.data[...] = [7.0, 8.0, 9.0]
sd = src.state_dict()
assert list(sd) == ["encoder.weight", "encoder.bias", "head.weight", "head.bias"], \
    f"state_dict keys: {list(sd)}"
assert isinstance(sd["encoder.weight"], np.ndarray), "values should be numpy arrays"
sd["encoder.weight"][0] = 99.0
assert src.encoder.weight.data[0] == 1.0, "state_dict() must copy: the snapshot is not the model"
weight_before, array_before = dst.encoder.weight, dst.encoder.weight.data
dst.load_state_dict(src.state_dict())
assert dst.encoder.weight is weight_before and dst.encoder.weight.data is array_before, \
    "load_state_dict must copy into the existing parameters, not replace them"
assert dst.encoder.weight.data.tolist() == [1.0, 2.0, 3.0] and \
    dst.head.bias.data.tolist() == [7.0, 8.0, 9.0], "the values were not loaded"
incomplete = src.state_dict()
del incomplete["encoder.bias"]
try:
    dst.load_state_dict(incomplete)
    raise AssertionError("a missing key must raise RuntimeError")
except RuntimeError as err:
    assert "encoder.bias" in str(err), f"the error should name the missing key: {err}"
wrong = src.state_dict()
wrong["head.bias"] = np.zeros(4, dtype=np.float32)
try:
    dst.load_state_dict(wrong)
    raise AssertionError("a shape mismatch must raise RuntimeError")
except RuntimeError as err:
    msg = str(err)
    assert "head.bias" in msg and "(4,)" in msg and "(3,)" in msg, \
        f"the error should name the key and both shapes: {msg}"
### BEGIN HIDDEN TESTS
extra = src.state_dict()
extra["decoder.weight"] = np.zeros(3, np.float32)
try:
    dst.load_state_dict(extra)
    raise AssertionError("an unexpected key must raise in strict mode")
except RuntimeError as err:
    assert "decoder.weight" in str(err)
result = dst.load_state_dict(incomplete, strict=False)
assert result.missing_keys == ["encoder.bias"] and result.unexpected_keys == []
fresh = Net()
before = fresh.encoder.bias.data.copy()
try:
    fresh.load_state_dict(wrong)
except RuntimeError:
    pass
assert np.array_equal(fresh.encoder.bias.data, before) and fresh.encoder.weight.data[0] == 1.0
### END HIDDEN TESTS

# %% [markdown]
# ## 3. The linear map, as one operation
#
# The workhorse of this course is the affine map `y = x Wᵀ + b`:
#
# ```
#        x (N, in)              Wᵀ (in, out)            b (out,)              y (N, out)
#   ┌──────────────────┐    ┌──────────────┐                            ┌──────────────┐
#   │ sample 0  (784)  │    │              │     [ b0  b1  ...  b127 ]  │   128 values │
#   │ sample 1         │ @  │  784 × 128   │  +   added to every row  = │   per sample │
#   │ ...              │    │              │      (broadcast over N)    │              │
#   └──────────────────┘    └──────────────┘                            └──────────────┘
#
#   W is stored (out, in), like PyTorch: row j of W holds the 784 weights of output unit j,
#   so W[j] is "one neuron" and y[:, j] = x @ W[j] + b[j].
# ```
#
# The function `linear(x, weight, bias)` computes it. It could be written with module 01's
# ops as `x @ weight.T + bias`, but that would record three operations (transpose, matmul,
# add) where one will do. Instead it computes with numpy and records a **single** op named
# `"linear"`, with inputs `(x, weight)` or `(x, weight, bias)` — nothing else needs saving,
# because the backward rule can read `x` and `weight` straight from the inputs. Why this is
# worth it is a systems question; section 7 measures it.
#
# Inputs come in three shapes, and all work with the same code: one sample `(in,)`, a batch
# `(N, in)`, or a batch of sequences `(..., in)` — only the last dimension is "features".

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "linear_function", "solution": true, "locked": false}
#| export
def linear(x, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` as ONE recorded op named "linear".

    Shapes: ``x`` is ``(in,)``, ``(N, in)`` or ``(..., in)``; ``weight`` is ``(out, in)``;
    ``bias`` is ``(out,)`` or None. The result is ``(out,)``, ``(N, out)`` or ``(..., out)``.

    TODO: check the shapes, compute with numpy, and record a single "linear" op.
    APPROACH:
        1. ``x = as_tensor(x)``. If ``x.shape[-1]`` differs from ``weight.shape[1]``, raise
           ValueError naming both shapes, e.g. ``"linear: input (32, 100) does not fit weight
           (128, 784): the input has 100 features, the weight expects 784"``. Check that the
           bias has shape ``(out,)`` the same way.
        2. ``out = x.data @ weight.data.T``, then add ``bias.data`` when there is a bias.
        3. ``return record_op(out, "linear", (x, weight))`` — or with ``(x, weight, bias)``.
    EXAMPLE:
        >>> w = Tensor([[1., 0.], [0., 2.], [1., 1.]])          # 2 features in, 3 out
        >>> linear(Tensor([[3., 4.]]), w, Tensor([0., 0., 1.])).data.tolist()
        [[3.0, 8.0, 8.0]]
    HINTS:
        - ``weight.data.T`` is a view; numpy's matmul reads it without copying.
        - Integer inputs (raw pixel values) times float32 weights give float64 in numpy:
          convert such an ``x`` to the weight's dtype first, so the result stays float32.
        - For ``x`` with more than two dimensions, reshaping to ``(-1, in)`` makes one big
          matrix product, which is faster than numpy's loop over stacked matrices.
    """
    ### BEGIN SOLUTION
    x = as_tensor(x)
    weight = as_tensor(weight)
    if weight.ndim != 2:
        raise ValueError(f"linear: the weight must be 2-D (out, in), got shape {weight.shape}")
    out_features, in_features = weight.shape
    if x.ndim == 0 or x.shape[-1] != in_features:
        got = x.shape[-1] if x.ndim else "no"
        raise ValueError(f"linear: input {x.shape} does not fit weight {weight.shape}: the "
                         f"input has {got} features, the weight expects {in_features}")
    if bias is not None:
        bias = as_tensor(bias)
        if bias.shape != (out_features,):
            raise ValueError(f"linear: bias {bias.shape} does not fit weight {weight.shape}: "
                             f"expected a bias of shape ({out_features},)")
    xd = x.data
    if xd.dtype.kind != "f":               # not floating point: integers, e.g. raw pixels
        xd = xd.astype(weight.data.dtype)
    if xd.ndim > 2:
        out = (xd.reshape(-1, in_features) @ weight.data.T).reshape(
            *xd.shape[:-1], out_features)
    else:
        out = xd @ weight.data.T
    if bias is None:
        return record_op(out, "linear", (x, weight))
    out += bias.data                       # out is a fresh array: add in place, no temporary
    return record_op(out, "linear", (x, weight, bias))
    ### END SOLUTION


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_linear_function", "locked": true, "points": 10, "solution": false}
w = Tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], requires_grad=True)
b = Tensor([0.0, 0.0, 1.0], requires_grad=True)
x = Tensor([[3.0, 4.0], [1.0, -1.0]])
y = linear(x, w, b)
assert y.shape == (2, 3), f"(2, 2) inputs through a (3, 2) weight give (2, 3), got {y.shape}"
assert y.data.tolist() == [[3.0, 8.0, 8.0], [1.0, -2.0, 1.0]], f"wrong values {y.data.tolist()}"
assert y.dtype == np.float32, f"float32 in, float32 out; got {y.dtype}"
assert y._node is not None and y._node.op == "linear", "linear must record ONE op named 'linear'"
ins = y._node.inputs
assert len(ins) == 3 and ins[0] is x and ins[1] is w and ins[2] is b, \
    "the inputs of the op should be (x, weight, bias)"
ins = linear(x, w)._node.inputs
assert len(ins) == 2 and ins[0] is x and ins[1] is w, "without a bias the inputs are (x, weight)"
assert linear(Tensor([3.0, 4.0]), w).data.tolist() == [3.0, 8.0, 7.0], "one sample (in,)"
assert linear(Tensor(np.ones((5, 4, 2), np.float32)), w).shape == (5, 4, 3), "(..., in) inputs"
try:
    linear(Tensor(np.ones((32, 100), np.float32)), Tensor(np.ones((128, 784), np.float32)))
    raise AssertionError("mismatched features must raise ValueError")
except ValueError as err:
    msg = str(err)
    assert "(32, 100)" in msg and "(128, 784)" in msg, f"name both shapes: {msg}"
### BEGIN HIDDEN TESTS
assert linear(Tensor([[1.0, 1.0]]), Tensor([[1.0, 1.0]]))._node is None
assert linear(Tensor(np.array([[1, 2]])), Tensor([[1.0, 1.0]])).dtype == np.float32
try:
    linear(x, w, Tensor([1.0, 2.0]))
    raise AssertionError("a bias of the wrong size must raise")
except ValueError:
    pass
### END HIDDEN TESTS

# %% [markdown]
# ## 4. The Linear layer, and where its weights start
#
# `Linear(in_features, out_features, bias=True)` owns a weight Parameter `(out, in)` and a bias
# Parameter `(out,)`, and its `forward` is one call to `linear`. The only real decision is the
# **initial values** of the weight. All zeros is out — every unit of a layer would compute the
# same thing and receive the same gradient, forever. So they are random. But *how* random?
#
# Follow the size of the signal through one layer. An output unit sums `in` products:
#
# ```
#   y = w1·x1 + w2·x2 + ... + w_in·x_in          (weights: mean 0, independent of the inputs)
#
#   Var(y) = in · Var(w) · E[x²]
#
#   if x came out of a ReLU, half of the values were cut to zero:   E[x²] = Var(y_previous) / 2
#
#   so each Linear + ReLU multiplies the variance of the signal by    in · Var(w) / 2
#
#     Var(w) = 2 / in   ->  factor 1: the signal keeps its size through any depth
#     smaller           ->  factor < 1 at every layer: activations shrink towards zero
#     larger            ->  factor > 1 at every layer: activations explode
# ```
#
# After ten layers a factor of 0.5 per layer has shrunk the variance a thousand times, and a
# factor of 2 has grown it a thousand times; the gradients in module 05 follow the same
# arithmetic on their way back. `Var(w) = 2 / in` is **He (Kaiming) initialisation**, derived
# for ReLU networks in 2015.
#
# We draw from a uniform distribution: `U(-a, a)` has variance `a² / 3`, so
# `a = √(6 / in)` gives `Var(w) = 2 / in`. For the first layer of an MNIST model that is
# `√(6/784) ≈ 0.087`. Biases start at zero: the random weights already make the units differ.
#
# Our choice, compared with PyTorch's: `nn.Linear` draws from `U(-1/√in, 1/√in)`, a variance
# of `1 / (3·in)` — a factor of 1/6 per ReLU layer. That is harmless for the two- and
# three-layer networks of this course's milestones, and it shrinks the signal in deep ReLU
# stacks; the experiment after the check below shows both. The `Tanh` and `Sigmoid` networks of
# the early milestones would prefer a somewhat smaller scale (LeCun or Glorot initialisation,
# `Var(w) ≈ 1 / in`), but at their depth the difference does not matter.
#
# The random numbers come from the course-wide generator (`default_generator()`, reseeded by
# `manual_seed`), so `manual_seed(0); Linear(3, 2)` gives the same weights every time.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "linear_layer", "solution": true, "locked": false}
#| export
class Linear(Module):
    """A fully connected layer: ``y = x @ weight.T + bias``.

    ``weight`` is a Parameter of shape ``(out_features, in_features)``; ``bias`` a Parameter
    of shape ``(out_features,)``, or None with ``bias=False``.

    TODO: create the parameters in ``__init__``; fill them in ``reset_parameters``.
    APPROACH:
        ``__init__``:
            1. Refuse sizes below 1 with a ValueError. Store ``in_features``, ``out_features``.
            2. ``self.weight = Parameter(np.empty((out, in), dtype=np.float32))``;
               ``self.bias`` a float32 Parameter of zeros ``(out,)``, or None.
            3. Call ``self.reset_parameters()``.
        ``reset_parameters`` (Kaiming uniform):
            1. ``bound = math.sqrt(6 / in_features)``.
            2. Write ``default_generator().uniform(-bound, bound, shape)`` into
               ``self.weight.data[...]`` — in place, so the Parameter stays the same object.
            3. Zero the bias in place, if there is one.
    EXAMPLE:
        >>> layer = Linear(784, 128)
        >>> layer.weight.shape, layer.bias.shape, layer(randn(32, 784)).shape
        ((128, 784), (128,), (32, 128))
    HINTS:
        - Assigning ``self.weight = Parameter(...)`` registers it: that is section 2 at work.
        - Call ``default_generator()`` each time: ``manual_seed`` replaces the generator.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        ### BEGIN SOLUTION
        if int(in_features) < 1 or int(out_features) < 1:
            raise ValueError(f"Linear: in_features and out_features must be at least 1, got "
                             f"{in_features} and {out_features}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), np.float32))
        self.bias = Parameter(np.zeros(self.out_features, np.float32)) if bias else None
        self.reset_parameters()
        ### END SOLUTION

    def reset_parameters(self) -> None:
        """Kaiming-uniform weights, zero bias, written in place."""
        ### BEGIN SOLUTION
        bound = math.sqrt(6.0 / self.in_features)
        self.weight.data[...] = default_generator().uniform(-bound, bound, self.weight.shape)
        if self.bias is not None:
            self.bias.data[...] = 0.0
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        if x.data.dtype != self.weight.data.dtype and np.issubdtype(x.data.dtype, np.floating):
            # As in PyTorch: float64 data into float32 weights would silently compute (and
            # train) in float64. Deliberate difference: integer input (raw pixels) is converted.
            raise RuntimeError(f"Linear: the input is {x.data.dtype} but the weights are "
                               f"{self.weight.data.dtype}; convert the input with "
                               f"Tensor(x.data.astype(np.{self.weight.data.dtype}))")
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_linear_layer", "locked": true, "points": 10, "solution": false}
manual_seed(0)
layer = Linear(784, 128)
assert layer.weight.shape == (128, 784), f"weight is (out, in) = (128, 784), got {layer.weight.shape}"
assert layer.bias is not None and layer.bias.shape == (128,), "bias is (out,) = (128,)"
assert isinstance(layer.weight, Parameter) and isinstance(layer.bias, Parameter)
assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32, "float32 parameters"
assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"], "registered in order"
bound = math.sqrt(6 / 784)
assert np.abs(layer.weight.data).max() <= bound, f"weights must lie in [-{bound:.4f}, {bound:.4f}]"
std = float(layer.weight.data.std())
assert abs(std - math.sqrt(2 / 784)) < 0.02 * math.sqrt(2 / 784), \
    f"Kaiming init has std sqrt(2/in) = {math.sqrt(2 / 784):.4f}, got {std:.4f}"
assert not layer.bias.data.any(), "the bias starts at zero"
x = randn(32, 784)
y = layer(x)
assert y.shape == (32, 128) and y.dtype == np.float32, f"got {y.shape} {y.dtype}"
assert y._node.op == "linear", "Linear should use the fused linear op"
assert np.allclose(y.data, x.data @ layer.weight.data.T + layer.bias.data, atol=1e-5)
manual_seed(0)
assert np.array_equal(Linear(784, 128).weight.data, layer.weight.data), \
    "manual_seed(0) must make the initialisation repeatable"
no_bias = Linear(4, 2, bias=False)
assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"], \
    "bias=False: no bias parameter"
assert repr(layer) == "Linear(in_features=784, out_features=128, bias=True)", repr(layer)
### BEGIN HIDDEN TESTS
assert no_bias(Tensor([1.0, 2.0, 3.0, 4.0])).shape == (2,)
w_obj = layer.weight
layer.reset_parameters()
assert layer.weight is w_obj and not np.array_equal(w_obj.data, Linear(784, 128).weight.data)
try:
    Linear(0, 3)
    raise AssertionError("Linear(0, 3) must be refused")
except ValueError:
    pass
### END HIDDEN TESTS

# %% [markdown]
# ### Seeing the initialisation at work
#
# Ten `Linear(256, 256)` layers, each followed by module 02's `ReLU`, and a batch of 512 random
# inputs with standard deviation 1. We print and plot the standard deviation of the activations
# after every layer, for four ways of drawing the weights.

# %%
import matplotlib.pyplot as plt


def activation_stds(draw, depth: int = 10, width: int = 256, batch: int = 512) -> list[float]:
    """Std of the activations after each Linear + ReLU; ``draw(layer)`` sets the weights."""
    manual_seed(0)
    relu = ReLU()
    h = randn(batch, width)
    stds = []
    for _ in range(depth):
        layer = Linear(width, width)
        draw(layer)
        h = relu(layer(h))
        stds.append(float(h.data.std()))
    return stds


def normal(std):
    def draw(layer):
        layer.weight.data[...] = randn(*layer.weight.shape).data * std
    return draw


def pytorch_default(layer):
    bound = 1 / math.sqrt(layer.in_features)
    layer.weight.data[...] = default_generator().uniform(-bound, bound, layer.weight.shape)


schemes = {
    "normal, std 0.01 (too small)": normal(0.01),
    "normal, std 0.2 (too large)": normal(0.2),
    "U(±1/√in) (PyTorch's default)": pytorch_default,
    "Kaiming U(±√(6/in)) (ours)": lambda layer: None,   # Linear already initialised it
}
results = {label: activation_stds(draw) for label, draw in schemes.items()}
for label, stds in results.items():
    print(f"{label:32s} layer 1: {stds[0]:9.3g}   layer 5: {stds[4]:9.3g}   "
          f"layer 10: {stds[-1]:9.3g}")

fig, ax = plt.subplots(figsize=(7, 4))
for label, stds in results.items():
    ax.semilogy(range(1, len(stds) + 1), stds, marker="o", label=label)
ax.set_xlabel("layer")
ax.set_ylabel("std of activations (log scale)")
ax.set_title("Linear(256, 256) + ReLU, ten times")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# **Reading the plot.** With std 0.01 the factor per layer is `256 · 0.0001 / 2 ≈ 0.013`: the
# variance is a hundred times smaller after every layer (the std about nine times) and the
# signal has all but vanished by layer 5 — the last layers would receive no information, and
# gradients flowing back would vanish the same way. With std 0.2 the factor is
# `256 · 0.04 / 2 ≈ 5`: activations (and soon the loss) grow into the thousands. PyTorch's
# default loses a factor of about `√6 ≈ 2.4` in std per layer: about 6 after two layers, which
# a shallow network absorbs easily, and about ten thousand after ten. Kaiming initialisation
# keeps the std flat. The variance argument predicted all four lines before we ran anything — that is
# the value of doing the arithmetic.

# %% [markdown]
# ## 5. Sequential: layers in a row
#
# Most models of this course are a chain: the output of one layer is the input of the next.
# `Sequential` is a Module that holds such a chain and runs it.
#
# ```
#   model = Sequential(Linear(784, 128), ReLU(), Linear(128, 10))
#
#   x (N, 784) ──► [0] Linear ──► [1] ReLU ──► [2] Linear ──► logits (N, 10)
#
#   registered:  "0" -> Linear   "1" -> ReLU   "2" -> Linear     named_parameters():
#                                 (no parameters)                 "0.weight" "0.bias"
#                                                                 "2.weight" "2.bias"
# ```
#
# Every layer is a Module (module 02's activations count as Modules, see section 2), so
# `Sequential` registers each one under its position as name — which is why the second Linear
# above is `"2"`, exactly as in PyTorch. The registry `self._modules` is the one list of
# layers: `forward` runs through it, so replacing a layer (`model[0] = ...`, which is
# `setattr(model, "0", ...)`) changes both the parameters and the computation. It also behaves
# like a short list: `len(model)`, `model[0]`, `for layer in model`, `model[:2]` (a new
# Sequential of the first two) and `model.append(layer)`; those list methods are given. So is
# the first branch of `__init__`: PyTorch code sometimes names the layers by passing one
# `OrderedDict` of name → layer, and the registry then holds those names instead of positions.

# %%
#| export
def _checked_entry(owner: Module, position: int, module):
    """``module``, if it can be entry ``position`` of ``owner``; else a TypeError naming both."""
    where = f"{type(owner).__name__}: entry {position}"
    if isinstance(module, type):
        raise TypeError(f"{where} is the class {module.__name__}, not a layer; did you mean "
                        f"{module.__name__}()?")
    if not isinstance(module, Module):
        raise TypeError(f"{where} is a {type(module).__name__}, not a Module; store layers "
                        f"such as Linear(4, 8) or ReLU()")
    return module


def _replace_entry(owner: Module, index: int, module) -> None:
    """``owner[index] = module`` for the list-like containers: the name at that position keeps
    its place in the registry, so the order of the layers does not change."""
    names = list(owner._modules)
    position = range(len(names))[index]  # IndexError past the end, as for a list
    setattr(owner, names[position], _checked_entry(owner, position, module))


def _append_entry(owner: Module, module):
    """Register ``module`` after the last entry of ``owner``, named by its position."""
    position = len(owner._modules)
    setattr(owner, str(position), _checked_entry(owner, position, module))
    return owner


# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "sequential", "solution": true, "locked": false}
#| export
class Sequential(Module):
    """Layers applied one after another: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 1))``.

    ``Sequential(OrderedDict([("hidden", Linear(4, 8)), ("act", ReLU())]))`` names the layers
    (given): ``model.hidden`` is the first one.

    TODO: store the layers in ``__init__`` and run them in ``forward``.
    APPROACH:
        ``__init__``:
            1. For each ``(i, layer)``: a class (e.g. ``ReLU`` without the parentheses) or
               anything that is not a Module is a mistake — raise TypeError naming
               position ``i``.
            2. Register each layer with ``setattr(self, str(i), layer)``; ``self._modules``
               is then the list of layers, in order (keep no second list).
        ``forward``: feed ``x`` through ``self._modules.values()`` in order; return the result.
    EXAMPLE:
        >>> model = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
        >>> [name for name, _ in model.named_parameters()]
        ['0.weight', '0.bias', '2.weight', '2.bias']
    HINTS:
        - ``isinstance(layer, type)`` is True for a class; ``isinstance(layer, Module)`` for
          a layer (an activation too).
        - ``setattr`` goes through ``Module.__setattr__``, which does the registering.
    """

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], OrderedDict):
            # Given: PyTorch's named form, Sequential(OrderedDict([("fc", Linear(4, 8)), ...])).
            for position, (name, layer) in enumerate(layers[0].items()):
                setattr(self, name, _checked_entry(self, position, layer))
            return
        ### BEGIN SOLUTION
        for i, layer in enumerate(layers):
            if isinstance(layer, type):
                raise TypeError(f"Sequential: layer {i} is the class {layer.__name__}, not a "
                                f"layer; did you mean {layer.__name__}()?")
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a "
                                f"Module; pass layers such as Linear(4, 8) or ReLU()")
            setattr(self, str(i), layer)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        for layer in self._modules.values():
            x = layer(x)
        return x
        ### END SOLUTION

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        layers = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*layers[index])
        return layers[index]

    def __setitem__(self, index: int, layer) -> None:
        """``model[0] = Linear(...)``: replace the layer at that position."""
        _replace_entry(self, index, layer)

    def append(self, layer) -> "Sequential":
        """Add ``layer`` at the end of the chain."""
        return _append_entry(self, layer)


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_sequential", "locked": true, "points": 5, "solution": false}
manual_seed(1)
model = Sequential(Linear(4, 8), ReLU(), Linear(8, 3))
assert len(model) == 3 and isinstance(model[1], ReLU), "len() and indexing"
assert [type(layer).__name__ for layer in model] == ["Linear", "ReLU", "Linear"], "iteration"
names = [n for n, _ in model.named_parameters()]
assert names == ["0.weight", "0.bias", "2.weight", "2.bias"], f"names by position: {names}"
x = randn(5, 4)
out = model(x)
hidden = np.maximum(x.data @ model[0].weight.data.T + model[0].bias.data, 0.0)
expected = hidden @ model[2].weight.data.T + model[2].bias.data
assert out.shape == (5, 3) and np.allclose(out.data, expected, atol=1e-5), "wrong forward pass"
model.eval()
assert not model[0].training and not model[2].training, "eval() reaches the layers"
try:
    Sequential(Linear(2, 2), 3)
    raise AssertionError("a layer that cannot be called must raise TypeError")
except TypeError as err:
    assert "1" in str(err), f"name the position of the bad layer: {err}"
### BEGIN HIDDEN TESTS
try:
    Sequential(Linear(2, 2), ReLU)
    raise AssertionError("a class instead of an instance must raise TypeError")
except TypeError:
    pass
head = model[:1]
assert isinstance(head, Sequential) and len(head) == 1 and head[0] is model[0]
assert Sequential()(x) is x
### END HIDDEN TESTS

# %% [markdown]
# `ModuleList` is Sequential's sibling for models that are not a plain chain: it holds
# Modules in a list and registers each under its position, but has no `forward` — the model
# that owns it decides how to use them (a loop, a residual sum, ...). Given, since it is
# `Sequential` minus the chain.

# %%
#| export
class ModuleList(Module):
    """A list of Modules, registered by position: ``ModuleList([Linear(8, 8) for _ in range(3)])``.

    Indexing, ``len``, iteration, ``append`` and ``extend`` work as on a list; the parameters
    of every entry belong to the owner (``"blocks.0.weight"``).
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def append(self, module: Module) -> "ModuleList":
        return _append_entry(self, module)

    def extend(self, modules) -> "ModuleList":
        for module in modules:
            self.append(module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        modules = list(self._modules.values())
        return ModuleList(modules[index]) if isinstance(index, slice) else modules[index]

    def __setitem__(self, index: int, module: Module) -> None:
        _replace_entry(self, index, module)


# %% [markdown]
# `Identity` returns its input unchanged. It is what PyTorch code puts in place of a layer it
# wants to switch off without changing the model's structure (`model[2] = Identity()`, or a
# classifier head removed to read the features underneath). Given.

# %%
#| export
class Identity(Module):
    """A layer that returns its input as it is; extra arguments are accepted and ignored.

    Example:
        >>> model = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
        >>> model[2] = Identity()
        >>> model(randn(3, 4)).shape
        (3, 8)
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


# %% [markdown]
# ## 6. Dropout: training with missing pieces
#
# A large network can memorise its training set: units learn to rely on very particular
# partners. Dropout breaks those partnerships. During training it sets each activation to zero
# with probability `p`, a new random choice on every forward pass, so no unit can count on any
# other being present.
#
# Zeroing alone would make the layer's outputs smaller on average during training than at test
# time. **Inverted dropout** fixes that during training: the survivors are divided by `1 - p`.
#
# ```
#   training, p = 0.5
#   x     [ 0.8   1.2   0.3   2.0   0.5   1.1 ]
#   mask  [ 2     0     2     0     0     2   ]     keep (probability 1 - p) / (1 - p)
#   out   [ 1.6   0.0   0.6   0.0   0.0   2.2 ]
#
#   expected value of one output:  (1 - p) · x / (1 - p)  +  p · 0  =  x
#
#   evaluation:  out = x            the input itself: no randomness, no cost
# ```
#
# Because the scaling happens during training, the trained model needs no change at all for
# evaluation — `model.eval()` is enough.
#
# The mask is a constant: multiply by it with the ordinary `*` of module 01. The graph then
# records a `"mul"` op, and module 05's rule for `mul` already sends the gradient back through
# the kept units only (times the same `1 / (1 - p)`). No new backward rule is needed.
#
# Edge cases: `p = 0` keeps everything (return the input itself), `p = 1` drops everything
# (zeros, and no division by zero), and a `p` outside `[0, 1]` is refused when the layer is
# made. The random numbers come from the course-wide generator.

# %% nbgrader={"schema_version": 3, "grade": false, "grade_id": "dropout", "solution": true, "locked": false}
#| export
class Dropout(Module):
    """Zero each element with probability ``p`` during training; scale the rest by 1/(1-p).

    TODO: validate ``p`` in ``__init__``; apply the mask in ``forward`` when training.
    APPROACH:
        ``__init__``: ``p = float(p)``; unless ``0 <= p <= 1`` raise ValueError naming ``p``;
        store ``self.p``.
        ``forward(x)``:
            1. Not training, or ``p == 0``: return ``x`` itself.
            2. ``p == 1``: the mask is all zeros.
            3. Otherwise ``keep = default_generator().random(x.shape, dtype=np.float32) >= p``
               (True with probability ``1 - p``) and ``mask = keep / (1 - p)`` in x's dtype.
            4. ``return x * Tensor(mask)`` — an ordinary "mul" op with a constant.
    EXAMPLE:
        >>> drop, x = Dropout(0.5), Tensor(np.ones(1000, np.float32))
        >>> sorted(set(drop(x).data.tolist()))
        [0.0, 2.0]
        >>> drop.eval()(x) is x
        True
    HINTS:
        - ``keep.astype(x.dtype)`` turns True/False into 1.0/0.0.
        - Scale with a float32 number (``np.float32(1 / (1 - p))``) so the mask stays float32.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        ### BEGIN SOLUTION
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p is the probability of zeroing an element and must be "
                             f"between 0 and 1, got {p}")
        self.p = p
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        ### BEGIN SOLUTION
        x = as_tensor(x)
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            mask = np.zeros(x.shape, dtype=x.dtype)
        else:
            keep = default_generator().random(x.shape, dtype=np.float32) >= self.p
            mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.p))
        return x * Tensor(mask)
        ### END SOLUTION

    def extra_repr(self) -> str:
        return f"p={self.p}"


# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_dropout", "locked": true, "points": 10, "solution": false}
manual_seed(0)
drop = Dropout(0.5)
x = Tensor(np.ones((200, 500), dtype=np.float32))
y = drop(x)
assert y.shape == x.shape and y.dtype == np.float32, f"same shape, float32; got {y.dtype}"
assert set(np.unique(y.data).tolist()) <= {0.0, 2.0}, "with p=0.5 survivors become x / 0.5"
dropped = float((y.data == 0).mean())
assert abs(dropped - 0.5) < 0.01, f"about half should be dropped, got {dropped:.3f}"
assert abs(float(y.data.mean()) - 1.0) < 0.02, "inverted dropout must keep the mean at 1"
assert drop.eval()(x) is x, "in eval mode dropout returns its input itself"
drop.train()
assert Dropout(0.0)(x) is x, "p=0 returns the input itself"
assert not Dropout(1.0)(x).data.any(), "p=1 drops everything"
for bad in (-0.1, 1.5):
    try:
        Dropout(bad)
        raise AssertionError(f"Dropout({bad}) must raise ValueError")
    except ValueError:
        pass
xg = Tensor(np.ones(10, dtype=np.float32), requires_grad=True)
out = Dropout(0.3)(xg)
assert out._node.op == "mul" and out._node.inputs[0] is xg, "dropout is a mul by a mask"
assert not out._node.inputs[1].requires_grad, "the mask is a constant"
### BEGIN HIDDEN TESTS
manual_seed(3)
first = Dropout(0.2)(x).data
manual_seed(3)
assert np.array_equal(first, Dropout(0.2)(x).data), "the mask comes from the seeded generator"
assert np.allclose(np.unique(first), [0.0, 1.25])
assert repr(Dropout(0.2)) == "Dropout(p=0.2)"
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Systems: what a layer costs
#
# ### (a) Parameters and memory
#
# A `Linear(in, out)` holds `in · out` weights and `out` biases, so an MLP with layer sizes
# `n0, n1, ..., nk` has `Σ (n_i · n_{i+1} + n_{i+1})` parameters — 4 bytes each in float32.
# Let us check the formula against what `parameters()` actually counts.

# %%
def mlp(*sizes: int) -> Sequential:
    """Linear layers between consecutive sizes, ReLU between them."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ReLU())
    return Sequential(*layers)


print(f"{'layer sizes':>20} {'formula':>10} {'counted':>10} {'float32':>10} "
      f"{'+ grads + Adam':>15} {'first layer':>12}")
for sizes in [(784, 128, 10), (784, 256, 128, 10)]:
    model = mlp(*sizes)
    formula = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    counted = sum(p.size for p in model.parameters())
    nbytes = sum(p.data.nbytes for p in model.parameters())
    assert counted == formula, (counted, formula)
    first = model[0].weight.size + model[0].bias.size
    print(f"{'-'.join(map(str, sizes)):>20} {formula:>10,} {counted:>10,} "
          f"{nbytes / 1024:>7.0f} KiB {4 * nbytes / 1024:>11.0f} KiB {first / counted:>11.1%}")

batch = 128
for sizes in [(784, 128, 10), (784, 256, 128, 10)]:
    act = batch * sum(sizes) * 4
    print(f"layer inputs and outputs of one batch of {batch} through "
          f"{'-'.join(map(str, sizes))}: {act / 1024:.0f} KiB (at least)")

# %% [markdown]
# The formula and the count agree: 101,770 parameters (398 KiB) for 784-128-10, and 235,146
# (919 KiB) for 784-256-128-10. Three things to notice:
#
# - **The first layer is almost everything.** 784 inputs times the first hidden width dominate;
#   widening the *first* hidden layer is what makes an MLP on images expensive.
# - **Training needs several copies.** Each parameter gets a gradient of the same size, and Adam
#   (module 06) keeps two running averages per parameter: four times the model, before counting
#   activations.
# - **Activations scale with the batch**, parameters do not. The backward pass needs each
#   layer's input, so they are kept until it runs. For these small models a batch of 128 costs
#   memory of the same order as the weights; for large models and large batches, activations
#   are usually what runs out of memory first.
#
# ### (b) FLOPs against measured time
#
# A `Linear(in, out)` on a batch of `N` does `N · in · out` multiply-adds: `2·N·in·out` floating
# point operations (FLOPs), plus `N · out` for the bias. Dividing by the measured time gives the
# rate the machine achieved. We time the fused `linear` for a few batch sizes, taking the best of
# five rounds to reduce noise from other programs.

# %%
import time

layer = Linear(784, 128)
print(f"{'batch N':>8} {'GFLOP per call':>15} {'time per call':>14} {'GFLOP/s':>9} "
      f"{'FLOP per byte':>14}")
for n in (1, 8, 64, 512):
    x = randn(n, 784)
    flops = 2 * n * 784 * 128 + n * 128
    reps = max(3, min(2000, int(1e8 / flops)))
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            layer(x)
        best = min(best, (time.perf_counter() - t0) / reps)
    moved = 4 * (784 * 128 + 128 + n * 784 + n * 128)      # bytes read and written, at least
    print(f"{n:>8} {flops / 1e9:>15.5f} {best * 1e6:>11.1f} us {flops / best / 1e9:>9.2f} "
          f"{flops / moved:>14.1f}")

# %% [markdown]
# Look at the last column first: the *arithmetic intensity*, FLOPs per byte of memory that
# must be moved. With `N = 1` the layer reads all 100,352 weights (392 KiB) to do only two
# FLOPs with each, and the fixed cost of a Python call and of `record_op` (a few microseconds)
# is comparable to the arithmetic; the processor mostly waits. With `N = 512` every weight
# fetched into the cache is used 512 times, and numpy's BLAS can keep its vector units busy.
# On a quiet machine the achieved GFLOP/s therefore climbs several-fold from `N = 1` to a
# batch of a few dozen, then levels off near what the cores can do. This is why we train on
# mini-batches: per sample, one batch of 64 costs far less than 64 single samples.
#
# Timings are noisy when other programs compete for the cores — multi-threaded BLAS is
# especially sensitive to that — so if a row looks wrong, run the cell again and compare the
# trend, not single numbers.
#
# ### (c) Why `linear` is one fused op
#
# The same layer composed from module 01's ops, `x @ weight.T + bias`, records three nodes. The
# fused op records one. Let us count, and time the forward pass of both.

# %%
def count_nodes(t: Tensor) -> int:
    """Number of recorded ops in the graph that produced ``t``."""
    seen, stack = set(), [t]
    while stack:
        node = stack.pop()._node
        if node is not None and id(node) not in seen:
            seen.add(id(node))
            stack.extend(node.inputs)
    return len(seen)


x = randn(128, 784)
composed = x @ layer.weight.T + layer.bias
fused = linear(x, layer.weight, layer.bias)
assert np.allclose(composed.data, fused.data, atol=1e-5)
print("ops recorded, composed:", count_nodes(composed), "  fused:", count_nodes(fused))
for label, fn in [("composed", lambda: x @ layer.weight.T + layer.bias),
                  ("fused", lambda: linear(x, layer.weight, layer.bias))]:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(50):
            fn()
        best = min(best, (time.perf_counter() - t0) / 50)
    print(f"{label:>9} forward: {best * 1e6:8.1f} us")

# %% [markdown]
# The forward passes do the same matrix product, so their times differ by little more than
# what the fused version saves: a temporary `(N, out)` array and two Python-level ops. The real
# gain is in the **backward pass** of module 05, and in memory:
#
# - **Fewer nodes.** The engine visits one node per layer instead of three, and keeps one
#   output alive instead of two (the composed graph holds the `(N, out)` product before the
#   bias as well as the sum).
# - **Less work.** The rule for `"linear"` computes `grad_weight = gᵀ · x` directly in the
#   `(out, in)` layout of the weight, and `grad_bias` as one sum of `g` over the batch rows.
#   The composed graph reaches the same numbers in more steps: the matmul rule produces the
#   weight's gradient as `(in, out)` and the transpose node turns it back, and the add rule
#   hands a full `(N, out)` gradient to the engine's generic broadcast reduction for the bias.
#   For `(..., in)` inputs the fused rule flattens everything into one matrix product.
# - **Only what is needed.** `grad_x = g · W` is a matrix product as big as the forward one,
#   and the first layer never needs it: its input is the data, which does not require a
#   gradient. The rule reads `needs` and skips it — about a third of that layer's backward.
#   (Module 05's matmul rule does the same; with one node per layer the check happens once.)
#
# PyTorch makes the same choice: its `nn.Linear` calls one fused `addmm` kernel.
#
# ### (d) One BLAS thread or two?
#
# numpy hands matrix products to a BLAS library, which may split one product across several
# threads. Whether that pays depends on the size of the product and on what else the machine
# is doing: each call must wake the threads, divide the work and wait for the slowest. The
# thread count is fixed when numpy is loaded, so we measure in fresh Python processes, one per
# setting.

# %%
import os
import subprocess
import sys

probe = """
import time
import numpy as np
rng = np.random.default_rng(0)
for n, k, m in ((128, 784, 256), (128, 256, 128), (2048, 784, 1024)):
    a = rng.standard_normal((n, k), dtype=np.float32)
    w = rng.standard_normal((m, k), dtype=np.float32)
    reps = max(3, int(2e8 / (2 * n * k * m)))
    samples = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ w.T
        samples.append((time.perf_counter() - t0) / reps)
    print(f"{n}x{k} @ {k}x{m}", sorted(samples)[len(samples) // 2])
"""
timings = {}
for threads in (1, 2):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        shape, seconds = line.rsplit(" ", 1)
        timings.setdefault(shape, {})[threads] = float(seconds)
print(f"{'product (median of 7)':>22} {'1 thread':>10} {'2 threads':>10} {'2 vs 1':>7}")
for shape, t in timings.items():
    print(f"{shape:>22} {t[1] * 1e6:>7.0f} us {t[2] * 1e6:>7.0f} us {t[1] / t[2]:>6.2f}x")

# %% [markdown]
# On a quiet machine a second thread makes a single product up to twice as fast. A training
# step, though, is more than its products — softmax, ReLU masks, optimizer updates, Python
# bookkeeping — so whole epochs gain much less. And when the cores are already busy, BLAS
# threads end up waiting for each other. `benchmarks/threads.py` measures whole epochs of the
# 784-256-128-10 MLP with Adam (see `benchmarks/RESULTS.md`): on a quiet two-core machine two
# threads gained between nothing and a quarter of the time; on the same machine with three
# other busy programs, two threads made each epoch about four times *slower* than one did.
#
# A student's laptop is rarely quiet, so the milestones run numpy with one BLAS thread unless
# you set `OPENBLAS_NUM_THREADS` yourself: a little slower at best, never much slower. Timings
# vary from machine to machine: compare the columns, not single numbers.

# %% [markdown]
# ## 8. Module test
#
# Everything together: the MLP of the MNIST milestone, with dropout, checked for names,
# counts, modes, determinism and a save/load round trip.

# %% nbgrader={"schema_version": 3, "grade": true, "grade_id": "test_module_layers", "locked": true, "points": 10, "solution": false}
manual_seed(42)
model = Sequential(Linear(784, 128), ReLU(), Dropout(0.2), Linear(128, 10))
names = [n for n, _ in model.named_parameters()]
assert names == ["0.weight", "0.bias", "3.weight", "3.bias"], f"parameter names: {names}"
assert sum(p.size for p in model.parameters()) == 101_770, "784-128-10 has 101,770 parameters"
x = randn(16, 784)
model.eval()
logits = model(x)
assert logits.shape == (16, 10) and logits.dtype == np.float32, \
    f"expected (16, 10) float32 logits, got {logits.shape} {logits.dtype}"
assert logits._node.op == "linear" and logits._node.inputs[1] is model[3].weight, \
    "the last op should be the second Linear"
assert np.array_equal(model(x).data, logits.data), "in eval mode the model is deterministic"
model.train()
assert not np.array_equal(model(x).data, logits.data), "in training mode dropout is active"
twin = Sequential(Linear(784, 128), ReLU(), Dropout(0.2), Linear(128, 10))
twin.load_state_dict(model.state_dict())
assert np.array_equal(twin.eval()(x).data, logits.data), "a loaded twin must predict the same"
model.zero_grad()
assert all(p.grad is None for p in model.parameters())
print(model)
print("Module 03 complete: layers work.")

# %% [markdown]
# ## Summary
#
# You built the layer machinery a training loop needs:
#
# - `Parameter`, a `Tensor` that a model owns and trains.
# - `Module`, which finds parameters and sub-modules through `__setattr__`, names them with
#   dotted paths (tied weights once), switches the whole tree between `train()` and `eval()`,
#   clears gradients, and saves and restores itself with `state_dict()` / `load_state_dict()` —
#   in place, with errors that name the key and the shapes.
# - `linear`, the affine map recorded as one fused op, and `Linear` on top of it, initialised
#   with Kaiming-uniform weights chosen from a variance argument and confirmed by experiment.
# - `Sequential` for chains of layers, and inverted `Dropout`, which is free at evaluation time.
#
# You measured that a 784-128-10 MLP holds 101,770 parameters (398 KiB), almost all in its
# first layer, that training multiplies that memory several times, and that a linear layer's
# FLOP rate grows several-fold from one sample to a batch of hundreds.
#
# **Next:** module 04 turns the model's outputs into a single number that says how wrong they
# are — the loss — which module 05 will then differentiate. Run `tito module complete 03` to
# export your layers into the `tinytorch` package.
