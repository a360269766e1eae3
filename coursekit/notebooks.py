"""Keep the course's notebooks small and reviewable.

``python -m coursekit.notebooks refresh lectures/01_backprop.ipynb [...]`` executes each
notebook in a fresh kernel (working directory: the notebook's folder) and writes it
back keeping only the text outputs of *checked* cells, the cells whose source contains
the line ``# NBVAL_CHECK_OUTPUT``. Those stored outputs are what ``pytest --nbval-lax``
compares against; every other output (figures, progress bars, widgets) is dropped, so
a notebook's diff shows code and checked numbers only. ``strip`` does the same without
executing (it only removes outputs of unchecked cells). ``refresh`` refuses to store a
checked output that says ``FAIL``: that text would become what the tests expect.

Exercises. A lecture's exercise ``e1`` is a group of cells whose metadata holds
``{"coursekit": {"exercise": "e1", "role": ROLE}}``:

- ``"prompt"`` (markdown, optional): the task;
- ``"stub"`` (code, one): what the student edits; it raises ``NotImplementedError`` or
  leaves ``...`` where the answer goes;
- ``"check"`` (code, one): the self-check, run under
  ``with coursekit.checks.exercise("e1"):``, printing ``e1: OK`` or what is wrong;
- ``"solution"`` (markdown, one): a worked solution inside a collapsed
  ``<details>`` block, whose first fenced ``python`` block replaces the stub's code.

:func:`with_solutions` returns the notebook with every stub replaced by its solution,
which the tests run to show that each self-check passes on the solution and fails on
the stub.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
TEXT_TYPES = ("text/plain",)

__all__ = [
    "is_checked",
    "checked_text",
    "strip_outputs",
    "execute",
    "refresh",
    "exercises",
    "solution_code",
    "with_solutions",
    "exercise_results",
    "main",
]

ROLES = ("prompt", "stub", "check", "solution")


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and any(
        line.strip() == CHECK_MARK for line in cell.source.splitlines()
    )


def checked_text(nb) -> dict[int, str]:
    """``{cell index: text}`` of every checked cell: its stream and text/plain outputs
    joined, as the tests compare them."""
    out = {}
    for i, cell in enumerate(nb.cells):
        if is_checked(cell):
            out[i] = _output_text(cell)
    return out


def _output_text(cell) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            parts.append(o.get("data", {}).get("text/plain", ""))
        elif o.output_type == "error":
            parts.append(f"{o.ename}: {o.evalue}")
    return "".join(parts)


def _text_only(output):
    if output.output_type == "stream":
        return output
    if output.output_type in ("execute_result", "display_data"):
        data = {k: v for k, v in output.get("data", {}).items() if k in TEXT_TYPES}
        if not data:
            return None
        output["data"] = data
        output["metadata"] = {}
        return output
    return output  # errors are kept so a broken refresh is visible


def _merge_streams(outputs):
    """Join consecutive stream outputs of the same name: how a print is split into chunks
    varies from run to run, and would otherwise change the stored notebook each time."""
    merged = []
    for o in outputs:
        if (
            merged
            and o.output_type == "stream"
            and merged[-1].output_type == "stream"
            and merged[-1].name == o.name
        ):
            merged[-1].text += o.text
        else:
            merged.append(o)
    return merged


def strip_outputs(nb):
    """Drop outputs of unchecked cells and non-text outputs of checked ones (in place)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if is_checked(cell):
            cell.outputs = _merge_streams(
                [o for o in (_text_only(o) for o in cell.outputs) if o is not None]
            )
        else:
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    return nb


@contextmanager
def _course_seed(seed):
    from .seeding import ENV_VAR

    old = os.environ.get(ENV_VAR)
    if seed is not None:
        os.environ[ENV_VAR] = str(int(seed))
    try:
        yield
    finally:
        if seed is not None:
            if old is None:
                os.environ.pop(ENV_VAR, None)
            else:
                os.environ[ENV_VAR] = old


