"""Grading submissions: answers from the student, everything else from the reference."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import reference as references
from .notebook import Cell, CourseError, normalise, stub
from .runner import Kernel

DEFAULT_TIMEOUT = 30.0


@dataclass
class Question:
    id: str
    earned: int
    possible: int
    message: str


@dataclass
class Report:
    """The verdict on one submission; ``notes`` says what went wrong outside the checks."""

    submission: str
    assignment: str
    questions: list[Question]
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(q.earned for q in self.questions)

    @property
    def possible(self) -> int:
        return sum(q.possible for q in self.questions)

    @property
    def full_marks(self) -> bool:
        return self.total == self.possible

    def as_dict(self) -> dict:
        return {**asdict(self), "total": self.total, "possible": self.possible}

    def table(self) -> str:
        """Plain text: one row per question, then the total and the notes."""
        width = max([len("question")] + [len(q.id) for q in self.questions])
        rows = [f"{self.assignment}: {self.submission}", f"{'question':<{width}}  points  message"]
        for q in self.questions:
            rows.append(f"{q.id:<{width}}  {q.earned:>2} / {q.possible:<2} {q.message}")
        rows.append(f"{'total':<{width}}  {self.total:>2} / {self.possible}")
        rows += [f"note: {note}" for note in self.notes]
        return "\n".join(rows)


def read_submission(path) -> dict:
    """A submission's JSON, read without ever opening it for writing.

    Plain JSON rather than ``nbformat``: a notebook that fails schema validation still
    has answer cells worth grading.
    """
    data = json.loads(Path(path).read_bytes().decode("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ValueError("not a notebook: no list of cells")
    return data


def answers_of(nb: dict, notes: list[str]) -> dict[str, str]:
    """Answer id -> source of the submission's answer cells (the first one of each id)."""
    answers: dict[str, str] = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        role = meta.get("coursekit") if isinstance(meta, dict) else None
        key = role.get("answer") if isinstance(role, dict) else None
        if not isinstance(key, str) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if key in answers:
            notes.append(f"answer {key} appears more than once; the first one was graded")
        else:
            answers[key] = source
    return answers


def assemble(ref: references.Reference, answers: dict[str, str], notes: list[str]) -> list[Cell]:
    """The reference's cells with the submission's answers in place of its answer cells."""
    cells = []
    for cell in ref.cells:
        if cell.kind == "answer" and cell.key in answers:
            cell = Cell("answer", answers[cell.key], cell.key, index=cell.index)
        elif cell.kind == "answer":  # a solution's answer must not stand in for a missing one
            cell = Cell("answer", stub(cell.source), cell.key, index=cell.index)
            notes.append(f"answer cell {cell.key} is missing; its stub was graded")
        cells.append(cell)
    return cells


SUSPICIOUS = re.compile(
    r"get_ipython|sys\.modules|builtins|sys\.std(?:out|err)|excepthook|os\._exit|"
    r"threading|ctypes|\bgc\b|kernel_guard|clear_output|__import__|setattr\("
)


def suspicious(cells: list[Cell]) -> list[str]:
    """Notes for a human: answer cells that reach for the interpreter's machinery."""
    notes = []
    for cell in cells:
        found = sorted(set(SUSPICIOUS.findall(cell.source))) if cell.kind == "answer" else []
        if found:
            notes.append(f"answer {cell.key} uses {', '.join(found)}: review it by hand")
    return notes


