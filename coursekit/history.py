r"""What every training loop returns and shows: :class:`History` and :func:`progress`.

:class:`History` is the one record format of the course: the numpy full-batch loop, the
mini-batch loop and the PyTorch loop all return one, so the same plotting helpers draw
any of them. This module imports nothing from the package, so low-level modules (the
test problems, the explorer, the torch helpers) use it without importing a loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["History", "progress"]


def progress(iterable=None, total=None, desc=None, disable=None, **kw):
    """A tqdm progress bar: a widget in JupyterLab, text in a terminal.

    The finished bar stays visible (``leave=True``), so a notebook shows how long each
    run took; ``disable=True`` hides it.
    """
    from tqdm.auto import tqdm

    kw.setdefault("leave", True)
    return tqdm(iterable, total=total, desc=desc, disable=disable, mininterval=0.5, **kw)


class History:
    """Named series logged during training: ``h["train_loss"]`` is a numpy array.

    ``h.log(step=3, train_loss=0.7, val_acc=0.9)`` appends one record; keys not given in
    a record are absent for that step (``h.series(key)`` returns the steps it was logged
    at and the values). ``h.last("train_loss")`` is the latest value.
    """

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def log(self, **values) -> None:
        self.records.append({k: (float(v) if np.ndim(v) == 0 else v) for k, v in values.items()})

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.records:
            seen.update(dict.fromkeys(r))
        return list(seen)

    def series(self, key: str, x: str = "step") -> tuple[np.ndarray, np.ndarray]:
        rows = [r for r in self.records if key in r]
        if not rows:
            raise KeyError(f"History: no values logged for {key!r}; logged keys are {self.keys()}")
        xs = np.array([r.get(x, i) for i, r in enumerate(rows)])
        return xs, np.array([r[key] for r in rows])

    def __getitem__(self, key: str) -> np.ndarray:
        return self.series(key)[1]

    def __contains__(self, key: str) -> bool:
        return any(key in r for r in self.records)

    def last(self, key: str):
        return self[key][-1]

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"History({len(self.records)} records, keys={self.keys()})"
