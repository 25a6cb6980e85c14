"""The exporter: module sources -> the generated ``tinytorch`` package.

A module source is a jupytext percent file. Cells marked ``#| export`` go, in order, to the
file named by the source's single ``#| default_exp`` directive; ``#| export other.target`` sends a
cell to another package file instead. The result is deterministic: the same sources always give
byte-identical files, so ``--check`` can compare the committed package against a fresh export.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tito import cellformat, course

DIRECTIVE = re.compile(r"^#\|\s*(?P<name>[A-Za-z_]+)\s*(?P<arg>\S*)\s*$")


class ExportError(Exception):
    """A module source that cannot be exported; the message says where and why."""


@dataclass
class ExportedFile:
    target: str                       # "core.tensor"
    source: str                       # "modules/01_tensor/tensor.py"
    chunks: list[str] = field(default_factory=list)

    def path(self, package_dir: Path) -> Path:
        return package_dir.joinpath(*self.target.split(".")).with_suffix(".py")


def read_cells(source: Path) -> list:
    """Cells of a jupytext percent file, as nbformat cells (jupytext parses the metadata)."""
    import jupytext

    fmt = "ipynb" if Path(source).suffix == ".ipynb" else "py:percent"
    try:
        return jupytext.read(source, fmt=fmt).cells
    except FileNotFoundError:
        raise ExportError(f"{source}: file not found") from None
    except Exception as err:  # noqa: BLE001 - jupytext/nbformat raise many kinds
        # A damaged notebook (bad JSON, not a notebook, not text) is bad input, not a crash.
        raise ExportError(f"{source}: cannot be read as a notebook: {err}") from None


def split_directives(src: str) -> tuple[list[tuple[str, str]], str]:
    """Separate ``#| name arg`` directive lines from the code of a cell."""
    directives, kept = [], []
    for line in src.splitlines():
        m = DIRECTIVE.match(line.strip()) if line.startswith("#|") else None
        if m:
            directives.append((m["name"], m["arg"]))
        else:
            kept.append(line)
    return directives, "\n".join(kept).strip("\n")


def exported_names(code: str, where: str) -> list[tuple[str, str]]:
    """Top-level public names a chunk of code defines, each with its kind.

    The kind is ``"class"``, ``"function"``, ``"dtype"`` (a name for a numpy scalar type,
    ``float32 = np.float32``) or ``"constant"`` (any other assignment).
    """
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        raise ExportError(f"{where}: exported cell does not parse: {e.msg} (line {e.lineno})")
    found: list[tuple[str, str]] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            found.append((node.name, "class"))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append((node.name, "function"))
        elif isinstance(node, ast.Assign):
            kind = "dtype" if _numpy_scalar_type(node.value) else "constant"
            found += [(t.id, kind) for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.append((node.target.id, "constant"))
    return [(n, kind) for n, kind in found if not n.startswith("_")]


def _numpy_scalar_type(value: ast.expr) -> bool:
    """Whether ``value`` is written ``np.<name>`` and names a numpy scalar type (a dtype)."""
    if not (isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name)
            and value.value.id in ("np", "numpy")):
        return False
    found = getattr(np, value.attr, None)
    return isinstance(found, type) and issubclass(found, np.generic)


def public_names(code: str, where: str) -> list[str]:
    """Top-level public names a chunk of code defines (classes, functions, constants)."""
    return [n for n, _ in exported_names(code, where)]


def top_level(name: str, kind: str) -> bool:
    """Whether ``tinytorch.<name>`` re-exports a public name of a package file.

    Classes, functions and dtype names are re-exported (``SGD``, ``GELU``, ``MNIST`` and
    ``float32`` included); other assignments (constants, tables) and backward rules
    (``*_backward`` functions, which the engine finds through its registry) stay in their
    own files.
    """
    return kind in ("class", "function", "dtype") and not name.endswith("_backward")


# Docstring parts that teach the exercise; the notebook keeps them, the package does not.
EXERCISE_PARTS = ("TODO", "APPROACH", "HINTS")
QUOTES = ('"' * 3, "'" * 3)
_PART = re.compile(r"^(?P<indent>\s*)(?P<label>TODO|APPROACH|EXAMPLE|HINTS)\b[^:\n]*:")


