"""The student side of the course: blank notebooks, private builds, tests against them.

Everything here works on one *working copy* (a root folder holding ``modules/``, ``tinytorch/``,
``tests/`` and ``.tinytorch/``), by default the one this ``tito`` package lives in.

- Solutions are removed with nbgrader's own preprocessors, in the order ``nbgrader
  generate_assignment`` runs them, so a student edition matches an nbgrader release.
- A student's notebook is exported into a *temporary* copy of the package inside
  ``.tinytorch/``; tests run against that copy, and only ``tito module complete`` moves the new
  files into ``tinytorch/`` (one ``os.replace`` per file) after every test has passed.

Which tests run (the rule ``tito module test`` and ``complete`` share):

- A test file takes part when it mentions a selected marker (``pytest.mark.module01``, or
  ``integration`` for ``complete``); if no file does, the whole ``tests/`` folder is collected.
- ``tito module test NN`` runs the tests marked ``moduleNN``.
- ``tito module complete NN`` runs those plus every ``integration`` test that carries the marker
  of at least one complete module.
- In both, a test that also carries the marker of a module that is not complete yet (module NN
  itself counts as complete) is left out: tests of later modules never run early. Integration
  tests therefore carry the markers of every module they span.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tito import course, progress
from tito import export as exporter

# jsonschema (under nbformat, jupytext and nbgrader) imports the optional rfc3987_syntax, which
# compiles a grammar for seconds on every start. nbformat's schemas never check IRIs, so tito
# goes without it: a student waits for their tests, not for an import.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

from tito.cellformat import (BEGIN_HIDDEN, BEGIN_SOLUTION, DELIMITERS,  # noqa: E402,F401
                             END_HIDDEN, END_SOLUTION, has_delimiters)

BUILD_PREFIX = "build-"
BACKUP_DIR = "backups"


class StudentError(Exception):
    """Something a student can fix; the message is one line that says how."""


class UnreadableNotebook(StudentError):
    """The notebook file itself is damaged: bad input (exit 2), not failing code."""


def check_readable(module: course.Module, notebook: Path) -> None:
    """Raise UnreadableNotebook, saying how to recover, if the file is not a notebook."""
    import nbformat

    try:
        nbformat.read(str(notebook), as_version=4)
    except Exception as err:  # bad JSON, not a notebook, unreadable bytes
        why = str(err).splitlines()[0] if str(err).strip() else err.__class__.__name__
        raise UnreadableNotebook(
            f"{notebook.name} cannot be read as a notebook ({why[:80]}): restore it from your "
            f"own copy, or run `tito module reset {module.number}` to keep it in the backups "
            f"and start a fresh one") from None


def root_of(root: Path | None) -> Path:
    return Path(root) if root is not None else course.REPO_ROOT


def rel(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


# ---- stripping solutions with nbgrader ------------------------------------------------------

def strip_notebook(nb):
    """Solutions -> ``raise NotImplementedError()`` stubs, hidden tests removed, cells locked.

    The preprocessors are nbgrader's, in the order ``generate_assignment`` runs them (minus the
    ones that need a gradebook or a kernel: header/footer, autotests, SaveCells).
    """
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme,
                                        ClearOutput, ClearSolutions, ComputeChecksums,
                                        LockCells)

    resources: dict = {}
    for pre in (LockCells, ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums,
                ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata):
        try:
            nb, resources = pre().preprocess(nb, resources)
        except Exception as err:  # nbgrader raises plain exceptions with useful messages
            raise StudentError(f"nbgrader {pre.__name__}: {err}") from None
    return nb


def unpair(nb):
    """Drop jupytext pairing so the student's notebook never syncs back to a .py file."""
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    return nb


def read_source(source: Path):
    import jupytext

    try:
        return jupytext.read(source, fmt="py:percent")
    except FileNotFoundError:
        raise StudentError(f"{source.name}: file not found") from None


def strip_source_text(source: Path) -> str:
    """The percent text of a module source with every solution and hidden test removed."""
    import jupytext

    nb = strip_notebook(read_source(source))
    return jupytext.writes(nb, fmt="py:percent")


def student_notebook(module: course.Module, root: Path | None = None):
    """The notebook a student starts from: the module source, stripped if it still has answers.

    In the student edition the sources are already stripped; in the instructor edition they
    hold solutions, which are removed here so a notebook made by ``tito module start`` is always
    a student's notebook.
    """
    r = root_of(root)
    src = module.source(r)
    if not src.exists():
        raise StudentError(f"module {module.number} ({module.name}) has no source yet: "
                           f"{rel(src, r)} does not exist")
    nb = read_source(src)
    if any(has_delimiters(c.source) for c in nb.cells):
        nb = strip_notebook(nb)
    return unpair(nb)


