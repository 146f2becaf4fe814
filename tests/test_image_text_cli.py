"""Image-text runs end to end: train from the CLI, then zeroshot, retrieve and caption."""

import json

import torch
from PIL import Image

from selfsup.cli import main
from selfsup.train.runs import load_run

TEXT = ["method.context_length=16", "method.vocab_size=200", "method.text_width=32", "method.text_layers=1", "method.embed_dim=32", "augment.n_global=1"]


def test_clip_trains_on_digit_captions_and_zeroshot_retrieve_read_the_run(tiny_overrides, tmp_path, capsys):
    assert main(["train", *tiny_overrides, "method=clip", *TEXT, "train.max_steps=4"]) == 0
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert {"zeroshot_top1", "image_to_text_R@1", "text_to_image_median_rank"} <= summary.keys()
    assert (run / "tokenizer.json").is_file() and (run / "logit_scale.png").is_file()
    loaded = load_run(run)
    assert loaded.tokenizer.vocab_size == loaded.meta.text["vocab_size"]

    # Resume keeps the saved tokenizer (the token ids the checkpoint was trained on).
    before = (run / "tokenizer.json").read_text()
    assert main(["train", "--resume", str(run), "train.max_steps=5"]) == 0
    assert (run / "tokenizer.json").read_text() == before

    capsys.readouterr()
    assert main(["zeroshot", str(run)]) == 0
    out = capsys.readouterr().out
    assert "10 classes, 4 prompts each" in out and "top-1" in out  # the 4 digit templates after the first 3
    assert main(["zeroshot", str(run), "--templates", "a {} written by hand", "the number {}"]) == 0
    assert json.loads((run / "zeroshot.json").read_text())["example_prompts"] == ["a 0 written by hand", "the number 0"]
    assert main(["zeroshot", str(run), "--templates", "a digit"]) == 2
    assert "needs '{}' where the class name goes" in capsys.readouterr().err

    assert main(["retrieve", str(run)]) == 0
    result = json.loads((run / "retrieval.json").read_text())
    assert 0 <= result["image_to_text_R@1"] <= result["image_to_text_R@10"] <= 100
    assert (run / "similarity.png").stat().st_size > 5000 and (run / "recall.png").is_file()

    assert main(["caption", str(run), "--images", "digits"]) == 2
    assert "needs a method that writes captions" in capsys.readouterr().err


def test_coca_trains_on_shapes_and_captions_its_images(tmp_path, capsys):
    args = ["data.name=shapes", "data.image_size=16", "data.num_images=200", "data.batch_size=32", "model.backbone=vit_micro", "train.epochs=1", "train.progress=false", "eval.linear_epochs=2"]
    assert main(["train", *args, "method=coca", *TEXT, "method.caption_queries=4", f"train.out_dir={tmp_path}", "train.run_name=coca"]) == 0
    summary = json.loads((tmp_path / "coca" / "summary.json").read_text())
    assert {"zeroshot_top1", "image_to_text_R@1", "caption_shape_acc", "caption_all_acc"} <= summary.keys()
    capsys.readouterr()
    assert main(["caption", str(tmp_path / "coca"), "--images", "shapes", "--num", "6", "--beam", "2"]) == 0
    out = capsys.readouterr().out
    assert "caption accuracy on 6 images" in out
    captions = json.loads((tmp_path / "coca" / "captions.json").read_text())["captions"]
    assert len(captions) == 6 and (tmp_path / "coca" / "captions.png").is_file()


def test_clip_trains_on_a_csv_of_image_paths_and_captions(tmp_path, capsys):
    rows = ["filepath\ttitle"]
    for i in range(24):
        colour = ("red", "green", "blue")[i % 3]
        Image.new("RGB", (16, 16), {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220)}[colour]).save(tmp_path / f"{i}.png")
        rows.append(f"{i}.png\ta plain {colour} square")
    (tmp_path / "pairs.tsv").write_text("\n".join(rows) + "\n")
    args = [f"data.path={tmp_path / 'pairs.tsv'}", "data.name=csv", "data.image_size=16", "data.batch_size=8", "data.test_fraction=0.25", "model.backbone=vit_micro"]
    assert main(["train", *args, "method=clip", *TEXT, "train.epochs=1", "train.progress=false", f"train.out_dir={tmp_path}", "train.run_name=csv"]) == 0
    summary = json.loads((tmp_path / "csv" / "summary.json").read_text())
    assert "image_to_text_R@1" in summary and "zeroshot_top1" not in summary  # CSV images have no labels
    out = capsys.readouterr().out  # an unlabelled run still says where it is and how it went
    assert f"run: {tmp_path / 'csv'}" in out and "no labels" in out and "RankMe" in out and "loss.png" in out
    assert torch.load(tmp_path / "csv" / "checkpoint.pt", weights_only=True)["meta"]["text"]["context_length"] == 16
