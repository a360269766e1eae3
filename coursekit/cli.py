"""The ``coursekit`` command: ``release`` assignments, ``grade`` submissions, ``gradescope``,
``hint`` (the next graded hint of a question, ``grading/hints.py``).

``grade`` a class (``-j``, ``--csv``, ``--review``, ``--feedback``) runs each kernel in the
sandbox (``grading/sandbox.py``) unless ``--no-sandbox``; ``--review``/``--manual-scores``
handle written answers (``grading/manual.py``), ``--feedback`` the files handed back
(``grading/feedback.py``); ``gradescope`` writes an autograder zip (``grading/gradescope.py``).

Exit status: 0 on success (for ``grade``: full marks on every submission), 1 when a
submission lost points or a release is out of date, 2 on an error of the course or of
the command line, or when a submission could not be graded (missing, empty, not a
notebook, another assignment's: one line each on stderr; a class run grades the others
and lists these in the notes column of ``--csv``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .grading import CourseError


def _release(args) -> int:
    from .grading import release

    solutions = args.solutions or sorted(
        str(p) for p in Path(args.root, "solutions").glob("[0-9]*.ipynb")
    )
    if not solutions:
        raise CourseError(f"no solutions/[0-9]*.ipynb under {args.root}")
    if args.check:
        stale = {path: release.stale_reasons(path, args.root) for path in solutions}
        for path, reasons in stale.items():
            print(f"{path}: " + ("; ".join(reasons) if reasons else "up to date"))
        return 1 if any(stale.values()) else 0
    for path in solutions:
        seconds = release.release(path, args.root, args.timeout)
        student, store = release.targets(path, args.root)
        print(f"{path}: ran in {seconds:.1f} s; wrote {student} and {store}")
    return 0


def class_mode(args) -> bool:
    """Grading a class (``-j N``, ``--csv``, ``--review``, ``--feedback``): sandboxed by
    default."""
    return args.jobs > 1 or bool(args.csv or args.review or args.feedback)


def _sandbox_limits(args):
    """The sandbox's limits, or ``None`` to run the kernels as the grader's own user."""
    from .grading import sandbox

    if args.sandbox is False or (args.sandbox is None and not class_mode(args)):
        return None
    if args.memory <= 0:
        raise CourseError(f"--memory must be > 0 GB, got {args.memory}")
    limits = sandbox.Limits(memory=int(args.memory * 2**30))
    sandbox.require(limits)
    return limits


def _written(args, reports) -> dict[str, dict]:
    """Assignment -> its written questions (with the model answer from a solution)."""
    from .grading import reference
    from .grading.results import Report

    if args.reference:
        ref = reference.load(args.reference)
        return {ref.name: ref.written}
    names = {r.assignment for r in reports if isinstance(r, Report)}
    return {name: reference.load(reference.locate(name)).written for name in names}


def _grade(args) -> int:
    from .grading import feedback, grade, manual, reference

    if args.jobs < 1:
        raise CourseError(f"-j/--jobs must be >= 1, got {args.jobs}")
    if args.timeout <= 0:
        raise CourseError(f"--timeout must be > 0 seconds, got {args.timeout}")
    if args.reference:
        for warning in reference.load(args.reference).warnings:
            print(f"coursekit grade: warning: {warning}", file=sys.stderr)
    limits = _sandbox_limits(args)
    reports = grade.grade_many(args.notebooks, args.reference, args.timeout, args.jobs, limits)
    failed = [
        (path, r) for path, r in zip(args.notebooks, reports, strict=True) if isinstance(r, str)
    ]
    for _, reason in failed:
        print(f"coursekit grade: {reason}", file=sys.stderr)
    for sheet in args.manual_scores or []:
        folded = manual.apply(reports, manual.read_scores(sheet), sheet)
        print(f"coursekit grade: {folded} written score(s) from {sheet}", file=sys.stderr)
    if args.review:
        files = manual.write_review(reports, args.review, _written(args, reports))
        print(
            f"coursekit grade: review sheets: {', '.join(map(str, files)) or 'none'}",
            file=sys.stderr,
        )
    if args.feedback:
        files = feedback.write(reports, args.feedback, args.notebooks)
        print(f"coursekit grade: {len(files)} feedback file(s) in {args.feedback}", file=sys.stderr)
    if args.csv:
        grade.write_csv(reports, args.csv, args.notebooks)
    if args.json:
        print(grade.to_json(reports, args.notebooks))
    else:
        text = [r.table() for r in reports if not isinstance(r, str)]
        text += [f"NOT GRADED: {reason}" for _, reason in failed if len(args.notebooks) > 1]
        if text:
            print("\n\n".join(text))
    if failed:
        return 2
    return 0 if all(not isinstance(r, str) and r.full_marks for r in reports) else 1


def _gradescope(args) -> int:
    from .grading import gradescope

    out = gradescope.build(args.solution, args.output, timeout=args.timeout)
    print(f"{args.solution}: wrote {out} (upload it as the assignment's autograder)")
    return 0


def _hint(args) -> int:
    from .grading import hints

    print(hints.show(args.notebook, args.question, args.level))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="coursekit", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)

    rel = commands.add_parser("release", help="regenerate assignments/ from solutions/")
    rel.add_argument("solutions", nargs="*", help="solutions/NN_name.ipynb (default: all of them)")
    rel.add_argument(
        "--root", default=".", help="course checkout holding assignments/ (default: .)"
    )
    rel.add_argument("--timeout", type=float, default=120.0, help="seconds per cell (default 120)")
    rel.add_argument(
        "--check", action="store_true", help="only report whether assignments/ is up to date"
    )
    rel.set_defaults(run=_release)

    grd = commands.add_parser("grade", help="grade submitted notebooks (never writes to them)")
    grd.add_argument("notebooks", nargs="+", help="submitted .ipynb files")
    grd.add_argument(
        "--reference",
        help="solution .ipynb (hidden checks included) or published .json to grade against "
        "(default: assignments/.reference/<assignment>.json written by `coursekit release`)",
    )
    grd.add_argument("--timeout", type=float, default=30.0, help="seconds per cell (default 30)")
    grd.add_argument("-j", "--jobs", type=int, default=1, help="submissions graded in parallel")
    grd.add_argument("--csv", help="write one row per submission, one column per question")
    grd.add_argument("--json", action="store_true", help="print the reports as JSON")
    grd.add_argument(
        "--review",
        metavar="DIR",
        help="write DIR/<assignment>_review.csv and .html: every written answer, for a "
        "person to score (column score)",
    )
    grd.add_argument(
        "--manual-scores",
        metavar="SHEET",
        action="append",
        help="a filled review sheet (.csv): its scores count in the totals, --csv, --json "
        "and --feedback (may be repeated)",
    )
    grd.add_argument(
        "--feedback",
        metavar="DIR",
        help="write one self-contained HTML file per submission to hand back (no hidden "
        "check's code or expected output)",
    )
    box = grd.add_mutually_exclusive_group()
    box.add_argument(
        "--sandbox",
        action="store_true",
        default=None,
        help="run each submission's kernel inside bubblewrap: no network, no view of the "
        "course, the reference or other submissions, limited memory, processes and CPU "
        "(the default for a class: -j, --csv, --review, --feedback)",
    )
    box.add_argument(
        "--no-sandbox",
        dest="sandbox",
        action="store_false",
        help="run the students' code with your own account, network and files",
    )
    grd.add_argument(
        "--memory",
        type=float,
        default=6.0,
        help="GB of address space per sandboxed kernel (default 6)",
    )
    grd.set_defaults(run=_grade)

    gsc = commands.add_parser(
        "gradescope", help="write a Gradescope autograder zip for an assignment"
    )
    gsc.add_argument("solution", help="solutions/NN_name.ipynb (released)")
    gsc.add_argument("-o", "--output", help="the zip (default: NN_name_gradescope.zip)")
    gsc.add_argument("--timeout", type=float, default=60.0, help="seconds per cell (default 60)")
    gsc.set_defaults(run=_gradescope)

    hnt = commands.add_parser(
        "hint", help="show the next hint of a question (recorded, reported with the grade)"
    )
    hnt.add_argument("notebook", help="your assignments/NN_name.ipynb")
    hnt.add_argument("question", help="question id, e.g. q3")
    hnt.add_argument("--level", type=int, help="re-read one level already shown (1 = first)")
    hnt.set_defaults(run=_hint)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except CourseError as exc:
        print(f"coursekit {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
