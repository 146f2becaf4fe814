"""Write WebDataset shards (``selfsup shards``) from an image folder or a caption CSV.

Each sample keeps its file's encoded bytes (JPEG, PNG and WebP as they are; other formats
re-encoded as PNG) beside its class (``cls``, from class subfolders) and caption (``txt``, from
the CSV). Every image is decoded once on the way, in ``workers`` processes, so a broken file is
named and left out here, counted, rather than found by a training run. ``sizes.json``
(open_clip's) and ``classes.json`` go beside the shards.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from .base import DataError
from .caption_csv import csv_rows
from .decode import decode
from .files import list_folder
from .shards import CLASSES_FILE, SIZES_FILE

KEPT_FORMATS = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png", ".webp": "webp"}


@dataclass
class ShardReport:
    pattern: str  # the brace pattern to give data.path
    shards: int
    samples: int
    skipped: list[str] = field(default_factory=list)  # "file: reason", one per image left out


def _encoded(file: Path) -> tuple[str, bytes]:
    """(member suffix, bytes) of one image, checked by decoding it; raises DataError naming the file."""
    data = file.read_bytes()
    decode(data, str(file))
    suffix = KEPT_FORMATS.get(file.suffix.lower())
    if suffix is not None:
        return suffix, data
    with Image.open(io.BytesIO(data)) as im:
        out = io.BytesIO()
        im.save(out, "PNG")
    return "png", out.getvalue()


def _check(item: tuple[int, Path]) -> tuple[int, str, bytes] | tuple[int, str]:
    i, file = item
    try:
        return (i, *_encoded(file))
    except (DataError, OSError) as e:
        return i, str(e) if str(file) in str(e) else f"{file}: {e}"


def _checked(files: list[Path], workers: int) -> Iterator[tuple[int, str, bytes] | tuple[int, str]]:
    items = list(enumerate(files))
    if workers <= 1:
        yield from map(_check, items)
        return
    with get_context("fork" if os.name == "posix" else "spawn").Pool(workers) as pool:
        yield from pool.imap(_check, items, chunksize=32)


def write_shards(source: str, out: str, shard_size: int = 1000, shuffle: bool = True, seed: int = 0, workers: int = 1, prefix: str = "shard",
                 img_key: str = "filepath", caption_key: str = "title", separator: str = "\t", progress: bool = True) -> ShardReport:
    """Shards of ``shard_size`` samples from ``source``: a folder (class subfolders give ``cls``) or
    a caption CSV (``.csv`` / ``.tsv``: each row's image and ``txt``)."""
    from webdataset import TarWriter

    if shard_size <= 0:
        raise DataError(f"--shard-size must be positive, got {shard_size}")
    src = Path(source)
    if src.is_file():
        files, captions, skipped = csv_rows(str(src), img_key, caption_key, separator, skip_bad=True)
        labels, classes = [-1] * len(files), None
    else:
        files, labels, classes, skipped = list_folder(source, skip_bad=True)
        skipped = [f"{s}: not an image file" for s in skipped]
        captions = None
    order = np.random.default_rng(seed).permutation(len(files)) if shuffle else np.arange(len(files))
    files = [files[i] for i in order]
    labels = [labels[i] for i in order]
    captions = [captions[i] for i in order] if captions is not None else None
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    writer, written = None, 0
    for result in tqdm(_checked(files, workers), total=len(files), desc="shards", unit="img", disable=not progress):
        if len(result) == 2:
            skipped.append(result[1])
            continue
        i, suffix, data = result
        if written % shard_size == 0:
            if writer is not None:
                writer.close()
            name = f"{prefix}-{written // shard_size:05d}.tar"
            writer, sizes[name] = TarWriter(str(out_dir / name), encoder=False, mode=0o644), 0
        sample = {"__key__": f"{written:09d}", suffix: data}
        if labels[i] >= 0:
            sample["cls"] = str(labels[i]).encode()
        if captions is not None:
            sample["txt"] = captions[i].encode("utf-8")
        writer.write(sample)
        sizes[name] += 1
        written += 1
    if writer is not None:
        writer.close()
    if not written:
        raise DataError(f"{source}: none of its {len(files)} images could be read; nothing written")
    (out_dir / SIZES_FILE).write_text(json.dumps(sizes, indent=1))
    if classes:
        (out_dir / CLASSES_FILE).write_text(json.dumps(classes))
    last = len(sizes) - 1
    pattern = str(out_dir / (f"{prefix}-{{00000..{last:05d}}}.tar" if last else f"{prefix}-00000.tar"))
    return ShardReport(pattern, len(sizes), written, skipped)
