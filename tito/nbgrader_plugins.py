"""nbgrader plugins of the course: a sandbox-only autograde pipeline, the late policy, safe pages.

nbgrader's ``autograde`` runs two passes over a submission: *sanitize* (restore locked cells and
hidden tests from the gradebook) and *autograde* (execute, then score into the gradebook). tito
keeps both passes and nbgrader's scoring, and changes two steps:

- ``RepairSubmission`` (first in sanitize): honest edits that would make nbgrader refuse a whole
  notebook are repaired: a graded cell duplicated in JupyterLab keeps its first copy as the graded
  one, and the copies become ordinary cells.
- ``ReplayExecute`` (in place of ``Execute``): the cells were already executed in a sandboxed
  worker (tito.grade_worker); this step copies those outputs into the notebook, after checking
  that the worker ran exactly the cells nbgrader restored. It never runs code. Without a worker's
  result it refuses, so a plain ``nbgrader autograde`` in the course directory cannot run
  student code outside the sandbox.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode


def cells_digest(nb) -> str:
    """What identifies the code a worker must run: every cell's type and source, in order."""
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(json.dumps([cell.cell_type, cell.source]).encode("utf-8"))
    return h.hexdigest()


class RepairSubmission(NbGraderPreprocessor):
    """Keep the first copy of a duplicated graded cell; later copies become ordinary cells."""

    def preprocess(self, nb, resources):
        seen: set[str] = set()
        repaired = []
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader")
            if not isinstance(meta, dict):
                continue
            gid = meta.get("grade_id")
            graded = meta.get("grade") or meta.get("solution") or meta.get("task")
            if graded and (not gid or gid in seen):
                del cell.metadata["nbgrader"]
                cell.metadata.pop("deletable", None)
                cell.metadata.pop("editable", None)
                repaired.append(gid or "?")
            elif gid:
                seen.add(gid)
        resources.setdefault("tito", {})["repaired"] = repaired
        return nb, resources


class ReplayExecute(NbGraderPreprocessor):
    """Put in the outputs that the sandboxed worker produced for this very notebook."""

    results_dir = Unicode("", help="where tito keeps the sandboxed workers' results").tag(
        config=True)

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        student, assignment = info.get("student"), info.get("assignment")
        if not self.results_dir:
            raise RuntimeError("this course grades only in the sandbox: run `tito nbgrader "
                               "autograde`, not `nbgrader autograde`")
        path = Path(self.results_dir) / assignment / f"{student}.json"
        if not path.is_file():
            raise RuntimeError(f"no sandboxed result for {student}: run `tito nbgrader "
                               f"autograde {assignment}`")
        result = json.loads(path.read_text(encoding="utf-8"))
        if result.get("digest") != cells_digest(nb):
            raise RuntimeError(f"the sandboxed result for {student} was made for other cells; "
                               f"grade again with `tito nbgrader autograde {assignment}`")
        import nbformat

        ran = nbformat.reads(result["notebook"], as_version=4)
        for mine, theirs in zip(nb.cells, ran.cells):
            if mine.cell_type == "code":
                mine.outputs = theirs.get("outputs", [])
                mine.execution_count = theirs.get("execution_count")
        return nb, resources


from nbgrader.plugins import LateSubmissionPlugin  # noqa: E402
from traitlets import Float  # noqa: E402


class LatePenaltyPerDay(LateSubmissionPlugin):
    """The course's late policy: each day late (or part of one) costs ``per_day`` of the points
    the notebook scored, down to zero. nbgrader calls it once per notebook of a late submission,
    with the lateness measured from the hand-in time (timestamp.txt) to the assignment's due
    date."""

    per_day = Float(0.1, help="the fraction of the score lost per started day late").tag(
        config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        if total_seconds_late <= 0:
            return 0.0
        days = -(-total_seconds_late // 86400)  # each started day counts
        return min(score, score * self.per_day * days)


from nbconvert.preprocessors.sanitize import SanitizeHTML  # noqa: E402
from traitlets import Bool  # noqa: E402


class SanitizeStudentHTML(SanitizeHTML):
    """nbconvert's HTML sanitizer, applied to what a student controls in a graded notebook.

    Every rich output goes through it (scripts and event handlers removed, ``text/html`` and
    ``text/markdown`` cleaned). Markdown cells go through it unless their text is exactly one
    of the release's markdown cells: the course's own prose keeps its HTML and its code spans,
    while a note a student added or edited is cleaned. nbgrader's feedback template renders
    markdown without the sanitizer that ``HTMLExporter.sanitize_html`` turns on for outputs,
    which is why this runs as a preprocessor, before the page is made.
    """

    # nbgrader registers its converters' preprocessors as they are; nbconvert's start disabled.
    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        self._trusted = self._release_markdown(resources)
        return super().preprocess(nb, resources)

    def _release_markdown(self, resources) -> set[str]:
        import nbformat
        from nbgrader.coursedir import CourseDirectory

        info = resources.get("nbgrader", {})
        if not info.get("assignment") or not info.get("notebook"):
            return set()
        coursedir = CourseDirectory(config=self.config)
        folder = Path(coursedir.format_path(coursedir.release_directory, ".",
                                            info["assignment"]))
        release = folder / f"{info['notebook']}.ipynb"
        if not release.is_file():
            return set()   # nothing to compare with: every markdown cell is cleaned
        nb = nbformat.read(str(release), as_version=4)
        return {c.source for c in nb.cells if c.cell_type == "markdown"}

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown" and cell.source in self._trusted:
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)
