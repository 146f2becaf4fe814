"""Image folders and caption CSVs read lazily: views made in loader workers, bad files named in one line
or counted, each process's share of an epoch, a mid-epoch resume that repeats nothing."""

import json
import pickle

import numpy as np
import pytest
import torch

from selfsup.augment import MultiCropAugment
from selfsup.cli import main
from selfsup.config import AugmentConfig, DataConfig
from selfsup.data import DataError, ImageFiles, StreamBatch, build_dataset, for_training, iterate_images, make_loader
from selfsup.data.stream import EpochSampler

from .photos import photo_folder

DINO_VIEWS = AugmentConfig(n_global=2, n_local=3, global_size=32, local_size=16, global_scale=(0.4, 1.0), local_scale=(0.05, 0.4), hflip=True)


def _folder_data(root, **kw) -> DataConfig:
    return DataConfig(name="folder", path=str(root), image_size=32, test_fraction=0.25, **kw)


def test_a_folder_streams_without_holding_its_images(tmp_path):
    photo_folder(tmp_path / "photos", per_class=8)
    train, test = build_dataset(_folder_data(tmp_path / "photos"), True), build_dataset(_folder_data(tmp_path / "photos"), False)
    assert isinstance(train, ImageFiles) and not hasattr(train, "images")
    assert len(train) == 12 and len(test) == 4 and train.class_names == ["class0", "class1"] and train.num_classes == 2
    assert not set(train.files) & set(test.files)
    assert len(pickle.dumps(train)) < 5000  # what each worker gets: paths and labels, no pixels
    held_in_memory = build_dataset(_folder_data(tmp_path / "photos", stream=False), True)
    assert held_in_memory.images.shape == (12, 3, 32, 32)


@pytest.mark.parametrize("workers", [0, 2])
def test_workers_make_every_view_and_the_device_augments_them(tmp_path, workers):
    photo_folder(tmp_path / "photos", per_class=8)
    train = build_dataset(_folder_data(tmp_path / "photos"), True)
    augment = MultiCropAugment(DINO_VIEWS, 32, (0.5,) * 3, (0.25,) * 3)
    batches = list(make_loader(for_training(train, augment.worker_views(3)), 4, shuffle=True, num_workers=workers, drop_last=True))
    assert len(batches) == 3 and all(isinstance(b, StreamBatch) for b in batches)
    views = batches[0].views
    assert [tuple(v.shape) for v in views] == [(4, 3, 32, 32)] * 2 + [(4, 3, 16, 16)] * 3 and views[0].dtype == torch.uint8
    assert sorted(torch.cat([b.labels for b in batches]).tolist()) == sorted(train.labels.tolist())
    out = augment(views)
    assert [tuple(v.shape) for v in out] == [tuple(v.shape) for v in views] and out[0].dtype == torch.float32
    assert not torch.equal(views[0], views[1])  # two crops of each photo, not one copied


