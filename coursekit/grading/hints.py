r"""Graded hints: ``coursekit hint NOTEBOOK q3`` shows the next hint of a question, and the
grade reports which hints were used.

Where hints come from
=====================

An answer code cell of a solution may carry hints, most general first::

    {"coursekit": {"answer": "a3", "hints": ["a nudge", "more concrete", "nearly the method"]}}

``coursekit release`` copies that metadata into the released assignment. A hint names the
idea and never the formula (``tests/test_dictation.py`` fails when an answer line shows up
in one). A question's level ``k`` shows the ``k``-th hint of each of its answer cells that
has one (q2 may have several answer cells, each with its own list).

Where the record lives
======================

Each time a level is shown the command records it in two places:

* the notebook's own metadata, ``metadata.coursekit.hints_used = {"q3": 2}`` (the highest
  level shown per question). Only that key is changed: the file is read as JSON, the
  cells are written back exactly as read (never re-formatted cell by cell, never
  executed), to a temporary file that replaces the notebook atomically, and only if the
  notebook did not change on disk in between. The submitted notebook thus carries its own
  record to the grader;
* a side file next to the notebook, ``.NN_name.ipynb.hints.json``, appended to (one line
  of JSON per hint shown, with the time), so that a JupyterLab save that overwrites the
  notebook's metadata with the copy held in the browser does not make the command show
  level 1 again.

The record can be lost (a save from an open browser tab, a student who deletes the key):
the grade may under-report hints, never over-report them, and never loses the student's
work. Hints are *reported*, not penalised: ``coursekit grade`` adds a note "hints used:
q2 level 2 of 3, q5 level 1 of 2 (not penalised)" and ``Report.hints_used``; an instructor
who wants a cost can read that column of ``--json``/``--csv`` (notes) and apply it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from .errors import CourseError

__all__ = ["hints_of", "used", "record", "show", "side_file"]

KEY = "hints_used"


def _read(path: Path) -> tuple[dict, bytes]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CourseError(f"{path}: cannot read the notebook ({exc.strerror})") from None
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CourseError(f"{path}: not a notebook (invalid JSON: {exc})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise CourseError(f"{path}: JSON, but not a Jupyter notebook (no list of cells)")
    return nb, data


def _meta(cell) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    role = meta.get("coursekit") if isinstance(meta, dict) else None
    return role if isinstance(role, dict) else {}


def _question_of(meta: dict) -> str | None:
    key = meta.get("answer")
    if not isinstance(key, str) or meta.get("manual"):
        return None
    question = meta.get("question")
    if isinstance(question, str) and question:
        return question
    return "q" + key[1:] if key.startswith("a") else key


def hints_of(nb: dict) -> dict[str, list[list[str]]]:
    """Question -> one list of hints per answer cell of that question that has hints."""
    found: dict[str, list[list[str]]] = {}
    for cell in nb.get("cells", []):
        meta = _meta(cell)
        question, hints = _question_of(meta), meta.get("hints")
        if question and isinstance(hints, list) and hints:
            found.setdefault(question, []).append([str(h) for h in hints])
    return found


def side_file(notebook) -> Path:
    """The side record of ``notebook``: ``.NAME.ipynb.hints.json`` in the same folder."""
    notebook = Path(notebook)
    return notebook.with_name(f".{notebook.name}.hints.json")


def _from_side(notebook) -> dict[str, int]:
    levels: dict[str, int] = {}
    try:
        lines = side_file(notebook).read_text().splitlines()
    except OSError:
        return levels
    for line in lines:
        try:
            entry = json.loads(line)
            q, level = str(entry["question"]), int(entry["level"])
        except (ValueError, KeyError, TypeError):
            continue
        levels[q] = max(levels.get(q, 0), level)
    return levels


def _from_meta(nb: dict) -> dict[str, int]:
    meta = nb.get("metadata")
    role = meta.get("coursekit") if isinstance(meta, dict) else None
    record = role.get(KEY) if isinstance(role, dict) else None
    if not isinstance(record, dict):
        return {}
    out = {}
    for q, level in record.items():
        if isinstance(level, int) and not isinstance(level, bool) and level > 0:
            out[str(q)] = level
    return out


def used(nb: dict, notebook=None) -> dict[str, int]:
    """Question -> highest hint level shown, from the notebook's metadata and (when the
    notebook's path is given) its side file; questions without hints are left out."""
    levels = _from_meta(nb)
    if notebook is not None:
        for q, level in _from_side(notebook).items():
            levels[q] = max(levels.get(q, 0), level)
    return dict(sorted(levels.items()))


