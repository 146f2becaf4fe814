"""selfsup: self-supervised and multimodal representation learning, evaluation and attacks."""

__version__ = "0.1.0"
