"""Every module source, as a notebook in a real Jupyter kernel.

a. With solutions, the notebook runs top to bottom without an error (so every graded cell passes).
b. With the solutions stripped by nbgrader's own preprocessors (the student edition), every
   graded cell fails. A graded test that passes on the stubs cannot tell work from no work.

The modules come from the course map, so a module source added later is tested automatically.
These tests are marked ``slow`` only, not with a module marker: they run the instructor's sources,
so ``tito module test NN`` (a student's code) must not select them. ``-k 01`` picks one module.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import REPO
from tito import course, lint

CELL_TIMEOUT = 300  # seconds per cell; the longest cells train a small network


def _params():
    for m in course.MODULES:
        marks = [pytest.mark.slow]
        if not m.source(REPO).exists():
            marks.append(pytest.mark.skip(reason=f"modules/{m.folder} has no source yet"))
        yield pytest.param(m, id=m.number, marks=marks)


MODULES = list(_params())


def _notebook(module: course.Module):
    import jupytext

    nb = jupytext.read(module.source(REPO))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _execute(nb, workdir: Path, allow_errors: bool):
    from nbclient import NotebookClient

    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            allow_errors=allow_errors,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute(env=env)


def _where(module: course.Module, index: int, cell) -> str:
    """``modules/NN_x/x.py:LINE (grade_id)`` for a cell, as tito lint names it."""
    lines = [c.line for c in lint.cells_with_lines(module.source(REPO))]
    gid = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"{module.source(Path('.')).as_posix()}:{lines[index]}" + (f" ({gid})" if gid else "")


def _error(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out['ename']}: {out['evalue']}"
    return None


def _graded(nb):
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("grade") is True]


@pytest.mark.parametrize("module", MODULES)
def test_notebook_runs_with_solutions(module: course.Module, tmp_path: Path):
    from nbclient.exceptions import CellExecutionError

    nb = _notebook(module)
    try:
        _execute(nb, tmp_path, allow_errors=False)
    except CellExecutionError:
        pass  # the failing cell holds the error output; report it below, without the noise
    failed = [(i, c) for i, c in enumerate(nb.cells) if _error(c)]
    if failed:
        i, cell = failed[0]
        pytest.fail(f"{_where(module, i, cell)} fails with the solutions in: {_error(cell)}",
                    pytrace=False)
    graded = _graded(nb)
    assert graded, f"module {module.number} has no graded cells"
    for i, cell in graded:
        assert cell.get("execution_count") is not None, f"{_where(module, i, cell)} did not run"
        assert _error(cell) is None


@pytest.mark.parametrize("module", MODULES)
def test_every_graded_cell_fails_on_the_student_edition(module: course.Module, tmp_path: Path):
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    nb = _notebook(module)
    nb, resources = ClearSolutions().preprocess(nb, {})
    nb, resources = ClearHiddenTests().preprocess(nb, resources)
    assert any("NotImplementedError" in c.source for c in nb.cells), "nothing was stripped"
    _execute(nb, tmp_path, allow_errors=True)
    graded = _graded(nb)
    assert graded, f"module {module.number} has no graded cells"
    passing = [_where(module, i, c) for i, c in graded if _error(c) is None]
    assert not passing, ("these graded cells pass on the stubs, so they cannot fail a student "
                         "who wrote nothing: " + ", ".join(passing))
