"""The grader: release, staleness, verdicts, and every tampering case of the issue.

Oracle: a toy solution whose right answers are known (``double(3) == 6``,
``area(1) = pi``), built here with nbformat and released into a temporary course; then
the real ``solutions/*.ipynb`` (each must score full marks against itself, its released
assignment 0 on every question, and ``assignments/`` must be up to date).
"""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from coursekit import cli
from coursekit.grading import CourseError, grade, reference, release
from coursekit.grading.checks import passed, verdict
from coursekit.grading.notebook import Cell, cells_of, normalise, stub
from tests.grading_toy import (
    A1,
    A2,
    Q1,
    Q3,
    ROOT,
    SOLUTIONS,
    TOY_OUTPUTS,
    answer,
    code,
    make_course,
    scores,
    submit,
    toy_solution,
)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A released toy course: solutions/00_toy.ipynb, assignments/, the reference."""
    root = tmp_path_factory.mktemp("course")
    make_course(root)
    return root


# ---------------------------------------------------------------- format and release


def test_stub_keeps_indentation_and_hint():
    assert (
        stub(A1)
        == 'def double(x):\n    """2 x."""\n    raise NotImplementedError(\'multiply by two\')'
    )
    assert "raise NotImplementedError('write your answer here')" in stub(A2)


def test_verdicts_print_only_ok_or_the_measured_error():
    assert verdict(1e-13, 1e-12) == "OK"
    assert verdict(1e-12, 1e-12) == "FAIL (error 1.0e-12, tolerance 1e-12)"
    assert verdict(float("nan"), 1e-12) == "FAIL (error nan, tolerance 1e-12)"
    assert passed(True, "x") == "OK" and passed(False, "(shape (2,))") == "FAIL (shape (2,))"
    with pytest.raises(ValueError, match="tolerance > 0, got 0"):
        verdict(0.0, 0)


def test_normalise_strips_ansi_and_trailing_space():
    assert normalise("\x1b[31mq1: OK\x1b[0m  \r\n\n") == "q1: OK"


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (
            [code(A1, answer="a1"), code(A2, answer="a1"), code(Q1, check="q1", points=1)],
            "duplicate answer id",
        ),
        ([code(A1, answer="a1"), code(Q1, check="q1")], "positive integer 'points'"),
        ([code(A1, answer="a1"), code(Q1, check="q1", points=0)], "positive integer 'points'"),
        ([code("x = 1", answer="a1"), code(Q1, check="q1", points=1)], "without a ### BEGIN"),
        (
            [code(A1.replace("### END SOLUTION", ""), answer="a1"), code(Q1, check="q1", points=1)],
            "without ### END",
        ),
        ([code(A1), code(Q1, check="q1", points=1)], "not an answer cell"),
        ([code(A1, answer="a1", check="q1", points=1)], "not both"),
        ([code(A1, answer="a1")], "no check cell"),
        (
            [code(A1, answer="a1"), code(Q1, check="q1", points=1, hidden="false")],
            "'hidden' must be true or false",
        ),
        ([code(A1, answer="a1"), code(Q1, check="q1", points=1.5)], "positive integer 'points'"),
        ([code(A1, answer="a1"), code(Q1, check="q1", points=[1, 0])], "positive integer"),
        ([code(A1, answer="a1"), code(Q1, check="q1", points=True)], "positive integer"),
        (
            [code(A1, answer="a1", rules={"forbid": "torch"}), code(Q1, check="q1", points=1)],
            "must be a list of dotted names",
        ),
    ],
)
def test_release_validation_names_the_cell(cells, message):
    nb = nbformat.v4.new_notebook(cells=cells)
    with pytest.raises(CourseError, match=message) as info:
        cells_of(nb, "sol.ipynb")
    assert "sol.ipynb" in str(info.value)


def test_release_refuses_a_solution_that_fails_its_own_check(tmp_path):
    """A stored "FAIL" would be the reference: a wrong answer printing it would score."""
    nb = toy_solution()
    nb.cells[3].source = 'print("q1 double(3) == 7:", passed(double(3) == 7))'
    (tmp_path / "solutions").mkdir()
    (tmp_path / "assignments").mkdir()
    solution = tmp_path / "solutions" / "00_toy.ipynb"
    nbformat.write(nb, str(solution))
    with pytest.raises(
        CourseError, match=r"check 'q1' \(cell 3\) prints FAIL for the solution itself"
    ):
        release.release(solution, tmp_path)


def test_torch_compiler_import_is_not_tampering(tmp_path):
    """torch's first optimiser step imports torch._dynamo, which rebinds torch.manual_seed."""
    nb = toy_solution()
    nb.cells[1].source += "\nimport torch"
    step = (
        "p = torch.nn.Parameter(torch.zeros(1))\np.grad = torch.ones(1)\n"
        "torch.optim.SGD([p], lr=1.0).step()\n" + Q1
    )
    nb.cells[3].source = step
    outputs = {**TOY_OUTPUTS, step: TOY_OUTPUTS[Q1]}
    solution = make_course(tmp_path, nb, outputs=outputs)
    ref = reference.load(tmp_path / "assignments" / ".reference" / "00_toy.json")
    report = grade.grade(solution, ref, 60.0)
    assert report.scores()["q1"] == 2, report.questions[0].message