def _handout_free(doc_lines: list[str]) -> list[str]:
    """Docstring lines without the TODO/APPROACH/HINTS parts; ``EXAMPLE:`` becomes ``Example:``.

    A part runs from its label line to the next blank line, label, closing quotes or line
    indented less than the label.
    """
    out: list[str] = []
    skipping_from = None            # indent of the part being dropped
    for line in doc_lines:
        indent = len(line) - len(line.lstrip())
        m = _PART.match(line)
        if skipping_from is not None:
            ends = (not line.strip() or m or line.strip().startswith(QUOTES)
                    or indent < skipping_from)
            if not ends:
                continue
            skipping_from = None
        if m and m["label"] in EXERCISE_PARTS:
            skipping_from = len(m["indent"])
            continue
        if m:
            line = line.replace("EXAMPLE", "Example", 1)
        out.append(line)
    return out


def package_text(code: str) -> str:
    """An exported chunk as the package shows it: no nbgrader delimiter lines and no
    exercise parts in its docstrings (the solution code itself stays)."""
    code = cellformat.strip_markers(code)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    lines = code.split("\n")
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and \
                node.body and isinstance(node.body[0], ast.Expr) and \
                isinstance(node.body[0].value, ast.Constant) and \
                isinstance(node.body[0].value.value, str):
            doc = node.body[0]
            spans.append((doc.lineno - 1, doc.end_lineno))
    for start, end in sorted(spans, reverse=True):
        kept = _handout_free(lines[start:end])
        # no blank line left just before the closing quotes
        while len(kept) > 2 and not kept[-2].strip():
            del kept[-2]
        if len(kept) == 2 and kept[1].strip() in QUOTES and len(kept[0]) + 3 <= 100:
            kept = [kept[0] + kept[1].strip()]      # only the summary is left: one line
        lines[start:end] = kept
    return "\n".join(lines)


def collect(module: course.Module, source: Path | None = None,
            root: Path = course.REPO_ROOT) -> dict[str, ExportedFile]:
    """The package files one module source exports to, keyed by target."""
    source = source or module.source(root)
    rel = module.source(Path(".")).as_posix()
    cells = read_cells(source)
    default = None
    files: dict[str, ExportedFile] = {}
    pending: list[tuple[str | None, str, int]] = []
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        directives, code = split_directives(cell.source)
        for name, arg in directives:
            if name == "default_exp":
                if default is not None:
                    raise ExportError(f"{rel}: more than one '#| default_exp' directive")
                default = arg
            elif name == "export":
                pending.append((arg or None, code, index))
    if default is None:
        raise ExportError(f"{rel}: no '#| default_exp' directive; add '#| default_exp "
                          f"{module.target}' in the first code cell")
    for target, code, index in pending:
        target = target or default
        if target not in module.targets:
            raise ExportError(f"{rel}: cell {index} exports to '{target}', which the course "
                              f"map does not give module {module.number} "
                              f"(allowed: {', '.join(module.targets)})")
        files.setdefault(target, ExportedFile(target, rel)).chunks.append(code)
    for target in module.targets:
        files.setdefault(target, ExportedFile(target, rel))
    return files


def _all_line(names: list[str], width: int = 100) -> str:
    """``__all__ = [...]``, wrapped so that no line is longer than ``width``."""
    one = "__all__ = [" + ", ".join(repr(n) for n in names) + "]\n"
    if len(one) <= width + 1:
        return one
    rows, row = [], "   "
    for item in (repr(n) + "," for n in names):
        if len(row) + 1 + len(item) > width:
            rows.append(row)
            row = "   "
        row += " " + item
    return "__all__ = [\n" + "\n".join(rows + [row]) + "\n]\n"


def render(f: ExportedFile) -> str:
    """The text of one generated package file."""
    names: list[str] = []
    for chunk in f.chunks:
        for n in public_names(chunk, f.source):
            if n not in names:
                names.append(n)
    header = (
        f'"""Generated from {f.source} by `tito export`. Do not edit this file.\n\n'
        f"Change the module source and run `tito export` again.\n"
        f'"""\n'
    )
    # `from __future__` must open the file, so such lines move above everything else.
    future: list[str] = []
    chunks = []
    for chunk in f.chunks:
        kept = []
        for line in package_text(chunk).splitlines():
            if line.startswith("from __future__ import"):
                if line not in future:
                    future.append(line)
            else:
                kept.append(line)
        text = "\n".join(kept).strip("\n")
        if text.strip():
            chunks.append(text)
    all_line = _all_line(names)
    body = "\n\n\n".join(chunks)
    head = header + ("".join(line + "\n" for line in future) + "\n" if future else "")
    return head + all_line + ("\n\n" + body + "\n" if body else "")


