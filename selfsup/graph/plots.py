"""Pictures of a graph run: the graph (spectral layout) coloured by the predicted community,
and the node embeddings in 2-D (PCA) coloured by the true one."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor


def spectral_layout(edge_index: Tensor, n: int) -> Tensor:
    """2-D positions (n, 2) from the 2nd and 3rd eigenvectors of the normalised Laplacian."""
    a = torch.zeros(n, n, dtype=torch.float64)
    a[edge_index[0], edge_index[1]] = 1.0
    deg = a.sum(1).clamp(min=1)
    lap = torch.eye(n, dtype=torch.float64) - a / deg.sqrt()[:, None] / deg.sqrt()[None, :]
    return torch.linalg.eigh(lap)[1][:, 1:3].float()


def plot_graph_run(edge_index: Tensor, embeddings: Tensor, predicted: Tensor, truth: Tensor, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(embeddings)
    pos = spectral_layout(edge_index, n).numpy()
    centred = embeddings - embeddings.mean(0)
    flat = (centred @ torch.linalg.svd(centred, full_matrices=False)[2][:2].T).numpy()  # PCA to 2-D
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5))
    src, dst = edge_index.numpy()
    left.plot([pos[src, 0], pos[dst, 0]], [pos[src, 1], pos[dst, 1]], color="grey", lw=0.3, alpha=0.4, zorder=1)
    left.scatter(pos[:, 0], pos[:, 1], c=predicted.numpy(), cmap="tab10", s=25, zorder=2, vmin=0, vmax=9)
    wrong = (predicted != truth) & (truth >= 0)
    left.scatter(pos[wrong, 0], pos[wrong, 1], facecolors="none", edgecolors="black", s=60, zorder=3, label=f"misclassified ({int(wrong.sum())})")
    left.set(title="graph (spectral layout), colour = predicted community", xticks=[], yticks=[])
    left.legend(loc="lower right", fontsize=8)
    right.scatter(flat[:, 0], flat[:, 1], c=truth.numpy(), cmap="tab10", s=20, vmin=0, vmax=9)
    right.set(title="node embeddings (PCA), colour = true community", xticks=[], yticks=[])
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
