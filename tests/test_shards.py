"""WebDataset shards: written by `selfsup shards` with bad files named, read as a stream by each worker
and each process once per epoch, damaged shards named, training on them end to end."""

import io
import json

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from PIL import Image
from webdataset import TarWriter

from selfsup.cli import main
from selfsup.config import DataConfig
from selfsup.data import DataError, ShardImages, build_dataset, iterate_images, make_loader
from selfsup.data.shards import expand_shards

from .photos import photo_folder
from .test_distributed import _free_port, _gloo


def _numbered_shards(root, shards: int = 4, per_shard: int = 8) -> str:
    """Shards whose samples carry their own number as ``cls`` (to tell every sample apart)."""
    root.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for s in range(shards):
        with TarWriter(str(root / f"part-{s:03d}.tar"), encoder=False) as w:
            for i in range(per_shard):
                n = s * per_shard + i
                out = io.BytesIO()
                Image.fromarray(np.full((20, 24, 3), n * 7 % 255, np.uint8)).save(out, "JPEG")
                w.write({"__key__": f"{n:05d}", "jpg": out.getvalue(), "cls": str(n).encode(), "txt": f"sample {n}".encode()})
        sizes[f"part-{s:03d}.tar"] = per_shard
    (root / "sizes.json").write_text(json.dumps(sizes))
    return str(root / f"part-{{000..{shards - 1:03d}}}.tar")


def _labels(dataset, workers: int = 0) -> list[int]:
    return sorted(torch.cat([y for _, y in iterate_images(dataset, 5, workers)]).tolist())


