"""Grading kernels inside bubblewrap: no network, no view of the course, limits on resources.

A submission's kernel runs as ``bwrap [namespaces, mounts] -- [setpriv] prlimit ... python
-m ipykernel_launcher -f CONNECTION``:

* **no network**: a new network namespace (only a loopback that is down). The kernel
  talks to the grader over ZeroMQ's ``ipc`` transport, through Unix sockets in a folder
  bind-mounted into the sandbox (TCP cannot cross the namespace);
* **a read-only view of the system and the environment**: ``/usr`` (and ``/bin``, ``/lib``
  ... as on the host), ``/etc``, the Python installation and every ``sys.path`` folder, and
  of the course only the ``coursekit`` package folder. A course checkout on ``sys.path``
  (one holding ``solutions/`` or ``assignments/``) is *not* mounted: the kernel sees
  neither the solutions, nor ``assignments/.reference/``, nor any submission. The
  reference is read into the grader's memory before any student code runs;
* **a private writable scratch folder**: ``/tmp`` is a fresh tmpfs of bounded size (the
  kernel's working directory and ``$HOME`` are under it); it vanishes with the sandbox,
  so nothing the code writes reaches the disk;
* **limits** (``prlimit``): address space (``memory`` bytes: a 20 GB allocation raises
  ``MemoryError``), processes (``processes`` more than the user already runs: a fork bomb
  stops there, and the PID namespace dies with the kernel), CPU seconds for the kernel's
  life, file size, no core dumps. The runner's per-cell timeout stays;
* what it does not bound: the memory limit is per process, so code that forks can hold up
  to ``processes`` times ``memory`` (a cgroup would bound the sum; bwrap alone has none),
  and the process limit counts every process of the kernel's user, so a fork bomb in one
  of ``-j N`` parallel kernels (all ``nobody``) can starve the others until its cell times
  out;
* **an unprivileged user**: when the grader runs as root, the kernel runs as
  ``nobody`` (uid 65534): bwrap, as root, keeps only ``CAP_SETUID``/``CAP_SETGID`` for
  ``setpriv``, which drops to 65534 and with it every capability. Otherwise the kernel
  keeps the grader's uid inside a new user namespace, without capabilities;
* ``JPY_PARENT_PID`` is unset: in a PID namespace ipykernel would find that "parent"
  missing and exit.

``bwrap`` (Debian's ``bubblewrap``) must be installed; :func:`require` says how if not.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import CourseError

NOBODY = 65534
SCRATCH = "/tmp/scratch"
INSTALL_HINT = (
    "bubblewrap is not installed, and class grading runs each submission's code inside it "
    "(no network, no view of the reference or other submissions). Install it with "
    "`sudo apt-get install bubblewrap`, or pass --no-sandbox to run the students' code "
    "with your own account, network and files"
)


@dataclass
class Limits:
    """Resource limits of one sandboxed kernel (see the module docstring)."""

    memory: int = 6 * 2**30  # bytes of address space (torch alone maps ~1.5 GB)
    processes: int = 128 + 4 * (os.cpu_count() or 1)  # and threads, on top of the user's
    cpu_seconds: int = 900  # CPU time of the kernel over the whole submission
    file_size: int = 2**30  # largest file it may write (in its scratch tmpfs)
    scratch: int = 2**30  # size of the scratch tmpfs
    namespaces: bool = True
    """False: no bwrap, only the unprivileged user (as root) and the limits: for a
    container where bwrap cannot make namespaces (Gradescope's), which isolates the rest."""


def available() -> bool:
    """Whether ``bwrap`` is on the PATH."""
    return shutil.which("bwrap") is not None


def user_drop_works() -> bool:
    """Whether, as root, this Python can run as ``nobody`` (not when it lives under a
    folder only root may enter, such as ``/root/.pyenv``)."""
    import subprocess

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    try:
        done = subprocess.run(
            [*drop, sys.executable, "-c", "import coursekit"],
            capture_output=True,
            timeout=60,
            cwd="/",
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def require(limits: Limits | None = None) -> None:
    """``CourseError`` with how to install bubblewrap when it is missing, or with bwrap's
    own message when it cannot build the sandbox here (e.g. user namespaces disabled)."""
    import subprocess
    import tempfile

    if limits is not None and not limits.namespaces:
        return
    if not available():
        raise CourseError(INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="coursekit-probe-") as folder:
        prepare_ipc(folder)
        try:
            done = subprocess.run(
                command(["true"], folder, limits), capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.SubprocessError) as exc:
            done = subprocess.CompletedProcess([], 1, "", str(exc))
    if done.returncode != 0:
        raise CourseError(
            "the sandbox cannot start here (bwrap says: "
            f"{' '.join(done.stderr.split()) or 'nothing'}); unprivileged user namespaces "
            "may be disabled (sysctl kernel.unprivileged_userns_clone, or AppArmor's "
            "kernel.apparmor_restrict_unprivileged_userns), or pass --no-sandbox"
        )


def _course_root(folder: Path) -> bool:
    return (folder / "solutions").is_dir() or (folder / "assignments").is_dir()


def visible_paths() -> list[Path]:
    """Folders mounted read-only besides the system: the Python installation, the
    ``sys.path`` folders (a course checkout only by its ``coursekit`` package folder)."""
    import coursekit

    package = Path(coursekit.__file__).resolve().parent
    # what the kernel needs, wherever it lives (a CI checkout and its venv may sit in /tmp)
    needed = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent]
    needed.append(package)
    found = []
    for entry in sys.path:
        folder = Path(entry or ".").resolve()
        if not folder.is_dir() or folder == Path("/"):
            continue
        if _course_root(folder):
            continue  # the course itself: only its package, below
        if "site-packages" in folder.parts or "dist-packages" in folder.parts:
            needed.append(folder)
        elif not str(folder).startswith("/tmp"):  # e.g. a grader's working folder in /tmp
            found.append(folder)
    out: list[Path] = []
    for path in dict.fromkeys(p.resolve() for p in [*found, *needed]):
        if str(path).startswith(("/usr/", "/etc/", "/proc", "/dev")):
            continue
        if any(path.is_relative_to(o) for o in out):
            continue
        out = [o for o in out if not o.is_relative_to(path)] + [path]
    return out


def _user_processes(uid: int) -> int:
    """How many processes and threads ``uid`` runs now (``RLIMIT_NPROC`` counts them all)."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            continue
    return count


def package_parent() -> str:
    """The folder the grader's ``coursekit`` is imported from (the kernel's PYTHONPATH)."""
    return str(Path(sys.modules["coursekit"].__file__ or "").resolve().parents[1])


def len_of(path: Path) -> int:
    return len(path.parts)


def command(kernel_cmd: list[str], ipc_dir: str, limits: Limits | None = None) -> list[str]:
    """``kernel_cmd`` (``python -m ipykernel_launcher -f FILE``) wrapped in bwrap, setpriv
    (as root) and prlimit. ``ipc_dir`` (holding the connection file and the sockets) is the
    only host folder the kernel can write to."""
    limits = limits or Limits()
    root = os.geteuid() == 0
    uid = NOBODY if root else os.getuid()
    if not limits.namespaces:  # limits first: setpriv must exec the kernel itself
        drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        drop += ["--inh-caps=-all", "--"]
        return _prlimit(limits, uid) + (drop if root else []) + list(kernel_cmd)
    args = ["bwrap", "--die-with-parent", "--new-session"]
    args += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--hostname", "grader"]
    if root:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user"]
    for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"):
        host = Path("/") / top
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "1777", "--size", str(limits.scratch), "--tmpfs", "/tmp"]
    paths = visible_paths()
    parents = sorted({p for path in paths for p in path.parents if p != Path("/")}, key=len_of)
    for parent in parents:  # bwrap would create them 0700: nobody could not pass
        if not any(parent == p or parent.is_relative_to(p) for p in paths):
            args += ["--perms", "0755", "--dir", str(parent)]
    for path in paths:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", ipc_dir, ipc_dir]
    args += ["--perms", "1777", "--dir", SCRATCH]
    args += ["--chdir", SCRATCH, "--unsetenv", "JPY_PARENT_PID"]
    args += ["--setenv", "HOME", SCRATCH, "--setenv", "TMPDIR", SCRATCH]
    args += ["--setenv", "MPLCONFIGDIR", f"{SCRATCH}/.matplotlib"]
    args += ["--setenv", "PYTHONPATH", package_parent()]
    args += ["--"]
    if root:
        args += ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        args += ["--inh-caps=-all", "--"]
    return args + _prlimit(limits, uid) + list(kernel_cmd)


def _prlimit(limits: Limits, uid: int) -> list[str]:
    return [
        "prlimit",
        f"--as={limits.memory}",
        f"--nproc={_user_processes(uid) + limits.processes}",
        f"--cpu={limits.cpu_seconds}",
        f"--fsize={limits.file_size}",
        "--core=0",
        "--",
    ]


def prepare_ipc(ipc_dir: str) -> None:
    """A folder the kernel writes to (its sockets; without namespaces, its working
    directory), owned by the kernel's user (as root)."""
    if os.geteuid() == 0:
        os.chown(ipc_dir, NOBODY, NOBODY)
        os.chmod(ipc_dir, 0o700)


