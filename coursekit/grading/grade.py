"""Grading submissions: answers from the student, everything else from the reference.

The pipeline (each step a function, so that other front ends can reuse it):

1. :func:`read_submission`: the file as JSON, or a :class:`SubmissionError` with one
   clear line (missing, empty, not JSON with line and column, not a notebook, nbformat
   older than 4);
2. :func:`check_identity`: a notebook released for another assignment is refused;
3. :func:`answers_of` and :func:`assemble`: the reference's cells with the student's
   answer cells in place of the stubs (a missing answer, or one turned into markdown,
   is graded as its stub, with a note);
4. :func:`run_program`: setup, answers and checks in one kernel, each between the guard's
   cells; what each check printed, what the answers called that the rules forbid;
5. :func:`score_check`: per part of each check, :class:`~.results.CheckResult`;
6. :func:`regrade_dependents` (instructor's reference only): a question that lost points
   while an answer it builds on also lost points is run again with the instructor's
   version of that answer, and keeps the better score, so one bug costs one question;
7. :func:`report`: the :class:`~.results.Report`.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from ..checks import error_hint
from . import reference as references
from .kernel_guard import rule_match
from .notebook import (
    WRITTEN_PLACEHOLDER,
    Cell,
    CourseError,
    normalise,
    stub,
    top_level_names,
    used_names,
)
from .results import CheckResult, LineResult, Question, Report
from .runner import Kernel, Result

DEFAULT_TIMEOUT = 30.0


class SubmissionError(Exception):
    """A submitted file that cannot be graded (missing, not a notebook, another
    assignment's). The message is one line naming the file."""


# ---------------------------------------------------------------- reading the submission


def read_submission(path) -> dict:
    """A submission's JSON, read without ever opening it for writing.

    Plain JSON rather than ``nbformat``: a notebook that fails schema validation still
    has answer cells worth grading.
    """
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"{path}: no such file")
    if path.is_dir():
        raise SubmissionError(f"{path}: a directory, not a notebook (.ipynb) file")
    data = path.read_bytes()
    if not data.strip():
        raise SubmissionError(f"{path}: the file is empty ({len(data)} bytes), not a notebook")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(
            f"{path}: not a text file (byte {exc.start} is not UTF-8), so not a notebook"
        ) from None
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "a notebook saved by Jupyter is JSON: was it edited by hand or cut short?"
        ) from None
    if not isinstance(nb, dict) or not ("cells" in nb or "worksheets" in nb):
        raise SubmissionError(f"{path}: JSON, but not a Jupyter notebook (it has no 'cells')")
    major = nb.get("nbformat")
    if isinstance(major, int) and not isinstance(major, bool) and major < 4:
        raise SubmissionError(
            f"{path}: notebook format {major} is too old (format 4 is needed): open and save "
            "it in a current Jupyter, or run `jupyter nbconvert --to notebook --nbformat 4`"
        )
    if not isinstance(nb.get("cells"), list):
        raise SubmissionError(f"{path}: JSON, but not a Jupyter notebook (no list of cells)")
    return nb


def assignment_of(nb: dict) -> str | None:
    """The assignment a notebook was released for (``metadata.coursekit.assignment``)."""
    meta = nb.get("metadata")
    role = meta.get("coursekit") if isinstance(meta, dict) else None
    name = role.get("assignment") if isinstance(role, dict) else None
    return name if isinstance(name, str) and name else None


def check_identity(nb: dict, ref: references.Reference, path, notes: list[str]) -> None:
    """Refuse a notebook released for another assignment; note one that does not say."""
    name = assignment_of(nb)
    if name is None:
        notes.append(f"the notebook does not say which assignment it is; graded as {ref.name}")
    elif name != ref.name:
        raise SubmissionError(
            f"{path}: a notebook of assignment {name!r}, not {ref.name!r}: grade it against "
            f"{name}'s reference"
        )