def one_line(text: str, limit: int = 200) -> str:
    """An error message on one line, without ANSI codes, at most ``limit`` characters."""
    text = " ".join(normalise(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def faked(check: Cell, cells: list[Cell]) -> str | None:
    """Name the answer cell whose source contains a line of ``check``'s expected output."""
    lines = [line.strip() for line in check.expected.splitlines()]
    lines = [line for line in lines if len(line) >= 10 and any(ch.isalpha() for ch in line)]
    for cell in cells:
        if cell.kind == "answer" and any(line in cell.source for line in lines):
            return f"answer cell {cell.key} contains this check's expected text; not graded"
    return None


def compare(expected: str, got: str) -> str | None:
    """``None`` when equal, else a one-line account of the first differing line."""
    if got == expected:
        return None
    if not got:
        return f"printed nothing; expected `{expected.splitlines()[0]}`"
    want, have = expected.splitlines(), got.splitlines()
    for i in range(max(len(want), len(have))):
        w = want[i] if i < len(want) else "(nothing)"
        h = have[i] if i < len(have) else "(nothing)"
        if w != h:
            where = f"line {i + 1}: " if len(want) > 1 or len(have) > 1 else ""
            return f"{where}expected `{w}`, got `{h}`"
    return "output differs"


def check_verdict(kernel: Kernel, cell: Cell) -> str | None:
    """Run a check between the grader's guard cells; ``None`` when it passes."""
    result = kernel.run_check(cell.source)
    if result.status == "dead":
        return "the kernel died during this check (os._exit or a crash); it was restarted"
    if result.status == "tampered":
        return f"tampering: {result.error}"
    if result.status != "ok":
        return one_line(result.error)
    return compare(cell.expected, result.output)


def run_cells(cells: list[Cell], timeout: float, notes: list[str]) -> dict[int, str | None]:
    """Execute the program; check cell position -> failure message (``None``: passed)."""
    verdicts: dict[int, str | None] = {}
    with Kernel(timeout=timeout) as kernel:
        for i, cell in enumerate(cells):
            if cell.kind == "check":
                verdicts[i] = faked(cell, cells) or check_verdict(kernel, cell)
                continue
            result = (
                kernel.run(cell.source) if cell.kind == "answer" else kernel.run_setup(cell.source)
            )
            if result.status != "ok":
                what = f"answer {cell.key}" if cell.kind == "answer" else f"setup cell {cell.index}"
                died = "the kernel died; it was restarted" if result.status == "dead" else ""
                notes.append(f"{what}: {died or one_line(result.error)}")
    return verdicts


def grade(submission, ref: references.Reference, timeout: float = DEFAULT_TIMEOUT) -> Report:
    """Grade one submission against a loaded reference (see the package docstring)."""
    notes: list[str] = []
    questions = ref.questions
    try:
        nb = read_submission(submission)
    except Exception as exc:  # not a notebook: no points, but the class run goes on
        msg = f"cannot read the submission ({type(exc).__name__})"
        return Report(
            str(submission), ref.name, [Question(q, 0, p, msg) for q, p in questions.items()]
        )
    cells = assemble(ref, answers_of(nb, notes), notes)
    notes += suspicious(cells)
    verdicts = run_cells(cells, timeout, notes)
    earned = dict.fromkeys(questions, 0)
    message: dict[str, str] = {}
    for i, verdict in verdicts.items():
        cell = cells[i]
        if verdict is None:
            earned[cell.key] += cell.points
        else:
            message.setdefault(cell.key, verdict)
    rows = [Question(q, earned[q], p, message.get(q, "OK")) for q, p in questions.items()]
    return Report(str(submission), ref.name, rows, notes)


def reference_for(submission, reference=None) -> Path:
    """The reference to grade ``submission`` against: given, or found by assignment name."""
    if reference:
        return Path(reference)
    try:
        nb = read_submission(submission)
        name = (
            nb.get("metadata", {}).get("coursekit", {}).get("assignment") or Path(submission).stem
        )
    except Exception:
        name = Path(submission).stem
    return references.locate(name)


def grade_path(submission, reference=None, timeout: float = DEFAULT_TIMEOUT) -> Report:
    """Grade one file; picklable entry point for ``-j``."""
    return grade(submission, references.load(reference_for(submission, reference)), timeout)


def grade_many(submissions, reference=None, timeout=DEFAULT_TIMEOUT, jobs=1) -> list[Report]:
    """Grade many submissions, ``jobs`` at a time, each in its own kernel; input order kept."""
    for submission in submissions:  # course errors surface before any kernel starts
        references.load(reference_for(submission, reference))
    if jobs <= 1 or len(submissions) <= 1:
        return [grade_path(s, reference, timeout) for s in submissions]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(grade_path, s, reference, timeout) for s in submissions]
        return [f.result() for f in futures]


def write_csv(reports: list[Report], path) -> None:
    """One row per submission, one column per question, then total, possible and notes."""
    import csv

    ids = list(dict.fromkeys(q.id for r in reports for q in r.questions))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", *ids, "total", "possible", "notes"])
        for r in reports:
            got = {q.id: q.earned for q in r.questions}
            writer.writerow(
                [
                    r.submission,
                    *(got.get(i, "") for i in ids),
                    r.total,
                    r.possible,
                    "; ".join(r.notes),
                ]
            )


def to_json(reports: list[Report]) -> str:
    return json.dumps([r.as_dict() for r in reports], indent=1)


__all__ = ["CourseError", "Report", "Question", "grade", "grade_path", "grade_many", "write_csv"]
