"""Autograding a class: the coordinator that hands sandboxed workers their tasks and keeps the books.

    coordinator (this file, trusted)                   worker (tito.grade_worker, sandboxed kernel)
    gradebook.db, source/, release/ ── task ─────►     the notebook restored by nbgrader, the
    nbgrader's sanitize (no code runs)                 submission's files, the grading package
    nbgrader's scoring + gradebook  ◄── result ──      the executed notebook and a report

For every submission: nbgrader's own sanitize preprocessors restore the locked cells and hidden
tests (nothing runs); the worker executes the cells in a sandbox (tito.sandbox) against the
package of the modules before the graded one; its result is saved under ``.tito/results/`` at
once (an interrupted run loses nothing); then nbgrader's own autograde pass scores it, with
``ReplayExecute`` in place of execution, and only this process writes the gradebook. Workers are
a local process pool (``--jobs``) or a Dask cluster (``--scheduler``); the result does not
depend on which, nor on the order in which submissions finish.

Each submission ends with a status: ``ok``, ``review: <reasons>`` (scored; an instructor should
look) or ``not graded: <reason>`` (no score; never a zero).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from tito import course, grading, tamper
from tito.progress import atomic_write_text as write_text_atomic

RESULTS = Path(".tito") / "results"
MAX_OUTPUT_BYTES = 100_000
MAX_SUBMISSION_FILE = 20 << 20


class NoSandbox(grading.GradingError):
    """Grading refused: no sandbox here and no explicit opt-out."""


@dataclass
class Outcome:
    """One submission's grading, as the table and grades.csv show it."""

    student: str
    status: str                       # "ok" | "review: ..." | "not graded: ..."
    score: float | None = None
    max_score: float | None = None
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    graded_now: bool = True           # False: unchanged since the last run, kept

    @property
    def kind(self) -> str:
        return self.status.split(":")[0]


# ---------------------------------------------------------------------------------------------
# What a worker gets


def grading_package(module: course.Module) -> dict[str, str]:
    """The reference package of the modules before ``module``: {path under pkg/: text}."""
    from tito import export

    before = [m for m in course.MODULES if m.number < module.number and m.source().is_file()]
    files = export.expected_files(before)
    return {f"tinytorch/{rel.as_posix()}": text for rel, text in sorted(files.items())}


def package_data() -> dict[str, str]:
    """The data files the package ships (the small digits set), base64: not code, so every
    grading package has them."""
    data = course.PACKAGE_DIR / "data"
    return {f"tinytorch/data/{p.name}": base64.b64encode(p.read_bytes()).decode()
            for p in sorted(data.glob("*")) if p.is_file() and p.suffix != ".py"}


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _config(root: Path):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(grading.CONFIG_NAME, path=str(root)).load_config()


def sanitized(root: Path, module: course.Module, student: str, config):
    """The submission as nbgrader will grade it: locked cells and hidden tests restored.

    The same preprocessors, in the same order, as nbgrader's own sanitize pass; no code runs.
    """
    import nbformat
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds,
                                        OverwriteCells, OverwriteKernelspec)

    from tito.nbgrader_plugins import RepairSubmission

    path = grading.submitted_notebook(root, module, student)
    nb = nbformat.read(str(path), as_version=4)
    resources = {"nbgrader": {"student": student, "assignment": grading.assignment_id(module),
                              "notebook": path.stem, "db_url": grading.db_url(root)}}
    for cls in (RepairSubmission, ClearOutput, DeduplicateIds, OverwriteKernelspec,
                OverwriteCells, CheckCellMetadata):
        nb, resources = cls(config=config).preprocess(nb, resources)
    return nb, resources.get("tito", {}).get("repaired", [])


def student_sources(root: Path, module: course.Module, nb) -> list[str]:
    """The code cells that are the student's own: those not found verbatim in the release."""
    import nbformat

    release = nbformat.read(str(grading.release_notebook(root, module)), as_version=4)
    given = {c.source.strip() for c in release.cells if c.cell_type == "code"}
    return [c.source for c in nb.cells if c.cell_type == "code" and c.source.strip() not in given]


def submission_files(root: Path, module: course.Module, student: str) -> dict[str, str]:
    """The other files of the submission folder (data a student's code may read), base64."""
    folder = grading.submitted_notebook(root, module, student).parent
    out = {}
    for p in sorted(folder.rglob("*")):
        if (p.is_file() and not p.is_symlink() and p.suffix != ".ipynb"
                and p.name != "timestamp.txt" and p.stat().st_size <= MAX_SUBMISSION_FILE):
            out[p.relative_to(folder).as_posix()] = base64.b64encode(p.read_bytes()).decode()
    return out


# ---------------------------------------------------------------------------------------------
# Running the workers


