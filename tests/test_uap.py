"""Universal adversarial perturbations: projections, the DeepFool step, fitting, saving, the CLI."""

import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from selfsup.attacks import deepfool, deepfool_uap, fooling_rate, project, random_perturbation, sgd_uap
from selfsup.attacks.report import load_uap, save_uap
from selfsup.cli import main
from selfsup.config import DataConfig
from selfsup.data import build_dataset


def test_projection_onto_l2_and_linf_balls():
    v = torch.tensor([[3.0, -4.0], [0.5, 0.0]])
    assert torch.equal(project(v, 1.0, "inf"), torch.tensor([[1.0, -1.0], [0.5, 0.0]]))
    p = project(v, 2.0, "2")
    assert p.norm().item() == pytest.approx(2.0) and torch.allclose(p / p.norm(), v / v.norm())
    assert torch.equal(project(v * 0.01, 2.0, "2"), v * 0.01)  # inside the ball: unchanged
    assert random_perturbation((1, 4, 4), 0.1, "inf").abs().eq(0.1).all()
    assert random_perturbation((1, 4, 4), 0.5, "2").norm().item() == pytest.approx(0.5)


def test_deepfool_step_on_a_linear_classifier_is_the_analytic_minimal_step():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 3))
    x = torch.randn(5, 1, 2, 3)
    r = deepfool(model, x, candidates=2, overshoot=0.0)
    w, b = model[1].weight, model[1].bias
    with torch.no_grad():
        f = x.flatten(1) @ w.T + b  # (5, 3)
        orig = f.argmax(1)
        for i in range(5):
            # The nearest boundary among the other classes and the exact step onto it.
            dist = [((f[i, k] - f[i, orig[i]]).abs() / (w[k] - w[orig[i]]).norm(), k) for k in range(3) if k != orig[i]]
            _, k = min(dist)
            wk, fk = w[k] - w[orig[i]], f[i, k] - f[i, orig[i]]
            expected = ((fk.abs() + 1e-4) / wk.norm() ** 2) * wk
            assert torch.allclose(r[i].flatten(), expected, atol=1e-5)
            assert model(x[i : i + 1] + r[i]).argmax().item() != orig[i]  # it crosses the boundary


def _digits_classifier():
    """A small MLP trained on scikit-learn's digits (8 px, [0, 1] pixels) in a second."""
    ds = build_dataset(DataConfig(name="digits", image_size=8), train=True)
    x, y = ds.images.float() / 255, ds.labels
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = build_dataset(DataConfig(name="digits", image_size=8), train=False)
    return model.eval().requires_grad_(False), x, test.images.float() / 255


@pytest.mark.parametrize("fit", [deepfool_uap, sgd_uap])
@pytest.mark.parametrize("norm, eps", [("inf", 0.15), ("2", 1.5)])
def test_uap_fools_far_more_than_noise_of_the_same_norm(fit, norm, eps):
    model, x, held_out = _digits_classifier()
    result = fit(model, x[:300], eps, norm, max_passes=3)
    assert (result.v.abs().max() if norm == "inf" else result.v.norm()).item() <= eps + 1e-6
    fooled = fooling_rate(model, held_out, result.v)
    noise = fooling_rate(model, held_out, random_perturbation(tuple(result.v.shape), eps, norm, torch.Generator().manual_seed(0)))
    assert fooled > 2 * noise + 15  # noise of the same norm: 2-6 %; the UAP: 31-89 %
    assert len(result.fooling_history) == result.passes


def test_targeted_uap_pushes_predictions_to_the_target():
    model, x, held_out = _digits_classifier()
    v = sgd_uap(model, x[:300], 0.2, "inf", max_passes=3, target=3).v
    assert fooling_rate(model, held_out, v, target=3) > 50  # % of held-out images now predicted 3


def test_bad_budget_is_a_clear_error():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="eps must be > 0"):
        deepfool_uap(model, torch.rand(4, 1, 2, 2), 0.0)
    with pytest.raises(ValueError, match="unknown norm 'l1'; valid norms: inf, 2"):
        sgd_uap(model, torch.rand(4, 1, 2, 2), 0.1, "l1")


def test_saved_perturbation_round_trips(tmp_path):
    v = torch.randn(1, 8, 8)
    save_uap(tmp_path / "v.safetensors", v, {"eps": 0.1, "norm": "inf", "run": "r"})
    loaded, meta = load_uap(tmp_path / "v.safetensors")
    assert torch.equal(loaded, v) and meta == {"eps": 0.1, "norm": "inf", "run": "r"}