def write_notebook(nb, target: Path) -> None:
    import nbformat

    progress.atomic_write_text(target, nbformat.writes(nb))


def backup_notebook(module: course.Module, root: Path | None = None) -> Path | None:
    """Move the student's notebook to ``.tinytorch/backups/`` under a timestamped name."""
    r = root_of(root)
    nb = module.notebook(r)
    if not nb.exists():
        return None
    dest_dir = progress.state_dir(r) / BACKUP_DIR / module.folder
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{module.name}-{progress.stamp()}.ipynb"
    n = 1
    while dest.exists():
        n += 1
        dest = dest_dir / f"{module.name}-{progress.stamp()}-{n}.ipynb"
    os.replace(nb, dest)
    return dest


# ---- prerequisites and unlocking ------------------------------------------------------------

def missing_prerequisites(module: course.Module, root: Path | None = None) -> list[str]:
    done = set(progress.completed_modules(root))
    return [n for n in module.requires if n not in done]


def unlocked(done: set[str]) -> tuple[list[course.Module], list[course.Milestone]]:
    """Modules and milestones whose requirements ``done`` satisfies."""
    mods = [m for m in course.MODULES if m.number not in done and set(m.requires) <= done]
    miles = [s for s in course.MILESTONES if set(s.requires) <= done]
    return mods, miles


# ---- private builds ------------------------------------------------------------------------

def package_file(target: str, package_dir: Path) -> Path:
    return package_dir.joinpath(*target.split(".")).with_suffix(".py")


def syntax_problem(notebook: Path) -> str | None:
    """Where an exported cell of the notebook does not parse, in the notebook's own terms."""
    import ast

    for number, cell in enumerate(exporter.read_cells(notebook), start=1):
        if cell.cell_type != "code" or not any(
                name == "export" for name, _ in exporter.split_directives(cell.source)[0]):
            continue
        try:
            ast.parse(cell.source)      # directive lines are comments: line numbers match
        except SyntaxError as err:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            which = f"code cell '{grade_id}'" if grade_id else f"cell {number}"
            return (f"{notebook.name}: {which}, line {err.lineno}: {err.msg}; fix it and "
                    f"run the cell to check")
    return None


def export_notebook(module: course.Module, notebook: Path) -> dict[Path, str]:
    """Package files (relative to ``tinytorch/``) that the student's notebook exports."""
    check_readable(module, notebook)
    try:
        problem = syntax_problem(notebook)
        if problem:
            raise StudentError(problem)
        files = exporter.collect(module, source=notebook)
        return {Path(*f.target.split(".")).with_suffix(".py"): exporter.render(f)
                for f in files.values()}
    except StudentError:
        raise
    except exporter.ExportError as err:
        raise StudentError(f"your notebook does not export: {err}") from None
    except Exception as err:  # an unreadable notebook (bad JSON, wrong format)
        raise StudentError(f"cannot read {notebook.name}: {err.__class__.__name__}: "
                           f"{str(err).splitlines()[0] if str(err) else ''}") from None


def _link_or_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix != ".py":
        try:
            os.link(src, dest)   # package data is read-only: share it instead of copying
            return
        except OSError:
            pass
    shutil.copy2(src, dest)


@dataclass
class Build:
    """A temporary package tree: ``parent/tinytorch`` is importable with ``parent`` on the path."""
    parent: Path
    module: course.Module
    files: dict[Path, str]

    @property
    def package(self) -> Path:
        return self.parent / "tinytorch"


@contextmanager
def private_build(module: course.Module, notebook: Path, root: Path | None = None):
    """The current package plus the notebook's export, in a temporary tree (removed after)."""
    r = root_of(root)
    files = export_notebook(module, notebook)
    state = progress.state_dir(r)
    state.mkdir(parents=True, exist_ok=True)
    parent = Path(tempfile.mkdtemp(prefix=BUILD_PREFIX, dir=state))
    try:
        pkg = parent / "tinytorch"
        current = r / "tinytorch"
        if current.is_dir():
            for src in current.rglob("*"):
                if src.is_file() and "__pycache__" not in src.parts:
                    _link_or_copy(src, pkg / src.relative_to(current))
        # A package whose generated frame was deleted by hand gets it back.
        frame_files = [Path("__init__.py"), Path("_course.py"),
                       *(sub / "__init__.py" for relpath in files
                         for sub in relpath.parents if sub != Path("."))]
        if not all((pkg / f).exists() for f in frame_files):
            frame = exporter.expected_files([], root=r)
            init = (exporter.TEMPLATES / "subpackage_init.py").read_text(encoding="utf-8")
            exporter.write({f: frame.get(f, init) for f in frame_files
                            if not (pkg / f).exists()}, pkg)
        exporter.write(files, pkg)
        yield Build(parent, module, files)
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def swap_in(build: Build, root: Path | None = None) -> list[Path]:
    """Move the build's module files into ``tinytorch/``, one atomic replace per file."""
    r = root_of(root)
    pkg = r / "tinytorch"
    moved = []
    for relpath in build.files:
        src = build.package / relpath
        dest = pkg / relpath
        for sub in reversed(relpath.parents):
            if sub == Path("."):
                continue
            init = pkg / sub / "__init__.py"
            if not init.exists():
                init.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(build.package / sub / "__init__.py", init)
        os.replace(src, dest)
        cache = dest.parent / "__pycache__"
        for pyc in cache.glob(f"{dest.stem}.*.pyc") if cache.is_dir() else ():
            try:
                pyc.unlink()
            except OSError:
                pass
        moved.append(dest)
    return moved


