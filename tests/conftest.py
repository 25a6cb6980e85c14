"""Shared pytest set-up: one marker per module, registered from the course map."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tito import course  # noqa: E402

# Plots in notebooks and milestones must never try to open a window.
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config: pytest.Config) -> None:
    for m in course.MODULES:
        config.addinivalue_line("markers", f"{m.marker}: module {m.number} ({m.name})")