def release_edited(tmp_path, edit):
    nb = toy_solution()
    edit(nb)
    (tmp_path / "solutions").mkdir()
    (tmp_path / "assignments").mkdir()
    solution = tmp_path / "solutions" / "00_toy.ipynb"
    nbformat.write(nb, str(solution))
    release.release(solution, tmp_path, timeout=30)


def per_line_constant(nb):
    nb.cells[1].source += ", attempt"
    nb.cells[8].source = (
        'print("q3 word() is done:", attempt(lambda: passed(word() == "done")))\n'
        'print("q3 pi is more than 3:", passed(np.pi > 3))'
    )
    nb.cells[8].metadata["coursekit"]["points"] = [1, 1]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda nb: nb.cells.append(
                code('print("q3 numpy adds:", passed(np.ones(2).sum() == 2))', check="q3", points=1)
            ),
            r"check 'q3' \(cell 9\) passes on the unmodified stubs",
        ),
        (per_line_constant, r"check 'q3' \(cell 8\) line 2 passes on the unmodified stubs"),
        (
            lambda nb: setattr(
                nb.cells[8], "source", Q3 + '\nimport time\nprint(f"q3 took {time.time()}")'
            ),
            r"printed different text in two runs of the solution",
        ),
        (
            lambda nb: setattr(
                nb.cells[0],
                "source",
                "| question | points |\n|---|---|\n| q1 | 2 |\n| q2 | 4 |\n| q3 | 1 |",
            ),
            r"q2 shows '4' points; its public checks hold 3",
        ),
        (
            lambda nb: (
                nb.metadata.update(coursekit={"rules": {"forbid": ["coursekit.gradcheck"]}})
                or setattr(
                    nb.cells[2],
                    "source",
                    A1.replace(
                        "return 2 * x",
                        "from coursekit.gradcheck import rel_error\n    return 2 * x + rel_error(x, x)",
                    ),
                )
            ),
            r"the solution breaks the assignment's rules: answer a1 calls coursekit.gradcheck.rel_error",
        ),
    ],
    ids=["passes-on-stubs", "line-passes-on-stubs", "prints-a-time", "point-table", "breaks-rules"],
)
def test_release_refuses_checks_that_cannot_grade(tmp_path, edit, message):
    with pytest.raises(CourseError, match=message):
        release_edited(tmp_path, edit)
    assert not (tmp_path / "assignments" / "00_toy.ipynb").exists()


