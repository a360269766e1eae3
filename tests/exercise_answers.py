"""Run a lecture exercise's self-check on a given answer, without a kernel.

``tests/test_lecture_seeds.py`` shows that each self-check passes on the worked solution
and fails on the stub. A check that fails only on the stub would also pass a plausible
wrong answer; :func:`check_output` runs the check on any answer, so that the claims tests
can show it does not.
"""

import contextlib
import io
from pathlib import Path

import nbformat

from coursekit.notebooks import exercises

LECTURES = Path(__file__).resolve().parent.parent / "lectures"


def check_output(lecture: str, name: str, answer: str, setup=()) -> str:
    """What exercise ``name``'s self-check prints when the stub holds ``answer``.

    ``lecture``: the notebook's file name; ``setup``: ids of the code cells (run in order,
    after the first code cell, the imports) that the check reads values from.
    """
    nb = nbformat.read(LECTURES / lecture, as_version=4)
    by_id = {cell.get("id"): cell for cell in nb.cells}
    roles = exercises(nb)[name]
    first = next(cell for cell in nb.cells if cell.cell_type == "code")
    sources = [first.source, *(by_id[i].source for i in setup), answer]
    sources.append(nb.cells[roles["check"]].source)
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for source in sources:
            lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
            exec(compile("\n".join(lines), f"{lecture}:{name}", "exec"), namespace)  # noqa: S102
    return out.getvalue()