@pytest.mark.slow
def test_attack_cli_fits_saves_reloads_and_transfers(tiny_overrides, tmp_path, capsys):
    assert main(["train", *tiny_overrides, "train.max_steps=6"]) == 0
    run = tmp_path / "run"
    capsys.readouterr()
    args = ["--eps", "0.1", "--fit-images", "48", "--held-out", "64", "--passes", "1"]
    assert main(["attack", "uap", str(run), *args, "--curve"]) == 0
    out = capsys.readouterr().out
    assert "= 25.5 of 255" in out and "random noise of the same norm" in out and "vs fitting images" in out
    folder = run / "uap_deepfool_linf_0.1"
    report = json.loads((folder / "uap.json").read_text())
    assert {"fooling_rate_fit", "fooling_rate_held_out", "clean_accuracy", "perturbed_accuracy", "pushed_to"} <= report.keys()
    assert (folder / "uap.png").stat().st_size > 5000
    assert main(["attack", "uap", str(run), "--load", str(folder / "uap.safetensors"), "--held-out", "64", "--out", str(tmp_path / "again")]) == 0
    assert json.loads((tmp_path / "again" / "uap.json").read_text())["fooling_rate_held_out"] == report["fooling_rate_held_out"]
    capsys.readouterr()
    assert main(["attack", "transfer", str(run), str(run), *args, "--algo", "sgd", "--out", str(tmp_path / "t.json")]) == 0
    matrix = json.loads((tmp_path / "t.json").read_text())
    cell, noise = matrix["fooling_rate"]["run"]["run"], matrix["noise_fooling_rate"]["run"]
    assert set(matrix["fooling_rate"]["run"]) == {"run"} and matrix["seeds"] == [0, 1, 2]
    assert sorted(cell["by_seed"]) == sorted(noise["by_seed"]) == ["0", "1", "2"]  # one fit and one noise draw per seed
    assert cell["interval"][0] <= cell["mean"] <= cell["interval"][1]
    assert matrix["above_noise"]["run"]["run"] in ("held", "did not hold", "inconclusive")
    printed = capsys.readouterr().out
    assert "same-norm noise" in printed and "run -> run:" in printed and "fitting-set seeds 0, 1, 2" in printed

    assert main(["train", *tiny_overrides[:-1], "train.run_name=noprobe", "train.online_probe=false", "train.max_steps=2"]) == 0
    assert main(["attack", "uap", str(tmp_path / "noprobe"), *args]) == 2
    assert "has no linear probe" in capsys.readouterr().err


def test_transfer_matrix_draws_a_fitting_set_per_seed_and_judges_against_noise():
    from selfsup.attacks.transfer import transfer_matrix
    from selfsup.study.stats import paired, superiority

    torch.manual_seed(0)
    images = torch.rand(40, 1, 8, 8)
    sensitive = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))  # a linear model a fitted v can fool
    drawn = []

    def fit_images(i, seed):
        drawn.append((i, seed))
        return images[seed * 10 : seed * 10 + 10]

    def fit(model, x):
        drawn.append(tuple(x.shape))
        return 0.5 * torch.sign(model[1].weight[0] - model[1].weight[1]).view(1, 8, 8)  # pushes towards class 0

    result = transfer_matrix(["a", "b"], [sensitive, sensitive], [images, images], fit_images, fit, 0.5, "inf", [0, 1, 2])
    assert drawn[:4] == [(0, 0), (10, 1, 8, 8), (1, 0), (10, 1, 8, 8)]  # each model's own draw for each seed
    assert [d for d in drawn if len(d) == 2] == [(i, s) for s in (0, 1, 2) for i in (0, 1)]
    assert {len(c["by_seed"]) for row in result["fooling_rate"].values() for c in row.values()} == {3}
    rates = result["fooling_rate"]["a"]["b"]["by_seed"]
    assert rates == result["fooling_rate"]["a"]["a"]["by_seed"]  # the same model as target: the same rate
    noise = result["noise_fooling_rate"]["b"]["by_seed"]
    assert all(rates[s] == fooling_rate(sensitive, images, fit(sensitive, images)) for s in rates)
    assert result["above_noise"]["a"]["b"] == superiority(paired(rates, noise), 1.0)
    assert result["above_noise"]["a"]["b"] == "held"  # the fitted direction fools far more than random signs
    one = transfer_matrix(["a"], [sensitive], [images], fit_images, fit, 0.5, "inf", [0])
    assert one["above_noise"]["a"]["a"] == "inconclusive"  # one seed decides nothing