def execute(nb, cwd: Path, timeout: int = 300, seed: int | None = None, allow_errors=False):
    """Run ``nb`` in place in a fresh kernel; ``seed`` sets ``$COURSEKIT_SEED`` for it."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    )
    with _course_seed(seed):
        client.execute()
    return nb


def refresh(path: Path, timeout: int = 300) -> float:
    """Execute ``path`` and write it back with only checked outputs; return seconds taken."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    execute(nb, path.parent, timeout)
    seconds = time.perf_counter() - start
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    if errors:
        raise RuntimeError(f"{path}: a cell raised {errors[0].ename}: {errors[0].evalue}")
    failing = [i for i, text in checked_text(nb).items() if re.search(r"\bFAIL\b", text)]
    if failing:
        raise RuntimeError(
            f"{path}: checked cell {failing[0]} prints FAIL; not stored (a stored FAIL would "
            f"become the expected output):\n{checked_text(nb)[failing[0]]}"
        )
    nbformat.write(strip_outputs(nb), path)
    return seconds


def _exercise_meta(cell):
    meta = cell.get("metadata", {}).get("coursekit", {})
    return (meta.get("exercise"), meta.get("role")) if "exercise" in meta else (None, None)


def exercises(nb) -> dict[str, dict[str, int]]:
    """``{"e1": {"stub": 5, "check": 6, "solution": 7, "prompt": 4}, ...}``: cell indices
    by exercise and role. Raises ``ValueError`` naming the cell when a role is unknown,
    repeated, on the wrong cell type, or when a stub, check or solution is missing."""
    found: dict[str, dict[str, int]] = {}
    for i, cell in enumerate(nb.cells):
        name, role = _exercise_meta(cell)
        if name is None:
            continue
        if role not in ROLES:
            raise ValueError(
                f"cell {i}: exercise {name!r} has role {role!r}, expected one of {ROLES}"
            )
        want = "code" if role in ("stub", "check") else "markdown"
        if cell.cell_type != want:
            raise ValueError(f"cell {i}: the {role} of exercise {name!r} must be a {want} cell")
        if role in found.setdefault(name, {}):
            raise ValueError(f"cell {i}: exercise {name!r} has a second {role} cell")
        found[name][role] = i
    for name, roles in found.items():
        missing = [r for r in ("stub", "check", "solution") if r not in roles]
        if missing:
            raise ValueError(f"exercise {name!r}: no {', '.join(missing)} cell")
        check = nb.cells[roles["check"]].source
        if f'exercise("{name}")' not in check and f"exercise('{name}')" not in check:
            raise ValueError(
                f"cell {roles['check']}: the check of exercise {name!r} must run under "
                f'coursekit.checks.exercise("{name}")'
            )
        solution_code(nb.cells[roles["solution"]], name)
    return found


_FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def solution_code(cell, name: str = "") -> str:
    """The first fenced ``python`` block of a solution cell."""
    m = _FENCE.search(cell.source)
    if not m:
        raise ValueError(f"exercise {name!r}: the solution cell has no ```python block")
    return m.group(1)


def with_solutions(nb):
    """A copy of ``nb`` in which every exercise stub holds its worked solution."""
    nb = copy.deepcopy(nb)
    for name, roles in exercises(nb).items():
        nb.cells[roles["stub"]].source = solution_code(nb.cells[roles["solution"]], name)
    return nb


def exercise_results(nb) -> dict[str, str]:
    """``{"e1": "e1: OK", ...}``: the line each executed self-check printed about itself."""
    results = {}
    for name, roles in exercises(nb).items():
        text = _output_text(nb.cells[roles["check"]])
        lines = [ln for ln in text.splitlines() if ln.startswith(f"{name}:")]
        results[name] = lines[-1] if lines else f"{name}: (the check printed nothing)"
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coursekit.notebooks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("command", choices=["refresh", "strip"])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell (default 300)")
    args = parser.parse_args(argv)
    for path in args.paths:
        if args.command == "refresh":
            seconds = refresh(path, args.timeout)
            print(f"{path}: executed in {seconds:.1f} s, checked outputs kept")
        else:
            nb = nbformat.read(path, as_version=4)
            nbformat.write(strip_outputs(nb), path)
            print(f"{path}: stripped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