def test_a_corrupt_image_is_one_line_naming_it_or_is_counted(tmp_path):
    photos = photo_folder(tmp_path / "photos", per_class=4)
    good = (photos / "class0" / "000.jpg").read_bytes()
    (photos / "class1" / "cut.jpg").write_bytes(good[: len(good) // 3])
    (photos / "class1" / "noise.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    data = DataConfig(name="folder", path=str(photos), image_size=32, test_fraction=0.0)
    for workers in (0, 1):  # the error reaches the main process from a worker as one line, no worker traceback
        with pytest.raises(DataError) as e:
            list(iterate_images(build_dataset(data, True), 4, workers))
        assert ("cut.jpg" in str(e.value) or "noise.jpg" in str(e.value)) and "\n" not in str(e.value) and "skip_bad" in str(e.value)
    skipping = build_dataset(DataConfig(name="folder", path=str(photos), image_size=32, test_fraction=0.0, skip_bad=True), True)
    images = torch.cat([x for x, _ in iterate_images(skipping, 4, 1)])
    assert len(images) == 8 and sorted(s.split("/")[-1].split(":")[0] for s in skipping.skipped) == ["cut.jpg", "noise.jpg"]


def test_epoch_sampler_splits_an_epoch_over_processes_and_resumes_mid_epoch():
    ranks = [EpochSampler(10, shuffle=True, seed=3, rank=r, world=2) for r in range(2)]
    for s in ranks:
        s.set_epoch(1)
    parts = [list(s) for s in ranks]
    assert sorted(parts[0] + parts[1]) == list(range(10)) and len(parts[0]) == len(parts[1]) == 5
    ranks[0].set_epoch(2)
    epoch2 = list(ranks[0])
    assert epoch2 != parts[0]
    ranks[0].set_epoch(2, start=3)
    assert list(ranks[0]) == epoch2[3:] and len(ranks[0]) == 2


def _losses(run) -> dict[int, float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in records if r["kind"] == "train"}


@pytest.mark.slow
def test_train_on_a_folder_resumes_mid_epoch_with_the_same_losses(tmp_path, capsys):
    photo_folder(tmp_path / "photos", per_class=12)
    common = [
        "data.name=folder", f"data.path={tmp_path / 'photos'}", "data.image_size=32", "data.batch_size=6", "data.test_fraction=0.25",
        "augment.n_local=2", "augment.local_size=16", "model.backbone=vit_micro", "model.proj_hidden=32", "model.proj_dim=16",
        "train.epochs=2", "train.log_every=1", "train.progress=false", "eval.linear_epochs=2", f"train.out_dir={tmp_path}",
    ]  # 18 training photos: 3 steps an epoch
    assert main(["train", *common, "train.run_name=whole"]) == 0
    assert "kNN accuracy" in capsys.readouterr().out
    assert main(["train", *common, "train.run_name=cut", "train.max_steps=4"]) == 0  # stops inside epoch 2
    assert main(["train", "--resume", str(tmp_path / "cut"), "train.max_steps=null"]) == 0
    whole, cut = _losses(tmp_path / "whole"), _losses(tmp_path / "cut")
    assert sorted(whole) == [1, 2, 3, 4, 5, 6] and sorted(cut) == [1, 2, 3, 4, 5, 6]
    assert all(abs(whole[s] - cut[s]) < 1e-5 for s in whole)  # the same images and crops after the resume
    summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert summary["knn_acc"] >= 0 and summary["steps"] == 6


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["dino_folder_gpu", "simclr_resnet50_folder_gpu", "clip_wds_gpu"])
def test_real_data_presets_run_as_written(tmp_path, preset):
    """Each GPU preset for real data trains a step and evaluates on a few photos; only where the
    data is and how much of it a step takes are changed."""
    from .test_shards import _numbered_shards

    if preset.startswith("clip"):
        data = [f"data.path={_numbered_shards(tmp_path / 'shards', shards=2, per_shard=6)}", "data.test_fraction=0.5"]
    else:
        data = [f"data.path={photo_folder(tmp_path / 'photos', per_class=4)}", "data.test_fraction=0.25"]
    small = ["data.batch_size=2", "data.num_workers=1", "train.epochs=1", "train.max_steps=1", "eval.linear_epochs=1", "eval.max_train_images=4", "train.progress=false"]
    assert main(["train", "--config", f"configs/{preset}.yaml", *data, *small, f"train.out_dir={tmp_path}", "train.run_name=run"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps"] == 1 and summary["embedding_std"] > 0


@pytest.mark.slow
def test_eval_and_embed_read_folders_csvs_and_shards(tmp_path, capsys):
    from .test_shards import _numbered_shards

    photos = photo_folder(tmp_path / "photos", per_class=6)
    run = ["data.name=folder", f"data.path={photos}", "data.image_size=16", "data.batch_size=6", "model.backbone=vit_micro", "model.proj_hidden=32", "model.proj_dim=16"]
    assert main(["train", *run, "train.epochs=1", "train.progress=false", "eval.linear_epochs=1", f"train.out_dir={tmp_path}", "train.run_name=run"]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "eval.max_train_images=5", "eval.linear_epochs=1"]) == 0
    out = capsys.readouterr().out
    assert "knn_acc:" in out and " %" in out and "eval.json" in out
    assert main(["eval", str(tmp_path / "run"), "optim.lr=1"]) == 2  # only data.* and eval.* keys
    (tmp_path / "pairs.tsv").write_text("filepath\ttitle\n" + "".join(f"photos/class0/{i:03d}.jpg\tphoto {i}\n" for i in range(3)))
    for name, data, n in (("folder", str(photos), 12), ("csv", str(tmp_path / "pairs.tsv"), 3), ("shards", _numbered_shards(tmp_path / "s", 2, 4), 8)):
        assert main(["embed", str(tmp_path / "run"), "--data", data, "--out", str(tmp_path / f"{name}.npy")]) == 0
        emb = np.load(tmp_path / f"{name}.npy")
        assert emb.shape == (n, 128) and np.isfinite(emb).all() and np.load(tmp_path / f"{name}_labels.npy").shape == (n,)


def test_floors_read_streamed_folders_in_chunks(tmp_path, capsys):
    photos = photo_folder(tmp_path / "photos", per_class=8)
    assert main(["floors", "data.name=folder", f"data.path={photos}", "data.image_size=16", "eval.linear_epochs=5", "eval.max_train_images=8"]) == 0
    knn = {line.split()[0]: float(line.split()[2]) for line in capsys.readouterr().out.splitlines()}
    assert set(knn) == {"raw_pixels", "random_init"}
    assert knn["raw_pixels"] >= 75  # two photos' crops: their colours alone tell them apart (chance: 50 %)


@pytest.mark.slow
def test_embed_reads_an_rgb_folder_as_a_grey_run_takes_it(tiny_overrides, tmp_path):
    assert main(["train", *tiny_overrides, "train.max_steps=2"]) == 0  # digits: 1 channel, 16 px
    photos = photo_folder(tmp_path / "photos", per_class=3)
    assert main(["embed", str(tmp_path / "run"), "--data", str(photos), "--out", str(tmp_path / "e.npy")]) == 0
    assert np.load(tmp_path / "e.npy").shape == (6, 128)


def test_a_batch_with_unreadable_images_keeps_its_size():
    from selfsup.data.stream import Bad, collate_stream

    def item(v: int) -> tuple:
        return [torch.full((3, 4, 4), v, dtype=torch.uint8)], v, None

    items = [item(1), Bad("a.jpg", "a.jpg: broken"), item(2), Bad("b.jpg", "b.jpg: broken")]
    batch = collate_stream(items, fill=True)  # training: the readable ones fill the gaps
    assert batch.views[0].shape == (4, 3, 4, 4) and batch.labels.tolist() == [1, 2, 1, 2]
    assert [str(b) for b in batch.skipped] == ["a.jpg: broken", "b.jpg: broken"]
    assert collate_stream(items).labels.tolist() == [1, 2]  # evaluation: each image once
