"""The sandboxed worker on its own (tito.grade_worker.run_task): what the kernel can see and do,
and what the worker reports. The end-to-end version, through nbgrader, is
tests/test_grading_adversarial.py."""
from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tito import course, grade_worker

from test_grading_adversarial import sandbox_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.grading]


def run(*cells, graded=(), package=None, timeout=10):
    sandbox_or_skip()
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    for i in graded:
        nb.cells[i].metadata["nbgrader"] = {"grade": True, "grade_id": f"t{i}", "points": 1}
    result = grade_worker.run_task({"notebook": nbformat.writes(nb), "timeout": timeout,
                                    "max_output_bytes": 2000, "package": package,
                                    "files": {"data.txt": "aGVsbG8="}})
    assert "error" not in result, result
    out = nbformat.reads(result["notebook"], 4)
    texts = ["".join(o.get("text", "") + o.get("evalue", "") for o in c.outputs)
             for c in out.cells]
    return texts, out, result["report"]


def test_the_kernel_sees_its_copy_and_the_package_and_nothing_of_ours():
    pkg = {"tinytorch/__init__.py": "VALUE = 41\n"}
    texts, _, report = run(
        "import os\nprint(sorted(os.listdir('.')), open('data.txt').read())",
        "import tinytorch\nprint(tinytorch.VALUE + 1)",
        f"print(os.path.exists({str(grade_worker.__file__)!r}), os.path.exists('/etc/passwd'))",
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 80), timeout=1)\n"
        "except OSError:\n    print('offline')",
        package=pkg)
    assert texts[0].strip() == "['data.txt'] hello"
    assert texts[1].strip() == "42"
    assert texts[2].strip() == "False False"
    assert texts[3].strip() == "offline"
    assert report["changes"] == [] and report["events"] == [] and report["restarts"] == []


def test_outputs_are_cut_and_warnings_do_not_fail_graded_cells():
    texts, out, report = run("print('x' * 50_000)",
                             "import warnings\nwarnings.warn('heads up')", graded=[1])
    assert len(texts[0]) < 2200 and "output cut" in texts[0]
    assert report["truncated"] == [0]
    assert all(o.get("name") != "stderr" for o in out.cells[1].outputs), out.cells[1].outputs


def test_a_dead_kernel_is_restarted_with_the_earlier_cells_replayed():
    texts, out, report = run("x = 5", "import os\nos._exit(1)", "print(x * 2)")
    assert out.cells[1].outputs[0]["ename"] == "DeadKernelError"
    assert texts[2].strip() == "10"
    assert report["restarts"] == ["the kernel died in cell 1"]


def test_a_cell_that_ignores_interrupts_times_out_and_grading_goes_on():
    texts, out, report = run(
        "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n"
        "    except KeyboardInterrupt:\n        pass", "print('next')", timeout=3)
    assert out.cells[0].outputs[-1]["ename"] == "CellTimeoutError"
    assert texts[1].strip() == "next"


@pytest.mark.parametrize("attack, finding", [
    ("import numpy as np\nnp.allclose = lambda *a, **k: True", "numpy.allclose replaced"),
    ("import ast\nclass T(ast.NodeTransformer):\n    pass\n"
     "get_ipython().ast_transformers.append(T())", "ast_transformers"),
    ("import builtins\nbuiltins.AssertionError = KeyError", "builtins.AssertionError"),
    ("get_ipython()._showtraceback = lambda *a, **k: None", "instance"),
])
def test_the_guard_sees_the_harness_change(attack, finding):
    _, _, report = run("import numpy as np", attack, "print(1)")
    assert any(finding in c for c in report["changes"]), report


def test_the_guard_sees_a_trace_function_and_a_patched_class():
    pkg = {"tinytorch/__init__.py": "class Tensor:\n    def add(self):\n        return 1\n"}
    _, _, report = run("import sys\nsys.settrace(None)",
                       "import tinytorch\ntinytorch.Tensor.add = lambda self: 2", package=pkg)
    assert "sys.settrace" in report["events"], report
    assert any("tinytorch.Tensor.add replaced" in c for c in report["changes"]), report


def test_the_guard_sees_the_real_tensors_conversions_and_comparisons_replaced():
    """The grading package's own Tensor: float(), f-strings, .eq(), .all() and the package's
    allclose() can be bent to make a check pass; replacing any of them is a change the guard
    reports."""
    from tito import autograde

    package = autograde.grading_package(course.get_module("05"))
    _, _, report = run("from tinytorch.core import tensor\n"
                       "from tinytorch.core.tensor import Tensor",
                       "Tensor.__float__ = lambda t: 1.0\nTensor.eq = lambda a, b: True\n"
                       "Tensor.__format__ = lambda t, spec: 'ok'\n"
                       "Tensor.all = lambda t, *a, **k: Tensor(True)\n"
                       "Tensor.topk = lambda t, *a, **k: (t, t)\n"
                       "tensor.one_hot = lambda *a, **k: Tensor(1)\n"
                       "tensor.allclose = lambda *a, **k: True", package=package)
    for member in ("Tensor.__float__", "Tensor.eq", "Tensor.__format__", "Tensor.all",
                   "Tensor.topk", "one_hot", "allclose"):
        assert any(f"tinytorch.core.tensor.{member} replaced" in c for c in report["changes"]), \
            report


def test_the_guard_sees_the_given_pytorch_helpers_replaced():
    """Module 08's checks train with CrossEntropyLoss, Subset-style datasets and norms; a
    submission that bends the given loss, split or norm is reported, name by name."""
    from tito import autograde

    package = autograde.grading_package(course.get_module("08"))
    _, _, report = run("from tinytorch.core import dataloader, losses\n"
                       "from tinytorch.core.tensor import Tensor",
                       "losses.CrossEntropyLoss.forward = lambda self, z, y: z.sum() * 0\n"
                       "losses._label_smoothed_cross_entropy = lambda *a, **k: None\n"
                       "dataloader.random_split = lambda ds, lengths, generator=None: [ds]\n"
                       "Tensor.norm = lambda t, *a, **k: Tensor(0.0)", package=package)
    for name in ("losses.CrossEntropyLoss.forward", "losses._label_smoothed_cross_entropy",
                 "dataloader.random_split", "tensor.Tensor.norm"):
        assert any(f"tinytorch.core.{name} replaced" in c for c in report["changes"]), \
            (name, report["changes"])


MODULES = [m for m in __import__("tito.course", fromlist=["MODULES"]).MODULES
           if m.source().is_file()]


@pytest.mark.parametrize("module", MODULES, ids=[m.folder for m in MODULES])
def test_an_honest_notebook_runs_clean_in_the_sandbox(module):
    """Each module's instructor notebook, against the package of the modules before it: every
    graded cell passes, and the guard sees nothing (no false alarm on honest work)."""
    from tito import autograde, grading

    sandbox_or_skip()
    nb = grading.source_notebook(module)
    result = grade_worker.run_task({"notebook": nbformat.writes(nb), "timeout": 300,
                                    "package": autograde.grading_package(module),
                                    "package_data": autograde.package_data()})
    assert "error" not in result, result
    report = result["report"]
    assert report["changes"] == [] and report["events"] == [], report
    assert report["restarts"] == [], report
    out = nbformat.reads(result["notebook"], 4)
    failed = [c.metadata["nbgrader"]["grade_id"] for c in out.cells
              if c.metadata.get("nbgrader", {}).get("grade")
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert failed == [], failed
