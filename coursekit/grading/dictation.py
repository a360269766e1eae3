r"""Does a released assignment dictate its answers? (issue: assignments that teach)

An assignment teaches only if the student has to find the answer. :func:`dictated` lists
every line of a solution's answer code that reappears in what the student is given: the
markdown, the stubs (and their ``### HINT`` lines) and the graded hints of the answer
cells (``{"coursekit": {"hints": [...]}}``). Lines are compared with all white space
removed and trailing comments dropped, so ``(e[-1] / e[m]) ** (1 / (n - 1 - m))`` in a
hint matches ``return (e[-1]/e[m])**(1/(n-1-m))`` in the answer. Trivial lines, those
with fewer than ``min_chars`` characters left or without an operator or call, are not
counted (``return out``, ``opt.zero_grad()``, ``lam = np.linalg.eigvalsh(A)``): a
formula has arithmetic in it.
"""

from __future__ import annotations

import re

from .notebook import BEGIN, END, HINT, read, role

__all__ = ["answer_lines", "dictated", "given_text"]

_COMMENT = re.compile(r"\s+#.*$")
_SIGNAL = re.compile(r"[-+*/@%]")  # arithmetic: a formula, not a call or a name


def _squash(text: str) -> str:
    text = _COMMENT.sub("", text)
    text = re.sub(r"^\s*(return|yield)\b", "", text)
    text = re.sub(r"\s+", "", text)
    return re.sub(r"(?<![\w.])(\d+)\.0(?![\d\w])", r"\1", text)  # 1.0 -> 1


def _forms(line: str, min_chars: int) -> list[str]:
    """The line squashed, and its right-hand side alone when it is an assignment."""
    squashed = _squash(line)
    forms = [squashed]
    m = re.match(r"^[\w\[\]\"',.]+=(?!=)(.+)$", squashed)
    if m and len(m.group(1)) >= min_chars and _SIGNAL.search(m.group(1)):
        forms.append(m.group(1))
    return forms


def answer_lines(solution, min_chars: int = 12) -> list[str]:
    """The non-trivial lines between the solution markers of every answer cell, as written."""
    nb = read(solution) if not hasattr(solution, "cells") else solution
    lines = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "answer" not in role(cell):
            continue
        inside = False
        for line in cell.source.splitlines():
            marker = line.strip()
            if marker.startswith(BEGIN):
                inside = True
            elif marker.startswith(END):
                inside = False
            elif inside and not marker.startswith(HINT) and not marker.startswith("#"):
                squashed = _squash(line)
                if len(squashed) >= min_chars and _SIGNAL.search(squashed):
                    lines.append(line.strip())
    return lines


def given_text(assignment) -> list[tuple[str, str]]:
    """``(where, text)`` of everything the student reads: markdown, stub code, hints."""
    nb = read(assignment) if not hasattr(assignment, "cells") else assignment
    given = []
    for i, cell in enumerate(nb.cells):
        meta = role(cell)
        if cell.cell_type == "markdown":
            given.append((f"cell {i} (markdown)", cell.source))
        elif "answer" in meta:
            given.append((f"cell {i} (answer {meta['answer']} stub)", cell.source))
            for level, hint in enumerate(meta.get("hints", []) or [], 1):
                given.append((f"cell {i} (answer {meta['answer']} hint {level})", str(hint)))
    return given


def dictated(solution, assignment, min_chars: int = 12) -> list[str]:
    """Each answer line of ``solution`` found in ``assignment``'s given text, with where."""
    given = [(where, _squash_text(text)) for where, text in given_text(assignment)]
    found = []
    for line in answer_lines(solution, min_chars):
        forms = _forms(line, min_chars)
        for where, text in given:
            if any(form in text for form in forms):
                found.append(f"{where}: {line}")
    return found


def _squash_text(text: str) -> str:
    return "".join(_squash(line) for line in text.splitlines())
