"""The instructor side of the course: module sources -> nbgrader releases -> grades.

Everything here drives the real nbgrader: generate and feedback run it as a separate process
(``python -m nbgrader ...``) in the course directory; autograding (tito.autograde) uses its Python
API, with student code executed only in sandboxed workers. ``tito`` reads results from the files
nbgrader writes and from its gradebook.

Course directory layout (nbgrader's own; one assignment per module, named like its folder)::

    nbgrader_course/
        nbgrader_config.py                  written by `tito nbgrader init`
        gradebook.db                        nbgrader's gradebook (SQLite)
        source/NN_name/name.ipynb           instructor edition, from modules/NN_name/name.py
        release/NN_name/name.ipynb          student edition: no solutions, no hidden tests
        submitted/<student>/NN_name/name.ipynb
        autograded/<student>/NN_name/name.ipynb
        feedback/<student>/NN_name/name.html
        logs/                               the full nbgrader output of every tito run
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tito import cellformat, course

# As in tito.student: jsonschema (under nbformat and jupytext) would import the optional IRI
# checker rfc3987_syntax, which compiles a grammar for seconds; notebook schemas never use it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

DEFAULT_COURSE_DIR = course.REPO_ROOT / "nbgrader_course"
CONFIG_NAME = "nbgrader_config.py"
DEFAULT_TIMEOUT = 60
COURSE_ID = "tinytorch"


CONFIG_TEMPLATE = '''\
"""nbgrader configuration for the tinytorch course, written by `tito nbgrader init`.

