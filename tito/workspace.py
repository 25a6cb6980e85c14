"""A student's own working copy on a shared JupyterHub: ``~/tinytorch-course``.

On a hub every student's server runs one shared, read-only venv holding the student edition
without any student code. From module 02 on, a notebook imports the student's *own* earlier
modules, so each student needs a package of their own. The workspace is that: a copy of the
student edition in the student's home, owned by the student, mode 0700, made by the student's
own server the first time it starts (``tito.hub_launch``), and put first on the server's
``PYTHONPATH`` so the server, its kernels and its terminals import the student's ``tinytorch``
and ``tito``.

It is a normal student-edition working copy (tito/, tinytorch/, tests/, milestones/,
benchmarks/, README, ``.tinytorch/edition``) except for the module sources: on the hub a
module's notebook arrives through nbgrader's exchange (the Assignments tab, or
``nbgrader fetch_assignment NN_name``), which writes ``modules/NN_name/name.ipynb``, exactly where
tito expects a student's notebook, and which refuses to write into a folder that already
exists. So ``modules/`` starts empty, and the students' nbgrader config points nbgrader's
``Exchange.assignment_dir`` at it.

Pure Python (pathlib, os, shutil): it runs as each student, from the students' venv.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tito import course, progress

WORKSPACE_NAME = "tinytorch-course"     # in the student's home
MODULES_DIR = "modules"                 # where nbgrader's fetch puts each assignment
MARKER = "workspace"                    # .tinytorch/workspace: this copy is a hub workspace
MODE = 0o700
README_TEMPLATE = Path(__file__).resolve().parent / "templates" / "hub" / "workspace_modules.md"

# Never copied from the edition: build leftovers (pip builds the edition in place when root
# installs it into the venv), caches, and anything a run inside the edition may have left.
_SKIPPED_TOP = {MODULES_DIR, progress.STATE_DIR, "build", "dist", ".git", ".venv"}
_SKIPPED_ANYWHERE = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis"}


class WorkspaceError(Exception):
    """The workspace cannot be made or used; the message says what to do."""


def workspace_path(home: Path | None = None) -> Path:
    """``<home>/tinytorch-course`` (the current account's home by default)."""
    return (Path(home) if home is not None else Path(os.path.expanduser("~"))) / WORKSPACE_NAME


def assignment_dir(home: Path | None = None) -> Path:
    """Where nbgrader fetches assignments to and submits them from."""
    return workspace_path(home) / MODULES_DIR


def is_workspace(root: Path) -> bool:
    """True for a hub workspace: a student edition carrying the workspace marker."""
    root = Path(root)
    return progress.is_student_edition(root) and (root / progress.STATE_DIR / MARKER).is_file()


def _skipped(relpath: Path) -> bool:
    parts = relpath.parts
    return (parts[0] in _SKIPPED_TOP or parts[0].endswith(".egg-info")
            or bool(_SKIPPED_ANYWHERE & set(parts)) or relpath.suffix == ".pyc")


def copied_files(edition: Path) -> list[Path]:
    """The edition's files a workspace gets, relative to the edition (regular files only)."""
    found = []
    for folder, dirs, files in os.walk(edition):     # never follows a symlink
        here = Path(folder).relative_to(edition)
        dirs[:] = sorted(d for d in dirs
                         if not os.path.islink(os.path.join(folder, d))
                         and not _skipped(here / d))
        for name in sorted(files):
            rel = here / name
            path = Path(folder) / name
            if not _skipped(rel) and path.is_file() and not path.is_symlink():
                found.append(rel)
    return found


def modules_readme() -> str:
    first = course.MODULES[0]
    return README_TEMPLATE.read_text(encoding="utf-8").format(
        first=first, second=course.MODULES[1] if len(course.MODULES) > 1 else first)


def _fill(edition: Path, dest: Path) -> None:
    for rel in copied_files(edition):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(edition / rel, target)
        executable = os.stat(edition / rel).st_mode & 0o100
        os.chmod(target, 0o755 if executable else 0o644)
    (dest / MODULES_DIR).mkdir(exist_ok=True)
    (dest / MODULES_DIR / "README.md").write_text(modules_readme(), encoding="utf-8")
    state = dest / progress.STATE_DIR
    state.mkdir(exist_ok=True)
    (state / progress.EDITION_FILE).write_text("student\n", encoding="utf-8")
    (state / MARKER).write_text(
        f"A tinytorch workspace on a JupyterHub, made from {edition} on {progress.now()}.\n"
        f"Your notebooks arrive in {MODULES_DIR}/ through nbgrader (the Assignments tab).\n",
        encoding="utf-8")


def refusal(path: Path) -> str:
    return (f"{path} exists but is not a tinytorch workspace (it has no "
            f"{progress.STATE_DIR}/{MARKER}); nothing in it was changed. Move it aside, e.g. "
            f"`mv {path} {path}.old`, then start your server again from the hub's home page")


def make_workspace(edition: Path, home: Path | None = None) -> tuple[Path, bool]:
    """The workspace in ``home``, made from ``edition`` if it is missing: (path, made now).

    Runs as the student. The copy is built in a private temporary folder next to it and renamed
    into place, so a workspace is either complete or absent. An existing path that is not a
    workspace is never touched: WorkspaceError says what to do.
    """
    edition = Path(edition)
    target = workspace_path(home)
    if target.exists() or target.is_symlink():
        if is_workspace(target):
            return target, False
        raise WorkspaceError(refusal(target))
    if not progress.is_student_edition(edition):
        raise WorkspaceError(
            f"{edition} is not a student edition (no {progress.STATE_DIR}/"
            f"{progress.EDITION_FILE} saying student, or this account cannot read it): the hub's "
            f"config must name the folder made by `tito release student --out DIR`, readable "
            f"by every account (`chmod -R a+rX DIR`)")
    parent = target.parent
    if not parent.is_dir():
        raise WorkspaceError(f"the home folder {parent} does not exist: the workspace is made "
                             f"in the student's home (HOME)")
    if hasattr(os, "geteuid") and os.geteuid() == 0 and parent.stat().st_uid != 0:
        # Files written by root into another account's home are root's, and a link placed
        # there by that account could redirect them: the student's own server makes it.
        raise WorkspaceError(f"refusing to make {target} as root in a home owned by another "
                             f"account: each student's own server makes their workspace")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{WORKSPACE_NAME}-", dir=parent))   # mode 0700
    except OSError as err:
        raise WorkspaceError(f"cannot make {target}: {err}") from None
    try:
        _fill(edition, tmp)
        os.chmod(tmp, MODE)
        os.rename(tmp, target)      # fails if something non-empty appeared there meanwhile
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_workspace(target):    # another start of the same server made it first
            return target, False
        raise WorkspaceError(f"could not make {target} from {edition}: {err}") from None
    return target, True


def fetch_hint(module: course.Module, root: Path) -> str:
    """How a module's notebook reaches a hub workspace (for ``tito module start`` and friends)."""
    from tito.grading import assignment_id

    aid = assignment_id(module)
    nb = module.notebook(root).relative_to(root).as_posix()
    return (f"on the hub, module {module.number}'s notebook comes from the Assignments tab "
            f"(Fetch {aid}), or from `nbgrader fetch_assignment {aid}` in a terminal; it lands "
            f"in {nb}")
