"""The `tito` command line (entry point: ``main``)."""
from __future__ import annotations

import argparse
import importlib
import sys

from tito import course
from tito.commands import GROUPS


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tito", description="The tinytorch course command line.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in GROUPS:
        try:
            group = importlib.import_module(f"tito.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"tito.commands.{name}":
                continue
            raise
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from tito import export as exporter

    try:
        return int(args.func(args) or 0)
    except (UsageError, course.CourseError, exporter.ExportError, FileNotFoundError) as err:
        print(f"tito: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tito: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
