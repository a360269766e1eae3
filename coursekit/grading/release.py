"""``coursekit release``: a solution notebook in, the student's notebook and the reference out."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat

from . import reference as references
from .notebook import CourseError, assignment_name, cells_of, read, role, stub
from .runner import Kernel

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def execute(path, timeout: float = 120.0) -> dict[int, str]:
    """Run the solution in a fresh kernel; notebook cell index -> each check's output.

    Raises ``CourseError`` naming the cell when any cell fails or a check prints nothing.
    """
    nb = read(path)
    cells = cells_of(nb, path)
    outputs: dict[int, str] = {}
    with Kernel(timeout=timeout) as kernel:
        for cell in cells:
            if cell.kind == "check":
                result = kernel.run_check(cell.source)
            elif cell.kind == "answer":
                result = kernel.run(cell.source)
            else:
                result = kernel.run_setup(cell.source)
            if result.status != "ok":
                raise CourseError(f"{path}: cell {cell.index} failed: {result.error}")
            if cell.kind == "check" and not result.output:
                raise CourseError(f"{path}: check {cell.key!r} (cell {cell.index}) prints nothing")
            if cell.kind == "check" and "FAIL" in result.output:
                raise CourseError(
                    f"{path}: check {cell.key!r} (cell {cell.index}) prints FAIL for the solution "
                    f"itself, so a wrong answer could match it: {result.output.strip()[:200]!r}"
                )
            if cell.kind == "check":
                outputs[cell.index] = result.output
    return outputs


def with_outputs(nb, outputs: dict[int, str]):
    """The solution with the checks' outputs stored and every other output stripped."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        text = outputs.get(index)
        cell.outputs = (
            [nbformat.v4.new_output("stream", name="stdout", text=text + "\n")] if text else []
        )
    return nb


def _student_cell(cell):
    meta = role(cell)
    if cell.cell_type != "code":
        return (
            nbformat.v4.new_markdown_cell(cell.source, id=cell.id)
            if cell.cell_type == "markdown"
            else None
        )
    if meta.get("hidden"):
        return None
    metadata = {"coursekit": dict(meta)} if meta else {}
    if "answer" in meta:
        return nbformat.v4.new_code_cell(stub(cell.source), id=cell.id, metadata=metadata)
    new = nbformat.v4.new_code_cell(cell.source, id=cell.id, metadata=metadata)
    if "check" in meta:
        new.metadata.update(editable=False, deletable=False)
        new.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text=o.text) for o in cell.outputs
        ]
    return new


def build(path) -> tuple[str, str]:
    """The assignment notebook and the published reference (both as text), from a solution.

    Pure: nothing is executed or written. The solution must already hold its checks'
    outputs (``coursekit release`` puts them there).
    """
    nb = read(path)
    name = assignment_name(path)
    ref = references.from_solution(path, public_only=True, stubs=True)
    ref.validate(path)
    cells_of(nb, path)
    student = nbformat.v4.new_notebook()
    student.metadata = {
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
        "coursekit": {"assignment": name},
    }
    student.cells = [c for c in (_student_cell(cell) for cell in nb.cells) if c is not None]
    return nbformat.writes(student) + "\n", ref.to_json()


def targets(path, root=".") -> tuple[Path, Path]:
    """Where the assignment notebook and the published reference of a solution go."""
    name = assignment_name(path)
    return Path(root) / "assignments" / f"{name}.ipynb", Path(
        root
    ) / references.STORE / f"{name}.json"


def release(path, root=".", timeout: float = 120.0) -> float:
    """Execute the solution, store its check outputs, write assignment and reference.

    Returns the execution time in seconds.
    """
    start = time.perf_counter()
    outputs = execute(path, timeout)
    seconds = time.perf_counter() - start
    nb = with_outputs(read(path), outputs)
    nb.metadata["coursekit"] = {"assignment": assignment_name(path)}
    Path(path).write_text(nbformat.writes(nb) + "\n")
    notebook, store = build(path)
    student_path, store_path = targets(path, root)
    store_path.parent.mkdir(parents=True, exist_ok=True)
    student_path.write_text(notebook)
    store_path.write_text(store)
    return seconds


def stale_reasons(path, root=".") -> list[str]:
    """What is out of date between a solution and its released files (empty: up to date)."""
    try:
        notebook, store = build(path)
    except CourseError as exc:
        return [str(exc)]
    reasons = []
    for target, text in zip(targets(path, root), (notebook, store), strict=True):
        if not target.exists():
            reasons.append(f"{target} is missing")
        elif target.read_text() != text:
            reasons.append(f"{target} differs from what `coursekit release {path}` makes")
    return reasons
