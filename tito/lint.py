"""The module-source linter: what would silently break the exporter, nbgrader or grading.

Every problem is reported as ``path:line: what is wrong — what to do``, where ``line`` is the
line of the cell's ``# %%`` header in the source (line 1 for problems of the whole file).
jupytext never raises on a bad cell header, and nbgrader only complains when an instructor runs
``generate_assignment``; this linter finds the same mistakes while the source is being written.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from tito import course
from tito.cellformat import (BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION, MARK,
                             regions, stub_solutions)
from tito.export import DIRECTIVE, read_cells, split_directives

MIN_GRADED_CELLS = 6
DIRECTIVES = ("default_exp", "export")
GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]*$")
NBGRADER_KEYS = {"schema_version", "grade", "locked", "solution", "task", "grade_id", "points",
                 "checksum", "cell_type"}
# The cell markers jupytext's percent reader accepts (jupytext/cell_reader.py).
CELL_MARKER = re.compile(r"^\s*#\s*%%(%*)\s(.*)$|^\s*#\s*(%%|<codecell>|In\[[0-9 ]*\]:?)\s*$")


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what} — {self.fix}"


@dataclass
class Cell:
    line: int              # 1-based line of the cell's `# %%` header (or first line of a preamble)
    cell_type: str
    metadata: dict
    source: str


def _header_end(lines: list[str]) -> int:
    """Number of lines taken by the jupytext YAML header (0 when there is none)."""
    if lines and lines[0].rstrip() == "# ---":
        for i in range(1, len(lines)):
            if lines[i].rstrip() == "# ---":
                return i + 1
    return 0


def has_percent_header(text: str) -> bool:
    lines = text.splitlines()
    end = _header_end(lines)
    block = "\n".join(lines[:end])
    return bool(end) and "jupytext:" in block and re.search(
        r"^#\s+format_name:\s*percent\s*$", block, re.M) is not None


def cells_with_lines(source: Path) -> list[Cell]:
    """The notebook cells jupytext reads from ``source``, each with its header's line number."""
    text = Path(source).read_text(encoding="utf-8")
    lines = text.splitlines()
    start = _header_end(lines)
    markers = [i + 1 for i in range(start, len(lines)) if CELL_MARKER.match(lines[i])]
    cells = read_cells(source)
    if len(cells) == len(markers) + 1:
        # jupytext turns text before the first marker into a cell of its own.
        first = next(i + 1 for i in range(start, len(lines)) if lines[i].strip())
        markers.insert(0, first)
    if len(cells) != len(markers):
        raise ValueError(f"{source}: jupytext reads {len(cells)} cells but the file has "
                         f"{len(markers)} '# %%' lines")
    return [Cell(line, c.cell_type, dict(c.metadata), c.source) for line, c in zip(markers, cells)]


