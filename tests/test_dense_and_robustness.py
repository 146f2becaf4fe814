"""The dense probe's labels and IoU, and the occlusion / noise corruptions."""

import math

import torch

from selfsup.config import DataConfig
from selfsup.data import build_dataset, channel_stats
from selfsup.eval.dense import confusion_iou, dense_probe, pixel_labels
from selfsup.eval.robustness import add_noise, blank_order, occlude, robustness
from selfsup.models import build_backbone

SHAPES = DataConfig(name="shapes", image_size=16, num_images=500, test_fraction=0.2)


def test_iou_against_a_hand_count():
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 0, 0]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 0, 0, 0]])
    iou = confusion_iou(pred, target, 4)
    # class 0: tp 3, pred 4, true 4 -> 3/5; class 1: tp 2 / (3 + 2 - 2) = 2/3; class 2: 1/2; class 3 absent
    assert torch.allclose(iou[:3], torch.tensor([3 / 5, 2 / 3, 1 / 2], dtype=torch.float64)) and math.isnan(iou[3])


def test_pixel_labels_mark_the_object_with_its_class():
    ds = build_dataset(SHAPES, train=False)
    y = pixel_labels(ds)
    for i in range(5):
        inside = ds.masks[i] > 0
        assert (y[i][inside] == ds.labels[i] + 1).all() and (y[i][~inside] == 0).all()


def test_dense_probe_beats_predicting_background_everywhere():
    train, test = build_dataset(SHAPES, train=True), build_dataset(SHAPES, train=False)
    vit = build_backbone("vit_micro", 3, 16, "token", patch_size=2)
    result = dense_probe(vit, train, test, *channel_stats(train), epochs=10)
    y = pixel_labels(test)
    background_only = float(confusion_iou(torch.zeros_like(y), y, 6).nan_to_num(0).mean()) * 100
    assert result["miou"] > background_only + 3
    assert len(result["iou"]) == 6 and result["iou"][0] > 80


def test_occlusion_blanks_the_asked_fraction_nested_and_object_first():
    g = torch.Generator().manual_seed(0)
    images = torch.full((3, 1, 8, 8), 200, dtype=torch.uint8)
    masks = torch.zeros(3, 8, 8, dtype=torch.uint8)
    masks[:, :4, :4] = 1  # the object is the top-left quarter: patch 0 of a 2 x 2 grid
    order = blank_order(3, 2, masks, "object", g)
    assert (order[:, 0] == 0).all()
    fill = torch.tensor([7], dtype=torch.uint8)
    quarter, half = occlude(images, order, 0.25, 2, fill), occlude(images, order, 0.5, 2, fill)
    assert (quarter[:, :, :4, :4] == 7).all() and (quarter == 7).float().mean() == 0.25
    assert ((half == 7) >= (quarter == 7)).all() and (half == 7).float().mean() == 0.5
    rand = blank_order(3, 4, None, "random", g)
    assert (occlude(images, rand, 0.75, 4, fill) == 7).float().mean() == 0.75
    assert torch.equal(add_noise(images, 0.0, g), images) and not torch.equal(add_noise(images, 0.1, g), images)


def test_robustness_curves_start_from_the_clean_accuracy():
    train, test = build_dataset(SHAPES, train=True), build_dataset(SHAPES, train=False)
    vit = build_backbone("vit_micro", 3, 16, "token", patch_size=4)
    out = robustness(vit, train, test, *channel_stats(train), grid=4, linear_epochs=5)
    assert set(out) == {"occlusion_random", "occlusion_object", "noise"}
    assert list(out["occlusion_object"]) == ["0.0", "0.25", "0.5", "0.75"]
    clean = out["noise"]["0.0"]
    assert out["occlusion_random"]["0.0"] == clean == out["occlusion_object"]["0.0"]