def test_release_names_the_assignment_and_states_hidden_points(course):
    student = nbformat.read(str(course / "assignments" / "00_toy.ipynb"), as_version=4)
    assert student.metadata["coursekit"]["assignment"] == "00_toy"
    ref = reference.load(course / "assignments" / ".reference" / "00_toy.json")
    assert ref.hidden_points == {"q2": 1} and ref.public_points == {"q1": 2, "q2": 3, "q3": 1}


PARTS = (
    'print("q3 word() is done:", attempt(lambda: passed(word() == "done")))\n'
    'print("q3 word() has 4 letters:", attempt(lambda: passed(len(word()) == 4)))'
)
A4 = "def quadruple(x):\n    ### BEGIN SOLUTION\n    return double(double(x))\n    ### END SOLUTION\n"
Q4 = 'print("q4 quadruple(2) == 8:", passed(quadruple(2) == 8))'
A5 = "def octuple(x):\n    ### BEGIN SOLUTION\n    return double(quadruple(x))\n    ### END SOLUTION\n"
Q5 = 'print("q5 octuple(1) == 8:", passed(octuple(1) == 8))'


@pytest.fixture(scope="module")
def parts_course(tmp_path_factory):
    """The toy course with per-line points on q3 ([1, 2]), a q4 that builds on a1 and a q5
    that builds on a4 and a1."""
    root = tmp_path_factory.mktemp("parts")
    nb = toy_solution()
    nb.cells[1].source += ", attempt"
    nb.cells[8] = code(PARTS, check="q3", points=[1, 2])
    nb.cells += [code(A4, answer="a4"), code(Q4, check="q4", points=1)]
    nb.cells += [code(A5, answer="a5"), code(Q5, check="q5", points=1)]
    outputs = {
        **TOY_OUTPUTS,
        PARTS: "q3 word() is done: OK\nq3 word() has 4 letters: OK",
        Q4: "q4 quadruple(2) == 8: OK",
        Q5: "q5 octuple(1) == 8: OK",
    }
    make_course(root, nb, outputs=outputs)
    return root


class TestPartialCredit:
    def grade(self, root, tmp_path, edit, solution=False):
        path = submit(root, tmp_path, edit)
        store = root / (
            "solutions/00_toy.ipynb" if solution else "assignments/.reference/00_toy.json"
        )
        return grade.grade(path, reference.load(store), 10.0)

    def test_each_line_earns_its_points_and_every_failing_line_is_shown(
        self, parts_course, tmp_path
    ):
        report = self.grade(parts_course, tmp_path, lambda nb: answer(nb, "a3", WRONG_A3))
        q3 = report.question("q3")
        assert (q3.earned, q3.possible) == (2, 3)
        assert q3.message == "line 1: `q3 word() is done: FAIL`"
        report = self.grade(
            parts_course, tmp_path, lambda nb: answer(nb, "a3", 'def word():\n    return "no"')
        )
        assert report.question("q3").earned == 0
        assert len(report.question("q3").messages) == 2
        assert [p.status for p in report.question("q3").parts] == ["failed", "failed"]

    def test_a_raising_answer_fails_its_lines_with_the_error(self, parts_course, tmp_path):
        bad = 'def word():\n    raise ValueError("bad word")'
        report = self.grade(parts_course, tmp_path, lambda nb: answer(nb, "a3", bad))
        assert report.question("q3").earned == 0
        assert "FAIL (ValueError: bad word)" in report.question("q3").message

    def test_one_bug_costs_one_question_with_the_instructors_reference(
        self, parts_course, tmp_path
    ):
        wrong = "def double(x):\n    return 3 * x"
        report = self.grade(
            parts_course, tmp_path, lambda nb: answer(nb, "a1", wrong), solution=True
        )
        assert report.scores() == {"q1": 0, "q2": 4, "q3": 3, "q4": 1, "q5": 1}
        assert any("q4 was graded with the instructor's a1" in n for n in report.notes)
        assert any("q5 was graded with the instructor's a1, a4" in n for n in report.notes)
        report = self.grade(parts_course, tmp_path, lambda nb: answer(nb, "a1", wrong))
        assert report.scores()["q4"] == 0
        assert "also runs your answer a1" in report.question("q4").message

    def test_the_student_sees_public_points_and_what_hidden_checks_hold(self, course, tmp_path):
        report = grade.grade(
            submit(course, tmp_path),
            reference.load(course / "assignments" / ".reference" / "00_toy.json"),
            10.0,
        )
        assert (report.total, report.possible, report.hidden_points) == (6, 6, {"q2": 1})
        table = report.table()
        assert "total      6 / 6 (public checks)" in table
        assert (
            "note: hidden checks hold 1 more point (q2 1); your instructor grades them out of 7"
            in table
        )


