"""A student who finished only modules 01..k-1 can import tinytorch and use them; anything from
module k or later raises an error that names the module and the command that completes it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import copy_package, run_python
from tito import course

PROBE = r"""
import importlib, json, sys
report = {"import": None, "earlier": {}, "later": {}}
try:
    import tinytorch
    report["import"] = "ok"
except BaseException as err:
    report["import"] = f"{type(err).__name__}: {err}"
    print(json.dumps(report)); sys.exit()
from tinytorch._course import EXPORTS
params = json.loads(PARAMS)
for target in params["earlier"]:
    try:
        mod = importlib.import_module("tinytorch." + target)
        names = [n for n, t in EXPORTS.items() if t == target]
        for n in names:
            assert getattr(tinytorch, n) is getattr(mod, n), n
        report["earlier"][target] = "ok"
    except BaseException as err:
        report["earlier"][target] = f"{type(err).__name__}: {err}"
for target in params["later"]:
    outcomes = []
    names = [n for n, t in EXPORTS.items() if t == target]
    attempts = [("import tinytorch." + target, None)]
    if names:
        attempts.append((f"from tinytorch.{target} import {names[0]}", None))
        attempts.append((None, names[-1]))
    for statement, name in attempts:
        try:
            if statement:
                exec(statement, {})
            else:
                getattr(tinytorch, name)
            outcomes.append([statement or "tinytorch." + name, None, None])
        except BaseException as err:
            outcomes.append([statement or "tinytorch." + name, type(err).__name__, str(err)])
    report["later"][target] = outcomes
print(json.dumps(report))
"""

CUTS = list(range(len(course.MODULES)))


@pytest.mark.parametrize("cut", CUTS, ids=[f"without_{course.MODULES[k].number}_on"
                                           for k in CUTS])
def test_partial_package(tmp_path: Path, cut: int):
    root = copy_package(tmp_path)
    pkg = root / "tinytorch"
    earlier, later = course.MODULES[:cut], course.MODULES[cut:]
    for m in later:
        for target in m.targets:
            pkg.joinpath(*target.split(".")).with_suffix(".py").unlink(missing_ok=True)
    present = [t for m in earlier for t in m.targets
               if pkg.joinpath(*t.split(".")).with_suffix(".py").exists()]
    params = {"earlier": present, "later": [t for m in later for t in m.targets]}
    r = run_python(f"PARAMS = {json.dumps(json.dumps(params))}\n" + PROBE, root)
    assert r.returncode == 0, (r.stderr.strip().splitlines() or ["no output"])[-1]
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["import"] == "ok", report["import"]
    for target, outcome in report["earlier"].items():
        assert outcome == "ok", f"tinytorch.{target} from a finished module: {outcome}"
    for m in later:
        for target in m.targets:
            for what, kind, message in report["later"][target]:
                assert kind is not None, f"{what} worked although module {m.number} is not done"
                assert f"module {m.number}" in message, f"{what}: {message}"
                assert f"tito module complete {m.number}" in message, f"{what}: {message}"
                assert kind in ("ModuleNotCompletedError", "ImportError",
                                "ModuleNotFoundError"), f"{what}: {kind}"
