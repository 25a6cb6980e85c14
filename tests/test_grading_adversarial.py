"""Grading a hostile class: every attack we could think of, through the real nbgrader and tito.

One course directory for the file. Module 01 is released and a class hands in: honest work
(also with the accidents that used to cost honest students their marks: a duplicated cell, a
warning, a kernel that dies, a loop that swallows Ctrl-C, 100 MB of output), and attacks (the
reference package imported, the instructor's files read or overwritten, another student's hand-in
overwritten, the harness patched in the kernel, the network, a fork bomb, a memory bomb, a huge
file, script planted for whoever opens the feedback page). Each submission has its expected score and status. Module 05 is graded too, with an
honest solution and one that imports the reference engine.

The release and source folders are compared byte for byte before and after grading, and the
grades of every student are the ones the coordinator wrote, nothing else.
"""
from __future__ import annotations

import copy
import csv
import hashlib
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from tito import course, grading, sandbox

REPO = course.REPO_ROOT
M01, M05 = course.get_module("01"), course.get_module("05")
TIMEOUT = 10

pytestmark = [pytest.mark.slow, pytest.mark.grading]


def tito(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tito", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=timeout, encoding="utf-8",
                          errors="replace")


def sandbox_or_skip() -> None:
    try:
        sandbox.check()
    except sandbox.SandboxUnavailable as err:
        pytest.skip(f"no sandbox on this machine: {err}")


