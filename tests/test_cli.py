"""The tito command line, run as a user runs it: in a subprocess, judged by exit code and output."""
from __future__ import annotations

import argparse
import configparser
from pathlib import Path

import pytest

from helpers import REPO, copy_repo, run_tito
from tito import cli, course
from tito.commands import GROUPS, doctor


def setup_version() -> str:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg", encoding="utf-8")
    return cfg["metadata"]["version"]


def one_line_error(r) -> str:
    assert r.returncode == 2, f"exit {r.returncode}: {r.stdout}{r.stderr}"
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tito: "), r.stderr
    return lines[0]


def test_help_lists_every_command_group():
    r = run_tito("--help")
    assert r.returncode == 0, r.stderr
    for name in GROUPS:
        if (REPO / "tito" / "commands" / f"{name}.py").exists():
            assert f"    {name}" in r.stdout, f"{name} missing from tito --help"
    assert run_tito().returncode == 0, "tito without a command prints help"


def _groups_with_actions() -> list[str]:
    top = next(a for a in cli.build_parser()._actions
               if isinstance(a, argparse._SubParsersAction))
    return [name for name, child in top.choices.items()
            if any(isinstance(a, argparse._SubParsersAction) for a in child._actions)]


@pytest.mark.parametrize("group", _groups_with_actions())
def test_a_group_without_its_action_prints_its_help(group):
    r = run_tito(group, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith(f"usage: tito {group}"), r.stdout + r.stderr


def test_version_comes_from_setup_cfg():
    r = run_tito("--version")
    assert r.returncode == 0 and r.stdout == f"tinytorch {setup_version()}\n", r.stdout
    init = (course.PACKAGE_DIR / "__init__.py").read_text(encoding="utf-8")
    assert f'__version__ = "{setup_version()}"' in init, "the package's version is exported"
    template = (REPO / "tito" / "package_template" / "package_init.py").read_text("utf-8")
    assert '__version__ = "__VERSION__"' in template, "the version is written only in setup.cfg"


@pytest.mark.parametrize("argv, words", [
    (["no-such-command"], "invalid choice"),
    (["export", "99"], "unknown module '99'"),
    (["export", "--no-such-option"], "unrecognized arguments"),
    (["export", "--check", "tensr"], "unknown module 'tensr'"),
    (["lint", "42"], "unknown module '42'"),
    (["module", "start", "99"], "unknown module '99'"),
    (["module", "test", "x"], "unknown module 'x'"),
    (["milestone", "run", "7"], "unknown milestone '7'"),
    (["milestone", "run", "01", "--epochs", "0"], "--epochs"),
    (["nbgrader", "status", "--course", "no/such/course"], "tito nbgrader init"),
])
def test_bad_input_is_one_line_and_exit_2(argv, words):
    assert words in one_line_error(run_tito(*argv))


def _subcommands() -> list[list[str]]:
    """Every command and sub-command tito registers (other groups added later included)."""
    found = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if path:
            found.append(path)
        for action in subs:
            for name, child in action.choices.items():
                walk(child, path + [name])

    walk(cli.build_parser(), [])
    return found


@pytest.mark.parametrize("argv", _subcommands(), ids=" ".join)
def test_every_command_refuses_an_unknown_option_in_one_line(argv):
    one_line_error(run_tito(*argv, "--no-such-option", timeout=60))


def test_missing_module_source_is_one_line(tmp_path: Path):
    root = copy_repo(tmp_path / "repo")
    tensor = course.get_module("01")
    tensor.source(root).unlink()
    line = one_line_error(run_tito("export", "01", cwd=root))
    assert tensor.source(Path(".")).as_posix() in line and "not found" in line
    line = one_line_error(run_tito("lint", "01", cwd=root))
    assert tensor.source(Path(".")).as_posix() in line


def _doctor_lines(r) -> list[str]:
    lines = r.stdout.strip().splitlines()
    checks, summary = lines[:-1], lines[-1]
    assert checks and all(line.startswith(("OK    ", "FAIL  ")) for line in checks), r.stdout
    failed = [line for line in checks if line.startswith("FAIL")]
    assert all(" — " in line for line in failed), "every failure says how to fix it"
    assert r.returncode == (1 if failed else 0), r.stdout
    assert summary == (f"{len(failed)} check(s) failed" if failed else "all checks passed")
    return checks


def test_doctor_reports_one_line_per_check():
    r = run_tito("doctor", timeout=180)
    checks = _doctor_lines(r)
    names = [line[6:].split(":")[0] for line in checks]
    for name in ("python", "numpy", "jupytext", "nbgrader", "nbclient", "jupyter kernel python3",
                 "course map", "package in sync"):
        assert name in names, f"no '{name}' check in\n{r.stdout}"
    ok = {line[6:].split(":")[0] for line in checks if line.startswith("OK")}
    assert {"python", "numpy", "jupyter kernel python3"} <= ok, r.stdout


def test_doctor_fails_on_a_hand_edited_package(tmp_path: Path):
    root = copy_repo(tmp_path / "repo")
    init = root / "tinytorch" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + "# edited by hand\n", "utf-8")
    r = run_tito("doctor", cwd=root, timeout=180)
    checks = _doctor_lines(r)
    sync = next(line for line in checks if "package in sync" in line)
    assert sync.startswith("FAIL") and "tinytorch/__init__.py" in sync and "tito export" in sync
    assert r.returncode == 1


def test_course_map_problems_are_named(tmp_path: Path):
    M, S = course.Module, course.Milestone
    (tmp_path / "modules" / "01_a").mkdir(parents=True)
    (tmp_path / "modules" / "01_a" / "a.py").write_text("")
    (tmp_path / "modules" / "02_b").mkdir()
    modules = (M("01", "a", "A", "core.a", ("02",)), M("02", "b", "B", "core.a"),
               M("03", "c", "C", "core.c"))
    milestones = (S("01", "m", "M", 1957, ("01", "09")),)
    problems = doctor.course_problems(modules, milestones, tmp_path)
    text = "\n".join(problems)
    assert "module 01 requires 02, which is not an earlier module" in text
    assert "package file core.a is exported by modules 01 and 02" in text
    assert "module 02: source modules/02_b/b.py is missing" in text
    assert "module 03: folder modules/03_c is missing" in text
    assert "milestone 01 requires module 09" in text
    assert len(problems) == 5, text
    assert doctor.course_problems((), (), tmp_path) == []
