"""The instructor's copy a submission is graded against: a solution or a published store.

A published reference (``assignments/.reference/NN_name.json``, written by ``coursekit
release``) holds, in notebook order, every code cell of the assignment: setup code, the
answer stubs and the public checks with their reference outputs, plus the sha256 of the
solution it came from. A solution notebook used with ``--reference`` gives the same
with the solutions in place of the stubs and the hidden checks included.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .notebook import Cell, CourseError, assignment_name, cells_of, read, source_hash, stub

FORMAT = 1
STORE = Path("assignments") / ".reference"


@dataclass
class Reference:
    """Code cells in order (answers as stubs or solutions), the checks' expected text."""

    name: str
    cells: list[Cell]
    solution_hash: str

    @property
    def questions(self) -> dict[str, int]:
        """Question id -> points possible, in notebook order."""
        points: dict[str, int] = {}
        for cell in self.cells:
            if cell.kind == "check":
                points[cell.key] = points.get(cell.key, 0) + cell.points
        return points

    def validate(self, origin) -> None:
        """A check with no reference output is the course's error: refuse to grade."""
        for cell in self.cells:
            if cell.kind == "check" and not cell.expected:
                raise CourseError(
                    f"{origin}: check {cell.key!r} (cell {cell.index}) has no reference "
                    "output; run `coursekit release` on its solution"
                )

    def to_json(self) -> str:
        cells = [
            {k: v for k, v in asdict(c).items() if k != "meta" and v not in (None, False)}
            for c in self.cells
        ]
        data = {"format": FORMAT, "name": self.name, "solution_sha256": self.solution_hash}
        return json.dumps({**data, "cells": cells}, indent=1, sort_keys=True) + "\n"


def from_solution(path, public_only=False, stubs=False) -> Reference:
    """The reference a solution notebook defines (hidden checks unless ``public_only``)."""
    nb = read(path)
    cells = [c for c in cells_of(nb, path) if not (public_only and c.hidden)]
    if stubs:
        cells = [
            Cell(c.kind, stub(c.source), c.key, index=c.index) if c.kind == "answer" else c
            for c in cells
        ]
    return Reference(assignment_name(path), cells, source_hash(nb))


def from_store(path) -> Reference:
    """Load a published reference written by ``coursekit release``."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CourseError(f"{path}: cannot read the reference ({exc})") from exc
    if data.get("format") != FORMAT:
        raise CourseError(f"{path}: reference format {data.get('format')!r}, expected {FORMAT}")
    cells = [Cell(**c) for c in data["cells"]]
    return Reference(data["name"], cells, data["solution_sha256"])


def load(path) -> Reference:
    """A reference from a solution ``.ipynb`` or a published ``.json``, validated."""
    path = Path(path)
    ref = from_solution(path) if path.suffix == ".ipynb" else from_store(path)
    ref.validate(path)
    return ref


def locate(name: str, root=None) -> Path:
    """Where ``coursekit release`` published the reference of assignment ``name``.

    Looks under ``root`` (default: the current directory, then the checkout that holds
    the installed coursekit package).
    """
    roots = [Path(root)] if root else [Path.cwd(), Path(__file__).resolve().parents[2]]
    roots = list(dict.fromkeys(r.resolve() for r in roots))
    for base in roots:
        candidate = base / STORE / f"{name}.json"
        if candidate.exists():
            return candidate
    raise CourseError(
        f"no published reference for {name!r} in {', '.join(str(r / STORE) for r in roots)}; "
        "pass --reference or run `coursekit release`"
    )
