"""Graded assignments: one solution notebook in, a released assignment and a grader out.

The format (what an instructor writes in ``solutions/NN_name.ipynb``)
=====================================================================

Cells are told apart by their cell metadata, under the key ``"coursekit"``:

* **answer cell** ``{"coursekit": {"answer": "a1"}}``: code the student writes. The
  answer code sits between the lines ``### BEGIN SOLUTION`` and ``### END SOLUTION``
  (markers alone on their line, any indentation; several regions per cell allowed).
  An optional line ``### HINT: one-line hint`` inside a region gives the hint. On
  release the region becomes ``raise NotImplementedError("<hint>")`` at the
  indentation of the ``### BEGIN SOLUTION`` line. Put the stub inside a function body
  so the answer cell itself runs and the *check* that calls it fails::

      def linear_forward(x, W, b):
          \"\"\"y = x W^T + b for x (N, D_in), W (D_out, D_in), b (D_out,).\"\"\"
          ### BEGIN SOLUTION
          ### HINT: one matrix product and a broadcast add
          return x @ W.T + b
          ### END SOLUTION

* **check cell** ``{"coursekit": {"check": "q1", "points": 2}}``: graded. It must print
  only deterministic text (verdicts such as ``q1 linear forward matches torch (max abs
  err < 1e-12): OK``, or rounded numbers) and compare against an independent oracle
  (torch autograd in float64, finite differences, closed-form theory) with the tolerance
  stated in the cell. With an integer ``points`` the cell is one sub-check: every line must
  match. With a list, ``"points": [1, 2]``, each printed line is a sub-check of its own with
  its points (partial credit; the list has one entry per line). A question id may span
  several check cells; its points are the sum.
* **hidden check** ``{"coursekit": {"check": "q1", "points": 1, "hidden": true}}``: as a
  check, but dropped from the released assignment and from the published reference (which
  keeps only how many points the hidden checks hold, so that the student's report can say
  so); it is graded only with ``coursekit grade --reference solutions/NN_name.ipynb``.
  ``hidden`` must be a JSON boolean.
* **rules**, in the notebook metadata ``{"coursekit": {"rules": {"forbid": [...], "allow":
  [...]}}}`` and optionally per answer cell ``{"answer": "a3", "rules": {...}}`` (added to
  the notebook's): prefixes of dotted names ``module.qualname`` an answer may not call
  (``"torch"``, ``"coursekit.theory"``, ``"torch.optim"``; ``"torch._fused_*"`` matches any
  continuation); the longest matching prefix of ``forbid`` and ``allow`` decides. An answer
  that breaks them earns nothing on its question (``kernel_guard.py`` says how they are
  watched). Setup cells bind nothing the rules forbid: a check imports its oracle itself
  (the grader imports the modules of every setup and check cell before any answer runs,
  and removes the names a check binds after it).
* An answer ``aN`` is graded by question ``qN``; ``{"answer": "a2", "question": "q5"}`` says
  otherwise.
* Every other cell (markdown, imports, data loading, plots) is copied to the student as
  is. Markers outside answer cells, answer cells without markers, unbalanced markers,
  duplicate answer ids, a check without positive integer ``points``, a cell that is both
  an answer and a check: ``coursekit release`` refuses, naming the cell. A markdown table
  with a ``question`` and a ``points`` column (and optionally ``hidden``) must list the
  points the checks hold.

Write verdicts with ``coursekit.grading.checks``: ``verdict(error, tol)`` gives ``"OK"``
or ``"FAIL (error 3.1e-01, tolerance 1e-12)"``, ``passed(condition, detail)`` gives
``"OK"`` or ``"FAIL detail"``, ``matches(got, want, tol, batch=N, zero_at=z == 0)`` compares
arrays and names the likely mistake (transposed, a sign, a factor ``N``, a difference only at
0), ``trajectory(rows, oracle_rows, tol)`` says at which step and parameter two trajectories
part, and ``attempt(lambda: ...)`` turns an exception raised by the answer into that line's
``FAIL``, so that the other lines are still scored; e.g. ``print("q1 linear backward
matches torch autograd (rel err < 1e-12):", attempt(lambda: matches(linear_backward(...)[0],
x_t.grad.numpy(), 1e-12)))``. See ``solutions/02_optimisers.ipynb`` for a complete example
(built with nbformat).

Rules for a check cell: it defines nothing later cells need (after a kernel restart only
setup and answer cells are replayed, and the names a check binds are removed after it),
prints no timings, no paths, nothing random, and the same text on CPU and CUDA; it calls
only the answers of its own question (an oracle, not the student's ``measure_rate``, for the
rest). Keep the whole notebook under ~15 s of run time.

``tests/test_grading.py`` picks up every ``solutions/[0-9]*.ipynb``: its released files
must be up to date (run ``coursekit release`` after each edit, then commit the solution,
``assignments/NN_name.ipynb`` and ``assignments/.reference/NN_name.json``), the solution
must score full marks against itself, and the unmodified assignment 0 on every question.
``tests/test_grading_mutants.py`` and ``tests/test_grading_rules.py`` need, for every
question, three plausible mistakes that lose points on it (and on no other question) and a
delegating answer that earns nothing.

Release
=======

``coursekit release solutions/NN_name.ipynb`` (see ``release.py``):

1. validates the solution (above) and runs it twice, and its stubs once, in fresh kernels;
   it stops if a cell fails, a check prints nothing or FAIL, prints different text in the
   two runs, passes (or has a line that passes) on the unmodified stubs, the solution
   breaks its own rules, or a point table does not match;
2. writes the check cells' text outputs back into ``solutions/NN_name.ipynb`` (all other
   outputs stripped), with the assignment's name and the sha256 of its sources in its
   metadata: these are the reference outputs ``--reference`` grades against, hidden checks
   included (grading against a solution edited since warns);
3. writes ``assignments/NN_name.ipynb`` (stubs, no hidden checks, check cells carrying
   the reference outputs, the assignment's name and rules in its metadata) and the
   published reference ``assignments/.reference/NN_name.json`` (check code + reference
   outputs of the public checks, rules, the points of the hidden checks, sha256 of the
   solution's sources). Students edit the notebook, never the ``.reference`` folder (hidden
   in JupyterLab); the grader only reads the latter.

``release.stale_reasons(solution)`` regenerates both files in memory, without executing,
and lists what differs (the test suite calls it): a solution edited without release, a
hand-edited assignment, a missing reference.

Grading
=======

``coursekit grade NOTEBOOK...`` (see ``grade.py``, whose docstring lists the steps) reads the
file (a missing, empty, non-JSON or non-notebook file, a notebook older than format 4 or
one released for another assignment is refused with one line), takes **only the answer
cells** of a submission, matched by their ``answer`` id (order and extra cells do not
matter; a missing answer cell, or one turned into markdown, gets the stub, so its question
scores 0), and takes every other cell, check code and reference output from the reference.
The assembled program runs in a fresh kernel, in a temporary working directory, cell by cell
(``runner.py``), each cell between the guard's cells (``kernel_guard.py``):

* a check line earns its points iff the check's own code printed it (text printed by answer
  code while the check runs goes elsewhere) and it equals the reference line exactly (ANSI
  codes and trailing whitespace stripped); with integer ``points`` the whole cell must
  also end with ``status == "ok"`` in the kernel's execute reply (not judged from displayed
  output, so silencing tracebacks does not help); every failing line is reported;
* before every check the guard restores ``sys.stdout``/``stderr``, ``print``,
  ``sys.excepthook``, IPython's traceback display, custom exception handlers, AST/input
  transformers, event callbacks, the names bound by setup cells (``np``, ``verdict``...)
  and the public attributes of ``numpy``, ``torch``, ``sklearn`` and ``coursekit`` modules;
  after it, it reports whether the check's run replaced any of them (else: "tampering", 0
  points), then removes the names the check bound;
* an answer that breaks the rules earns nothing on its question, with a note naming the
  call; an answer cell whose source contains a line of a check's expected output earns
  that check nothing (printing the verdict is not passing it);
* with a solution as reference, a question that lost points while an answer it uses also
  lost points is rerun with the solution's version of that answer and keeps the better
  score (one mistake costs one question);
* a per-cell timeout or a dead kernel (``os._exit``) fails the cell it hit; the kernel is
  restarted, the cells before that ran fine are replayed, and grading goes on;
* a check with no reference output is an error of the course (``CourseError``), never a
  pass.

Outputs: a plain-text table per submission (id, earned/possible, every failing line), the
total of the public checks and what the hidden ones hold, ``--json``, ``-j N --csv FILE`` for
a class (a file that cannot be graded: ``NOT GRADED`` in its row, one line on stderr, exit
status 2); exit status 0 only on full marks. The results are objects (``results.py``: one
``CheckResult`` per scored part) that other exporters read. The submitted file is only read,
never written. ``pytest_plugin.py`` makes ``python -m pytest NOTEBOOK`` grade it too, one
test per question.

A class
=======

* **written answers** (markdown cells ``{"answer": "w1", "points": 2, "manual": true}``):
  rows of the report that count in ``possible`` and are scored by a person: ``--review DIR``
  writes the review sheet, ``--manual-scores SHEET`` folds the scores in (``manual.py``);
* ``--feedback DIR``: one HTML file per submission to hand back, no hidden check in it
  (``feedback.py``);
* the sandbox: class grading (``-j``, ``--csv``, ``--review``, ``--feedback``) runs each
  kernel inside bubblewrap, without network, course or reference, with limits
  (``sandbox.py``); ``--no-sandbox`` opts out;
* ``coursekit gradescope solutions/NN_name.ipynb``: a Gradescope autograder zip
  (``gradescope.py``).
"""

from .errors import CourseError

__all__ = ["CourseError"]
