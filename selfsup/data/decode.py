"""Decode image bytes to uint8 tensors, in loader workers.

JPEGs go through libjpeg-turbo (``simplejpeg``), which can decode straight to 1/2, 1/4 or 1/8
of the full size by DCT scaling: :func:`decode` takes the largest reduction the caller allows.
Other formats (PNG, WebP, ...) and JPEGs simplejpeg refuses (CMYK, arithmetic coding) go through
PIL. Every failure is a :class:`DataError` naming the file (or shard member).
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .base import DataError

try:
    import simplejpeg
except ImportError:  # an optional speed-up; PIL decodes the same files
    simplejpeg = None

JPEG_MAGIC = b"\xff\xd8"


def _is_jpeg(data: bytes) -> bool:
    return data[:2] == JPEG_MAGIC


def image_size(data: bytes, name: str) -> tuple[int, int]:
    """(width, height) from the header alone, without decoding the pixels."""
    try:
        if simplejpeg is not None and _is_jpeg(data):
            h, w, _, _ = simplejpeg.decode_jpeg_header(data)
            return w, h
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except (ValueError, UnidentifiedImageError, OSError, SyntaxError) as e:
        raise DataError(f"cannot read image {name}: {e}") from e


def _jpeg_scale(width: int, height: int, max_reduction: float) -> tuple[int, int]:
    """The smallest decoded (width, height) at a power-of-two reduction <= ``max_reduction``."""
    k = int(math.floor(math.log2(max(max_reduction, 1.0))))
    f = 2 ** min(k, 3)  # libjpeg's fast scales: 1, 1/2, 1/4, 1/8
    return math.ceil(width / f), math.ceil(height / f)


def _to_tensor(arr: np.ndarray) -> torch.Tensor:
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)  # (C, H, W), channels-last memory


def decode(data: bytes, name: str, channels: int = 3, max_reduction: float = 1.0) -> torch.Tensor:
    """Bytes of one image -> (C, H, W) uint8 (C = ``channels``: 1 grey or 3 RGB).

    ``max_reduction`` >= 2 lets a JPEG decode at 1/2, 1/4 or 1/8 size, the largest of those
    not past it; the caller rescales its crop boxes to the decoded size.
    """
    if simplejpeg is not None and _is_jpeg(data):
        try:
            h, w, _, _ = simplejpeg.decode_jpeg_header(data)
            min_w, min_h = _jpeg_scale(w, h, max_reduction) if max_reduction >= 2 else (0, 0)
            arr = simplejpeg.decode_jpeg(data, colorspace="GRAY" if channels == 1 else "RGB", min_width=min_w, min_height=min_h)
            return _to_tensor(arr)
        except ValueError:
            pass  # CMYK, arithmetic coding, a recoverable error: PIL reads those or names the file below
    try:
        with Image.open(io.BytesIO(data)) as im:
            if max_reduction >= 2 and im.format == "JPEG":
                w, h = im.size
                im.draft("L" if channels == 1 else "RGB", _jpeg_scale(w, h, max_reduction))
            arr = np.array(im.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(f"cannot read image {name}: {e}") from e
    return _to_tensor(arr)