class _Pool:
    """The same interface over a local process pool and a Dask cluster."""

    def __init__(self, jobs: int, scheduler: str | None):
        self.scheduler = scheduler
        if scheduler:
            try:
                from distributed import Client
            except ImportError:
                raise grading.GradingError("--scheduler needs Dask: pip install "
                                           "'dask[distributed]' (on every worker too)") from None
            try:
                self.client = Client(scheduler, timeout="20s")
            except OSError as err:
                raise grading.GradingError(f"no Dask scheduler answers at {scheduler} ({err}): "
                                           f"start one with `dask scheduler` and workers with "
                                           f"`dask worker {scheduler} --nthreads 1`") from None
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # Workers ignore Ctrl-C (the terminal sends it to them too): the coordinator decides
            # when to stop, and a half-executed notebook is simply executed again next time.
            self.executor = ProcessPoolExecutor(
                max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))

    def submit(self, task: dict):
        from tito.grade_worker import run_task

        if self.scheduler:
            return self.client.submit(run_task, task, pure=False)
        return self.executor.submit(run_task, task)

    def as_completed(self, futures):
        if self.scheduler:
            from distributed import as_completed

            return as_completed(futures)
        from concurrent.futures import as_completed

        return as_completed(futures)

    def close(self, cancel: bool = False) -> None:
        if self.scheduler:
            if cancel:
                self.client.cancel(list(self.client.futures.values()) if hasattr(
                    self.client, "futures") else [])
            self.client.close()
        else:
            self.executor.shutdown(wait=not cancel, cancel_futures=cancel)


# ---------------------------------------------------------------------------------------------
# One assignment


def _result_path(root: Path, module: course.Module, student: str) -> Path:
    return root / RESULTS / grading.assignment_id(module) / f"{student}.json"


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(data))
    path.chmod(0o600)


@dataclass
class _Job:
    student: str
    key: str = ""
    task: dict | None = None
    repaired: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    error: str | None = None


def _prepare(root: Path, module: course.Module, student: str, config, package: dict,
             package_key: str, timeout: int, use_sandbox: bool) -> _Job:
    import nbformat

    from tito.nbgrader_plugins import cells_digest

    job = _Job(student)
    try:
        nb, job.repaired = sanitized(root, module, student, config)
    except Exception as err:  # noqa: BLE001 - a broken hand-in is reported, never fatal
        job.error = f"nbgrader could not read the submission ({type(err).__name__}: " \
                    f"{str(err).splitlines()[0][:160] if str(err) else ''})"
        return job
    job.findings = tamper.findings(student_sources(root, module, nb))
    digest = cells_digest(nb)
    job.key = _digest(digest, package_key, str(timeout), str(use_sandbox))
    job.task = {"notebook": nbformat.writes(nb), "files": submission_files(root, module, student),
                "package": package, "package_data": package_data(), "timeout": timeout, "sandbox": use_sandbox,
                "max_output_bytes": MAX_OUTPUT_BYTES, "digest": digest}
    return job


def _finalize(api, root: Path, module: course.Module, job: _Job, result: dict,
              use_sandbox: bool) -> Outcome:
    """nbgrader scores the worker's outputs (in this process: the only gradebook writer)."""
    aid = grading.assignment_id(module)
    if "error" in result:
        return Outcome(job.student, f"not graded: the sandboxed kernel could not run "
                                    f"({result['error'][:200]})")
    run = api.autograde(aid, job.student, force=True, create=True)
    if not run.get("success"):
        err = (run.get("error") or run.get("log") or "").strip().splitlines()
        return Outcome(job.student, "not graded: nbgrader failed" +
                       (f" ({err[-1][:200]})" if err else ""))
    marks = grading.scores(root, module).get(job.student)
    timeouts, failed = grading.cell_failures(grading.graded_notebook(root, module, job.student))
    report = result.get("report", {})
    review, notes = [], []
    if not use_sandbox:
        review.append("graded WITHOUT a sandbox")
    review += [f"code {f}" for f in job.findings]
    review += [f"harness changed: {c}" for c in report.get("changes", [])]
    review += [f"harness event: {e}" for e in report.get("events", [])]
    review += [r for r in report.get("restarts", []) if "timed out" not in r]
    notes += [r for r in report.get("restarts", []) if "timed out" in r]
    for note in grading.submission_notes(root, module, job.student):
        (review if note.startswith("edited") else notes).append(note)
    if job.repaired:
        notes.append("duplicated " + ", ".join(job.repaired) + " (the first copy graded)")
    if report.get("truncated"):
        notes.append(f"output cut in {len(report['truncated'])} cell(s)")
    if timeouts:
        notes.append("timed out: " + ", ".join(timeouts))
    status = "review: " + "; ".join(review) if review else "ok"
    score, top = marks if marks else (None, None)
    return Outcome(job.student, status, score, top, failed, notes)


def _api(root: Path, config, results: Path):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput,
                                        DeduplicateIds, IgnorePattern, LimitOutput,
                                        OverwriteCells, OverwriteKernelspec, SaveAutoGrades)
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from traitlets.config import Config

    from tito.nbgrader_plugins import RepairSubmission, ReplayExecute

    override = Config()
    override.CourseDirectory.root = str(root)
    override.Autograde.sanitize_preprocessors = [
        RepairSubmission, ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
        CheckCellMetadata]
    override.Autograde.autograde_preprocessors = [
        ReplayExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
        AssignLatePenalties, CheckCellMetadata]
    override.ReplayExecute.results_dir = str(results)
    if "AssignLatePenalties" not in config or "plugin_class" not in config.AssignLatePenalties:
        override.AssignLatePenalties.plugin_class = "tito.nbgrader_plugins.LatePenaltyPerDay"
    cfg = Config(config)
    cfg.merge(override)
    import warnings

    # nbgrader's gradebook code triggers SQLAlchemy's autoflush warnings on every submission.
    warnings.filterwarnings("ignore", module="nbgrader")
    warnings.filterwarnings("ignore", message=".*not in session.*")
    return NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)


