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
  stated in the cell. A question id may span several check cells; its points are the sum.
* **hidden check** ``{"coursekit": {"check": "q1", "points": 1, "hidden": true}}``: as a
  check, but dropped from the released assignment and from the published reference; it
  is graded only with ``coursekit grade --reference solutions/NN_name.ipynb``.
* Every other cell (markdown, imports, data loading, plots) is copied to the student as
  is. Markers outside answer cells, answer cells without markers, unbalanced markers,
  duplicate answer ids, a check without positive integer ``points``, a cell that is both
  an answer and a check: ``coursekit release`` refuses, naming the cell.

Write verdicts with ``coursekit.grading.checks``: ``verdict(error, tol)`` gives ``"OK"``
or ``"FAIL (error 3.1e-01, tolerance 1e-12)"``, ``passed(condition, detail)`` gives
``"OK"`` or ``"FAIL detail"``; e.g. ``print("q1 linear backward matches torch autograd
(rel err < 1e-12):", verdict(rel_error(grad_W, W_t.grad.numpy()), 1e-12))``. See
``solutions/01_backprop_numpy.ipynb`` for a complete example (built with nbformat).

Rules for a check cell: it defines nothing later cells need (after a kernel restart only
setup and answer cells are replayed), prints no timings, no paths, nothing random, and
the same text on CPU and CUDA. Keep the whole notebook under ~15 s of run time.

``tests/test_grading.py`` picks up every ``solutions/[0-9]*.ipynb``: its released files
must be up to date (run ``coursekit release`` after each edit, then commit the solution,
``assignments/NN_name.ipynb`` and ``assignments/.reference/NN_name.json``), the solution
must score full marks against itself, and the unmodified assignment 0 on every question
(so every check must call some answer code).

Release
=======

``coursekit release solutions/NN_name.ipynb`` (see ``release.py``):

1. validates the solution (above) and executes it in a fresh kernel; every check must
   run without error and print something, or the release stops;
2. writes the check cells' text outputs back into ``solutions/NN_name.ipynb`` (all other
   outputs stripped): these are the reference outputs ``--reference`` grades against,
   hidden checks included;
3. writes ``assignments/NN_name.ipynb`` (stubs, no hidden checks, check cells carrying
   the reference outputs, no other outputs) and the published reference
   ``assignments/.reference/NN_name.json`` (check code + reference outputs of the public
   checks + sha256 of the solution's sources). Students edit the notebook, never the
   ``.reference`` folder (hidden in JupyterLab); the grader only reads the latter.

``release.stale_reasons(solution)`` regenerates both files in memory, without executing,
and lists what differs (the test suite calls it): a solution edited without release, a
hand-edited assignment, a missing reference.

Grading
=======

``coursekit grade NOTEBOOK...`` (see ``grade.py``) takes **only the answer cells** of a
submission, matched by their ``answer`` id (order and extra cells do not matter; a
missing answer cell gets the stub, so its question scores 0). Every other cell, check
code and reference output come from the reference. The assembled program runs in a
fresh kernel, in a temporary working directory, cell by cell (``runner.py``):

* a check earns its points iff all its cells ran with ``status == "ok"`` in the kernel's
  execute reply (not judged from displayed output, so silencing tracebacks does not
  help) and the text it printed (stdout + ``text/plain`` results, ANSI codes and
  trailing whitespace stripped) equals the reference exactly;
* before every check cell a grader cell (``kernel_guard.py``) restores ``sys.stdout``/
  ``stderr``, ``print``, ``sys.excepthook``, IPython's traceback display, custom exception
  handlers, AST/input transformers, event callbacks, the names bound by setup cells
  (``np``, ``verdict``, ``rel_error``...) and the public attributes of ``numpy``, ``torch``,
  ``sklearn`` and ``coursekit`` modules; after it, a second grader cell verifies that the
  check's run replaced none of them (else: "tampering", 0 points). So put the imports a
  check uses in a setup cell, never in an answer cell;
* an answer cell whose source contains a line of a check's expected output earns that
  check nothing (printing the verdict is not passing it);
* a per-cell timeout or a dead kernel (``os._exit``) fails the cell it hit; the kernel is
  restarted, the cells before that ran fine are replayed, and grading goes on;
* a check with no reference output is an error of the course (``CourseError``), never a
  pass.

Outputs: a plain-text table per submission (id, earned/possible, message), the total,
``--json``, ``-j N --csv FILE`` for a class; exit status 0 only on full marks. The
submitted file is only read, never written.
"""

from .errors import CourseError

__all__ = ["CourseError"]
