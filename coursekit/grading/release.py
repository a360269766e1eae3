"""``coursekit release``: a solution notebook in, the student's notebook and the reference out.

Before writing anything, release refuses a solution whose checks could not grade
fairly (each refusal is a ``CourseError`` naming the cell):

* a cell that fails, a check that prints nothing or prints FAIL for the solution itself;
* a check whose output differs between two runs of the solution (it prints something
  random, a timing, a path);
* a check, or a line of a check with per-line points, that passes on the unmodified
  stubs (it calls no answer code, so a blank submission would earn it);
* the solution itself breaking the assignment's rules (calling what the answers may not);
* a point table in the notebook's text that does not match the checks' points;
* and, when reading the notebook, non-boolean ``hidden`` or non-integer ``points``.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat

from . import reference as references
from .notebook import (
    WRITTEN_PLACEHOLDER,
    CourseError,
    assignment_name,
    cells_of,
    check_point_tables,
    read,
    role,
    source_hash,
    stub,
)
from .runner import Kernel, Result

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _run(path, cells, config, timeout, stubs=False) -> dict[int, Result]:
    """Run the cells (answers stubbed when ``stubs``); notebook cell index -> check result."""
    results = {}
    with Kernel(timeout=timeout, config=config) as kernel:
        for cell in cells:
            if cell.kind == "check":
                result = kernel.run_check(cell.source, cell.key)
                results[cell.index] = result
            elif cell.kind == "answer":
                result = kernel.run_answer(stub(cell.source) if stubs else cell.source, cell.key)
            else:
                result = kernel.run_setup(cell.source)
            if stubs:
                continue
            if result.status != "ok":
                raise CourseError(f"{path}: cell {cell.index} failed: {result.error}")
            broken = result.events.get("violations", {})
            if broken:
                first = next(iter(broken.values()))[0]
                raise CourseError(
                    f"{path}: cell {cell.index}: the solution breaks the assignment's rules: {first}"
                )
    return results


def execute(path, timeout: float = 120.0) -> dict[int, str]:
    """Run the solution (twice) and its stubs; notebook cell index -> each check's output.

    Raises ``CourseError`` naming the cell when any cell fails, a check prints nothing or
    FAIL, prints differently in the two runs, or passes on the stubs.
    """
    nb = read(path)
    cells = cells_of(nb, path)
    ref = references.from_solution(path)
    config = ref.kernel_config()
    first = _run(path, cells, config, timeout)
    outputs: dict[int, str] = {}
    for cell in cells:
        if cell.kind != "check":
            continue
        text = first[cell.index].output
        if not text:
            raise CourseError(f"{path}: check {cell.key!r} (cell {cell.index}) prints nothing")
        if "FAIL" in text:
            raise CourseError(
                f"{path}: check {cell.key!r} (cell {cell.index}) prints FAIL for the solution "
                f"itself, so a wrong answer could match it: {text.strip()[:200]!r}"
            )
        if isinstance(cell.points, list) and len(cell.points) != len(text.splitlines()):
            raise CourseError(
                f"{path}: check {cell.key!r} (cell {cell.index}) has {len(cell.points)} per-line "
                f"points but prints {len(text.splitlines())} lines"
            )
        outputs[cell.index] = text
    second = _run(path, cells, config, timeout)
    for index, text in outputs.items():
        again = second[index].output
        if again != text:
            diff = next(
                (a, b)
                for a, b in zip(text.splitlines() + [""], again.splitlines() + [""], strict=False)
                if a != b
            )
            raise CourseError(
                f"{path}: check in cell {index} printed different text in two runs of the "
                f"solution (`{diff[0]}` then `{diff[1]}`): a check prints only what is the same "
                "at every run (verdicts, rounded numbers), no timings, paths or random digits"
            )
    blank = _run(path, cells, config, timeout, stubs=True)
    for cell in cells:
        if cell.kind != "check":
            continue
        got = blank[cell.index]
        want = outputs[cell.index].splitlines()
        have = got.output.splitlines()
        if isinstance(cell.points, list):
            same = [i + 1 for i, line in enumerate(want) if i < len(have) and have[i] == line]
            if same:
                raise CourseError(
                    f"{path}: check {cell.key!r} (cell {cell.index}) line {same[0]} passes on the "
                    f"unmodified stubs (`{want[same[0] - 1]}`): every graded line must depend on "
                    "answer code, or a blank submission earns it"
                )
        elif got.status == "ok" and have == want:
            raise CourseError(
                f"{path}: check {cell.key!r} (cell {cell.index}) passes on the unmodified stubs: "
                "it must call answer code, or a blank submission earns its points"
            )
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
        if cell.cell_type == "markdown" and meta.get("manual") is True:  # the model answer stays
            return nbformat.v4.new_markdown_cell(
                WRITTEN_PLACEHOLDER, id=cell.id, metadata={"coursekit": dict(meta)}
            )
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


def notebook_meta(nb, name: str) -> dict:
    """The ``coursekit`` notebook metadata of a released file: the assignment's name (the
    grader refuses a notebook of another assignment) and its rules."""
    meta = nb.metadata.get("coursekit", {})
    rules = meta.get("rules") if isinstance(meta, dict) else None
    return {"assignment": name, **({"rules": rules} if rules else {})}


def build(path) -> tuple[str, str]:
    """The assignment notebook and the published reference (both as text), from a solution.

    Pure: nothing is executed or written. The solution must already hold its checks'
    outputs (``coursekit release`` puts them there).
    """
    nb = read(path)
    name = assignment_name(path)
    ref = references.from_solution(path, public_only=True, stubs=True)
    ref.validate(path)
    full = references.from_solution(path)
    check_point_tables(nb, path, ref.public_points, full.hidden_in_cells)
    student = nbformat.v4.new_notebook()
    student.metadata = {
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
        "coursekit": notebook_meta(nb, name),
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
    """Check and execute the solution, store its check outputs, write assignment and
    reference. Returns the execution time in seconds (three runs: see ``execute``)."""
    start = time.perf_counter()
    full = references.from_solution(path)
    check_point_tables(read(path), path, full.public_points, full.hidden_in_cells)
    outputs = execute(path, timeout)
    seconds = time.perf_counter() - start
    nb = with_outputs(read(path), outputs)
    nb.metadata["coursekit"] = {
        **notebook_meta(nb, assignment_name(path)),
        "released_sha256": source_hash(nb),
    }
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
        ref = references.from_solution(path)
    except CourseError as exc:
        return [str(exc)]
    reasons = list(ref.warnings)
    for target, text in zip(targets(path, root), (notebook, store), strict=True):
        if not target.exists():
            reasons.append(f"{target} is missing")
        elif target.read_text() != text:
            reasons.append(f"{target} differs from what `coursekit release {path}` makes")
    return reasons
