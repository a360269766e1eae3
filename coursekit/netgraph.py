r"""Draw a small feed-forward network as a graph: named nodes in layers, labelled edges
(lecture 1's hand-worked examples).

``draw_network([["a", "b"], ["c"], ["f", "g"], ["z"]], {("a", "c"): "0.6", ...})`` puts
each layer in a column, left to right, draws every edge given as an arrow with its label
near the middle, and returns the ``Axes``. Node labels may be LaTeX (``"$\\bar c$"``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt

__all__ = ["node_positions", "draw_network"]


def node_positions(layers, dx: float = 2.2, dy: float = 1.4) -> dict[str, tuple[float, float]]:
    """``{name: (x, y)}``: layer ``i`` at ``x = i * dx``, its nodes centred on ``y = 0``,
    ``dy`` apart, first node on top. Names must be unique."""
    pos = {}
    for i, layer in enumerate(layers):
        for j, name in enumerate(layer):
            if name in pos:
                raise ValueError(f"node_positions: node {name!r} appears twice")
            pos[name] = (i * dx, ((len(layer) - 1) / 2 - j) * dy)
    return pos


def draw_network(
    layers,
    edges: dict,
    ax=None,
    node_text: dict | None = None,
    title: str | None = None,
    radius: float = 0.32,
    label_at: float | dict = 0.35,
):
    """Draw ``layers`` (lists of node names) and ``edges`` (``{(src, dst): label}``).

    ``node_text`` maps a node to the text shown inside it (default: its name). Edge
    labels sit at the fraction ``label_at`` of the way along each edge, from the source
    end, so that the labels of edges leaving one node do not overlap; a dict
    ``{(src, dst): fraction}`` moves single labels (the rest stay at 0.35), e.g. apart
    where two edges cross.
    """
    pos = node_positions(layers)
    for src, dst in edges:
        for name in (src, dst):
            if name not in pos:
                raise ValueError(
                    f"draw_network: edge ({src!r}, {dst!r}) names an unknown node {name!r}"
                )
    if ax is None:
        _, ax = plt.subplots(figsize=(1.9 * len(layers) + 1, 3.2))
    for (src, dst), label in edges.items():
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        ax.annotate(
            "",
            xy=(x1 - radius * 1.05 * (x1 - x0) / max(abs(x1 - x0), 1e-9), y1),
            xytext=(x0, y0),
            arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.1, shrinkA=14, shrinkB=2),
        )
        t = label_at.get((src, dst), 0.35) if isinstance(label_at, dict) else label_at
        ax.text(
            x0 + t * (x1 - x0),
            y0 + t * (y1 - y0) + 0.12,
            label,
            fontsize=8,
            ha="center",
            va="bottom",
            color="C3",
            bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8),
        )
    for name, (x, y) in pos.items():
        ax.add_patch(plt.Circle((x, y), radius, fc="C0", ec="k", alpha=0.25, zorder=3))
        ax.text(
            x, y, (node_text or {}).get(name, name), ha="center", va="center", fontsize=10, zorder=4
        )
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax
