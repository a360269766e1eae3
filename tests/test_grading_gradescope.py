"""The Gradescope autograder zip, run on local folders laid out like ``/autograder``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest

from coursekit import cli
from coursekit.grading import dictation, gradescope, reference
from coursekit.grading.notebook import BEGIN, END, HINT

from .grading_toy import SOLUTIONS, TOY_OUTPUTS, answer, make_course, submit, toy_solution

MODEL = "Rprop reads the sign only; a mini-batch flips it."
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def solution_with_written():
    nb = toy_solution()
    nb.cells.insert(-2, nbformat.v4.new_markdown_cell("**w1.** Why does Rprop fail?"))
    meta = {"coursekit": {"answer": "w1", "points": 2, "manual": True}}
    nb.cells.insert(-2, nbformat.v4.new_markdown_cell(MODEL, metadata=meta))
    return nb


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    solution = make_course(course, solution_with_written(), outputs=TOY_OUTPUTS)
    out = cli.main(["gradescope", str(solution), "-o", str(course / "auto.zip")])
    assert out == 0
    return course, solution, course / "auto.zip"


def solution_lines(solution) -> list[str]:
    """Every line of answer code between the solution markers."""
    lines, inside = [], False
    for cell in nbformat.read(str(solution), as_version=4).cells:
        for line in cell.source.splitlines():
            if line.strip() == BEGIN:
                inside = True
            elif line.strip() == END:
                inside = False
            elif inside and line.strip() and not line.strip().startswith(HINT):
                lines.append(line.strip())
    return lines


def test_zip_holds_the_autograder_and_no_answer_code(built):
    _, solution, zip_path = built
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        assert {"setup.sh", "run_autograder", "reference.json"} <= set(names)
        assert "course/pyproject.toml" in names and "course/coursekit/grading/grade.py" in names
        assert not any(n.startswith(("course/solutions", "course/assignments")) for n in names)
        assert zf.getinfo("run_autograder").external_attr >> 16 & 0o111
        texts = {n: zf.read(n).decode("utf-8", errors="replace") for n in names}
    lines = solution_lines(solution)
    assert lines == ["return 2 * x", "return math.pi * r**2", 'return "done"']
    leaks = [(n, line) for n, text in texts.items() for line in lines + [MODEL] if line in text]
    assert leaks == []
    ref = json.loads(texts["reference.json"])
    assert any(c.get("hidden") for c in ref["cells"])  # hidden checks are graded there


def autograder(tmp_path, zip_path, notebook=None, script=False):
    """A fresh /autograder-like folder (a new container per run) with one submission,
    graded by the zip's ``run_autograder`` (``script``) or in this process (faster)."""
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    if notebook is not None:
        shutil.copy(notebook, root / "submission" / "00_toy.ipynb")
    if script:
        env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
        command = ["bash", str(root / "source" / "run_autograder")]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    else:
        gradescope.run(root, root / "source" / "reference.json", "00_toy", 10.0, False)
    assert not (root / "source" / "reference.json").exists()  # forgotten before student code
    return json.loads((root / "results" / "results.json").read_text())


def conforms(results: dict) -> None:
    """The fields of Gradescope's autograder specification, with their types."""
    assert isinstance(results["score"], int | float)
    assert isinstance(results["execution_time"], int) and results["execution_time"] >= 0
    assert isinstance(results["output"], str) and results["visibility"] in VISIBILITY
    assert results["score"] == sum(t["score"] for t in results["tests"])
    for t in results["tests"]:
        assert set(t) == {"name", "score", "max_score", "status", "output", "visibility"}
        assert isinstance(t["name"], str) and isinstance(t["output"], str)
        assert 0 <= t["score"] <= t["max_score"]
        assert t["status"] == ("passed" if t["score"] == t["max_score"] else "failed")
        assert t["visibility"] == ("after_published" if "hidden" in t["name"] else "visible")


def scores(results):
    return {t["name"]: (t["score"], t["max_score"]) for t in results["tests"]}


def test_full_partial_and_empty_submissions(built, tmp_path):
    course, _, zip_path = built
    full = submit(course, tmp_path, start="solution")
    got = autograder(tmp_path / "full", zip_path, full, script=True)
    conforms(got)
    assert scores(got) == {
        "q1": (2, 2),
        "q2": (3, 3),
        "q2 (hidden checks)": (1, 1),
        "q3": (1, 1),
    }
    assert got["score"] == 7 and "graded by hand" in got["output"]

    def wrong(nb):
        answer(nb, "a1", "def double(x):\n    return x * 3\n")
        answer(nb, "a2", "def area(r):\n    return math.pi * r\n")

    partial = submit(course, tmp_path, wrong, start="solution")
    got = autograder(tmp_path / "partial", zip_path, partial)
    conforms(got)
    assert got["score"] == 4 and scores(got)["q2 (hidden checks)"] == (0, 1)
    q1 = next(t for t in got["tests"] if t["name"] == "q1")
    assert "double(3) gave 9" in q1["output"]
    hidden = next(t for t in got["tests"] if "hidden" in t["name"])
    assert "area(2)" not in hidden["output"] and "12.5664" not in hidden["output"]

    empty = submit(course, tmp_path, start="assignment")
    got = autograder(tmp_path / "empty", zip_path, empty)
    conforms(got)
    assert got["score"] == 0 and len(got["tests"]) == 4

    got = autograder(tmp_path / "none", zip_path, None)
    conforms(got)
    assert got["score"] == 0 and "no notebook" in got["output"]


def test_autograder_reference_keeps_hidden_checks_and_stubs(built):
    _, solution, _ = built
    ref = gradescope.autograder_reference(solution)
    assert ref.hidden_in_cells == {"q2": 1} and not ref.solutions
    assert reference.load(solution).questions == ref.questions


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_real_assignment_zip_has_no_answer_line_outside_the_package(solution, tmp_path):
    """The course package in the zip is the one students install (its oracles may share a
    line with an answer); the files written for the autograder share none."""
    out = gradescope.build(solution, tmp_path / "auto.zip")
    lines = dictation.answer_lines(solution)
    assert lines
    with zipfile.ZipFile(out) as zf:
        own = {n: zf.read(n).decode() for n in zf.namelist() if not n.startswith("course/")}
    assert set(own) == {"setup.sh", "run_autograder", "reference.json"}
    assert [(n, line) for n, text in own.items() for line in lines if line in text] == []
