"""`tito release student --out DIR`: build the student edition into a new folder.

What the edition holds and how it is checked is ``tito/edition.py``. The instructor edition is
only read. The edition is built in a temporary folder next to ``--out``, checked (no delimiter,
solution line or hidden test anywhere it matters, and its own ``tito`` must start), and only
then moved into place.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from tito import course, edition, progress, student


def _usage(message: str):
    from tito.cli import UsageError

    return UsageError(message)


def release_student(args: argparse.Namespace) -> int:
    root = course.REPO_ROOT
    if progress.is_student_edition(root):
        raise _usage("this is already a student edition; build one from the instructor edition")
    out = Path(args.out).expanduser().resolve()
    if out == root or root.is_relative_to(out):
        raise _usage(f"--out {args.out} would overwrite the instructor edition; choose a new "
                     f"folder")
    replacing = out.exists() and (not out.is_dir() or any(out.iterdir()))
    if replacing and not (args.force and progress.is_student_edition(out)):
        raise _usage(f"{out} exists and is not empty; choose a new folder (or --force to "
                     f"replace a student edition made earlier)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        print(f"Building the student edition from {root} ...")
        edition.build(root, tmp)
        errors = edition.leaks(tmp, root)
        if errors:
            for e in errors:
                print(f"  leak: {e}")
            files = len({e.split(":", 1)[0] for e in errors})
            print(f"tito: the student edition would leak answers ({len(errors)} lines in {files} "
                  f"file(s)); nothing was written. A test that re-implements an answer should "
                  f"import it from tinytorch instead.")
            return 1
        problem = edition.smoke(tmp)
        if problem:
            print(f"tito: {problem}; nothing was written")
            return 1
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        elif out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "edition")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, out)
    except student.StudentError as err:
        print(f"tito: {err}")
        return 1
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"Student edition written to {out}")
    print("No solution text, hidden test or nbgrader delimiter in it; its tito starts.")
    print("A student begins with:")
    print(f"    cd {out}")
    print("    python -m pip install -q -e . --config-settings editable_mode=compat")
    print(f"    tito module start {course.MODULES[0].number}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("release", help="build the student edition of the course")
    kinds = p.add_subparsers(dest="kind", metavar="EDITION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    s = kinds.add_parser("student", help="a working copy for students: no solutions, no hidden "
                                         "tests, an empty package and progress")
    s.add_argument("--out", required=True, help="folder to create (must not exist or be empty)")
    s.add_argument("--force", action="store_true",
                   help="replace --out if it holds a student edition made earlier")
    s.set_defaults(func=release_student)
