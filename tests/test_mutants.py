"""Mutation testing of the two graders: every typical student bug must fail both.

A student is graded twice: ``tito module test NN`` runs the module's pytest tests against the
code they wrote, and nbgrader scores the notebook's graded cells (visible and hidden tests). The
two must agree. ``tests/mutants/NN_name.toml`` lists typical bugs for a module, each a textual
replacement in the reference solution (the format is in ``tests/mutants/README.md``). For every
bug this test builds the mutated module and requires:

- the module's tests fail: the tests ``tito module test NN`` selects (same marker expression,
  same files), run with ``-x`` against a copy of the package with the mutated module exported,
  as on a student's machine without PyTorch (its comparison tests skip there, so they do not
  count as catching a bug);
- the graded cells lose points: the mutated source's code cells run in order in a fresh
  interpreter (``tests/mutants/graded.py``), against the package of the modules before NN,
  as autograding runs them.

The unmutated source must pass both first, so a kill always means the bug was caught. A mutant
whose text no longer occurs exactly once inside a solution is a stale catalogue entry. The
mutation score table is printed at the end. ``-k 05`` runs one module's catalogue.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tito import cellformat, course, student
from tito import export as exporter

REPO = course.REPO_ROOT
CATALOGUES = Path(__file__).resolve().parent / "mutants"
GRADED = CATALOGUES / "graded.py"
MIN_MUTANTS = 10
WORKERS = 2                 # the CI machine has two cores
TIMEOUT = 180               # seconds per run; a mutant that hangs counts as caught by that run

EXPORT_LOCK = threading.Lock()

pytestmark = pytest.mark.mutants


class StaleCatalogue(Exception):
    """A catalogue entry that no longer fits the module source."""


@dataclass(frozen=True)
class Mutant:
    module: str
    id: str
    bug: str
    find: str
    replace: str


@dataclass
class Outcome:
    mutant: Mutant | None          # None: the unmutated source
    tests_failed: bool
    tests_note: str
    got: float
    total: float
    cells_note: str = ""
    errors: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def lost_points(self) -> bool:
        return self.got < self.total


def catalogue_path(module: course.Module) -> Path:
    return CATALOGUES / f"{module.folder}.toml"


def load_catalogue(module: course.Module) -> list[Mutant]:
    path = catalogue_path(module)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise StaleCatalogue(f"{path.name}: not valid TOML: {err}") from None
    mutants, seen = [], set()
    for i, entry in enumerate(data.get("mutant", []), start=1):
        # "replace" may be empty (the bug deletes a line); the others may not.
        missing = [k for k in ("id", "bug", "find") if not entry.get(k)]
        missing += [] if "replace" in entry else ["replace"]
        if missing:
            raise StaleCatalogue(f"{path.name}: mutant {i} lacks {', '.join(missing)}")
        number = str(entry.get("module", data.get("module", "")))
        if number != module.number:
            raise StaleCatalogue(f"{path.name}: mutant '{entry['id']}' names module "
                                 f"'{number}', but the file is module {module.number}'s")
        if entry["id"] in seen:
            raise StaleCatalogue(f"{path.name}: two mutants are called '{entry['id']}'")
        seen.add(entry["id"])
        mutants.append(Mutant(number, entry["id"], entry["bug"], entry["find"],
                              entry["replace"]))
    return mutants


def solution_spans(text: str) -> list[tuple[int, int]]:
    """Character offsets of the solution regions of a module source."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    spans, problem = cellformat.regions(text)
    if problem:
        raise StaleCatalogue(f"solution markers do not pair up: {problem}")
    return [(starts[a + 1], starts[b]) for a, b in spans]


def mutate(text: str, mutant: Mutant, where: str) -> str:
    """``text`` with the mutant's replacement applied; it must occur once, in a solution."""
    count = text.count(mutant.find)
    if count != 1:
        raise StaleCatalogue(
            f"mutant '{mutant.id}' ({where}): its 'find' text occurs {count} times in the "
            f"source, not once; update tests/mutants/{where} to the current solution")
    at = text.index(mutant.find)
    if not any(a <= at and at + len(mutant.find) <= b for a, b in solution_spans(text)):
        raise StaleCatalogue(f"mutant '{mutant.id}' ({where}): its 'find' text is not inside "
                             f"a solution region")
    if mutant.find == mutant.replace:
        raise StaleCatalogue(f"mutant '{mutant.id}' ({where}): 'replace' equals 'find'")
    return text.replace(mutant.find, mutant.replace)


