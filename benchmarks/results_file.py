"""benchmarks/RESULTS.md is made of sections, one per script; each script replaces its own."""
from __future__ import annotations

from pathlib import Path

PATH = Path(__file__).resolve().parent / "RESULTS.md"


def replace_section(heading: str, body: str, path: Path = PATH) -> Path:
    """Put ``body`` (which starts with ``heading``) in place of the old section of that name.

    A section runs from its heading line to the next line starting with ``#`` of the same or
    a higher level; the other sections are kept as they are.
    """
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    level = heading.split(" ", 1)[0]
    lines = text.splitlines()
    out, skipping, placed = [], False, False
    for line in lines:
        if line.strip() == heading.strip():
            skipping, placed = True, True
            out.extend(body.rstrip("\n").splitlines())
            out.append("")
            continue
        if skipping and line.startswith("#") and len(line.split(" ", 1)[0]) <= len(level):
            skipping = False
        if not skipping:
            out.append(line)
    if not placed:
        if out and out[-1].strip():
            out.append("")
        out.extend(body.rstrip("\n").splitlines())
    text = "\n".join(out).rstrip("\n") + "\n"
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    path.write_text(text, encoding="utf-8")
    return path


def report(lines: list[str], write: bool, path: Path = PATH) -> None:
    """Print a script's section (``lines[0]`` is its heading); with ``write``, also store it."""
    table = "\n".join(lines) + "\n"
    print()
    print(table)
    if write:
        replace_section(lines[0], table, path)
        print(f"written to {path.name} in {path.parent}")
