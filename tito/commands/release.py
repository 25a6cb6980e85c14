"""`tito release student --out DIR`: the student edition of the course.

The student edition is a complete working copy a student installs and works in:

- ``modules/``: every module source with its solutions replaced by nbgrader's stub
  (``raise NotImplementedError()``) and its hidden tests removed, by nbgrader's own
  preprocessors; ``tito module start`` turns a source into the student's notebook;
- ``tinytorch/``: only what needs no student code: the package frame, package data, and any
  generated file whose exported cells hold no solution;
- ``tito/``: the command line, without the instructor-only groups (export, lint, nbgrader,
  release) and without any file that contains nbgrader delimiters (or imports one that does);
- ``tests/``: the tests that ``tito module test`` and ``complete`` run (files carrying a module
  or integration marker), the shared conftest and helpers;
- ``milestones/``, ``benchmarks/``, packaging files, a README written for students, an empty
  progress record and ``.tinytorch/edition`` = ``student``.

The instructor edition is only read. The edition is built in a temporary folder next to
``--out``, checked (no delimiter, solution line or hidden test anywhere it matters, and its own
``tito`` must start), and only then moved into place.
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from tito import course, progress, student
from tito import export as exporter

# `tito export` writes the package from the module sources, which in a student edition are the
# blank templates: it would replace a student's completed code with stubs.
INSTRUCTOR_GROUPS = ("export", "lint", "nbgrader", "release")
COPIED_DIRS = ("tito", "tests", "milestones", "benchmarks")
TOP_FILES = ("setup.cfg", "pyproject.toml", "setup.py", "MANIFEST.in", "LICENSE", "LICENSE.md",
             "LICENSE.txt", "requirements.txt")
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis", "results"}
DISTINCTIVE = 30          # a solution line this long is checked for in the edition
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


class ReleaseError(Exception):
    pass


def _usage(message: str):
    from tito.cli import UsageError

    return UsageError(message)


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
        elif f.suffix == ".py" and student.has_delimiters(f.read_text(encoding="utf-8")):
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


COURSE_MARK = re.compile(r"^(module\d+|integration)$")


def carries_course_marker(text: str) -> bool:
    """True when the code (not a string in it) uses ``pytest.mark.moduleNN``/``integration``."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return bool(re.search(r"\bmark\.(module\d+|integration)\b", text))
    return any(isinstance(node, ast.Attribute) and COURSE_MARK.match(node.attr)
               and isinstance(node.value, ast.Attribute) and node.value.attr == "mark"
               for node in ast.walk(tree))