def remove_export(module: course.Module, root: Path | None = None) -> list[Path]:
    """Move a module's package files to the backups folder (``reset --package``)."""
    r = root_of(root)
    pkg = r / "tinytorch"
    dest_dir = progress.state_dir(r) / BACKUP_DIR / module.folder / f"package-{progress.stamp()}"
    removed = []
    for target in module.targets:
        f = package_file(target, pkg)
        if f.exists():
            dest = dest_dir / f.relative_to(pkg)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(f, dest)
            removed.append(f)
    return removed


# ---- running the tests ---------------------------------------------------------------------

def test_files(root: Path, wanted: set[str]) -> list[Path]:
    """Test files under ``tests/`` whose code applies one of the ``wanted`` markers."""
    tests = root / "tests"
    found = []
    for f in sorted(tests.rglob("*.py")) if tests.is_dir() else ():
        if not (f.name.startswith("test_") or f.name.endswith("_test.py")):
            continue
        try:
            words = course.test_markers(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        if words & wanted:
            found.append(f)
    return found


def selection(module: course.Module, done: set[str], integration: bool) -> tuple[str, set[str]]:
    """The ``-m`` expression and the marker names whose files take part (see module doc)."""
    done = set(done) | {module.number}
    complete = [m.marker for m in course.MODULES if m.number in done]
    pending = [m.marker for m in course.MODULES if m.number not in done]
    expr = module.marker
    wanted = {module.marker}
    if integration:
        expr = f"({expr} or (integration and ({' or '.join(complete)})))"
        wanted.add("integration")
    if pending:
        expr = f"{expr} and not ({' or '.join(pending)})"
    return expr, wanted


@dataclass
class Case:
    nodeid: str
    outcome: str          # "passed" | "failed" | "skipped"
    message: str = ""     # one line: what failed and where (or why it was skipped)
    detail: str = ""      # the full failure text pytest prints (traceback, falsifying example)


@dataclass
class TestRun:
    returncode: int
    cases: list[Case] = field(default_factory=list)
    output: str = ""

    @property
    def passed(self) -> int:
        return sum(c.outcome == "passed" for c in self.cases)

    @property
    def failed(self) -> int:
        return sum(c.outcome == "failed" for c in self.cases)

    @property
    def skipped(self) -> int:
        return sum(c.outcome == "skipped" for c in self.cases)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0 and self.passed > 0

    @property
    def crashed(self) -> bool:
        """pytest stopped before it could report (usage error, internal error, no report)."""
        return self.returncode not in (0, 1, 5) and not self.cases


def _package_path(file: str) -> str | None:
    """``tinytorch/core/x.py`` when ``file`` is inside a (build of the) package, else None."""
    path = file.replace("\\", "/")
    at = path.rfind("/tinytorch/")
    return path[at + 1:] if at >= 0 else None


def explain(record: dict, module_files: set[str] = frozenset()) -> str:
    """One line for a failed test: the exception, and the student's function it came from.

    ``module_files`` are the package files (``tinytorch/core/x.py``) the tested module exports:
    when the exception was raised inside one of them, the line names that function, so the
    student looks at their own code rather than at the test that noticed.
    """
    kind = record.get("exception") or ""
    lines = [x.strip() for x in (record.get("message") or "").splitlines() if x.strip()]
    first = lines[0] if lines else ""
    where = None
    for file, line, func in reversed(record.get("frames") or []):
        rel = _package_path(file)
        if rel and (not module_files or rel in module_files or kind == "NotImplementedError"):
            where = (func, rel, line)
            break
    if kind == "NotImplementedError":
        if where:
            return (f"NotImplementedError in {where[0]} ({where[1]}): this TODO is still the "
                    f"stub; write your solution in the notebook")
        return "NotImplementedError: a TODO in your notebook is still the stub"
    shown = next((x for x in lines[1:] if x.startswith("assert ")), None)
    if kind == "AssertionError" and shown and shown != first:
        first = f"{first}: {shown}" if first != shown else first
    if first.startswith("Hypothesis found") and len(lines) > 1:
        first = f"{first} (run with --verbose to see each falsifying example)"
    text = f"{kind}: {first}" if kind and kind != "AssertionError" else (first or kind)
    if kind == "AssertionError" and not first:
        text = "AssertionError (a check in the test failed; --verbose shows which)"
    if where:
        return f"{text} [raised in your {where[0]}(), {where[1]}:{where[2]}]"
    return text or (record.get("when") == "collect" and "collection failed") or "failed"


def read_report(path: Path, module_files: set[str] = frozenset()) -> list[Case]:
    """The cases of a run, from the JSON lines ``tito.pytest_student`` wrote."""
    import json

    cases: dict[str, Case] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for raw in lines:
        try:
            r = json.loads(raw)
        except ValueError:
            continue
        if r["outcome"] == "skipped":
            case = Case(r["nodeid"], "skipped", r.get("message", ""))
        elif r["outcome"] == "failed":
            case = Case(r["nodeid"], "failed", explain(r, module_files), r.get("text", ""))
        else:
            case = Case(r["nodeid"], "passed")
        old = cases.get(case.nodeid)
        if old is None or old.outcome != "failed":     # a failure is never overwritten
            cases[case.nodeid] = case
    return list(cases.values())


def test_env(build_parent: Path, root: Path) -> dict:
    env = dict(os.environ)
    keep = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join([str(build_parent), str(root), *([keep] if keep else [])])
    env["MPLBACKEND"] = "Agg"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_tests(build: Build, root: Path | None = None, integration: bool = False,
              done: set[str] | None = None,
              keyword: str | None = None) -> tuple[TestRun, str]:
    """Run the selected tests with ``build`` first on the path; returns the run and ``-m``.

    ``keyword`` is pytest's ``-k`` expression. Each failed case's ``detail`` holds the full
    failure text (traceback, hypothesis's falsifying example) for ``--verbose``.
    """
    r = root_of(root)
    if done is None:
        done = set(progress.completed_modules(r))
    expr, wanted = selection(build.module, done, integration)
    files = test_files(r, wanted) or ([r / "tests"] if (r / "tests").is_dir() else [])
    if not files:
        return TestRun(5), expr
    report = build.parent / "report.jsonl"
    report.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", *map(str, files), "-m", expr, "-q", "--tb=long",
           "-p", "no:cacheprovider", "-p", "tito.pytest_student", "--rootdir", str(r)]
    if keyword:
        cmd += ["-k", keyword]
    env = test_env(build.parent, r)
    env["TITO_PYTEST_REPORT"] = str(report)
    proc = subprocess.run(cmd, cwd=build.parent, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          encoding="utf-8", errors="replace")
    module_files = {f"tinytorch/{p.as_posix()}" for p in build.files}
    return TestRun(proc.returncode, read_report(report, module_files), proc.stdout), expr


