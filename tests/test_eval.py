import torch

from selfsup.eval import embedding_std, knn_accuracy, knn_predict, linear_probe_accuracy, rankme


def test_knn_weighted_vote_matches_reference():
    g = torch.Generator().manual_seed(0)
    train, labels, test = torch.randn(50, 8, generator=g), torch.randint(0, 3, (50,), generator=g), torch.randn(7, 8, generator=g)
    k, t = 5, 0.07
    tn, qn = train / train.norm(dim=1, keepdim=True), test / test.norm(dim=1, keepdim=True)
    expected = []
    for q in qn:
        sims = tn @ q
        top = sims.argsort(descending=True)[:k]
        votes = [sum(float(torch.exp(sims[i] / t)) for i in top if labels[i] == c) for c in range(3)]
        expected.append(max(range(3), key=lambda c: votes[c]))
    assert knn_predict(train, labels, test, k, t).tolist() == expected


def test_knn_and_linear_probe_separate_clusters():
    centres = torch.randn(4, 16) * 5
    y = torch.arange(400) % 4
    x = centres[y] + torch.randn(400, 16)
    assert knn_accuracy(x[:300], y[:300], x[300:], y[300:]) > 95
    assert linear_probe_accuracy(x[:300], y[:300], x[300:], y[300:], epochs=20) > 95
    assert linear_probe_accuracy(torch.randn(300, 16), y[:300], torch.randn(100, 16), y[300:], epochs=20) < 50


def test_collapse_monitors():
    healthy = torch.randn(512, 32)
    collapsed = torch.randn(1, 32).expand(512, 32) + 1e-4 * torch.randn(512, 32)
    one_dim = torch.randn(512, 1) * torch.randn(1, 32)
    assert embedding_std(collapsed) < 1e-3 < 0.1 < embedding_std(healthy)
    assert abs(embedding_std(healthy) - 32**-0.5) < 0.02
    assert rankme(healthy) > 25 and rankme(one_dim) < 1.5
    assert abs(rankme(torch.eye(10)) - 10) < 1e-3
