"""Graph data: seeded SBM graphs, the karate club, edge-list CSVs with clear errors."""

import pytest
import torch
from torch_geometric.utils import is_undirected

from selfsup.data import DataError
from selfsup.graph.data import edge_list, karate, sbm


def test_sbm_is_deterministic_by_seed_and_denser_inside_communities():
    a, b, c = sbm(seed=3), sbm(seed=3), sbm(seed=4)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x)
    assert not torch.equal(a.edge_index, c.edge_index)
    src, dst = a.edge_index
    same = (a.y[src] == a.y[dst]).float().mean().item()
    assert same > 0.6  # p_in 0.1 vs p_out 0.01 over 4 blocks: ~77 % of edges inside
    assert is_undirected(a.edge_index) and a.x.shape == (200, 16)


def test_karate_club_is_built_in():
    g = karate()
    assert g.num_nodes == 34 and g.y.max().item() == 3


def test_edge_list_with_features_and_clear_errors(tmp_path):
    (tmp_path / "e.csv").write_text("source,target\n0,1\n1,2\n")
    (tmp_path / "f.csv").write_text("node,label,a,b\n0,0,1.0,0.0\n1,1,0.0,1.0\n2,1,0.5,0.5\n")
    g = edge_list(tmp_path / "e.csv", tmp_path / "f.csv")
    assert g.x.shape == (3, 2) and g.y.tolist() == [0, 1, 1] and g.edge_index.shape[1] == 4  # both directions
    assert edge_list(tmp_path / "e.csv").x.shape == (3, 3)  # one-hot ids without features
    (tmp_path / "bad.csv").write_text("0,1\n1,x\n")
    with pytest.raises(DataError, match=r"bad.csv line 2: expected two non-negative integer node ids"):
        edge_list(tmp_path / "bad.csv")
    (tmp_path / "short.csv").write_text("node,label,a\n0,0,1.0\n2,1,0.5\n")
    with pytest.raises(DataError, match=r"no features for nodes \[1\]"):
        edge_list(tmp_path / "e.csv", tmp_path / "short.csv")
    with pytest.raises(DataError, match="no edge list at"):
        edge_list(tmp_path / "missing.csv")
