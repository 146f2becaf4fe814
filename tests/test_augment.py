import pytest
import torch

from selfsup.augment import MultiCropAugment, eval_transform
from selfsup.augment.ops import gaussian_blur_, random_grayscale_, random_resized_crop, random_solarize_
from selfsup.config import AugmentConfig


@pytest.mark.parametrize("channels", [1, 3])
def test_views_shapes_ranges_and_counts(channels):
    cfg = AugmentConfig(n_global=2, n_local=3, local_size=12, hflip=True)
    images = torch.randint(0, 256, (8, channels, 28, 28), dtype=torch.uint8)
    views = MultiCropAugment(cfg, 28, (0.5,) * channels, (0.5,) * channels)(images)
    assert [tuple(v.shape) for v in views] == [(8, channels, 28, 28)] * 2 + [(8, channels, 12, 12)] * 3
    for v in views:
        assert v.dtype == torch.float32 and v.min() >= -1 - 1e-5 and v.max() <= 1 + 1e-5


def test_each_image_gets_its_own_random_parameters():
    image = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8).expand(16, -1, -1, -1)
    v1, v2 = MultiCropAugment(AugmentConfig(), 32, (0.5,) * 3, (0.5,) * 3)(image)
    flat = v1.flatten(1)
    distinct = {tuple(row.round(decimals=4).tolist()) for row in flat}
    assert len(distinct) == 16  # no two copies of the same image got the same view
    assert not torch.allclose(v1, v2)


def test_full_crop_without_flip_is_identity():
    x = torch.rand(4, 3, 16, 16)
    out = random_resized_crop(x, 16, (1.0, 1.0), hflip=False, ratio=(1.0, 1.0))
    assert torch.allclose(out, x, atol=1e-5)


def test_flip_and_resize():
    x = torch.arange(16.0).view(1, 1, 4, 4).expand(64, 1, 4, 4)
    out = random_resized_crop(x, 4, (1.0, 1.0), hflip=True, ratio=(1.0, 1.0))
    flipped = (out - x.flip(-1)).abs().flatten(1).amax(1) < 1e-5
    same = (out - x).abs().flatten(1).amax(1) < 1e-5
    assert (flipped | same).all() and 10 < flipped.sum() < 54
    assert random_resized_crop(x, 9, (0.5, 0.5), hflip=False).shape == (64, 1, 9, 9)


def test_blur_preserves_mean_and_smooths():
    x = torch.rand(4, 3, 32, 32)
    y = gaussian_blur_(x.clone(), 1.0, (2.0, 2.0))
    assert torch.allclose(y.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=0.02)
    assert y.diff(dim=-1).abs().mean() < 0.5 * x.diff(dim=-1).abs().mean()
    assert torch.equal(gaussian_blur_(x.clone(), 0.0, (2.0, 2.0)), x)


def test_solarize_inverts_bright_pixels_only():
    x = torch.tensor([0.2, 0.7]).view(1, 1, 1, 2)
    assert torch.allclose(random_solarize_(x, 1.0), torch.tensor([0.2, 0.3]).view(1, 1, 1, 2))


@pytest.mark.parametrize("op", [lambda x: random_grayscale_(x, 0.5), lambda x: gaussian_blur_(x, 0.5, (1.0, 2.0)), lambda x: random_solarize_(x, 0.5)])
def test_in_place_ops_change_the_chosen_images_of_their_input_and_leave_the_rest(op):
    torch.manual_seed(0)
    x = torch.rand(16, 3, 12, 12)
    before = x.clone()
    assert op(x) is x
    changed = (x != before).flatten(1).any(1)
    assert 0 < changed.sum() < 16  # some images chosen (p = 0.5 of 16), the others untouched


def test_eval_transform_normalises():
    x = torch.full((2, 1, 4, 4), 255, dtype=torch.uint8)
    assert torch.allclose(eval_transform(x, (0.5,), (0.25,)), torch.full((2, 1, 4, 4), 2.0))
