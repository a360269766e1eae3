"""Reading a solution notebook: cell roles, validation, and the answer stubs."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .errors import CourseError

BEGIN, END, HINT = "### BEGIN SOLUTION", "### END SOLUTION", "### HINT:"
DEFAULT_HINT = "write your answer here"
_MARKER = re.compile(r"^(\s*)(### BEGIN SOLUTION|### END SOLUTION|### HINT:.*)\s*$")


@dataclass
class Cell:
    """One code cell of an assignment, with its role.

    ``kind`` is ``"answer"`` (``key`` is the answer id), ``"check"`` (``key`` is the
    question id) or ``"code"`` (setup code, ``key`` is ``None``).
    """

    kind: str
    source: str
    key: str | None = None
    points: int = 0
    hidden: bool = False
    expected: str | None = None
    index: int = 0
    meta: dict = field(default_factory=dict)


def read(path) -> nbformat.NotebookNode:
    """Read a notebook as nbformat v4, with a message naming the file on failure."""
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as exc:  # json errors, schema errors, missing file
        raise CourseError(f"{path}: cannot read notebook ({exc})") from exc


def role(cell) -> dict:
    """The ``coursekit`` metadata dict of a cell (empty when there is none)."""
    meta = cell.get("metadata", {}).get("coursekit", {})
    return meta if isinstance(meta, dict) else {}


def _where(path, index, cell) -> str:
    first = cell.source.strip().splitlines()[0][:50] if cell.source.strip() else ""
    return f"{path}: cell {index} ({first!r})"


def _check_markers(source: str, where: str, is_answer: bool) -> None:
    depth, regions = 0, 0
    for line in source.splitlines():
        m = _MARKER.match(line)
        if not m:
            continue
        if not is_answer:
            raise CourseError(f"{where}: solution markers in a cell that is not an answer cell")
        marker = m.group(2)
        if marker == BEGIN:
            if depth:
                raise CourseError(f"{where}: nested {BEGIN}")
            depth, regions = 1, regions + 1
        elif marker == END:
            if not depth:
                raise CourseError(f"{where}: {END} without {BEGIN}")
            depth = 0
        elif not depth:
            raise CourseError(f"{where}: {HINT} outside a solution region")
    if depth:
        raise CourseError(f"{where}: {BEGIN} without {END}")
    if is_answer and not regions:
        raise CourseError(f"{where}: answer cell without a {BEGIN} / {END} region")


def _points(meta: dict, where: str) -> int:
    points = meta.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise CourseError(f"{where}: check needs a positive integer 'points', got {points!r}")
    return points


def cells_of(nb, path="notebook", require_markers=True) -> list[Cell]:
    """The code cells of a solution (or reference) notebook with their roles, validated.

    Raises ``CourseError`` naming the cell for: an answer that is also a check, an id
    that is not a non-empty string, duplicate answer ids, a check without positive
    integer points, unbalanced markers or markers outside an answer cell (when
    ``require_markers``), an answer or check in a markdown cell.
    """
    cells, answers = [], set()
    for index, cell in enumerate(nb.cells):
        meta, where = role(cell), _where(path, index, cell)
        if cell.cell_type != "code":
            if meta.get("answer") or meta.get("check"):
                raise CourseError(f"{where}: answer/check metadata on a {cell.cell_type} cell")
            continue
        if "answer" in meta and "check" in meta:
            raise CourseError(f"{where}: a cell is either an answer or a check, not both")
        if "answer" in meta:
            key = meta["answer"]
            if not isinstance(key, str) or not key:
                raise CourseError(f"{where}: answer id must be a non-empty string, got {key!r}")
            if key in answers:
                raise CourseError(f"{where}: duplicate answer id {key!r}")
            answers.add(key)
            if require_markers:
                _check_markers(cell.source, where, True)
            cells.append(Cell("answer", cell.source, key, index=index, meta=meta))
        elif "check" in meta:
            key = meta["check"]
            if not isinstance(key, str) or not key:
                raise CourseError(f"{where}: check id must be a non-empty string, got {key!r}")
            if require_markers:
                _check_markers(cell.source, where, False)
            cells.append(
                Cell(
                    "check",
                    cell.source,
                    key,
                    points=_points(meta, where),
                    hidden=bool(meta.get("hidden", False)),
                    expected=output_text(cell.get("outputs", [])) if cell.get("outputs") else None,
                    index=index,
                    meta=meta,
                )
            )
        else:
            if require_markers:
                _check_markers(cell.source, where, False)
            cells.append(Cell("code", cell.source, index=index, meta=meta))
    if require_markers and not any(c.kind == "check" for c in cells):
        raise CourseError(f"{path}: no check cell (metadata {{'coursekit': {{'check': ...}}}})")
    return cells


def stub(source: str) -> str:
    """Replace every solution region by ``raise NotImplementedError("<hint>")``."""
    out, inside, indent, hint = [], False, "", DEFAULT_HINT
    for line in source.splitlines():
        m = _MARKER.match(line)
        marker = m.group(2) if m else None
        if marker == BEGIN:
            inside, indent, hint = True, m.group(1), DEFAULT_HINT
        elif marker == END:
            out.append(f"{indent}raise NotImplementedError({hint!r})")
            inside = False
        elif marker and marker.startswith(HINT):
            hint = marker[len(HINT) :].strip() or DEFAULT_HINT
        elif not inside:
            out.append(line)
    return "\n".join(out)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def normalise(text: str) -> str:
    """Text as compared: no ANSI codes, ``\\n`` line ends, no trailing spaces or blank lines."""
    text = _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def output_text(outputs) -> str:
    """What a cell printed: its stdout streams and ``text/plain`` results, normalised."""
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result", "display_data"):
            text = out.get("data", {}).get("text/plain")
            if text is not None:
                parts.append((text if isinstance(text, str) else "".join(text)) + "\n")
    return normalise("".join(parts))


def source_hash(nb) -> str:
    """sha256 of everything a release depends on: cell types, sources and coursekit metadata."""
    items = [(c.cell_type, c.source, role(c)) for c in nb.cells]
    return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()


def assignment_name(path) -> str:
    """``solutions/01_backprop_numpy.ipynb`` -> ``01_backprop_numpy``."""
    return Path(path).stem
