"""Runs inside the grading kernel: keeps answer code from changing what a check relies on,
and from calling what the assignment forbids.

The grader (``runner.py``) runs, in the kernel:

* ``install(shell, config)`` once, before any notebook cell: snapshots ``sys.stdout``/
  ``stderr``, ``print``, ``sys.excepthook``/``displayhook``, IPython's custom exception
  handlers, input/AST transformers, event callbacks and the methods of the shell's and
  kernel's classes (``showtraceback``, ``run_cell``, ...), and hooks the shell's compiler so
  that every cell's code is tagged with its role. ``config`` holds the assignment's rules
  (see below).
* ``begin(role, key)`` before and ``end(allowed)`` after every notebook cell, with role
  ``"setup"`` (neither answer nor check), ``"answer"`` (``key``: the answer id),
  ``"check"`` (``key``: the question id) or ``"reference"`` (the instructor's answer,
  standing in for a student's failing one). ``end`` prints one line,
  ``NONCE + json``, with what happened while the cell ran (rules broken, tampering).

  - around a setup cell: the names it bound (``np``, ``rel_error``, ``verdict``...) are
    remembered, and so are the public attributes of every loaded ``numpy``/``torch``/
    ``sklearn``/``coursekit`` module;
  - before a check: all of the above is put back (an answer that rebinds ``verdict`` or
    patches ``np.allclose`` is undone); ``sys.stdout`` becomes a filter that keeps only
    what the check's own code prints (an answer's ``print`` while the check calls it goes
    to stderr, so debugging output neither breaks nor forges a check line);
  - after a check: tampering is reported (an answer function that swapped ``print`` or
    ``sys.stdout`` while the check called it), then everything is restored, including
    the user namespace (names the check bound, e.g. an oracle it imported, are removed).

**Rules** (``config["rules"]``: answer id -> ``{"forbid": [...], "allow": [...]}``) name
what an answer's code may not call, as prefixes of dotted names
``module.qualname`` (``"coursekit.theory"``, ``"torch.optim"``,
``"coursekit.problems.optimize"``; a prefix ending in ``*`` matches any continuation).
The longest matching prefix decides. While answer and check cells run, a profile hook
(``sys.setprofile``) watches every call into a forbidden name: it is a violation when,
walking the stack outwards, a frame of student code (an answer cell, or code an answer
created with ``exec`` or wrote to a file) comes before any check cell. Setup frames are
transparent (an answer cannot launder a call through a setup helper), library frames
too, except that a library calling itself (``torch.optim.adam`` calling
``torch.optim.optimizer``) is never a new entry. So a wrapper, ``importlib``,
``getattr``, ``np.vectorize`` or a ``torch.optim.Adam`` held in a list all count, while a
check handing an oracle to the answer (``nesterov_step(w, Q.grad, ...)``) does not.
Besides, the names an answer must define (``config["api"]``) are scanned after the answer
cell and before every check: an alias (``measure_rate = theory.measured_rate``), a
``functools.partial``, a subclass of a forbidden class or an attribute holding one is a
violation too, and so is every instance a student ``__init__`` leaves holding one.

This is a seat belt, not a sandbox: code running in the same interpreter can reach this
module too. What it cannot stop is stated in the README's threat model.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import json
import os
import sys
import sysconfig
import threading
import types

PROTECTED_MODULES = ("numpy", "torch", "sklearn", "coursekit")
#: Never forbidden: the grader itself and the verdict helpers.
ALWAYS_ALLOWED = ("coursekit.grading", "coursekit.checks", "coursekit._checks")
_SYS = ("stdout", "stderr", "excepthook", "displayhook")
_SKIP = {"__dict__", "__weakref__", "__doc__"}
_state: dict = {}
NONCE = "\x1fcoursekit-guard\x1f"


# ---------------------------------------------------------------- snapshot and restore


def install(shell, config=None) -> None:
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
        own={id(o): set(vars(o)) for o in objects},
        names={},
        modules={},
        before={},
        initial_ns=set(shell.user_ns),
    )
    _configure(config or {})
    for name in (config or {}).get("preload", []):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the check that needs it will say so
            pass
    _hook_compiler(shell)
    # the compiler hook is part of the snapshot: an answer that removes it is tampering
    _state["classes"] = {c: dict(vars(c)) for c in classes}
    _state["own"] = {id(o): set(vars(o)) for o in objects}
    _snapshot_modules()


def _snapshot_modules() -> None:
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
    _accept_torch_compiler()
    for name, (module, public) in s["modules"].items():
        found += [f"{name}.{k}" for k, v in public.items() if vars(module).get(k) is not v]
    if shell.compile.cache is not s["compile_hook"]:
        found.append("the compiler hook")
    return found


def _accept_torch_compiler() -> None:
    """torch imports its compiler lazily (on an optimiser's first step), and the import
    wraps ``torch.manual_seed``: accept exactly that, never report it as tampering."""
    torch = _state["modules"].get("torch")
    if torch is None or "torch._dynamo" not in sys.modules:
        return
    module, public = torch
    new, old = vars(module).get("manual_seed"), public.get("manual_seed")
    if new is not old and getattr(new, "__wrapped__", None) is old:
        public["manual_seed"] = new


def guard() -> None:
    """Put back everything a check relies on."""
    s, shell = _state, _state["shell"]
    _accept_torch_compiler()
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
    shell.compile.cache = s["compile_hook"]
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


def reset() -> None:
    """A fresh user namespace for the next submission in the same kernel (trusted code
    only: the grader's tests of many plausible answers share a kernel)."""
    stop_watching()
    ns = _state["shell"].user_ns
    for k in [k for k in ns if k not in _state["initial_ns"]]:
        del ns[k]
    _state.update(names={}, before={}, events_out=_new_events(), context=None)
    _state["self_scanned"] = set()


# ---------------------------------------------------------------- roles of code


def _configure(config: dict) -> None:
    rules = {
        key: (tuple(r.get("forbid", ())), tuple(r.get("allow", ())))
        for key, r in config.get("rules", {}).items()
    }
    _CODES.clear()
    _state.update(
        rules=rules,
        question_of=dict(config.get("questions", {})),
        answers_of={},
        api={k: list(v) for k, v in config.get("api", {}).items()},
        forbid_any=tuple(sorted({p for f, _ in rules.values() for p in f})),
        roles={},
        pending=None,
        context=None,
        role_now=None,
        modules_kind={},
        suspicious={},
        events_out=_new_events(),
        self_scanned=set(),
        library_roots=_library_roots(),
    )
    for answer, question in _state["question_of"].items():
        _state["answers_of"].setdefault(question, []).append(answer)


def _new_events() -> dict:
    return {"violations": {}, "tampered": []}


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # coursekit/
    roots.add(os.path.dirname(os.__file__))
    return tuple(sorted(os.path.realpath(r) + os.sep for r in roots))


def _hook_compiler(shell) -> None:
    """Tag every cell's file name with the role the grader announced for it."""
    compiler = shell.compile
    original = type(compiler).cache.__get__(compiler)

    def cache(*args, **kwargs):
        name = original(*args, **kwargs)
        role, _state["pending"] = _state["pending"], None
        _state["roles"][name] = role or ("student", None)
        return name

    compiler.cache = cache
    _state["compile_hook"] = cache


def _module_kind(name: str | None) -> str:
    """``"lib"`` for installed code (stdlib, site-packages, coursekit), else ``"student"``."""
    kind = _state["modules_kind"].get(name)
    if kind is None:
        module = sys.modules.get(name) if name else None
        if module is None:
            kind = "student"  # exec'd with a made-up __name__, or no module at all
        else:
            path = getattr(module, "__file__", None)
            if path is None:
                kind = "lib"  # built-in, frozen or namespace modules
            else:
                real = os.path.realpath(path)
                kind = "lib" if real.startswith(_state["library_roots"]) else "student"
        _state["modules_kind"][name] = kind
    return kind


_CODES: dict = {}  # code object -> (role, dotted name if suspicious, package, quiet)


def _info(frame):
    """(role, dotted name if forbidden by some rule, top-level package, is the body of a
    library module) of a frame's code; cached per code object."""
    code = frame.f_code
    info = _CODES.get(code)
    if info is not None:
        return info
    g = frame.f_globals
    name = g.get("__name__") if isinstance(g, dict) else None
    quiet = False
    if g is _state["shell"].user_ns:
        role = _state["roles"].get(code.co_filename, ("student", None))
        dotted, package = None, "__main__"
    elif _module_kind(name) == "lib":
        role = "lib"
        qualname = getattr(code, "co_qualname", code.co_name)
        dotted = f"{name}.{qualname}"
        quiet = code.co_name == "<module>"
        dotted = dotted if not quiet and _suspicious(dotted) else None
        package = name.split(".")[0]
    else:
        role, dotted, package = ("student", None), None, None
    info = (role, dotted, package, quiet)
    _CODES[code] = info
    return info


def _matches(name: str, prefix: str) -> bool:
    if prefix.endswith("*"):
        return name.startswith(prefix[:-1])
    return name == prefix or name.startswith(prefix + ".")


def _suspicious(name: str) -> bool:
    """Could ``name`` be forbidden to some answer? (a cheap filter before the stack walk)"""
    hit = _state["suspicious"].get(name)
    if hit is None:
        hit = not any(_matches(name, p) for p in ALWAYS_ALLOWED) and any(
            _matches(name, p) for p in _state["forbid_any"]
        )
        _state["suspicious"][name] = hit
    return hit


def rule_match(name: str, forbid, allow) -> str | None:
    """The prefix in ``forbid`` that forbids ``name``, or ``None``: the longest matching
    prefix of ``forbid`` and ``allow`` decides, and ``ALWAYS_ALLOWED`` is never forbidden."""
    if not forbid or any(_matches(name, p) for p in ALWAYS_ALLOWED):
        return None
    best, verdict = -1, None
    for prefix in forbid:
        if _matches(name, prefix) and len(prefix) > best:
            best, verdict = len(prefix), prefix
    for prefix in allow:
        if _matches(name, prefix) and len(prefix) >= best:
            best, verdict = len(prefix), None
    return verdict


def _forbidden(name: str, answer: str | None) -> str | None:
    """The forbidding prefix when ``answer``'s rules forbid ``name``."""
    forbid, allow = _state["rules"].get(answer, ((), ()))
    return rule_match(name, forbid, allow)


def _owner(role) -> tuple[str | None, str | None]:
    """(answer id, question id) responsible for student code of ``role``."""
    answer = role[1] if role[0] == "answer" else None
    if answer is None and _state["context"]:
        kind, key = _state["context"]
        answer = key if kind == "answer" else None
        if answer is None:  # code of unknown origin during question `key`'s check
            answers = _state["answers_of"].get(key, [])
            return (answers[0] if answers else None), key
    return answer, _state["question_of"].get(answer)


def _record(question: str | None, message: str) -> None:
    key = question or "?"
    found = _state["events_out"]["violations"].setdefault(key, [])
    if message not in found and len(found) < 20:
        found.append(message)


def _judge(caller, name: str, package: str | None) -> None:
    """A call into ``name`` (possibly forbidden) from ``caller``: find who made it."""
    if caller is not None:
        role, _, pkg, _ = _info(caller)
        if role == "lib" and pkg == package:
            return  # a library calling itself: judged when it was entered
    frame = caller
    while frame is not None:
        role = _info(frame)[0]
        if role == "check":
            return
        if isinstance(role, tuple):  # student code
            answer, question = _owner(role)
            prefix = _forbidden(name, answer)
            if prefix:
                where = frame.f_code.co_name
                where = "the answer cell" if where == "<module>" else where
                who = f"answer {answer}" if answer else "code of unknown origin"
                _record(question, f"{who} calls {name} in {where} (the rules forbid {prefix})")
            return
        frame = frame.f_back


_WATCHERS = {
    id(f): f for f in (sys.setprofile, sys.settrace, threading.setprofile, threading.settrace)
}


def _quiet_until(target):
    """A profile function that waits for ``target`` (a library module's body, i.e. an
    import) to finish, then hands back to :func:`_profile`: imports are not watched."""

    def quiet(frame, event, arg):
        if frame is target and event == "return":
            sys.setprofile(_profile)

    return quiet


def _profile(frame, event, arg):
    try:
        if event == "call":
            info = _CODES.get(frame.f_code) or _info(frame)
            if info[1] is not None:
                _judge(frame.f_back, info[1], info[2])
            elif info[3]:
                sys.setprofile(_quiet_until(frame))
        elif event == "c_call":
            if id(arg) in _WATCHERS and _WATCHERS[id(arg)] is arg:
                role = _info(frame)[0]
                if isinstance(role, tuple):
                    answer, question = _owner(role)
                    _record(question, f"answer {answer} calls sys.{arg.__name__}: tampering")
                return
            module = getattr(arg, "__module__", None)
            if module == "builtins":
                return
            if module is None:
                owner = getattr(arg, "__self__", None)
                if owner is None:
                    return
                module = owner.__name__ if isinstance(owner, types.ModuleType) else None
                module = module or type(owner).__module__
                qualname = getattr(arg, "__qualname__", None) or getattr(arg, "__name__", "")
            else:
                qualname = getattr(arg, "__name__", None) or ""
            if not isinstance(module, str):
                return
            dotted = f"{module}.{qualname}"
            if _suspicious(dotted):
                _judge(frame, dotted, module.split(".")[0])
        elif event == "return" and frame.f_code.co_name == "__init__":
            role = _info(frame)[0]
            if isinstance(role, tuple):
                obj = frame.f_locals.get("self")
                if obj is not None and id(obj) not in _state["self_scanned"]:
                    _state["self_scanned"].add(id(obj))
                    answer, question = _owner(role)
                    for found in _scan(obj, answer, f"{type(obj).__name__}()"):
                        _record(question, f"answer {answer}: {found}")
    except Exception:  # noqa: BLE001 - the watcher must never break the code it watches
        pass


def watch() -> None:
    sys.setprofile(_profile)
    threading.setprofile(_profile)


def stop_watching() -> None:
    sys.setprofile(None)
    threading.setprofile(None)


# ---------------------------------------------------------------- scanning what answers bind


def _object_name(obj) -> str | None:
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str):
        owner = getattr(obj, "__self__", None)
        module = type(owner).__module__ if owner is not None else None
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    return f"{module}.{qualname}"


def _is_notebook(obj) -> bool:
    return getattr(obj, "__module__", None) == "__main__"


def _scan(obj, answer, path, depth=0, seen=None) -> list[str]:
    """What ``obj`` (bound by an answer) holds that the answer's rules forbid."""
    seen = set() if seen is None else seen
    if depth > 4 or id(obj) in seen or len(seen) > 3000:
        return []
    seen.add(id(obj))
    if isinstance(obj, types.ModuleType | str | bytes | int | float | complex | bool):
        return []
    found: list[str] = []
    kids: list[tuple[str, object]] = []
    if isinstance(obj, types.FunctionType | types.BuiltinFunctionType | type):
        name = _object_name(obj)
        prefix = _forbidden(name, answer) if name else None
        if prefix:
            return [f"{path} is {name} (the rules forbid {prefix})"]
        if isinstance(obj, type):
            for base in obj.__mro__[1:]:
                base_name = _object_name(base)
                prefix = _forbidden(base_name, answer) if base_name else None
                if prefix:
                    return [f"{path} subclasses {base_name} (the rules forbid {prefix})"]
            if _is_notebook(obj):
                kids = [(f"{path}.{k}", v) for k, v in vars(obj).items() if not k.startswith("__")]
        else:
            wrapped = getattr(obj, "__wrapped__", None)
            kids = [(f"{path}.__wrapped__", wrapped)] if wrapped is not None else []
    elif isinstance(obj, functools.partial):
        kids = [(f"{path}.func", obj.func)] + [(f"{path}.args", a) for a in obj.args]
        kids += [(f"{path}.{k}", v) for k, v in obj.keywords.items()]
    elif isinstance(obj, types.MethodType):
        kids = [(f"{path}.__func__", obj.__func__), (f"{path}.__self__", obj.__self__)]
    elif isinstance(obj, staticmethod | classmethod):
        kids = [(path, obj.__func__)]
    elif isinstance(obj, property):
        kids = [(path, f) for f in (obj.fget, obj.fset) if f is not None]
    elif isinstance(obj, list | tuple | set | frozenset):
        kids = [(f"{path}[{i}]", v) for i, v in enumerate(list(obj)[:200])]
    elif isinstance(obj, dict):
        kids = [(f"{path}[{k!r}]", v) for k, v in list(obj.items())[:200]]
    else:  # an instance
        kind = type(obj)
        name = _object_name(kind)
        prefix = _forbidden(name, answer) if name else None
        if prefix:
            return [f"{path} holds a {name} (the rules forbid {prefix})"]
        module = getattr(kind, "__module__", "") or ""
        if module.split(".")[0] in ("numpy", "torch") and not isinstance(obj, types.CellType):
            inner = getattr(obj, "pyfunc", None)  # np.vectorize
            kids = [(f"{path}.pyfunc", inner)] if inner is not None else []
        elif isinstance(obj, types.CellType):
            try:
                kids = [(path, obj.cell_contents)]
            except ValueError:
                kids = []
        else:
            attrs = getattr(obj, "__dict__", None)
            kids = [(f"{path}.{k}", v) for k, v in attrs.items()] if isinstance(attrs, dict) else []
            wrapped = getattr(kind, "__wrapped__", None)
            if wrapped is None and "__wrapped__" not in (attrs or {}):
                wrapped = getattr(obj, "__wrapped__", None) if module == "functools" else None
            if wrapped is not None:
                kids.append((f"{path}.__wrapped__", wrapped))
    for kid_path, kid in kids:
        found += _scan(kid, answer, kid_path, depth + 1, seen)
        if found:
            break
    return found


def scan_api(answers=None) -> None:
    """Scan the names answers must define (all answers, or those given)."""
    ns = _state["shell"].user_ns
    for answer, names in _state["api"].items():
        if answers is not None and answer not in answers:
            continue
        question = _state["question_of"].get(answer)
        for name in names:
            if name in ns:
                for found in _scan(ns[name], answer, name):
                    _record(question, f"answer {answer}: {found}")


# ---------------------------------------------------------------- what a check prints


def _nearest_notebook_role(frame):
    while frame is not None:
        role = _info(frame)[0]
        if role != "lib":
            return role
        frame = frame.f_back
    return None


class _CheckStream:
    """``sys.stdout`` during a check: text printed by answer code goes to stderr."""

    def __init__(self, out, err):
        self._out, self._err = out, err

    def write(self, text):
        role = _nearest_notebook_role(sys._getframe(1))
        target = self._out if role in ("check", "setup", "reference", "grader") else self._err
        return target.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._out, name)


