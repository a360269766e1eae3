"""coursekit.notebooks: refresh keeps checked text only and refuses FAIL; exercises."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursekit import notebooks


def _ex(name, role, source, kind="code"):
    make = new_code_cell if kind == "code" else new_markdown_cell
    return make(source, metadata={"coursekit": {"exercise": name, "role": role}})


def exercise_notebook():
    return new_notebook(
        cells=[
            new_code_cell("from coursekit.checks import exercise"),
            _ex("e1", "prompt", "Write `double(x)`.", "markdown"),
            _ex("e1", "stub", "def double(x):\n    raise NotImplementedError"),
            _ex("e1", "check", 'with exercise("e1"):\n    assert double(2) == 4, "double(2) != 4"'),
            _ex(
                "e1",
                "solution",
                "<details><summary>Solution</summary>\n\n```python\ndef double(x):\n"
                "    return 2 * x\n```\n</details>",
                "markdown",
            ),
            new_code_cell("# NBVAL_CHECK_OUTPUT\nprint('claim:', 'OK')"),
            new_code_cell("print('not checked')"),
        ]
    )


def test_exercises_stub_fails_and_solution_passes(tmp_path):
    nb = exercise_notebook()
    assert notebooks.exercises(nb) == {"e1": {"prompt": 1, "stub": 2, "check": 3, "solution": 4}}
    solved = notebooks.with_solutions(nb)
    assert "return 2 * x" in solved.cells[2].source
    assert "NotImplementedError" in nb.cells[2].source  # the original is untouched
    notebooks.execute(nb, tmp_path)
    notebooks.execute(solved, tmp_path)
    assert notebooks.exercise_results(nb)["e1"].startswith("e1: not attempted yet")
    assert notebooks.exercise_results(solved) == {"e1": "e1: OK"}
    assert notebooks.checked_text(solved) == {5: "claim: OK\n"}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda nb: nb.cells.pop(4), "no solution cell"),
        (lambda nb: nb.cells[3].metadata["coursekit"].update(role="answer"), "role 'answer'"),
        (lambda nb: setattr(nb.cells[3], "source", "assert True"), 'exercise\\("e1"\\)'),
        (lambda nb: setattr(nb.cells[4], "source", "no code"), "no ```python block"),
        (lambda nb: nb.cells.insert(3, _ex("e1", "stub", "pass")), "second stub"),
    ],
)
def test_malformed_exercises_are_named(change, message):
    nb = exercise_notebook()
    change(nb)
    with pytest.raises(ValueError, match=message):
        notebooks.exercises(nb)


def test_refresh_keeps_checked_text_and_refuses_fail(tmp_path):
    path = tmp_path / "nb.ipynb"
    nbformat.write(exercise_notebook(), path)
    notebooks.refresh(path)
    stored = nbformat.read(path, as_version=4)
    assert stored.cells[5].outputs[0].text == "claim: OK\n"
    assert stored.cells[6].outputs == [] and stored.cells[3].outputs == []
    bad = exercise_notebook()
    bad.cells[5].source = "# NBVAL_CHECK_OUTPUT\nprint('claim:', 'FAIL (measured 2)')"
    nbformat.write(bad, path)
    with pytest.raises(RuntimeError, match="prints FAIL; not stored"):
        notebooks.refresh(path)
    assert "FAIL" not in "".join(o.get("text", "") for o in nbformat.read(path, 4).cells[5].outputs)


def test_execute_sets_the_course_seed(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSEKIT_SEED", raising=False)
    nb = new_notebook(
        cells=[new_code_cell("import coursekit.seeding as s\nprint(s.course_seed())")]
    )
    notebooks.execute(nb, tmp_path, seed=4)
    assert nb.cells[0].outputs[0].text == "4\n"
    import os

    assert "COURSEKIT_SEED" not in os.environ