def gid(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solved(root: Path, module: course.Module):
    """The release with every solution cell answered from the instructor's source."""
    release = nbformat.read(str(grading.release_notebook(root, module)), as_version=4)
    answers = {gid(c): c.source for c in grading.source_notebook(module).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = copy.deepcopy(release)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("solution"):
            c.source = answers[gid(c)]
    return nb, release


def with_cell(nb, after_id: str, source: str):
    nb = copy.deepcopy(nb)
    i = next(i for i, c in enumerate(nb.cells) if gid(c) == after_id)
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell(source))
    return nb


def first_test(nb) -> str:
    return next(gid(c) for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                and not c.metadata["nbgrader"].get("solution"))


def build_class(root: Path, inbox: Path) -> dict[str, dict]:
    """Write the hand-ins; return what each must get: score 'full'|'zero'|'less'|None, status."""
    good, stub = solved(root, M01)
    t1 = first_test(good)
    course_dir = str(root)
    subs: dict[str, tuple] = {}

    def add(name, nb, score, status):
        subs[name] = (nb, score, status)

    add("honest", good, "full", "ok")
    add("victim", good, "full", "ok")
    add("stub", stub, "zero", "ok")

    # --- honest accidents that must not cost marks
    dup = copy.deepcopy(good)
    i = next(i for i, c in enumerate(dup.cells) if gid(c) == t1)
    dup.cells.insert(i + 1, copy.deepcopy(dup.cells[i]))
    add("duplicated_cell", dup, "full", "ok")
    add("warning", with_cell(good, t1, "import warnings\nwarnings.warn('about to test')"),
        "full", "ok")
    add("dies", with_cell(good, t1, "import os\nos._exit(3)"), "full", "review")
    add("swallows_interrupt", with_cell(good, t1, (
        "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n"
        "    except KeyboardInterrupt:\n        pass")), "full", "ok")
    add("huge_output", with_cell(good, t1, "print('x' * 100_000_000)"), "full", "ok")

    # --- script aimed at whoever opens the feedback (or formgrader's view) in a browser
    page = with_cell(good, t1, (
        "class Page:\n"
        "    def _repr_html_(self):\n"
        "        return ('<b>bold</b><script>window.tt_html = 1</script>'\n"
        "                '<img src=x onerror=\"window.tt_img = 1\">')\n"
        "class Code:\n"
        "    def _repr_javascript_(self):\n"
        "        return 'window.tt_js = 1'\n"
        "display(Page())\ndisplay(Code())"))
    i = next(i for i, c in enumerate(page.cells) if gid(c) == t1)
    page.cells.insert(i, nbformat.v4.new_markdown_cell(
        "My notes <script>window.tt_md = 1</script> <a href=\"javascript:window.tt_a = 1\">x</a>"))
    add("injects_script", page, "full", "ok")

    # --- marks without the work
    cheat = copy.deepcopy(stub)
    for c in cheat.cells:
        if c.metadata.get("nbgrader", {}).get("solution"):
            c.source = "from tinytorch.core.tensor import *\nimport tinytorch.core.tensor as T"
    add("imports_reference", cheat, "zero", "ok")
    add("reads_source", with_cell(stub, t1, (
        f"import glob\nfor p in glob.glob({course_dir!r} + '/source/*/*.ipynb') + "
        f"glob.glob('/work/*/modules/01_tensor/*.py'):\n"
        f"    exec(open(p).read())")), "zero", "review")
    add("reads_gradebook", with_cell(good, t1, (
        f"import sqlite3\ncon = sqlite3.connect({course_dir!r} + '/gradebook.db')\n"
        f"print(con.execute('select source from grade_cells').fetchall())")), "full", "review")
    add("ast_transformer", with_cell(stub, "tensor_class", (
        "import ast\nclass Swallow(ast.NodeTransformer):\n"
        "    def visit_Module(self, node):\n"
        "        body = ast.Try(body=node.body or [ast.Pass()], handlers=[ast.ExceptHandler("
        "type=None, name=None, body=[ast.Pass()])], orelse=[], finalbody=[])\n"
        "        return ast.fix_missing_locations(ast.Module(body=[body], type_ignores=[]))\n"
        "get_ipython().ast_transformers.append(Swallow())")), "any", "review")
    add("rebinds_numpy", with_cell(stub, "tensor_class", (
        "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None")), "any", "review")
    add("hidden_rebind", with_cell(stub, "tensor_class", (
        "m = __import__('nu' + 'mpy')\nsetattr(m, 'all' + 'close', lambda *a, **k: True)")),
        "any", "review")
    add("patches_builtins", with_cell(stub, "tensor_class", (
        "import builtins\nclass Quiet(Exception):\n    pass\n"
        "builtins.AssertionError = Quiet")), "any", "review")
    add("reads_tests", with_cell(stub, "tensor_class", (
        "def peek():\n    return [c for c in In if 'assert' in c]\nprint(len(peek()))")),
        "zero", "review")

    # --- hurting others
    victim_nb = f"{course_dir}/submitted/victim/{grading.assignment_id(M01)}/" \
                f"{grading.notebook_name(M01)}"
    add("vandal", with_cell(stub, t1, (
        "import os\n"
        f"for p in [{victim_nb!r}, {course_dir!r} + '/gradebook.db', "
        f"{course_dir!r} + '/release/x.txt', {course_dir!r} + '/source/x.txt']:\n"
        "    try:\n        open(p, 'w').write('{}')\n    except OSError as e:\n"
        "        print('refused', p, type(e).__name__)")), "zero", "ok")
    add("network", with_cell(good, t1, (
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 80), timeout=2)\n"
        "except OSError as e:\n    print('no network', e)")), "full", "review")
    add("fork_bomb", with_cell(good, t1, (
        "import os, time\nn = 0\ntry:\n    for _ in range(400):\n"
        "        if os.fork() == 0:\n            time.sleep(3)\n            os._exit(0)\n"
        "        n += 1\nexcept OSError:\n    pass\nprint('forked', n)")), "full", "review")
    add("memory_bomb", with_cell(good, t1, (
        "try:\n    big = bytearray(16 << 30)\nexcept MemoryError:\n    print('no memory')")),
        "full", "ok")
    add("disk_bomb", with_cell(good, t1, (
        "try:\n    with open('big.bin', 'wb') as f:\n        f.write(b'0' * (200 << 20))\n"
        "except OSError as e:\n    print('file too big', e.errno)")), "full", "ok")

    inbox.mkdir()
    expected = {}
    for name, (nb, score, status) in subs.items():
        nbformat.write(nb, str(inbox / f"{name}.ipynb"))
        expected[name] = {"score": score, "status": status}
    (inbox / "broken.ipynb").write_text("{ this is not a notebook", encoding="utf-8")
    expected["broken"] = {"score": None, "status": "not graded"}
    return expected