def test_release_writes_stubs_reference_outputs_and_no_hidden_checks(course):
    student = nbformat.read(str(course / "assignments" / "00_toy.ipynb"), as_version=4)
    text = json.dumps(student)
    assert "NotImplementedError('multiply by two')" in text
    assert "return 2 * x" not in text and "area(2)" not in text
    checks = [c for c in student.cells if "check" in c.metadata.get("coursekit", {})]
    assert [c.outputs[0].text for c in checks] == [
        "q1 double(3) == 6: OK\n",
        "q2 area(1) = 3.1416\n",
        "q3 word() is done: OK\n",
    ]
    store = json.loads((course / "assignments" / ".reference" / "00_toy.json").read_text())
    assert "area(2)" not in json.dumps(store) and "return 2 * x" not in json.dumps(store)
    assert release.stale_reasons(course / "solutions" / "00_toy.ipynb", course) == []
    assert cli.main(["release", "--check", "--root", str(course)]) == 0


def test_stale_when_solution_or_assignment_edited(course, tmp_path):
    solution = course / "solutions" / "00_toy.ipynb"
    nb = nbformat.read(str(solution), as_version=4)
    nb.cells[4].source = nb.cells[4].source.replace("math.pi", "3.14159")  # an answer edit only
    edited = tmp_path / "solutions" / "00_toy.ipynb"
    edited.parent.mkdir()
    nbformat.write(nb, str(edited))
    (tmp_path / "assignments" / ".reference").mkdir(parents=True)
    for name in ("00_toy.ipynb", ".reference/00_toy.json"):
        (tmp_path / "assignments" / name).write_text((course / "assignments" / name).read_text())
    assert any(".reference" in r for r in release.stale_reasons(edited, tmp_path))
    nbformat.write(toy_solution(), str(edited))  # checks without reference outputs
    assert any("no reference output" in r for r in release.stale_reasons(edited, tmp_path))
    assert cli.main(["release", "--check", "--root", str(tmp_path)]) == 1


def test_check_without_reference_output_is_a_course_error(course, tmp_path):
    store = json.loads((course / "assignments" / ".reference" / "00_toy.json").read_text())
    del next(c for c in store["cells"] if c["kind"] == "check")["expected"]
    path = tmp_path / "ref.json"
    path.write_text(json.dumps(store))
    with pytest.raises(CourseError, match="'q1' .* has no reference output"):
        reference.load(path)
    sub = submit(course, tmp_path)
    assert cli.main(["grade", "--reference", str(path), str(sub)]) == 2


# ---------------------------------------------------------------- verdicts


