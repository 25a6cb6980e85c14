"""The grading side's reading of a submission's code (tito.tamper): attacks flagged, honest
solutions of every module left alone."""
from __future__ import annotations

import pytest

from tito import course, grading, tamper

ATTACKS = {
    "get_ipython().ast_transformers.append(T())": "ast_transformers",
    "import numpy as np\nnp.allclose = lambda *a, **k: True": "rebinds np.allclose",
    "import numpy\nnumpy.testing.assert_allclose = print": "rebinds numpy.testing",
    "from tinytorch.core.tensor import Tensor\nTensor.__add__ = lambda a, b: a": "rebinds Tensor",
    "from tinytorch.core.tensor import Tensor\nTensor.eq = lambda a, b: True": "rebinds Tensor.eq",
    "import tinytorch\nsetattr(tinytorch.Tensor, '__float__', lambda t: 1.0)":
        "rebinds an attribute of tinytorch",
    "from tinytorch.core import tensor\ntensor.allclose = lambda *a, **k: True":
        "rebinds tensor.allclose",
    "from tinytorch.core import tensor\ntensor.one_hot = lambda *a, **k: None":
        "rebinds tensor.one_hot",
    "from tinytorch.core import dataloader\ndataloader.random_split = print":
        "rebinds dataloader.random_split",
    "from tinytorch.core.losses import CrossEntropyLoss\nCrossEntropyLoss.forward = print":
        "rebinds CrossEntropyLoss.forward",
    "import numpy as np\nsetattr(np, 'isclose', print)": "rebinds an attribute of numpy",
    "m = __import__('nu' + 'mpy')": "__import__",
    "import builtins\nbuiltins.AssertionError = KeyError": "imports builtins",
    "print(In[-1])": "reads the cells' source",
    "import inspect\nsrc = inspect.stack()": "imports inspect",
    "import sys\nf = sys._getframe(1)": "inspects the caller's frames",
    "import sys\nsys.settrace(print)": "trace function",
    "exec(open('x.py').read())": "exec",
    "import os\nos._exit(0)": "ends the kernel",
    "import sys\nsys.modules['_tinytorch_' + 'guard'] = None": "sys.modules",
    "%load_ext something": "get_ipython",
    "import sqlite3": "sqlite3",
    "import numpy as np\nnp.__dict__['allclose'] = print": "rebinds np.__dict__",
    "import numpy as np\nvars(np)['allclose'] = print": "namespace of numpy",
}


@pytest.mark.parametrize("code", list(ATTACKS), ids=list(ATTACKS.values()))
def test_each_attack_is_named(code):
    found = tamper.findings([code])
    assert any(ATTACKS[code] in f for f in found), found


def test_own_classes_and_plain_numpy_are_not_tampering():
    code = ("import numpy as np\nclass Box:\n    pass\nb = Box()\nb.value = np.zeros(3)\n"
            "self_data = np.ones(2)\nx = np.log(self_data)")
    assert tamper.findings([code]) == []


def test_unparsable_code_is_left_to_fail_on_its_own():
    assert tamper.findings(["def broken(:\n    pass"]) == []


MODULES = [m for m in course.MODULES if m.source().is_file()]


@pytest.mark.parametrize("module", MODULES, ids=[m.folder for m in MODULES])
def test_no_honest_solution_is_flagged(module):
    """The reference solutions are what a good student writes: none may look like tampering."""
    nb = grading.source_notebook(module)
    solutions = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert solutions, f"{module.folder} has no solution cells"
    assert tamper.findings(solutions) == []


def test_a_hand_in_sends_its_own_files_to_the_worker_but_no_link_out(tmp_path):
    """A symlink in a hand-in folder (to the gradebook, say) must not carry that file into the
    sandbox; ordinary data files go with the task."""
    from tito import autograde

    module = course.get_module("01")
    folder = tmp_path / "submitted" / "mallory" / grading.assignment_id(module)
    folder.mkdir(parents=True)
    (folder / grading.notebook_name(module)).write_text("{}", encoding="utf-8")
    (folder / "data.csv").write_text("1,2\n", encoding="utf-8")
    secret = tmp_path / "gradebook.db"
    secret.write_text("answers", encoding="utf-8")
    (folder / "link.db").symlink_to(secret)
    files = autograde.submission_files(tmp_path, module, "mallory")
    assert sorted(files) == ["data.csv"], files
