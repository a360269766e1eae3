"""The package passes the type checker (mypy, configured in pyproject.toml).

mypy comes with the dev extra, like ruff: a missing mypy fails, never skips. The
configuration types calls into torch as ``Any`` (its stubs are slow to analyse), so a
cold run takes well under a minute and a warm one (``.mypy_cache``) a few seconds.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_is_clean():
    cmd = [sys.executable, "-m", "mypy", "--no-error-summary", "--no-pretty"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
