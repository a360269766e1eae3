"""Runs inside the grading kernel: keeps answer code from changing what a check relies on.

The grader calls, in the kernel (see ``runner.py``):

* ``install(shell)`` once, before any notebook cell: snapshots ``sys.stdout``/``stderr``,
  ``print``, ``sys.excepthook``/``displayhook``, IPython's custom exception handlers,
  input/AST transformers, event callbacks and the methods of the shell's and kernel's
  classes (``showtraceback``, ``run_cell``, ...);
* ``mark()`` / ``protect()`` around every setup cell (neither answer nor check): the
  names that cell bound (``np``, ``rel_error``, ``verdict``...) are remembered, and so
  are the public attributes of every loaded ``numpy``/``torch``/``sklearn``/``coursekit``
  module;
* ``guard()`` before every check: puts all of the above back (an answer that rebinds
  ``verdict`` or patches ``np.allclose`` is undone);
* ``verify()`` after every check: raises ``RuntimeError`` naming what the check's run
  replaced (an answer function that swaps ``print`` or ``sys.stdout`` while the check
  calls it), then restores.

This is a seat belt, not a sandbox: code running in the same interpreter can reach this
module too. What it cannot stop is stated in the README's threat model.
"""

from __future__ import annotations

import builtins
import sys

PROTECTED_MODULES = ("numpy", "torch", "sklearn", "coursekit")
_SYS = ("stdout", "stderr", "excepthook", "displayhook")
_SKIP = {"__dict__", "__weakref__", "__doc__"}
_state: dict = {}


def install(shell) -> None:
    """Snapshot the interpreter as the grader found it (run before any student code)."""
    kernel = getattr(shell, "kernel", None)
    objects = [o for o in (shell, kernel) if o is not None]
    classes = {
        c for o in (*objects, sys.stdout) for c in type(o).__mro__ if c.__module__ != "builtins"
    }
    _state.update(
        shell=shell,
        objects=objects,
        sys={n: getattr(sys, n) for n in _SYS},
        print=builtins.print,
        custom=(shell.custom_exceptions, shell.CustomTB),
        transformers=[
            (lst, list(lst))
            for lst in (
                shell.ast_transformers,
                shell.input_transformers_post,
                shell.input_transformer_manager.cleanup_transforms,
            )
        ],
        events={k: list(v) for k, v in shell.events.callbacks.items()},
        classes={c: dict(vars(c)) for c in classes},
        own={id(o): set(vars(o)) for o in objects},
        names={},
        modules={},
        before={},
    )
    _snapshot_modules()


def _snapshot_modules() -> None:
    if "torch" in sys.modules and "torch._dynamo" not in sys.modules:
        # torch imports its compiler lazily (e.g. on an optimiser's first step), and the
        # import rebinds public functions such as torch.manual_seed; import it now so
        # that torch's own doing is never reported as the student's tampering
        import torch._dynamo  # noqa: F401
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in PROTECTED_MODULES and name not in _state["modules"]:
            public = {k: v for k, v in vars(module).items() if not k.startswith("_")}
            _state["modules"][name] = (module, public)


def mark() -> None:
    """Before a setup cell: remember the user namespace's bindings."""
    _state["before"] = dict(_state["shell"].user_ns)


def protect() -> None:
    """After a setup cell: protect the names it bound and the modules it loaded."""
    before = _state["before"]
    for k, v in _state["shell"].user_ns.items():
        if not k.startswith("_") and before.get(k, before) is not v:
            _state["names"][k] = v
    _snapshot_modules()


def changed(allowed=()) -> list[str]:
    """Everything that differs from the snapshot, as readable names.

    ``allowed``: protected names the check itself assigns (not tampering).
    """
    s, shell = _state, _state["shell"]
    found = [f"sys.{n}" for n, v in s["sys"].items() if getattr(sys, n) != v]
    found += ["print"] if builtins.print is not s["print"] else []
    found += ["the custom exception handler"] if shell.custom_exceptions != s["custom"][0] else []
    found += ["input transformers"] if any(lst != old for lst, old in s["transformers"]) else []
    found += [
        f"{k} callbacks" for k, v in shell.events.callbacks.items() if v != s["events"].get(k, [])
    ]
    for cls, attrs in s["classes"].items():
        found += [
            f"{cls.__name__}.{k}"
            for k, v in vars(cls).items()
            if attrs.get(k) is not v and k not in _SKIP
        ]
    for obj in s["objects"]:
        new = set(vars(obj)) - s["own"][id(obj)]
        found += [f"{type(obj).__name__}.{k}" for k in new if callable(vars(obj)[k])]
    found += [
        k for k, v in s["names"].items() if shell.user_ns.get(k) is not v and k not in allowed
    ]
    for name, (module, public) in s["modules"].items():
        found += [f"{name}.{k}" for k, v in public.items() if vars(module).get(k) is not v]
    return found


def guard() -> None:
    """Put back everything a check relies on."""
    s, shell = _state, _state["shell"]
    for n, v in s["sys"].items():
        setattr(sys, n, v)
    builtins.print = s["print"]
    shell.custom_exceptions, shell.CustomTB = s["custom"]
    for lst, old in s["transformers"]:
        lst[:] = old
    for k in shell.events.callbacks:
        shell.events.callbacks[k][:] = s["events"].get(k, [])
    for cls, attrs in s["classes"].items():
        for k in [k for k in vars(cls) if k not in attrs]:
            delattr(cls, k)
        for k, v in attrs.items():
            if vars(cls).get(k) is not v and k not in _SKIP:
                setattr(cls, k, v)
    for obj in s["objects"]:
        for k in set(vars(obj)) - s["own"][id(obj)]:
            if callable(vars(obj)[k]):
                delattr(obj, k)
    shell.user_ns.update(s["names"])
    for module, public in s["modules"].values():
        for k, v in public.items():
            if vars(module).get(k) is not v:
                setattr(module, k, v)


def verify(allowed=()) -> None:
    """After a check: fail it if its run replaced anything the guard protects."""
    found = changed(allowed)
    guard()
    if found:
        raise RuntimeError("the check ran with replaced " + ", ".join(sorted(found)[:4]))