def digest_tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    sandbox_or_skip()
    root = tmp_path_factory.mktemp("course")
    run = tito("nbgrader", "init", str(root), "--timeout", str(TIMEOUT))
    assert run.returncode == 0, run.stdout + run.stderr
    run = tito("nbgrader", "generate", "01", "05", "--course", str(root))
    assert run.returncode == 0, run.stdout + run.stderr
    inbox = root.parent / "inbox01"
    expected = build_class(root, inbox)
    run = tito("nbgrader", "collect", "01", str(inbox), "--course", str(root))
    assert run.returncode == 0, run.stdout + run.stderr
    # Module 05: honest, and the reference engine imported instead of written.
    good5, stub5 = solved(root, M05)
    cheat5 = copy.deepcopy(stub5)
    for c in cheat5.cells:
        if c.metadata.get("nbgrader", {}).get("solution"):
            c.source = "from tinytorch.core.autograd import *"
    inbox5 = root.parent / "inbox05"
    inbox5.mkdir()
    nbformat.write(good5, str(inbox5 / "honest.ipynb"))
    nbformat.write(cheat5, str(inbox5 / "imports_reference.ipynb"))
    run = tito("nbgrader", "collect", "05", str(inbox5), "--course", str(root))
    assert run.returncode == 0, run.stdout + run.stderr
    before = {d: digest_tree(root / d) for d in ("release", "source")}
    autograde = tito("nbgrader", "autograde", "01", "05", "--course", str(root), "--jobs", "2")
    after = {d: digest_tree(root / d) for d in ("release", "source")}
    export = tito("nbgrader", "export", "--course", str(root), "--cells")
    feedback = tito("nbgrader", "feedback", "01", "--course", str(root))
    with open(root / "grades.csv", newline="", encoding="utf-8") as f:
        grades = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(f)}
    return {"root": root, "expected": expected, "autograde": autograde, "export": export,
            "feedback": feedback, "grades": grades, "before": before, "after": after}


def test_the_run_finishes_and_names_the_broken_hand_in(graded):
    run = graded["autograde"]
    # A broken hand-in is "not graded", which makes the exit code 1, and nothing else fails.
    assert run.returncode == 1, run.stdout + run.stderr
    assert "not graded" in run.stdout and "broken" in run.stdout, run.stdout
    assert "Traceback" not in run.stderr, run.stderr


@pytest.mark.parametrize("student", [
    "honest", "victim", "stub", "duplicated_cell", "warning", "dies", "swallows_interrupt",
    "huge_output", "imports_reference", "reads_source", "reads_gradebook", "ast_transformer",
    "rebinds_numpy", "hidden_rebind", "patches_builtins", "reads_tests", "vandal", "network",
    "fork_bomb", "memory_bomb", "disk_bomb", "injects_script", "broken"])
def test_each_submission_gets_its_expected_score_and_status(graded, student):
    row = graded["grades"][(grading.assignment_id(M01), student)]
    want = graded["expected"][student]
    assert row["status"].split(":")[0] == want["status"], (student, row["status"])
    top = float(row["max_score"])
    if want["score"] is None:
        assert row["score"] == "", f"{student}: not graded must leave the score empty"
    elif want["score"] == "full":
        assert float(row["score"]) == top, (student, row)
    elif want["score"] == "zero":
        assert float(row["score"]) == 0.0, (student, row)


def test_points_without_the_work_are_never_silent(graded):
    """Whatever a tampering submission scored, it is up for review, with a reason."""
    for student in ("ast_transformer", "rebinds_numpy", "hidden_rebind", "patches_builtins"):
        row = graded["grades"][(grading.assignment_id(M01), student)]
        assert row["status"].startswith("review: "), (student, row["status"])
        assert len(row["status"]) > len("review: "), "a review names its reason"


def test_module_05_is_graded_against_modules_before_it(graded):
    aid = grading.assignment_id(M05)
    honest = graded["grades"][(aid, "honest")]
    cheat = graded["grades"][(aid, "imports_reference")]
    assert float(honest["score"]) == float(honest["max_score"]), honest
    assert float(cheat["score"]) == 0.0, cheat


