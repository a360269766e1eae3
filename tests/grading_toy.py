"""A toy course for the grader's tests: answers whose right values are known
(``double(3) == 6``, ``area(1) = pi``), checks, and helpers to release and submit it."""

from __future__ import annotations

from pathlib import Path

import nbformat

from coursekit.grading import grade, reference, release
from coursekit.grading.notebook import source_hash

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9]*.ipynb"))

A1 = '''def double(x):
    """2 x."""
    ### BEGIN SOLUTION
    ### HINT: multiply by two
    return 2 * x
    ### END SOLUTION
'''
A2 = """def area(r):
    ### BEGIN SOLUTION
    return math.pi * r**2
    ### END SOLUTION
"""
A3 = """def word():
    ### BEGIN SOLUTION
    return "done"
    ### END SOLUTION
"""
Q1 = 'assert double(3) == 6, f"double(3) gave {double(3)}"\nprint("q1 double(3) == 6: OK")'
Q2 = 'print(f"q2 area(1) = {area(1):.4f}")'
Q2_HIDDEN = 'print(f"q2 area(2) = {area(2):.4f}")'
Q3 = 'print("q3 word() is done:", passed(np.array_equal(word(), "done")))'


def code(source, **meta):
    return nbformat.v4.new_code_cell(source, metadata={"coursekit": meta} if meta else {})


def toy_solution() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Toy assignment"),
        code("import math\n\nimport numpy as np\n\nfrom coursekit.grading.checks import passed"),
        code(A1, answer="a1"),
        code(Q1, check="q1", points=2),
        code(A2, answer="a2"),
        code(Q2, check="q2", points=3),
        code(Q2_HIDDEN, check="q2", points=1, hidden=True),
        code(A3, answer="a3"),
        code(Q3, check="q3", points=1),
    ]
    return nb


def make_course(root: Path, nb=None, name="00_toy", outputs=None) -> Path:
    """A toy course under ``root``: ``solutions/<name>.ipynb`` (default: the toy solution)
    and its released files. ``outputs`` (check source -> printed text) publishes without
    running anything (fast; the text must be what the checks print); else the solution is
    released for real. Returns the solution's path."""
    (root / "solutions").mkdir(exist_ok=True)
    (root / "assignments").mkdir(exist_ok=True)
    solution = root / "solutions" / f"{name}.ipynb"
    nb = nb if nb is not None else toy_solution()
    nbformat.write(nb, str(solution))
    if outputs is None:
        release.release(solution, root)
        return solution
    stored = {i: outputs[c.source] for i, c in enumerate(nb.cells) if c.source in outputs}
    nb = release.with_outputs(nbformat.read(str(solution), as_version=4), stored)
    nb.metadata["coursekit"] = {
        **release.notebook_meta(nb, name),
        "released_sha256": source_hash(nb),
    }
    nbformat.write(nb, str(solution))
    notebook, store = release.build(solution)
    student, published = release.targets(solution, root)
    published.parent.mkdir(parents=True, exist_ok=True)
    student.write_text(notebook)
    published.write_text(store)
    return solution


#: What the toy solution's checks print.
TOY_OUTPUTS = {
    Q1: "q1 double(3) == 6: OK",
    Q2: "q2 area(1) = 3.1416",
    Q2_HIDDEN: "q2 area(2) = 12.5664",
    Q3: "q3 word() is done: OK",
}


def submit(course, tmp_path, edit=None, start="solution") -> Path:
    """A submission: the released assignment or the solution, edited by ``edit(nb)``."""
    source = course / ("solutions" if start == "solution" else "assignments") / "00_toy.ipynb"
    nb = nbformat.read(str(source), as_version=4)
    if edit:
        edit(nb)
    path = tmp_path / "submission.ipynb"
    nbformat.write(nb, str(path))
    return path


def answer(nb, key, source):
    next(
        c for c in nb.cells if c.metadata.get("coursekit", {}).get("answer") == key
    ).source = source


def scores(course, path, timeout=10.0, ref=None):
    """(question -> points, question -> message) of a graded submission."""
    ref = ref or reference.load(course / "assignments" / ".reference" / "00_toy.json")
    report = grade.grade(path, ref, timeout)
    return {q.id: q.earned for q in report.questions}, {q.id: q.message for q in report.questions}
