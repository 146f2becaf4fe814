import numpy as np
import pytest
import torch
from PIL import Image

from selfsup.config import DataConfig
from selfsup.data import DataError, build_dataset, generate_shapes, make_loader
from selfsup.data.files import cifar10, folder, stl10


def test_mnist_fixed_split():
    tr, te = build_dataset(DataConfig(name="mnist"), True), build_dataset(DataConfig(name="mnist"), False)
    assert tr.images.shape == (4000, 1, 28, 28) and te.images.shape == (1000, 1, 28, 28)
    assert tr.images.dtype == torch.uint8 and set(tr.labels.unique().tolist()) == set(range(10))
    assert torch.equal(build_dataset(DataConfig(name="mnist"), False).images, te.images)


def test_digits_upsampled():
    ds = build_dataset(DataConfig(name="digits", image_size=20), True)
    assert ds.images.shape[1:] == (1, 20, 20) and ds.images.max() > 200
    assert len(ds) + len(build_dataset(DataConfig(name="digits", image_size=20), False)) == 1797


def test_shapes_deterministic_with_masks_and_captions():
    a, b, c = generate_shapes(20, 32, seed=3), generate_shapes(20, 32, seed=3), generate_shapes(20, 32, seed=4)
    assert torch.equal(a["images"], b["images"]) and not torch.equal(a["images"], c["images"])
    assert a["images"].shape == (20, 3, 32, 32) and a["masks"].shape == (20, 32, 32)
    assert all(0 < m.float().mean() < 0.6 for m in a["masks"])
    from selfsup.data.shapes import SHAPES

    for cap, label in zip(a["captions"], a["labels"]):
        assert cap.startswith("a ") and SHAPES[label] in cap and cap.endswith("background")
    ds = build_dataset(DataConfig(name="shapes", num_images=100, image_size=24), True)
    assert ds.images.shape == (80, 3, 24, 24) and ds.masks.shape == (80, 24, 24) and len(ds.captions) == 80


def test_loader_yields_uint8_batches():
    ds = build_dataset(DataConfig(name="digits"), True)
    images, labels = next(iter(make_loader(ds, 32, shuffle=True)))
    assert images.shape == (32, 1, 28, 28) and images.dtype == torch.uint8 and labels.shape == (32,)


def _png(path, colour=(255, 0, 0), size=(10, 12)):
    Image.new("RGB", size, colour).save(path)


def test_folder_labelled_unlabelled_and_bad_files(tmp_path):
    for cls in ("cat", "dog"):
        (tmp_path / "lab" / cls).mkdir(parents=True)
        for i in range(3):
            _png(tmp_path / "lab" / cls / f"{i}.png")
    ds = folder(tmp_path / "lab", 16)
    assert ds.images.shape == (6, 3, 16, 16) and ds.labels.tolist() == [0, 0, 0, 1, 1, 1] and ds.class_names == ["cat", "dog"]

    flat = tmp_path / "flat"
    flat.mkdir()
    _png(flat / "a.png")
    (flat / "broken.png").write_bytes(b"\x89PNG not really")
    (flat / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"not an image file .*notes\.txt"):  # found when listing, before any decode
        folder(flat, 16)
    (flat / "notes.txt").rename(tmp_path / "notes.txt")
    with pytest.raises(DataError, match=r"broken\.png"):
        folder(flat, 16)
    (tmp_path / "notes.txt").rename(flat / "notes.txt")
    ds = folder(flat, 16, skip_bad=True)
    assert len(ds) == 1 and (ds.labels == -1).all()
    assert sorted(p.split("/")[-1] for p in ds.skipped) == ["broken.png", "notes.txt"]

    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no files under"):
        folder(tmp_path / "empty", 16)
    with pytest.raises(DataError, match="does not exist"):
        folder(tmp_path / "missing", 16)
    with pytest.raises(DataError, match="needs data.path"):
        build_dataset(DataConfig(name="folder"), True)
    with pytest.raises(DataError, match="valid datasets: mnist"):
        build_dataset(DataConfig(name="imagenet"), True)


def test_truncated_image_names_file(tmp_path):
    good = tmp_path / "x.jpg"
    Image.new("RGB", (64, 64), (0, 255, 0)).save(good)
    (tmp_path / "cut.jpg").write_bytes(good.read_bytes()[:200])
    with pytest.raises(DataError, match=r"cut\.jpg"):
        folder(tmp_path, 16)


def test_cifar10_binary_and_stl10_files(tmp_path):
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 256, size=(7, 3073), dtype=np.uint8)
    rows[:, 0] = np.arange(7) % 10
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    for i in range(1, 6):
        rows.tofile(d / f"data_batch_{i}.bin")
    rows[:3].tofile(d / "test_batch.bin")
    tr, te = cifar10(str(tmp_path), True), cifar10(str(tmp_path), False)
    assert tr.images.shape == (35, 3, 32, 32) and te.labels.tolist() == [0, 1, 2]
    assert torch.equal(te.images[1].flatten(), torch.from_numpy(rows[1, 1:]))
    (d / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match=r"test_batch\.bin.*3073"):
        cifar10(str(tmp_path), False)

    s = tmp_path / "stl10_binary"
    s.mkdir()
    x = rng.integers(0, 256, size=(2, 3, 96, 96), dtype=np.uint8)
    x.transpose(0, 1, 3, 2).tofile(s / "train_X.bin")  # STL-10 stores images column-major
    np.array([1, 10], np.uint8).tofile(s / "train_y.bin")
    ds = stl10(str(tmp_path), "train")
    assert torch.equal(ds.images, torch.from_numpy(x)) and ds.labels.tolist() == [0, 9]
    with pytest.raises(DataError, match=r"test_X\.bin"):
        stl10(str(tmp_path), "test")
