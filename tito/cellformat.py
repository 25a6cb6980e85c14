"""The nbgrader cell format: delimiters, regions, the solution stub and the leak policy.

Every part of tito that reads or writes the marked regions of a module source asks this file:
the linter, the exporter, the student edition, the release and the grading. nbgrader matches a
delimiter anywhere in a line; the sources write ``MARK`` (three hashes) in front of it.

This file ships in the student edition, whose release check refuses any file holding a
delimiter; so each delimiter is written here once, in two pieces.
"""
from __future__ import annotations

import re
from typing import Iterable

BEGIN_SOLUTION = "BEGIN " + "SOLUTION"
END_SOLUTION = "END " + "SOLUTION"
BEGIN_HIDDEN = "BEGIN " + "HIDDEN TESTS"
END_HIDDEN = "END " + "HIDDEN TESTS"
DELIMITERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
MARK = "### "   # how the sources write a delimiter line: "### " + BEGIN_SOLUTION

# What nbgrader's ClearSolutions puts where a solution was (code cells; markdown cells).
STUB_CODE = ("# YOUR CODE HERE", "raise NotImplementedError()")
STUB_LINES = frozenset(STUB_CODE + ("YOUR ANSWER HERE",))

# The leak policy: a line counts as secret when it occurs only inside solution or hidden-test
# regions and is at least this long once stripped. Shorter lines ("return out",
# "except BaseException:", "if not path.is_file():") are common idiom that tests, tools and
# given code repeat by coincidence.
SECRET_MIN_LENGTH = 30


def has_delimiters(text: str) -> bool:
    """True when ``text`` holds any nbgrader delimiter."""
    return any(d in text for d in DELIMITERS)


def regions(code: str, begin: str = BEGIN_SOLUTION, end: str = END_SOLUTION
            ) -> tuple[list[tuple[int, int]], str | None]:
    """0-based line spans ``(begin line, end line)`` of the marked regions of ``code``.

    The second item is None, or the reason the markers do not pair up (the spans found before
    the fault are still returned), naming the markers as the sources write them.
    """
    b, e = MARK + begin, MARK + end
    spans, opened = [], None
    for i, line in enumerate(code.split("\n")):
        if begin in line:
            if opened is not None:
                return spans, f"a second '{b}' before '{e}'"
            opened = i
        elif end in line:
            if opened is None:
                return spans, f"'{e}' without a '{b}' before it"
            spans.append((opened, i))
            opened = None
    if opened is not None:
        return spans, f"'{b}' has no '{e}'"
    return spans, None


def split_lines(code: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """The lines of ``code`` inside ``begin``/``end`` regions and those outside (no markers)."""
    inside, outside, within = [], [], False
    for line in code.splitlines():
        if begin in line:
            within = True
        elif end in line:
            within = False
        else:
            (inside if within else outside).append(line)
    return inside, outside


def stub_solutions(code: str) -> str:
    """``code`` with each solution region replaced by the stub, indented like its marker."""
    out, inside = [], False
    for line in code.split("\n"):
        if BEGIN_SOLUTION in line:
            inside = True
            indent = re.match(r"\s*", line).group(0)
            out += [indent + s for s in STUB_CODE]
        elif END_SOLUTION in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def strip_markers(code: str) -> str:
    """``code`` with the solution answers kept and only the delimiter lines removed."""
    return "\n".join(line for line in code.split("\n")
                     if not (line.strip().startswith("#") and has_delimiters(line)))


def is_secret(line: str) -> bool:
    """Whether a stripped line is long and specific enough to count as a leak when seen."""
    return (len(line) >= SECRET_MIN_LENGTH and line not in STUB_LINES
            and not line.startswith("#"))


def secret_lines(sources: Iterable[str]) -> tuple[set[str], set[str]]:
    """The secret lines of some sources (texts or cells): (solution lines, hidden-test lines).

    A line is secret when it is inside a region in some source, outside every region in all of
    them (text the students see anyway is no secret), and ``is_secret``.
    """
    solutions, hidden, public = set(), set(), set()
    for text in sources:
        sol_in, rest = split_lines(text, BEGIN_SOLUTION, END_SOLUTION)
        hid_in, rest = split_lines("\n".join(rest), BEGIN_HIDDEN, END_HIDDEN)
        hid_sol, _ = split_lines("\n".join(sol_in), BEGIN_HIDDEN, END_HIDDEN)
        solutions.update(s.strip() for s in sol_in)
        hidden.update(s.strip() for s in hid_in + hid_sol)
        public.update(s.strip() for s in rest)
    return ({s for s in solutions - public if is_secret(s)},
            {s for s in hidden - public if is_secret(s)})


def leaked_lines(text: str, secrets: set[str]) -> list[str]:
    """The secret lines that ``text`` contains as whole (stripped) lines, sorted."""
    return sorted({line.strip() for line in text.splitlines()} & secrets)
