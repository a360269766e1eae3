"""Feedback to hand back: one self-contained HTML file per graded submission.

``coursekit grade ... --feedback DIR`` writes ``DIR/<submission>.html``: the total, then per
question the points, every public check line (what was expected, what came), the message
of a failing part, and the student's own answer code (and written answer, with the
person's score once folded in). It uses no external file, script or font.

A hidden check is shown only as "hidden check: passed/failed, N / M points": never its
code (the report has none), its reference output, what it printed, or its error message
(which could quote the expected value). ``tests/test_grading_feedback.py`` checks that.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from .results import CheckResult, Question, Report

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#222}
h2{margin-top:1.6em;border-bottom:1px solid #ccc}.ok{color:#0a6b2d}.bad{color:#a4161a}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;
vertical-align:top;font-family:monospace}.note{color:#555}.written{white-space:pre-wrap;
background:#f6f6f6;padding:.6em}"""


def _e(text) -> str:
    return html.escape(str(text))


def _part(part: CheckResult) -> list[str]:
    """One scored part: a hidden one by its verdict and points only."""
    verdict = "passed" if part.passed else "failed"
    css = "ok" if part.passed else "bad"
    if part.hidden:
        return [
            f"<p class='{css}'>hidden check: {verdict}, {part.earned} / {part.points} "
            "point(s) (its code and expected output are not shown)</p>"
        ]
    out = [
        "<table><tr><th>line</th><th>expected</th><th>your code printed</th></tr>",
    ]
    for line in part.lines:
        got = "(nothing)" if line.got is None else line.got
        mark = "ok" if line.ok else "bad"
        out.append(
            f"<tr class='{mark}'><td>{line.line}</td><td>{_e(line.expected)}</td>"
            f"<td>{_e(got)}</td></tr>"
        )
    out.append("</table>")
    out.append(f"<p class='{css}'>{verdict}: {part.earned} / {part.points} point(s)</p>")
    if not part.passed and part.message:
        out.append(f"<pre>{_e(part.message)}</pre>")
    return out


def _question(q: Question, report: Report) -> list[str]:
    if q.manual:
        points = f"{q.earned} / {q.possible}" if q.scored else f"- / {q.possible}"
    else:
        points = f"{q.earned} / {q.possible}"
    css = "ok" if q.scored and q.earned == q.possible else "bad"
    out = [f"<h2 id='{_e(q.id)}'>{_e(q.id)} <span class='{css}'>{points}</span></h2>"]
    if q.manual:
        out.append(f"<p>{_e(q.message)}</p>")
        text = report.answers.get(q.id, "")
        out.append("<p>Your written answer:</p>")
        out.append(f"<div class='written'>{_e(text) if text else '(no answer)'}</div>")
        return out
    if not q.parts:
        out.append(f"<p>{_e(q.message)}</p>")
    for part in q.parts:
        out += _part(part)
    hidden = sum(p.points for p in q.parts if p.hidden)
    missing = report.hidden_points.get(q.id, 0)
    if missing and not hidden:
        out.append(
            f"<p class='note'>Hidden checks hold {missing} more point(s) on this question; "
            "your instructor grades them.</p>"
        )
    for key, code in report.answers.items():
        if report.answer_questions.get(key) == q.id and not _is_written(report, key):
            out.append(f"<p>Your answer {_e(key)}:</p><pre>{_e(code)}</pre>")
    return out


def _is_written(report: Report, key: str) -> bool:
    return any(q.id == key and q.manual for q in report.questions)


def render(report: Report) -> str:
    """The feedback page of one submission (HTML text)."""
    scope = ""
    if report.unscored:
        scope = f" ({_e(report.manual_line())})"
    page = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(report.assignment)}: feedback</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(report.assignment)}</h1>",
        f"<p>Submission: <code>{_e(Path(report.submission).name)}</code></p>",
        f"<p><strong>Total: {report.total} / {report.possible}</strong>{scope}</p>",
    ]
    if report.hidden_line():
        page.append(f"<p class='note'>Note: {_e(report.hidden_line())}</p>")
    for note in report.notes:
        page.append(f"<p class='note'>Note: {_e(note)}</p>")
    for q in report.questions:
        page += _question(q, report)
    page.append("</body></html>")
    return "\n".join(page) + "\n"


def names(submissions: list[str]) -> list[str]:
    """A distinct file name per submission: its path below the folder all share, with
    ``/`` as ``__`` (``alice/02.ipynb`` and ``bob/02.ipynb`` do not collide)."""
    paths = [Path(s).resolve() for s in submissions]
    common = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path(".")
    out = []
    for p in paths:
        stem = str(p.relative_to(common).with_suffix(""))
        out.append(stem.replace(os.sep, "__") + ".html")
    return out


def write(reports, folder, submissions: list[str] | None = None) -> list[Path]:
    """One feedback file per graded report under ``folder``; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    subs = submissions or [r.submission if isinstance(r, Report) else r for r in reports]
    files = []
    for report, name in zip(reports, names([str(s) for s in subs]), strict=True):
        if not isinstance(report, Report):
            continue
        path = folder / name
        path.write_text(render(report))
        files.append(path)
    return files
