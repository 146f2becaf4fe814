"""Graphs: permutation-equivariant message passing and an equivariance checker."""

from .equivariance import check_equivariance
from .layers import AGGREGATORS, GraphEncoder, MessagePassingLayer, PositionWeightedSum

__all__ = ["AGGREGATORS", "GraphEncoder", "MessagePassingLayer", "PositionWeightedSum", "check_equivariance"]
