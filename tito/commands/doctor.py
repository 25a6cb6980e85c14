"""`tito doctor`: is this machine and this checkout ready for the course?

One line per check: ``OK`` with what was found, or ``FAIL`` with what was found and the command
or edit that fixes it. Exit 1 when any check fails.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable

from tito import course
from tito import export as exporter


@dataclass
class Result:
    name: str
    ok: bool
    found: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{'OK  ' if self.ok else 'FAIL'}  {self.name}: {self.found}"
        return text if self.ok else f"{text} — {self.fix}"


def requirements() -> list[str]:
    """The install_requires lines of setup.cfg (the one list of what the course needs)."""
    raw = exporter.setup_cfg().get("options", "install_requires", fallback="")
    return [line.strip() for line in raw.splitlines() if line.strip()]


def check_python() -> list[Result]:
    from packaging.specifiers import SpecifierSet

    spec = exporter.setup_cfg().get("options", "python_requires", fallback=">=3.10")
    have = ".".join(map(str, sys.version_info[:3]))
    ok = have in SpecifierSet(spec)
    return [Result("python", ok, f"{have} at {sys.executable} (needs {spec})",
                   f"install Python {spec} and make the course venv with it")]


def check_packages() -> list[Result]:
    from importlib import metadata

    from packaging.requirements import Requirement

    results = []
    for line in requirements():
        req = Requirement(line)
        fix = f'pip install "{req}" (or `pip install -e .` in the repository)'
        try:
            have = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            results.append(Result(req.name, False, "not installed", fix))
            continue
        ok = req.specifier.contains(have, prereleases=True)
        results.append(Result(req.name, ok, f"{have} (needs {req.specifier or 'any'})", fix))
    return results


def check_kernel(timeout: float = 60) -> list[Result]:
    """Start the ``python3`` Jupyter kernel the notebooks and nbgrader use, and run 1+1."""
    import tempfile

    fix = "python -m pip install ipykernel && python -m ipykernel install --sys-prefix"
    name = "jupyter kernel python3"
    # The kernel's own chatter goes to a file; its last line explains a kernel that dies.
    log = tempfile.TemporaryFile(mode="w+")
    try:
        from jupyter_client.manager import start_new_kernel

        km, kc = start_new_kernel(kernel_name="python3", startup_timeout=timeout,
                                  stdout=log, stderr=log)
    except Exception as err:  # noqa: BLE001 - any failure to start is the finding
        log.seek(0)
        last = (log.read().strip().splitlines() or [""])[-1]
        log.close()
        why = f"{type(err).__name__}: {err}" + (f"; kernel said: {last}" if last else "")
        return [Result(name, False, f"does not start ({why})", fix)]
    results: list[str] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] == "execute_result":
            results.append(msg["content"]["data"].get("text/plain", ""))

    try:
        reply = kc.execute_interactive("1+1", timeout=timeout, output_hook=hook)
        ok = reply["content"]["status"] == "ok" and results == ["2"]
        spec = km.kernel_spec.resource_dir if km.kernel_spec else "?"
        found = f"1+1 -> {results[0] if results else 'nothing'} (spec {spec})"
        return [Result(name, ok, found, fix)]
    except Exception as err:  # noqa: BLE001
        return [Result(name, False, f"started but did not answer ({err})", fix)]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        log.close()


def course_problems(modules=course.MODULES, milestones=course.MILESTONES,
                    root=course.REPO_ROOT) -> list[str]:
    """What is inconsistent in the course map, or missing on disk, as readable sentences."""
    problems = []
    seen_numbers: list[str] = []
    owner: dict[str, str] = {}
    for m in modules:
        if m.number in seen_numbers:
            problems.append(f"module number {m.number} is used twice")
        if seen_numbers and m.number <= seen_numbers[-1]:
            problems.append(f"module {m.number} comes after {seen_numbers[-1]}: keep them in order")
        if not (root / "modules" / m.folder).is_dir():
            problems.append(f"module {m.number}: folder modules/{m.folder} is missing")
        elif not m.source(root).exists():
            problems.append(f"module {m.number}: source modules/{m.folder}/{m.name}.py "
                            "is missing")
        for target in m.targets:
            if target in owner:
                problems.append(f"package file {target} is exported by modules {owner[target]} "
                                f"and {m.number}")
            owner[target] = m.number
        for r in m.requires:
            if r not in seen_numbers:
                problems.append(f"module {m.number} requires {r}, which is not an earlier "
                                "module")
        seen_numbers.append(m.number)
    for ms in milestones:
        for r in ms.requires:
            if r not in seen_numbers:
                problems.append(f"milestone {ms.number} requires module {r}, which the course "
                                "does not have")
    return problems


def check_course() -> list[Result]:
    problems = course_problems()
    found = (f"{len(course.MODULES)} modules, {len(course.MILESTONES)} milestones"
             if not problems else "; ".join(problems))
    return [Result("course map", not problems, found, "fix tito/course.py or add what is missing")]


def check_package() -> list[Result]:
    from tito import progress

    if progress.is_student_edition():   # tinytorch/ is written by `tito module complete`
        done = ", ".join(progress.completed_modules()) or "none yet"
        return [Result("package", True, f"student edition, completed modules: {done}")]
    fix = "run `tito export --all` (then commit tinytorch/)"
    try:
        files = exporter.expected_files()
    except exporter.ExportError as err:
        return [Result("package in sync", False, f"a source does not export: {err}",
                       "run `tito lint` and fix the source it names")]
    root = course.REPO_ROOT
    bad = [p.relative_to(root).as_posix() for p in exporter.drift(files)]
    bad += [f"{p.relative_to(root).as_posix()} (stray)" for p in exporter.stray(files)]
    found = f"{len(files)} files match the sources" if not bad else "differ: " + ", ".join(bad)
    return [Result("package in sync", not bad, found, fix)]


def check_sandbox() -> list[Result]:
    """Whether this machine can autograde (instructors only: students never need it)."""
    from tito import sandbox

    try:
        sandbox.check()
    except sandbox.SandboxUnavailable as err:
        return [Result("grading sandbox", True, f"not available here, which matters only for "
                       f"autograding: {err}")]
    return [Result("grading sandbox", True, "bubblewrap starts sandboxed kernels")]


CHECKS: tuple[tuple[str, Callable[[], list[Result]]], ...] = (
    ("python", check_python), ("packages", check_packages), ("jupyter kernel", check_kernel),
    ("course map", check_course), ("package in sync", check_package),
    ("grading sandbox", check_sandbox),
)


def run(args: argparse.Namespace) -> int:
    failed = 0
    for name, check in CHECKS:
        try:
            results = check()
        except Exception as err:  # noqa: BLE001 - a doctor reports, it does not crash
            results = [Result(name, False, f"the check itself failed: {type(err).__name__}: "
                              f"{err}", "report this as a bug in tito doctor")]
        for r in results:
            print(r, flush=True)
            failed += not r.ok
    if failed:
        print(f"{failed} check(s) failed")
        return 1
    print("all checks passed")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check Python, packages, the Jupyter kernel, the course "
                                      "map and the package")
    p.set_defaults(func=run)