nbgrader reads this file from the course directory; every `tito nbgrader` command runs nbgrader
with this directory as its working directory. Edit the values here, not in the notebooks.
"""
c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "{course_id}"

# source/ holds only notebooks made from modules/NN_name/name.py. Ignoring *.py as well means that
# no Python file that happens to sit in source/ (a solution, above all) is ever copied to release/.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py"]

# A student who deletes a graded test cell gets it back (and graded) instead of a silent zero.
c.OverwriteCells.add_missing_cells = True

# Grade in this environment's python3 kernel, whatever kernelspec a notebook claims, with a
# per-cell time limit; on timeout the kernel is interrupted and the next cell runs.
c.Execute.kernel_name = "python3"
c.Execute.timeout = {timeout}
c.Execute.interrupt_on_timeout = True
# Minimal tracebacks: an error inside a hidden test shows its message, never the test's source.
c.Execute.extra_arguments = [
    "--HistoryManager.hist_file=:memory:",
    "--InteractiveShell.xmode=Minimal",
]

# Keep huge outputs (a print in a loop) out of the graded notebook and the feedback.
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100

# Student code runs only in tito's sandboxed workers: nbgrader's own execution step is replaced by
# one that replays their outputs, so a plain `nbgrader autograde` here refuses instead of running
# submissions as you. Grade with `tito nbgrader autograde`.
c.Autograde.sanitize_preprocessors = [
    "tito.nbgrader_plugins.RepairSubmission",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "tito.nbgrader_plugins.ReplayExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Late work (due dates: `tito nbgrader init --due 01=2027-02-01T23:59`): each day late, or part of
# one, costs this fraction of the score the notebook earned, down to zero.
c.AssignLatePenalties.plugin_class = "tito.nbgrader_plugins.LatePenaltyPerDay"
c.LatePenaltyPerDay.per_day = 0.1

# Outputs and markdown come from students: every HTML page nbgrader makes of a submission
# (feedback, formgrader's views) passes them through nbconvert's sanitizer, so a hand-in cannot
# run script in the browser of whoever opens the page. SanitizeStudentHTML also cleans the
# markdown cells a student wrote or edited, which nbgrader's feedback template would not.
c.HTMLExporter.sanitize_html = True

# Feedback shows the test cells the student saw, never the hidden tests.
c.GenerateFeedback.preprocessors = {feedback_preprocessors}
'''

# What a feedback page is made with. `tito nbgrader feedback` passes the same list on nbgrader's
# command line, so a course whose config was written before a change still gets it.
FEEDBACK_PREPROCESSORS = (
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "tito.nbgrader_plugins.SanitizeStudentHTML",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
)


def feedback_options() -> list[str]:
    """nbgrader command-line options for safe feedback pages (see CONFIG_TEMPLATE)."""
    return ["--HTMLExporter.sanitize_html=True",
            *(f"--GenerateFeedback.preprocessors={p}" for p in FEEDBACK_PREPROCESSORS)]


class GradingError(Exception):
    """Bad input or an unusable course directory: the message says what to do."""


# ---------------------------------------------------------------------------------------------
# Course directory


def course_dir(path: str | Path | None) -> Path:
    return Path(path).expanduser().resolve() if path else DEFAULT_COURSE_DIR


def require_course(root: Path) -> Path:
    if not (root / CONFIG_NAME).is_file():
        raise GradingError(f"{root} is not an nbgrader course directory (no {CONFIG_NAME}): "
                           f"run `tito nbgrader init {root}` first, or pass --course DIR")
    return root


def init_course(root: Path, timeout: int = DEFAULT_TIMEOUT, force: bool = False) -> bool:
    """Write the course config; returns False when one exists and ``force`` is off."""
    if timeout < 1:
        raise GradingError(f"--timeout must be at least 1 second, got {timeout}")
    config = root / CONFIG_NAME
    root.mkdir(parents=True, exist_ok=True)
    make_private(root)
    for sub in ("source", "release", "submitted"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if config.exists() and not force:
        return False
    config.write_text(CONFIG_TEMPLATE.format(
        course_id=COURSE_ID, timeout=int(timeout),
        feedback_preprocessors=json.dumps(list(FEEDBACK_PREPROCESSORS), indent=4)),
                      encoding="utf-8")
    return True


DUE_FILE = Path(".tito") / "due.json"


def parse_due(items: Iterable[str]) -> dict[str, str]:
    """``NN=YYYY-MM-DDTHH:MM`` (UTC unless the time names its zone) -> {assignment id: ISO}."""
    from datetime import datetime, timezone

    out = {}
    for item in items:
        key, sep, when = item.partition("=")
        if not sep:
            raise GradingError(f"--due {item}: write it as NN=YYYY-MM-DDTHH:MM, e.g. "
                               f"01=2027-02-01T23:59")
        m = course.get_module(key)
        try:
            t = datetime.fromisoformat(when)
        except ValueError:
            raise GradingError(f"--due {item}: '{when}' is not a date and time like "
                               f"2027-02-01T23:59") from None
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        out[assignment_id(m)] = t.astimezone(timezone.utc).isoformat()
    return out


def due_dates(root: Path) -> dict[str, str]:
    import json

    try:
        return json.loads((root / DUE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def set_due_dates(root: Path, due: dict[str, str]) -> None:
    import json

    from tito.progress import atomic_write_text

    merged = {**due_dates(root), **due}
    atomic_write_text(root / DUE_FILE, json.dumps(merged, indent=2, sort_keys=True) + "\n")


def apply_due_dates(root: Path) -> None:
    """Put the course's due dates on the gradebook's assignments (nbgrader reads them there)."""
    from datetime import datetime

    due = due_dates(root)
    if not due or not (root / "gradebook.db").is_file():
        return
    with gradebook(root) as gb:
        names = {a.name for a in gb.assignments}
        for aid, when in due.items():
            if aid in names:
                naive = datetime.fromisoformat(when).replace(tzinfo=None)  # nbgrader keeps UTC
                gb.update_or_create_assignment(aid, duedate=naive)


def make_private(path: Path) -> None:
    """Readable and writable by the instructor only: the course directory holds the answers, the
    hidden tests, the gradebook and every student's work. (No-op where modes mean nothing.)"""
    if os.name != "posix" or not path.exists():
        return
    path.chmod(0o700 if path.is_dir() else 0o600)


def assignment_id(module: course.Module) -> str:
    return module.folder


def notebook_name(module: course.Module) -> str:
    return f"{module.name}.ipynb"


def modules_with_source() -> list[course.Module]:
    return [m for m in course.MODULES if m.source().is_file()]


