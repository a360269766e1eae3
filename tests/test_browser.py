"""The student's real path: JupyterLab in headless Chromium, every cell run from the Run menu.

nbval executes notebooks without a front end, so it cannot see a widget that renders as
"Error displaying widget", a plot that never appears, or a kernel name that does not
exist. These tests start the installed JupyterLab, open each lecture with interactive
content in Debian's Chromium (driven by Playwright, no browser download) and assert what
a student must see. On failure a full-page screenshot is saved under
``test-artifacts/browser/``.

Chromium comes from the system (``apt-get install chromium``; ``.ci/run`` installs it).
Without it these tests are skipped on a student's machine and fail in CI (``CI`` set).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from tests.browser_lab import JupyterLab, Student, browser_fixture

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
WIDGET_MARKERS = ("ipywidgets", "explore(", "Slider")
PROGRESS_MARKERS = ("progress(", "show_progress=True")  # a bar is certain
TRAINING_MARKERS = ("train_full_batch(", "train_minibatch(", "train_torch(")  # a bar on long runs


def _source(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def expectations(path: Path) -> dict:
    src = _source(path)
    return {
        "widgets": any(m in src for m in WIDGET_MARKERS),
        "progress": any(m in src for m in PROGRESS_MARKERS),
        "training": any(m in src for m in TRAINING_MARKERS),
        "figures": "plt." in src or "plot_" in src or "ax." in src,
    }


# one lecture per kind of interactive content: the first with widgets (the explorer) and the
# first with a progress bar that is certain to show. The widget front end is the same for
# every lecture, and what else a browser sees (errors, stderr, figures) nbval and
# tests/test_lecture_seeds.py check in every lecture; running more lectures here would add a
# fourth execution of each to the test command. COURSEKIT_BROWSER_ALL=1 runs every lecture
# with widgets or a certain progress bar.
_KINDS = ("widgets", "progress")
if os.environ.get("COURSEKIT_BROWSER_ALL"):
    INTERACTIVE = [p for p in LECTURES if any(expectations(p)[k] for k in _KINDS)]
else:
    INTERACTIVE = sorted(
        {next(p for p in LECTURES if expectations(p)[k]) for k in _KINDS}, key=lambda p: p.name
    )


browser = browser_fixture()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = JupyterLab(tmp_path_factory.mktemp("lab"), LECTURES).start()
    yield server
    server.stop()
    assert server.token not in server.log(), "the server log leaked the access token"


def check_student_view(student: Student, name: str, expect: dict) -> None:
    """Everything a student must see after Run All Cells; raises AssertionError naming what is wrong."""
    errors = student.error_outputs()
    assert not errors, f"{name}: error or warning output shown to the student:\n" + "\n---\n".join(
        errors
    )
    widget_errors = student.widget_errors()
    assert not widget_errors, f"{name}: widgets failed to render: {widget_errors}"
    if expect["figures"]:
        assert student.figures() > 0, f"{name}: no matplotlib figure was rendered"
    if expect["progress"]:
        assert student.progress_bars() > 0, f"{name}: no progress bar widget was rendered"
    if expect["widgets"]:
        assert student.sliders() > 0, f"{name}: no live slider control was rendered"


def _run(browser, lab, path: Path, after=None):
    student = Student(browser, lab)
    try:
        student.open(path.name)
        student.run_all()
        check_student_view(student, path.name, expectations(path))
        if after:
            after(student)
    except Exception:
        student.screenshot(ARTIFACTS / f"{path.stem}.png")
        raise
    finally:
        student.close()


@pytest.mark.parametrize("path", INTERACTIVE, ids=[p.stem for p in INTERACTIVE])
def test_lecture_runs_in_jupyterlab(browser, lab, path):
    def slider_changes_plot(student: Student):
        if "explore(" not in _source(path):
            return
        before = student.image_sources()
        student.move_slider("lr", presses=8)
        student.page.wait_for_timeout(2000)
        after = student.image_sources()
        assert after != before, (
            f"{path.name}: moving the lr slider did not redraw the trajectory plot"
        )

    _run(browser, lab, path, after=slider_changes_plot)


def test_some_lectures_are_interactive():
    """Guards the selection above: the course has widget and progress-bar lectures to test."""
    assert any(expectations(p)["widgets"] for p in LECTURES), "no lecture uses ipywidgets"
    assert any(expectations(p)["progress"] for p in LECTURES), "no lecture shows a progress bar"


def test_every_notebook_names_an_existing_kernel():
    from jupyter_client.kernelspec import KernelSpecManager

    names = set(KernelSpecManager().find_kernel_specs())
    for path in [*LECTURES, *sorted((ROOT / "assignments").glob("*.ipynb"))]:
        kernel = nbformat.read(path, as_version=4).metadata.get("kernelspec", {}).get("name")
        assert kernel in names, (
            f"{path.name}: kernel {kernel!r} is not installed (have {sorted(names)})"
        )


WIDGET_PROBE = [
    "from coursekit.training import progress\nfor _ in progress(range(20), desc='probe'):\n    pass",
    "import ipywidgets as widgets\nwidgets.FloatSlider(description='lr')",
    "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()",
]


def test_missing_widget_frontend_is_caught(browser, tmp_path):
    """The check above must fail when JupyterLab lacks the widget extension."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in WIDGET_PROBE]
    probe = tmp_path / "widget_probe.ipynb"
    nbformat.write(nb, probe)
    root = tmp_path / "root"
    root.mkdir()
    server = JupyterLab(root, [probe], disable_widgets=True).start()
    student = Student(browser, server)
    try:
        student.open(probe.name)
        student.run_all()
        with pytest.raises(AssertionError, match="widgets failed to render"):
            check_student_view(
                student, probe.name, {"widgets": True, "progress": True, "figures": True}
            )
        # even where no widget is expected by name, the text fallbacks give the failure away
        with pytest.raises(AssertionError, match=r"FloatSlider\(value=0.0|0/20"):
            check_student_view(
                student, probe.name, {"widgets": False, "progress": False, "figures": True}
            )
    finally:
        student.close()
        server.stop()
