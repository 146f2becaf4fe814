"""Losses: pure functions of tensors."""

from .byol import byol_loss
from .ntxent import ntxent_loss

__all__ = ["byol_loss", "ntxent_loss"]
