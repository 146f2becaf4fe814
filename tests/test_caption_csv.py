"""Image-caption CSVs in open_clip's layout: real PNG files, bad rows named or skipped."""

import numpy as np
import pytest
from PIL import Image

from selfsup.config import DataConfig
from selfsup.data import DataError, build_dataset
from selfsup.data.caption_csv import caption_csv, csv_rows


def _images(root, n=4):
    (root / "img").mkdir()
    for i in range(n):
        Image.fromarray(np.full((12, 12, 3), 40 * i, np.uint8)).save(root / "img" / f"{i}.png")


def _write(path, rows, sep="\t", header=("filepath", "title")):
    path.write_text("\n".join(sep.join(r) for r in [header, *rows]) + "\n")


def test_reads_pairs_with_paths_relative_to_the_csv(tmp_path):
    _images(tmp_path)
    _write(tmp_path / "pairs.tsv", [(f"img/{i}.png", f"caption number {i}") for i in range(4)])
    ds = caption_csv(str(tmp_path / "pairs.tsv"), image_size=8)
    assert ds.images.shape == (4, 3, 8, 8) and ds.captions == [f"caption number {i}" for i in range(4)]
    assert int(ds.images[3].float().mean().round()) == 120 and (ds.labels == -1).all()


def test_bad_rows_are_named_or_skipped_and_counted(tmp_path):
    _images(tmp_path, 2)
    (tmp_path / "img" / "broken.png").write_bytes(b"not a png")
    rows = [("img/0.png", "fine"), ("img/missing.png", "gone"), ("img/1.png", "  "), ("img/broken.png", "corrupt")]
    _write(tmp_path / "pairs.tsv", rows)
    with pytest.raises(DataError, match=r"line 3: image not found: .*missing\.png"):
        caption_csv(str(tmp_path / "pairs.tsv"), 8)
    ds = caption_csv(str(tmp_path / "pairs.tsv"), 8, skip_bad=True)
    assert ds.captions == ["fine"] and len(ds.skipped) == 3
    assert any("line 4: " in s and "empty caption" in s for s in ds.skipped) and any("broken.png" in s for s in ds.skipped)


def test_columns_and_separator_are_configurable_and_checked(tmp_path):
    _images(tmp_path, 2)
    _write(tmp_path / "pairs.csv", [("img/0.png", "a"), ("img/1.png", "b")], sep=",", header=("image", "text"))
    with pytest.raises(DataError, match=r"no column \['filepath', 'title'\]"):
        caption_csv(str(tmp_path / "pairs.csv"), 8)
    cfg = DataConfig(name="csv", path=str(tmp_path / "pairs.csv"), image_size=8, csv_img_key="image", csv_caption_key="text", csv_separator=",", test_fraction=0.5)
    train, test = build_dataset(cfg, train=True), build_dataset(cfg, train=False)
    assert sorted(train.captions + test.captions) == ["a", "b"]


def test_tab_separated_rows_are_read_without_quoting_and_bad_lines_are_named_once(tmp_path):
    _images(tmp_path, 3)
    lines = [b"filepath\ttitle", b'img/0.png\ta "quoted caption with no end', b"img/1.png\tsecond", b"img/2.png no tab here", b"img/2.png\tcaf\xe9 latin-1"]
    (tmp_path / "pairs.tsv").write_bytes(b"\n".join(lines) + b"\n")
    paths, captions, skipped = csv_rows(str(tmp_path / "pairs.tsv"), skip_bad=True)
    assert captions == ['a "quoted caption with no end', "second"]  # the quote does not swallow the next row
    assert len(skipped) == 2 and "line 4: 1 tab-separated fields, the header has 2" in skipped[0] and "line 5: not UTF-8 (byte 0xe9" in skipped[1]
    assert all(s.count("line ") == 1 for s in skipped)
    with pytest.raises(DataError, match=r"pairs\.tsv line 4: 1 tab-separated fields"):
        csv_rows(str(tmp_path / "pairs.tsv"))
