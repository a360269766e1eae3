"""Graded hints: ``coursekit hint NOTEBOOK q1`` shows one level at a time, records it in the
notebook's metadata (cells untouched) and a side file, and the grade reports it.

The toy course gets hints on its answer a1 (three levels) and a2 (two); the released
assignment must carry them (release copies the answer cell's metadata).
"""

from __future__ import annotations

import json

import nbformat
import pytest

from coursekit import cli
from coursekit.grading import grade, hints, reference
from tests.grading_toy import TOY_OUTPUTS, make_course, toy_solution

A1_HINTS = ["what does doubling mean?", "a product with a constant", "nearly: x times a number"]
A2_HINTS = ["the disc's area", "pi times something squared"]


@pytest.fixture
def course(tmp_path):
    nb = toy_solution()
    for cell in nb.cells:
        meta = cell.metadata.get("coursekit", {})
        if meta.get("answer") == "a1":
            meta["hints"] = list(A1_HINTS)
        if meta.get("answer") == "a2":
            meta["hints"] = list(A2_HINTS)
    make_course(tmp_path, nb, outputs=TOY_OUTPUTS)
    return tmp_path


@pytest.fixture
def student(course, tmp_path):
    """The released assignment, as a student's copy in another folder (with some work)."""
    nb = nbformat.read(str(course / "assignments" / "00_toy.ipynb"), as_version=4)
    work = tmp_path / "work"
    work.mkdir()
    nb.cells.append(nbformat.v4.new_markdown_cell("my notes: ünïcode stays"))
    path = work / "00_toy.ipynb"
    nbformat.write(nb, str(path))
    return path


def _cells(path):
    return json.loads(path.read_text())["cells"]


def test_release_keeps_the_hints_in_the_assignment(course):
    nb = json.loads((course / "assignments" / "00_toy.ipynb").read_text())
    assert hints.hints_of(nb) == {"q1": [A1_HINTS], "q2": [A2_HINTS]}


def test_levels_one_at_a_time_recorded_without_touching_cells(student, capsys):
    before = _cells(student)
    for level in (1, 2, 3):
        assert cli.main(["hint", str(student), "q1"]) == 0
        out = capsys.readouterr().out
        assert f"q1, hint {level} of 3:" in out and A1_HINTS[level - 1] in out
        nb = json.loads(student.read_text())
        assert nb["metadata"]["coursekit"]["hints_used"] == {"q1": level}
        assert _cells(student) == before  # the student's work, byte for byte as JSON
    # past the last level: the last one again, said so; the record stays at 3
    assert cli.main(["hint", str(student), "q1"]) == 0
    out = capsys.readouterr().out
    assert A1_HINTS[2] in out and "already shown" in out
    # re-reading a level already seen does not lower the record
    assert cli.main(["hint", str(student), "q1", "--level", "1"]) == 0
    assert A1_HINTS[0] in capsys.readouterr().out
    assert hints.used(json.loads(student.read_text()), student) == {"q1": 3}
    assert nbformat.validate(nbformat.read(str(student), as_version=4)) is None


def test_a_jupyter_save_that_drops_the_record_does_not_reset_the_levels(student, capsys):
    cli.main(["hint", str(student), "q2"])
    nb = json.loads(student.read_text())
    del nb["metadata"]["coursekit"]["hints_used"]  # JupyterLab saved its older copy
    student.write_text(json.dumps(nb))
    assert hints.used(json.loads(student.read_text()), student) == {"q2": 1}
    cli.main(["hint", str(student), "q2"])
    assert "q2, hint 2 of 2:" in capsys.readouterr().out
    assert json.loads(student.read_text())["metadata"]["coursekit"]["hints_used"] == {"q2": 2}


def test_never_overwrites_a_notebook_saved_meanwhile(student, monkeypatch):
    real_read = hints._read
    saved = {"n": 0}

    def read_then_student_saves(path):
        nb, data = real_read(path)
        if not saved["n"]:
            saved["n"] = 1
            path.write_text(path.read_text().replace("my notes", "my newer notes"))
        return nb, data

    monkeypatch.setattr(hints, "_read", read_then_student_saves)
    assert hints.record(student, "q1", 1) is False
    assert "my newer notes" in student.read_text()  # the student's save survived
    assert hints.used(json.loads(student.read_text()), student) == {"q1": 1}  # side file
    assert not list(student.parent.glob("*.tmp"))


def test_clear_errors(student, capsys):
    assert cli.main(["hint", str(student), "q3"]) == 2
    assert "has no hints (questions with hints: q1, q2)" in capsys.readouterr().err
    assert cli.main(["hint", str(student), "q1", "--level", "3"]) == 2
    assert "ask for level 1 first" in capsys.readouterr().err
    assert cli.main(["hint", str(student), "q1", "--level", "4"]) == 2
    assert "levels 1 to 3" in capsys.readouterr().err
    assert cli.main(["hint", str(student.with_name("nope.ipynb")), "q1"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_the_grade_reports_hints_used_without_penalty(course, student):
    hints.show(student, "q1")
    hints.show(student, "q1")
    hints.show(student, "q2")
    # answer everything with the solution's code: full marks despite the hints
    solution = nbformat.read(str(course / "solutions" / "00_toy.ipynb"), as_version=4)
    nb = nbformat.read(str(student), as_version=4)
    answers = {
        c.metadata["coursekit"]["answer"]: c.source
        for c in solution.cells
        if "answer" in c.metadata.get("coursekit", {})
    }
    for cell in nb.cells:
        key = cell.metadata.get("coursekit", {}).get("answer")
        if key:
            cell.source = answers[key]
    nbformat.write(nb, str(student))
    ref = reference.load(course / "assignments" / ".reference" / "00_toy.json")
    report = grade.grade(student, ref, 10.0)
    assert report.full_marks
    assert report.hints_used == {"q1": 2, "q2": 1}
    assert (
        "hints used: q1 level 2 of 3, q2 level 1 of 2 (reported, not penalised)" in report.table()
    )
    assert report.as_dict()["hints_used"] == {"q1": 2, "q2": 1}
