"""Feedback files: one self-contained HTML per submission, no hidden check leaked."""

from __future__ import annotations

import re

import pytest

from coursekit.grading import feedback, grade, reference

from .grading_toy import Q2_HIDDEN, TOY_OUTPUTS, answer, make_course, submit

WRONG_AREA = "def area(r):\n    return math.pi * r  # forgot the square\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Two submissions graded against the solution (hidden checks included): one right,
    one whose area passes the public check (r = 1) and fails the hidden one (r = 2)."""
    root = tmp_path_factory.mktemp("course")
    solution = make_course(root, outputs=TOY_OUTPUTS)
    ref = reference.load(solution)
    (root / "s" / "ann").mkdir(parents=True)
    (root / "s" / "ben").mkdir(parents=True)
    right = submit(root, root / "s" / "ann", start="assignment", edit=_answers(full=True))
    wrong = submit(root, root / "s" / "ben", start="assignment", edit=_answers(full=False))
    reports = [grade.grade(p, ref, 10.0) for p in (right, wrong)]
    files = feedback.write(reports, root / "feedback", [str(right), str(wrong)])
    return reports, files


def _answers(full):
    def edit(nb):
        answer(nb, "a1", "def double(x):\n    return x + x\n")
        answer(nb, "a2", "def area(r):\n    return math.pi * r**2\n" if full else WRONG_AREA)

    return edit


def test_one_file_per_submission_named_apart(graded):
    reports, files = graded
    assert [f.name for f in files] == ["ann__submission.html", "ben__submission.html"]
    assert reports[1].question("q2").earned == 3 and reports[1].question("q2").possible == 4


def test_feedback_is_self_contained_and_says_what_came(graded):
    _, files = graded
    page = files[1].read_text()
    assert not re.search(r"<(script|link|img)\b|src=|href=['\"]?http", page)
    assert "Total: 5 / 7" in page
    assert "q2 area(1) = 3.1416" in page  # a public check: expected and printed
    assert "forgot the square" in page  # the student's own code
    assert "hidden check: failed, 0 / 1 point(s)" in page
    assert "NotImplementedError: write your answer here" in page  # q3 left as the stub


def test_feedback_leaks_no_hidden_check(graded):
    reports, files = graded
    hidden_out = TOY_OUTPUTS[Q2_HIDDEN]  # "q2 area(2) = 12.5664"
    wrong_got = "q2 area(2) = 6.2832"  # what the hidden check printed for ben
    assert any(wrong_got in p.message for p in reports[1].question("q2").parts)  # in the report
    for path in files:
        page = path.read_text()
        assert Q2_HIDDEN not in page and "area(2)" not in page
        assert hidden_out not in page and "12.5664" not in page and "6.2832" not in page
    assert "hidden check: passed, 1 / 1 point(s)" in files[0].read_text()
