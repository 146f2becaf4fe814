"""Crops from the original photo: RandomResizedCrop's boxes, antialiased shrinking, DCT-scaled decoding."""

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from selfsup.data.crops import CentreCrop, MultiCropViews, ViewSpec, random_box, resize_crop
from selfsup.data.decode import decode


def _jpeg(array: np.ndarray, quality: int = 95) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "JPEG", quality=quality)
    return out.getvalue()


def test_boxes_respect_scale_and_aspect_and_fit_the_image():
    for _ in range(300):
        x, y, w, h = random_box(500, 375, (0.05, 0.4), (3 / 4, 4 / 3))
        assert 0 <= x and x + w <= 500 and 0 <= y and y + h <= 375
        assert 0.05 * 0.9 <= w * h / (500 * 375) <= 0.4 * 1.1  # rounding to whole pixels
        assert 3 / 4 * 0.95 <= w / h <= 4 / 3 * 1.05


def test_a_box_that_cannot_fit_falls_back_to_the_centre_at_an_allowed_aspect():
    x, y, w, h = random_box(400, 40, (0.9, 1.0), (3 / 4, 4 / 3))  # a 10:1 strip: no box of that area fits
    assert (w, h) == (53, 40) and x == (400 - 53) // 2 and y == 0


def test_shrinking_is_antialiased_as_pils_resize():
    stripes = np.zeros((480, 480), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: shrunk 5x they must average to grey, not alias into bars
    view = resize_crop(torch.from_numpy(stripes)[None], (0, 0, 480, 480), 1.0, 96)[0].float()
    pil = torch.from_numpy(np.array(Image.fromarray(stripes).resize((96, 96), Image.BILINEAR))).float()
    assert (view - pil).abs().max() <= 1 and abs(view.mean().item() - 127.5) < 2
    theta = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]])  # the in-memory path's one bilinear sample per pixel
    image = torch.from_numpy(stripes)[None, None].float()
    aliased = F.grid_sample(image, F.affine_grid(theta, [1, 1, 96, 96], align_corners=False), align_corners=False)
    assert aliased.std().item() > 40 > 8 > view.std().item()


def test_reduced_size_decoding_is_used_only_when_every_view_allows_it_and_matches_full_decoding():
    y, x = np.mgrid[:600, :800]
    photo = np.stack([(x * 255 // 800), (y * 255 // 600), ((x + y) * 255 // 1400)], -1).astype(np.uint8)
    data = _jpeg(photo)
    assert decode(data, "p.jpg").shape == (3, 600, 800)
    assert decode(data, "p.jpg", max_reduction=2.5).shape == (3, 300, 400)
    assert decode(data, "p.jpg", max_reduction=9.0).shape == (3, 75, 100)  # 1/8 is the smallest
    assert decode(data, "p.jpg", max_reduction=1.9).shape == (3, 600, 800)
    assert decode(data, "p.jpg", channels=1).shape == (1, 600, 800)
    full = resize_crop(decode(data, "p.jpg"), (100, 50, 400, 400), 1.0, 96).float()
    half = resize_crop(decode(data, "p.jpg", max_reduction=4.0), (100, 50, 400, 400), 0.25, 96).float()
    assert (full - half).abs().mean() < 3  # the same view, from a quarter of the pixels


def test_multicrop_views_have_their_sizes_and_come_from_the_whole_photo():
    photo = np.zeros((375, 500, 3), np.uint8)
    photo[:, 250:] = 255  # left half black, right half white
    torch.manual_seed(0)
    make = MultiCropViews([ViewSpec(64, (0.4, 1.0))] * 2 + [ViewSpec(24, (0.05, 0.2))] * 6, hflip=True)
    means = []
    for _ in range(20):
        views = make(_jpeg(photo), "p.jpg")
        assert [tuple(v.shape) for v in views] == [(3, 64, 64)] * 2 + [(3, 24, 24)] * 6
        assert all(v.dtype == torch.uint8 for v in views)
        means += [v.float().mean().item() for v in views[2:]]
    assert min(means) < 20 and max(means) > 235  # small crops land in either half: all of the photo is used
    centre = CentreCrop(32)(_jpeg(photo), "p.jpg")[0].float()
    assert centre.shape == (3, 32, 32) and abs(centre.mean().item() - 127.5) < 10


def test_views_keep_the_photo_aspect_ratio():
    photo = np.zeros((300, 900, 3), np.uint8)
    rr, cc = np.mgrid[:300, :900]
    photo[(rr - 150) ** 2 + (cc - 450) ** 2 < 100**2] = 255  # a circle in a 3:1 photo
    view = CentreCrop(64)(_jpeg(photo), "p.jpg")[0][0].float() / 255  # a square centre crop: the circle stays round
    ys, xs = torch.nonzero(view > 0.5, as_tuple=True)
    height, width = ys.max() - ys.min(), xs.max() - xs.min()
    assert math.isclose(height.item(), width.item(), abs_tol=2)
