"""What grading produces: one result per scored part of a check, rolled up per question.

A check cell is scored in *parts*: with ``"points": 3`` the whole cell is one part (all its
lines must match), with ``"points": [2, 1]`` each output line is a part of its own. Every
part is a :class:`CheckResult` holding a :class:`LineResult` per line (expected, got,
whether it matched), its points and status, and a one-line message; exporters (the
text table, ``--json``, ``--csv``, the pytest plugin, feedback or Gradescope writers) read
these objects rather than parse text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class LineResult:
    """One line of a check's expected output against what the check printed there
    (``got`` is ``None`` when the check stopped before printing it)."""

    line: int
    expected: str
    got: str | None
    ok: bool


@dataclass
class CheckResult:
    """One scored part of a check cell.

    ``status``: ``passed``, ``failed`` (the text differs), ``error`` (the check raised,
    e.g. in the student's code), ``timeout``, ``dead`` (the kernel died), ``tampered``,
    ``faked`` (the answer contains the expected text), ``delegated`` (the answer broke the
    assignment's rules) or ``not run``.
    """

    question: str
    cell: int
    part: int
    points: int
    earned: int
    hidden: bool
    status: str
    lines: list[LineResult] = field(default_factory=list)
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class Question:
    """A question's row: points earned and possible, and every failing part's message."""

    id: str
    earned: int
    possible: int
    message: str
    parts: list[CheckResult] = field(default_factory=list)
    manual: bool = False
    """A written answer, graded by a person (``earned`` counts once ``scored``)."""
    scored: bool = True

    @property
    def messages(self) -> list[str]:
        return [m for m in self.message.splitlines() if m]


@dataclass
class Report:
    """The verdict on one submission; ``notes`` says what went wrong outside the checks.

    ``hidden_points``: question -> points of hidden checks that were not run (grading
    against a published reference); the instructor's grade includes them. ``hints_used``:
    question -> the highest graded hint level the student asked for (``coursekit hint``).
    """

    submission: str
    assignment: str
    questions: list[Question]
    notes: list[str] = field(default_factory=list)
    hidden_points: dict[str, int] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    """Answer id -> the submitted code (or, for a written answer, its text; ``""`` for
    none), as graded."""
    answer_questions: dict[str, str] = field(default_factory=dict)
    """Answer id -> the question that grades it."""
    hints_used: dict[str, int] = field(default_factory=dict)  # question -> level

    @property
    def total(self) -> int:
        return sum(q.earned for q in self.questions)

    @property
    def possible(self) -> int:
        return sum(q.possible for q in self.questions)

    @property
    def full_marks(self) -> bool:
        """Every point earned, written answers not yet scored aside."""
        return all(q.earned == q.possible for q in self.questions if q.scored)

    @property
    def unscored(self) -> dict[str, int]:
        """Written answers not scored yet: id -> points."""
        return {q.id: q.possible for q in self.questions if not q.scored}

    def manual_line(self) -> str:
        """``"graded by hand: 3 points (w1 2, w2 1), not yet scored"`` or ``""``."""
        left = self.unscored
        if not left:
            return ""
        each = ", ".join(f"{q} {p}" for q, p in left.items())
        total = sum(left.values())
        return f"graded by hand: {total} point{'s' if total != 1 else ''} ({each}), not yet scored"

    def question(self, qid: str) -> Question:
        return next(q for q in self.questions if q.id == qid)

    def scores(self) -> dict[str, int]:
        return {q.id: q.earned for q in self.questions}

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "total": self.total,
            "possible": self.possible,
            "hidden_possible": sum(self.hidden_points.values()),
        }

    def hidden_line(self) -> str:
        """``"hidden checks hold 4 more points (q1 1, q3 2, q4 1), ..."`` or ``""``."""
        hidden = {q: p for q, p in self.hidden_points.items() if p}
        if not hidden:
            return ""
        each = ", ".join(f"{q} {p}" for q, p in hidden.items())
        total = sum(hidden.values())
        return (
            f"hidden checks hold {total} more point{'s' if total != 1 else ''} ({each}); "
            f"your instructor grades them out of {self.possible + total}"
        )

    def table(self) -> str:
        """Plain text: one row per question (failing lines below it), the total, notes."""
        width = max([len("question")] + [len(q.id) for q in self.questions])
        rows = [f"{self.assignment}: {self.submission}", f"{'question':<{width}}  points  message"]
        for q in self.questions:
            lines = q.messages or ["OK"]
            earned = f"{q.earned:>2}" if q.scored else " -"
            rows.append(f"{q.id:<{width}}  {earned} / {q.possible:<2} {lines[0]}")
            rows += [f"{'':<{width}}          {line}" for line in lines[1:]]
        scope = " (public checks)" if self.hidden_points else ""
        rows.append(f"{'total':<{width}}  {self.total:>2} / {self.possible}{scope}")
        if self.hidden_line():
            rows.append(f"note: {self.hidden_line()}")
        if self.manual_line():
            rows.append(f"note: {self.manual_line()}")
        rows += [f"note: {note}" for note in self.notes]
        return "\n".join(rows)
