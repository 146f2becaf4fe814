import pytest

from selfsup.config import BYOLConfig, ConfigError, config_from_dict, config_to_dict, load_config


def test_overrides_are_typed_and_switch_method():
    cfg = load_config(None, ["optim.lr=0.01", "method=byol", "method.momentum=0.9", "augment.global_scale=[0.3,1]"])
    assert cfg.optim.lr == 0.01 and isinstance(cfg.method, BYOLConfig) and cfg.method.momentum == 0.9
    assert cfg.augment.global_scale == (0.3, 1.0)
    assert load_config(None, ["optim.lr=1e-3"]).optim.lr == 1e-3  # YAML 1.1 reads 1e-3 as a string
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_unknown_key_names_the_key_and_the_valid_ones():
    with pytest.raises(ConfigError, match=r"optim\.lrr.*valid keys.*\blr\b"):
        load_config(None, ["optim.lrr=0.1"])
    with pytest.raises(ConfigError, match="unknown config key 'foo'.*data, augment"):
        load_config(None, ["foo.bar=1"])
    with pytest.raises(ConfigError, match="unknown method .mocov9.; valid methods: attndrop, byol, clip, coca, dino, mae, prefix_lm, simclr"):
        load_config(None, ["method=mocov9"])
    with pytest.raises(ConfigError, match="method.temperature.*valid keys.*momentum"):
        load_config(None, ["method=byol", "method.temperature=0.1"])


def test_bad_values_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="train.epochs: expected int"):
        load_config(None, ["train.epochs=ten"])
    with pytest.raises(ConfigError, match="optim.lr: expected float"):
        load_config(None, ["optim.lr=fast"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_every_preset_loads():
    from pathlib import Path

    presets = sorted(Path(__file__).parents[1].glob("configs/*.yaml"))
    assert len(presets) >= 4
    for path in presets:
        load_config(path)


def test_default_job_is_the_mnist_preset():
    from pathlib import Path

    preset = load_config(Path(__file__).parents[1] / "configs" / "simclr_mnist.yaml")
    assert preset == load_config(None)
