"""Reading a solution notebook: cell roles, validation, and the answer stubs."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from .errors import CourseError

BEGIN, END, HINT = "### BEGIN SOLUTION", "### END SOLUTION", "### HINT:"
DEFAULT_HINT = "write your answer here"
_MARKER = re.compile(r"^(\s*)(### BEGIN SOLUTION|### END SOLUTION|### HINT:.*)\s*$")


@dataclass
class Cell:
    """One code cell of an assignment, with its role.

    ``kind`` is ``"answer"`` (``key`` is the answer id), ``"check"`` (``key`` is the
    question id) or ``"code"`` (setup code, ``key`` is ``""``).
    """

    kind: str
    source: str
    key: str = ""
    points: int | list[int] = 0
    hidden: bool = False
    expected: str | None = None
    index: int = 0
    question: str | None = None
    rules: dict | None = None
    meta: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        """The points a check cell is worth (the sum of its per-line points)."""
        return sum(self.points) if isinstance(self.points, list) else self.points


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


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _points(meta: dict, where: str) -> int | list[int]:
    """A check's ``points``: a positive integer (the cell is one sub-check: all its lines must
    match), or a list of positive integers, one per line of its output (each line scores on
    its own)."""
    points: Any = meta.get("points")
    if isinstance(points, list) and points and all(_positive_int(p) for p in points):
        return list(points)
    if not _positive_int(points):
        raise CourseError(
            f"{where}: check needs a positive integer 'points' (or a list of them, one per "
            f"output line), got {points!r}"
        )
    return points


def _hidden(meta: dict, where: str) -> bool:
    hidden = meta.get("hidden", False)
    if not isinstance(hidden, bool):
        raise CourseError(
            f"{where}: 'hidden' must be true or false (JSON booleans), got {hidden!r}"
        )
    return hidden


def rules_of(meta, where: str) -> dict:
    """Validated ``{"forbid": [...], "allow": [...]}`` (prefixes of dotted names)."""
    rules = meta.get("rules", {}) if isinstance(meta, dict) else {}
    if not isinstance(rules, dict) or set(rules) - {"forbid", "allow"}:
        raise CourseError(
            f"{where}: 'rules' must be {{'forbid': [...], 'allow': [...]}}, got {rules!r}"
        )
    for k, v in rules.items():
        if not isinstance(v, list) or not all(isinstance(p, str) and p for p in v):
            raise CourseError(f"{where}: rules[{k!r}] must be a list of dotted names, got {v!r}")
    return {k: list(v) for k, v in rules.items() if v}


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
            if cell.cell_type == "markdown" and meta.get("manual") is True and "check" not in meta:
                written_answer(meta, where)  # validated; graded by hand, not by the kernel
                continue
            if meta.get("answer") or meta.get("check"):
                raise CourseError(
                    f"{where}: answer/check metadata on a {cell.cell_type} cell (a written "
                    'answer is a markdown cell with {"answer": "w1", "points": 2, "manual": true})'
                )
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
            question = meta.get("question")
            if question is not None and (not isinstance(question, str) or not question):
                raise CourseError(f"{where}: 'question' must be a question id, got {question!r}")
            cells.append(
                Cell(
                    "answer",
                    cell.source,
                    key,
                    index=index,
                    question=question,
                    rules=rules_of(meta, where) or None,
                    meta=meta,
                )
            )
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
                    hidden=_hidden(meta, where),
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


WRITTEN_PLACEHOLDER = "*Write your answer here.*"
"""What a released written-answer cell holds until the student writes in it."""


def written_answer(meta: dict, where: str) -> tuple[str, int]:
    """``(id, points)`` of a written answer's metadata, or ``CourseError`` naming the cell.

    A written answer is a markdown cell with ``{"coursekit": {"answer": "w1", "points": 2,
    "manual": true}}``: a question in words, graded by a person. In ``solutions/`` its text
    is the model answer; ``coursekit release`` replaces it by :data:`WRITTEN_PLACEHOLDER`.
    """
    key = meta.get("answer")
    if not isinstance(key, str) or not key:
        raise CourseError(f'{where}: a written answer needs an id, e.g. "answer": "w1"')
    if not _positive_int(meta.get("points")):
        raise CourseError(
            f"{where}: written answer {key!r} needs positive integer points, "
            f"got {meta.get('points')!r}"
        )
    return key, int(meta["points"])


def written_answers(nb, path="notebook") -> dict[str, int]:
    """``{id: points}`` of every written (hand-graded) answer cell, in order."""
    found: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        meta = role(cell)
        if cell.cell_type == "markdown" and meta.get("manual") is True:
            key, points = written_answer(meta, _where(path, index, cell))
            if key in found:
                raise CourseError(f"{_where(path, index, cell)}: duplicate written answer {key!r}")
            found[key] = points
    return found


def top_level_names(source: str) -> list[str]:
    """The names a cell defines at top level (``def``, ``class``, assignment, import): for an
    answer cell, the names the checks call."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(names))