# ---- executing the notebook ----------------------------------------------------------------

@dataclass
class GradedCell:
    grade_id: str
    points: float
    passed: bool
    message: str = ""


def run_notebook(notebook: Path, build: Build, root: Path | None = None,
                 timeout: int = 120) -> tuple[list[GradedCell], list[str]]:
    """Execute the notebook in a real kernel; the graded cells' results and other errors."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    r = root_of(root)
    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as err:
        raise StudentError(f"cannot read {notebook.name}: {err.__class__.__name__}") from None
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout, allow_errors=True,
                            resources={"metadata": {"path": str(notebook.parent)}})
    problems: list[str] = []
    try:
        # The kernel's own log (transport warnings and the like) is not the student's concern.
        client.execute(env=test_env(build.parent, r), cwd=str(notebook.parent),
                       stderr=subprocess.DEVNULL)
    except CellTimeoutError:
        problems.append(f"a cell ran longer than {timeout} s and was stopped")
    except DeadKernelError:
        problems.append("the kernel died while running the notebook")
    graded, other = [], []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        ran = cell.get("execution_count") is not None
        message = ""
        if errors:
            e = errors[0]
            message = f"{e.get('ename', 'Error')}: {e.get('evalue', '')}".strip().rstrip(":")
        elif not ran:
            message = "not run"
        if meta.get("grade"):
            graded.append(GradedCell(meta.get("grade_id", f"cell {index}"),
                                     float(meta.get("points", 0) or 0),
                                     ran and not errors, message))
        elif errors:
            other.append(f"cell {index}: {message}")
    return graded, problems + other