def test_files(root: Path, files: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The tests a student's tito runs, plus conftest and helpers; the rest is left out."""
    keep, dropped = [], []
    for f in files:
        r = f.relative_to(root)
        if r.parts[0] != "tests" or _skipped(r):
            continue
        text = f.read_text(encoding="utf-8", errors="replace") if f.suffix == ".py" else ""
        if student.has_delimiters(text):
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
            if any(student.has_delimiters(chunk) for chunk in f.chunks):
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
    return f"""# tinytorch — student edition

{intro}

## Set up (once)

```
python -m venv .venv
.venv/bin/python -m pip install -e .
```

(On Windows the second command is `.venv\\Scripts\\python -m pip install -e .`)

Activate the environment (`source .venv/bin/activate`, or `.venv\\Scripts\\activate` on Windows)
so that `tito`, `jupyter` and `pytest` are on your path. `python -m tito` works everywhere too.

## The loop, module by module

```
tito module start {first.number}       # makes modules/{first.folder}/{first.name}.ipynb — your copy
tito module start {first.number} --open   # ... and opens it in JupyterLab
tito module test {first.number}        # runs the module's tests against the code in your notebook
tito module test {first.number} --notebook   # also runs the notebook and shows its graded cells
tito module complete {first.number}    # tests again, then exports your code into tinytorch/
tito module status         # where you are: modules, points, milestones
```

1. **Start.** `tito module start NN` creates your notebook from the module's template. It never
   overwrites a notebook you already have, and it tells you if an earlier module must be
   completed first.
2. **Write.** Every place you write code says `# YOUR CODE HERE` followed by
   `raise NotImplementedError()`. Replace both lines with your solution. The docstring above
   each one gives a TODO, an approach, an example and hints. The cell right after it is a
   locked, graded test: run it to check your work as you go.
3. **Test.** `tito module test NN` builds a private copy of the package from your notebook and
   runs the module's tests against it. Each failing test is listed with its message; a
   `NotImplementedError` means a TODO is still the stub. Nothing in `tinytorch/` changes.
4. **Complete.** `tito module complete NN` runs the module's tests and the integration tests of
   the modules you have completed. Only when all of them pass does it put your code into
   `tinytorch/`, record the module as complete, and show what it unlocked. If anything fails,
   `tinytorch/` stays exactly as it was.

From then on any script can use your code: `from tinytorch.core.tensor import Tensor`. Using a
part of the package you have not completed yet gives an error that names the module to
complete.

## Modules

| module | topic | becomes | needs |
|---|---|---|---|
{rows}

## Milestones

Milestones are famous moments of neural network history, re-enacted with your own package.
`tito module status` shows each as locked, ready or achieved (with your best result);
`tito milestone run NN` runs one once its modules are complete.

| milestone | what | needs modules |
|---|---|---|
{miles}

## Your work is safe

- Your notebooks are `modules/NN_name/name.ipynb`. The `name.py` next to each one is the blank
  template `start` copies from. Apart from `start` creating a notebook and `reset` moving it to
  the backups, `tito` never writes to it.
- `tito module reset NN` moves your notebook to `.tinytorch/backups/` under a timestamped name
  (nothing is deleted) and gives you a fresh copy. `tito module reset NN --package` also takes
  the module's code out of `tinytorch/` (a copy goes to the backups folder too).
- Your progress is one file, `.tinytorch/progress.json`. If it is ever damaged, `tito` says
  so, keeps the damaged file as a `.bak`, and starts a new record.
- Do not edit `tinytorch/` by hand: `tito module complete` writes it from your notebooks.
- If you keep this folder in git, commit your notebooks and `.tinytorch/progress.json`.
"""


# ---- checks --------------------------------------------------------------------------------

def _region_lines(text: str, begin: str, end: str) -> tuple[set[str], set[str]]:
    """Stripped lines inside the ``begin``/``end`` regions, and the ones outside them."""
    inside, outside, within = set(), set(), False
    for line in text.splitlines():
        if begin in line:
            within = True
        elif end in line:
            within = False
        elif line.strip():
            (inside if within else outside).add(line.strip())
    return inside, outside


def secret_lines(root: Path) -> tuple[set[str], set[str]]:
    """Distinctive solution lines and hidden-test lines of the instructor's sources."""
    solutions, hidden, given = set(), set(), set()
    for m in course.MODULES:
        src = m.source(root)
        if not src.exists():
            continue
        text = src.read_text(encoding="utf-8")
        sol_in, sol_out = _region_lines(text, student.BEGIN_SOLUTION, student.END_SOLUTION)
        hid_in, hid_out = _region_lines(text, student.BEGIN_HIDDEN, student.END_HIDDEN)
        solutions |= sol_in
        hidden |= hid_in
        given |= sol_out & hid_out     # outside every region: text the students see anyway
    return ({s for s in solutions - given if len(s) >= DISTINCTIVE},
            {s for s in hidden - given if len(s) >= DISTINCTIVE})


def leaks(edition: Path, root: Path) -> list[str]:
    """Errors: delimiters or solution lines anywhere, hidden tests in the modules or package.

    A solution line is a line of at least ``DISTINCTIVE`` characters that some source has only
    inside a solution region; files are compared line by line, so a docstring that quotes an
    idea does not count, but a test that re-implements an answer does.
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
        for d in student.DELIMITERS:
            if d in text:
                errors.append(f"{r}: contains the nbgrader delimiter '{d}'")
        lines = {line.strip() for line in text.splitlines()}
        for s in sorted(lines & solutions):
            errors.append(f"{r}: contains a solution line: {s}")
        # Hidden tests are secret in the modules; a pytest file may check the same fact.
        if r.startswith(("modules/", "tinytorch/")) or r == "README.md":
            for s in sorted(lines & hidden):
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
        out = student.strip_source_text(src) if student.has_delimiters(text) else text
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
        if (r.parts[0] in ("milestones", "benchmarks") and not _skipped(r)) or \
                (len(r.parts) == 1 and r.name in TOP_FILES):
            _copy(f, dest / r)
    _write(dest / "README.md", student_readme())
    _write(dest / ".gitignore", STUDENT_GITIGNORE)
    _write(dest / progress.STATE_DIR / progress.EDITION_FILE, "student\n")


def release_student(args: argparse.Namespace) -> int:
    root = course.REPO_ROOT
    if progress.is_student_edition(root):
        raise _usage("this is already a student edition; build one from the instructor edition")
    out = Path(args.out).expanduser().resolve()
    if out == root or root.is_relative_to(out):
        raise _usage(f"--out {args.out} would overwrite the instructor edition; choose a new "
                     f"folder")
    replacing = out.exists() and (not out.is_dir() or any(out.iterdir()))
    if replacing and not (args.force and progress.is_student_edition(out)):
        raise _usage(f"{out} exists and is not empty; choose a new folder (or --force to "
                     f"replace a student edition made earlier)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        print(f"Building the student edition from {root} ...")
        build(root, tmp)
        errors = leaks(tmp, root)
        if errors:
            for e in errors:
                print(f"  leak: {e}")
            files = len({e.split(":", 1)[0] for e in errors})
            print(f"tito: the student edition would leak answers ({len(errors)} lines in {files} "
                  f"file(s)); nothing was written. A test that re-implements an answer should "
                  f"import it from tinytorch instead.")
            return 1
        problem = smoke(tmp)
        if problem:
            print(f"tito: {problem}; nothing was written")
            return 1
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        elif out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "edition")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, out)
    except student.StudentError as err:
        print(f"tito: {err}")
        return 1
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"Student edition written to {out}")
    print("No solution text, hidden test or nbgrader delimiter in it; its tito starts.")
    print("A student begins with:")
    print(f"    cd {out}")
    print("    python -m pip install -e .")
    print(f"    tito module start {course.MODULES[0].number}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("release", help="build the student edition of the course")
    kinds = p.add_subparsers(dest="kind", metavar="EDITION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    s = kinds.add_parser("student", help="a working copy for students: no solutions, no hidden "
                                         "tests, an empty package and progress")
    s.add_argument("--out", required=True, help="folder to create (must not exist or be empty)")
    s.add_argument("--force", action="store_true",
                   help="replace --out if it holds a student edition made earlier")
    s.set_defaults(func=release_student)
