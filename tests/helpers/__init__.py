"""Test utilities shared by the test files: run tito or Python in a subprocess, copy the repo.

Import as ``from helpers import ...`` (tests/conftest.py puts this folder's parent on sys.path).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# `pip install -e .` installs an import hook that maps `tinytorch` to this checkout. A
# subprocess that must see only a copied package removes it before importing anything.
_ISOLATE = (
    "import sys\n"
    "sys.meta_path[:] = [f for f in sys.meta_path\n"
    "                    if '__editable__' not in getattr(f, '__module__', '')]\n"
)


def run_tito(*args: str, cwd: Path = REPO, timeout: float = 300,
             env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m tito ARGS`` in ``cwd``; a copied repo in ``cwd`` runs its own tito."""
    return subprocess.run([sys.executable, "-m", "tito", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def run_python(code: str, pythonpath: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports tinytorch only from ``pythonpath``."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-c", _ISOLATE + code], cwd=pythonpath, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in ("__pycache__", ".ipynb_checkpoints") or
            n.endswith((".pyc", ".ipynb"))}


def copy_repo(dest: Path, parts: tuple[str, ...] = ("tito", "modules", "tinytorch", "setup.cfg")
              ) -> Path:
    """Copy the parts of the repo tito needs to ``dest`` (tito's root is where it lives)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in parts:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=_ignore)
        elif src.exists():
            shutil.copy2(src, dest / part)
    return dest


def copy_package(dest: Path) -> Path:
    """Copy the tinytorch package this process imports into ``dest`` (for run_python).

    That is the repo's package, or under `tito module test` the student's private build.
    """
    import tinytorch

    src = Path(tinytorch.__file__).resolve().parent
    shutil.copytree(src, dest / "tinytorch", ignore=_ignore)
    return dest
