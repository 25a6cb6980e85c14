"""The student edition: which files it holds, how it is built, and the check that it leaks
nothing.

The student edition is a complete working copy a student installs and works in:

- ``modules/``: every module source with its solutions replaced by nbgrader's stub
  (``raise NotImplementedError()``) and its hidden tests removed, by nbgrader's own
  preprocessors; ``tito module start`` turns a source into the student's notebook;
- ``tinytorch/``: only what needs no student code: the package frame, package data, and any
  generated file whose exported cells hold no solution;
- ``tito/``: the command line, without the instructor-only groups (export, lint, nbgrader,
  release), this file, and any file that contains nbgrader delimiters (or imports one that does);
- ``tests/``: the tests that ``tito module test`` and ``complete`` run (files carrying a module
  or integration marker), the shared conftest and helpers;
- ``milestones/``, ``benchmarks/`` (but for the few that time a version of an answer),
  packaging files, a README written for students (from ``tito/templates/student_README.md``),
  an empty progress record and ``.tinytorch/edition``.
"""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from tito import cellformat, course, progress, student
from tito import export as exporter

# `tito export` writes the package from the module sources, which in a student edition are the
# blank templates: it would replace a student's completed code with stubs.
INSTRUCTOR_GROUPS = ("export", "lint", "nbgrader", "release")
# Files a student edition leaves out, with the reason it prints. A benchmark that holds a
# version of a module's answer belongs here (the leak check would refuse the edition).
INSTRUCTOR_FILES = {
    "tito/edition.py": "builds the student edition",
    "benchmarks/step_breakdown.py": "times a variant of module 05's linear backward rule",
}
COPIED_DIRS = ("tito", "tests", "milestones", "benchmarks")
TOP_FILES = ("setup.cfg", "pyproject.toml", "setup.py", "MANIFEST.in", "LICENSE", "LICENSE.md",
             "LICENSE.txt", "requirements.txt")
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis", "results"}
README_TEMPLATE = Path(__file__).resolve().parent / "templates" / "student_README.md"
STUDENT_GITIGNORE = """\
# Your notebooks (modules/*/*.ipynb) and .tinytorch/progress.json are your work: commit them.
.venv/
__pycache__/
*.pyc
*.egg-info/
build/
dist/
.pytest_cache/
.hypothesis/
.ipynb_checkpoints/
.tinytorch/build-*/
milestones/*/results/
"""


# ---- which files ---------------------------------------------------------------------------

def listed_files(root: Path) -> list[Path]:
    """Files of the working copy: git's tracked and unignored files, else a walk of the tree."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=root, capture_output=True, timeout=60)
        if out.returncode == 0:
            names = {n for n in out.stdout.decode("utf-8", "replace").split("\0") if n}
            return sorted(root / n for n in names if (root / n).is_file())
    except (OSError, subprocess.SubprocessError):
        pass
    found = [p for p in root.iterdir() if p.is_file()]
    for d in (*COPIED_DIRS, "modules", "tinytorch"):
        found += [p for p in (root / d).rglob("*")
                  if p.is_file() and not _skipped(p.relative_to(root))]
    return sorted(found)


def _skipped(relpath: Path) -> bool:
    return bool(SKIP_PARTS & set(relpath.parts)) or relpath.suffix in (".pyc", ".ipynb")


def _tito_imports(path: Path) -> set[str]:
    """Modules of the ``tito`` package a file imports (anywhere in it)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, OSError):
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tito."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "tito":
                found.update(f"tito.{a.name}" for a in node.names)
            elif node.module.startswith("tito."):
                found.add(node.module)
    return found


