"""A student's progress through the course: one JSON file in the working copy.

The file is ``.tinytorch/progress.json`` next to ``modules/`` and ``tinytorch/``. It is written
atomically (a temporary file in the same folder, then ``os.replace``), so an interrupted tito
never leaves half a file behind. A file that cannot be read is reported in one line, moved aside
to a timestamped ``.bak`` and replaced by an empty record: progress is worth keeping, but never
worth a crash.

Which modules count as complete depends on the edition of the working copy:

- the **student edition** (made by ``tito release student``; ``.tinytorch/edition`` says
  ``student``): a module is complete once ``tito module complete`` has recorded it here;
- the **instructor edition** (this repository, with solutions): every module whose source exists
  and whose package files have been exported counts as complete, so milestones and later modules
  are available without working through the course.

Shape of the file::

    {"version": 1,
     "modules": {"01": {"started": "...", "completed": "...",
                        "points": 70, "total": 70, "graded": "...",
                        "last_test": {"at": "...", "passed": 25, "failed": 0,
                                      "points": 70, "total": 70}}},
     "milestones": {"03": {"best": {"accuracy": 0.97, "at": "..."},
                           "latest": {"accuracy": 0.95, "at": "..."}, "runs": 2}}}
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from tito import course

STATE_DIR = ".tinytorch"
PROGRESS_FILE = "progress.json"
EDITION_FILE = "edition"
VERSION = 1

NOT_STARTED, IN_PROGRESS, COMPLETE = "not started", "in progress", "complete"


def _root(root: Path | None) -> Path:
    return Path(root) if root is not None else course.REPO_ROOT


def now() -> str:
    """A local timestamp with its UTC offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def stamp() -> str:
    """A timestamp usable in a file name (backups)."""
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def state_dir(root: Path | None = None) -> Path:
    return _root(root) / STATE_DIR


def path(root: Path | None = None) -> Path:
    return state_dir(root) / PROGRESS_FILE


# ---- edition -------------------------------------------------------------------------------

def edition(root: Path | None = None) -> str:
    """``"student"`` in a student edition, ``"instructor"`` everywhere else."""
    marker = state_dir(root) / EDITION_FILE
    try:
        text = marker.read_text(encoding="utf-8").strip()
    except OSError:
        return "instructor"
    return "student" if text == "student" else "instructor"


def is_student_edition(root: Path | None = None) -> bool:
    return edition(root) == "student"


INSTRUCTOR_REFUSAL = ("this is the instructor edition: its tinytorch/ is generated from the "
                      "module sources by `tito export`; make a student copy with `tito release "
                      "student --out DIR` to work through the course")


def student_only(root: Path | None = None) -> str | None:
    """Why a student command (``module start``, ``test``, ``complete``) cannot run here, or
    None in a student edition. One message for all of them."""
    return None if is_student_edition(root) else INSTRUCTOR_REFUSAL


# ---- reading and writing -------------------------------------------------------------------

def empty() -> dict:
    return {"version": VERSION, "modules": {}, "milestones": {}}


def _valid(data) -> bool:
    if not isinstance(data, dict):
        return False
    for key in ("modules", "milestones"):
        section = data.get(key, {})
        if not isinstance(section, dict):
            return False
        if not all(isinstance(v, dict) for v in section.values()):
            return False
    return True


def load(root: Path | None = None) -> dict:
    """The progress record; empty when there is none, and never an exception for a bad file."""
    p = path(root)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        return empty()
    except OSError as err:
        print(f"tito: cannot read {p}: {err.strerror}; showing no progress", file=sys.stderr)
        return empty()
    try:
        data = json.loads(raw.decode("utf-8"))
        problem = None if _valid(data) else "it does not hold a progress record"
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        problem = f"it is not valid JSON ({err.__class__.__name__})"
    if problem is None:
        data.setdefault("version", VERSION)
        data.setdefault("modules", {})
        data.setdefault("milestones", {})
        return data
    backup = p.with_name(f"{p.name}.{stamp()}.bak")
    try:
        os.replace(p, backup)
        where = f"moved it to {backup.relative_to(_root(root)).as_posix()}"
    except (OSError, ValueError):
        where = "could not move it aside"
    print(f"tito: progress file {p.name} is unreadable: {problem}; {where} and started an "
          f"empty record (your notebooks and tinytorch/ are untouched: run `tito module "
          f"complete NN` again for the modules you had completed)", file=sys.stderr)
    return empty()


