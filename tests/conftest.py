"""Shared pytest set-up: one marker per module, registered from the course map."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
for p in (REPO, TESTS):              # `from tito import ...` and `from helpers import ...`
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from tito import course  # noqa: E402

# Plots in notebooks and milestones must never try to open a window.
os.environ.setdefault("MPLBACKEND", "Agg")

try:  # a slow shared machine must not fail a property test on time alone
    from hypothesis import settings

    settings.register_profile("tinytorch", deadline=None, print_blob=True)
    settings.load_profile("tinytorch")
    # tests/test_mutants.py only needs to know that a test fails, not the smallest example.
    from hypothesis import Phase

    settings.register_profile("no-shrink", deadline=None, database=None,
                              phases=[Phase.explicit, Phase.reuse, Phase.generate])
except ImportError:  # pragma: no cover - hypothesis is a declared dependency
    pass


def pytest_configure(config: pytest.Config) -> None:
    for m in course.MODULES:
        config.addinivalue_line("markers", f"{m.marker}: module {m.number} ({m.name})")
