r"""Gradescope's autograder: a zip built from a solution, and the run that writes results.json.

``coursekit gradescope solutions/NN_name.ipynb [-o NN_name_gradescope.zip]`` writes a zip
to upload as a Gradescope "programming assignment" autograder. It holds

* ``setup.sh``: run once by Gradescope to build the image; installs Python and the course
  package (``course/``: ``pyproject.toml``, ``constraints.txt``, ``coursekit/``, CPU-only
  torch) into ``/autograder/venv``;
* ``run_autograder``: run per submission; grades ``/autograder/submission/*.ipynb`` (the
  notebook named after the assignment, else the only one) and writes
  ``/autograder/results/results.json``. ``$AUTOGRADER_ROOT`` (default ``/autograder``) and
  ``$AUTOGRADER_PYTHON`` move it, for tests;
* ``reference.json``: the reference with the hidden checks and **the stubs in place of the
  answers** (neither it nor the scripts hold a line of the solution's answer code;
  ``course/coursekit`` is the package students install anyway, whose oracles may share a
  line with an answer); read into
  memory and then deleted before any student code runs (every Gradescope run starts from a
  fresh container), so a submission cannot read the hidden checks.

``results.json`` follows Gradescope's specification: ``score`` (the checks' total),
``execution_time`` (seconds), ``output``, and ``tests``: one per question with ``name``,
``score``, ``max_score``, ``status`` (``passed``/``failed``), ``output`` (the failing lines)
and ``visibility``; a question's hidden checks are a test of their own, ``"q3 (hidden
checks)"``, with ``visibility: "after_published"`` and an output that says only passed or
failed per check. Written answers are not autograder tests: add them to the Gradescope
assignment as questions graded by hand (the top-level output lists them).

The kernel runs inside bubblewrap when it works in the container (it rarely does in
Docker); otherwise, as root (Gradescope runs as root), it runs as ``nobody`` with the
sandbox's limits, so it can neither write ``results.json`` (a process left behind cannot
rewrite the score) nor read what root keeps to itself; Gradescope's container isolates the
rest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from . import reference as references
from .errors import CourseError
from .notebook import assignment_name
from .results import Report

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip \\
    bubblewrap >/dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --quiet --upgrade pip
# the CPU wheel of torch (its local version +cpu sorts above PyPI's CUDA build)
/autograder/venv/bin/python -m pip install --quiet ./course -c course/constraints.txt \\
    --extra-index-url https://download.pytorch.org/whl/cpu
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this per submission: grades /autograder/submission/*.ipynb and writes
# /autograder/results/results.json. AUTOGRADER_ROOT and AUTOGRADER_PYTHON move it (tests).
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
export MPLBACKEND=agg OMP_NUM_THREADS="${{OMP_NUM_THREADS:-1}}"
exec "$PYTHON" -m coursekit.grading.gradescope run --root "$ROOT" \\
    --reference "$ROOT/source/reference.json" --name {name} --timeout {timeout}
"""

#: Course files the zip carries besides the package (``readme`` is in pyproject.toml).
COURSE_FILES = ("pyproject.toml", "constraints.txt", "README.md", "LICENSE")


def autograder_reference(solution) -> references.Reference:
    """The solution's reference with its hidden checks and the answers as stubs."""
    ref = references.from_solution(solution, stubs=True)
    ref.validate(solution)
    return ref