def autograde(root: Path, module: course.Module, students: list[str], *, jobs: int = 1,
              scheduler: str | None = None, use_sandbox: bool = True, force: bool = False,
              timeout: int | None = None,
              on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Grade ``students``' submissions of ``module``; returns one Outcome per student, sorted.

    Unchanged submissions whose last grading finished are kept (``force`` grades them again).
    """
    if use_sandbox:
        from tito import sandbox

        try:
            sandbox.check()
        except sandbox.SandboxUnavailable as err:
            raise NoSandbox(f"{err} (or, trusting every submission, pass --unsafe-no-sandbox)"
                            ) from None
    config = _config(root)
    grading.apply_due_dates(root)
    timeout = int(timeout or config.get("Execute", {}).get("timeout", grading.DEFAULT_TIMEOUT))
    package = grading_package(module)
    package_key = _digest(json.dumps([package, package_data()], sort_keys=True))
    results_dir = root / RESULTS
    outcomes: dict[str, Outcome] = {}
    todo: list[_Job] = []
    for s in students:
        job = _prepare(root, module, s, config, package, package_key, timeout, use_sandbox)
        if job.error:
            outcomes[s] = Outcome(s, f"not graded: {job.error}")
            _save(_result_path(root, module, s), {"outcome": asdict(outcomes[s])})
            continue
        saved = _load(_result_path(root, module, s))
        if (not force and saved and saved.get("key") == job.key and saved.get("outcome")
                and grading.graded_notebook(root, module, s).is_file()):
            kept = Outcome(**saved["outcome"])
            kept.graded_now = False
            outcomes[s] = kept
            continue
        todo.append(job)
    api = _api(root, config, results_dir) if todo else None
    for o in outcomes.values():  # hand-ins already settled: unreadable, or kept unchanged
        if on_done:
            on_done(o)

    def finish(job: _Job, result: dict) -> None:
        outcome = _finalize(api, root, module, job, result, use_sandbox)
        saved = _load(_result_path(root, module, job.student)) or {}
        saved["outcome"] = asdict(outcome)
        saved["outcome"]["graded_now"] = True
        _save(_result_path(root, module, job.student), saved)
        outcomes[job.student] = outcome
        if on_done:
            on_done(outcome)

    ready, pending = [], []
    for job in todo:
        saved = _load(_result_path(root, module, job.student))
        # A finished worker result from an interrupted run: only nbgrader's scoring is left
        # (unless everything is to be graded again).
        if not force and saved and saved.get("key") == job.key and "notebook" in saved:
            ready.append((job, saved))
        else:
            pending.append(job)
    for job, saved in ready:
        finish(job, saved)
    if pending:
        pool = _Pool(jobs, scheduler)
        futures = {}
        # Ctrl-C stops between submissions, never inside nbgrader's gradebook writes (nbgrader's
        # API would swallow it there and record a failure); a second Ctrl-C stops at once.
        stop = []
        previous = None
        if threading.current_thread() is threading.main_thread():
            def on_interrupt(signum, frame):
                stop.append(signum)
                signal.signal(signal.SIGINT, previous or signal.default_int_handler)
            previous = signal.signal(signal.SIGINT, on_interrupt)
        try:
            for job in pending:
                futures[pool.submit(job.task)] = job
            for fut in pool.as_completed(list(futures)):
                if stop:
                    raise KeyboardInterrupt
                job = futures[fut]
                try:
                    result = fut.result()
                except Exception as err:  # noqa: BLE001 - a lost worker is this one's problem
                    result = {"error": f"the worker failed ({type(err).__name__}: {err})"}
                if "error" not in result:
                    _save(_result_path(root, module, job.student),
                          {"key": job.key, "digest": job.task["digest"],
                           "notebook": result["notebook"], "report": result["report"]})
                finish(job, result)
                if stop:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            pool.close(cancel=True)
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        pool.close()
    return [outcomes[s] for s in sorted(outcomes)]


def saved_outcomes(root: Path, module: course.Module) -> dict[str, Outcome]:
    """The last grading outcome of every student of one assignment (for export and status)."""
    folder = root / RESULTS / grading.assignment_id(module)
    out = {}
    for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = _load(p)
        if data and data.get("outcome"):
            out[p.stem] = Outcome(**data["outcome"])
    return out


def count_statuses(outcomes: Iterable[Outcome]) -> dict[str, int]:
    counts = {"ok": 0, "review": 0, "not graded": 0}
    for o in outcomes:
        counts[o.kind] = counts.get(o.kind, 0) + 1
    return counts


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)