def describe(levels: dict[str, int], nb: dict | None = None) -> str:
    """``"q2 level 2 of 3, q5 level 1 of 2"`` (``of N`` when the notebook says)."""
    available = hints_of(nb) if nb is not None else {}
    parts = []
    for q, level in levels.items():
        most = max((len(h) for h in available.get(q, [])), default=0)
        parts.append(f"{q} level {level}" + (f" of {most}" if most else ""))
    return ", ".join(parts)


def record(notebook, question: str, level: int) -> bool:
    """Write ``level`` for ``question`` into the side file and the notebook's metadata.

    The notebook is rewritten only if its record would change, atomically, and only if
    its bytes are still those read (else it is left alone: the side file has the record).
    Returns whether the notebook itself now holds the record.
    """
    notebook = Path(notebook)
    entry = {"question": question, "level": level, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        with open(side_file(notebook), "a") as handle:
            handle.write(json.dumps(entry) + "\n")
    except OSError:
        pass  # a read-only folder: the notebook's metadata still gets it
    nb, before = _read(notebook)
    if _from_meta(nb).get(question, 0) >= level:
        return True
    meta = nb.setdefault("metadata", {})
    if not isinstance(meta, dict):
        return False
    role = meta.setdefault("coursekit", {})
    if not isinstance(role, dict):
        return False
    store = role.get(KEY)
    role[KEY] = {**(store if isinstance(store, dict) else {}), question: level}
    # Jupyter's own layout (nbformat.writes): the cells come back as they were read
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{notebook.name}.", suffix=".tmp", dir=notebook.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if notebook.read_bytes() != before:  # saved meanwhile: never overwrite the student's work
            os.unlink(tmp)
            return False
        try:
            os.chmod(tmp, notebook.stat().st_mode & 0o777)
        except OSError:
            pass
        os.replace(tmp, notebook)
    except OSError:
        if os.path.exists(tmp):
            os.unlink(tmp)
        return False
    return True


def show(notebook, question: str, level: int | None = None) -> str:
    """The text of a hint level of ``question`` (the next one when ``level`` is None),
    recorded as used. Raises ``CourseError`` for an unknown question or level."""
    notebook = Path(notebook)
    if not notebook.exists():
        raise CourseError(f"{notebook}: no such file")
    nb, _ = _read(notebook)
    available = hints_of(nb)
    if question not in available:
        have = ", ".join(sorted(available)) or "none"
        raise CourseError(
            f"{notebook}: question {question!r} has no hints (questions with hints: {have})"
        )
    most = max(len(h) for h in available[question])
    seen = used(nb, notebook).get(question, 0)
    if level is None:
        if seen >= most:
            level, note = most, f"(all {most} hints of {question} already shown; this is the last)"
        else:
            level, note = seen + 1, ""
    else:
        if not 1 <= level <= most:
            raise CourseError(f"{question} has hint levels 1 to {most}, not {level}")
        if level > seen + 1:
            raise CourseError(
                f"{question}: you have seen {seen} hint level(s); ask for level {seen + 1} first"
            )
        note = ""
    texts = [h[level - 1] for h in available[question] if len(h) >= level]
    in_notebook = record(notebook, question, max(level, seen))
    lines = [f"{question}, hint {level} of {most}:"]
    lines += [f"  {t}" for t in texts]
    if note:
        lines.append(note)
    if level < most:
        lines.append(f"(next: coursekit hint {notebook} {question})")
    lines.append(
        "Hints used are reported with your grade, not penalised. If Jupyter then says the "
        "file changed on disk, choose Overwrite: your work stays, only this record goes."
        + (
            ""
            if in_notebook
            else " (The notebook changed while this ran, so the record went to "
            f"{side_file(notebook).name}; save and run the command again to put it in.)"
        )
    )
    return "\n".join(lines)