def _dotted(relpath: Path) -> str:
    parts = list(relpath.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def tito_files(root: Path, files: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """tito's files for the student edition, and the ones left out with the reason."""
    mine = [f for f in files if f.relative_to(root).parts[0] == "tito"
            and not _skipped(f.relative_to(root))]
    dropped: dict[Path, str] = {}
    for f in mine:
        r = f.relative_to(root)
        if r.parts[:2] == ("tito", "commands") and f.stem in INSTRUCTOR_GROUPS:
            dropped[f] = "instructor-only command"
        elif r.as_posix() in INSTRUCTOR_FILES:
            dropped[f] = INSTRUCTOR_FILES[r.as_posix()]
        elif f.suffix == ".py" and cellformat.has_delimiters(f.read_text(encoding="utf-8")):
            dropped[f] = "contains nbgrader delimiters"
    modules = {_dotted(f.relative_to(root)): f for f in mine if f.suffix == ".py"}
    changed = True
    while changed:
        changed = False
        gone = {name for name, f in modules.items() if f in dropped}
        for name, f in modules.items():
            if f in dropped:
                continue
            needs = _tito_imports(f) & gone
            if needs:
                dropped[f] = f"imports {sorted(needs)[0]}, which is left out"
                changed = True
    return [f for f in mine if f not in dropped], sorted(dropped.items())


def carries_course_marker(text: str) -> bool:
    """True when the code (not a string in it) applies a course marker (course.test_markers)."""
    return bool(course.test_markers(text))


def test_files(root: Path, files: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The tests a student's tito runs, plus conftest and helpers; the rest is left out."""
    keep, dropped = [], []
    for f in files:
        r = f.relative_to(root)
        if r.parts[0] != "tests" or _skipped(r):
            continue
        if r.parts[:2] == ("tests", "mutants"):     # the solutions with bugs planted in them
            dropped.append((f, "mutation testing of the solutions (instructor only)"))
            continue
        text = f.read_text(encoding="utf-8", errors="replace") if f.suffix == ".py" else ""
        if cellformat.has_delimiters(text):
            dropped.append((f, "contains nbgrader delimiters"))
        elif f.name.startswith("test_") and f.suffix == ".py":
            if carries_course_marker(text):
                keep.append(f)
            else:
                dropped.append((f, "tests the course tooling, not a module"))
        else:
            keep.append(f)
    return keep, dropped


# ---- the package ---------------------------------------------------------------------------

def package_files(root: Path, files: list[Path]) -> tuple[dict[Path, str], list[str]]:
    """Generated package text that needs no student code, and the targets left for students."""
    expected = exporter.expected_files(None, root=root)
    student_targets: list[str] = []
    for m in course.MODULES:
        if not m.source(root).exists():
            continue
        for f in exporter.collect(m, root=root).values():
            if any(cellformat.has_delimiters(chunk) for chunk in f.chunks):
                student_targets.append(f.target)
    out = {}
    for relpath, text in expected.items():
        target = ".".join(relpath.with_suffix("").parts)
        if target in student_targets:
            continue
        out[relpath] = text
    return out, student_targets


# ---- the README ----------------------------------------------------------------------------

def student_readme() -> str:
    """The student edition's README: the template filled in from the course map."""
    first = course.MODULES[0]
    names = [m.title.split(":")[0].strip().lower() for m in course.MODULES]
    topics = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    intro = textwrap.fill(
        f"You are going to build a small PyTorch in numpy, one Jupyter notebook at a time: "
        f"{topics}. Every module you complete becomes part of the `tinytorch` package in this "
        f"folder, and at the end you train real networks with the code you wrote.", width=96)
    rows = "\n".join(
        f"| {m.number} | {m.title} | `tinytorch.{m.target}` | "
        f"{', '.join(m.requires) or '—'} |" for m in course.MODULES)
    miles = "\n".join(
        f"| {s.number} | {s.title} ({s.year}) | {', '.join(s.requires)} |"
        for s in course.MILESTONES)
    template = README_TEMPLATE.read_text(encoding="utf-8")
    return template.format(intro=intro, first=first, rows=rows, miles=miles)


# ---- checks --------------------------------------------------------------------------------

def secret_lines(root: Path) -> tuple[set[str], set[str]]:
    """Solution lines and hidden-test lines of the instructor's sources (cellformat's policy)."""
    texts = [m.source(root).read_text(encoding="utf-8") for m in course.MODULES
             if m.source(root).exists()]
    return cellformat.secret_lines(texts)


def leaks(edition: Path, root: Path) -> list[str]:
    """Errors: delimiters or solution lines anywhere, hidden tests in the modules or package.

    Files are compared with the secret lines line by line, so a docstring that quotes an idea
    does not count, but a test that re-implements an answer does.
    """
    solutions, hidden = secret_lines(root)
    errors = []
    for f in sorted(edition.rglob("*")):
        if not f.is_file():
            continue
        r = f.relative_to(edition).as_posix()
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for d in cellformat.DELIMITERS:
            if d in text:
                errors.append(f"{r}: contains the nbgrader delimiter '{d}'")
        # tito's own files are tooling: the delimiter check above covers them, and their
        # ordinary lines (an empty dict, an except clause) match answers only by coincidence.
        if not r.startswith("tito/"):
            for s in cellformat.leaked_lines(text, solutions):
                errors.append(f"{r}: contains a solution line: {s}")
        # Hidden tests are secret in the modules; a pytest file may check the same fact.
        if r.startswith(("modules/", "tinytorch/")) or r == "README.md":
            for s in cellformat.leaked_lines(text, hidden):
                errors.append(f"{r}: contains a hidden test line: {s}")
    return errors


def smoke(edition: Path) -> str | None:
    """None when the edition's own tito starts and sees a student edition; else what failed."""
    env = dict(os.environ, PYTHONPATH=str(edition))
    proc = subprocess.run([sys.executable, "-m", "tito", "module", "status"], cwd=edition,
                          env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or "student edition" not in proc.stdout:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:]
        return f"`tito module status` fails in the edition: {tail[0] if tail else 'no output'}"
    return None


# ---- building ------------------------------------------------------------------------------

def _write(dest: Path, text: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text, encoding="utf-8", newline="\n")


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)


def build(root: Path, dest: Path, say=print) -> None:
    files = listed_files(root)
    # modules: stripped sources plus any non-code files of each module folder
    stripped = 0
    for m in course.MODULES:
        src = m.source(root)
        if not src.exists():
            continue
        text = src.read_text(encoding="utf-8")
        out = student.strip_source_text(src) if cellformat.has_delimiters(text) else text
        _write(m.source(dest), out)
        stripped += 1
        folder = src.parent
        for f in files:
            if f.parent == folder and f != src and f.suffix not in (".py", ".ipynb") \
                    and not _skipped(f.relative_to(root)):
                _copy(f, dest / f.relative_to(root))
    say(f"  modules/    {stripped} module sources, solutions and hidden tests removed")

    # tinytorch: the frame, package data and solution-free generated files
    pkg_text, left = package_files(root, files)
    exporter.write(pkg_text, dest / "tinytorch")
    data = 0
    for f in files:
        r = f.relative_to(root)
        if r.parts[0] == "tinytorch" and f.suffix != ".py" and not _skipped(r):
            _copy(f, dest / r)
            data += 1
    say(f"  tinytorch/  {len(pkg_text)} generated files, {data} data files; "
        f"left for students: {', '.join(left) or 'nothing'}")

    # tito and tests, without what a student must not (or need not) have
    keep, dropped = tito_files(root, files)
    for f in keep:
        _copy(f, dest / f.relative_to(root))
    tkeep, tdropped = test_files(root, files)
    for f in tkeep:
        _copy(f, dest / f.relative_to(root))
    n_tests = sum(f.name.startswith("test_") for f in tkeep)
    say(f"  tito/       {len(keep)} files; tests/ {n_tests} test files")
    for f, why in dropped + tdropped:
        say(f"      left out {f.relative_to(root).as_posix()} ({why})")

    # everything else students use as it is
    for f in files:
        r = f.relative_to(root)
        if r.as_posix() in INSTRUCTOR_FILES:
            say(f"      left out {r.as_posix()} ({INSTRUCTOR_FILES[r.as_posix()]})")
        elif (r.parts[0] in ("milestones", "benchmarks") and not _skipped(r)) or \
                (len(r.parts) == 1 and r.name in TOP_FILES):
            _copy(f, dest / r)
    _write(dest / "README.md", student_readme())
    _write(dest / ".gitignore", STUDENT_GITIGNORE)
    _write(dest / progress.STATE_DIR / progress.EDITION_FILE, "student\n")
