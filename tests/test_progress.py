"""The progress record: atomic writes, corrupt files, module states and milestone results."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tito import course, progress

FIRST, SECOND = course.MODULES[0], course.MODULES[1]
MILESTONE = course.MILESTONES[0]


@pytest.fixture
def student_root(tmp_path: Path) -> Path:
    (tmp_path / ".tinytorch").mkdir()
    (tmp_path / ".tinytorch" / "edition").write_text("student\n", encoding="utf-8")
    return tmp_path


def test_missing_file_is_an_empty_record(tmp_path):
    data = progress.load(tmp_path)
    assert data["modules"] == {} and data["milestones"] == {}
    assert not progress.path(tmp_path).exists(), "loading must not create the file"


def test_save_then_load_round_trips_and_leaves_no_temporary_files(tmp_path):
    data = progress.empty()
    data["modules"]["01"] = {"started": "2024-01-01T10:00:00+00:00"}
    progress.save(data, tmp_path)
    assert progress.load(tmp_path) == data
    assert [p.name for p in progress.state_dir(tmp_path).iterdir()] == ["progress.json"]


@pytest.mark.parametrize("text", ["{not json", "[1, 2, 3]", '{"modules": []}',
                                  '{"modules": {"01": 5}}', "\udcff"])
def test_corrupt_file_is_reported_backed_up_and_replaced(tmp_path, capsys, text):
    p = progress.path(tmp_path)
    p.parent.mkdir(parents=True)
    p.write_bytes(text.encode("utf-8", "surrogateescape"))
    data = progress.load(tmp_path)
    assert data == progress.empty(), "a corrupt record must read as an empty one"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unreadable" in err[0], f"expected one line, got {err}"
    assert "tito module complete" in err[0], "say how to get the record back"
    backups = list(p.parent.glob("progress.json.*.bak"))
    assert len(backups) == 1, "the damaged file must be kept as a timestamped .bak"
    assert backups[0].read_bytes() == text.encode("utf-8", "surrogateescape")
    assert not p.exists()
    progress.mark_started(FIRST.number, tmp_path)     # and tito carries on
    assert progress.module_state(FIRST.number, tmp_path) == progress.IN_PROGRESS


def test_student_edition_states_follow_the_record(student_root):
    assert progress.module_state(FIRST.number, student_root) == progress.NOT_STARTED
    progress.mark_started(FIRST.number, student_root)
    assert progress.module_state(FIRST.number, student_root) == progress.IN_PROGRESS
    progress.mark_complete(FIRST.number, 60, 70, root=student_root)
    assert progress.module_state(FIRST.number, student_root) == progress.COMPLETE
    assert progress.completed_modules(student_root) == [FIRST.number]
    entry = progress.module_entry(FIRST.number, student_root)
    assert entry["points"] == 60 and entry["total"] == 70 and entry["started"] <= entry["completed"]
    progress.clear_complete(FIRST.number, student_root)
    assert progress.module_state(FIRST.number, student_root) == progress.IN_PROGRESS


def test_a_notebook_on_disk_counts_as_in_progress(student_root):
    nb = SECOND.notebook(student_root)
    nb.parent.mkdir(parents=True)
    nb.write_text("{}", encoding="utf-8")
    assert progress.module_state(SECOND.number, student_root) == progress.IN_PROGRESS


def test_instructor_edition_counts_exported_modules_as_complete(tmp_path):
    assert progress.edition(tmp_path) == "instructor"
    assert progress.completed_modules(tmp_path) == []
    src = FIRST.source(tmp_path)
    src.parent.mkdir(parents=True)
    src.write_text("# %%\n", encoding="utf-8")
    assert progress.module_state(FIRST.number, tmp_path) != progress.COMPLETE, \
        "a source without its exported package file is not complete"
    for target in FIRST.targets:
        f = tmp_path.joinpath("tinytorch", *target.split(".")).with_suffix(".py")
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("", encoding="utf-8")
    assert progress.completed_modules(tmp_path) == [FIRST.number]


def test_the_same_files_do_not_make_a_student_module_complete(student_root):
    FIRST.source(student_root).parent.mkdir(parents=True)
    FIRST.source(student_root).write_text("# %%\n", encoding="utf-8")
    for target in FIRST.targets:
        f = student_root.joinpath("tinytorch", *target.split(".")).with_suffix(".py")
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("", encoding="utf-8")
    assert progress.completed_modules(student_root) == []


def test_record_test_keeps_points_of_the_last_graded_run(student_root):
    progress.record_test(FIRST.number, 3, 2, 40, 70, root=student_root)
    progress.record_test(FIRST.number, 5, 0, root=student_root)
    entry = progress.module_entry(FIRST.number, student_root)
    assert entry["last_test"]["passed"] == 5 and entry["last_test"]["points"] is None
    assert (entry["points"], entry["total"]) == (40, 70)


def test_milestones_keep_best_and_latest(student_root):
    assert progress.milestone_result(MILESTONE.number, student_root) is None
    for acc in (0.8, 0.93, 0.9):
        progress.record_milestone(MILESTONE.number, {"accuracy": acc, "epochs": 3},
                                  root=student_root)
    assert progress.milestone_result(MILESTONE.number, student_root)["accuracy"] == 0.93
    entry = progress.load(student_root)["milestones"][MILESTONE.number]
    assert entry["latest"]["accuracy"] == 0.9 and entry["runs"] == 3
    assert "at" in entry["best"], "a result is timestamped"


def test_unknown_numbers_are_refused(tmp_path):
    with pytest.raises(course.CourseError):
        progress.mark_started("99", tmp_path)
    with pytest.raises(course.CourseError):
        progress.record_milestone("99", {"accuracy": 1.0}, root=tmp_path)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=6))
def test_best_milestone_result_is_the_highest_accuracy(accuracies):
    with tempfile.TemporaryDirectory() as d:
        for acc in accuracies:
            progress.record_milestone(MILESTONE.number, {"accuracy": acc}, root=Path(d))
        best = progress.milestone_result(MILESTONE.number, Path(d))
        assert best["accuracy"] == max(accuracies)
        stored = json.loads(progress.path(Path(d)).read_text(encoding="utf-8"))
        assert stored["milestones"][MILESTONE.number]["latest"]["accuracy"] == accuracies[-1]


def test_milestone_state_goes_locked_ready_achieved(student_root):
    ms = course.MILESTONES[0]
    state, detail = progress.milestone_state(ms.number, root=student_root)
    first = course.get_module(ms.requires[0])
    assert state == "locked" and f"{first.number} ({first.name})" in detail
    for number in ms.requires:
        progress.mark_complete(number, root=student_root)
    assert progress.milestone_state(ms.number, root=student_root) == (
        "ready", f"tito milestone run {ms.number}")
    progress.record_milestone(ms.number, {"accuracy": 0.985, "data": "mnist", "epochs": 10,
                                          "time_s": 10.3}, root=student_root)
    assert progress.milestone_state(ms.number, root=student_root) == (
        "achieved", "98.50% (mnist, 10 epochs, 10.3 s)")
    progress.clear_complete(ms.requires[-1], root=student_root)
    assert progress.milestone_state(ms.number, root=student_root)[0] == "locked"
