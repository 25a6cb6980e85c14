"""Grades out of the gradebook: nbgrader's CSV with a status column, Canvas's layout, per cell.

Every layout reads nbgrader's gradebook through its Python API and the grading outcomes tito
saved (tito.autograde). A submission that was not graded has an empty score and its reason in
``status``: it is never written as a zero. A student with no submission has an empty score and
the status ``missing``.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from tito import autograde, course, grading

NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name",
                    "first_name", "email", "raw_score", "late_submission_penalty", "score",
                    "max_score"]
CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CELL_COLUMNS = ["assignment", "student_id", "grade_id", "score", "max_score", "status"]


def _statuses(root: Path) -> dict[tuple[str, str], str]:
    out = {}
    for m in course.MODULES:
        for student, o in autograde.saved_outcomes(root, m).items():
            out[(grading.assignment_id(m), student)] = o.status
    return out


def _num(x) -> str:
    return "" if x is None else f"{float(x):g}"


def rows(root: Path) -> list[dict]:
    """One row per student and released assignment, in nbgrader's CSV columns plus status."""
    from nbgrader.api import MissingEntry

    statuses = _statuses(root)
    out = []
    with grading.gradebook(root) as gb:
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            for student in sorted(gb.students, key=lambda s: s.id):
                row = {"assignment": assignment.name,
                       "duedate": assignment.duedate or "", "student_id": student.id,
                       "last_name": student.last_name or "",
                       "first_name": student.first_name or "", "email": student.email or "",
                       "max_score": _num(assignment.max_score)}
                status = statuses.get((assignment.name, student.id))
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                except MissingEntry:
                    sub = None
                if sub is None:
                    row.update(timestamp="", raw_score="", late_submission_penalty="",
                               score="", status=status or "missing")
                elif status and status.startswith("not graded"):
                    row.update(timestamp=sub.timestamp or "", raw_score="",
                               late_submission_penalty="", score="", status=status)
                else:
                    row.update(timestamp=sub.timestamp or "", raw_score=_num(sub.score),
                               late_submission_penalty=_num(sub.late_submission_penalty),
                               score=_num(sub.score - (sub.late_submission_penalty or 0)),
                               status=status or "ok")
                out.append(row)
        # Hand-ins nbgrader never took in (an unreadable notebook) still get their row.
        known = {(r["assignment"], r["student_id"]) for r in out}
        tops = {a.name: _num(a.max_score) for a in gb.assignments}
        for (aid, student), status in sorted(statuses.items()):
            if (aid, student) not in known and aid in tops:
                out.append({"assignment": aid, "duedate": "", "timestamp": "",
                            "student_id": student, "last_name": "", "first_name": "",
                            "email": "", "raw_score": "", "late_submission_penalty": "",
                            "score": "", "max_score": tops[aid], "status": status})
    return sorted(out, key=lambda r: (r["assignment"], r["student_id"]))


def nbgrader_csv(table: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=NBGRADER_COLUMNS + ["status"], lineterminator="\n")
    w.writeheader()
    w.writerows(table)
    return buf.getvalue()


def canvas_csv(table: list[dict]) -> str:
    """Canvas's gradebook import: one row per student, one column per assignment, and a
    'Points Possible' row under the header. An empty cell leaves Canvas's grade unchanged."""
    assignments = sorted({r["assignment"] for r in table})
    top = {r["assignment"]: r["max_score"] for r in table}
    students: dict[str, dict] = {}
    for r in table:
        s = students.setdefault(r["student_id"], {
            "Student": ", ".join(x for x in (r["last_name"], r["first_name"]) if x)
            or r["student_id"], "ID": "", "SIS User ID": r["student_id"],
            "SIS Login ID": r["student_id"], "Section": ""})
        s[r["assignment"]] = r["score"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CANVAS_FIXED + assignments, lineterminator="\n")
    w.writeheader()
    w.writerow({"Student": "Points Possible", **{a: top[a] for a in assignments}})
    for sid in sorted(students):
        w.writerow(students[sid])
    return buf.getvalue()


def cells_csv(root: Path) -> str:
    """Every graded cell of every submission: which test did everyone miss?"""
    statuses = _statuses(root)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CELL_COLUMNS, lineterminator="\n")
    w.writeheader()
    with grading.gradebook(root) as gb:
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            for sub in sorted(assignment.submissions, key=lambda s: s.student.id):
                status = statuses.get((assignment.name, sub.student.id), "ok")
                blank = status.startswith("not graded")
                for nb in sub.notebooks:
                    for g in sorted(nb.grades, key=lambda g: g.name):
                        w.writerow({"assignment": assignment.name,
                                    "student_id": sub.student.id, "grade_id": g.name,
                                    "score": "" if blank else _num(g.score),
                                    "max_score": _num(g.max_score), "status": status})
    return buf.getvalue()
