"""Evaluation: kNN, linear probes, collapse monitors."""

from .collapse import embedding_std, rankme
from .features import extract_features
from .knn import knn_accuracy, knn_predict
from .linear import linear_probe_accuracy

__all__ = ["embedding_std", "extract_features", "knn_accuracy", "knn_predict", "linear_probe_accuracy", "rankme"]
