"""Autograding at course scale: the same grades from one worker, two, or a Dask cluster; a run
interrupted halfway finishes without grading anything twice; late work loses its penalty; the
Canvas file reads back to the same scores."""
from __future__ import annotations

import copy
import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from tito import course, grading

from test_grading_adversarial import sandbox_or_skip, solved, tito, with_cell

REPO = course.REPO_ROOT
M01 = course.get_module("01")
AID = grading.assignment_id(M01)

pytestmark = [pytest.mark.slow, pytest.mark.grading]


def mixed_class(root: Path, inbox: Path) -> None:
    """Honest, empty, half-done, tampering, crashing and unreadable hand-ins."""
    good, stub = solved(root, M01)
    half = copy.deepcopy(good)
    for c in half.cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in ("matmul", "reductions"):
            c.source = next(s.source for s in stub.cells
                            if s.metadata.get("nbgrader", {}).get("grade_id") == meta["grade_id"])
    subs = {"ann": good, "ben": stub, "cat": half,
            "dan": with_cell(stub, "tensor_class", "import numpy as np\nnp.allclose = print"),
            "eve": with_cell(good, "tensor_class", "import os\nos._exit(1)"), "fay": good}
    inbox.mkdir()
    for name, nb in subs.items():
        nbformat.write(nb, str(inbox / f"{name}.ipynb"))
    (inbox / "gus.ipynb").write_text("not json", encoding="utf-8")


