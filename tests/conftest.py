import json
from pathlib import Path

import pytest
import timm
import torch
from safetensors import safe_open
from safetensors.torch import load_file


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(2)


TINY = [
    "data.name=digits",
    "data.image_size=16",
    "data.batch_size=64",
    "model.backbone=vit_micro",
    "model.proj_hidden=64",
    "model.proj_dim=32",
    "model.pred_hidden=64",
    "train.epochs=1",
    "train.progress=false",
    "eval.linear_epochs=3",
]


@pytest.fixture
def tiny_overrides(tmp_path):
    """Overrides for a seconds-long run on scikit-learn digits at 16 px, written under tmp_path."""
    return [*TINY, f"train.out_dir={tmp_path}", "train.run_name=run"]


def rebuild_exported(path: Path) -> tuple[torch.nn.Module, dict[str, str]]:
    """What a user does with ``selfsup export``'s file alone: the timm model its metadata names,
    with its weights, in eval mode; and that metadata."""
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    model = timm.create_model(meta["timm_name"], **json.loads(meta["timm_kwargs"]))
    model.load_state_dict(load_file(str(path)))
    return model.eval(), meta
