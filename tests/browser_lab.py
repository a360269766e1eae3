"""Drive JupyterLab in headless Chromium the way a student does (for tests/test_browser.py).

``JupyterLab`` starts the installed ``jupyter lab`` on a free port bound to 127.0.0.1, in
a temporary root holding copies of the notebooks (so autosave never touches the
repository), with its token passed through the environment and the log level at
WARNING (the banner that prints the URL with its token is never written). ``Student``
opens a notebook in Debian's Chromium through Playwright (no browser download), runs
every cell from the Run menu, and reports what the page shows.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from coursekit.site import CHROMIUM_FLAGS, find_chromium

WIDGET_MANAGER = "@jupyter-widgets/jupyterlab-manager"


def browser_fixture():
    """A module-scoped pytest fixture: Debian's Chromium launched through Playwright, or a
    skip (a failure when ``CI`` is set) where it is not installed."""

    @pytest.fixture(scope="module")
    def browser():
        chromium = find_chromium()
        if chromium is None:
            if os.environ.get("CI"):
                pytest.fail(
                    "Chromium is not installed; .ci/run installs it with apt-get install chromium"
                )
            pytest.skip("Chromium not installed (apt-get install chromium): browser tests skipped")
        sync_api = pytest.importorskip("playwright.sync_api")
        with sync_api.sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            yield b
            b.close()

    return browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A JupyterLab server for one test module; ``disable_widgets`` removes the widget front end."""

    def __init__(self, root: Path, notebooks: list[Path], disable_widgets: bool = False):
        self.root = Path(root)
        self.port = free_port()
        self.token = secrets.token_hex(24)
        for nb in notebooks:
            shutil.copy(nb, self.root / nb.name)
        home = self.root.parent / f"{self.root.name}-home"
        (home / "config" / "labconfig").mkdir(parents=True, exist_ok=True)
        settings = home / "settings" / "@jupyterlab" / "notebook-extension"
        settings.mkdir(parents=True, exist_ok=True)
        # every cell in the DOM, so the page can be inspected without scrolling
        (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        disabled = {"@jupyterlab/apputils-extension:announcements": True}  # no news pop-up offline
        if disable_widgets:
            disabled[WIDGET_MANAGER] = True
        (home / "config" / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": disabled})
        )
        self.env = {
            **os.environ,
            "JUPYTER_TOKEN": self.token,
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        }
        self.log_path = home / "jupyterlab.log"
        self.proc = None

    def start(self, timeout: float = 60.0) -> JupyterLab:
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.log_level=WARN",
            "--ServerApp.allow_root=True",
            "--LabApp.extension_manager=readonly",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.root
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log()}")
            try:
                req = urllib.request.Request(
                    f"{self.base}/api/status", headers={"Authorization": f"token {self.token}"}
                )
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"jupyter lab did not answer within {timeout} s:\n{self.log()}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def _api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(
            f"{self.base}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self):
        for kernel in self._api("/api/kernels") or []:
            self._api(f"/api/kernels/{kernel['id']}", method="DELETE")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc:
            self._log.close()


class Student:
    """One Chromium page on the lab: open a notebook, run all cells, look at the result."""

    def __init__(self, browser, lab: JupyterLab):
        self.lab = lab
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))

    def open(self, name: str, timeout_ms: int = 60_000):
        page = self.page
        # a fresh workspace per notebook, so no tab of an earlier test is restored
        workspace = Path(name).stem.replace(".", "-")
        page.goto(
            f"{self.lab.base}/lab/workspaces/{workspace}/tree/{name}?reset&token={self.lab.token}",
            timeout=timeout_ms,
        )
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_ms)
        # a notebook whose kernel does not exist opens a "Select Kernel" dialog
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator, .jp-Dialog", timeout=timeout_ms)
        if page.locator(".jp-Dialog").count():
            text = page.locator(".jp-Dialog").inner_text()
            raise AssertionError(
                f"{name}: JupyterLab opened a dialog instead of the kernel: {text!r}"
            )
        self._wait_kernel_idle(timeout_ms)

    def _wait_kernel_idle(self, timeout_ms: int):
        self.page.wait_for_function(
            "() => { const e = document.querySelector('.jp-Notebook-ExecutionIndicator');"
            " return e && e.getAttribute('data-status') === 'idle'; }",
            timeout=timeout_ms,
        )

    def run_all(self, timeout_ms: int = 300_000):
        page = self.page
        started = (
            "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
            ".some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))"
        )
        for attempt in range(3):  # the first click can land before the panel has focus
            page.locator(".jp-NotebookPanel .jp-Cell").first.click()
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            try:
                page.wait_for_function(started, timeout=15_000)
                break
            except Exception:
                if attempt == 2:
                    raise AssertionError("Run > Run All Cells did not start the notebook") from None
                page.keyboard.press("Escape")
        # every code cell shows an execution count, and the kernel is idle again
        page.wait_for_function(
            "() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];"
            " return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }",
            timeout=timeout_ms,
        )
        self._wait_kernel_idle(timeout_ms)
        page.wait_for_timeout(1500)  # let widget views finish rendering

    # ---------------------------------------------------------------- what the page shows
    def error_outputs(self) -> list[str]:
        """Tracebacks and anything written to stderr (warnings included)."""
        loc = self.page.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
        )
        return [loc.nth(i).inner_text()[:400] for i in range(loc.count())]

    def widget_errors(self) -> list[str]:
        """Widgets that did not become live controls: JupyterLab's error box, or the text
        a kernel sends for clients without the widget front end (``FloatSlider(value=...)``,
        tqdm's frozen ``0%|          | 0/20`` line)."""
        return self.page.evaluate(
            r"""() => [...document.querySelectorAll('.jp-OutputArea-output')]
                .map(e => e.innerText.trim())
                .filter(t => t.includes('Error displaying widget')
                    || /^[A-Z]\w*\((value|children|description|layout|outputs)=/.test(t)
                    || /\|\s*0\/\d+ \[/.test(t))
                .map(t => t.slice(0, 200))"""
        )

    def count(self, selector: str) -> int:
        return self.page.locator(selector).count()

    def figures(self) -> int:
        return self.count('.jp-OutputArea-output img[src^="data:image/png"]')

    def progress_bars(self) -> int:
        return self.count(".jp-OutputArea-output .widget-hprogress")

    def sliders(self) -> int:
        return self.count(".jp-OutputArea-output .widget-slider")

    def move_slider(self, description: str, presses: int = 5) -> None:
        """Focus the handle of the slider labelled ``description`` and press the right arrow."""
        box = self.page.locator(
            ".widget-slider", has=self.page.locator(".widget-label", has_text=description)
        )
        handle = box.first.locator(".noUi-handle, .ui-slider-handle, input[type=range]").first
        handle.focus()
        for _ in range(presses):
            handle.press("ArrowRight")
        self.page.wait_for_timeout(300)

    def image_sources(self) -> list[str]:
        imgs = self.page.locator('.jp-OutputArea-output img[src^="data:image/png"]')
        return [imgs.nth(i).get_attribute("src") for i in range(imgs.count())]

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)

    def close(self):
        self.context.close()
        self.lab.shutdown_kernels()
