"""Bad input gets one clear line and the right exit code; a class run grades the rest.

Each bad file of the issue (missing, empty, not JSON, not a notebook, nbformat too old, a
directory, binary, an answer cell turned into markdown, another assignment's notebook)
is graded with and without ``--reference``, alone and in a class run with ``-j 2 --csv``.
The toy course is published without running it (its outputs are known), so most of these
tests start no kernel.
"""

from __future__ import annotations

import csv
import json
import re

import nbformat
import pytest

from coursekit import cli
from coursekit.grading import grade, reference
from tests.grading_toy import TOY_OUTPUTS, make_course, submit

BAD_FILES = {
    "missing": (None, r"no such file"),
    "empty": (b"", r"the file is empty \(0 bytes\)"),
    "blank": (b"  \n", r"the file is empty"),
    "not-json": (b'{"cells": [}', r"not valid JSON \(line 1, column 12: Expecting value\)"),
    "truncated": (b'{\n "cells": [\n  {"cell_type": "code",', r"not valid JSON \(line 3, column"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\xff", r"not a text file"),
    "json-list": (b"[1, 2, 3]", r"JSON, but not a Jupyter notebook"),
    "no-cells": (b'{"metadata": {}, "nbformat": 4}', r"JSON, but not a Jupyter notebook"),
    "nbformat-3": (
        b'{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}',
        r"notebook format 3 is too old",
    ),
    "directory": ("dir", r"a directory, not a notebook"),
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    make_course(root, outputs=TOY_OUTPUTS)
    return root


def bad_file(tmp_path, kind):
    content, _ = BAD_FILES[kind]
    path = tmp_path / "00_toy.ipynb"  # named like the assignment: must not be graded 0
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("kind", BAD_FILES)
@pytest.mark.parametrize("with_reference", [False, True], ids=["published", "--reference"])
def test_bad_file_one_clear_line_and_exit_2(
    course, tmp_path, monkeypatch, capsys, kind, with_reference
):
    monkeypatch.chdir(course)
    path = bad_file(tmp_path, kind)
    args = ["grade", str(path)]
    if with_reference:
        args += ["--reference", str(course / "assignments" / ".reference" / "00_toy.json")]
    assert cli.main(args) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    assert re.search(BAD_FILES[kind][1], lines[0]), lines[0]
    assert "release" not in lines[0] and "reference" not in lines[0]
    assert out == ""


def test_unreadable_submission_raises_before_any_kernel(course, tmp_path):
    path = bad_file(tmp_path, "not-json")
    ref = reference.load(course / "assignments" / ".reference" / "00_toy.json")
    with pytest.raises(grade.SubmissionError, match=r"not valid JSON \(line 1, column 12"):
        grade.grade(path, ref)


def test_notebook_of_another_assignment_is_refused(course, tmp_path, capsys):
    def other(nb):
        nb.metadata["coursekit"] = {"assignment": "01_backprop_numpy"}

    path = submit(course, tmp_path, other)
    ref = str(course / "assignments" / ".reference" / "00_toy.json")
    assert cli.main(["grade", "--reference", ref, str(path)]) == 2
    err = capsys.readouterr().err
    assert "a notebook of assignment '01_backprop_numpy', not '00_toy'" in err


def test_notebook_that_does_not_say_which_assignment(course, tmp_path, monkeypatch, capsys):
    def anonymous(nb):
        nb.metadata.pop("coursekit", None)

    path = submit(course, tmp_path, anonymous).rename(tmp_path / "my_work.ipynb")
    monkeypatch.chdir(course)
    assert cli.main(["grade", str(path)]) == 2
    assert "cannot tell which assignment this is" in capsys.readouterr().err


def test_answer_cell_turned_into_markdown(course, tmp_path, capsys):
    def markdown(nb):
        cell = next(c for c in nb.cells if c.metadata.get("coursekit", {}).get("answer") == "a2")
        cell.cell_type = "markdown"
        del cell["outputs"], cell["execution_count"]

    path = submit(course, tmp_path, markdown)
    ref = str(course / "assignments" / ".reference" / "00_toy.json")
    assert cli.main(["grade", "--json", "--reference", ref, str(path)]) == 1
    data = json.loads(capsys.readouterr().out)[0]
    scores = {q["id"]: q["earned"] for q in data["questions"]}
    assert scores == {"q1": 2, "q2": 0, "q3": 1}
    why = "answer cell a2 is a markdown cell, not code: change it back to a Code cell"
    assert why in data["questions"][1]["message"]
    assert any(why in note for note in data["notes"])


def test_class_run_grades_the_rest_and_lists_the_failures(course, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(course)
    good = submit(course, tmp_path).rename(tmp_path / "good.ipynb")
    empty = tmp_path / "empty.ipynb"
    empty.write_text("")
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    missing = tmp_path / "missing.ipynb"

    def other(nb):
        nb.metadata["coursekit"] = {"assignment": "01_backprop_numpy"}

    ref = str(course / "assignments" / ".reference" / "00_toy.json")
    wrong = submit(course, tmp_path, other).rename(tmp_path / "wrong.ipynb")
    table = tmp_path / "grades.csv"
    files = [good, empty, broken, missing]
    assert cli.main(["grade", "-j", "2", "--csv", str(table), *map(str, files)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("coursekit grade: ") for line in err)
    rows = list(csv.reader(table.open()))
    assert rows[0] == ["submission", "q1", "q2", "q3", "total", "possible", "notes"]
    assert rows[1][:6] == [str(good), "2", "3", "1", "6", "6"]
    for row, path, why in zip(
        rows[2:], files[1:], ["the file is empty", "not valid JSON", "no such file"], strict=True
    ):
        assert row[0] == str(path) and row[1:6] == ["", "", "", "", ""], row
        assert row[6].startswith("NOT GRADED: ") and why in row[6]
    # with --reference, another assignment's notebook is a failure of its own row
    assert cli.main(["grade", "--reference", ref, "--csv", str(table), str(wrong), str(empty)]) == 2
    rows = list(csv.reader(table.open()))
    assert "a notebook of assignment '01_backprop_numpy'" in rows[1][-1]


def test_json_lists_failures_with_their_reason(course, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(course)
    missing = tmp_path / "gone.ipynb"
    assert cli.main(["grade", "--json", str(missing)]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data == [{"submission": str(missing), "error": f"{missing}: no such file"}]


def test_stale_solution_as_reference_warns(course, tmp_path, capsys):
    nb = nbformat.read(str(course / "solutions" / "00_toy.ipynb"), as_version=4)
    nb.cells[3].source += "\n# edited after the release"
    edited = tmp_path / "00_toy.ipynb"
    nbformat.write(nb, str(edited))
    assert any("changed since its last release" in w for w in reference.load(edited).warnings)
    assert cli.main(["grade", "--reference", str(edited), str(tmp_path / "none.ipynb")]) == 2
    err = capsys.readouterr().err
    assert "warning: " in err and "run `coursekit release" in err