def test_release_and_source_are_unchanged_byte_for_byte(graded):
    assert graded["before"] == graded["after"]
    root = graded["root"]
    assert not (root / "release" / "x.txt").exists() and not (root / "source" / "x.txt").exists()


def test_no_submission_wrote_into_another_or_the_gradebook(graded):
    root = graded["root"]
    victim = grading.submitted_notebook(root, M01, "victim").read_text(encoding="utf-8")
    assert victim.strip() != "{}" and '"cells"' in victim
    # The gradebook is still a database whose scores are the ones exported.
    from nbgrader.api import Gradebook

    with Gradebook(grading.db_url(root), grading.COURSE_ID) as gb:
        sub = gb.find_submission(grading.assignment_id(M01), "victim")
        assert sub.score == sub.max_score


def test_the_sandbox_stopped_the_attacks_where_they_ran(graded):
    root = graded["root"]

    def outputs(student):
        nb = nbformat.read(str(grading.graded_notebook(root, M01, student)), as_version=4)
        return "\n".join(o.get("text", "") + o.get("evalue", "") for c in nb.cells
                         for o in c.get("outputs", []))

    assert "no network" in outputs("network")
    forked = [ln for ln in outputs("fork_bomb").splitlines() if ln.startswith("forked")]
    assert forked and int(forked[0].split()[1]) < 400, forked
    assert "no memory" in outputs("memory_bomb")
    assert "file too big" in outputs("disk_bomb")
    assert outputs("vandal").count("refused") == 4
    big = grading.graded_notebook(root, M01, "huge_output")
    assert big.stat().st_size < 2_000_000, "outputs are cut by bytes"


def test_feedback_pages_hold_no_hidden_test(graded):
    run = graded["feedback"]
    assert run.returncode == 0, run.stdout + run.stderr
    assert "NOT safe" not in run.stdout, run.stdout


class _ScriptFinder(HTMLParser):
    """Collects what a browser would run: script bodies, on* handlers, javascript: links."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.found.append(data)


def test_feedback_runs_no_script_a_student_wrote(graded):
    """The hand-in's HTML, Javascript and markdown reach the page as text or not at all."""
    root = graded["root"]
    page = (root / "feedback" / "injects_script" / grading.assignment_id(M01) /
            grading.notebook_name(M01).replace(".ipynb", ".html"))
    text = page.read_text(encoding="utf-8")
    assert "My notes" in text and "<b>bold</b>" in text, "the harmless parts are still shown"
    finder = _ScriptFinder()
    finder.feed(text)
    planted = [f for f in finder.found if "tt_" in f]
    assert not planted, planted
    # The page's own scripts (MathJax and the like) are still there: the finder sees scripts.
    assert finder.found


def test_exports_carry_the_status_and_the_cells(graded):
    assert graded["export"].returncode == 0, graded["export"].stdout + graded["export"].stderr
    root = graded["root"]
    assert (root / "grades_cells.csv").is_file()
    assert (root / "grades.csv").stat().st_mode & 0o077 == 0, "grades are instructor-only"


def test_grading_refuses_without_a_sandbox(tmp_path):
    """No bubblewrap: a one-line refusal that names the fix and the opt-out."""
    root = tmp_path / "course"
    assert tito("nbgrader", "init", str(root)).returncode == 0
    assert tito("nbgrader", "generate", "01", "--course", str(root)).returncode == 0
    hand_in = tmp_path / "s.ipynb"
    hand_in.write_text((root / "release" / grading.assignment_id(M01) /
                        grading.notebook_name(M01)).read_text(encoding="utf-8"))
    assert tito("nbgrader", "collect", "01", str(hand_in), "--course",
                str(root)).returncode == 0
    code = ("import sys, shutil; from tito import cli; shutil.which = lambda *a, **k: None; "
            "sys.exit(cli.main(sys.argv[1:]))")
    run = subprocess.run([sys.executable, "-c", code, "nbgrader", "autograde", "01",
                          "--course", str(root)], cwd=REPO, text=True, capture_output=True,
                         timeout=300)
    assert run.returncode == 2, run.stdout + run.stderr
    line = run.stderr.strip()
    assert "\n" not in line and "bubblewrap" in line and "--unsafe-no-sandbox" in line, line
