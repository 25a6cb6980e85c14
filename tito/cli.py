"""The `tito` command line (entry point: ``main``)."""
from __future__ import annotations

import argparse
import sys

from tito import course
from tito import export as exporter


def cmd_export(args: argparse.Namespace) -> int:
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tito", description="The tinytorch course command line.")
    sub = p.add_subparsers(dest="command")
    e = sub.add_parser("export", help="export module sources into the tinytorch package")
    e.add_argument("modules", nargs="*")
    e.add_argument("--all", action="store_true")
    e.add_argument("--check", action="store_true")
    e.set_defaults(func=cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (course.CourseError, exporter.ExportError) as err:
        print(f"tito: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
