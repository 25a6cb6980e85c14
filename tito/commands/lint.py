"""`tito lint`: find what would silently break the exporter, nbgrader or grading."""
from __future__ import annotations

import argparse
from pathlib import Path

from tito import course
from tito import lint as linter
from tito.cli import UsageError


def _module_of_file(path: Path) -> course.Module:
    """The module a source file (perhaps a copy elsewhere) belongs to, from its file name."""
    for m in course.MODULES:
        if path.stem == m.name or path.parent.name == m.folder:
            return m
    names = ", ".join(f"{m.name}.py" for m in course.MODULES)
    raise UsageError(f"{path}: cannot tell which module this file is; name it like a module "
                     f"source ({names})")


def run(args: argparse.Namespace) -> int:
    targets: list[tuple[Path, course.Module]] = []
    for key in args.modules:
        if key.endswith(".py"):
            path = Path(key)
            if not path.is_file():
                raise FileNotFoundError(f"{key}: no such file")
            targets.append((path, _module_of_file(path)))
            continue
        m = course.get_module(key)
        if not m.source().exists():
            raise FileNotFoundError(f"module {m.number} has no source yet: "
                                    f"{m.source(course.REPO_ROOT).relative_to(course.REPO_ROOT)}")
        targets.append((m.source(), m))
    if not args.modules:
        targets = [(m.source(), m) for m in course.MODULES if m.source().exists()]
    problems = [p for path, m in targets for p in linter.lint_source(path, m)]
    for p in problems:
        print(p)
    files = len(targets)
    if problems:
        print(f"{len(problems)} problem(s) in {files} module source(s)")
        return 1
    print(f"{files} module source(s) lint clean")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lint", help="check module sources for directive, metadata and nbgrader "
                                    "mistakes")
    p.add_argument("modules", nargs="*",
                   help="module numbers, or paths of module source files (a copy named like "
                        "the module, e.g. tensor.py); default: every existing source")
    p.set_defaults(func=run)
