"""Start an IPython kernel for grading, with a watch on the test harness.

This file runs inside the sandbox (mounted read-only at /sbx/boot.py) before any student code.
It imports what the tests rely on, photographs it, installs an audit hook (which no later code
can remove) for traces, ctypes and frame or heap walks, and then starts ipykernel. The grading client asks, after every cell, what changed:

    user_expressions = {"guard": "__import__('_tinytorch_guard').report()"}

A student can still defeat this from inside the kernel with enough effort; the grading side
therefore also reads the submission's source for the same attacks, and either finding puts the
submission up for review. Nothing here decides a score.
"""
import builtins
import json
import sys
import types

_EVENTS = []
_WATCHED_EVENTS = {"sys.settrace", "sys.setprofile", "sys.addaudithook", "ctypes.dlopen",
                   "ctypes.dlsym", "ctypes.cdata", "ctypes.call_function", "code.__new__",
                   "function.__new__", "gc.get_referrers", "sys._current_frames", "os.fork",
                   "os.kill", "signal.pthread_kill"}
_append = _EVENTS.append
_len = len


_ARMED = []


def _hook(event, args):
    if not _ARMED:  # the kernel's own start-up is not the student's doing
        return
    if event in _WATCHED_EVENTS and _len(_EVENTS) < 200:
        _append(event)


sys.addaudithook(_hook)

import numpy  # noqa: E402  (photographed below, before any student code runs)
import numpy.testing  # noqa: E402


def _grading_package():
    """Import every module of the grading package, so its functions are photographed too."""
    import importlib
    import pkgutil

    try:
        import tinytorch
    except Exception:  # noqa: BLE001 - no package (module 01 is graded against nothing)
        return
    for info in pkgutil.walk_packages(tinytorch.__path__, "tinytorch."):
        try:
            importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - unfinished modules raise by design
            pass


_grading_package()


def _snapshot_module(mod):
    """ids of a module's functions, classes and submodules, and of its own classes' members."""
    out = {}
    for name, value in list(vars(mod).items()):
        if name.startswith("__") or not (callable(value) or isinstance(value, types.ModuleType)):
            continue
        out[name] = id(value)
        if isinstance(value, type) and getattr(value, "__module__", "") == mod.__name__:
            for attr, member in list(vars(value).items()):
                if callable(member) or isinstance(member, (property, staticmethod, classmethod)):
                    out[f"{name}.{attr}"] = id(member)
    return out


def _watched_modules():
    names = ["builtins", "numpy", "numpy.testing", "math", "sys", "warnings"]
    names += sorted(n for n in sys.modules if n == "tinytorch" or n.startswith("tinytorch."))
    return [sys.modules[n] for n in names if n in sys.modules]


def _shell_hooks():
    from IPython import get_ipython

    ip = get_ipython()
    if ip is None:
        return {}
    out = {
        "ast_transformers": [id(t) for t in ip.ast_transformers],
        "input_transformers_post": [id(t) for t in ip.input_transformers_post],
        "input_transformers_cleanup": [id(t) for t in
                                       ip.input_transformer_manager.cleanup_transforms],
        "input_transformers_line": [id(t) for t in ip.input_transformer_manager.line_transforms],
        # matplotlib's inline backend registers its own callback when pyplot is first used.
        "events": {k: [id(f) for f in v if not _trusted(f)]
                   for k, v in ip.events.callbacks.items()},
        # Methods the shell keeps on itself (ipykernel puts _showtraceback there): by identity.
        "instance": {k: id(v) for k, v in vars(ip).items() if callable(v)
                     and not isinstance(v, type)},
        "excepthook": id(sys.excepthook),
        "trace": id(sys.gettrace()), "profile": id(sys.getprofile()),
        "meta_path": [id(f) for f in sys.meta_path],
        "displayhook": id(sys.displayhook),
    }
    kernel = getattr(ip, "kernel", None)
    if kernel is not None:
        out["kernel"] = {k: id(v) for k, v in vars(kernel).items() if callable(v)
                         and not isinstance(v, type)}
    return out


def _trusted(f) -> bool:
    mod = getattr(f, "__module__", "") or getattr(getattr(f, "__func__", None), "__module__", "")
    return mod.startswith(("matplotlib", "ipykernel.", "IPython."))


_BASE = {}


def report():
    """JSON: what differs from the photograph taken before the first cell, and audit events."""
    if not _BASE:
        _BASE["modules"] = {m.__name__: _snapshot_module(m) for m in _watched_modules()}
        _BASE["shell"] = _shell_hooks()
        _ARMED.append(True)
        return json.dumps({"changes": [], "events": list(_EVENTS)})
    changes = []
    for name, before in _BASE["modules"].items():
        mod = sys.modules.get(name)
        if mod is None:
            changes.append(f"module {name} removed from sys.modules")
            continue
        now = _snapshot_module(mod)
        for key, ident in before.items():
            if now.get(key) != ident:
                changes.append(f"{name}.{key} replaced")
                if len(changes) > 20:
                    break
    shell_now = _shell_hooks()
    for key, value in _BASE["shell"].items():
        if shell_now.get(key) != value:
            changes.append(f"IPython/sys hook changed: {key}")
    return json.dumps({"changes": changes, "events": list(_EVENTS)})


sys.modules["_tinytorch_guard"] = types.ModuleType("_tinytorch_guard")
sys.modules["_tinytorch_guard"].report = report
del builtins

if __name__ == "__main__":
    sys.argv[0] = "ipykernel_launcher"
    sys.path[:] = [p for p in sys.path if p not in ("", "/sbx")]
    from ipykernel.kernelapp import launch_new_instance

    launch_new_instance()
