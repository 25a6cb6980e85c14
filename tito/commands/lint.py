"""`tito lint`: find what would silently break the exporter, nbgrader or grading."""
from __future__ import annotations

import argparse

from tito import course
from tito import lint as linter


def run(args: argparse.Namespace) -> int:
    if args.modules:
        modules = [course.get_module(k) for k in args.modules]
        for m in modules:
            if not m.source().exists():
                raise FileNotFoundError(f"module {m.number} has no source yet: "
                                        f"{m.source(course.REPO_ROOT).relative_to(course.REPO_ROOT)}")
    else:
        modules = [m for m in course.MODULES if m.source().exists()]
    problems = linter.lint(modules)
    for p in problems:
        print(p)
    files = len(modules)
    if problems:
        print(f"{len(problems)} problem(s) in {files} module source(s)")
        return 1
    print(f"{files} module source(s) lint clean")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lint", help="check module sources for directive, metadata and nbgrader "
                                    "mistakes")
    p.add_argument("modules", nargs="*", help="module numbers (default: every existing source)")
    p.set_defaults(func=run)