def select_modules(keys: Iterable[str], all_: bool) -> list[course.Module]:
    keys = list(keys)
    if all_ and keys:
        raise GradingError("give module numbers or --all, not both")
    if all_:
        mods = modules_with_source()
        if not mods:
            raise GradingError("no module has a source under modules/ yet")
        return mods
    if not keys:
        raise GradingError("name a module (e.g. 01) or pass --all")
    mods = [course.get_module(k) for k in keys]
    for m in mods:
        if not m.source().is_file():
            raise GradingError(f"module {m.number} ({m.name}) has no source yet: "
                               f"{m.source().relative_to(course.REPO_ROOT)} is missing")
    return mods


# ---------------------------------------------------------------------------------------------
# Running nbgrader


# `python -m nbgrader`, except that jsonschema's optional IRI checker (rfc3987_syntax, which
# compiles a grammar for seconds at import and which notebook schemas never use) is left out.
NBGRADER_MAIN = ("import sys; sys.modules.setdefault('rfc3987_syntax', None); "
                 "sys.argv[0] = 'nbgrader'; "
                 "from nbgrader.apps.nbgraderapp import main; main()")


@dataclass
class Run:
    """One finished nbgrader process."""

    returncode: int
    lines: list[str]
    log: Path

    @property
    def errors(self) -> list[str]:
        return [ln for ln in self.lines if "| ERROR]" in ln or ln.startswith("Traceback")]


def run_nbgrader(root: Path, args: list[str], log_name: str,
                 on_line: Callable[[str], None] | None = None) -> Run:
    """Run ``python -m nbgrader *args`` in the course directory, streaming its output.

    Every line goes to ``logs/<log_name>.log``; ``on_line`` sees each line as it arrives.
    """
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    log = logs / f"{log_name}.log"
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    # nbgrader calls the `alembic` script by name; it lives next to this interpreter.
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = scripts + os.pathsep + env.get("PATH", "")
    cmd = [sys.executable, "-c", NBGRADER_MAIN, *args]
    lines: list[str] = []
    with open(log, "w", encoding="utf-8") as out:
        out.write("$ nbgrader " + " ".join(args) + "\n")
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                text=True, encoding="utf-8", errors="replace")
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                line = line.rstrip("\n")
                out.write(line + "\n")
                lines.append(line)
                if on_line:
                    on_line(line)
        finally:
            rc = proc.wait()
    return Run(rc, lines, log)


# ---------------------------------------------------------------------------------------------
# generate: module source -> source/NN_name/name.ipynb -> release/


def source_notebook(module: course.Module):
    """The instructor notebook of a module, ready for nbgrader (pairing metadata stripped)."""
    import jupytext

    nb = jupytext.read(module.source(), fmt="py:percent")
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    rel = module.source().relative_to(course.REPO_ROOT).as_posix()
    for i, cell in enumerate(nb.cells):
        if "incorrectly_encoded_metadata" in cell.metadata:
            raise GradingError(f"{rel}: cell {i} has metadata that is not valid JSON "
                               f"({cell.metadata['incorrectly_encoded_metadata'][:60]}...): "
                               f"nbgrader would silently stop grading it")
        cell.metadata.pop("jupytext", None)
    return nb


def write_source(root: Path, module: course.Module) -> Path:
    import nbformat

    nb = source_notebook(module)
    dest = root / "source" / assignment_id(module) / notebook_name(module)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(dest))
    return dest


def protected_lines(nb) -> set[str]:
    """Lines that occur only inside solution or hidden-test regions of the source notebook."""
    solutions, hidden = cellformat.secret_lines(c.source for c in nb.cells)
    return solutions | hidden


def release_leaks(root: Path, module: course.Module) -> list[str]:
    """What in release/NN_name/ should not be there; an empty list means the release is clean."""
    import nbformat

    folder = root / "release" / assignment_id(module)
    nb_path = folder / notebook_name(module)
    if not nb_path.is_file():
        return [f"{nb_path} was not created"]
    problems = [f"{p.relative_to(root)}: a Python file in the release"
                for p in folder.rglob("*.py")]
    released = nbformat.read(str(nb_path), as_version=4)
    secret = protected_lines(source_notebook(module))
    for i, cell in enumerate(released.cells):
        for marker in cellformat.DELIMITERS:
            if marker in cell.source:
                problems.append(f"cell {i}: marker '{marker}' left in the release")
        for line in cell.source.splitlines():
            if line.strip() in secret:
                problems.append(f"cell {i}: solution or hidden-test line released: "
                                f"{line.strip()[:80]}")
    return problems