def answers_of(nb: dict, notes: list[str], bad: dict[str, str] | None = None) -> dict[str, str]:
    """Answer id -> source of the submission's answer cells (the first one of each id).

    An answer cell that is no longer a code cell is not graded; ``bad`` gets answer id ->
    why, and ``notes`` a line.
    """
    answers: dict[str, str] = {}
    bad = {} if bad is None else bad
    for cell in nb["cells"]:
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        role = meta.get("coursekit") if isinstance(meta, dict) else None
        key = role.get("answer") if isinstance(role, dict) else None
        if not isinstance(key, str):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if isinstance(role, dict) and role.get("manual") is True:
            if cell.get("cell_type") == "markdown":
                continue  # a written answer: see written_of
        if cell.get("cell_type") != "code":
            if key not in answers and key not in bad:
                bad[key] = (
                    f"answer cell {key} is a {cell.get('cell_type')} cell, not code: change it "
                    "back to a Code cell (its stub was graded)"
                )
                notes.append(bad[key])
            continue
        if key in answers:
            notes.append(f"answer {key} appears more than once; the first one was graded")
        else:
            answers[key] = source
            if key in bad:
                notes.remove(bad.pop(key))
    return answers


def written_of(nb: dict, ref: references.Reference) -> dict[str, str]:
    """Written answer id -> the student's text (``""``: none, or the placeholder left as
    released), for the written answers the reference knows."""
    found: dict[str, str] = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        role = meta.get("coursekit") if isinstance(meta, dict) else None
        key = role.get("answer") if isinstance(role, dict) else None
        if key not in ref.written or key in found:
            continue
        source = cell.get("source", "")
        text = ("".join(source) if isinstance(source, list) else str(source)).strip()
        found[key] = "" if text in ("", WRITTEN_PLACEHOLDER) else text
    return {key: found.get(key, "") for key in ref.written}


def add_written(result: Report, ref: references.Reference, texts: dict[str, str]) -> None:
    """Rows for the written answers: their points count in ``possible``; ``earned`` stays 0
    and ``scored`` false until a person's scores are folded in (``manual.apply``)."""
    for key, spec in ref.written.items():
        points = int(spec["points"])
        text = texts.get(key, "")
        message = f"graded by hand: {points} point{'s' if points != 1 else ''}, not yet scored"
        if not text:
            message += " (no answer written)"
        result.questions.append(Question(key, 0, points, message, [], manual=True, scored=False))
        result.answers[key] = text
        result.answer_questions[key] = key


def assemble(ref: references.Reference, answers: dict[str, str], notes: list[str]) -> list[Cell]:
    """The reference's cells with the submission's answers in place of its answer cells."""
    cells = []
    for cell in ref.cells:
        if cell.kind == "answer" and cell.key in answers:
            cell = Cell("answer", answers[cell.key], cell.key, index=cell.index)
        elif cell.kind == "answer":  # a solution's answer must not stand in for a missing one
            if not any(cell.key in n for n in notes):
                notes.append(f"answer cell {cell.key} is missing; its stub was graded")
            cell = Cell("answer", stub(cell.source), cell.key, index=cell.index)
        cells.append(cell)
    return cells


SUSPICIOUS = re.compile(
    r"get_ipython|sys\.modules|builtins|sys\.std(?:out|err)|excepthook|os\._exit|"
    r"threading|ctypes|\bgc\b|kernel_guard|clear_output|__import__|setattr\(|"
    r"set(?:profile|trace)"
)


def suspicious(cells: list[Cell]) -> list[str]:
    """Notes for a human: answer cells that reach for the interpreter's machinery."""
    notes = []
    for cell in cells:
        found = sorted(set(SUSPICIOUS.findall(cell.source))) if cell.kind == "answer" else []
        if found:
            notes.append(f"answer {cell.key} uses {', '.join(found)}: review it by hand")
    return notes


