"""The message-passing layers are permutation-equivariant; the checker proves it and catches
aggregators that depend on the order of neighbours."""

import pytest
import torch
from torch_geometric.datasets import KarateClub

from selfsup.cli import main
from selfsup.graph import AGGREGATORS, GraphEncoder, MessagePassingLayer, PositionWeightedSum, check_equivariance


def _graph():
    g = KarateClub()[0]
    return torch.randn(g.num_nodes, 6), g.edge_index


@pytest.mark.parametrize("model", [*(MessagePassingLayer(6, 8, a) for a in AGGREGATORS), GraphEncoder(6, 8, 4, 2, "mean")], ids=[*AGGREGATORS, "two-layer"])
def test_checker_passes_equivariant_layers(model):
    x, edge_index = _graph()
    assert max(check_equivariance(model, x, edge_index, trials=3).values()) < 1e-5


def test_checker_catches_order_dependent_aggregators():
    x, edge_index = _graph()
    by_edge = check_equivariance(PositionWeightedSum(6, 8, "edge"), x, edge_index, trials=3)
    assert by_edge["edge_order_invariance"] > 1e-2  # the edge list's order changes its output
    by_id = check_equivariance(PositionWeightedSum(6, 8, "id"), x, edge_index, trials=3)
    assert by_id["node_equivariance"] > 1e-2 and by_id["graph_invariance"] > 1e-2  # relabelling nodes changes it


def test_layer_computes_root_plus_aggregated_neighbour_messages():
    layer = MessagePassingLayer(2, 3, "max", act=False)
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]])
    edge_index = torch.tensor([[1, 2, 0], [0, 0, 1]])  # 1 -> 0, 2 -> 0, 0 -> 1; node 2 has no neighbours
    out = layer(x, edge_index)
    msgs = layer.neighbour(x)
    expected = layer.root(x) + torch.stack([torch.maximum(msgs[1], msgs[2]), msgs[0], torch.zeros(3)])
    assert torch.allclose(out, expected, atol=1e-6)
    with pytest.raises(ValueError, match="unknown aggregator 'lstm'; valid: sum, mean, max"):
        MessagePassingLayer(2, 3, "lstm")


def test_graph_check_cli_reports_pass_and_fail(capsys):
    assert main(["graph", "check", "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("FAIL") >= 2 and "sum aggregation" in out
    line = next(row for row in out.splitlines() if row.startswith("max aggregation"))
    assert "FAIL" not in line