def atomic_write_text(target: Path, text: str) -> None:
    """Write ``text`` so that readers see the old file or the new one, never a partial one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save(data: dict, root: Path | None = None) -> None:
    """Write the record atomically."""
    atomic_write_text(path(root), json.dumps(data, indent=2, sort_keys=True) + "\n")


def _key(number) -> str:
    return course.get_module(number).number


def _update(root: Path | None, fn) -> dict:
    data = load(root)
    fn(data)
    save(data, root)
    return data


# ---- modules -------------------------------------------------------------------------------

def mark_started(number, root: Path | None = None) -> None:
    key = _key(number)

    def fn(data):
        entry = data["modules"].setdefault(key, {})
        entry.setdefault("started", now())

    _update(root, fn)


def mark_complete(number, points=None, total=None, root: Path | None = None) -> None:
    key = _key(number)

    def fn(data):
        entry = data["modules"].setdefault(key, {})
        entry.setdefault("started", now())
        entry["completed"] = now()
        if points is not None:
            entry["points"] = points
        if total is not None:
            entry["total"] = total

    _update(root, fn)


def clear_complete(number, root: Path | None = None) -> None:
    """Forget a completion (the module's export was removed); the module stays started."""
    key = _key(number)

    def fn(data):
        entry = data["modules"].get(key)
        if entry:
            entry.pop("completed", None)

    _update(root, fn)


def record_test(number, passed: int, failed: int, points=None, total=None,
                root: Path | None = None) -> None:
    """Remember the last test run of a module (points only when the notebook was graded)."""
    key = _key(number)

    def fn(data):
        entry = data["modules"].setdefault(key, {})
        at = now()
        entry["last_test"] = {"at": at, "passed": int(passed), "failed": int(failed),
                              "points": points, "total": total}
        if points is not None:      # a run that graded the notebook: keep its points
            entry["points"], entry["total"], entry["graded"] = points, total, at

    _update(root, fn)


def module_entry(number, root: Path | None = None, data: dict | None = None) -> dict:
    """A module's record: started/completed times, the last test run, the points."""
    data = data if data is not None else load(root)
    return dict(data["modules"].get(_key(number), {}))


def _available_in_instructor_edition(m: course.Module, root: Path) -> bool:
    if not m.source(root).exists():
        return False
    return all(root.joinpath("tinytorch", *t.split(".")).with_suffix(".py").exists()
               for t in m.targets)


def module_state(number, root: Path | None = None, data: dict | None = None) -> str:
    """``"not started"``, ``"in progress"`` or ``"complete"`` (see the module docstring)."""
    r = _root(root)
    m = course.get_module(number)
    entry = (data if data is not None else load(root))["modules"].get(m.number, {})
    if entry.get("completed"):
        return COMPLETE
    if not is_student_edition(r) and _available_in_instructor_edition(m, r):
        return COMPLETE
    if entry.get("started") or m.notebook(r).exists():
        return IN_PROGRESS
    return NOT_STARTED


def completed_modules(root: Path | None = None) -> list[str]:
    data = load(root)
    return [m.number for m in course.MODULES
            if module_state(m.number, root, data) == COMPLETE]


# ---- milestones ----------------------------------------------------------------------------

def _accuracy(result: dict | None):
    if not result:
        return None
    value = result.get("accuracy")
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def record_milestone(number, result: dict, root: Path | None = None) -> None:
    """Keep the latest run of a milestone and the best one by ``result["accuracy"]``."""
    key = course.get_milestone(number).number
    result = dict(result)
    result.setdefault("at", now())

    def fn(data):
        entry = data["milestones"].setdefault(key, {})
        entry["latest"] = result
        entry["runs"] = int(entry.get("runs", 0)) + 1
        best = entry.get("best")
        new, old = _accuracy(result), _accuracy(best)
        if best is None or (new is not None and (old is None or new >= old)):
            entry["best"] = result

    _update(root, fn)


def describe_result(result: dict | None) -> str:
    """A milestone record in a few words: ``98.34% (mnist, 10 epochs, 10.3 s)``."""
    if not result:
        return ""
    acc = _accuracy(result)
    head = "" if acc is None else (f"{acc:.2%}" if acc <= 1 else f"{acc:g}")
    details = []
    data = result.get("data")
    if isinstance(data, str) and data:
        details.append(data)
    epochs = result.get("epochs")
    if isinstance(epochs, int) and not isinstance(epochs, bool):
        details.append(f"{epochs} epoch{'s' if epochs != 1 else ''}")
    seconds = result.get("time_s")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        details.append(f"{seconds:.1f} s")
    tail = f"({', '.join(details)})" if details else ""
    return " ".join(p for p in (head, tail) if p)


def milestone_result(number, root: Path | None = None, data: dict | None = None
                     ) -> dict | None:
    """The best recorded run of a milestone, or None."""
    data = data if data is not None else load(root)
    entry = data["milestones"].get(course.get_milestone(number).number)
    return dict(entry["best"]) if entry and entry.get("best") else None


def milestone_missing(number, root: Path | None = None, data: dict | None = None
                      ) -> list[course.Module]:
    """Modules a milestone needs that are not complete in this working copy."""
    data = data if data is not None else load(root)
    done = {m.number for m in course.MODULES if module_state(m.number, root, data) == COMPLETE}
    return [course.get_module(n) for n in course.get_milestone(number).requires
            if n not in done]


def milestone_state(number, root: Path | None = None, data: dict | None = None
                    ) -> tuple[str, str]:
    """``("locked", what it needs)``, ``("achieved", best result)`` or ``("ready", command)``.

    `tito milestone list` and `tito module status` both show this, so they always agree.
    """
    data = data if data is not None else load(root)
    ms = course.get_milestone(number)
    missing = milestone_missing(number, root, data)
    if missing:
        return "locked", "complete modules " + ", ".join(f"{m.number} ({m.name})"
                                                         for m in missing)
    best = milestone_result(ms.number, root, data)
    if best:
        return "achieved", describe_result(best)
    return "ready", f"tito milestone run {ms.number}"