def test_selfsup_shards_writes_a_folder_as_shards_and_names_what_it_skips(tmp_path, capsys):
    photos = photo_folder(tmp_path / "photos", per_class=5)
    (photos / "class1" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    assert main(["shards", str(photos), "--out", str(tmp_path / "shards"), "--shard-size", "4", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "broken.jpg" in out and "wrote 10 samples in 3 shards; 1 unreadable files skipped" in out
    pattern = out.split("data.path='")[1].split("'")[0]
    assert pattern.endswith("shard-{00000..00002}.tar")
    assert json.loads((tmp_path / "shards" / "sizes.json").read_text()) == {"shard-00000.tar": 4, "shard-00001.tar": 4, "shard-00002.tar": 2}
    data = build_dataset(DataConfig(name="wds", path=pattern, image_size=16, test_fraction=0.0), train=True)
    assert isinstance(data, ShardImages) and len(data) == 10 and data.class_names == ["class0", "class1"]
    assert _labels(data, workers=2) == [0] * 5 + [1] * 5  # every sample once over both workers


def test_selfsup_shards_writes_a_caption_csv_with_its_captions(tmp_path, capsys):
    photo_folder(tmp_path / "photos", per_class=3, classes=1)
    rows = [f"photos/class0/{i:03d}.jpg\ta photo number {i}" for i in range(3)] + ["photos/class0/000.jpg\t "]
    (tmp_path / "pairs.tsv").write_text("filepath\ttitle\n" + "\n".join(rows) + "\n")
    assert main(["shards", str(tmp_path / "pairs.tsv"), "--out", str(tmp_path / "shards"), "--no-shuffle"]) == 0
    out = capsys.readouterr().out
    assert "line 5: empty caption" in out and "wrote 3 samples in 1 shards; 1 unreadable files skipped" in out
    data = build_dataset(DataConfig(name="wds", path=str(tmp_path / "shards" / "shard-00000.tar"), test_fraction=0.0), train=True)
    assert data.read_captions(10) == [f"a photo number {i}" for i in range(3)] and data.class_names is None


def test_a_shard_pattern_that_matches_nothing_names_the_pattern(tmp_path):
    with pytest.raises(DataError, match=r"no shard file matches '.*nothing-\{0\.\.3\}\.tar'"):
        build_dataset(DataConfig(name="wds", path=str(tmp_path / "nothing-{0..3}.tar")), train=True)
    pattern = _numbered_shards(tmp_path / "s", shards=2)
    with pytest.raises(DataError, match="set data.val_path"):
        build_dataset(DataConfig(name="wds", path=pattern.replace("{000..001}", "000"), test_fraction=0.5), train=False)
    train, test = (build_dataset(DataConfig(name="wds", path=pattern, image_size=16, test_fraction=0.5), train=t) for t in (True, False))
    assert _labels(train) == list(range(8)) and _labels(test) == list(range(8, 16))  # whole shards held out
    with pytest.raises(DataError, match="1 shards cannot feed 2 processes"):
        train.split(0, 2)


def test_a_truncated_shard_is_named_or_counted(tmp_path):
    pattern = _numbered_shards(tmp_path / "s", shards=2)
    shard = tmp_path / "s" / "part-001.tar"
    shard.write_bytes(shard.read_bytes()[:3000])  # cut inside its samples
    with pytest.raises(DataError, match=r"part-001\.tar is damaged after"):
        _labels(build_dataset(DataConfig(name="wds", path=pattern, image_size=16, test_fraction=0.0), train=True))
    skipping = build_dataset(DataConfig(name="wds", path=pattern, image_size=16, test_fraction=0.0, skip_bad=True), train=True)
    labels = _labels(skipping)
    assert labels[:8] == list(range(8)) and len(labels) < 16 and len(skipping.skipped) == 1


def test_training_order_is_shuffled_per_epoch_and_never_runs_dry(tmp_path):
    data = build_dataset(DataConfig(name="wds", path=_numbered_shards(tmp_path / "s"), image_size=16, test_fraction=0.0, shuffle_buffer=4), train=True)
    loader = make_loader(data, 4, shuffle=True, num_workers=2, drop_last=True)
    orders = []
    for epoch in range(2):
        data.set_epoch(epoch, 0, 4)
        it = iter(loader)
        orders.append(torch.cat([next(it).labels for _ in range(len(data) // 4)]).tolist())
        assert sorted(orders[-1]) == list(range(32))  # one epoch: each sample once
        assert len(next(it).labels) == 4  # and the stream goes on past it
    assert orders[0] != orders[1]
    data.set_epoch(1, 3, 4)  # resume 3 batches into epoch 2: the same batches follow
    it = iter(loader)
    assert torch.cat([next(it).labels for _ in range(5)]).tolist() == orders[1][12:]


def _epoch_worker(rank: int, port: int, pattern: str, out: str) -> None:
    with _gloo(rank, port):
        data = ShardImages(expand_shards(pattern), 16, shuffle_buffer=4)
        loader = make_loader(data, 4, shuffle=True, num_workers=1, drop_last=True, distributed=True)
        data.set_epoch(0, 0, 4)
        it = iter(loader)
        mine = torch.cat([next(it).labels for _ in range(len(data) // 8)])  # the global batch is 2 x 4
        parts = [torch.empty_like(mine) for _ in range(2)]
        dist.all_gather(parts, mine)
        if rank == 0:
            torch.save(torch.stack(parts), out)


def test_two_processes_read_every_sample_once_per_epoch(tmp_path):
    pattern = _numbered_shards(tmp_path / "s")
    out = tmp_path / "seen.pt"
    mp.spawn(_epoch_worker, args=(_free_port(), pattern, str(out)), nprocs=2, join=True)
    seen = torch.load(out, weights_only=True)
    assert seen.shape == (2, 16) and sorted(seen.flatten().tolist()) == list(range(32))
    assert not set(seen[0].tolist()) & set(seen[1].tolist())


def _train_losses(run) -> dict[int, float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in records if r["kind"] == "train"}


@pytest.mark.slow
def test_training_on_shards_resumes_mid_epoch_with_the_same_losses(tmp_path):
    pattern = _numbered_shards(tmp_path / "s", shards=5, per_shard=8)
    common = [
        "data.name=wds", f"data.path={pattern}", "data.image_size=16", "data.batch_size=8", "data.test_fraction=0.2", "data.shuffle_buffer=6",
        "model.backbone=vit_micro", "model.proj_hidden=32", "model.proj_dim=16", "train.epochs=2", "train.log_every=1", "train.progress=false",
        "eval.linear_epochs=1", "train.online_probe=false", f"train.out_dir={tmp_path}",
    ]  # 4 training shards of 8: 4 steps an epoch
    assert main(["train", *common, "train.run_name=whole"]) == 0
    assert main(["train", *common, "train.run_name=cut", "train.max_steps=6"]) == 0
    assert main(["train", "--resume", str(tmp_path / "cut"), "train.max_steps=null"]) == 0
    whole, cut = _train_losses(tmp_path / "whole"), _train_losses(tmp_path / "cut")
    assert sorted(whole) == list(range(1, 9)) == sorted(cut)
    assert all(abs(whole[s] - cut[s]) < 1e-5 for s in whole)  # the same samples, in the same order, after the resume


@pytest.mark.slow
def test_clip_trains_on_shards_with_their_captions(tmp_path, capsys):
    pattern = _numbered_shards(tmp_path / "s", shards=3, per_shard=8)
    overrides = [
        "method=clip", "data.name=wds", f"data.path={pattern}", "data.image_size=16", "data.batch_size=8", "data.val_path=" + pattern.replace("{000..002}", "002"),
        "model.backbone=vit_micro", "method.text_width=32", "method.text_layers=1", "method.embed_dim=16", "method.vocab_size=60",
        "train.epochs=1", "train.progress=false", "eval.linear_epochs=1", "train.online_probe=false", f"train.out_dir={tmp_path}", "train.run_name=clip",
    ]
    assert main(["train", *overrides]) == 0
    losses = _train_losses(tmp_path / "clip")
    assert max(losses) == 3 and all(np.isfinite(v) for v in losses.values())  # 24 training samples, batch 8
    assert (tmp_path / "clip" / "tokenizer.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["wds", "folder"])
def test_torchrun_trains_two_processes_on_streamed_data(tmp_path, kind):
    import subprocess
    import sys

    if kind == "wds":
        data = ["data.name=wds", f"data.path={_numbered_shards(tmp_path / 's', shards=5, per_shard=8)}", "data.test_fraction=0.2"]
    else:
        data = ["data.name=folder", f"data.path={photo_folder(tmp_path / 'photos', per_class=20)}", "data.test_fraction=0.2"]
    run = [*data, "data.image_size=16", "data.batch_size=8", "data.num_workers=1", "model.backbone=vit_micro", "model.proj_hidden=32", "model.proj_dim=16",
           "train.epochs=2", "train.progress=false", "train.threads=1", "eval.linear_epochs=1", f"train.out_dir={tmp_path}", "train.run_name=run"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}", "-m", "selfsup.cli", "train", *run]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 8  # 32 training images, global batch 8, 2 epochs


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dino", "simclr"])
def test_two_processes_train_as_one_process_on_the_same_global_batches(tmp_path, method):
    """With crops that do not vary (the whole photo's centre), two torchrun processes logging the
    mean loss over both give one process's losses and weights: DINO's centre is all-reduced,
    SimCLR's negatives are gathered and its head's BatchNorm sees the global batch, the multi-crop
    loss averages over the global batch, DDP averages the gradients."""
    import subprocess
    import sys

    photos = photo_folder(tmp_path / "photos", per_class=10)  # 16 training photos: 2 steps of 8 an epoch
    fixed_views = ["augment.global_scale=[1,1]", "augment.local_scale=[1,1]", "augment.ratio=[1,1]", "augment.jitter_prob=0", "augment.grayscale_prob=0",
                   "augment.blur_prob=[0]", "augment.local_blur_prob=0", "augment.solarize_prob=[0]"]
    methods = {
        "dino": ["method=dino", "method.out_dim=64", "method.hidden_dim=64", "method.bottleneck_dim=32", "model.global_pool=token", "augment.n_local=2", "augment.local_size=8"],
        "simclr": ["method=simclr", "model.proj_hidden=32", "model.proj_dim=16"],
    }
    run = ["data.name=folder", f"data.path={photos}", "data.test_fraction=0.2", "data.image_size=16", "data.batch_size=8", "model.backbone=vit_micro", *methods[method], *fixed_views,
           "optim.name=sgd", "optim.lr=0.05",  # AdamW would blow the float noise in zero-gradient parameters (a bias before a BatchNorm) up to lr
           "train.epochs=2", "train.log_every=1", "train.progress=false", "train.threads=1", "eval.linear_epochs=1", f"train.out_dir={tmp_path}"]
    one = subprocess.run([sys.executable, "-m", "selfsup.cli", "train", *run, "train.run_name=one"], capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}", "-m", "selfsup.cli", "train", *run, "train.run_name=two"],
                         capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    losses = {name: _train_losses(tmp_path / name) for name in ("one", "two")}
    assert sorted(losses["one"]) == [1, 2, 3, 4] == sorted(losses["two"])
    assert all(abs(losses["one"][s] - losses["two"][s]) < 1e-4 for s in losses["one"]), losses
    weights = [torch.load(tmp_path / name / "checkpoint.pt", weights_only=True)["method"] for name in ("one", "two")]
    assert max((weights[0][k].float() - weights[1][k].float()).abs().max().item() for k in weights[0]) < 1e-4


def test_shards_without_sizes_json_are_counted_from_their_headers(tmp_path):
    pattern = _numbered_shards(tmp_path / "s", shards=3, per_shard=5)
    (tmp_path / "s" / "sizes.json").unlink()
    data = build_dataset(DataConfig(name="wds", path=pattern, image_size=16, test_fraction=0.0), train=True)
    assert data.sizes == [5, 5, 5] and len(data) == 15


def test_a_sample_with_an_empty_or_missing_caption_is_named_or_counted(tmp_path):
    root = tmp_path / "s"
    root.mkdir()
    with TarWriter(str(root / "part-000.tar"), encoder=False) as w:
        for n, caption in enumerate([b"a grey square", b"  ", None, b"another grey square"]):
            out = io.BytesIO()
            Image.fromarray(np.full((20, 24, 3), 60 * n, np.uint8)).save(out, "JPEG")
            w.write({"__key__": f"{n:05d}", "jpg": out.getvalue(), **({"txt": caption} if caption is not None else {})})
    pattern = str(root / "part-000.tar")

    def captioned(skip_bad: bool) -> ShardImages:
        data = build_dataset(DataConfig(name="wds", path=pattern, image_size=16, test_fraction=0.0, skip_bad=skip_bad), train=True)
        data.encode_caption = lambda caption: torch.tensor([len(caption)])
        return data

    with pytest.raises(DataError, match=r"part-000\.tar:00001: empty caption \(set data.skip_bad=true"):
        _labels(captioned(skip_bad=False))
    skipping = captioned(skip_bad=True)
    texts = []
    for batch in make_loader(skipping, 4, shuffle=False, num_workers=0):
        skipping.accept(batch.skipped)
        texts.append(batch.text)
    assert torch.cat(texts).flatten().tolist() == [len("a grey square"), len("another grey square")]
    assert skipping.skipped == [f"{pattern}:00001: empty caption", f"{pattern}:00002: empty caption"]  # blank and absent alike, each named