# ---------------------------------------------------------------------------------------------
# autograde, feedback, export, status


def submitted_students(root: Path, module: course.Module, student: str | None = None) -> list[str]:
    base = root / "submitted"
    if not base.is_dir():
        return []
    out = []
    for d in sorted(base.iterdir()):
        if (d / assignment_id(module)).is_dir() and (student is None or d.name == student):
            out.append(d.name)
    return out


def db_url(root: Path) -> str:
    return "sqlite:///" + (root / "gradebook.db").as_posix()


def gradebook(root: Path):
    from nbgrader.api import Gradebook

    if not (root / "gradebook.db").is_file():
        raise GradingError(f"{root} has no gradebook yet: run `tito nbgrader generate` first")
    return Gradebook(db_url(root), COURSE_ID)


def submitted_notebook(root: Path, module: course.Module, student: str) -> Path:
    return root / "submitted" / student / assignment_id(module) / notebook_name(module)


def release_notebook(root: Path, module: course.Module) -> Path:
    return root / "release" / assignment_id(module) / notebook_name(module)


def graded_notebook(root: Path, module: course.Module, student: str) -> Path:
    return root / "autograded" / student / assignment_id(module) / notebook_name(module)


def cell_failures(path: Path) -> tuple[list[str], list[str]]:
    """(timed-out grade ids, failed grade ids) of graded cells in an autograded notebook."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    timeouts, failed = [], []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        names = [o.get("ename") for o in cell.get("outputs", []) if o.output_type == "error"]
        if "CellTimeoutError" in names:
            timeouts.append(meta.get("grade_id", "?"))
        elif names:
            failed.append(meta.get("grade_id", "?"))
    return timeouts, failed


def graded_ids(root: Path, module: course.Module) -> list[str]:
    """grade_ids of the graded cells in a module's release."""
    import nbformat

    nb = nbformat.read(str(root / "release" / assignment_id(module) / notebook_name(module)), 4)
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")]


def scores(root: Path, module: course.Module) -> dict[str, tuple[float, float]]:
    """student -> (score, max score) for one assignment, from the gradebook."""
    from nbgrader.api import MissingEntry

    out: dict[str, tuple[float, float]] = {}
    with gradebook(root) as gb:
        try:
            assignment = gb.find_assignment(assignment_id(module))
        except MissingEntry:
            return out
        for sub in assignment.submissions:
            out[sub.student.id] = (float(sub.score), float(sub.max_score))
    return out


def released(root: Path, module: course.Module) -> bool:
    return (root / "release" / assignment_id(module) / notebook_name(module)).is_file()


def hidden_test_lines(module: course.Module) -> set[str]:
    """Lines of the module's hidden tests that never appear in a student's view."""
    return cellformat.secret_lines(c.source for c in source_notebook(module).cells)[1]


def feedback_leaks(path: Path, module: course.Module) -> list[str]:
    """Hidden-test lines that made it into a feedback HTML file."""
    import html

    text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8",
                                                               errors="replace")))
    found = [cellformat.BEGIN_HIDDEN] if cellformat.BEGIN_HIDDEN in text else []
    # Whole lines only: a hidden line can be the start of a longer visible one (the same assert
    # with a message), and the visible one belongs in the feedback.
    return found + cellformat.leaked_lines(text, hidden_test_lines(module))