def _copy_package(dest: Path, drop: set[str] = frozenset()) -> Path:
    pkg = dest / "tinytorch"
    src_pkg = REPO / "tinytorch"
    dropped = {student.package_file(t, src_pkg) for t in drop}
    for src in src_pkg.rglob("*"):
        if not src.is_file() or "__pycache__" in src.parts or src in dropped:
            continue
        out = pkg / src.relative_to(src_pkg)
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".py":
            shutil.copyfile(src, out)
        else:
            try:
                os.link(src, out)
            except OSError:
                shutil.copyfile(src, out)
    return pkg


def _env(*paths: Path) -> dict:
    env = dict(os.environ)
    keep = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), *([keep] if keep else [])])
    env["MPLBACKEND"] = "Agg"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Two runs share two cores: a BLAS that spins up threads of its own only waits for them.
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"
    return env


def _last_lines(text: str, n: int = 3) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return " | ".join(lines[-n:])[:300]


def run_one(module: course.Module, text: str, mutant: Mutant | None) -> Outcome:
    """Both graders on one version of the module source (see the module docstring)."""
    started = time.perf_counter()
    outcome = _run_one(module, text, mutant)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _run_one(module: course.Module, text: str, mutant: Mutant | None) -> Outcome:
    later = {t for m in course.MODULES if m.number >= module.number for t in m.targets}
    work = Path(tempfile.mkdtemp(prefix="tinytorch-mutant-"))
    try:
        source = work / "src" / module.source(Path(".")).name
        source.parent.mkdir()
        source.write_text(text, encoding="utf-8")
        with EXPORT_LOCK:   # CPython 3.11's ast is not safe to call from two threads at once
            files = {Path(*f.target.split(".")).with_suffix(".py"): exporter.render(f)
                     for f in exporter.collect(module, source=source).values()}
        tests_root = work / "tests-build"
        exporter.write(files, _copy_package(tests_root))
        grade_root = work / "grade-build"
        _copy_package(grade_root, drop=later)

        with EXPORT_LOCK:  # reading the test files parses them, and ast is not thread-safe here
            expr, wanted = student.selection(module, set(module.requires), integration=False)
            test_files = student.test_files(REPO, wanted)
        cmd = [sys.executable, "-m", "pytest", *map(str, test_files), "-m", expr, "-x", "-q",
               "--tb=line", "--hypothesis-profile=no-shrink", "-p", "no:cacheprovider",
               "-p", "tito.pytest_student", "-p", "without_torch", "--rootdir", str(REPO)]
        try:
            proc = subprocess.run(cmd, cwd=tests_root, env=_env(tests_root, REPO, CATALOGUES),
                                  capture_output=True, text=True, timeout=TIMEOUT)
            tests_failed = proc.returncode != 0
            tests_note = _last_lines(proc.stdout + proc.stderr)
        except subprocess.TimeoutExpired:
            tests_failed, tests_note = True, f"tests ran over {TIMEOUT} s"

        try:
            proc = subprocess.run([sys.executable, str(GRADED), str(source)], cwd=work,
                                  env=_env(grade_root), capture_output=True, text=True,
                                  timeout=TIMEOUT)
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            cells_note = "; ".join(f"{f['cell']}: {f['error']}" for f in result["failed"])
            return Outcome(mutant, tests_failed, tests_note, result["got"], result["total"],
                           cells_note[:300], result["errors"])
        except subprocess.TimeoutExpired:
            return Outcome(mutant, tests_failed, tests_note, 0.0, 1.0,
                           f"graded cells ran over {TIMEOUT} s")
        except (json.JSONDecodeError, IndexError, KeyError):
            return Outcome(mutant, tests_failed, tests_note, 0.0, 0.0,
                           "graded-cell runner crashed: " + _last_lines(proc.stderr))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _modules_with_catalogues():
    for m in course.MODULES:
        marks = [pytest.mark.slow]
        if not catalogue_path(m).exists():
            marks.append(pytest.mark.skip(reason=f"tests/mutants/{m.folder}.toml: no catalogue"))
        yield pytest.param(m, id=m.number, marks=marks)


MODULES = list(_modules_with_catalogues())
SCORES: dict[str, tuple[int, int, int, int]] = {}