def _api(code: str) -> set[str] | None:
    """Top-level definitions of ``code`` and the methods of its classes (None: does not parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    names: set[str] = set()
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for node in tree.body:
        if isinstance(node, defs):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(f"{node.name}.{n.name}" for n in node.body if isinstance(n, defs))
    return names


class _Linter:
    def __init__(self, source: Path, module: course.Module, shown: str):
        self.source, self.module, self.shown = Path(source), module, shown
        self.problems: list[Problem] = []

    def add(self, line: int, what: str, fix: str) -> None:
        self.problems.append(Problem(self.shown, line, what, fix))

    def run(self) -> list[Problem]:
        if not self.source.exists():
            self.add(1, "file not found", f"create the source of module {self.module.number}")
            return self.problems
        if not has_percent_header(self.source.read_text(encoding="utf-8")):
            self.add(1, "no jupytext percent header",
                     f"run `jupytext --set-formats py:percent {self.shown}` to add it")
        try:
            cells = cells_with_lines(self.source)
        except ValueError as err:
            self.add(1, str(err).split(": ", 1)[1], "check the '# %%' cell markers")
            return self.problems
        self.directives(cells)
        self.metadata(cells)
        for cell in cells:
            # A cell whose header does not parse has no trustworthy nbgrader flags to check.
            if cell.cell_type == "code" and "incorrectly_encoded_metadata" not in cell.metadata:
                self.markers(cell)
        graded = sum(1 for c in cells if _nbgrader(c).get("grade") is True)
        if graded < MIN_GRADED_CELLS:
            self.add(1, f"only {graded} graded cells (at least {MIN_GRADED_CELLS} expected)",
                     "follow each solution with a locked, graded test cell worth points")
        return sorted(self.problems, key=lambda p: p.line)

    def directives(self, cells: list[Cell]) -> None:
        default_seen = False
        for cell in cells:
            if cell.cell_type != "code":
                continue
            for text in cell.source.splitlines():
                if not text.startswith("#|"):
                    continue
                m = DIRECTIVE.match(text.strip())
                if not m:
                    self.add(cell.line, f"malformed directive '{text.strip()}'",
                             "write '#| export [target]' or '#| default_exp target'")
                    continue
                name, arg = m["name"], m["arg"]
                if name not in DIRECTIVES:
                    self.add(cell.line, f"unknown directive '#| {name}'",
                             f"use one of {', '.join('#| ' + d for d in DIRECTIVES)}")
                elif name == "default_exp":
                    if default_seen:
                        self.add(cell.line, "a second '#| default_exp'",
                                 "keep exactly one '#| default_exp' per module source")
                    elif arg != self.module.target:
                        self.add(cell.line, f"'#| default_exp {arg}' but the course map gives "
                                 f"module {self.module.number} '{self.module.target}'",
                                 f"write '#| default_exp {self.module.target}'")
                    default_seen = True
                elif arg and arg not in self.module.targets:
                    self.add(cell.line, f"'#| export {arg}': the course map does not give "
                             f"module {self.module.number} that target",
                             f"export to one of {', '.join(self.module.targets)} "
                             f"(or add the target to tito/course.py)")
            if _exported(cell) and _nbgrader(cell).get("grade") is True:
                self.add(cell.line, "an exported cell carries graded-test metadata",
                         "keep tests out of '#| export' cells (graded cells are not code "
                         "for the package)")
        if not default_seen:
            self.add(1, "no '#| default_exp' directive",
                     f"add '#| default_exp {self.module.target}' to the first code cell")

    def metadata(self, cells: list[Cell]) -> None:
        ids: dict[str, int] = {}
        for cell in cells:
            line = cell.line
            if "incorrectly_encoded_metadata" in cell.metadata:
                bad = cell.metadata["incorrectly_encoded_metadata"]
                self.add(line, f"cell metadata does not parse (jupytext read it as "
                         f"incorrectly_encoded_metadata: {bad!r})",
                         "write the metadata as valid JSON after '# %%', e.g. "
                         "nbgrader={\"schema_version\": 3, ...}")
            if "nbgrader" not in cell.metadata:
                continue
            meta = cell.metadata["nbgrader"]
            if not isinstance(meta, dict):
                self.add(line, "nbgrader metadata is not a JSON object",
                         "write nbgrader={\"schema_version\": 3, ...}")
                continue
            if meta.get("schema_version") != 3:
                self.add(line, f"nbgrader schema_version is {meta.get('schema_version')!r}",
                         "add \"schema_version\": 3 (nbgrader refuses anything else)")
            unknown = sorted(set(meta) - NBGRADER_KEYS)
            if unknown:
                self.add(line, f"unknown nbgrader keys {unknown}",
                         f"use only {', '.join(sorted(NBGRADER_KEYS))}")
            for key in ("grade", "solution", "locked"):
                if key not in meta:
                    self.add(line, f"nbgrader metadata lacks '{key}'",
                             f"add \"{key}\": true or false")
                elif not isinstance(meta[key], bool):
                    self.add(line, f"nbgrader '{key}' is {meta[key]!r}, not a boolean",
                             f"write \"{key}\": true or false")
            gid = meta.get("grade_id")
            if gid is None:
                self.add(line, "nbgrader cell without a grade_id",
                         "add a unique \"grade_id\" (letters, digits, _ and -)")
            elif not isinstance(gid, str) or not gid or not GRADE_ID.match(gid):
                self.add(line, f"grade_id {gid!r} is not allowed by nbgrader",
                         "use only letters, digits, '_' and '-' (pattern ^[a-zA-Z0-9_\\-]*$)")
            elif gid in ids:
                self.add(line, f"grade_id '{gid}' already used by the cell at line {ids[gid]}",
                         "give every nbgrader cell its own grade_id")
            else:
                ids[gid] = line
            if meta.get("grade") is True:
                points = meta.get("points")
                if isinstance(points, bool) or not isinstance(points, (int, float)) \
                        or points <= 0:
                    self.add(line, f"graded cell '{gid}' has points {points!r}",
                             "give it a number of points greater than 0")
                if meta.get("locked") is not True:
                    self.add(line, f"graded cell '{gid}' is not locked",
                             "set \"locked\": true so students cannot edit the test")
            if cell.cell_type == "markdown" and not meta.get("task") and \
                    bool(meta.get("grade")) != bool(meta.get("solution")):
                self.add(line, "a markdown nbgrader cell must be both grade and solution",
                         "set both \"grade\" and \"solution\" to true, or neither")

    def markers(self, cell: Cell) -> None:
        meta = _nbgrader(cell)
        code, line = cell.source, cell.line
        spans, err = regions(code, BEGIN_SOLUTION, END_SOLUTION)
        solution = meta.get("solution") is True
        if err:
            self.add(line, f"solution markers: {err}",
                     f"pair every '{MARK}{BEGIN_SOLUTION}' with a later '{MARK}{END_SOLUTION}'")
        elif spans and not solution:
            self.add(line, "solution markers in a cell that is not a solution cell",
                     "set \"solution\": true in the cell's nbgrader metadata")
        elif solution and not spans:
            self.add(line, "solution cell without solution markers (the student edition "
                     "would replace the whole cell)",
                     f"wrap the answer in '{MARK}{BEGIN_SOLUTION}' / '{MARK}{END_SOLUTION}'")
        if spans and not err:
            body = code.split("\n")
            for a, b in spans:
                if any(s.lstrip().startswith("#|") for s in body[a + 1:b]):
                    self.add(line, "a '#|' directive sits between the solution markers "
                             "(the student edition would lose it)",
                             f"move the directive above the '{MARK}{BEGIN_SOLUTION}' line")
                    break
            if _exported(cell):
                before, after = _api(code), _api(stub_solutions(code))
                if before is not None and after is not None and before - after:
                    lost = ", ".join(sorted(before - after))
                    self.add(line, f"the solution markers enclose the definition of {lost}: "
                             "the student edition would not define it",
                             f"keep 'def'/'class' header lines above '{MARK}{BEGIN_SOLUTION}'")
        spans, err = regions(code, BEGIN_HIDDEN, END_HIDDEN)
        if err:
            self.add(line, f"hidden-test markers: {err}",
                     f"pair every '{MARK}{BEGIN_HIDDEN}' with a later '{MARK}{END_HIDDEN}'")
        if (spans or err) and meta.get("grade") is not True:
            self.add(line, "hidden tests in a cell that is not graded",
                     "put hidden tests only in graded (\"grade\": true) cells")


def _exported(cell: Cell) -> bool:
    return any(name == "export" for name, _ in split_directives(cell.source)[0])


def _nbgrader(cell: Cell) -> dict:
    meta = cell.metadata.get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _shown(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def lint_source(source: Path, module: course.Module, root: Path = course.REPO_ROOT
                ) -> list[Problem]:
    """Problems of one module source (``source`` may be a copy anywhere on disk)."""
    return _Linter(Path(source), module, _shown(source, root)).run()


def lint(modules: list[course.Module] | None = None, root: Path = course.REPO_ROOT
         ) -> list[Problem]:
    """Problems of the given modules' sources; by default every source that exists."""
    if modules is None:
        modules = [m for m in course.MODULES if m.source(root).exists()]
    problems: list[Problem] = []
    for m in modules:
        problems += lint_source(m.source(root), m, root)
    return problems