def output_leaks(path: Path, module: course.Module) -> list[str]:
    """Hidden-test lines anywhere in what a graded notebook's cells printed (a student's code
    that printed the tests it could see, however it wrapped them)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    printed = "\n".join(
        str(o.get("text", "")) + "\n".join(str(v) for v in o.get("data", {}).values())
        + "\n".join(o.get("traceback", [])) for c in nb.cells for o in c.get("outputs", []))
    return sorted(line for line in hidden_test_lines(module) if line in printed)


def submission_notes(root: Path, module: course.Module, student: str) -> list[str]:
    """What nbgrader had to repair in a submission: deleted or edited locked test cells."""
    import nbformat

    release = root / "release" / assignment_id(module) / notebook_name(module)
    submitted = root / "submitted" / student / assignment_id(module) / notebook_name(module)
    if not submitted.is_file():
        return [f"no {notebook_name(module)} in the submission"]
    try:
        mine = nbformat.read(str(submitted), as_version=4)
        theirs = nbformat.read(str(release), as_version=4)
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported, not raised
        return [f"unreadable notebook ({type(err).__name__})"]

    def locked(nb) -> dict[str, str]:
        out = {}
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and meta.get("locked") and meta.get("grade_id"):
                out[meta["grade_id"]] = cell.get("source", "")
        return out

    given, got = locked(theirs), locked(mine)
    notes = []
    deleted = [g for g in given if g not in got]
    edited = [g for g in given if g in got and got[g].strip() != given[g].strip()]
    if deleted:
        notes.append("deleted " + ", ".join(deleted) + " (restored and graded)")
    if edited:
        notes.append("edited locked " + ", ".join(edited) + " (graded with the original)")
    return notes


def max_score(root: Path, module: course.Module) -> float | None:
    """Total points of an assignment as the gradebook knows it (None: not generated)."""
    from nbgrader.api import MissingEntry

    with gradebook(root) as gb:
        try:
            return float(gb.find_assignment(assignment_id(module)).max_score)
        except MissingEntry:
            return None


STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")


def find_handins(module: course.Module, paths: Iterable[Path],
                 student: str | None = None) -> list[tuple[str, Path]]:
    """(student, notebook) pairs from files and folders handed in outside nbgrader's exchange.

    A folder may hold ``<student>.ipynb`` files and/or ``<student>/`` folders with the module's
    notebook (``<student>/name.ipynb``) in them. ``student`` names the owner of a single file.
    """
    paths = [Path(p).expanduser() for p in paths]
    found: list[tuple[str, Path]] = []
    if student is not None:
        if len(paths) != 1 or not paths[0].is_file():
            raise GradingError("--student goes with exactly one notebook file")
        found.append((student, paths[0]))
    else:
        for p in paths:
            if p.is_file():
                found.append((p.stem, p))
            elif p.is_dir():
                for item in sorted(p.iterdir()):
                    if item.is_file() and item.suffix == ".ipynb":
                        found.append((item.stem, item))
                    elif item.is_dir() and (item / notebook_name(module)).is_file():
                        found.append((item.name, item / notebook_name(module)))
            else:
                raise GradingError(f"{p}: no such file or folder")
    seen: set[str] = set()
    for who, path in found:
        if not STUDENT_ID.match(who):
            raise GradingError(f"{path}: '{who}' cannot be a student id (use letters, digits "
                               f"and _ . @ + -); rename the file or pass --student ID")
        if who in seen:
            raise GradingError(f"two hand-ins for student '{who}'")
        seen.add(who)
    return found


def collect(root: Path, module: course.Module, handins: list[tuple[str, Path]]) -> list[str]:
    """Copy hand-ins to submitted/<student>/NN_name/name.ipynb; returns replaced students.

    The hand-in file's modification time goes to ``timestamp.txt`` next to it, as nbgrader's own
    collect does with the submission time: nbgrader then regrades a newer hand-in without
    ``--force`` and, if the instructor sets due dates, can tell late work.
    """
    import shutil
    from datetime import datetime, timezone

    replaced = []
    for who, path in handins:
        dest = root / "submitted" / who / assignment_id(module) / notebook_name(module)
        if dest.exists():
            replaced.append(who)
        dest.parent.mkdir(parents=True, exist_ok=True)
        for folder in (dest.parent.parent, dest.parent):
            make_private(folder)
        shutil.copyfile(path, dest)
        when = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        (dest.parent / "timestamp.txt").write_text(
            when.strftime("%Y-%m-%d %H:%M:%S.%f UTC") + "\n", encoding="utf-8")
        for f in (dest, dest.parent / "timestamp.txt"):
            make_private(f)
    return replaced
