"""`tito lint`: each kind of broken module source is caught, at the line of the cell's header."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import copy_repo, run_tito
from tito import course, lint

TENSOR = course.get_module("01")
SOURCE = TENSOR.source().read_text(encoding="utf-8")


def header_of(text: str, grade_id: str) -> int:
    """Line number of the `# %%` header of the cell with this grade_id."""
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# %%") and f'"grade_id": "{grade_id}"' in line:
            return n
    raise AssertionError(f"no cell {grade_id} in the source")


def header_above(text: str, needle: str) -> int:
    """Line number of the `# %%` header of the cell holding the first line equal to needle."""
    header = None
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# %%"):
            header = n
        if line == needle:
            return header
    raise AssertionError(f"no line {needle!r} in the source")


def in_cell(text: str, grade_id: str, old: str, new: str) -> str:
    """Replace the first ``old`` after the header of cell ``grade_id``."""
    lines = text.splitlines(keepends=True)
    start = header_of(text, grade_id) - 1
    head, tail = "".join(lines[:start]), "".join(lines[start:])
    assert old in tail, f"{old!r} not in cell {grade_id}"
    return head + tail.replace(old, new, 1)


def on_header(text: str, grade_id: str, old: str, new: str) -> str:
    lines = text.splitlines(keepends=True)
    i = header_of(text, grade_id) - 1
    assert old in lines[i], f"{old!r} not in the header of {grade_id}"
    lines[i] = lines[i].replace(old, new, 1)
    return "".join(lines)


def _move_directive_into_solution(text: str) -> str:
    text = in_cell(text, "exp_log", "#| export\n", "")
    return in_cell(text, "exp_log", "    ### BEGIN SOLUTION\n",
                   "    ### BEGIN SOLUTION\n#| export\n")


def _wrap_function_in_solution(text: str) -> str:
    text = in_cell(text, "creation", "def zeros_like(", "### BEGIN SOLUTION\ndef zeros_like(")
    return in_cell(text, "creation", "requires_grad, dtype=t.dtype)\n",
                   "requires_grad, dtype=t.dtype)\n### END SOLUTION\n")


def _ungrade_all_but(text: str, keep: int) -> str:
    graded = [m.group(1) for m in re.finditer(
        r'^# %% nbgrader=.*"grade": true, "grade_id": "(\w+)"', text, re.M)]
    for gid in graded[keep:]:
        text = on_header(text, gid, '"grade": true', '"grade": false')
    return text


# (case, how to break the source, expected line (from the broken text), words in the message)
CASES = [
    ("malformed JSON metadata",
     lambda t: on_header(t, "test_matmul", '"solution": false}', '"solution": false'),
     lambda t: header_of(t, "test_matmul"), "does not parse"),
    ("missing schema_version",
     lambda t: on_header(t, "test_reductions", '"schema_version": 3, ', ""),
     lambda t: header_of(t, "test_reductions"), "schema_version"),
    ("duplicate grade_id",
     lambda t: on_header(t, "test_exp_log", '"test_exp_log"', '"test_matmul"'),
     lambda t: [n for n, line in enumerate(t.splitlines(), 1)
                if line.startswith("# %%") and '"test_matmul"' in line][1],
     "already used by the cell at line"),
    ("bad grade_id characters",
     lambda t: on_header(t, "test_shape_ops", '"test_shape_ops"', '"test shape ops!"'),
     lambda t: header_above(t, "x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))"),
     "not allowed by nbgrader"),
    ("graded cell without points",
     lambda t: on_header(t, "test_arithmetic", '"points": 10, ', ""),
     lambda t: header_of(t, "test_arithmetic"), "has points None"),
    ("graded cell not locked",
     lambda t: on_header(t, "test_creation", '"locked": true', '"locked": false'),
     lambda t: header_of(t, "test_creation"), "is not locked"),
    ("missing END SOLUTION",
     lambda t: in_cell(t, "matmul", "    ### END SOLUTION\n", ""),
     lambda t: header_of(t, "matmul"), "has no '### END SOLUTION'"),
    ("directive inside the solution markers", _move_directive_into_solution,
     lambda t: header_of(t, "exp_log"), "directive sits between the solution markers"),
    ("definition inside the solution markers", _wrap_function_in_solution,
     lambda t: header_of(t, "creation"), "enclose the definition of zeros_like"),
    ("two default_exp",
     lambda t: in_cell(t, "arithmetic", "#| export\n", "#| export\n#| default_exp core.tensor\n"),
     lambda t: header_of(t, "arithmetic"), "a second '#| default_exp'"),
    ("wrong default_exp",
     lambda t: t.replace("#| default_exp core.tensor", "#| default_exp core.tensr"),
     lambda t: header_above(t, "#| default_exp core.tensr"), "the course map gives module 01"),
    ("unknown export target",
     lambda t: in_cell(t, "reductions", "#| export\n", "#| export core.layers\n"),
     lambda t: header_of(t, "reductions"), "'#| export core.layers'"),
    ("unknown directive",
     lambda t: in_cell(t, "reductions", "#| export\n", "#| exprot\n"),
     lambda t: header_of(t, "reductions"), "unknown directive '#| exprot'"),
    ("exported graded cell",
     lambda t: in_cell(t, "test_exp_log", "v = Tensor", "#| export\nv = Tensor"),
     lambda t: header_of(t, "test_exp_log"), "exported cell carries graded-test metadata"),
    ("hidden tests outside a graded cell",
     lambda t: in_cell(t, "exp_log", "    ### END SOLUTION\n",
                       "    ### END SOLUTION\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n"),
     lambda t: header_of(t, "exp_log"), "hidden tests in a cell that is not graded"),
    ("unbalanced hidden tests",
     lambda t: in_cell(t, "test_exp_log", "### END HIDDEN TESTS\n", ""),
     lambda t: header_of(t, "test_exp_log"), "has no '### END HIDDEN TESTS'"),
    ("grade flag not a boolean",
     lambda t: on_header(t, "test_matmul", '"grade": true', '"grade": "yes"'),
     lambda t: header_of(t, "test_matmul"), "'grade' is 'yes', not a boolean"),
    ("too few graded cells", lambda t: _ungrade_all_but(t, 5),
     lambda t: 1, "only 5 graded cells"),
    ("no jupytext header", lambda t: t.split("# ---\n", 2)[2].lstrip("\n"),
     lambda t: 1, "no jupytext percent header"),
]


@pytest.mark.parametrize("case, breaks, line_of, words", CASES, ids=[c[0] for c in CASES])
def test_lint_catches_with_the_line(tmp_path: Path, case, breaks, line_of, words):
    broken = breaks(SOURCE)
    assert broken != SOURCE, "the case did not change the source"
    path = tmp_path / "tensor.py"
    path.write_text(broken, encoding="utf-8")
    problems = lint.lint_source(path, TENSOR)
    line = line_of(broken)
    hits = [p for p in problems if words in p.what]
    assert hits, f"{case}: not caught; got {[str(p) for p in problems]}"
    assert line in [p.line for p in hits], \
        f"{case}: expected line {line}, got {[str(p) for p in hits]}"
    assert str(hits[0]).startswith(f"{path}:{hits[0].line}: ")
    assert " — " in str(hits[0]), "every message says what to do"


def test_real_modules_lint_clean():
    sources = [m for m in course.MODULES if m.source().exists()]
    assert sources, "no module sources found"
    problems = lint.lint(sources)
    assert not problems, "\n".join(map(str, problems))


def test_cells_map_to_their_header_lines():
    lines = SOURCE.splitlines()
    cells = lint.cells_with_lines(TENSOR.source())
    assert len(cells) > 10
    for cell in cells:
        assert lines[cell.line - 1].startswith("# %%")
        first = next((s for s in cell.source.splitlines() if s.strip()), None)
        if first is not None and cell.cell_type == "code":
            assert first in lines[cell.line:cell.line + 200], "cell source follows its header"


def test_cli_lint_exit_codes_and_format(tmp_path: Path):
    ok = run_tito("lint")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    root = copy_repo(tmp_path / "repo", ("tito", "modules", "setup.cfg"))
    src = TENSOR.source(root)
    broken = on_header(SOURCE, "test_creation", '"locked": true', '"locked": false')
    src.write_text(broken, encoding="utf-8")
    bad = run_tito("lint", "01", cwd=root)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    rel = TENSOR.source(Path(".")).as_posix()
    assert f"{rel}:{header_of(broken, 'test_creation')}: graded cell 'test_creation' is not " \
           f"locked — " in bad.stdout
    missing = run_tito("lint", "99")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1


def test_cli_lints_a_copy_of_a_source_given_by_path(tmp_path: Path):
    broken = on_header(SOURCE, "test_creation", '"grade_id": "test_creation", ',
                       '"grade_id": "test_creation" ')
    copy = tmp_path / f"{TENSOR.name}.py"
    copy.write_text(broken, encoding="utf-8")
    bad = run_tito("lint", str(copy))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"{copy}:{header_of(broken, 'test_creation')}: cell metadata does not parse" \
        in bad.stdout
    stranger = tmp_path / "notes.py"
    stranger.write_text(SOURCE, encoding="utf-8")
    unknown = run_tito("lint", str(stranger))
    assert unknown.returncode == 2 and "cannot tell which module" in unknown.stderr
