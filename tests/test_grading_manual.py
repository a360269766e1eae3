"""Written answers graded by hand: review sheet out, scores in, totals, CSV and feedback
updated (on the toy course: tests/grading_toy.py)."""

from __future__ import annotations

import csv

import nbformat
import pytest

from coursekit import cli
from coursekit.grading import manual, reference
from coursekit.grading.errors import CourseError
from coursekit.grading.notebook import WRITTEN_PLACEHOLDER

from .grading_toy import TOY_OUTPUTS, make_course, submit, toy_solution

QUESTION = "**w1.** Why does Rprop fail with mini-batches?"
MODEL = "It reads only the sign of each gradient entry, and a mini-batch flips it at random."
STUDENT = "The sign of a noisy gradient changes from batch to batch."


def written_solution():
    nb = toy_solution()
    nb.cells.insert(-2, nbformat.v4.new_markdown_cell(QUESTION))
    meta = {"coursekit": {"answer": "w1", "points": 2, "manual": True}}
    nb.cells.insert(-2, nbformat.v4.new_markdown_cell(MODEL, metadata=meta))
    return nb


def write_answer(text):
    def edit(nb):
        cell = next(c for c in nb.cells if c.metadata.get("coursekit", {}).get("manual"))
        cell.source = text

    return edit


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    make_course(root, written_solution(), outputs=TOY_OUTPUTS)
    return root


def test_published_reference_has_the_question_not_the_model_answer(course):
    text = (course / "assignments" / ".reference" / "00_toy.json").read_text()
    assert MODEL not in text and "Why does Rprop fail" in text
    ref = reference.load(course / "assignments" / ".reference" / "00_toy.json")
    assert ref.written == {"w1": {"points": 2, "question": QUESTION}}
    full = reference.load(course / "solutions" / "00_toy.ipynb")
    assert full.written["w1"]["model"] == MODEL


def test_review_sheet_round_trip(course, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(course)
    (tmp_path / "alice").mkdir()
    (tmp_path / "bob").mkdir()
    alice = submit(course, tmp_path / "alice", write_answer(STUDENT))
    bob = submit(course, tmp_path / "bob", start="assignment")  # placeholder left: no answer
    subs = [str(alice), str(bob)]
    review = tmp_path / "review"
    status = cli.main(["grade", "--no-sandbox", "--review", str(review), *subs])
    out = capsys.readouterr().out
    assert status == 1  # bob lost points
    assert "w1         - / 2  graded by hand: 2 points, not yet scored" in out
    assert "graded by hand: 2 points (w1 2), not yet scored" in out
    sheet = review / "00_toy_review.csv"
    rows = list(csv.DictReader(sheet.open()))
    assert [(r["student"], r["question"], r["answer"], r["score"]) for r in rows] == [
        (str(alice), "w1", STUDENT, ""),
        (str(bob), "w1", "", ""),
    ]
    assert rows[0]["question_text"] == QUESTION and rows[0]["points"] == "2"
    page = (review / "00_toy_review.html").read_text()
    assert STUDENT in page and "(no answer)" in page and MODEL not in page  # published ref
    assert WRITTEN_PLACEHOLDER not in page

    rows[0]["score"], rows[0]["comment"] = "1", "the sign, yes; why it matters?"
    rows[1]["score"] = "0"
    with sheet.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, manual.COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    grades, fb = tmp_path / "grades.csv", tmp_path / "feedback"
    argv = ["grade", "--no-sandbox", "--manual-scores", str(sheet), "--csv", str(grades)]
    status = cli.main([*argv, "--feedback", str(fb), *subs])
    assert status == 1
    table = {r["submission"]: r for r in csv.DictReader(grades.open())}
    assert table[str(alice)]["w1"] == "1" and table[str(bob)]["w1"] == "0"
    assert table[str(alice)]["total"] == "7" and table[str(alice)]["possible"] == "8"
    assert table[str(bob)]["total"] == "0" and table[str(bob)]["possible"] == "8"
    page = (fb / "alice__submission.html").read_text()
    assert "graded by hand: 1 / 2: the sign, yes; why it matters?" in page
    assert "Total: 7 / 8" in page and STUDENT in page


def test_review_sheet_with_the_solution_shows_the_model_answer(course, tmp_path):
    from coursekit.grading import grade

    ref = reference.load(course / "solutions" / "00_toy.ipynb")
    report = grade.grade(submit(course, tmp_path, write_answer(STUDENT)), ref, 10.0)
    assert report.full_marks and report.total == 7 and report.possible == 9
    files = manual.write_review([report], tmp_path / "r", {ref.name: ref.written})
    assert MODEL in files[1].read_text()


@pytest.mark.parametrize(
    "score, message",
    [("3", "above its 2 points"), ("-1", "negative"), ("one", "not a whole number")],
)
def test_bad_scores_are_refused_naming_the_row(tmp_path, score, message):
    from coursekit.grading.results import Question, Report

    report = Report("s.ipynb", "00_toy", [Question("w1", 0, 2, "", manual=True, scored=False)])
    sheet = tmp_path / "s.csv"
    sheet.write_text(f"assignment,student,question,score\n00_toy,s.ipynb,w1,{score}\n")
    with pytest.raises(CourseError, match=message):
        manual.apply([report], manual.read_scores(sheet), str(sheet))
    assert not report.questions[0].scored


def test_a_score_for_a_checked_question_is_refused(tmp_path):
    from coursekit.grading.results import Question, Report

    report = Report("s.ipynb", "00_toy", [Question("q1", 2, 2, "OK")])
    sheet = tmp_path / "s.csv"
    sheet.write_text("student,question,score\ns.ipynb,q1,0\n")
    with pytest.raises(CourseError, match="graded by its checks"):
        manual.apply([report], manual.read_scores(sheet), str(sheet))
