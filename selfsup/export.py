"""Export a run's backbone as safetensors, loadable into the timm model it was built from."""

from __future__ import annotations

import json
from pathlib import Path

from .models import backbone_spec
from .models.backbones import timm_builds_alone
from .safetensors_io import save_safetensors
from .train.runs import LoadedRun


def export_backbone(run: LoadedRun, out: str | Path) -> tuple[Path, str]:
    """Write the encoder's weights to ``out``; the metadata holds the timm name and kwargs,
    the preset and the input normalisation. Returns (path, the call that rebuilds the model)."""
    out = Path(out)
    meta = run.meta
    timm_name, kwargs = backbone_spec(meta.backbone, meta.in_chans, meta.image_size, meta.global_pool, meta.patch_size)
    tensors = {k: v.detach().contiguous() for k, v in run.encoder().state_dict().items()}
    metadata = {
        "timm_name": timm_name,
        "timm_kwargs": json.dumps(kwargs),
        "preset": meta.backbone,
        "mean": json.dumps(list(meta.mean)),
        "std": json.dumps(list(meta.std)),
        "method": run.cfg.method.name,
        "step": str(run.step),
    }
    save_safetensors(tensors, out, metadata)
    if timm_builds_alone(meta.backbone):
        return out, f"timm.create_model({timm_name!r}, **{kwargs})"
    return out, f"selfsup.models.build_backbone({meta.backbone!r}, {meta.in_chans}, {meta.image_size}, {meta.global_pool!r}, {meta.patch_size!r})"
