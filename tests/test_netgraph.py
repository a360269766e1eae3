"""coursekit.netgraph: node layout and the drawn graph."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from coursekit.netgraph import draw_network, node_positions  # noqa: E402


def test_layers_are_columns_centred_on_zero():
    pos = node_positions([["a", "b"], ["c"], ["f", "g"]], dx=2.0, dy=1.0)
    assert pos["a"] == (0.0, 0.5) and pos["b"] == (0.0, -0.5)
    assert pos["c"] == (2.0, 0.0) and pos["g"] == (4.0, -0.5)


def test_every_node_and_edge_label_is_drawn():
    edges = {("a", "c"): "0.6", ("b", "c"): "-0.4", ("c", "z"): "2.0"}
    ax = draw_network([["a", "b"], ["c"], ["z"]], edges, node_text={"c": "$c$"}, title="t")
    texts = [t.get_text() for t in ax.texts]
    for label in ["0.6", "-0.4", "2.0", "a", "b", "$c$", "z"]:
        assert label in texts
    assert len(ax.patches) == 4 and ax.get_title() == "t"
    plt.close("all")


def test_bad_graphs_are_named():
    with pytest.raises(ValueError, match="unknown node 'q'"):
        draw_network([["a"], ["b"]], {("a", "q"): "1"})
    with pytest.raises(ValueError, match="appears twice"):
        node_positions([["a"], ["a"]])
    plt.close("all")
