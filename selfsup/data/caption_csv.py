"""Image-caption pairs from a CSV in open_clip's layout: one row per pair, an image path column
(``filepath``) and a caption column (``title``), tab-separated by default. Relative paths are
read from the CSV's folder. Unlabelled (labels -1); the captions travel with the images."""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from .base import DataError, TensorImageDataset
from .files import load_image


def _fields(raw: bytes, file: Path, line: int, separator: str) -> list[str]:
    """One line's fields. Tab-separated files (open_clip's layout) are split on tabs only, so a
    quote is a caption's character, not the start of a field spanning lines; other separators
    follow CSV quoting within the line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{file} line {line}: not UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})") from e
    if separator == "\t":
        return text.split("\t")
    return next(csv.reader([text], delimiter=separator))


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
    lines = file.read_bytes().splitlines()
    header = _fields(lines[0].removeprefix(b"\xef\xbb\xbf"), file, 1, separator) if lines else []  # a UTF-8 byte-order mark is no column name
    missing = [k for k in (img_key, caption_key) if k not in header]
    if missing:
        raise DataError(f"{file}: no column {missing} (columns: {header}; set data.csv_img_key / data.csv_caption_key / data.csv_separator)")
    rows = [(n, raw) for n, raw in enumerate(lines[1:], start=2) if raw.strip()]  # line 1 is the header
    paths, captions, skipped = [], [], []
    for line, raw in rows:
        try:
            values = _fields(raw, file, line, separator)
            if len(values) != len(header):
                sep = "tab" if separator == "\t" else repr(separator)
                raise DataError(f"{file} line {line}: {len(values)} {sep}-separated fields, the header has {len(header)}")
            row = dict(zip(header, values))
        except DataError as e:
            if not skip_bad:
                raise DataError(f"{e} (set data.skip_bad=true to skip bad rows)") from e
            skipped.append(str(e))
            continue
        image_path = Path(row[img_key])
        image_path = image_path if image_path.is_absolute() else file.parent / image_path
        caption = row[caption_key].strip()
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
