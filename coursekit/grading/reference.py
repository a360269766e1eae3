"""The instructor's copy a submission is graded against: a solution or a published store.

A published reference (``assignments/.reference/NN_name.json``, written by ``coursekit
release``) holds, in notebook order, every code cell of the assignment: setup code, the
answer stubs and the public checks with their reference outputs, plus the sha256 of the
solution it came from, the assignment's rules and how many points its hidden checks hold
(their code and outputs stay out). A solution notebook used with ``--reference`` gives
the same with the solutions in place of the stubs and the hidden checks included.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .notebook import (
    Cell,
    CourseError,
    assignment_name,
    cells_of,
    notebook_rules,
    read,
    role,
    source_hash,
    stub,
    top_level_names,
    used_names,
    written_answers,
)

FORMAT = 2
STORE = Path("assignments") / ".reference"


@dataclass
class Reference:
    """Code cells in order (answers as stubs or solutions), the checks' expected text.

    ``rules``: the assignment's (notebook metadata); ``hidden_points``: question -> points
    of hidden checks that are *not* among ``cells`` (a published reference);
    ``solutions``: the answer cells hold the instructor's answers (a solution notebook), so
    that a check needing an earlier answer can be rerun with it; ``warnings``: e.g. a
    solution edited since its release.
    """

    name: str
    cells: list[Cell]
    solution_hash: str
    rules: dict = field(default_factory=dict)
    hidden_points: dict[str, int] = field(default_factory=dict)
    solutions: bool = False
    warnings: list[str] = field(default_factory=list)
    written: dict[str, dict] = field(default_factory=dict)
    """Written (hand-graded) answers: id -> ``{"points": N, "question": text}`` (the
    markdown cell before the answer cell), and ``"model"`` (the model answer) only when
    read from a solution. Never the model answer in a published reference."""

    @property
    def questions(self) -> dict[str, int]:
        """Question id -> points possible (of the checks in this reference), notebook order."""
        points: dict[str, int] = {}
        for cell in self.cells:
            if cell.kind == "check":
                points[cell.key] = points.get(cell.key, 0) + cell.total
        return points

    @property
    def public_points(self) -> dict[str, int]:
        points = {q: 0 for q in self.questions}
        for cell in self.cells:
            if cell.kind == "check" and not cell.hidden:
                points[cell.key] += cell.total
        return points

    @property
    def hidden_in_cells(self) -> dict[str, int]:
        """Question -> points of the hidden checks among ``cells`` (a solution)."""
        points: dict[str, int] = {}
        for cell in self.cells:
            if cell.kind == "check" and cell.hidden:
                points[cell.key] = points.get(cell.key, 0) + cell.total
        return points

    def answers(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "answer"]

    def question_of(self, answer: str) -> str | None:
        """The question that grades an answer: its ``question`` metadata, else ``qN`` for
        ``aN``, else the first question whose checks use a name the answer defines."""
        cell = next((c for c in self.cells if c.kind == "answer" and c.key == answer), None)
        if cell is not None and cell.question:
            return cell.question
        digits = re.sub(r"^\D+", "", answer)
        if f"q{digits}" in self.questions:
            return f"q{digits}"
        names = set(top_level_names(cell.source)) if cell else set()
        for check in self.cells:
            if check.kind == "check" and names & used_names(check.source):
                return check.key
        return None

    def rules_for(self, answer: str) -> dict:
        """The assignment's rules with the answer cell's own added."""
        cell = next((c for c in self.cells if c.kind == "answer" and c.key == answer), None)
        own = (cell.rules if cell else None) or {}
        return {
            k: list(dict.fromkeys(self.rules.get(k, []) + own.get(k, [])))
            for k in ("forbid", "allow")
        }

    def kernel_config(self) -> dict:
        """What the grading kernel's guard needs: rules, questions and API names per answer."""
        answers = self.answers()
        trusted = [c.source for c in self.cells if c.kind != "answer"]
        return {
            "rules": {c.key: self.rules_for(c.key) for c in answers},
            "questions": {c.key: self.question_of(c.key) for c in answers},
            "api": {c.key: top_level_names(c.source) for c in answers},
            "preload": sorted(set().union(set(), *(imported_modules(s) for s in trusted))),
        }

    def validate(self, origin) -> None:
        """A check with no reference output is the course's error: refuse to grade."""
        for cell in self.cells:
            if cell.kind == "check" and not cell.expected:
                raise CourseError(
                    f"{origin}: check {cell.key!r} (cell {cell.index}) has no reference "
                    "output; run `coursekit release` on its solution"
                )
            if cell.kind == "check" and isinstance(cell.points, list) and cell.expected:
                if len(cell.points) != len(cell.expected.splitlines()):
                    raise CourseError(
                        f"{origin}: check {cell.key!r} (cell {cell.index}) has "
                        f"{len(cell.points)} per-line points for "
                        f"{len(cell.expected.splitlines())} output lines"
                    )

    def to_json(self) -> str:
        cells = [
            {
                k: v
                for k, v in asdict(c).items()
                if k != "meta" and v not in (None, False, {}) and not (k == "key" and not v)
            }
            for c in self.cells
        ]
        data = {
            "format": FORMAT,
            "name": self.name,
            "solution_sha256": self.solution_hash,
            "rules": self.rules,
            "hidden_points": self.hidden_points,
        }
        if self.written:  # never the model answer
            data["written"] = {
                k: {"points": w["points"], "question": w["question"]}
                for k, w in self.written.items()
            }
        return json.dumps({**data, "cells": cells}, indent=1, sort_keys=True) + "\n"


