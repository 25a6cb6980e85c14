"""Start a student's server on the hub with the student's own workspace first on the path.

    python -I -m tito.hub_launch --edition DIR -- SERVER [ARGS ...]

JupyterHub runs this as the student (``c.Spawner.cmd`` in the config ``tito nbgrader hub setup``
writes) and appends its own arguments. It makes ``~/tinytorch-course`` from the student edition
in ``DIR`` if it is missing (``tito.workspace``), refuses if that path holds something else,
sets ``PYTHONPATH`` to the workspace so the server, its kernels and its terminals import the
student's own ``tinytorch`` and ``tito``, and then replaces itself with ``SERVER ARGS``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from tito import workspace


def server_env(ws: Path, environ: dict[str, str]) -> dict[str, str]:
    """The environment of the server: ``environ`` with the workspace first on PYTHONPATH."""
    env = dict(environ)
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(ws)]
    env["PYTHONPATH"] = os.pathsep.join([str(ws), *rest])
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tito.hub_launch",
        description="Make the student's ~/tinytorch-course if missing, then run the command "
                    "after -- with it on PYTHONPATH.")
    parser.add_argument("--edition", required=True, metavar="DIR",
                        help="the student edition (`tito release student --out DIR`)")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="-- then the server and its arguments")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run: put the server after --, e.g. "
                     "`-- /opt/tinytorch/student-venv/bin/jupyterhub-singleuser`")
    try:
        ws, made = workspace.make_workspace(Path(args.edition))
    except workspace.WorkspaceError as err:
        print(f"tinytorch: {err}", file=sys.stderr, flush=True)
        return 1
    print(f"tinytorch: {'made' if made else 'using'} the workspace {ws}", file=sys.stderr,
          flush=True)
    program = command[0] if os.sep in command[0] else (shutil.which(command[0]) or command[0])
    try:
        os.execve(program, command, server_env(ws, dict(os.environ)))
    except OSError as err:
        print(f"tinytorch: cannot run {command[0]}: {err}", file=sys.stderr, flush=True)
        return 1
    return 0  # not reached: execve replaced this process


if __name__ == "__main__":
    sys.exit(main())
