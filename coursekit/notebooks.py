"""Keep the course's notebooks small and reviewable.

``python -m coursekit.notebooks refresh lectures/01_backprop.ipynb [...]`` executes each
notebook in a fresh kernel (working directory: the notebook's folder) and writes it
back keeping only the text outputs of *checked* cells, the cells whose source contains
the line ``# NBVAL_CHECK_OUTPUT``. Those stored outputs are what ``pytest --nbval-lax``
compares against; every other output (figures, progress bars, widgets) is dropped, so
a notebook's diff shows code and checked numbers only. ``strip`` does the same without
executing (it only removes outputs of unchecked cells).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
TEXT_TYPES = ("text/plain",)

__all__ = ["is_checked", "strip_outputs", "execute", "refresh", "main"]


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and any(
        line.strip() == CHECK_MARK for line in cell.source.splitlines()
    )


def _text_only(output):
    if output.output_type == "stream":
        return output
    if output.output_type in ("execute_result", "display_data"):
        data = {k: v for k, v in output.get("data", {}).items() if k in TEXT_TYPES}
        if not data:
            return None
        output["data"] = data
        output["metadata"] = {}
        return output
    return output  # errors are kept so a broken refresh is visible


def _merge_streams(outputs):
    """Join consecutive stream outputs of the same name: how a print is split into chunks
    varies from run to run, and would otherwise change the stored notebook each time."""
    merged = []
    for o in outputs:
        if (
            merged
            and o.output_type == "stream"
            and merged[-1].output_type == "stream"
            and merged[-1].name == o.name
        ):
            merged[-1].text += o.text
        else:
            merged.append(o)
    return merged


def strip_outputs(nb):
    """Drop outputs of unchecked cells and non-text outputs of checked ones (in place)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if is_checked(cell):
            cell.outputs = _merge_streams(
                [o for o in (_text_only(o) for o in cell.outputs) if o is not None]
            )
        else:
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    return nb


def execute(nb, cwd: Path, timeout: int = 300):
    from nbclient import NotebookClient

    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return nb


def refresh(path: Path, timeout: int = 300) -> float:
    """Execute ``path`` and write it back with only checked outputs; return seconds taken."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    execute(nb, path.parent, timeout)
    seconds = time.perf_counter() - start
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    if errors:
        raise RuntimeError(f"{path}: a cell raised {errors[0].ename}: {errors[0].evalue}")
    nbformat.write(strip_outputs(nb), path)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coursekit.notebooks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("command", choices=["refresh", "strip"])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell (default 300)")
    args = parser.parse_args(argv)
    for path in args.paths:
        if args.command == "refresh":
            seconds = refresh(path, args.timeout)
            print(f"{path}: executed in {seconds:.1f} s, checked outputs kept")
        else:
            nb = nbformat.read(path, as_version=4)
            nbformat.write(strip_outputs(nb), path)
            print(f"{path}: stripped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
