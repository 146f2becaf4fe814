"""The user's own data: CIFAR-10 / STL-10 from their standard files, and image folders.

Every failure names the file and what is wrong with it. With ``skip_bad`` an unreadable
image is left out and listed in ``dataset.skipped`` (the trainer logs the count) instead.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .base import DataError, TensorImageDataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def _require_dir(path: str | Path | None, what: str) -> Path:
    if path is None:
        raise DataError(f"{what} needs data.path: the folder holding its files")
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{what}: path does not exist: {p}")
    if not p.is_dir():
        raise DataError(f"{what}: not a folder: {p}")
    return p


class _ArraysOnly(pickle.Unpickler):
    """Unpickles CIFAR's python batches, refusing anything but numpy arrays and builtins."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle protocol
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _cifar_batch(file: Path) -> tuple[np.ndarray, np.ndarray]:
    if not file.is_file():
        raise DataError(f"cifar10: missing file {file}")
    if file.suffix == ".bin":
        raw = np.fromfile(file, dtype=np.uint8)
        if raw.size % 3073:
            raise DataError(f"cifar10: {file} is not a CIFAR-10 binary batch (size {raw.size} is not a multiple of 3073)")
        rows = raw.reshape(-1, 3073)
        return rows[:, 1:].reshape(-1, 3, 32, 32), rows[:, 0].astype(np.int64)
    try:
        with open(file, "rb") as f:
            d = _ArraysOnly(f, encoding="bytes").load()
        return np.asarray(d[b"data"], np.uint8).reshape(-1, 3, 32, 32), np.asarray(d[b"labels"], np.int64)
    except (pickle.UnpicklingError, KeyError, EOFError, ValueError) as e:
        raise DataError(f"cifar10: {file} is not a CIFAR-10 python batch: {e}") from e


def cifar10(path: str | None, train: bool) -> TensorImageDataset:
    """CIFAR-10 from ``cifar-10-batches-bin`` or ``cifar-10-batches-py`` under ``path`` (or ``path`` itself)."""
    root = _require_dir(path, "cifar10")
    for sub, names in (
        ("cifar-10-batches-bin", ([f"data_batch_{i}.bin" for i in range(1, 6)], ["test_batch.bin"])),
        ("cifar-10-batches-py", ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"])),
    ):
        for folder in (root / sub, root):
            files = names[0] if train else names[1]
            if (folder / files[0]).is_file():
                parts = [_cifar_batch(folder / f) for f in files]
                x = torch.from_numpy(np.concatenate([p[0] for p in parts]))
                y = torch.from_numpy(np.concatenate([p[1] for p in parts]))
                return TensorImageDataset(x, y, class_names=CIFAR10_CLASSES)
    raise DataError(f"cifar10: no CIFAR-10 batches (data_batch_1[.bin], test_batch[.bin]) under {root}")


def stl10(path: str | None, split: str) -> TensorImageDataset:
    """STL-10 from ``stl10_binary`` under ``path``: split is train, test or unlabeled (96x96 RGB)."""
    root = _require_dir(path, "stl10")
    folder = root / "stl10_binary" if (root / "stl10_binary").is_dir() else root
    xfile = folder / f"{split}_X.bin"
    if not xfile.is_file():
        raise DataError(f"stl10: missing file {xfile}")
    raw = np.fromfile(xfile, dtype=np.uint8)
    if raw.size % (3 * 96 * 96):
        raise DataError(f"stl10: {xfile} is not an STL-10 image file (size {raw.size})")
    x = torch.from_numpy(raw.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2).copy())  # stored column-major
    yfile = folder / f"{split}_y.bin"
    y = torch.from_numpy(np.fromfile(yfile, dtype=np.uint8).astype(np.int64) - 1) if yfile.is_file() else None
    if y is not None and len(y) != len(x):
        raise DataError(f"stl10: {yfile} has {len(y)} labels for {len(x)} images")
    return TensorImageDataset(x, y, class_names=STL10_CLASSES)


def load_image(file: Path, image_size: int, channels: int = 3) -> torch.Tensor:
    """Decode one image file to a (C, S, S) uint8 tensor; errors name the file."""
    try:
        with Image.open(file) as im:
            im = im.convert("L" if channels == 1 else "RGB")
            im = im.resize((image_size, image_size), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DataError(f"cannot read image {file}: {e}") from e
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(arr.copy())


def _list_images(root: Path) -> tuple[list[Path], list[int], list[str] | None]:
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if subdirs:
        files, labels = [], []
        for label, d in enumerate(subdirs):
            for f in sorted(d.rglob("*")):
                if f.is_file() and not f.name.startswith("."):
                    files.append(f)
                    labels.append(label)
        return files, labels, [d.name for d in subdirs]
    files = sorted(f for f in root.iterdir() if f.is_file() and not f.name.startswith("."))
    return files, [-1] * len(files), None


def list_folder(path: str | None, skip_bad: bool = False) -> tuple[list[Path], list[int], list[str] | None, list[str]]:
    """An image folder's files, labels (class subfolders; -1 in a flat folder), class names and
    the files left out for a suffix that is not an image's (an error without ``skip_bad``)."""
    root = _require_dir(path, "folder")
    files, labels, classes = _list_images(root)
    if not files:
        raise DataError(f"folder: no files under {root}")
    kept, kept_labels, skipped = [], [], []
    for f, y in zip(files, labels):
        if f.suffix.lower() in IMAGE_SUFFIXES:
            kept.append(f)
            kept_labels.append(y)
        elif skip_bad:
            skipped.append(str(f))
        else:
            raise DataError(f"not an image file (suffix {f.suffix or 'none'}): {f} (set data.skip_bad=true to skip unreadable files)")
    if not kept:
        raise DataError(f"folder: none of the {len(files)} files under {root} is an image")
    return kept, kept_labels, classes, skipped


def folder(path: str | None, image_size: int, skip_bad: bool = False, channels: int = 3) -> TensorImageDataset:
    """An image folder held in memory: class subfolders give labels; a flat folder is unlabelled.

    Images are decoded once, resized to ``image_size`` and held in memory as uint8 (``data.stream=false``;
    :func:`selfsup.data.stream_folder` reads them lazily instead).
    """
    files, labels, classes, skipped = list_folder(path, skip_bad)
    images, kept = [], []
    for f, y in zip(files, labels):
        try:
            images.append(load_image(f, image_size, channels))
            kept.append(y)
        except DataError as e:
            if not skip_bad:
                raise DataError(f"{e} (set data.skip_bad=true to skip unreadable files)") from e
            skipped.append(str(f))
    if not images:
        raise DataError(f"folder: none of the {len(files)} images under {path} could be read")
    ds = TensorImageDataset(torch.stack(images), torch.tensor(kept), class_names=classes)
    ds.skipped = skipped
    return ds