def read_grades(root: Path) -> list[dict]:
    with open(root / "grades.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def joined_streams(outputs: list) -> list:
    """Cell outputs with adjacent stream messages of the same stream joined into one."""
    out: list = []
    for o in outputs:
        o = dict(o)
        if o.get("output_type") == "stream" and out and \
                out[-1].get("output_type") == "stream" and out[-1].get("name") == o.get("name"):
            out[-1] = {**out[-1], "text": out[-1]["text"] + o["text"]}
        else:
            out.append(o)
    return out


def test_joined_streams_merges_one_print_sent_in_two_messages():
    two = [{"name": "stdout", "output_type": "stream", "text": "done."},
           {"name": "stdout", "output_type": "stream", "text": "\n"},
           {"name": "stderr", "output_type": "stream", "text": "warn\n"},
           {"output_type": "execute_result", "data": {"text/plain": "1"}},
           {"name": "stdout", "output_type": "stream", "text": "x\n"}]
    assert joined_streams(two) == [
        {"name": "stdout", "output_type": "stream", "text": "done.\n"},
        {"name": "stderr", "output_type": "stream", "text": "warn\n"},
        {"output_type": "execute_result", "data": {"text/plain": "1"}},
        {"name": "stdout", "output_type": "stream", "text": "x\n"}]
    assert joined_streams(two[:1]) != joined_streams([{**two[0], "text": "other"}])


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    sandbox_or_skip()
    base = tmp_path_factory.mktemp("scale")
    root = base / "course"
    due = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    run = tito("nbgrader", "init", str(root), "--timeout", "10", "--due", f"01={due}")
    assert run.returncode == 0, run.stdout + run.stderr
    run = tito("nbgrader", "generate", "01", "--course", str(root))
    assert run.returncode == 0, run.stdout + run.stderr
    mixed_class(root, base / "inbox")
    run = tito("nbgrader", "collect", "01", str(base / "inbox"), "--course", str(root))
    assert run.returncode == 0, run.stdout + run.stderr
    return base


def graded_copy(released: Path, name: str, *args: str) -> tuple[Path, subprocess.CompletedProcess]:
    root = released / name
    shutil.copytree(released / "course", root)
    run = tito("nbgrader", "autograde", "01", "--course", str(root), *args)
    export = tito("nbgrader", "export", "--course", str(root))
    assert export.returncode == 0, export.stdout + export.stderr
    return root, run


@pytest.fixture(scope="module")
def one_and_two(released):
    return graded_copy(released, "jobs1", "--jobs", "1"), graded_copy(released, "jobs2",
                                                                       "--jobs", "2")


def test_two_workers_grade_exactly_as_one(one_and_two):
    (r1, run1), (r2, run2) = one_and_two
    assert run1.returncode == 1 and run2.returncode == 1, run1.stdout + run2.stdout  # gus
    g1, g2 = read_grades(r1), read_grades(r2)
    assert g1 == g2
    by = {r["student_id"]: r for r in g1}
    assert by["ann"]["score"] == by["ann"]["max_score"] and by["ann"]["status"] == "ok"
    assert 0 < float(by["cat"]["score"]) < float(by["cat"]["max_score"])
    assert by["dan"]["status"].startswith("review: ")
    assert by["eve"]["status"].startswith("review: ") and by["eve"]["score"] == by["eve"][
        "max_score"]
    assert by["gus"]["status"].startswith("not graded") and by["gus"]["score"] == ""
    # The graded cells' outputs are the same too, whatever finished first (the systems cells
    # print timings, which differ from run to run). A kernel may send one print as one stream
    # message or as two ("text", then "\n"), depending on when it flushes; a notebook shows
    # both the same, so adjacent stream messages are joined before comparing.
    def graded_outputs(root, s):
        nb = nbformat.read(str(grading.graded_notebook(root, M01, s)), 4)
        return [joined_streams(c.get("outputs", [])) for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade")]

    for s in ("ann", "cat", "dan", "eve"):
        assert graded_outputs(r1, s) == graded_outputs(r2, s), s


def test_a_dask_cluster_grades_exactly_as_the_pool(released, one_and_two):
    distributed = pytest.importorskip("distributed")
    (r1, _), _ = one_and_two
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        root, run = graded_copy(released, "dask", "--scheduler", cluster.scheduler_address)
    assert "Dask at tcp://127.0.0.1" in run.stdout, run.stdout + run.stderr
    assert read_grades(root) == read_grades(r1)


def test_an_unchanged_class_is_not_graded_again_and_a_resubmission_is(one_and_two, released):
    (r1, _), _ = one_and_two
    again = tito("nbgrader", "autograde", "01", "--course", str(r1))
    assert "unchanged since the last run" in again.stdout, again.stdout
    assert again.stdout.count("unchanged since the last run (kept)") == 6, again.stdout
    good, _ = solved(r1, M01)
    hand_in = released / "ben_v2.ipynb"
    nbformat.write(good, str(hand_in))
    assert tito("nbgrader", "collect", "01", str(hand_in), "--student", "ben", "--course",
                str(r1)).returncode == 0
    third = tito("nbgrader", "autograde", "01", "--course", str(r1))
    assert third.stdout.count("unchanged since the last run (kept)") == 5, third.stdout
    tito("nbgrader", "export", "--course", str(r1))
    ben = next(r for r in read_grades(r1) if r["student_id"] == "ben")
    assert ben["score"] == ben["max_score"], ben


def test_an_interrupted_run_grades_each_submission_exactly_once(released, one_and_two):
    root = released / "interrupted"
    shutil.copytree(released / "course", root)
    results = root / ".tito" / "results" / AID
    proc = subprocess.Popen([sys.executable, "-m", "tito", "nbgrader", "autograde", "01",
                             "--course", str(root), "--jobs", "1"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and len([p for p in results.glob("*.json")
                                          if "notebook" in p.read_text()]) < 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    done = {p.stem: json.loads(p.read_text())["key"] for p in results.glob("*.json")
            if "notebook" in p.read_text()}
    assert 2 <= len(done) < 6, done
    stamps = {s: (results / f"{s}.json").stat().st_mtime_ns for s in done}
    rerun = tito("nbgrader", "autograde", "01", "--course", str(root), "--jobs", "2")
    assert "Traceback" not in rerun.stderr, rerun.stderr
    # A finished worker result is never executed again: its file keeps its key; only the
    # outcome (nbgrader's score) may be added to it.
    for s, key in done.items():
        data = json.loads((results / f"{s}.json").read_text())
        assert data["key"] == key and data.get("outcome"), s
    assert tito("nbgrader", "export", "--course", str(root)).returncode == 0
    # The same grades as a run never interrupted (the --jobs 2 copy, which nothing changes).
    assert read_grades(root) == read_grades(released / "jobs2")
    assert stamps  # the results of the first run survived the interruption


def test_late_work_loses_the_configured_penalty(released):
    root = released / "late"
    shutil.copytree(released / "course", root)
    past = (datetime.now(timezone.utc) - timedelta(days=2, hours=1)).strftime("%Y-%m-%dT%H:%M")
    run = tito("nbgrader", "init", str(root), "--due", f"01={past}")
    assert run.returncode == 0, run.stdout + run.stderr
    grading_run = tito("nbgrader", "autograde", "01", "--course", str(root), "--student", "ann")
    assert "ann" in grading_run.stdout, grading_run.stdout
    assert tito("nbgrader", "export", "--course", str(root)).returncode == 0
    ann = next(r for r in read_grades(root) if r["student_id"] == "ann")
    raw, penalty = float(ann["raw_score"]), float(ann["late_submission_penalty"])
    # Handed in just now, due 2 days 1 hour ago: three started days at 10% each.
    assert raw == float(ann["max_score"]) and penalty == pytest.approx(0.3 * raw), ann
    assert float(ann["score"]) == pytest.approx(raw - penalty)


def test_the_canvas_file_reads_back_to_the_same_scores(one_and_two):
    (r1, _), _ = one_and_two
    run = tito("nbgrader", "export", "--course", str(r1), "--format", "canvas")
    assert run.returncode == 0, run.stdout + run.stderr
    with open(r1 / "grades_canvas.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["Student"] == "Points Possible"
    canvas = {r["SIS User ID"]: r[AID] for r in rows[1:]}
    assert canvas == {r["student_id"]: r["score"] for r in read_grades(r1)}
