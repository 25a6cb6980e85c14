"""A pytest plugin for ``tito module test`` and ``complete`` (loaded with ``-p``).

Two jobs:

- A test file of a later module may import that module at the top (``from
  tinytorch.core.autograd import ...``). For a student who has not completed it yet, that import
  raises ``ModuleNotCompletedError`` while pytest collects the file, which pytest would report
  as an error and fail the whole run. This plugin reports such a file as skipped instead, with
  the package's own message naming the module to complete.
- With ``TITO_PYTEST_REPORT`` set to a file name, every test report is written to that file, one
  JSON object a line: the node id, the outcome, the exception's type and full message, the
  frames of the traceback (file, line, function) and the full failure text pytest would print
  (with hypothesis's falsifying example). tito reads these records instead of pytest's output.
"""
from __future__ import annotations

import json
import os

import pytest

REPORT_ENV = "TITO_PYTEST_REPORT"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if not report.failed or not isinstance(collector, pytest.Module):
        return
    text = str(report.longrepr)
    if "ModuleNotCompletedError" not in text:
        return
    reason = next((line.split("ModuleNotCompletedError:", 1)[1].strip()
                   for line in reversed(text.splitlines())
                   if "ModuleNotCompletedError:" in line), "needs a module not completed yet")
    report.outcome = "skipped"
    report.longrepr = (str(collector.path), None, f"Skipped: {reason}")


def _frames(excinfo) -> list[list]:
    try:
        return [[str(e.path), e.lineno + 1, e.name] for e in excinfo.traceback]
    except Exception:  # noqa: BLE001 - a traceback pytest cannot walk: no frames
        return []


def _exception(excinfo) -> tuple[str, str]:
    if excinfo is None:
        return "", ""
    err = excinfo.value
    message = str(err)
    notes = getattr(err, "__notes__", None)
    if notes:
        message = "\n".join([message, *map(str, notes)])
    return type(err).__name__, message


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and not report.skipped:
        report.tito_frames = _frames(call.excinfo)
        report.tito_exception = _exception(call.excinfo)


def _write(record: dict) -> None:
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr or "")
    return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason


def pytest_runtest_logreport(report):
    if report.when != "call" and report.passed:
        return
    if report.when != "call" and report.skipped and report.when == "teardown":
        return
    if report.skipped:
        _write({"nodeid": report.nodeid, "outcome": "skipped", "when": report.when,
                "message": _skip_reason(report)})
        return
    kind, message = getattr(report, "tito_exception", ("", ""))
    _write({"nodeid": report.nodeid, "outcome": report.outcome, "when": report.when,
            "exception": kind, "message": message,
            "frames": getattr(report, "tito_frames", []),
            "text": report.longreprtext if report.failed else ""})


def pytest_collectreport(report):
    if report.passed:
        return
    if report.skipped:
        _write({"nodeid": report.nodeid, "outcome": "skipped", "when": "collect",
                "message": _skip_reason(report)})
    else:
        _write({"nodeid": report.nodeid, "outcome": "failed", "when": "collect",
                "exception": "", "message": report.longreprtext.strip().splitlines()[-1]
                if report.longreprtext.strip() else "collection failed",
                "frames": [], "text": report.longreprtext})
