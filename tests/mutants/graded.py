"""Run a module source's code cells in order and score its graded cells (hidden tests included).

    python tests/mutants/graded.py SOURCE.py

The cells run in one fresh namespace, as a kernel would run "Run All": an error in an ordinary
cell is kept and execution goes on; each graded cell (``"grade": true``) that raises loses its
points. Prints one JSON object: points got, points possible, and the failing cells with their
error. The package this runs against is whatever ``tinytorch`` is first on ``PYTHONPATH``.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys

# jsonschema (under jupytext) would compile an unused grammar for seconds on every start.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
os.environ.setdefault("MPLBACKEND", "Agg")


def score(source: str) -> dict:
    import jupytext

    nb = jupytext.read(source, fmt="py:percent")
    namespace: dict = {"__name__": "__main__"}
    got = total = 0.0
    failed, errors = [], []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        graded = bool(meta.get("grade"))
        points = float(meta.get("points", 0) or 0) if graded else 0.0
        total += points
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                exec(compile(cell.source, f"<cell {index}>", "exec"), namespace)
        except BaseException as err:  # noqa: BLE001 - a graded cell may raise anything
            if isinstance(err, KeyboardInterrupt):
                raise
            message = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            if graded:
                failed.append({"cell": meta.get("grade_id", f"cell {index}"),
                               "error": message[:200]})
            else:
                errors.append({"cell": f"cell {index}", "error": message[:200]})
            continue
        got += points
    return {"got": got, "total": total, "failed": failed, "errors": errors}


if __name__ == "__main__":
    print(json.dumps(score(sys.argv[1])))
