"""The exporter: deterministic output, a check mode that catches drift, an exact round trip."""
from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

from helpers import copy_repo, run_tito
from tito import course
from tito import export as exporter

SOURCES = [m for m in course.MODULES if m.source().exists()]


def tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*.py")) if "__pycache__" not in p.parts}


def exported_cells(module: course.Module) -> dict[str, list[str]]:
    """Code of the `#| export` cells per target, directives removed, read without the exporter."""
    import jupytext

    out: dict[str, list[str]] = {}
    default = None
    pending = []
    for cell in jupytext.read(module.source(), fmt="py:percent").cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        marks = [line.split()[1:] for line in lines if line.startswith("#|")]
        code = "\n".join(line for line in lines if not line.startswith("#|"))
        for mark in marks:
            if mark[0] == "default_exp":
                default = mark[1]
            elif mark[0] == "export":
                pending.append((mark[1] if len(mark) > 1 else None, code))
    for target, code in pending:
        out.setdefault(target or default, []).append(code)
    return out


def _without_docstrings(node: ast.AST) -> ast.AST:
    for n in ast.walk(node):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body and \
                isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant) \
                and isinstance(n.body[0].value.value, str):
            n.body[0].value.value = ""
    return node


def body(code: str) -> list[str]:
    """Top-level statements as AST dumps, without the generated docstring, __future__, __all__.

    Docstrings of functions and classes are blanked: the package keeps only their summary and
    example (the exercise parts stay in the notebook), the code itself must be identical.
    """
    kept = []
    for i, node in enumerate(ast.parse(code).body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            continue
        kept.append(ast.dump(_without_docstrings(node)))
    return kept


def test_export_is_deterministic_across_processes(tmp_path: Path):
    """Two exports into two fresh copies, under different hash seeds, are byte-identical."""
    trees = []
    for seed in ("1", "2"):
        root = copy_repo(tmp_path / f"copy{seed}", ("tito", "modules", "setup.cfg"))
        env = dict(os.environ, PYTHONHASHSEED=seed)
        r = run_tito("export", "--all", cwd=root, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        trees.append(tree(root / "tinytorch"))
    assert trees[0] and trees[0] == trees[1]
    assert trees[0] == tree(course.PACKAGE_DIR), "the committed package is not a fresh export"


def test_write_then_drift_against_a_temporary_root(tmp_path: Path):
    root = copy_repo(tmp_path / "repo", ("modules", "setup.cfg"))
    files = exporter.expected_files(root=root)
    assert files == exporter.expected_files(), "the exporter depends on where the repo lives"
    pkg = tmp_path / "pkg"
    assert exporter.write(files, pkg), "a first write writes every file"
    assert exporter.drift(files, pkg) == [] and exporter.stray(files, pkg) == []
    assert exporter.write(files, pkg) == [], "a second write changes nothing"
    (pkg / "core" / "extra.py").write_text("x = 1\n")
    assert exporter.stray(files, pkg) == [pkg / "core" / "extra.py"]


def test_check_detects_a_changed_source_and_a_hand_edit(tmp_path: Path):
    root = copy_repo(tmp_path / "repo")
    ok = run_tito("export", "--check", cwd=root)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    tensor = course.get_module("01")
    generated = Path("tinytorch", *tensor.target.split(".")).with_suffix(".py")
    src = tensor.source(root)
    text = src.read_text(encoding="utf-8")
    assert "    enabled = True" in text
    src.write_text(text.replace("    enabled = True", "    enabled = False"), "utf-8")
    r = run_tito("export", "--check", cwd=root)
    assert r.returncode == 1 and f"drift: {generated.as_posix()}" in r.stdout, r.stdout
    src.write_text(text, "utf-8")

    pkg_file = root / generated
    pkg_file.write_text(pkg_file.read_text(encoding="utf-8") + "\n# a hand edit\n", "utf-8")
    r = run_tito("export", "--check", cwd=root)
    assert r.returncode == 1 and f"drift: {generated.as_posix()}" in r.stdout, r.stdout
    assert "tinytorch/__init__.py" not in r.stdout, "only the edited file is named"

    r = run_tito("export", "--all", cwd=root)
    assert r.returncode == 0 and generated.as_posix() in r.stdout
    (root / "tinytorch" / "core" / "helpers.py").write_text("x = 1\n", "utf-8")
    r = run_tito("export", "--check", cwd=root)
    assert r.returncode == 1 and "stray: tinytorch/core/helpers.py" in r.stdout, r.stdout


@pytest.mark.parametrize("module", SOURCES, ids=[m.number for m in SOURCES])
def test_round_trip(module: course.Module):
    """The generated file is the `#| export` cells' code, minus directives, in order."""
    cells = exported_cells(module)
    files = exporter.collect(module)
    for target in module.targets:
        generated = exporter.render(files[target])
        expected = [stmt for code in cells.get(target, []) for stmt in body(code)]
        assert body(generated) == expected, f"{target}: generated code differs from the cells"


@pytest.mark.parametrize("module", SOURCES, ids=[m.number for m in SOURCES])
def test_package_reads_as_a_library_not_a_handout(module: course.Module):
    """No nbgrader delimiter and no TODO/APPROACH/HINTS part in the package; examples stay."""
    for target, f in exporter.collect(module).items():
        text = exporter.render(f)
        for part in ("TODO:", "APPROACH:", "HINTS:", "BEGIN SOLUTION", "END SOLUTION"):
            assert part not in text, f"{target}: '{part}' left in the package"
        label = re.compile(r"^\s*EXAMPLE\b[^:\n]*:", re.M)
        source_examples = sum(len(label.findall(chunk)) for chunk in f.chunks)
        shown = len(re.findall(r"^\s*Example\b[^:\n]*:", text, re.M))
        assert shown >= source_examples, f"{target}: an example was dropped"


def test_handout_parts_removed_and_summary_kept():
    code = (
        'def f(x):\n'
        '    """Double x.\n\n'
        '    TODO: multiply.\n'
        '    APPROACH:\n'
        '        1. one line\n'
        '    EXAMPLE: f(2) == 4\n'
        '    HINTS: the * operator,\n'
        '    on two lines.\n'
        '    """\n'
        '    ### BEGIN SOLUTION\n'
        '    return 2 * x\n'
        '    ### END SOLUTION\n')
    out = exporter.package_text(code)
    assert out == ('def f(x):\n'
                   '    """Double x.\n\n'
                   '    Example: f(2) == 4\n'
                   '    """\n'
                   '    return 2 * x\n'), out
    only_summary = exporter.package_text('def g():\n    """Do it.\n\n    TODO: it.\n    """\n')
    assert only_summary == 'def g():\n    """Do it."""\n', only_summary


@pytest.mark.parametrize("module", SOURCES, ids=[m.number for m in SOURCES])
def test_header_and_all(module: course.Module):
    for f in exporter.collect(module).values():
        text = exporter.render(f)
        assert text.startswith(f'"""Generated from {module.source(Path(".")).as_posix()}')
        assert "Do not edit this file" in text.splitlines()[0]
        tree_ = ast.parse(text)
        declared = next(ast.literal_eval(n.value) for n in tree_.body if isinstance(n, ast.Assign)
                        and any(getattr(t, "id", None) == "__all__" for t in n.targets))
        defined = []
        for node in tree_.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.append(node.name)
            elif isinstance(node, ast.Assign):
                defined += [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                defined.append(node.target.id)
        public = list(dict.fromkeys(n for n in defined if not n.startswith("_")))
        assert declared == public
        start = text.index("__all__ = [")
        block = text[start:text.index("]", start) + 1]
        assert max(len(line) for line in block.splitlines()) <= 100, "__all__ wraps at 100"


def test_collect_reads_a_notebook_as_the_student_workflow_does(tmp_path: Path):
    import jupytext

    tensor = course.get_module("01")
    nb = tmp_path / "tensor.ipynb"
    jupytext.write(jupytext.read(tensor.source()), nb)
    from_nb = exporter.collect(tensor, source=nb)
    from_py = exporter.collect(tensor)
    assert {t: f.chunks for t, f in from_nb.items()} == {t: f.chunks for t, f in from_py.items()}
    assert all(f.source == tensor.source(Path(".")).as_posix() for f in from_nb.values())


def test_export_errors_name_the_file(tmp_path: Path):
    tensor = course.get_module("01")
    text = tensor.source().read_text(encoding="utf-8")
    bad = tmp_path / "tensor.py"
    bad.write_text(text.replace("#| default_exp core.tensor\n", ""), "utf-8")
    with pytest.raises(exporter.ExportError, match=r"tensor\.py: no '#\| default_exp'"):
        exporter.collect(tensor, source=bad)
    bad.write_text(text.replace("#| export\n", "#| export core.elsewhere\n", 1), "utf-8")
    with pytest.raises(exporter.ExportError, match="core.elsewhere"):
        exporter.collect(tensor, source=bad)
    with pytest.raises(exporter.ExportError, match="not found"):
        exporter.collect(tensor, source=tmp_path / "missing.py")


def test_top_level_reexports_classes_and_functions_not_constants_or_rules():
    import tinytorch
    from tinytorch.core import autograd

    assert {"Tensor", "Linear", "CrossEntropyLoss", "Adam", "DataLoader", "no_grad",
            "manual_seed"} <= set(tinytorch.__all__)
    # All-caps classes are classes: the kind of definition decides, not the spelling.
    assert {"SGD", "GELU", "MNIST"} <= set(tinytorch.__all__)
    assert tinytorch.SGD.__name__ == "SGD" and tinytorch.MNIST.__name__ == "MNIST"
    rules = [n for n in tinytorch.__all__ if n.endswith("_backward")]
    assert rules == [], f"backward rules stay in their files: {rules}"
    assert "DATASETS" not in tinytorch.__all__, "assignments stay in their files"
    assert callable(autograd.add_backward), "a rule is still importable from its own file"
    assert exporter.top_level("relu", "function") and exporter.top_level("SGD", "class")
    assert not exporter.top_level("relu_backward", "function")
    assert not exporter.top_level("IDX_DTYPES", "constant")
    # Names of numpy dtypes read as PyTorch's: tinytorch.float32, tinytorch.long.
    import numpy as np

    kinds = dict(exporter.exported_names(
        "float32 = np.float32\nint64 = long = np.int64\nsave = np.savez\nN = 3\n", "cell"))
    assert kinds == {"float32": "dtype", "int64": "dtype", "long": "dtype", "save": "constant",
                     "N": "constant"}
    assert tinytorch.float32 is np.float32 and tinytorch.long is np.int64
    assert not {"float", "int", "bool"} & set(tinytorch.__all__), "Python's builtins stay visible"
