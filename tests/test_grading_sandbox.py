"""The grading sandbox (coursekit/grading/sandbox.py): escape attempts are contained.

One toy assignment, ``00_esc``, whose answers ``f1``... return 1. A hostile submission
makes each answer try something a student's code must not do (the network, writing into
the course, next to the submission or into the package, reading the reference, the
solutions or another submission, a fork bomb, a 20 GB allocation); graded in the sandbox
in one class run followed by a correct submission. Each attempt must fail its question
(not crash the run), the correct submission must score full marks, and nothing may change
on disk, reach the listening socket, or outlive the kernel.
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

import nbformat
import pytest

from coursekit import cli
from coursekit.grading import grade, sandbox

from .grading_toy import ROOT, code, make_course

pytestmark = pytest.mark.skipif(
    not sandbox.available(), reason="bwrap missing (.ci/run installs bubblewrap)"
)

SOLUTION = "def {f}():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"


def attempts(course: Path, submissions: Path, port: int) -> dict[str, str]:
    """Answer body per attempt; each returns 1 only if the attempt succeeded."""
    real_reference = next((ROOT / "assignments" / ".reference").glob("*.json"))
    real_solution = next((ROOT / "solutions").glob("*.ipynb"))
    return {
        "socket to the grader's host": f"socket.create_connection(('127.0.0.1', {port}), 2)",
        "socket to the internet": "socket.create_connection(('1.1.1.1', 53), 2)",
        "write into the course": f"open({str(course / 'assignments' / 'pwned')!r}, 'w')",
        "write into the package": f"open({str(ROOT / 'coursekit' / 'pwned.py')!r}, 'w')",
        "write next to the submission": f"open({str(submissions / 'pwned')!r}, 'w')",
        "write into $HOME": "open(os.path.expanduser('~/../../root/pwned'), 'w')",
        "read the toy reference": (
            f"open({str(course / 'assignments' / '.reference' / '00_esc.json')!r}).read()"
        ),
        "read the course's reference": f"open({str(real_reference)!r}).read()",
        "read a solution": f"open({str(real_solution)!r}).read()",
        "read another submission": f"open({str(submissions / 'good.ipynb')!r}).read()",
        "fork bomb": "while True:\n        try:\n            os.fork()\n        except OSError:\n"
        "            pass",
        "allocate 20 GB": "np.ones(20 * 2**30 // 8).sum()",
    }


def course_with(root: Path, n: int) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [code("import os\nimport socket\n\nimport numpy as np")]
    outputs = {}
    for k in range(1, n + 1):
        nb.cells.append(code(SOLUTION.format(f=f"f{k}"), answer=f"a{k}"))
        check = f'print("q{k}:", f{k}())'
        nb.cells.append(code(check, check=f"q{k}", points=1))
        outputs[check] = f"q{k}: 1"
    return make_course(root, nb, name="00_esc", outputs=outputs)


def submission(course: Path, path: Path, bodies: list[str] | None) -> Path:
    nb = nbformat.read(str(course / "assignments" / "00_esc.ipynb"), as_version=4)
    answers = [c for c in nb.cells if c.metadata.get("coursekit", {}).get("answer")]
    for k, cell in enumerate(answers, start=1):
        body = "return 1" if bodies is None else f"{bodies[k - 1]}\n    return 1"
        cell.source = f"def f{k}():\n    {body}\n"
    nbformat.write(nb, str(path))
    return path


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for folder in folders
        for p in folder.rglob("*")
        if "__pycache__" not in p.parts and p.is_file()
    }


def kernels_alive(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_escape_attempts_are_contained(tmp_path):
    course, subs = tmp_path / "course", tmp_path / "submissions"
    course.mkdir()
    subs.mkdir()
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    tries = attempts(course, subs, server.getsockname()[1])
    course_with(course, len(tries))
    bad = submission(course, subs / "bad.ipynb", list(tries.values()))
    good = submission(course, subs / "good.ipynb", None)
    before = snapshot(course, subs, ROOT / "coursekit", ROOT / "assignments")
    reference = course / "assignments" / ".reference" / "00_esc.json"
    limits = sandbox.Limits(memory=4 * 2**30, cpu_seconds=120)
    try:
        reports = grade.grade_many([bad, good], reference, timeout=5.0, sandbox=limits)
        with pytest.raises(BlockingIOError):
            server.accept()  # no connection reached the host
    finally:
        server.close()
    hostile, fine = reports
    assert not isinstance(hostile, str) and not isinstance(fine, str), reports
    earned = dict(zip(tries, (q.earned for q in hostile.questions), strict=True))
    assert earned == dict.fromkeys(tries, 0), hostile.table()
    assert fine.full_marks and fine.total == len(tries), fine.table()
    messages = {name: q.message for name, q in zip(tries, hostile.questions, strict=True)}
    assert "timed out" in messages["fork bomb"], messages["fork bomb"]
    assert "MemoryError" in messages["allocate 20 GB"], messages["allocate 20 GB"]
    assert snapshot(course, subs, ROOT / "coursekit", ROOT / "assignments") == before
    assert kernels_alive("coursekit-ipc-") == []  # the fork bomb died with its namespace


def test_the_kernel_runs_unprivileged_without_network_or_course(tmp_path):
    from coursekit.grading.runner import Kernel

    probe = (
        "import os, socket\n"
        "print(os.getuid() != 0, os.getcwd(), [n for n in socket.if_nameindex()])\n"
        f"print(os.path.exists({str(ROOT / 'solutions')!r}), "
        f"os.path.exists({str(ROOT / 'coursekit' / 'grading')!r}))\n"
        "print('JPY_PARENT_PID' in os.environ)\n"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')])"
    )
    with Kernel(timeout=20.0, sandbox=sandbox.Limits()) as kernel:
        result = kernel.run(probe)
    assert result.status == "ok", result.error
    assert result.output.splitlines() == [
        f"True {sandbox.SCRATCH} [(1, 'lo')]",
        "False True",  # the package, not the course
        "False",
        "['0000000000000000']",  # no capability left
    ]


def _args(*argv):
    return cli.parser().parse_args(["grade", *argv, "x.ipynb"])


def test_class_grading_is_sandboxed_by_default():
    assert cli._sandbox_limits(_args()) is None  # a student grading their own work
    assert isinstance(cli._sandbox_limits(_args("-j", "2")), sandbox.Limits)
    assert isinstance(cli._sandbox_limits(_args("--csv", "g.csv")), sandbox.Limits)
    assert cli._sandbox_limits(_args("-j", "2", "--no-sandbox")) is None
    assert cli._sandbox_limits(_args("--memory", "2", "--sandbox")).memory == 2 * 2**30
    assert isinstance(_args(), argparse.Namespace)


def test_missing_bwrap_stops_class_grading_with_a_clear_message(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    missing = str(tmp_path / "none.ipynb")
    csv = str(tmp_path / "grades.csv")
    assert cli.main(["grade", "--csv", csv, missing]) == 2
    err = capsys.readouterr().err
    assert "bubblewrap is not installed" in err and "--no-sandbox" in err
    assert "apt-get install bubblewrap" in err
    assert cli.main(["grade", "--csv", csv, "--no-sandbox", missing]) == 2
    assert "no such file" in capsys.readouterr().err  # graded (nothing to grade) past it


def test_a_sandbox_that_cannot_start_is_named(monkeypatch):
    from coursekit.grading.errors import CourseError

    monkeypatch.setattr(
        sandbox, "command", lambda *a, **k: ["sh", "-c", "echo no userns >&2; false"]
    )
    with pytest.raises(CourseError, match=r"bwrap says: no userns\).*--no-sandbox"):
        sandbox.require()


def test_sandbox_command_hides_the_course_and_unsets_the_parent_pid(tmp_path):
    cmd = sandbox.command(["python", "-m", "ipykernel_launcher"], str(tmp_path))
    mounted = [cmd[i + 1] for i, a in enumerate(cmd) if a in ("--ro-bind", "--bind")]
    assert str(ROOT) not in mounted and str(ROOT / "coursekit") in mounted
    assert not any(m.startswith(str(ROOT / "solutions")) for m in mounted)
    assert "--unshare-net" in cmd and "--unshare-pid" in cmd
    assert cmd[cmd.index("--unsetenv") + 1] == "JPY_PARENT_PID"
    assert any(a.startswith("--as=") for a in cmd) and any(a.startswith("--nproc=") for a in cmd)
    if os.geteuid() == 0:
        assert "--reuid=65534" in cmd


def test_without_namespaces_the_kernel_still_runs_as_nobody(tmp_path):
    """Gradescope's container (no bwrap namespaces): nobody, the limits, no root files."""
    from coursekit.grading.runner import Kernel

    if not sandbox.user_drop_works():
        pytest.skip("not root, or this Python lies where nobody cannot run it")
    results = tmp_path / "results"
    results.mkdir()
    probe = (
        "import os\nimport coursekit\nprint(os.getuid(), coursekit.__file__)\n"
        f"try:\n    open({str(results / 'results.json')!r}, 'w')\n"
        "except PermissionError:\n    print('cannot write results')\n"
        "import numpy as np\ntry:\n    np.ones(20 * 2**30 // 8)\n"
        "except MemoryError:\n    print('MemoryError')"
    )
    with Kernel(timeout=20.0, sandbox=sandbox.Limits(namespaces=False)) as kernel:
        result = kernel.run(probe)
    assert result.status == "ok", result.error
    package = str(ROOT / "coursekit" / "__init__.py")
    assert result.output.splitlines() == [
        f"65534 {package}",
        "cannot write results",
        "MemoryError",
    ]
