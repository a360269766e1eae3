"""Running code cells one by one in a fresh kernel, surviving timeouts and kernel deaths.

An error is what the kernel's ``execute_reply`` says (``status == "error"``), never
what was displayed, so an answer that silences tracebacks still fails. A cell that runs
past its timeout or kills the kernel (``os._exit``) fails alone: the kernel is restarted
and the cells that had run fine are replayed before grading goes on.

Every notebook cell runs between the grader's ``begin``/``end`` cells (see
``kernel_guard.py``), which tag its code with its role, watch what answer code calls, and
report it: :attr:`Result.events`.
"""

from __future__ import annotations

import ast
import json
import os
import queue
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_client import KernelManager

from .notebook import normalise

MAX_OUTPUT = 100_000  # characters of a cell's output kept (an answer may print forever)
_GUARD = '__import__("sys").modules["coursekit.grading.kernel_guard"]'
NONCE = "\x1fcoursekit-guard\x1f"


def preamble(config: dict) -> str:
    """Grader code run once, before any notebook cell (see ``kernel_guard.py``)."""
    return (
        "import coursekit.grading.kernel_guard\n"
        f"coursekit.grading.kernel_guard.install(get_ipython(), {config!r})\n"
        "del coursekit"
    )


def assigned_names(source: str) -> list[str]:
    """Names a cell binds at top level or anywhere by assignment (empty if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    names |= {
        (a.asname or a.name).split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    }
    return sorted(names)


@dataclass
class Result:
    """What one cell did: ``status`` is ``ok``, ``error``, ``timeout``, ``dead`` or
    ``tampered`` (a check that replaced what the guard protects); ``output`` is its
    normalised text, ``error`` a one-line ``Name: message``; ``events``: what the guard saw
    (``violations``: question -> messages, ``tampered``: messages)."""

    status: str
    output: str = ""
    error: str = ""
    events: dict = field(default_factory=dict)


class Kernel:
    """A python3 kernel in a throwaway working directory, one cell at a time.

    ``timeout`` is per cell, in seconds. ``config`` is the guard's (rules, answer ids).
    ``replay`` keeps the cells that ran fine so that after a restart the kernel gets back
    to the same state.
    """

    def __init__(
        self, timeout: float = 30.0, startup_timeout: float = 60.0, config=None, sandbox=None
    ):
        self.timeout, self.startup_timeout = timeout, startup_timeout
        self.config = config or {}
        self.sandbox = sandbox  # a sandbox.Limits: the kernel runs inside bubblewrap
        self._dir = tempfile.TemporaryDirectory(prefix="coursekit-grade-")
        self._ipc = tempfile.TemporaryDirectory(prefix="coursekit-ipc-")
        self.km: Any = None
        self.kc: Any = None
        self.replay: list[tuple[str, str | None, str | None]] = []
        self.restarts = 0

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self._dir.cleanup()
        self._ipc.cleanup()

    def start(self) -> None:
        env = dict(os.environ, MPLBACKEND="agg", PYDEVD_DISABLE_FILE_VALIDATION="1")
        if self.sandbox is not None:
            from . import sandbox

            env = sandbox.environment(env)
            self.km = sandbox.manager(self._ipc.name, self.sandbox)
            if not self.sandbox.namespaces:  # no private /tmp: the kernel's own folder
                sandbox.prepare_ipc(self._dir.name)
                env.update(HOME=self._dir.name, TMPDIR=self._dir.name)
                env["PYTHONPATH"] = sandbox.package_parent()
        else:
            self.km = KernelManager(kernel_name="python3", transport="ipc")
            self.km.ip = os.path.join(self._ipc.name, "kernel")
        quiet = {"stdout": subprocess.DEVNULL} if self.sandbox is not None else {}
        self.km.start_kernel(
            cwd=self._dir.name,
            env=env,
            extra_arguments=["--HistoryManager.enabled=False"],
            **quiet,  # without JPY_PARENT_PID, ipykernel prints how to connect to it
        )
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=self.startup_timeout)
        result = self._execute(preamble(self.config), self.startup_timeout)
        if result.status != "ok":
            raise RuntimeError(f"grader preamble failed: {result.error}")

    def shutdown(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None and self.km.has_kernel:
            self.km.shutdown_kernel(now=True)
        self.km = self.kc = None

    def restart(self) -> None:
        """A fresh kernel with the preamble and every cell in ``replay`` re-run."""
        self.shutdown()
        self.restarts += 1
        self.start()
        for source, role, key in self.replay:
            result = self._cell(source, role, key)
            if result.status in ("timeout", "dead"):
                self.shutdown()  # a cell that ran fine once hangs now: start bare
                self.start()
                break

    def reset(self) -> None:
        """A fresh namespace in the same kernel (for trusted code only: see ``Session``)."""
        self.replay = []
        result = self._execute(f"{_GUARD}.reset()", self.timeout)
        if result.status != "ok":
            self.shutdown()
            self.start()

    def run(self, source: str, role: str | None = None, key=None, keep=True) -> Result:
        """Run one cell (between the guard's cells when ``role`` is given); on timeout or
        death, restart (the cell is not replayed)."""
        result = self._cell(source, role, key)
        if result.status in ("timeout", "dead"):
            self.restart()
        elif result.status == "ok" and keep:
            self.replay.append((source, role, key))
        return result

    def run_setup(self, source: str) -> Result:
        """Run a setup cell and protect the names and modules it brings in."""
        return self.run(source, "setup")

    def run_answer(self, source: str, key: str) -> Result:
        return self.run(source, "answer", key)

    def run_check(self, source: str, key: str | None = None) -> Result:
        """Run a check between the guard cells; status ``tampered`` if it replaced anything.

        The check is not replayed after a restart: checks must not set up later cells.
        """
        return self.run(source, "check", key, keep=False)

    def _cell(self, source: str, role: str | None, key) -> Result:
        if role is None:
            return self._execute(source, self.timeout)
        begin = self._execute(f"{_GUARD}.begin({role!r}, {key!r})", self.timeout)
        if begin.status != "ok":
            return Result("tampered", "", f"the grader's guard failed: {begin.error}")
        result = self._execute(source, self.timeout)
        if result.status in ("timeout", "dead"):
            return result
        allowed = assigned_names(source) if role == "check" else []
        end = self._execute(f"{_GUARD}.end({allowed!r})", self.timeout)
        if end.status in ("timeout", "dead"):
            return Result(end.status, result.output, "the kernel died after the cell ran")
        events = None
        for line in end.output.splitlines():
            if line.startswith(NONCE):
                events = json.loads(line[len(NONCE) :])
        if end.status != "ok" or events is None:
            why = end.error or "no report"
            return Result("tampered", result.output, f"the grader's guard failed: {why}")
        result.events = events
        if role == "check" and events.get("tampered") and result.status == "ok":
            return Result("tampered", result.output, "; ".join(events["tampered"]), events)
        return result

    def _execute(self, source: str, timeout: float) -> Result:
        msg_id = self.kc.execute(source, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + timeout
        parts: list[str] = []
        idle, reply = False, None
        while not (idle and reply):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Result(
                    "timeout", normalise("".join(parts)), f"timed out after {timeout:g} s"
                )
            if not self.km.is_alive():
                return Result("dead", normalise("".join(parts)), "the kernel died")
            if not idle:
                try:
                    msg = self.kc.get_iopub_msg(timeout=min(0.2, remaining))
                except queue.Empty:
                    continue
                if msg["parent_header"].get("msg_id") == msg_id:
                    idle = self._collect(msg, parts)
            else:
                try:
                    msg = self.kc.get_shell_msg(timeout=min(0.2, remaining))
                except queue.Empty:
                    continue
                if msg["parent_header"].get("msg_id") == msg_id:
                    reply = msg["content"]
        output = normalise("".join(parts))
        if reply.get("status") == "ok":
            return Result("ok", output)
        error = f"{reply.get('ename', 'Error')}: {reply.get('evalue', '')}".rstrip(": ")
        return Result("error", output, error)

    @staticmethod
    def _collect(msg, parts: list[str]) -> bool:
        """Keep stdout and ``text/plain`` results (``clear_output`` is ignored: a check's
        text cannot be wiped by the code it calls); stop keeping after ``MAX_OUTPUT``."""
        kind, content = msg["msg_type"], msg["content"]
        text = None
        if kind == "stream" and content.get("name") == "stdout":
            text = content.get("text", "")
        elif kind in ("execute_result", "display_data"):
            text = content.get("data", {}).get("text/plain")
            text = None if text is None else text + "\n"
        if text is not None and sum(map(len, parts)) < MAX_OUTPUT:
            parts.append(text[:MAX_OUTPUT])
        return kind == "status" and content.get("execution_state") == "idle"
