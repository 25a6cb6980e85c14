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
