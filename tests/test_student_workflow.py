"""The student edition and `tito module start/test/complete/status/reset`, end to end.

An instructor copy holding only the first module is released into a temporary folder; every
command then runs as a student would run it: the edition's own tito, in the edition's folder.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from helpers import REPO, copy_repo, run_python, run_tito
from tito import course, progress, student
from tito.edition import leaks as edition_leaks

pytestmark = pytest.mark.slow

FIRST = course.MODULES[0]
SECOND = course.MODULES[1]
BEGIN, END = student.BEGIN_SOLUTION, student.END_SOLUTION
HIDDEN_BEGIN, HIDDEN_END = student.BEGIN_HIDDEN, student.END_HIDDEN

# Selection probes: what `test` and `complete` must run, and what they must never run.
PROBES = '''\
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.{first}
@pytest.mark.{second}
def test_a_later_modules_test_never_runs_early():
    raise AssertionError("this test carries the marker of a module that is not complete")


@pytest.mark.integration
@pytest.mark.{first}
def test_integration_of_completed_modules_runs():
    (ROOT / ".tinytorch" / "integration-ran").write_text("yes", encoding="utf-8")


@pytest.mark.integration
@pytest.mark.{first}
@pytest.mark.{second}
def test_integration_spanning_a_later_module_never_runs():
    raise AssertionError("this integration test spans a module that is not complete")
'''

# Used only while the repository has no tests marked for the first module.
STAND_IN = '''\
import numpy as np
import pytest

from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.{first}


def test_tensor_keeps_float32():
    assert Tensor([1, 2]).dtype == np.float32, "Python numbers should become float32"


def test_add_broadcasts():
    out = Tensor([[1.0], [2.0]]) + Tensor([10.0, 20.0])
    assert out.data.tolist() == [[11, 21], [12, 22]], "(2, 1) + (2,) should broadcast"
'''


def regions(text: str, begin: str, end: str) -> list[str]:
    """Stripped lines inside the begin/end regions of a source."""
    inside, lines = False, []
    for line in text.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


SOURCE_TEXT = FIRST.source(REPO).read_text(encoding="utf-8")
# Distinctive answer lines: long enough not to occur by chance, and never shown outside an answer.
OUTSIDE = set(regions(f"{END}\n{SOURCE_TEXT}", END, BEGIN)) & set(
    regions(f"{HIDDEN_END}\n{SOURCE_TEXT}", HIDDEN_END, HIDDEN_BEGIN))
SOLUTION_LINES = [s for s in regions(SOURCE_TEXT, BEGIN, END) if len(s) >= 40 and s not in OUTSIDE]
HIDDEN_LINES = [s for s in regions(SOURCE_TEXT, HIDDEN_BEGIN, HIDDEN_END)
                if len(s) >= 30 and s not in OUTSIDE]


def text_files(root: Path):
    for f in sorted(root.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            try:
                yield f, f.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue


def assert_no_answers(root: Path) -> None:
    assert SOLUTION_LINES and HIDDEN_LINES, "the first module should have answers to hide"
    for f, text in text_files(root):
        where = f.relative_to(root).as_posix()
        for d in student.DELIMITERS:
            assert d not in text, f"{where} contains the nbgrader delimiter {d!r}"
        # line by line: a docstring may quote an answer's idea, no file may hold its code
        if f.suffix == ".ipynb":
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
        lines = {line.strip() for line in text.splitlines()}
        for s in SOLUTION_LINES:
            assert s not in lines, f"{where} contains the solution line {s!r}"
        if where.startswith("modules/") or where.startswith("tinytorch/"):
            for s in HIDDEN_LINES:
                assert s not in lines, f"{where} contains the hidden test line {s!r}"


def tito(root: Path, *args: str):
    """The copy's own tito, run from inside the copy, as its student would run it."""
    return run_tito(*args, cwd=root, env=dict(os.environ, PYTHONPATH=str(root), MPLBACKEND="Agg"))


