"""Graphs: permutation-equivariant message passing, an equivariance checker, graph data."""

from .data import edge_list, karate, sbm
from .equivariance import check_equivariance
from .layers import AGGREGATORS, GraphEncoder, MessagePassingLayer, PositionWeightedSum

__all__ = ["AGGREGATORS", "GraphEncoder", "MessagePassingLayer", "PositionWeightedSum", "check_equivariance", "edge_list", "karate", "sbm"]
