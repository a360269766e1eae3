"""Written answers, graded by a person: the review sheet out, the scores back in.

A written answer is a markdown cell with ``{"coursekit": {"answer": "w1", "points": 2,
"manual": true}}`` (see ``notebook.written_answer``). Grading a class with ``coursekit grade
... --review DIR`` writes, per assignment, ``DIR/<assignment>_review.csv`` and
``DIR/<assignment>_review.html``: one row per submission and written question (student,
question, points, the question's text, the student's answer, an empty ``score`` and
``comment``). The HTML is for reading (the model answer is shown when grading against the
solution); the CSV is for scoring: fill the ``score`` column (a whole number from 0 to the
question's points; blank = not scored yet) and pass it back with ``coursekit grade ...
--manual-scores DIR/<assignment>_review.csv``: the scores then count in the totals, the
``--csv`` grades, ``--json`` and the feedback files.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path

from .errors import CourseError
from .results import Report

COLUMNS = ["assignment", "student", "question", "points", "question_text", "answer", "score"]
COLUMNS += ["comment"]


def _groups(reports) -> dict[str, list[Report]]:
    found: dict[str, list[Report]] = {}
    for r in reports:
        if isinstance(r, Report) and any(q.manual for q in r.questions):
            found.setdefault(r.assignment, []).append(r)
    return found


def rows(report: Report, written: dict[str, dict]) -> list[dict[str, str]]:
    """The review rows of one submission (one per written question)."""
    out = []
    for q in report.questions:
        if not q.manual:
            continue
        out.append(
            {
                "assignment": report.assignment,
                "student": report.submission,
                "question": q.id,
                "points": str(q.possible),
                "question_text": written.get(q.id, {}).get("question", ""),
                "answer": report.answers.get(q.id, ""),
                "score": str(q.earned) if q.scored else "",
                "comment": "",
            }
        )
    return out


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #bbb;padding:.4em;
vertical-align:top;text-align:left}td.answer{white-space:pre-wrap}.none{color:#888}
.model{background:#f4f4e8;white-space:pre-wrap;padding:.5em}"""


def write_review(reports, folder, written_by_assignment: dict[str, dict]) -> list[Path]:
    """Write ``<assignment>_review.csv`` and ``.html`` under ``folder`` for every assignment
    with written answers; returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written_files = []
    for name, group in _groups(reports).items():
        written = written_by_assignment.get(name, {})
        table = [row for r in group for row in rows(r, written)]
        path = folder / f"{name}_review.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            writer.writerows(table)
        written_files.append(path)
        page = [
            "<!DOCTYPE html><html><head><meta charset='utf-8'>",
            f"<title>{html.escape(name)}: written answers</title><style>{_STYLE}</style>",
            f"</head><body><h1>{html.escape(name)}: written answers</h1>",
            f"<p>Score them in <code>{html.escape(path.name)}</code> (column <em>score</em>, "
            "a whole number from 0 to the question's points), then run <code>coursekit grade "
            f"... --manual-scores {html.escape(path.name)}</code>.</p>",
        ]
        for key, spec in written.items():
            page.append(f"<h2>{html.escape(key)} ({spec['points']} points)</h2>")
            page.append(f"<div>{html.escape(spec.get('question', ''))}</div>")
            if spec.get("model"):
                page.append(
                    f"<p>Model answer:</p><div class='model'>{html.escape(spec['model'])}</div>"
                )
            page.append("<table><tr><th>student</th><th>answer</th><th>score</th></tr>")
            for row in (r for r in table if r["question"] == key):
                answer = row["answer"]
                cell = (
                    f"<td class='answer'>{html.escape(answer)}</td>"
                    if answer
                    else "<td class='answer none'>(no answer)</td>"
                )
                page.append(
                    f"<tr><td>{html.escape(row['student'])}</td>{cell}"
                    f"<td>{html.escape(row['score'])}</td></tr>"
                )
            page.append("</table>")
        page.append("</body></html>")
        html_path = folder / f"{name}_review.html"
        html_path.write_text("\n".join(page) + "\n")
        written_files.append(html_path)
    return written_files


def read_scores(path) -> dict[tuple[str, str, str], tuple[int | None, str]]:
    """``(assignment, student, question) -> (score or None, comment)`` from a filled review
    sheet; ``CourseError`` naming the row for a score that is not a whole number >= 0."""
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            table = list(csv.DictReader(handle))
    except OSError as exc:
        raise CourseError(f"{path}: cannot read the scores ({exc})") from None
    if table and not {"student", "question", "score"} <= set(table[0]):
        raise CourseError(
            f"{path}: a review sheet needs the columns student, question and score "
            f"(found {', '.join(table[0])}); write one with `coursekit grade ... --review DIR`"
        )
    found: dict[tuple[str, str, str], tuple[int | None, str]] = {}
    for line, row in enumerate(table, start=2):
        text = (row.get("score") or "").strip()
        score: int | None = None
        if text:
            try:
                score = int(text)
            except ValueError:
                raise CourseError(
                    f"{path}: line {line}: score {text!r} is not a whole number"
                ) from None
            if score < 0:
                raise CourseError(f"{path}: line {line}: score {score} is negative")
        key = (row.get("assignment") or "", row["student"], row["question"])
        found[key] = (score, (row.get("comment") or "").strip())
    return found


def apply(reports, scores: dict[tuple[str, str, str], tuple[int | None, str]], origin="") -> int:
    """Fold a person's scores into the written rows of ``reports`` (matched by assignment,
    submission as graded, else its file name, and question); returns how many were folded.

    A score above the question's points, or for a question that is not written, is a
    ``CourseError``.
    """
    by_name: dict[tuple[str, str, str], tuple[int | None, str]] = {}
    for (assignment, student, question), value in scores.items():
        by_name[(assignment, Path(student).name, question)] = value
    folded = 0
    for r in reports:
        if not isinstance(r, Report):
            continue
        for q in r.questions:
            key = (r.assignment, r.submission, q.id)
            found = (
                scores.get(key)
                or scores.get(("", r.submission, q.id))
                or by_name.get((r.assignment, Path(r.submission).name, q.id))
            )
            if found is None:
                continue
            if not q.manual:
                raise CourseError(
                    f"{origin}: {q.id} of {r.submission} is graded by its checks, not by hand"
                )
            score, comment = found
            if score is None:
                continue
            if score > q.possible:
                raise CourseError(
                    f"{origin}: {r.submission} {q.id}: score {score} is above its "
                    f"{q.possible} points"
                )
            q.earned, q.scored = score, True
            q.message = f"graded by hand: {score} / {q.possible}"
            if comment:
                q.message += f": {comment}"
            folded += 1
    return folded
