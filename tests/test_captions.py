"""Caption templates for shapes and digits render each image's own attributes or label."""

import pytest
import torch

from selfsup.augment import pick_captions
from selfsup.config import DataConfig
from selfsup.data import build_dataset
from selfsup.data.captions import DIGIT_TEMPLATES, SHAPES_TEMPLATES, caption_table, class_prompts, render_captions, split_templates, templates_for


def test_shapes_templates_render_the_image_attributes():
    ds = build_dataset(DataConfig(name="shapes", image_size=16, num_images=50), train=False)
    assert templates_for(ds) == SHAPES_TEMPLATES
    assert render_captions(ds, SHAPES_TEMPLATES[0]) == ds.captions  # the default caption is template 0
    for template in SHAPES_TEMPLATES[1:]:
        for caption, name, label in zip(render_captions(ds, template), ds.captions, ds.labels.tolist()):
            assert ds.class_names[label] in caption and caption != name


def test_digit_templates_name_the_label_and_other_data_is_refused():
    ds = build_dataset(DataConfig(name="digits", image_size=16), train=False)
    caps = render_captions(ds, DIGIT_TEMPLATES[0])
    assert caps[0] == "a photo of the number: " + ("zero one two three four five six seven eight nine".split()[int(ds.labels[0])])
    assert render_captions(ds, DIGIT_TEMPLATES[2])[0] == f"the digit {int(ds.labels[0])}"
    ds.class_names = ["cat", "dog"]
    with pytest.raises(ValueError, match="CSV of captions"):
        render_captions(ds, DIGIT_TEMPLATES[0])


def test_caption_table_uses_only_training_templates_and_prompts_expand_the_held_out_ones():
    ds = build_dataset(DataConfig(name="shapes", image_size=16, num_images=60), train=True)
    table = caption_table(ds, 3)
    assert len(table) == len(ds) and all(len(row) == 3 for row in table)
    train, held_out = split_templates(ds, 3)
    assert held_out == SHAPES_TEMPLATES[3:]
    assert table[0] == [t.format(**_fields(ds, 0)) for t in train]
    prompts = class_prompts(ds, held_out)
    per_template = [3 * 8, 3 * 8 * 4]  # {size} x {colour}; {colour} x {size} x {background}
    assert len(prompts) == 5 and all(len(p) == sum(per_template) for p in prompts)
    for shape, rows in zip(ds.class_names, prompts):
        assert all(shape in p and not any(other in p for other in ds.class_names if other != shape) for p in rows)
    with pytest.raises(ValueError, match="train_templates"):
        split_templates(ds, 5)  # nothing left to hold out


def test_pick_captions_takes_one_of_each_images_own_captions():
    text = torch.arange(4 * 3 * 2).view(4, 3, 2)  # 4 images, 3 captions, 2 tokens
    picked = pick_captions(text)
    assert picked.shape == (4, 2)
    for i, row in enumerate(picked):
        assert any(torch.equal(row, text[i, t]) for t in range(3))


def _fields(ds, i):
    from selfsup.data.shapes import BACKGROUNDS, COLOURS, SHAPES, SIZES

    s, c, z, b = ds.attributes[i].tolist()
    return {"shape": SHAPES[s], "colour": list(COLOURS)[c], "size": list(SIZES)[z], "background": BACKGROUNDS[b]}
