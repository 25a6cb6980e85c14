"""`tito export`: module sources -> the tinytorch package."""
from __future__ import annotations

import argparse

from tito import course
from tito import export as exporter


def run(args: argparse.Namespace) -> int:
    modules = None if args.all or not args.modules else [
        course.get_module(k) for k in args.modules]
    files = exporter.expected_files(modules)
    if args.check:
        bad = exporter.drift(files)
        for p in bad:
            print(f"drift: {p.relative_to(course.REPO_ROOT)} differs from what its source exports")
        if bad:
            print("run `tito export --all` and commit the result")
            return 1
        print(f"package in sync with the sources ({len(files)} files)")
        return 0
    for p in exporter.write(files):
        print(f"wrote {p.relative_to(course.REPO_ROOT)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export module sources into the tinytorch package")
    p.add_argument("modules", nargs="*", help="module numbers (default: all)")
    p.add_argument("--all", action="store_true", help="export every module")
    p.add_argument("--check", action="store_true",
                   help="change nothing; exit 1 and name the files that differ from the sources")
    p.set_defaults(func=run)
