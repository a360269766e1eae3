"""pytest plugin: an assignment notebook is graded by the grader, one test per question.

``python3 -m pytest assignments/02_optimisers.ipynb`` (or any notebook whose metadata
names an assignment, e.g. a student's copy) collects one item per question of the
published reference, ``assignments/02_optimisers.ipynb::q3``. The notebook is graded once,
exactly as ``coursekit grade`` grades it (the reference's checks and expected outputs,
the student's answer cells only, in a fresh kernel), and each item passes iff its
question earned full marks; a failure shows every failing line. The outputs saved in the
notebook are never compared with anything, so a saved run cannot pass a wrong answer.

For these files the plugin takes precedence over nbval: with ``--nbval`` or
``--nbval-lax`` (the course's ``addopts`` holds the latter), nbval's own collector for an
assignment notebook is dropped, so the two can never disagree. Lecture notebooks are left
to nbval. The terminal summary gives the points and how many the hidden checks hold.

Registered as the ``pytest11`` entry point ``coursekit.grading.pytest_plugin``; without an
installed entry point, ``-p coursekit.grading.pytest_plugin`` loads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PROPERTY = "coursekit"


def assignment_name(path: Path) -> str | None:
    """The assignment a notebook belongs to (its metadata), ``None`` for other notebooks.

    A notebook under an ``assignments`` folder that cannot be read still counts (by its
    file name), so that the grader reports what is wrong with it.
    """
    if path.suffix != ".ipynb":
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        meta = data.get("metadata", {}).get("coursekit", {})
        name = meta.get("assignment") if isinstance(meta, dict) else None
    except (OSError, ValueError, AttributeError):
        name = None
    if isinstance(name, str) and name:
        return name
    return path.stem if path.parent.name == "assignments" else None


def pytest_addoption(parser):
    group = parser.getgroup("coursekit", "coursekit assignments")
    group.addoption(
        "--coursekit-timeout",
        type=float,
        default=30.0,
        help="seconds per cell when grading an assignment notebook (default 30)",
    )
    group.addoption(
        "--coursekit-reference",
        default=None,
        help="reference to grade assignment notebooks against (default: the published one)",
    )


def pytest_report_header(config):
    option = config.option
    if getattr(option, "nbval", False) and getattr(option, "nbval_lax", False):
        return (
            "nbval: both --nbval and --nbval-lax are set (the course's addopts hold "
            "--nbval-lax), so nbval runs lax; assignment notebooks are graded by coursekit"
        )
    return None


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent):
    collected = yield
    if assignment_name(Path(file_path)) is None:
        return collected
    return [AssignmentFile.from_parent(parent, path=Path(file_path))]


class GradeFailure(Exception):
    """A question that lost points: the message is what the grader says."""


class AssignmentFile(pytest.File):
    """An assignment notebook: one item per question, all graded in one run."""

    _report = None

    def collect(self):
        from . import grade, reference
        from .errors import CourseError

        try:
            self.ref = reference.load(
                grade.reference_for(self.path, self.config.getoption("coursekit_reference"))
            )
        except (CourseError, grade.SubmissionError) as exc:
            yield QuestionItem.from_parent(self, name="grading", error=str(exc))
            return
        for question in self.ref.questions:
            yield QuestionItem.from_parent(self, name=question)

    def report(self):
        """The grader's report on this notebook (graded on first use), or why it is not."""
        if self._report is None:
            from . import grade

            try:
                timeout = self.config.getoption("coursekit_timeout")
                self._report = grade.grade(self.path, self.ref, timeout)
            except grade.SubmissionError as exc:
                self._report = str(exc)
        return self._report


class QuestionItem(pytest.Item):
    """One question of an assignment notebook: passes iff it earned full marks."""

    def __init__(self, *, error: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def runtest(self):
        if self.error:
            raise GradeFailure(self.error)
        report = self.parent.report()
        if isinstance(report, str):
            raise GradeFailure(report)
        q = report.question(self.name)
        first = q.id == report.questions[0].id
        self.user_properties.append(
            (
                PROPERTY,
                json.dumps(
                    {
                        "notebook": str(self.path),
                        "assignment": report.assignment,
                        "question": q.id,
                        "earned": q.earned,
                        "possible": q.possible,
                        "hidden": report.hidden_points.get(q.id, 0),
                        "notes": report.notes if first else [],
                    }
                ),
            )
        )
        if q.earned < q.possible:
            raise GradeFailure(f"{q.id}: {q.earned} / {q.possible} points\n{q.message}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, GradeFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}::{self.name}"


def pytest_terminal_summary(terminalreporter):
    totals: dict[str, dict] = {}
    for reports in terminalreporter.stats.values():
        for rep in reports:
            if getattr(rep, "when", None) != "call":
                continue
            for key, value in getattr(rep, "user_properties", []):
                if key != PROPERTY:
                    continue
                row = json.loads(value)
                total = totals.setdefault(
                    row["notebook"], {"earned": 0, "possible": 0, "hidden": 0, "notes": []}
                )
                for k in ("earned", "possible", "hidden"):
                    total[k] += row[k]
                total["notes"] += row["notes"]
    if not totals:
        return
    terminalreporter.section("coursekit grades")
    for notebook, t in sorted(totals.items()):
        line = f"{notebook}: {t['earned']} / {t['possible']} points"
        if t["hidden"]:
            line += (
                f" (public checks); hidden checks hold {t['hidden']} more, graded by your "
                "instructor"
            )
        terminalreporter.write_line(line)
        for note in t["notes"]:
            terminalreporter.write_line(f"  note: {note}")