TEMPLATES = Path(__file__).resolve().parent / "package_template"


def setup_cfg(root: Path = course.REPO_ROOT):
    """The project's setup.cfg (version, requirements), parsed."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(root / "setup.cfg", encoding="utf-8")
    return cfg


def package_version(root: Path = course.REPO_ROOT) -> str:
    return setup_cfg(root).get("metadata", "version", fallback="0.0.0")


def render_course_table(exports: dict[str, str]) -> str:
    """``tinytorch/_course.py``: the slice of the course map the package needs at run time."""
    rows = "".join(
        f"    ({m.number!r}, {m.name!r}, {m.title!r}, {m.targets!r}),\n" for m in course.MODULES
    )
    names = "".join(f"    {n!r}: {t!r},\n" for n, t in exports.items())
    return (
        '"""Generated from tito/course.py by `tito export`. Do not edit this file.\n\n'
        "The package reads this table to name the module a missing feature comes from.\n"
        '"""\n'
        "from __future__ import annotations\n\n"
        "# (number, name, title, package files it exports)\n"
        "MODULES = (\n" + rows + ")\n\n"
        "# public name -> package file that defines it, over the whole course\n"
        "EXPORTS = {\n" + names + "}\n"
        + (TEMPLATES / "course_runtime.py").read_text(encoding="utf-8")
    )


def expected_files(modules: list[course.Module] | None = None,
                   root: Path = course.REPO_ROOT) -> dict[Path, str]:
    """Every generated file (relative to the package directory) and its exact text.

    ``modules`` limits which module files are produced (the course table and the top-level
    re-exports always cover the whole course, so a partial package still names what is missing).
    """
    wanted = {m.number for m in (modules if modules is not None else course.MODULES)}
    exports: dict[str, str] = {}
    out: dict[Path, str] = {}
    subpackages: set[Path] = set()
    for m in course.MODULES:
        if not m.source(root).exists():
            if m.number in wanted and modules is not None:
                raise ExportError(f"{m.source(Path('.')).as_posix()}: file not found")
            continue
        for f in collect(m, root=root).values():
            for chunk in f.chunks:
                for n, kind in exported_names(chunk, f.source):
                    if top_level(n, kind):
                        exports.setdefault(n, f.target)
            if m.number in wanted:
                rel = Path(*f.target.split(".")).with_suffix(".py")
                out[rel] = render(f)
                subpackages.update(p for p in rel.parents if p != Path("."))
    init = (TEMPLATES / "package_init.py").read_text(encoding="utf-8")
    out[Path("__init__.py")] = init.replace("__VERSION__", package_version(root))
    out[Path("_course.py")] = render_course_table(exports)
    for sub in sorted(subpackages):
        out[sub / "__init__.py"] = (TEMPLATES / "subpackage_init.py").read_text(encoding="utf-8")
    return out


def write(files: dict[Path, str], package_dir: Path = course.PACKAGE_DIR) -> list[Path]:
    written = []
    for rel, text in files.items():
        dest = package_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists() or dest.read_text(encoding="utf-8") != text:
            dest.write_text(text, encoding="utf-8", newline="\n")
            written.append(dest)
    return written


def drift(files: dict[Path, str], package_dir: Path = course.PACKAGE_DIR) -> list[Path]:
    """Generated files whose committed text differs from what the sources export."""
    bad = []
    for rel, text in files.items():
        dest = package_dir / rel
        if not dest.exists() or dest.read_text(encoding="utf-8") != text:
            bad.append(dest)
    return bad


def stray(files: dict[Path, str], package_dir: Path = course.PACKAGE_DIR) -> list[Path]:
    """Python files in the package that no module source generates (hand-written or stale).

    Only meaningful against ``expected_files()`` of the whole course.
    """
    wanted = {package_dir / rel for rel in files}
    return sorted(p for p in package_dir.rglob("*.py")
                  if p not in wanted and "__pycache__" not in p.parts)