def package_files(root) -> list[tuple[Path, str]]:
    """(file, name in the zip) of the course package: ``course/coursekit/...``."""
    root = Path(root)
    out = [(root / f, f"course/{f}") for f in COURSE_FILES if (root / f).is_file()]
    for path in sorted((root / "coursekit").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            out.append((path, f"course/{path.relative_to(root)}"))
    return out


def build(solution, out=None, root=None, timeout: float = 60.0) -> Path:
    """Write the autograder zip of ``solution``; returns its path."""
    import coursekit

    name = assignment_name(solution)
    ref = autograder_reference(solution)
    root = Path(root) if root else Path(coursekit.__file__).resolve().parents[1]
    out = Path(out) if out else Path(f"{name}_gradescope.zip")

    def executable(zf, arcname, text):
        info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o100755 << 16
        zf.writestr(info, text)

    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        executable(zf, "setup.sh", SETUP)
        executable(zf, "run_autograder", RUN.format(name=name, timeout=timeout))
        zf.writestr("reference.json", ref.to_json())
        for path, arcname in package_files(root):
            zf.write(path, arcname)
    return out


# ---------------------------------------------------------------- the run


def find_submission(folder: Path, name: str) -> Path:
    """The submitted notebook: ``<name>.ipynb``, else the only ``.ipynb`` (at any depth)."""
    found = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    exact = [p for p in found if p.stem == name]
    if exact:
        return exact[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise CourseError(f"no notebook (.ipynb) was submitted; upload {name}.ipynb")
    listed = ", ".join(p.name for p in found)
    raise CourseError(f"several notebooks were submitted ({listed}); upload only {name}.ipynb")


def _test(name, score, max_score, output, visibility="visible") -> dict:
    return {
        "name": name,
        "score": score,
        "max_score": max_score,
        "status": "passed" if score >= max_score else "failed",
        "output": output,
        "visibility": visibility,
    }


def tests_of(report: Report) -> list[dict]:
    """One test per question (its public checks), one per question's hidden checks."""
    tests = []
    for q in report.questions:
        if q.manual:
            continue
        public = [p for p in q.parts if not p.hidden]
        hidden = [p for p in q.parts if p.hidden]
        if public or not hidden:
            score = sum(p.earned for p in public)
            possible = sum(p.points for p in public) if q.parts else q.possible
            lines = [p.message for p in public if not p.passed and p.message]
            output = "\n".join(lines) or ("OK" if q.parts else q.message)
            tests.append(_test(q.id, score, possible, output))
        if hidden:
            each = [
                f"hidden check {k}: {'passed' if p.passed else 'failed'} ({p.earned} / {p.points})"
                for k, p in enumerate(hidden, start=1)
            ]
            tests.append(
                _test(
                    f"{q.id} (hidden checks)",
                    sum(p.earned for p in hidden),
                    sum(p.points for p in hidden),
                    "\n".join(each),
                    "after_published",
                )
            )
    return tests


def results(report: Report | None, seconds: float, ref, error: str = "") -> dict:
    """The ``results.json`` object of one graded submission (``report`` ``None``: not
    graded, ``error`` says why; every question scores 0)."""
    if report is None:
        tests = [
            _test(q, 0, ref.public_points.get(q, 0), f"not graded: {error}")
            for q in ref.questions
            if ref.public_points.get(q, 0)
        ]
        tests += [
            _test(f"{q} (hidden checks)", 0, p, "not graded", "after_published")
            for q, p in ref.hidden_in_cells.items()
        ]
        output = f"Your submission could not be graded: {error}"
    else:
        tests = tests_of(report)
        output = "\n".join(f"Note: {n}" for n in report.notes)
    written = {k: w["points"] for k, w in ref.written.items()}
    if written:
        each = ", ".join(f"{k} {p}" for k, p in written.items())
        output += f"\nWritten answers ({each} points) are graded by hand, outside this autograder."
    return {
        "score": sum(t["score"] for t in tests),
        "execution_time": round(seconds),
        "output": output.strip(),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def bwrap_works() -> bool:
    """Whether bubblewrap can make its namespaces here (Docker often forbids it)."""
    from . import sandbox

    if not sandbox.available():
        return False
    try:
        done = subprocess.run(
            ["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "true"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def run(root, reference_path, name: str, timeout: float = 60.0, sandboxed=None) -> dict:
    """Grade the submission under ``root/submission`` and write
    ``root/results/results.json``; returns what it wrote. Never raises for a bad
    submission (Gradescope needs a results file)."""
    from . import grade, sandbox

    start = time.monotonic()
    root = Path(root)
    ref = references.load(reference_path)
    try:  # in memory now: no student code can read it (a fresh container per run)
        Path(reference_path).unlink()
    except OSError:
        pass
    namespaces = bwrap_works()
    if sandboxed is None:
        sandboxed = namespaces or sandbox.user_drop_works()
    limits = None
    if sandboxed:  # without bwrap, as root: the kernel runs as nobody, with the limits
        limits = sandbox.Limits(namespaces=namespaces)
    report, error = None, ""
    try:
        path = find_submission(root / "submission", name)
        report = grade.grade(path, ref, timeout, sandbox=limits)
    except (grade.SubmissionError, CourseError) as exc:
        error = str(exc)
    data = results(report, time.monotonic() - start, ref, error)
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")
    return data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.grading.gradescope")
    commands = parser.add_subparsers(dest="command", required=True)
    go = commands.add_parser("run", help="grade /autograder/submission (run_autograder)")
    go.add_argument("--root", default="/autograder")
    go.add_argument("--reference", required=True)
    go.add_argument("--name", required=True, help="the assignment's name")
    go.add_argument("--timeout", type=float, default=60.0)
    go.add_argument("--no-sandbox", action="store_true")
    args = parser.parse_args(argv)
    data = run(
        args.root, args.reference, args.name, args.timeout, False if args.no_sandbox else None
    )
    print(f"score {data['score']}; {len(data['tests'])} tests", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "agg")
    sys.exit(main())