# ---------------------------------------------------------------- cells


def begin(role: str, key: str | None = None) -> None:
    """Before a notebook cell of ``role`` (see the module docstring)."""
    _state["role_now"] = role
    _state["events_out"] = _new_events()
    _state["self_scanned"] = set()
    if role == "setup":
        mark()
        _state["pending"] = "setup"
        return
    if role == "reference":
        _state["pending"] = "reference"
        return
    if role == "check":
        guard()
        _state["ns_before"] = dict(_state["shell"].user_ns)
        _state["pending"] = "check"
        _state["context"] = ("check", key)
        scan_api()
        sys.stdout = _CheckStream(_state["sys"]["stdout"], _state["sys"]["stderr"])
        _state["stream"] = sys.stdout
    else:
        _state["pending"] = ("answer", key)
        _state["context"] = ("answer", key)
    watch()


def end(allowed=()) -> None:
    """After a notebook cell: report what happened, put things back."""
    watching = sys.getprofile() is _profile
    if not watching and getattr(sys.getprofile(), "__qualname__", "").startswith("_quiet_until"):
        watching = True  # an import still running: cannot happen between cells
    stop_watching()
    role, events = _state["role_now"], _state["events_out"]
    _state["pending"], _state["role_now"] = None, None
    if role == "check" and not watching:
        events["tampered"].append("the grader's call monitor")  # reported with the rest below
    if role == "answer" and not watching:
        answer = (_state["context"] or (None, None))[1]
        _record(
            _state["question_of"].get(answer),
            f"answer {answer} switched off the grader's call monitor: tampering",
        )
    if role == "setup":
        protect()
    elif role == "answer" and _state["context"]:
        scan_api([_state["context"][1]])
    elif role == "check":
        stream_ok = sys.stdout is _state.get("stream")
        if stream_ok:
            sys.stdout = _state["sys"]["stdout"]
        found = changed(allowed) + events["tampered"]
        events["tampered"] = []
        if not stream_ok:
            found.append("sys.stdout")
        guard()
        if found:
            events["tampered"].append("the check ran with replaced " + ", ".join(sorted(found)[:4]))
        ns, before = _state["shell"].user_ns, _state.pop("ns_before", {})
        for k in [k for k in ns if k not in before and not k.startswith("_")]:
            del ns[k]
        for k, v in before.items():
            if not k.startswith("_") and ns.get(k, ns) is not v:
                ns[k] = v
    _state["context"] = None
    _state["stream"] = None
    _state["print"](NONCE + json.dumps(events), file=_state["sys"]["stdout"])