def used_names(source: str) -> set[str]:
    """Every name a cell reads (loads), anywhere in it."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def notebook_rules(nb, path="notebook") -> dict:
    """The assignment's rules, from the notebook metadata ``{"coursekit": {"rules": ...}}``."""
    meta = nb.metadata.get("coursekit", {}) if hasattr(nb, "metadata") else {}
    return rules_of(meta if isinstance(meta, dict) else {}, f"{path}: notebook metadata")


_ROW = re.compile(r"^\s*\|(.*)\|\s*$")


def point_tables(nb) -> list[tuple[int, dict[str, dict[str, str]]]]:
    """Markdown tables with a ``question`` and a ``points`` column: (cell index, question ->
    row as a dict column -> text); the ``total`` row under key ``"total"``."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        header: list[str] | None = None
        rows: dict[str, dict[str, str]] = {}
        for line in cell.source.splitlines():
            m = _ROW.match(line)
            if not m:
                if header and rows:
                    found.append((index, rows))
                header, rows = None, {}
                continue
            cols = [c.strip().strip("*").strip() for c in m.group(1).split("|")]
            if header is None:
                low = [c.lower() for c in cols]
                if "question" in low and "points" in low:
                    header = low
                continue
            if set("".join(cols)) <= set("-: "):
                continue
            row = dict(zip(header, cols))
            key = row.get("question") or ("total" if "total" in " ".join(cols).lower() else "")
            if key:
                rows[key] = row
        if header and rows:
            found.append((index, rows))
    return found


def check_point_tables(nb, path, public: dict[str, int], hidden: dict[str, int]) -> None:
    """The notebook's point tables must say what is graded: ``points`` the public checks'
    points of each question, ``hidden`` (a column, when there is one) the hidden checks'.
    A row that says "graded by hand" in any column (a written answer, ``w1``) is skipped.

    Raises ``CourseError`` naming the first row that differs.
    """
    for index, rows in point_tables(nb):
        where = f"{path}: the point table in cell {index}"
        for q in public:
            if q not in rows:
                raise CourseError(f"{where} has no row for question {q!r}")
        for key, row in rows.items():
            if any("graded by hand" in text.lower() for text in row.values()):
                continue  # a written answer's row: a person grades it, no check holds it
            want_public = sum(public.values()) if key == "total" else public.get(key)
            want_hidden = sum(hidden.values()) if key == "total" else hidden.get(key, 0)
            if want_public is None:
                raise CourseError(f"{where} lists {key!r}, which no check grades")
            got = row.get("points", "")
            if got != str(want_public):
                raise CourseError(
                    f"{where}: {key} shows {got!r} points; its public checks hold {want_public}"
                )
            if "hidden" in row:
                got_hidden = row["hidden"] or "0"
                if got_hidden not in (str(want_hidden), "-" if not want_hidden else ""):
                    raise CourseError(
                        f"{where}: {key} shows {got_hidden!r} hidden points; its hidden checks "
                        f"hold {want_hidden}"
                    )


def stub(source: str) -> str:
    """Replace every solution region by ``raise NotImplementedError("<hint>")``."""
    out, inside, indent, hint = [], False, "", DEFAULT_HINT
    for line in source.splitlines():
        m = _MARKER.match(line)
        marker = m.group(2) if m else None
        if marker == BEGIN and m is not None:
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
    r"""Text as compared: no ANSI codes, ``\n`` line ends, no trailing spaces or blank lines."""
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
