"""The `tito` command line (entry point: ``main``).

Exit codes: 0 success, 1 a check failed, 2 bad input. Bad input (an unknown module, a missing
file, a wrong option) is reported as one line on stderr, never as a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from tito import course


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (every group's subparsers inherit this)."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def version() -> str:
    """tinytorch's version: setup.cfg in a checkout, else the installed package's metadata."""
    from tito import export as exporter

    if (course.REPO_ROOT / "setup.cfg").exists():
        return exporter.package_version(course.REPO_ROOT)
    from importlib import metadata

    return metadata.version("tinytorch")


def build_parser() -> argparse.ArgumentParser:
    from tito.commands import GROUPS

    p = _Parser(prog="tito", description="The tinytorch course command line.")
    p.add_argument("--version", action="version", version=f"tinytorch {version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in GROUPS:
        try:
            group = importlib.import_module(f"tito.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"tito.commands.{name}":
                continue  # a command group that is not written yet
            raise
        group.register(sub)
    return p


def _bad_input() -> tuple[type[BaseException], ...]:
    from tito import export as exporter

    return (UsageError, course.CourseError, exporter.ExportError, FileNotFoundError,
            NotADirectoryError, IsADirectoryError, PermissionError)


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except _bad_input() as err:
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"tito: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tito: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