def one_line(text: str, limit: int = 200) -> str:
    """An error message on one line, without ANSI codes, at most ``limit`` characters."""
    text = " ".join(normalise(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def faked(check: Cell, cells: list[Cell]) -> str | None:
    """Name the answer cell whose source contains a line of ``check``'s expected output."""
    lines = [line.strip() for line in (check.expected or "").splitlines()]
    lines = [line for line in lines if len(line) >= 10 and any(ch.isalpha() for ch in line)]
    for cell in cells:
        if cell.kind == "answer" and any(line in cell.source for line in lines):
            return f"answer cell {cell.key} contains this check's expected text; not graded"
    return None


# ---------------------------------------------------------------- hints for errors


def hint_for(error: str) -> str:
    """A hint for a check that failed with ``error`` (see ``coursekit.checks.error_hint``)."""
    m = re.search(r"NameError: name '(\w+)' is not defined", error)
    if m:
        return (
            f"`{m.group(1)}` is not defined: did its answer cell run without error, with the "
            "name spelled as in the stub?"
        )
    return error_hint(error)


# ---------------------------------------------------------------- scoring


_UNANSWERED = re.compile(r"FAIL \(not answered yet: (.*)\)$")


def _describe(expected: str, got: str | None) -> str:
    m = _UNANSWERED.search(got or "")
    if m:  # the stub still raises: its hint says it all
        return f"not answered yet: {m.group(1)}"
    if got is None:
        return f"not printed; expected `{expected}`"
    if expected.endswith("OK") and got.startswith(expected[:-2]) and len(expected) > 2:
        return f"`{got}`"  # the label matches: the verdict says it all
    return f"expected `{expected}`, got `{got}`"


def score_check(
    cell: Cell, result: Result | None, reason: tuple[str, str] | None = None
) -> list[CheckResult]:
    """The parts of one check cell: what it printed against its reference output.

    ``reason`` = (status, message), e.g. ``("delegated", ...)``, fails every part whatever
    the output.
    """
    expected = (cell.expected or "").splitlines()
    got = result.output.splitlines() if result is not None else []
    status = result.status if result is not None else "not run"
    error = "" if result is None or status == "ok" else one_line(result.error)
    hint = hint_for(result.error) if result is not None and result.error else ""
    if hint:
        error = f"{error} (hint: {hint})"
    lines = [
        LineResult(i + 1, text, got[i] if i < len(got) else None, i < len(got) and got[i] == text)
        for i, text in enumerate(expected)
    ]
    points = cell.points if isinstance(cell.points, list) else [cell.points]
    groups = [[line] for line in lines] if isinstance(cell.points, list) else [lines]

    def part(i, group, state, message):
        earned = points[i] if state == "passed" else 0
        return CheckResult(
            cell.key, cell.index, i, points[i], earned, cell.hidden, state, group, message
        )

    if reason is not None:
        return [part(i, g, reason[0], reason[1]) for i, g in enumerate(groups)]
    if result is None:
        return [part(i, g, "not run", "not run") for i, g in enumerate(groups)]
    if status in ("tampered", "dead"):
        msg = (
            f"tampering: {error}"
            if status == "tampered"
            else ("the kernel died during this check (os._exit or a crash); it was restarted")
        )
        return [part(i, g, status, msg) for i, g in enumerate(groups)]
    parts = []
    for i, group in enumerate(groups):
        if isinstance(cell.points, list):
            ok = group[0].ok
        else:
            ok = (
                status == "ok"
                and [line.got for line in lines] == expected
                and len(got) == len(expected)
            )
        if ok:
            parts.append(part(i, group, "passed", ""))
            continue
        bad = [line for line in group if not line.ok]
        described = []
        for line in bad:
            if line.got is None and error:
                described.append(error)
                break
            text = _describe(line.expected, line.got)
            several = len(expected) > 1 and not text.startswith("not answered yet")
            described.append((f"line {line.line}: " if several else "") + text)
        if not bad:  # all lines matched, but the check then failed or printed more
            described = [error or f"printed {len(got) - len(expected)} more line(s) than expected"]
        state = "failed" if status == "ok" or not error else status
        parts.append(part(i, group, state, "\n".join(dict.fromkeys(described))))
    return parts


# ---------------------------------------------------------------- running


def dependencies(cells: list[Cell], ref: references.Reference) -> dict[str, list[str]]:
    """Question -> the other answers its answers and checks use (transitively), in order."""
    order = [c.key for c in cells if c.kind == "answer"]
    defines: dict[str, str] = {}
    for cell in cells:
        if cell.kind == "answer":
            for name in top_level_names(cell.source):
                defines.setdefault(name, cell.key)
    uses = {c.key: used_names(c.source) for c in cells if c.kind == "answer"}
    found: dict[str, list[str]] = {}
    for q in ref.questions:
        own = {a for a in order if ref.question_of(a) == q}
        names = set().union(
            set(), *(used_names(c.source) for c in cells if c.kind == "check" and c.key == q)
        )
        names |= set().union(set(), *(uses[a] for a in own))
        seen, deps = set(own), []
        while names:
            new = list(
                dict.fromkeys(defines[n] for n in names if n in defines and defines[n] not in seen)
            )
            names = set()
            for a in new:
                seen.add(a)
                deps.append(a)
                names |= uses.get(a, set())
        found[q] = sorted(deps, key=order.index)
    return found


def _imports(tree) -> dict[str, str]:
    """Name -> dotted module path bound by the imports of a parsed cell."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                bound[a.asname or a.name.split(".")[0]] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                bound[a.asname or a.name] = f"{node.module}.{a.name}"
    return bound


def static_violations(cells: list[Cell], ref: references.Reference) -> dict[str, list[str]]:
    """Question -> names an answer's code uses that its rules forbid, read from the source:
    ``scipy.special.expit`` or ``torch.optim.Adam`` written out (a C function or a ufunc
    that the kernel's call monitor cannot see), imported by the answer or by a setup cell."""
    setup: dict[str, str] = {}
    for cell in cells:
        if cell.kind == "code":
            try:
                setup.update(_imports(ast.parse(cell.source)))
            except SyntaxError:
                pass
    found: dict[str, list[str]] = {}
    for cell in cells:
        if cell.kind != "answer":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        rules, question = ref.rules_for(cell.key), ref.question_of(cell.key)
        bound = {**setup, **_imports(tree)}
        parents = {
            id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
                continue
            if node.id not in bound:
                continue
            dotted, top = bound[node.id], id(node)
            while isinstance(parent := parents.get(top), ast.Attribute):
                dotted += "." + parent.attr
                top = id(parent)
            prefix = rule_match(dotted, rules["forbid"], rules["allow"])
            if prefix:
                box = found.setdefault(question or "?", [])
                message = f"answer {cell.key} uses {dotted} (the rules forbid {prefix})"
                if message not in box:
                    box.append(message)
    return found


def _merge_events(into: dict[str, list[str]], result: Result) -> None:
    for question, messages in (result.events or {}).get("violations", {}).items():
        box = into.setdefault(question, [])
        box += [m for m in messages if m not in box]


def run_program(
    kernel: Kernel, cells: list[Cell], notes: list[str], only=None
) -> tuple[dict[int, Result], dict[str, list[str]]]:
    """Execute the program; check cell position -> its result, and question -> the
    rules its answers broke. ``only``: run the checks of these questions alone."""
    results: dict[int, Result] = {}
    violations: dict[str, list[str]] = {}
    for i, cell in enumerate(cells):
        if cell.kind == "check":
            if only is None or cell.key in only:
                results[i] = kernel.run_check(cell.source, cell.key)
                _merge_events(violations, results[i])
            continue
        if cell.kind == "answer":
            result = kernel.run_answer(cell.source, cell.key)
        else:
            result = kernel.run_setup(cell.source)
        _merge_events(violations, result)
        if result.status != "ok":
            what = f"answer {cell.key}" if cell.kind == "answer" else f"setup cell {cell.index}"
            died = "the kernel died; it was restarted" if result.status == "dead" else ""
            notes.append(f"{what}: {died or one_line(result.error)}")
    return results, violations


def _score(cells, results, violations, fakes, only=None) -> dict[str, list[CheckResult]]:
    parts: dict[str, list[CheckResult]] = {}
    for i, cell in enumerate(cells):
        if cell.kind != "check" or (only is not None and cell.key not in only):
            continue
        reason = None
        if cell.key in violations:
            reason = ("delegated", "no points: " + violations[cell.key][0])
        elif fakes.get(i):
            reason = ("faked", fakes[i])
        parts.setdefault(cell.key, []).extend(score_check(cell, results.get(i), reason))
    return parts


def regrade_dependents(
    kernel: Kernel,
    cells: list[Cell],
    ref: references.Reference,
    parts: dict[str, list[CheckResult]],
    violations: dict[str, list[str]],
    notes: list[str],
) -> None:
    """Rerun a question's checks with the instructor's answers in place of the failing
    answers it builds on (needs a solution as reference); keep the better part scores."""
    lost = {q for q, ps in parts.items() if any(p.earned < p.points for p in ps)}
    deps = dependencies(cells, ref)
    solution = {c.key: c.source for c in ref.cells if c.kind == "answer"}
    student = {c.key: c.source for c in cells if c.kind == "answer"}
    for q in [q for q in parts if q in lost and q not in violations]:
        failing = [a for a in deps.get(q, []) if ref.question_of(a) in lost]
        if not failing:
            continue
        names = ", ".join(failing)
        if not ref.solutions:
            for p in parts[q]:
                if not p.passed:
                    p.message += (
                        f"\n(this question also runs your answer {names}, whose question lost "
                        "points: fix that first)"
                    )
                    break
            continue
        for a in failing:
            kernel.run(solution[a], "reference", a, keep=False)
        for a in [c.key for c in cells if c.kind == "answer" and ref.question_of(c.key) == q]:
            kernel.run(student[a], "answer", a, keep=False)
        again: dict[int, Result] = {}
        for i, cell in enumerate(cells):
            if cell.kind == "check" and cell.key == q:
                again[i] = kernel.run_check(cell.source, q)
        for a in failing:
            kernel.run(student[a], "answer", a, keep=False)
        extra: dict[str, list[str]] = {}
        for r in again.values():
            _merge_events(extra, r)
        if q in extra:
            continue
        fresh = _score(cells, again, {}, {}, only={q})[q]
        better = False
        for k, (old, new) in enumerate(zip(parts[q], fresh, strict=True)):
            if new.earned > old.earned:
                parts[q][k], better = new, True
        if better:
            notes.append(
                f"{q} was graded with the instructor's {names} in place of yours "
                f"(which lost points elsewhere), so that one mistake costs one question"
            )


def report(submission, ref, cells, parts, violations, notes) -> Report:
    rows = []
    for q, possible in ref.questions.items():
        ps = parts.get(q, [])
        earned = sum(p.earned for p in ps)
        messages = [p.message for p in ps if not p.passed and p.message]
        message = "\n".join(dict.fromkeys(m for msg in messages for m in msg.splitlines()))
        rows.append(Question(q, earned, possible, message or ("OK" if ps else "not run"), ps))
    for q, messages in violations.items():
        for m in messages:
            notes.append(f"{q}: no points, {m}")
    return Report(str(submission), ref.name, rows, notes, dict(ref.hidden_points))


def grade_answers(
    kernel: Kernel,
    ref: references.Reference,
    answers: dict[str, str],
    submission="answers",
    notes=None,
    only=None,
) -> Report:
    """Grade answer sources (answer id -> code) in a started kernel."""
    notes = [] if notes is None else notes
    notes += [w for w in ref.warnings if w not in notes]
    cells = assemble(ref, answers, notes)
    notes += suspicious(cells)
    fakes = {i: faked(c, cells) for i, c in enumerate(cells) if c.kind == "check"}
    results, violations = run_program(kernel, cells, notes, only)
    for question, messages in static_violations(cells, ref).items():
        box = violations.setdefault(question, [])
        for m in messages:  # unless the kernel already caught the call itself
            name = m.split(" uses ", 1)[1].split(" ", 1)[0]
            if not any(f" {name} " in seen for seen in box):
                box.append(m)
    parts = _score(cells, results, violations, fakes, only)
    regrade_dependents(kernel, cells, ref, parts, violations, notes)
    if only is not None:
        ref = references.Reference(
            ref.name,
            [c for c in ref.cells if c.kind != "check" or c.key in only],
            ref.solution_hash,
            ref.rules,
            {q: p for q, p in ref.hidden_points.items() if q in only},
            ref.solutions,
        )
    return report(submission, ref, cells, parts, violations, notes)


def grade(
    submission, ref: references.Reference, timeout: float = DEFAULT_TIMEOUT, sandbox=None
) -> Report:
    """Grade one submission against a loaded reference (see the package docstring).

    ``sandbox``: a :class:`~.sandbox.Limits` to run the kernel inside bubblewrap (the
    reference is already in memory: the kernel never sees it). Raises
    :class:`SubmissionError` for a file that cannot be graded.
    """
    notes: list[str] = []
    nb = read_submission(submission)
    check_identity(nb, ref, submission, notes)
    bad: dict[str, str] = {}
    answers = answers_of(nb, notes, bad)
    with Kernel(timeout=timeout, config=ref.kernel_config(), sandbox=sandbox) as kernel:
        result = grade_answers(kernel, ref, answers, str(submission), notes)
    graded = {c.key: answers.get(c.key, stub(c.source)) for c in ref.answers()}
    result.answers = graded
    result.answer_questions = {k: ref.question_of(k) or "" for k in graded}
    add_written(result, ref, written_of(nb, ref))
    from . import hints  # hints used are reported, not penalised

    result.hints_used = hints.used(nb, submission)
    if result.hints_used:
        result.notes.append(
            f"hints used: {hints.describe(result.hints_used, nb)} (reported, not penalised)"
        )
    for key, why in bad.items():
        q = ref.question_of(key)
        if q:
            row = result.question(q)
            row.message = why if row.message == "OK" else f"{why}\n{row.message}"
    return result


class Session:
    """One kernel for many answer sets of one assignment, graded one after the other.

    For the course's own tests (plausible mistakes, delegating answers): every answer
    set gets a fresh namespace, but modules stay imported, so an answer that patches a
    module would leak into the next. Never use it for students' submissions.
    """

    def __init__(self, ref: references.Reference, timeout: float = DEFAULT_TIMEOUT):
        self.ref, self.timeout = ref, timeout
        self.kernel = Kernel(timeout=timeout, config=ref.kernel_config())

    def __enter__(self):
        self.kernel.__enter__()
        return self

    def __exit__(self, *exc):
        self.kernel.__exit__(*exc)

    def grade(self, answers: dict[str, str], name="answers", only=None) -> Report:
        self.kernel.reset()
        return grade_answers(self.kernel, self.ref, answers, name, [], only)


# ---------------------------------------------------------------- files and classes


def reference_for(submission, reference=None) -> Path:
    """The reference to grade ``submission`` against: given, or found by assignment name.

    Raises :class:`SubmissionError` for an unreadable submission, ``CourseError`` when no
    reference can be found.
    """
    if reference:
        return Path(reference)
    nb = read_submission(submission)
    name = assignment_of(nb)
    if name:
        return references.locate(name)
    stem = Path(submission).stem
    if stem in references.known():
        return references.locate(stem)
    raise SubmissionError(
        f"{submission}: cannot tell which assignment this is (no assignment name in its "
        f"metadata, and no published reference named {stem!r}); pass --reference"
    )


def grade_path(
    submission, reference=None, timeout: float = DEFAULT_TIMEOUT, sandbox=None
) -> Report:
    """Grade one file (raises ``SubmissionError``/``CourseError``); picklable for ``-j``."""
    ref = references.load(reference_for(submission, reference))  # before any student code
    return grade(submission, ref, timeout, sandbox)


def _grade_or_error(submission, reference, timeout, sandbox=None):
    try:
        return grade_path(submission, reference, timeout, sandbox)
    except (SubmissionError, CourseError) as exc:
        return str(exc)


def grade_many(
    submissions, reference=None, timeout=DEFAULT_TIMEOUT, jobs=1, sandbox=None
) -> list[Report | str]:
    """Grade many submissions, ``jobs`` at a time, each in its own kernel; input order kept.

    ``sandbox``: a :class:`~.sandbox.Limits` (each kernel inside bubblewrap) or ``None``.
    A submission that cannot be graded gives its one-line reason (a ``str``) in its place;
    the others are graded. A broken ``reference`` given for all raises ``CourseError``.
    """
    if sandbox is not None:
        from . import sandbox as sandboxes

        sandboxes.require(sandbox)
    if reference:
        references.load(reference)  # a course error stops the run before any kernel starts
    if jobs <= 1 or len(submissions) <= 1:
        return [_grade_or_error(s, reference, timeout, sandbox) for s in submissions]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [
            pool.submit(_grade_or_error, s, reference, timeout, sandbox) for s in submissions
        ]
        return [f.result() for f in futures]


def write_csv(reports: list[Report | str], path, submissions=None) -> None:
    """One row per submission, one column per question, then total, possible and notes.

    A written answer not yet scored by a person has an empty cell (its points count in
    ``possible``).

    A submission that could not be graded (a ``str`` in ``reports``) has empty question
    and total cells and ``NOT GRADED: <reason>`` in notes.
    """
    import csv

    done = [r for r in reports if isinstance(r, Report)]
    ids = list(dict.fromkeys(q.id for r in done for q in r.questions))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", *ids, "total", "possible", "notes"])
        for k, r in enumerate(reports):
            if isinstance(r, str):
                name = str(submissions[k]) if submissions else r.split(":")[0]
                writer.writerow([name, *([""] * len(ids)), "", "", f"NOT GRADED: {r}"])
                continue
            got = {q.id: q.earned if q.scored else "" for q in r.questions}
            writer.writerow(
                [
                    r.submission,
                    *(got.get(i, "") for i in ids),
                    r.total,
                    r.possible,
                    "; ".join(r.notes),
                ]
            )


def to_json(reports: list[Report | str], submissions=None) -> str:
    out = []
    for k, r in enumerate(reports):
        if isinstance(r, str):
            name = str(submissions[k]) if submissions else r.split(":")[0]
            out.append({"submission": name, "error": r})
        else:
            out.append(r.as_dict())
    return json.dumps(out, indent=1)


__all__ = [
    "CourseError",
    "SubmissionError",
    "Report",
    "Question",
    "CheckResult",
    "grade",
    "grade_path",
    "grade_many",
    "Session",
    "write_csv",
]
