"""Every lecture at other course seeds: the checked text must not change, and each
exercise's self-check passes on its worked solution and fails on its stub.

nbval runs each lecture at the default seed (``$COURSEKIT_SEED``, 0 when unset). Here
each lecture runs again at the seeds in ``$COURSEKIT_TEST_SEEDS`` (default ``1,2``):
at the first with every exercise stub replaced by its solution, at the second with the
stubs as a student gets them (and nothing may reach stderr: a warning a student would
see fails the run, as in the browser test). A checked cell that prints other text at another seed
shows a claim that holds only at the stored seed.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from coursekit.notebooks import checked_text, execute, exercise_results, with_solutions
from coursekit.site import INLINE_BACKEND, figures_without_alt

ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted((ROOT / "lectures").glob("[0-9][0-9]_*.ipynb"))
SEEDS = [int(s) for s in os.environ.get("COURSEKIT_TEST_SEEDS", "1,2").split(",") if s.strip()]


def _diff(expected: dict[int, str], got: dict[int, str]) -> str:
    lines = []
    for i, text in expected.items():
        if got.get(i) != text:
            lines.append(f"checked cell {i}:\n--- stored\n{text}--- at this seed\n{got.get(i)}")
    return "\n".join(lines)


class _LectureAtSeeds:
    path: Path

    @pytest.mark.parametrize("variant", range(len(SEEDS)), ids=[f"seed{s}" for s in SEEDS])
    def test_same_checked_text(self, variant, monkeypatch):
        seed = SEEDS[variant]
        solved = variant % 2 == 0
        stored = nbformat.read(self.path, as_version=4)
        nb = with_solutions(stored) if solved else stored
        if not solved:  # the student's view, as the site shows it: figures drawn inline
            monkeypatch.setenv("MPLBACKEND", INLINE_BACKEND)
        execute(nb, self.path.parent, seed=seed)
        diff = _diff(checked_text(stored), checked_text(nb))
        assert not diff, f"{self.path.name} at COURSEKIT_SEED={seed}:\n{diff}"
        results = exercise_results(nb)
        if solved:
            bad = {k: v for k, v in results.items() if v != f"{k}: OK"}
            assert not bad, f"self-checks that fail on their worked solutions: {bad}"
        else:
            bad = {k: v for k, v in results.items() if v == f"{k}: OK"}
            assert not bad, f"self-checks that pass on the unmodified stubs: {bad}"
            missing = figures_without_alt(nb, self.path.name)  # the site's <img alt>
            assert not missing, "\n".join(missing)
            noise = stderr_outputs(nb)  # warnings a student would see (the browser test's rule)
            assert not noise, f"{self.path.name}: text on stderr:\n" + "\n---\n".join(noise)


def stderr_outputs(nb) -> list[str]:
    """What the cells wrote to stderr (warnings, tracebacks), cell by cell, shortened."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                found.append(f"cell {i}: {out.get('text', '')[:300]}")
            elif out.get("output_type") == "error":
                found.append(f"cell {i}: {out.get('ename')}: {out.get('evalue', '')[:300]}")
    return found


for _path in LECTURES:
    _name = "TestSeeds_" + _path.stem
    globals()[_name] = type(_name, (_LectureAtSeeds,), {"path": _path})