@pytest.fixture(scope="module")
def score_table(request):
    yield SCORES
    if not SCORES:
        return
    rows = [("module", "mutants", "killed by tests", "killed by graded cells", "score")]
    for number, (n, by_tests, by_cells, both) in sorted(SCORES.items()):
        rows.append((number, str(n), f"{by_tests}/{n}", f"{by_cells}/{n}",
                     f"{100 * both / n:.0f}%" if n else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["", "Mutation score (a mutant counts when both graders catch it):"]
    lines += ["  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    table = "\n".join(lines)
    report = os.environ.get("TINYTORCH_MUTANTS_REPORT")
    if report:
        Path(report).write_text(table + "\n", encoding="utf-8")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:        # shown even when pytest captures output
        with capture.global_and_fixture_disabled():
            print(table, flush=True)
    else:
        print(table)


@pytest.mark.parametrize("module", [pytest.param(p.values[0], id=p.id) for p in MODULES
                                    if catalogue_path(p.values[0]).exists()] or
                         [pytest.param(None, marks=pytest.mark.skip(reason="no catalogues"))])
def test_catalogue_is_current(module: course.Module):
    """Cheap: each entry applies exactly once, inside a solution; at least ten per module."""
    text = module.source(REPO).read_text(encoding="utf-8")
    problem = None
    try:
        mutants = load_catalogue(module)
        for mutant in mutants:
            mutate(text, mutant, catalogue_path(module).name)
    except StaleCatalogue as err:
        problem = str(err)
    if problem:
        pytest.fail(problem, pytrace=False)
    assert len(mutants) >= MIN_MUTANTS, (
        f"{catalogue_path(module).name} has {len(mutants)} mutants; the course asks for at "
        f"least {MIN_MUTANTS} typical bugs per module")


def test_mutant_runs_do_not_see_pytorch():
    """Cheap: with the plugin the mutant runs load, the PyTorch comparison tests skip."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(REPO / "tests" / "test_against_torch.py"), "-q",
         "-rs", "-p", "no:cacheprovider", "-p", "without_torch", "--rootdir", str(REPO)],
        cwd=REPO, env=_env(REPO, CATALOGUES), capture_output=True, text=True, timeout=120)
    # The file skips as a whole, so pytest reports that it ran nothing (exit code 5).
    assert proc.returncode == 5, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "1 skipped" in proc.stdout and "passed" not in proc.stdout, proc.stdout[-2000:]
    # "halted": the plugin's block, whether or not PyTorch is installed on this machine
    assert "could not import 'torch': import of torch halted" in proc.stdout, proc.stdout[-2000:]


@pytest.mark.parametrize("module", MODULES)
def test_both_graders_catch_every_mutant(module: course.Module, score_table):
    where = catalogue_path(module).name
    text = module.source(REPO).read_text(encoding="utf-8")
    problem = f"{where} lists no mutants"
    try:
        jobs = [(m, mutate(text, m, where)) for m in load_catalogue(module)]
    except StaleCatalogue as err:
        jobs, problem = [], str(err)
    if not jobs:
        pytest.fail(problem, pytrace=False)

    with ThreadPoolExecutor(WORKERS) as pool:
        baseline = pool.submit(run_one, module, text, None)
        futures = [pool.submit(run_one, module, mutated, m) for m, mutated in jobs]
        base = baseline.result()
        outcomes = [f.result() for f in futures]

    assert not base.tests_failed, (f"module {module.number}'s tests fail on the unmutated "
                                   f"source: {base.tests_note}")
    assert base.total > 0 and not base.lost_points, (
        f"module {module.number}'s graded cells lose points on the unmutated source, run "
        f"against the package of the modules before it: {base.cells_note}")

    by_tests = sum(o.tests_failed for o in outcomes)
    by_cells = sum(o.lost_points for o in outcomes)
    both = sum(o.tests_failed and o.lost_points for o in outcomes)
    score_table[module.number] = (len(outcomes), by_tests, by_cells, both)
    slowest = max([base, *outcomes], key=lambda o: o.seconds)
    print(f"module {module.number}: {len(outcomes) + 1} runs, slowest "
          f"{slowest.mutant.id if slowest.mutant else 'unmutated'} {slowest.seconds:.1f} s")
    for o in sorted([base, *outcomes], key=lambda o: -o.seconds):
        print(f"  {o.seconds:5.1f} s  {o.mutant.id if o.mutant else '(unmutated)'}")
    survivors = []
    for o in outcomes:
        missed = [name for name, caught in (("tests", o.tests_failed),
                                            ("graded cells", o.lost_points)) if not caught]
        if missed:
            survivors.append(f"  {o.mutant.id} ({o.mutant.bug}): passes the "
                             f"{' and the '.join(missed)}"
                             + (f" [{o.got:g}/{o.total:g} points]" if o.total else ""))
    assert not survivors, (f"{len(survivors)} of {len(outcomes)} mutants of module "
                           f"{module.number} survive:\n" + "\n".join(survivors))
