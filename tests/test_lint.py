"""The code base and the notebooks pass ruff (configuration in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args):
    # ruff comes with the dev extra, like pytest itself: a missing ruff fails, never skips
    cmd = [sys.executable, "-m", "ruff", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_check_is_clean():
    result = _ruff("check", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = _ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


DOCS = [p for p in (ROOT / "coursekit").rglob("*.py") if "grading" not in p.parts]


def test_docstrings_use_dollar_math_not_sphinx_math():
    """One math dialect in docstrings: $...$ in raw strings (ruff's D301 checks the raw part)."""
    offenders = [str(p.relative_to(ROOT)) for p in DOCS if ":math:" in p.read_text()]
    assert not offenders, f"Sphinx :math: in {offenders}; write $...$ in a raw docstring"


def test_no_comment_cites_what_a_reader_cannot_see():
    """Comments and docstrings explain themselves: no 'seed 004', 'issue 2' or 'the issue'."""
    import re

    pattern = re.compile(r"\bseed 0\d\d\b|\bissue \d+|\bthe issue\b", re.IGNORECASE)
    paths = [*(ROOT / "coursekit").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    offenders = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in paths
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, f"references a reader of the repository cannot follow: {offenders}"
