"""The ``coursekit`` command: ``release`` assignments from solutions, ``grade`` submissions,
``hint`` (the next graded hint of a question, see ``coursekit.grading.hints``).

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


def _grade(args) -> int:
    from .grading import grade, reference

    if args.jobs < 1:
        raise CourseError(f"-j/--jobs must be >= 1, got {args.jobs}")
    if args.timeout <= 0:
        raise CourseError(f"--timeout must be > 0 seconds, got {args.timeout}")
    if args.reference:
        for warning in reference.load(args.reference).warnings:
            print(f"coursekit grade: warning: {warning}", file=sys.stderr)
    reports = grade.grade_many(args.notebooks, args.reference, args.timeout, args.jobs)
    failed = [
        (path, r) for path, r in zip(args.notebooks, reports, strict=True) if isinstance(r, str)
    ]
    for _, reason in failed:
        print(f"coursekit grade: {reason}", file=sys.stderr)
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
    grd.set_defaults(run=_grade)

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
