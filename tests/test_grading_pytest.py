"""``pytest`` (and ``pytest --nbval``) on an assignment notebook agrees with ``coursekit grade``.

Three submissions of assignment 2 (all answers right; two answers wrong; wrong answers
saved with check outputs that claim ``OK``, as a notebook saved after a run) are graded by
``coursekit grade`` and by ``python -m pytest --nbval`` with the course's own ``addopts``
(which hold ``--nbval-lax``). Every question must pass under pytest exactly when it earned
full marks, and nbval must not collect the notebook's cells at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import nbformat

from coursekit.grading import grade, reference
from tests.grading_toy import ROOT

NAME = "02_optimisers"


def _answers():
    solution = nbformat.read(str(ROOT / "solutions" / f"{NAME}.ipynb"), as_version=4)
    return {
        c.metadata["coursekit"]["answer"]: c.source
        for c in solution.cells
        if "answer" in c.metadata.get("coursekit", {})
    }


def _submission(path, answers, saved_outputs=False):
    nb = nbformat.read(str(ROOT / "assignments" / f"{NAME}.ipynb"), as_version=4)
    ref = reference.load(ROOT / "assignments" / ".reference" / f"{NAME}.json")
    expected = {c.index: c.expected for c in ref.cells if c.kind == "check"}
    for i, cell in enumerate(nb.cells):
        key = cell.metadata.get("coursekit", {}).get("answer")
        if key in answers:
            cell.source = answers[key]
        if cell.cell_type == "code" and saved_outputs:
            cell.execution_count = i + 1
            text = expected.get(i)
            cell.outputs = (
                [nbformat.v4.new_output("stream", name="stdout", text=text + "\n")] if text else []
            )
    nbformat.write(nb, str(path))
    return path


def test_pytest_and_nbval_agree_with_the_grader(tmp_path):
    right = _answers()
    # one wrong answer (a1), a wrong look-ahead (a3), one left as the stub (a5), and the
    # outputs of a saved run stored in the file
    wrong = {**right, "a1": right["a1"].replace("return w - lr * g", "return w + lr * g")}
    wrong["a3"] = right["a3"].replace("grad_fn(w + beta * dW_prev)", "grad_fn(w)")
    del wrong["a5"]
    files = [
        _submission(tmp_path / "correct.ipynb", right),
        _submission(tmp_path / "saved.ipynb", wrong, saved_outputs=True),
    ]
    reports = dict(zip(files, grade.grade_many(files), strict=True))
    assert reports[files[0]].full_marks and not reports[files[1]].full_marks

    xml = tmp_path / "pytest.xml"
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "coursekit.grading.pytest_plugin",
        "-c",
        str(ROOT / "pyproject.toml"),
        "--rootdir",
        str(tmp_path),
        "-n0",
        "--nbval",
        "--junitxml",
        str(xml),
        *(str(f) for f in files),
    ]
    run = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 1, run.stdout + run.stderr
    verdicts = {
        (case.get("classname"), case.get("name")): case.find("failure") is None
        for case in ET.parse(xml).getroot().iter("testcase")
    }
    expected = {
        (path.name, q.id): q.earned == q.possible
        for path, r in reports.items()
        for q in r.questions
        if not q.manual  # written answers are graded by a person, not as tests
    }
    assert verdicts == expected
    assert "nbval runs lax; assignment notebooks are graded by coursekit" in run.stdout
    assert "saved.ipynb: " in run.stdout and "hidden checks hold 2 more" in run.stdout
