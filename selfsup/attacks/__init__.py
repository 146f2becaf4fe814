"""Attacks on learned representations: universal adversarial perturbations."""

from .uap import NORMS, UAPResult, deepfool, deepfool_uap, fooling_rate, project, random_perturbation, sgd_uap

__all__ = ["NORMS", "UAPResult", "deepfool", "deepfool_uap", "fooling_rate", "project", "random_perturbation", "sgd_uap"]