def fill_in_solutions(notebook: Path) -> None:
    """Write the instructor's answers into the student's notebook, cell by cell."""
    import jupytext
    import nbformat

    answers = {}
    for cell in jupytext.read(FIRST.source(REPO), fmt="py:percent").cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            answers[meta["grade_id"]] = "\n".join(
                line for line in cell.source.splitlines() if BEGIN not in line and END not in line)
    nb = nbformat.read(notebook, as_version=4)
    filled = 0
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
            filled += 1
    assert filled == len(answers), "every solution cell should be in the student's notebook"
    nbformat.write(nb, notebook)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A student edition released from an instructor copy that holds only the first module."""
    base = tmp_path_factory.mktemp("release")
    instructor = copy_repo(base / "instructor",
                           ("tito", "tinytorch", "tests", "setup.cfg", "pyproject.toml"))
    src = FIRST.source(instructor)
    src.parent.mkdir(parents=True)
    shutil.copy2(FIRST.source(REPO), src)
    tests = instructor / "tests"
    if not student.test_files(instructor, {FIRST.marker}):
        (tests / "test_first_module_stand_in.py").write_text(
            STAND_IN.format(first=FIRST.marker), encoding="utf-8")
    (tests / "test_zz_selection_probes.py").write_text(
        PROBES.format(first=FIRST.marker, second=SECOND.marker), encoding="utf-8")
    edition = base / "student"
    done = run_tito("release", "student", "--out", str(edition), cwd=instructor)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return edition


@pytest.fixture
def edition(pristine, tmp_path) -> Path:
    copy = tmp_path / "student"
    shutil.copytree(pristine, copy)
    return copy


def test_edition_holds_no_answers_and_an_empty_package(pristine):
    assert_no_answers(pristine)
    assert progress.edition(pristine) == "student"
    assert not progress.path(pristine).exists(), "a fresh edition has no progress"
    for target in FIRST.targets:
        assert not student.package_file(target, pristine / "tinytorch").exists(), \
            f"tinytorch.{target} needs student code and must not ship"
    assert "NotImplementedError()" in FIRST.source(pristine).read_text(encoding="utf-8")
    assert (pristine / "tests" / "conftest.py").exists()
    readme = (pristine / "README.md").read_text(encoding="utf-8")
    assert f"tito module start {FIRST.number}" in readme and "student edition" in readme
    ok = run_python("import tinytorch; print(sorted(tinytorch.__all__)[:1])", pristine)
    assert ok.returncode == 0, ok.stderr
    missing = run_python("from tinytorch.core.tensor import Tensor", pristine)
    assert missing.returncode != 0 and f"module {FIRST.number}" in missing.stderr, \
        "using an unfinished module should name the module to complete"


def test_student_journey_through_the_first_module(edition):
    # start: a notebook without answers, and the way to open it
    started = tito(edition, "module", "start", FIRST.number)
    assert started.returncode == 0, started.stdout + started.stderr
    nb = FIRST.notebook(edition)
    assert nb.exists() and "jupyter lab" in started.stdout
    meta = json.loads(nb.read_text(encoding="utf-8"))["metadata"]
    assert "jupytext" not in meta, "the notebook must not be paired with a .py file"
    assert_no_answers(edition)

    # test on the stubs: fails, and names the failing tests
    failing = tito(edition, "module", "test", FIRST.number)
    assert failing.returncode != 0
    assert "FAILED" in failing.stdout and "NotImplementedError" in failing.stdout
    assert re.search(r"tests/test_\w+\.py: test_\w+", failing.stdout), "name the failing tests"
    assert "Traceback" not in failing.stdout + failing.stderr
    assert not student.package_file(FIRST.target, edition / "tinytorch").exists()

    assert progress.module_state(FIRST.number, edition) == progress.IN_PROGRESS

    # the student writes the answers; complete now exports them and records it
    fill_in_solutions(nb)
    (edition / ".tinytorch" / "integration-ran").unlink(missing_ok=True)
    completed = tito(edition, "module", "complete", FIRST.number)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert (edition / ".tinytorch" / "integration-ran").exists(), \
        "complete must run the integration tests of completed modules"
    assert f"tito module start {SECOND.number}" in completed.stdout, "show what is unlocked"
    assert progress.module_state(FIRST.number, edition) == progress.COMPLETE
    assert progress.module_entry(FIRST.number, edition)["completed"]
    used = run_python("from tinytorch.core.tensor import Tensor\n"
                      "print((Tensor([1.0, 2.0]) * 3).data.tolist())", edition)
    assert used.returncode == 0 and "[3.0, 6.0]" in used.stdout, used.stderr

    # status moves
    status = tito(edition, "module", "status")
    assert status.returncode == 0
    label = f"{FIRST.number} {FIRST.title.split(':')[0]}"
    row = next(line for line in status.stdout.splitlines() if label in line)
    assert "complete" in row
    assert "student edition" in status.stdout and "locked" in status.stdout

    # the next module: in this copy its source does not exist, which is said in one line
    nxt = tito(edition, "module", "start", SECOND.number)
    assert nxt.returncode == 2 and len(nxt.stderr.strip().splitlines()) == 1
    assert "no source" in nxt.stderr


def test_notebook_option_grades_the_cells(edition):
    assert tito(edition, "module", "start", FIRST.number).returncode == 0
    fill_in_solutions(FIRST.notebook(edition))
    graded = tito(edition, "module", "test", FIRST.number, "--notebook")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    import jupytext

    total = sum(c.metadata["nbgrader"].get("points", 0)
                for c in jupytext.read(FIRST.source(REPO), fmt="py:percent").cells
                if c.metadata.get("nbgrader", {}).get("grade"))
    assert f"Points: {total:g} / {total:g}" in graded.stdout
    entry = progress.module_entry(FIRST.number, edition)
    assert (entry["points"], entry["total"]) == (total, total)


def test_one_test_verbose_names_the_students_function_and_complete_refreshes_points(edition):
    import nbformat

    assert tito(edition, "module", "start", FIRST.number).returncode == 0
    nb_path = FIRST.notebook(edition)
    fill_in_solutions(nb_path)
    progress.record_test(FIRST.number, 1, 0, 1.0, 99.0, edition)   # points of an older run
    nb = nbformat.read(nb_path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                == "arithmetic")
    good = cell.source
    cell.source = good.replace("    a = as_tensor(a)\n    b = as_tensor(b, like=a)\n    return "
                               "record_op(a.data + b.data",
                               "    raise ValueError('my add is broken')\n    return "
                               "record_op(a.data + b.data", 1)
    assert cell.source != good, "the add solution should be in the arithmetic cell"
    nbformat.write(nb, nb_path)

    # the stand-in test file, or module 01's own broadcasting test
    pick = "add_broadcasts or broadcasting_arithmetic"
    one = tito(edition, "module", "test", FIRST.number, "-k", pick)
    assert one.returncode == 1
    assert re.search(r"Module \d+: 0 of \d+ tests passed", one.stdout), one.stdout
    assert "ValueError: my add is broken [raised in your add(), tinytorch/core/tensor.py:" \
        in one.stdout, one.stdout
    assert "--verbose" in one.stdout and "Traceback" not in one.stdout
    loud = tito(edition, "module", "test", FIRST.number, "-k", pick, "--verbose")
    assert "raise ValueError('my add is broken')" in loud.stdout, "the full traceback"
    none = tito(edition, "module", "test", FIRST.number, "-k", "no_such_test_name")
    assert none.returncode == 1 and "matches -k" in none.stderr

    cell.source = good
    nbformat.write(nb, nb_path)
    done = tito(edition, "module", "complete", FIRST.number)
    assert done.returncode == 0, done.stdout + done.stderr
    entry = progress.module_entry(FIRST.number, edition)
    assert entry["total"] != 99.0 and entry["points"] == entry["total"] > 0, \
        "complete grades the notebook again: status shows the exported code's points"


def test_start_refuses_to_overwrite(edition):
    assert tito(edition, "module", "start", FIRST.number).returncode == 0
    nb = FIRST.notebook(edition)
    nb.write_text(nb.read_text(encoding="utf-8").replace("YOUR CODE HERE", "my work"),
                  encoding="utf-8")
    before = nb.read_bytes()
    again = tito(edition, "module", "start", FIRST.number)
    assert again.returncode == 2 and "never overwritten" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert nb.read_bytes() == before


def test_reset_keeps_a_backup(edition):
    assert tito(edition, "module", "start", FIRST.number).returncode == 0
    nb = FIRST.notebook(edition)
    nb.write_text(nb.read_text(encoding="utf-8").replace("YOUR CODE HERE", "my work"),
                  encoding="utf-8")
    mine = nb.read_bytes()
    reset = tito(edition, "module", "reset", FIRST.number)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    backups = list((edition / ".tinytorch" / "backups").rglob("*.ipynb"))
    assert [b.read_bytes() for b in backups] == [mine], "the old notebook must be kept intact"
    assert nb.exists() and b"my work" not in nb.read_bytes(), "a fresh notebook replaces it"


def test_reset_package_removes_the_export(edition):
    pkg = edition / "tinytorch"
    exported = student.package_file(FIRST.target, pkg)
    exported.write_text(student.package_file(FIRST.target, REPO / "tinytorch")
                        .read_text(encoding="utf-8"), encoding="utf-8")
    progress.mark_complete(FIRST.number, root=edition)
    reset = tito(edition, "module", "reset", FIRST.number, "--package")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert not exported.exists()
    assert progress.module_state(FIRST.number, edition) == progress.IN_PROGRESS
    kept = list((edition / ".tinytorch" / "backups").rglob(exported.name))
    assert kept, "the removed package file is kept in the backups folder"


@pytest.mark.parametrize("breakage", ["syntax", "stubs"])
def test_failed_complete_leaves_the_previous_package(edition, breakage):
    assert tito(edition, "module", "start", FIRST.number).returncode == 0
    previous = student.package_file(FIRST.target, edition / "tinytorch")
    previous.write_text("# the student's earlier, working export\n", encoding="utf-8")
    nb = FIRST.notebook(edition)
    if breakage == "syntax":
        fill_in_solutions(nb)
        text = json.loads(nb.read_text(encoding="utf-8"))
        cell = next(c for c in text["cells"] if c["metadata"].get("nbgrader", {}).get("solution"))
        cell["source"] = ["#| export\n", "def broken(:\n"] + cell["source"]
        nb.write_text(json.dumps(text), encoding="utf-8")
    result = tito(edition, "module", "complete", FIRST.number)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "unchanged" in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert previous.read_text(encoding="utf-8") == "# the student's earlier, working export\n"
    assert progress.module_state(FIRST.number, edition) != progress.COMPLETE
    assert not list((edition / ".tinytorch").glob(student.BUILD_PREFIX + "*")), \
        "the temporary build is cleaned up"


def test_a_damaged_notebook_is_bad_input_and_changes_nothing(edition):
    assert tito(edition, "module", "start", FIRST.number).returncode == 0
    previous = student.package_file(FIRST.target, edition / "tinytorch")
    previous.write_text("# the student's earlier, working export\n", encoding="utf-8")
    nb = FIRST.notebook(edition)
    nb.write_text('{"cells": [', encoding="utf-8")     # cut off mid-save
    for action in ("test", "complete"):
        result = tito(edition, "module", action, FIRST.number)
        assert result.returncode == 2, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tito: "), result.stderr
        assert f"tito module reset {FIRST.number}" in lines[0], lines[0]
        assert "Traceback" not in result.stdout
    assert previous.read_text(encoding="utf-8") == "# the student's earlier, working export\n"
    assert nb.read_text(encoding="utf-8") == '{"cells": ['
    assert progress.module_state(FIRST.number, edition) != progress.COMPLETE


def test_a_module_before_its_prerequisites_is_refused_by_start_and_reset(edition):
    src = SECOND.source(edition)
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(student.strip_source_text(SECOND.source(REPO)), encoding="utf-8")
    for action in ("start", "reset"):
        result = tito(edition, "module", action, SECOND.number)
        assert result.returncode == 2, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and f"tito module complete {FIRST.number}" in lines[0], lines
        assert not SECOND.notebook(edition).exists(), f"{action} made a notebook too early"
    assert progress.module_state(SECOND.number, edition) == progress.NOT_STARTED


@pytest.mark.parametrize("args", [("start", "99"), ("test", "99"), ("complete", "nine"),
                                  ("reset", "0")])
def test_a_wrong_module_number_is_one_line_and_exit_2(edition, args):
    result = tito(edition, "module", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown module" in lines[0], result.stderr
    assert result.stdout == ""


def test_test_before_start_says_what_to_do(edition):
    result = tito(edition, "module", "test", FIRST.number)
    assert result.returncode == 2
    assert f"tito module start {FIRST.number}" in result.stderr


def test_corrupt_progress_is_reported_not_fatal(edition):
    p = progress.path(edition)
    p.write_text("{ this is not json", encoding="utf-8")
    result = tito(edition, "module", "status")
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "unreadable" in result.stderr
    assert list(p.parent.glob("progress.json.*.bak"))


def test_instructor_edition_is_not_completed_into(tmp_path):
    instructor = copy_repo(tmp_path / "instructor", ("tito", "tinytorch", "setup.cfg"))
    src = FIRST.source(instructor)
    src.parent.mkdir(parents=True)
    shutil.copy2(FIRST.source(REPO), src)
    before = student.package_file(FIRST.target, instructor / "tinytorch").read_bytes()
    # start, test and complete refuse the instructor edition alike, with complete's message
    for command in ("start", "test", "complete"):
        result = run_tito("module", command, FIRST.number, cwd=instructor)
        assert result.returncode == 2 and "instructor edition" in result.stderr, command
        assert "tito release student" in result.stderr, command
    assert not FIRST.notebook(instructor).exists(), "start made no notebook"
    assert student.package_file(FIRST.target, instructor / "tinytorch").read_bytes() == before


def test_this_repository_releases_without_leaking(tmp_path):
    """The whole repository as committed (benchmarks, milestones, docs) passes the leak check.

    A benchmark or test that writes out an answer line for line stops the release; this catches
    it here rather than in the slow hub and install tests that build an edition first.
    """
    out = tmp_path / "edition"
    result = run_tito("release", "student", "--out", str(out), cwd=REPO)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert (out / "benchmarks" / "mlp_epoch.py").is_file()
    assert not (out / "benchmarks" / "step_breakdown.py").exists()
    assert "left out benchmarks/step_breakdown.py (times a variant of module 05's" in result.stdout
    assert edition_leaks(out, REPO) == []
    assert all(m.source(out).is_file() for m in course.MODULES)


def test_release_refuses_a_non_empty_folder(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    result = run_tito("release", "student", "--out", str(out))
    assert result.returncode == 2 and "not empty" in result.stderr
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_selection_rule():
    first, second = course.MODULES[0], course.MODULES[1]
    expr, wanted = student.selection(second, {first.number}, integration=False)
    assert expr.startswith(second.marker) and first.marker not in expr
    assert all(m.marker in expr for m in course.MODULES[2:]), "later modules are excluded"
    assert wanted == {second.marker}
    expr, wanted = student.selection(second, {first.number}, integration=True)
    assert f"integration and ({first.marker} or {second.marker})" in expr
    assert "integration" in wanted
    last = course.MODULES[-1]
    expr, _ = student.selection(last, {m.number for m in course.MODULES}, integration=True)
    assert " not " not in expr, "with every module complete nothing is excluded"
