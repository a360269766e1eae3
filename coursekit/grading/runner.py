"""Running code cells one by one in a fresh kernel, surviving timeouts and kernel deaths.

An error is what the kernel's ``execute_reply`` says (``status == "error"``), never
what was displayed, so an answer that silences tracebacks still fails. A cell that runs
past its timeout or kills the kernel (``os._exit``) fails alone: the kernel is restarted
and the cells that had run fine are replayed before grading goes on.
"""

from __future__ import annotations

import os
import queue
import tempfile
import time
from dataclasses import dataclass

from jupyter_client import KernelManager

from .notebook import normalise

#: Grader code run once, before any notebook cell: snapshots what a check relies on.
PREAMBLE = r"""
def _coursekit_install():
    import builtins, sys, types
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    classes = [c for obj in (shell, kernel, sys.stdout) if obj is not None
               for c in type(obj).__mro__ if c.__module__ != "builtins"]
    saved = dict(stdout=sys.stdout, stderr=sys.stderr, print=builtins.print,
                 excepthook=sys.excepthook, displayhook=sys.displayhook,
                 custom=shell.custom_exceptions, CustomTB=shell.CustomTB,
                 ast=list(shell.ast_transformers), post=list(shell.input_transformers_post),
                 cleanup=list(shell.input_transformer_manager.cleanup_transforms),
                 events={k: list(v) for k, v in shell.events.callbacks.items()},
                 classes={c: dict(vars(c)) for c in classes},
                 own={id(o): set(vars(o)) for o in (shell, kernel) if o is not None})

    def changed():
        found = [n for n in ("stdout", "stderr", "excepthook", "displayhook")
                 if getattr(sys, n) != saved[n]]
        found += ["print"] if builtins.print is not saved["print"] else []
        found += ["custom exception handler"] if shell.custom_exceptions != saved["custom"] else []
        found += ["ast transformers"] if shell.ast_transformers != saved["ast"] else []
        found += ["input transformers"] if shell.input_transformers_post != saved["post"] else []
        found += [f"{k} callbacks" for k, v in shell.events.callbacks.items()
                  if v != saved["events"].get(k, [])]
        for cls, attrs in saved["classes"].items():
            found += [f"{cls.__name__}.{k}" for k, v in vars(cls).items() if attrs.get(k) is not v]
        for obj in (shell, kernel):
            if obj is not None:
                found += [f"{type(obj).__name__}.{k}" for k in set(vars(obj)) - saved["own"][id(obj)]
                          if callable(vars(obj)[k])]
        return found

    def guard():
        for n in ("stdout", "stderr", "excepthook", "displayhook"):
            setattr(sys, n, saved[n])
        builtins.print = saved["print"]
        shell.custom_exceptions, shell.CustomTB = saved["custom"], saved["CustomTB"]
        shell.ast_transformers[:] = saved["ast"]
        shell.input_transformers_post[:] = saved["post"]
        shell.input_transformer_manager.cleanup_transforms[:] = saved["cleanup"]
        for k in shell.events.callbacks:
            shell.events.callbacks[k][:] = saved["events"].get(k, [])
        for cls, attrs in saved["classes"].items():
            for k in [k for k in vars(cls) if k not in attrs]:
                delattr(cls, k)
            for k, v in attrs.items():
                if vars(cls).get(k) is not v and k not in ("__dict__", "__weakref__", "__doc__"):
                    setattr(cls, k, v)
        for obj in (shell, kernel):
            if obj is not None:
                for k in set(vars(obj)) - saved["own"][id(obj)]:
                    if callable(vars(obj)[k]):
                        delattr(obj, k)

    def verify():
        found = changed()
        guard()
        if found:
            raise RuntimeError("the check ran with replaced " + ", ".join(sorted(found)[:4]))

    sys.modules["_coursekit_grader"] = types.SimpleNamespace(guard=guard, verify=verify)

_coursekit_install()
del _coursekit_install
"""
GUARD = '__import__("sys").modules["_coursekit_grader"].guard()'
VERIFY = '__import__("sys").modules["_coursekit_grader"].verify()'


@dataclass
class Result:
    """What one cell did: ``status`` is ``ok``, ``error``, ``timeout`` or ``dead``."""

    status: str
    output: str = ""
    error: str = ""


class Kernel:
    """A python3 kernel in a throwaway working directory, one cell at a time.

    ``timeout`` is per cell, in seconds. ``replay`` keeps the sources that ran fine so
    that after a restart the kernel gets back to the same state.
    """

    def __init__(self, timeout: float = 30.0, startup_timeout: float = 60.0):
        self.timeout, self.startup_timeout = timeout, startup_timeout
        self._dir = tempfile.TemporaryDirectory(prefix="coursekit-grade-")
        self._ipc = tempfile.TemporaryDirectory(prefix="coursekit-ipc-")
        self.km = self.kc = None
        self.replay: list[str] = []
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
        self.km = KernelManager(kernel_name="python3", transport="ipc")
        self.km.ip = os.path.join(self._ipc.name, "kernel")
        self.km.start_kernel(
            cwd=self._dir.name, env=env, extra_arguments=["--HistoryManager.enabled=False"]
        )
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=self.startup_timeout)
        result = self._execute(PREAMBLE, self.startup_timeout)
        if result.status != "ok":
            raise RuntimeError(f"grader preamble failed: {result.error}")

    def shutdown(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None and self.km.has_kernel:
            self.km.shutdown_kernel(now=True)
        self.km = self.kc = None

    def restart(self) -> None:
        """A fresh kernel with the preamble and every source in ``replay`` re-run."""
        self.shutdown()
        self.restarts += 1
        self.start()
        for source in self.replay:
            self._execute(source, self.timeout)

    def run(self, source: str, keep: bool = True) -> Result:
        """Run one cell; on timeout or death, restart (the cell is not replayed)."""
        result = self._execute(source, self.timeout)
        if result.status in ("timeout", "dead"):
            self.restart()
        elif result.status == "ok" and keep:
            self.replay.append(source)
        return result

    def _execute(self, source: str, timeout: float) -> Result:
        msg_id = self.kc.execute(source, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + timeout
        parts, idle, reply = [], False, None
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
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content.get("name") == "stdout":
            parts.append(content.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            text = content.get("data", {}).get("text/plain")
            if text is not None:
                parts.append(text + "\n")
        elif kind == "clear_output":
            parts.clear()
        return kind == "status" and content.get("execution_state") == "idle"
