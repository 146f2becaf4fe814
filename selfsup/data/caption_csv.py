"""Image-caption pairs from a CSV in open_clip's layout: one row per pair, an image path column
(``filepath``) and a caption column (``title``), tab-separated by default. Relative paths are
read from the CSV's folder. Unlabelled (labels -1); the captions travel with the images."""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from .base import DataError, TensorImageDataset
from .files import load_image


def csv_rows(path: str | None, img_key: str = "filepath", caption_key: str = "title", separator: str = "\t", skip_bad: bool = False) -> tuple[list[Path], list[str], list[str]]:
    """The CSV's image paths and captions, without reading any image, and the rows left out.

    A bad row (missing image, empty caption) is an error naming its line and file, or, with
    ``skip_bad``, is left out and listed.
    """
    if not path:
        raise DataError("csv: set data.path to the CSV file of image paths and captions")
    file = Path(path)
    if not file.is_file():
        raise DataError(f"csv: no file at {file}")
    with file.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter=separator)
        missing = [k for k in (img_key, caption_key) if k not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{file}: no column {missing} (columns: {reader.fieldnames}; set data.csv_img_key / data.csv_caption_key / data.csv_separator)")
        rows = list(reader)
    paths, captions, skipped = [], [], []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        image_path = Path(row[img_key] or "")
        image_path = image_path if image_path.is_absolute() else file.parent / image_path
        caption = (row[caption_key] or "").strip()
        problem = f"{file} line {line}: empty caption" if not caption else None
        if problem is None and not image_path.is_file():
            problem = f"{file} line {line}: image not found: {image_path}"
        if problem is None:
            paths.append(image_path)
            captions.append(caption)
        elif skip_bad:
            skipped.append(problem)
        else:
            raise DataError(f"{problem} (set data.skip_bad=true to skip bad rows)")
    if not paths:
        raise DataError(f"{file}: none of its {len(rows)} rows could be used")
    return paths, captions, skipped


def caption_csv(path: str | None, image_size: int, img_key: str = "filepath", caption_key: str = "title", separator: str = "\t", skip_bad: bool = False) -> TensorImageDataset:
    """Decode every row's image (resized to ``image_size``, RGB) into memory and keep its caption."""
    paths, all_captions, skipped = csv_rows(path, img_key, caption_key, separator, skip_bad)
    images, captions = [], []
    for image_path, caption in zip(paths, all_captions):
        try:
            images.append(load_image(image_path, image_size))
            captions.append(caption)
        except DataError as e:
            if not skip_bad:
                raise DataError(f"{e} (set data.skip_bad=true to skip bad rows)") from e
            skipped.append(str(e))
    if not images:
        raise DataError(f"{path}: none of its rows' images could be read")
    ds = TensorImageDataset(torch.stack(images), captions=captions)
    ds.skipped = skipped
    return ds