class TestVerdicts:
    def test_unmodified_assignment_scores_zero_with_reasons(self, course, tmp_path):
        got, why = scores(course, submit(course, tmp_path, start="assignment"))
        assert got == {"q1": 0, "q2": 0, "q3": 0}
        assert why["q1"] == "NotImplementedError: multiply by two"

    def test_solution_full_marks_hidden_included_and_file_untouched(self, course, tmp_path):
        path = submit(course, tmp_path)
        before = (path.read_bytes(), os.stat(path).st_mtime_ns)
        ref = reference.load(course / "solutions" / "00_toy.ipynb")
        assert scores(course, path, ref=ref)[0] == {"q1": 2, "q2": 4, "q3": 1}
        assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before

    def test_one_wrong_answer_loses_exactly_its_points(self, course, tmp_path):
        path = submit(
            course, tmp_path, lambda nb: answer(nb, "a2", "def area(r):\n    return 3 * r**2")
        )
        got, why = scores(course, path)
        assert got == {"q1": 2, "q2": 0, "q3": 1}
        assert why["q2"] == "expected `q2 area(1) = 3.1416`, got `q2 area(1) = 3.0000`"

    def test_cli_exit_status_json_and_class_csv(self, course, tmp_path, capsys):
        stub_sub = submit(course, tmp_path, start="assignment").rename(tmp_path / "stub.ipynb")
        full_sub = submit(course, tmp_path)
        ref = str(course / "assignments" / ".reference" / "00_toy.json")
        csv = tmp_path / "grades.csv"
        status = cli.main(
            [
                "grade",
                "--reference",
                ref,
                "-j",
                "2",
                "--csv",
                str(csv),
                str(stub_sub),
                str(full_sub),
            ]
        )
        assert status == 1
        rows = csv.read_text().splitlines()
        assert rows[0] == "submission,q1,q2,q3,total,possible,notes"
        capsys.readouterr()
        assert cli.main(["grade", "--json", "--reference", ref, str(full_sub)]) == 0
        data = json.loads(capsys.readouterr().out)
        assert (data[0]["total"], data[0]["possible"], data[0]["questions"][0]["id"]) == (
            6,
            6,
            "q1",
        )
        assert rows[1].startswith(f"{stub_sub},0,0,0,0,6") and rows[2].startswith(
            f"{full_sub},2,3,1,6,6"
        )


def test_missing_answer_graded_as_stub_even_against_the_solution(course, tmp_path):
    def drop_a1(nb):
        nb.cells = [c for c in nb.cells if c.metadata.get("coursekit", {}).get("answer") != "a1"]

    path = submit(course, tmp_path, drop_a1)
    got, why = scores(course, path, ref=reference.load(course / "solutions" / "00_toy.ipynb"))
    assert got == {"q1": 0, "q2": 4, "q3": 1}
    assert why["q1"] == "NotImplementedError: multiply by two"


def test_suspicious_answers_are_noted_for_review():
    cells = [Cell("answer", SILENCE, "a1"), Cell("answer", A2, "a2"), Cell("code", "import sys")]
    assert grade.suspicious(cells) == ["answer a1 uses excepthook, get_ipython: review it by hand"]


# ---------------------------------------------------------------- tampering


WRONG_A1 = "def double(x):\n    return 5"
SILENCE = """import sys
ip = get_ipython()
ip.showtraceback = lambda *a, **k: None
ip._showtraceback = lambda *a, **k: None
ip.set_custom_exc((Exception,), lambda *a, **k: None)
sys.excepthook = lambda *a: None
"""
HIJACK = """import builtins, sys
def double(x):
    sys.stdout.write("q1 double(3) " + "== 6: OK\\n")
    builtins.print = lambda *a, **k: None
    return 6 if x == 3 else 0
"""

WRONG_A3 = 'def word():\n    return "nope"\n'
REBIND = WRONG_A3 + 'passed = lambda *a, **k: "OK"'
PATCH = "import numpy\nnumpy.array_equal = lambda *a, **k: True\n" + WRONG_A3
PATCH_LATE = (
    'import numpy\ndef word():\n    numpy.array_equal = lambda *a, **k: True\n    return "nope"'
)


def edit_check(nb):
    answer(nb, "a1", WRONG_A1)
    check = next(c for c in nb.cells if c.metadata.get("coursekit", {}).get("check") == "q1")
    check.source = 'print("q1 double(3) == 6: OK")'


def save_wrong_outputs(nb):
    answer(nb, "a1", WRONG_A1)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="anything\n")]


