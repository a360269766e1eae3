"""Shared pytest set-up, for every test path: tests/, lectures/ and assignments/.

It sits at the repository root so that `pytest lectures/NN.ipynb` run alone loads it too
(a conftest inside tests/ would apply only to tests/).

pytest-xdist runs one worker per core, and every notebook kernel a worker starts
(nbval, the grader, JupyterLab in the browser test) inherits this process's environment.
One BLAS/OpenMP thread per process keeps two workers on two cores from oversubscribing
them: with the default thread pools, spinning BLAS threads made torch and numpy steps
10-35x slower on the 2-core CI machine. Checked outputs never depend on the thread count.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402  (after the thread variables, which torch reads at import)

torch.set_num_threads(1)
