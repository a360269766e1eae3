"""No released assignment dictates its answers: no answer line in its markdown, stubs or hints.

``coursekit.grading.dictation`` compares each non-trivial line of the solution's answer code
(white space removed, ``1.0`` read as ``1``, an assignment's right-hand side on its own)
with everything the student is given. The scanner itself must catch a dictated formula:
the hint that assignment 2's q2 once printed is planted back and must be found.
"""

from pathlib import Path

import nbformat
import pytest

from coursekit.grading.dictation import answer_lines, dictated
from coursekit.grading.release import build

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_no_answer_line_in_what_the_student_is_given(solution):
    released = nbformat.reads(build(solution)[0], as_version=4)
    assert len(answer_lines(solution)) >= 5, "the scanner found (almost) no answer lines"
    found = dictated(solution, released)
    assert not found, f"{solution.name} dictates its answers:\n" + "\n".join(found)


def test_the_scanner_finds_a_planted_formula_in_a_hint_or_the_markdown():
    solution = ROOT / "solutions" / "02_optimisers.ipynb"
    nb = nbformat.read(solution, as_version=4)
    released = nbformat.reads(build(solution)[0], as_version=4)
    line = next(x for x in answer_lines(nb) if "e[-1]" in x)  # the measured rate
    formula = line.removeprefix("return ").replace("1.0", "1")
    spaced = formula.replace("/", " / ")
    for where in ("markdown", "hint"):
        planted = nbformat.reads(nbformat.writes(released), as_version=4)
        if where == "markdown":
            planted.cells.append(nbformat.v4.new_markdown_cell(f"Hint: compute `{spaced}`."))
        else:
            cell = next(c for c in planted.cells if c.metadata.get("coursekit", {}).get("answer"))
            cell.metadata["coursekit"]["hints"] = ["think about it", f"use {spaced}"]
        found = dictated(nb, planted)
        assert any("e[-1]" in f for f in found), (where, found)