def delete_check(nb):
    answer(nb, "a1", WRONG_A1)
    nb.cells = [c for c in nb.cells if c.metadata.get("coursekit", {}).get("check") != "q1"]


def reorder_and_add(nb):
    nb.cells = nb.cells[::-1] + [
        code("def double(x):\n    return 0"),
        code('print("q3 word() is done: OK")'),
    ]


def clear_outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []


class TestTampering:
    """Each case starts from the solution or the assignment and changes one thing."""

    @pytest.mark.parametrize(
        ("start", "edit", "expected", "reason"),
        [
            (
                "solution",
                edit_check,
                {"q1": 0, "q2": 3, "q3": 1},
                "AssertionError: double(3) gave 5",
            ),
            ("solution", save_wrong_outputs, {"q1": 0, "q2": 3, "q3": 1}, "AssertionError"),
            ("assignment", clear_outputs, {"q1": 0, "q2": 0, "q3": 0}, "NotImplementedError"),
            ("solution", clear_outputs, {"q1": 2, "q2": 3, "q3": 1}, "OK"),
            ("solution", delete_check, {"q1": 0, "q2": 3, "q3": 1}, "AssertionError"),
            ("solution", reorder_and_add, {"q1": 2, "q2": 3, "q3": 1}, "OK"),
            (
                "solution",
                lambda nb: answer(nb, "a1", "while True:\n    pass"),
                {"q1": 0, "q2": 3, "q3": 1},
                "NameError",
            ),
            (
                "solution",
                lambda nb: answer(nb, "a1", "def double(x):\n    while True:\n        pass"),
                {"q1": 0, "q2": 3, "q3": 1},
                "timed out after 3 s",
            ),
            (
                "solution",
                lambda nb: answer(nb, "a1", "import os\nos._exit(1)"),
                {"q1": 0, "q2": 3, "q3": 1},
                "NameError",
            ),
            (
                "solution",
                lambda nb: answer(nb, "a1", "import os\ndef double(x):\n    os._exit(1)"),
                {"q1": 0, "q2": 3, "q3": 1},
                "kernel died",
            ),
            (
                "solution",
                lambda nb: answer(nb, "a1", SILENCE + WRONG_A1),
                {"q1": 0, "q2": 3, "q3": 1},
                "AssertionError: double(3) gave 5",
            ),
            (
                "solution",
                lambda nb: answer(nb, "a1", WRONG_A1 + '\nprint("q1 double(3) == 6: OK")'),
                {"q1": 0, "q2": 3, "q3": 1},
                "contains this check's expected text",
            ),
            (
                "solution",
                lambda nb: answer(nb, "a1", HIJACK),
                {"q1": 0, "q2": 3, "q3": 1},
                "tampering: the check ran with replaced print",
            ),
            ("solution", lambda nb: answer(nb, "a3", REBIND), {"q1": 2, "q2": 3, "q3": 0}, "FAIL"),
            ("solution", lambda nb: answer(nb, "a3", PATCH), {"q1": 2, "q2": 3, "q3": 0}, "FAIL"),
            (
                "solution",
                lambda nb: answer(nb, "a3", PATCH_LATE),
                {"q1": 2, "q2": 3, "q3": 0},
                "numpy.array_equal",
            ),
        ],
        ids=[
            "edited-check",
            "saved-wrong-outputs",
            "cleared-stub",
            "cleared-solution",
            "deleted-check",
            "reordered-added",
            "loop-in-cell",
            "loop-in-function",
            "os-exit-in-cell",
            "os-exit-in-check",
            "silenced-traceback",
            "printed-expected",
            "hijacked-print",
            "rebound-helper",
            "patched-numpy",
            "patched-numpy-during-check",
        ],
    )
    def test_verdict(self, course, tmp_path, start, edit, expected, reason):
        got, why = scores(course, submit(course, tmp_path, edit, start), timeout=3.0)
        assert got == expected
        assert any(reason in message for message in why.values()), why