def share_connection_file(path: str) -> None:
    """Let the sandboxed kernel read its connection file (it holds the channel's key; the
    folder it lies in is private to that kernel's user)."""
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)


def manager(ipc_dir: str, limits: Limits | None = None):
    """A ``jupyter_client.KernelManager`` whose kernel starts inside the sandbox."""
    from jupyter_client import KernelManager

    class SandboxedKernelManager(KernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            share_connection_file(self.connection_file)
            return command(cmd, ipc_dir, limits)

    prepare_ipc(ipc_dir)
    km = SandboxedKernelManager(kernel_name="python3", transport="ipc")
    km.connection_file = os.path.join(ipc_dir, "kernel.json")
    km.ip = os.path.join(ipc_dir, "kernel")
    return km


KEPT_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "MPLBACKEND", "PYDEVD_DISABLE_FILE_VALIDATION")


def environment(env: dict) -> dict:
    """What the sandboxed kernel inherits of the grader's environment: the locale, the
    course seed, thread counts; no tokens, no paths into the instructor's files."""
    keep = {k: v for k, v in env.items() if k in KEPT_ENV or k.startswith("LC_")}
    keep |= {k: v for k, v in env.items() if k.endswith("_NUM_THREADS") or k == "COURSEKIT_SEED"}
    return keep
