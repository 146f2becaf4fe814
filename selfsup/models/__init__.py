"""Backbones (timm) and small-image presets."""

from .backbones import PRESETS, backbone_spec, build_backbone

__all__ = ["PRESETS", "backbone_spec", "build_backbone"]
