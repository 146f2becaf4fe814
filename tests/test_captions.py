"""Caption templates for shapes and digits render each image's own attributes or label."""

import pytest

from selfsup.config import DataConfig
from selfsup.data import build_dataset
from selfsup.data.captions import DIGIT_TEMPLATES, SHAPES_TEMPLATES, render_captions, templates_for


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