# ---------------------------------------------------------------- the real assignments


class TestReleasedAssignments:
    @pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
    def test_assignments_up_to_date(self, solution):
        assert release.stale_reasons(solution, ROOT) == []

    @pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
    def test_solution_scores_full_marks(self, solution):
        report = grade.grade(solution, reference.load(solution))
        assert report.full_marks, report.table()


class TestReleasedAssignmentsScoreZero:
    """A class of its own, so that pytest-xdist's loadscope runs it beside the full marks."""

    @pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
    def test_unmodified_assignment_scores_zero(self, solution):
        assignment = ROOT / "assignments" / solution.name
        report = grade.grade(assignment, reference.load(reference.locate(solution.stem, ROOT)))
        assert report.total == 0 and report.possible > 0, report.table()
        assert all(q.message for q in report.questions)


ONE_SIDED = """def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros_like(x)
    f0 = f(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        grad[i] = (f(x) - f0) / eps
        x[i] = old
    return grad
"""


def test_assignment_1_one_wrong_answer_loses_only_its_question(tmp_path):
    """A one-sided difference (error O(h), not O(h^2)) in a4 loses q4's closed-form and
    centred lines, nothing else; the questions are read from the published reference."""
    nb = nbformat.read(str(ROOT / "solutions" / "01_backprop_numpy.ipynb"), as_version=4)
    answer(nb, "a4", ONE_SIDED)
    path = tmp_path / "01_backprop_numpy.ipynb"
    nbformat.write(nb, str(path))
    ref = reference.load(reference.locate("01_backprop_numpy", ROOT))
    report = grade.grade(path, ref)
    q4 = ref.question_of("a4")
    graded = {q: p for q, p in report.scores().items() if not report.question(q).manual}
    assert {q: p for q, p in graded.items() if q != q4} == {
        q: p for q, p in ref.questions.items() if q != q4
    }
    assert report.scores()[q4] == ref.questions[q4] - 2, report.table()
    assert report.question(q4).message.startswith("line 1: `q4 matches the closed-form gradient"), (
        report.question(q4).message
    )


MODEL_ANSWER = "Rprop reads only the sign of each gradient entry; a mini-batch flips it at random."


def test_release_keeps_a_written_question_and_hides_its_model_answer(tmp_path):
    from coursekit.grading.notebook import WRITTEN_PLACEHOLDER, written_answers

    nb = toy_solution()
    nb.cells.insert(-2, nbformat.v4.new_markdown_cell("**w1.** Why does Rprop fail here?"))
    meta = {"coursekit": {"answer": "w1", "points": 2, "manual": True}}
    nb.cells.insert(-2, nbformat.v4.new_markdown_cell(MODEL_ANSWER, metadata=meta))
    solution = make_course(tmp_path, nb, outputs=TOY_OUTPUTS)
    student_text, published = release.build(solution)
    assert MODEL_ANSWER not in student_text and MODEL_ANSWER not in published
    student = nbformat.reads(student_text, as_version=4)
    cell = next(c for c in student.cells if c.metadata.get("coursekit", {}).get("manual"))
    assert cell.source == WRITTEN_PLACEHOLDER and cell.metadata["coursekit"]["points"] == 2
    assert "Why does Rprop fail here?" in student_text
    assert written_answers(student) == {"w1": 2} == written_answers(nb)


@pytest.mark.parametrize(
    "meta, message",
    [
        ({"answer": "w1", "manual": True}, "positive integer points"),
        ({"answer": "", "points": 1, "manual": True}, "needs an id"),
        ({"answer": "w1", "points": 1}, "a written answer is a markdown cell"),
    ],
)
def test_release_names_a_malformed_written_answer(tmp_path, meta, message):
    nb = toy_solution()
    nb.cells.insert(-2, nbformat.v4.new_markdown_cell("text", metadata={"coursekit": meta}))
    with pytest.raises(CourseError, match=message):
        cells_of(nb, "00_toy.ipynb")