def imported_modules(source: str) -> set[str]:
    """Absolute modules a cell imports anywhere (the grader imports those of setup and check
    cells before any answer runs, so that an answer cannot patch them first)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def from_solution(path, public_only=False, stubs=False) -> Reference:
    """The reference a solution notebook defines (hidden checks unless ``public_only``)."""
    nb = read(path)
    every = cells_of(nb, path)
    cells = [c for c in every if not (public_only and c.hidden)]
    hidden: dict[str, int] = {}
    if public_only:
        for c in every:
            if c.kind == "check" and c.hidden:
                hidden[c.key] = hidden.get(c.key, 0) + c.total
    if stubs:
        cells = [
            Cell(
                c.kind,
                stub(c.source),
                c.key,
                index=c.index,
                question=c.question,
                rules=c.rules,
            )
            if c.kind == "answer"
            else c
            for c in cells
        ]
    ref = Reference(
        assignment_name(path),
        cells,
        source_hash(nb),
        rules=notebook_rules(nb, path),
        hidden_points=hidden,
        solutions=not stubs,
        written=written_of(nb, path, model=not stubs),
    )
    released = nb.metadata.get("coursekit", {}).get("released_sha256")
    if not stubs and released and released != ref.solution_hash:
        ref.warnings.append(
            f"{path} changed since its last release: its stored check outputs may not match "
            f"its checks; run `coursekit release {path}`"
        )
    return ref


def written_of(nb, path="notebook", model=False) -> dict[str, dict]:
    """Written answers of a notebook: id -> points, the question (the markdown cell before
    the answer cell) and, with ``model``, the answer cell's text (the model answer)."""
    points = written_answers(nb, path)
    found: dict[str, dict] = {}
    previous = ""
    for cell in nb.cells:
        key = role(cell).get("answer") if cell.cell_type == "markdown" else None
        if key in points and role(cell).get("manual") is True:
            found[key] = {"points": points[key], "question": previous.strip()}
            if model:
                found[key]["model"] = cell.source.strip()
        if cell.cell_type == "markdown":
            previous = cell.source
    return found


def from_store(path) -> Reference:
    """Load a published reference written by ``coursekit release``."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CourseError(f"{path}: cannot read the reference ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise CourseError(
            f"{path}: reference format {found!r}, expected {FORMAT}; run `coursekit release`"
        )
    cells = [Cell(**c) for c in data["cells"]]
    return Reference(
        data["name"],
        cells,
        data["solution_sha256"],
        rules=data.get("rules", {}),
        hidden_points=data.get("hidden_points", {}),
        written=data.get("written", {}),
    )


def load(path) -> Reference:
    """A reference from a solution ``.ipynb`` or a published ``.json``, validated."""
    path = Path(path)
    if not path.exists():
        raise CourseError(f"{path}: no such reference file")
    ref = from_solution(path) if path.suffix == ".ipynb" else from_store(path)
    ref.validate(path)
    return ref


def roots(root=None) -> list[Path]:
    """Where to look for published references: ``root``, or the current directory and the
    checkout that holds the installed coursekit package."""
    found = [Path(root)] if root else [Path.cwd(), Path(__file__).resolve().parents[2]]
    return list(dict.fromkeys(r.resolve() for r in found))


def locate(name: str, root=None) -> Path:
    """Where ``coursekit release`` published the reference of assignment ``name``."""
    for base in roots(root):
        candidate = base / STORE / f"{name}.json"
        if candidate.exists():
            return candidate
    raise CourseError(
        f"no published reference for assignment {name!r} "
        f"(looked in {', '.join(str(r / STORE) for r in roots(root))}); pass --reference "
        "with the assignment's reference, or ask your instructor"
    )


def known(root=None) -> list[str]:
    """Names of the assignments with a published reference."""
    return sorted({p.stem for base in roots(root) for p in (base / STORE).glob("*.json")})
