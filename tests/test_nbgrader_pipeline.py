"""The instructor workflow end to end, with the real nbgrader, driven through `tito nbgrader`.

One course directory is built for the whole file: module 01 is generated and released, a class of
submissions is made from the release the way students would edit it (a full solution, an untouched
notebook, a wrong answer, a locked test edited to `pass`, a deleted test, an infinite loop, a syntax
error, `sys.exit()`, megabytes of output), and every nbgrader step runs once for all of them.
The per-cell time limit is 5 s so the infinite loop costs little.
"""
from __future__ import annotations

import copy
import csv
import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tito import course, grading

REPO = course.REPO_ROOT
MODULE = course.get_module("01")
AID = grading.assignment_id(MODULE)
NB = grading.notebook_name(MODULE)
TIMEOUT = 5

slow = pytest.mark.slow


def instructor_edition(module: course.Module) -> bool:
    src = module.source()
    return src.is_file() and "### BEGIN SOLUTION" in src.read_text(encoding="utf-8")


needs_solutions = pytest.mark.skipif(
    not instructor_edition(MODULE),
    reason="needs the instructor edition of module 01 (with solutions)")


def tito(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the real command line, as an instructor would, and capture what it prints."""
    return subprocess.run([sys.executable, "-m", "tito", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=timeout, encoding="utf-8",
                          errors="replace")


def grade_cells(nb) -> dict[str, int]:
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}


def find(nb, grade_id: str):
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return c
    raise AssertionError(f"no cell '{grade_id}' in the notebook: module 01 changed; update the "
                         f"submissions this test builds")


def edit(cell, old: str, new: str) -> None:
    assert old in cell.source, (f"cell {cell.metadata['nbgrader']['grade_id']} no longer contains "
                                f"{old!r}: module 01 changed; update this test's submissions")
    cell.source = cell.source.replace(old, new, 1)


def build_submissions(root: Path, inbox: Path) -> dict[str, set[str]]:
    """Write inbox/<student>.ipynb hand-ins; return the tests each should fail."""
    release = nbformat.read(str(root / "release" / AID / NB), as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source
               for c in grading.source_notebook(MODULE).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    every_test = set(grade_cells(release))

    def solved():
        nb = copy.deepcopy(release)
        for c in nb.cells:
            meta = c.metadata.get("nbgrader", {})
            if meta.get("solution"):
                c.source = answers[meta["grade_id"]]
        return nb

    def after(nb, grade_id: str, source: str) -> None:
        nb.cells.insert(nb.cells.index(find(nb, grade_id)) + 1, nbformat.v4.new_code_cell(source))

    subs, expected = {}, {}
    subs["solution"], expected["solution"] = solved(), set()
    subs["untouched"], expected["untouched"] = copy.deepcopy(release), every_test

    nb = solved()
    edit(find(nb, "exp_log"), "np.log(a.data)", "np.log10(a.data)")
    subs["wrong"], expected["wrong"] = nb, {"test_exp_log"}

    nb = solved()
    edit(find(nb, "exp_log"), "np.log(a.data)", "np.log10(a.data)")
    find(nb, "test_exp_log").source = "pass"
    subs["edited_test"], expected["edited_test"] = nb, {"test_exp_log"}

    nb = solved()
    nb.cells.remove(find(nb, "test_matmul"))
    subs["deleted_test"], expected["deleted_test"] = nb, set()

    nb = solved()
    cell = find(nb, "creation")
    assert "def arange(" in cell.source, "module 01 changed: update the infinite-loop submission"
    start = cell.source.index("### BEGIN SOLUTION\n", cell.source.index("def arange("))
    cut = start + len("### BEGIN SOLUTION\n")
    cell.source = cell.source[:cut] + "    while True:\n        pass\n" + cell.source[cut:]
    subs["infinite_loop"], expected["infinite_loop"] = nb, {"test_creation"}

    nb = solved()
    find(nb, "matmul").source += "\nprint('matmul ready'\n"
    # the graph-recording and module tests multiply matrices too, so they fail with matmul's
    subs["syntax_error"], expected["syntax_error"] = nb, {"test_matmul", "test_graph_recording",
                                                          "test_module_tensor"}

    nb = solved()
    after(nb, "test_tensor_class", "import sys\nsys.exit()")
    subs["sys_exit"], expected["sys_exit"] = nb, set()

    nb = solved()
    after(nb, "test_tensor_class",
          "for i in range(100_000):\n    print(i, 'x' * 40)\nprint('y' * 3_000_000)")
    subs["big_output"], expected["big_output"] = nb, set()

    inbox.mkdir()
    for student, nb in subs.items():
        nbformat.write(nb, str(inbox / f"{student}.ipynb"))
    return expected


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """The whole instructor workflow, one nbgrader run per step."""
    if not instructor_edition(MODULE):
        pytest.skip("needs the instructor edition of module 01 (with solutions)")
    root = tmp_path_factory.mktemp("course")
    runs = {}
    runs["init"] = tito("nbgrader", "init", str(root), "--timeout", str(TIMEOUT))
    assert runs["init"].returncode == 0, runs["init"].stdout + runs["init"].stderr
    runs["generate"] = tito("nbgrader", "generate", "01", "--course", str(root))
    assert runs["generate"].returncode == 0, runs["generate"].stdout + runs["generate"].stderr
    expected = build_submissions(root, root.parent / "inbox")
    runs["collect"] = tito("nbgrader", "collect", "01", str(root.parent / "inbox"),
                           "--course", str(root))
    assert runs["collect"].returncode == 0, runs["collect"].stdout + runs["collect"].stderr
    for step in ("autograde", "feedback"):
        runs[step] = tito("nbgrader", step, "01", "--course", str(root))
    csv_path = root / "out" / "grades.csv"
    runs["export"] = tito("nbgrader", "export", "--course", str(root), "--to", str(csv_path))
    runs["status"] = tito("nbgrader", "status", "--course", str(root))
    return {"root": root, "runs": runs, "expected": expected, "csv": csv_path}


def failing_tests(root: Path, student: str) -> set[str]:
    from nbgrader.api import Gradebook

    with Gradebook(grading.db_url(root), grading.COURSE_ID) as gb:
        sub = gb.find_submission_notebook(NB[:-len(".ipynb")], AID, student)
        return {g.name for g in sub.grades if g.score < g.max_score}


# ---------------------------------------------------------------------------------------------
# generate


@slow
def test_release_has_no_solutions_no_hidden_tests_no_source_files(pipeline):
    root = pipeline["root"]
    out = pipeline["runs"]["generate"].stdout
    assert "no solution or hidden-test text" in out, out
    folder = root / "release" / AID
    assert sorted(p.name for p in folder.iterdir()) == [NB], "only the notebook is released"
    text = (folder / NB).read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"):
        assert marker not in text, f"'{marker}' in the released notebook"
    released = nbformat.read(str(folder / NB), as_version=4)
    assert "jupytext" not in released.metadata, "jupytext pairing metadata must be stripped"
    assert released.metadata["kernelspec"]["name"] == "python3"
    stubs = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert stubs and all("raise NotImplementedError()" in c.source for c in stubs)
    assert grading.release_leaks(root, MODULE) == []
    # The same graded cells, with the same points, as the instructor's source.
    assert grade_cells(released) == grade_cells(grading.source_notebook(MODULE))


@slow
def test_leak_check_catches_a_released_solution_line(pipeline, tmp_path):
    shutil.copytree(pipeline["root"] / "release", tmp_path / "release")
    path = tmp_path / "release" / AID / NB
    nb = nbformat.read(str(path), as_version=4)
    secret = sorted(grading.protected_lines(grading.source_notebook(MODULE)))[0]
    stub = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    stub.source += "\n" + secret
    nbformat.write(nb, str(path))
    (tmp_path / "release" / AID / "tensor.py").write_text("# solution file\n")
    leaks = grading.release_leaks(tmp_path, MODULE)
    assert any(secret[:40] in leak for leak in leaks), leaks
    assert any("tensor.py" in leak for leak in leaks), leaks


# ---------------------------------------------------------------------------------------------
# autograde


@slow
def test_autograde_grades_every_submission_and_ends(pipeline):
    run = pipeline["runs"]["autograde"]
    assert run.returncode == 0, run.stdout + run.stderr
    for student in pipeline["expected"]:
        assert student in run.stdout, f"{student} missing from the autograde report"
    assert f"graded {len(pipeline['expected'])} submission(s)" in run.stdout, run.stdout


@slow
@pytest.mark.parametrize("student", ["solution", "untouched", "wrong", "edited_test",
                                     "deleted_test", "infinite_loop", "syntax_error",
                                     "sys_exit", "big_output"])
def test_each_submission_loses_exactly_the_expected_tests(pipeline, student):
    assert failing_tests(pipeline["root"], student) == pipeline["expected"][student]


@slow
def test_edited_and_deleted_test_cells_are_restored_from_the_source(pipeline):
    root = pipeline["root"]
    original = find(grading.source_notebook(MODULE), "test_exp_log").source
    edited = nbformat.read(str(grading.graded_notebook(root, MODULE, "edited_test")), 4)
    assert find(edited, "test_exp_log").source.strip() == original.strip()
    restored = nbformat.read(str(grading.graded_notebook(root, MODULE, "deleted_test")), 4)
    assert "assert" in find(restored, "test_matmul").source
    out = pipeline["runs"]["autograde"].stdout
    assert "deleted test_matmul" in out and "edited locked test_exp_log" in out, out


@slow
def test_infinite_loop_times_out_in_its_own_cell(pipeline):
    path = grading.graded_notebook(pipeline["root"], MODULE, "infinite_loop")
    timeouts, _ = grading.cell_failures(path)
    assert timeouts == ["test_creation"]
    assert "timed out: test_creation" in pipeline["runs"]["autograde"].stdout


@slow
def test_megabytes_of_output_are_cut_down(pipeline):
    path = grading.graded_notebook(pipeline["root"], MODULE, "big_output")
    assert path.stat().st_size < 1_000_000, "LimitOutput should keep the graded notebook small"


# ---------------------------------------------------------------------------------------------
# feedback, export, status


@slow
def test_feedback_for_everyone_without_hidden_tests(pipeline):
    root = pipeline["root"]
    run = pipeline["runs"]["feedback"]
    assert run.returncode == 0, run.stdout + run.stderr
    hidden = grading.hidden_test_lines(MODULE)
    assert hidden, "module 01 has hidden tests, so this check can fail"
    for student in pipeline["expected"]:
        page = root / "feedback" / student / AID / NB.replace(".ipynb", ".html")
        assert page.is_file(), f"no feedback for {student}"
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        assert "exp is wrong" in text, "the visible tests belong in the feedback"
        assert "HIDDEN TESTS" not in text
        shown = [line for line in hidden if line in text]
        assert not shown, f"hidden tests in {student}'s feedback: {shown[:2]}"


@slow
def test_grades_csv_holds_every_students_score(pipeline):
    run = pipeline["runs"]["export"]
    assert run.returncode == 0, run.stdout + run.stderr
    points = grade_cells(grading.source_notebook(MODULE))
    total = sum(points.values())
    with open(pipeline["csv"], newline="", encoding="utf-8") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(pipeline["expected"])
    for student, failing in pipeline["expected"].items():
        want = total - sum(points[g] for g in failing)
        assert float(rows[student]["score"]) == want, f"{student}: {rows[student]['score']}"
        assert float(rows[student]["max_score"]) == total
        assert rows[student]["assignment"] == AID


@slow
def test_status_counts_submissions_and_averages(pipeline):
    run = pipeline["runs"]["status"]
    assert run.returncode == 0, run.stdout + run.stderr
    row = next(line for line in run.stdout.splitlines() if AID in line)
    n = str(len(pipeline["expected"]))
    cells = [c.strip() for c in re.split(r"[│|]", row) if c.strip()]
    assert cells[:5] == [AID, "yes", n, n, n], row
    points = grade_cells(grading.source_notebook(MODULE))
    total = sum(points.values())
    scores = [total - sum(points[g] for g in f) for f in pipeline["expected"].values()]
    assert cells[5] == f"{sum(scores) / len(scores):.1f}" and cells[6] == f"{total:g}", row


@slow
def test_a_submission_that_cannot_be_graded_is_named_and_exit_1(pipeline):
    root = pipeline["root"]
    bad = root / "submitted" / "broken" / AID / NB
    bad.parent.mkdir(parents=True)
    bad.write_text('{"cells": [', encoding="utf-8")
    run = tito("nbgrader", "autograde", "01", "--student", "broken", "--course", str(root))
    assert run.returncode == 1, run.stdout + run.stderr
    row = next(line for line in run.stdout.splitlines() if "broken" in line)
    assert "not graded: nbgrader could not read the submission" in row, run.stdout


# ---------------------------------------------------------------------------------------------
# every other module with a source releases cleanly


OTHER_MODULES = [m for m in grading.modules_with_source() if m != MODULE]


@pytest.fixture(scope="module")
def released_all(tmp_path_factory):
    root = tmp_path_factory.mktemp("course_all")
    assert tito("nbgrader", "init", str(root)).returncode == 0
    run = tito("nbgrader", "generate", *[m.number for m in OTHER_MODULES], "--course", str(root))
    return root, run


@slow
@pytest.mark.parametrize("module", OTHER_MODULES, ids=[m.folder for m in OTHER_MODULES])
def test_every_module_releases_without_solutions(released_all, module):
    if not instructor_edition(module):
        pytest.skip(f"{module.folder} has no solutions in this working copy")
    root, run = released_all
    assert f"{grading.assignment_id(module)}: released" in run.stdout, run.stdout + run.stderr
    assert grading.release_leaks(root, module) == []


# ---------------------------------------------------------------------------------------------
# bad input: exit code 2 and a message, without starting nbgrader


def test_bad_input_exits_2(tmp_path):
    missing = tmp_path / "nowhere"
    run = tito("nbgrader", "generate", "01", "--course", str(missing))
    assert run.returncode == 2 and "tito nbgrader init" in run.stderr, run.stderr
    assert tito("nbgrader", "init", str(tmp_path)).returncode == 0
    run = tito("nbgrader", "generate", "99", "--course", str(tmp_path))
    assert run.returncode == 2 and "unknown module" in run.stderr, run.stderr
    run = tito("nbgrader", "autograde", "01", "--course", str(tmp_path))
    assert run.returncode == 2 and "tito nbgrader generate 01" in run.stderr, run.stderr
    run = tito("nbgrader", "generate", "--course", str(tmp_path))
    assert run.returncode == 2 and "--all" in run.stderr, run.stderr


def test_init_keeps_an_existing_config_unless_forced(tmp_path):
    assert tito("nbgrader", "init", str(tmp_path), "--timeout", "7").returncode == 0
    config = tmp_path / grading.CONFIG_NAME
    assert "c.Execute.timeout = 7" in config.read_text(encoding="utf-8")
    run = tito("nbgrader", "init", str(tmp_path), "--timeout", "9")
    assert run.returncode == 0 and "kept the existing" in run.stdout
    assert "c.Execute.timeout = 7" in config.read_text(encoding="utf-8")
    assert tito("nbgrader", "init", str(tmp_path), "--timeout", "9", "--force").returncode == 0
    assert "c.Execute.timeout = 9" in config.read_text(encoding="utf-8")


def test_collect_copies_hand_ins_from_a_plain_folder(tmp_path):
    root, inbox = tmp_path / "course", tmp_path / "inbox"
    assert tito("nbgrader", "init", str(root)).returncode == 0
    (inbox / "bob").mkdir(parents=True)
    (inbox / "alice.ipynb").write_text("{}", encoding="utf-8")
    (inbox / "bob" / NB).write_text("{}", encoding="utf-8")
    (inbox / "notes.txt").write_text("not a notebook", encoding="utf-8")
    run = tito("nbgrader", "collect", "01", str(inbox), "--course", str(root))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "collected 2 submission(s)" in run.stdout, run.stdout
    for who in ("alice", "bob"):
        assert (root / "submitted" / who / AID / NB).is_file(), who
    single = tmp_path / "download (3).ipynb"
    single.write_text("{}", encoding="utf-8")
    run = tito("nbgrader", "collect", "01", str(single), "--course", str(root))
    assert run.returncode == 2 and "--student" in run.stderr, run.stderr
    run = tito("nbgrader", "collect", "01", str(single), "--student", "alice",
               "--course", str(root))
    assert run.returncode == 0 and "replaced" in run.stdout, run.stdout + run.stderr


def test_feedback_leak_check_finds_a_hidden_line(tmp_path):
    line = sorted(grading.hidden_test_lines(MODULE))[0]
    page = tmp_path / "tensor.html"
    page.write_text(f"<html><pre><span>{html.escape(line)}</span></pre></html>",
                    encoding="utf-8")
    assert line in grading.feedback_leaks(page, MODULE)
    page.write_text("<html><pre>assert ok</pre></html>", encoding="utf-8")
    assert grading.feedback_leaks(page, MODULE) == []


@pytest.mark.parametrize("module", grading.modules_with_source(),
                         ids=[m.folder for m in grading.modules_with_source()])
def test_feedback_leak_check_on_every_module_page(module, tmp_path):
    """On a page rendered like the feedback, the leak check finds exactly the hidden lines.

    With ClearHiddenTests the page is clean, even where a visible assert starts with the text of
    a hidden one (module 03); without it, every hidden line is found.
    """
    from nbconvert import HTMLExporter
    from nbgrader.preprocessors import ClearHiddenTests

    if not instructor_edition(module):
        pytest.skip(f"{module.folder} has no solutions in this working copy")
    hidden = grading.hidden_test_lines(module)
    assert hidden, f"{module.folder} has hidden tests, so this check can fail"
    nb = grading.source_notebook(module)
    raw, _ = HTMLExporter().from_notebook_node(copy.deepcopy(nb))
    cleared, _ = ClearHiddenTests().preprocess(copy.deepcopy(nb), {})
    shown, _ = HTMLExporter().from_notebook_node(cleared)
    page = tmp_path / f"{module.folder}.html"
    page.write_text(raw, encoding="utf-8")
    assert set(grading.feedback_leaks(page, module)) >= hidden
    page.write_text(shown, encoding="utf-8")
    assert grading.feedback_leaks(page, module) == []
