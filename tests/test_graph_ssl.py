"""GRACE and BGRL: the image losses and EMA on graphs; they beat raw features on SBM."""

import pytest
import torch

import selfsup.graph.ssl as graph_ssl
from selfsup import losses
from selfsup.cli import main
from selfsup.graph import sbm
from selfsup.graph.evaluate import few_label_split, probe_accuracy
from selfsup.graph.ssl import GraphSSL, drop_edges, mask_features, train_graph_ssl


def test_graph_methods_call_the_image_losses():
    assert graph_ssl.ntxent_loss is losses.ntxent_loss and graph_ssl.byol_loss is losses.byol_loss


def test_views_drop_edges_and_mask_whole_feature_columns():
    g = torch.Generator().manual_seed(0)
    edges = torch.randint(0, 50, (2, 1000))
    kept = drop_edges(edges, 0.3, g)
    assert 600 < kept.shape[1] < 800
    x = mask_features(torch.ones(10, 200), 0.4, g)
    assert ((x == 0).all(0) | (x == 1).all(0)).all() and 60 < (x[0] == 0).sum() < 100


@pytest.mark.parametrize("method", ["grace", "bgrl"])
def test_ssl_embeddings_beat_raw_features_on_sbm(method):
    d = sbm(seed=1)
    torch.manual_seed(0)
    model = GraphSSL(method, d.x.shape[1], hidden=64, out_dim=32)
    losses_ = train_graph_ssl(model, d.x, d.edge_index, epochs=100)
    assert losses_[-1] < losses_[0]
    model.eval()
    with torch.no_grad():
        h = model.encoder(d.x, d.edge_index)
    ssl, _ = probe_accuracy(h, d.y, 5, 2)
    raw, _ = probe_accuracy(d.x, d.y, 5, 2)
    assert ssl > raw + 20


def test_bgrl_target_gets_no_gradient_and_follows_the_online_encoder():
    d = sbm(seed=0, nodes_per_block=20)
    model = GraphSSL("bgrl", d.x.shape[1], hidden=16, out_dim=8, momentum=0.5)
    before = [p.clone() for p in model.target.parameters()]
    model.loss(d.x, d.edge_index).backward()
    assert all(p.grad is None for p in model.target.parameters())
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1).step()
    model.after_step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.target.parameters()))


def test_few_label_split_takes_k_per_class_and_tests_on_the_rest():
    y = torch.tensor([0] * 10 + [1] * 10 + [-1] * 3)
    train, test = few_label_split(y, 3, seed=0)
    assert torch.bincount(y[train]).tolist() == [3, 3] and len(test) == 14 and (y[test] >= 0).all()
    assert torch.equal(few_label_split(y, 3, seed=0)[0], train)


def test_graph_train_cli_on_an_edge_list(tmp_path, capsys):
    d = sbm(seed=2, blocks=2, nodes_per_block=20)
    (tmp_path / "e.csv").write_text("\n".join(f"{a},{b}" for a, b in d.edge_index.T.tolist()) + "\n")
    (tmp_path / "f.csv").write_text("\n".join(f"{i},{int(d.y[i])}," + ",".join(f"{v:.4f}" for v in d.x[i].tolist()) for i in range(len(d.y))) + "\n")
    args = ["graph", "train", "--method", "bgrl", "--data", str(tmp_path / "e.csv"), "--features", str(tmp_path / "f.csv"), "--epochs", "20", "--seeds", "2", "--out", str(tmp_path / "g.png")]
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "bgrl embeddings + linear probe" in out and "supervised message passing" in out and "raw features" in out
    assert (tmp_path / "g.png").stat().st_size > 10000
