"""The ``selfsup`` command: fills dataclasses from arguments and calls the library."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from .config import ConfigError, DataConfig, apply_overrides, load_config


def status(line: str) -> None:
    """What a long phase is doing, on stderr (stdout keeps the results)."""
    print(line, file=sys.stderr, flush=True)


def _cmd_train(args: argparse.Namespace) -> None:
    from .train.trainer import train

    if args.resume:
        run = Path(args.resume)
        saved = run / "config.yaml"
        if not saved.is_file():
            raise FileNotFoundError(f"cannot resume: no config.yaml in {run}")
        cfg = load_config(saved, [*args.overrides, f"train.out_dir={run.parent}", f"train.run_name={run.name}"])
    else:
        cfg = load_config(args.config, args.overrides)
    summary = train(cfg, resume=bool(args.resume))
    if "embedding_std" not in summary:  # not the first process of several
        return
    print(f"run: {summary['run_dir']}")
    if "knn_acc" in summary:
        print(f"kNN accuracy (k={cfg.eval.knn_k}): {summary['knn_acc']:.2f} %")
        print(f"linear probe accuracy (offline, frozen features): {summary['linear_acc']:.2f} %")
        if "online_probe_acc" in summary:
            print(f"online linear probe accuracy (trained during pretraining): {summary['online_probe_acc']:.2f} %")
    else:
        print("no labels: kNN and linear probe not measured")
    print(f"collapse monitors: embedding std {summary['embedding_std']:.4f}, RankMe {summary['rankme']:.1f}")
    if "zeroshot_top1" in summary:
        print(f"zero-shot accuracy (held-out templates): top-1 {summary['zeroshot_top1']:.2f} %, top-5 {summary['zeroshot_top5']:.2f} %")
    if "image_to_text_R@1" in summary:
        print(f"retrieval R@1 on held-out pairs: image -> text {summary['image_to_text_R@1']:.1f} %, text -> image {summary['text_to_image_R@1']:.1f} %")
    if "caption_all_acc" in summary:
        print(f"caption accuracy: shape {summary['caption_shape_acc']:.1f} %, colour {summary['caption_colour_acc']:.1f} %, all {summary['caption_all_acc']:.1f} %")
    if summary.get("skipped_files"):
        print(f"skipped {summary['skipped_files']} unreadable files (listed in metrics.jsonl)")
    print("plots: " + ", ".join(summary["plots"]))


def _cmd_eval(args: argparse.Namespace) -> None:
    from .data import build_dataset
    from .train.runs import load_run
    from .train.trainer import evaluate

    run = load_run(args.run)
    cfg, meta, encoder = run.cfg, run.meta, run.encoder()
    if args.overrides:  # another copy of the data, a bounded kNN bank: only data.* and eval.* keys
        outside = [o for o in args.overrides if not o.startswith(("data.", "eval."))]
        if outside:
            raise ConfigError(f"eval takes data.* and eval.* overrides only, not {outside[0]}")
        cfg = apply_overrides(cfg, args.overrides)
    data = replace(cfg.data, stream=False) if (args.dense or args.robustness) and cfg.data.name in ("folder", "csv") else cfg.data  # these read images in memory
    train_set, test_set = (_run_input(build_dataset(data, train=t), meta) for t in (True, False))
    status(f"evaluating {run.run_dir}: features of {len(train_set)} training and {len(test_set)} test images, kNN, a {cfg.eval.linear_epochs}-epoch linear probe ...")
    result = evaluate(cfg, run.method, run.probe, train_set, test_set, meta, "cpu", linear=True, tokenizer=run.tokenizer)
    for key, value in result.items():
        print(f"{key}: {value:.2f} %" if key.endswith("_acc") else f"{key}: {value:.4f}")
    if args.dense:
        from .eval.dense import dense_probe

        result["dense"] = dense_probe(encoder, train_set, test_set, meta.mean, meta.std)
        ious = ", ".join(f"{v:.1f}" for v in result["dense"]["iou"])
        print(f"dense probe: mIoU {result['dense']['miou']:.2f} % (per class, background first: {ious}); pixel accuracy {result['dense']['pixel_acc']:.2f} %")
    if args.robustness:
        from .eval.robustness import occlusion_grid, plot_robustness, robustness

        grid = occlusion_grid(encoder, meta.image_size, args.grid)
        result["robustness"] = curves = robustness(encoder, train_set, test_set, meta.mean, meta.std, grid, cfg.eval.knn_k, cfg.eval.knn_temperature, cfg.eval.linear_epochs, cfg.train.seed)
        for kind, levels in curves.items():
            print(f"{kind}: " + "  ".join(f"{level}: kNN {a['knn']:.1f} / linear {a['linear']:.1f}" for level, a in levels.items()))
        print(f"plot: {plot_robustness(curves, run.run_dir / 'robustness.png', run.run_dir.name)}")
    (run.run_dir / "eval.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {run.run_dir / 'eval.json'}")


def _dataset_for(name_or_path: str, run_data: DataConfig, split: str, in_memory: bool = False):
    """A built-in dataset by name (with the run's data settings), or the user's data: an image
    folder, a caption CSV or WebDataset shards (a pattern naming ``.tar`` files), all of it."""
    from .data import DATASETS, build_dataset

    named = name_or_path in DATASETS
    kind = name_or_path if named else "wds" if ".tar" in name_or_path else "csv" if Path(name_or_path).is_file() else "folder"
    if in_memory and kind == "wds":
        raise ValueError("this command needs its images in memory: give it an image folder or a CSV, not shards")
    stream = False if in_memory and kind in ("folder", "csv") else (run_data.stream if named else None)
    if named:
        return build_dataset(replace(run_data, name=kind, stream=stream), train=split == "train")
    return build_dataset(replace(run_data, name=kind, path=name_or_path, test_fraction=0.0, val_path=None, stream=stream), train=True)


def _run_input(dataset, meta):  # noqa: ANN001, ANN202
    """A streamed dataset read at the run's input size and channels (an RGB folder for a grey MNIST run)."""
    from .data import StreamingDataset

    if isinstance(dataset, StreamingDataset):
        dataset.evaluate_at(meta.image_size, meta.in_chans)
    return dataset


def _cmd_embed(args: argparse.Namespace) -> None:
    import numpy as np
    from tqdm import tqdm

    from .eval.features import iter_features
    from .train.runs import load_run

    run = load_run(args.run)
    dataset = _run_input(_dataset_for(args.data, run.cfg.data, args.split), run.meta)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    chunks = iter_features(run.encoder(), dataset, run.meta.mean, run.meta.std, run.cfg.eval.batch_size, num_workers=run.cfg.data.num_workers)
    feats, labels, n = None, [], 0
    for f, y in tqdm(chunks, total=-(-len(dataset) // run.cfg.eval.batch_size), desc="embed", unit="batch", leave=False):
        if feats is None:  # written chunk by chunk into the file, never all held
            feats = np.lib.format.open_memmap(out, mode="w+", dtype=np.float32, shape=(len(dataset), f.shape[1]))
        feats[n : n + len(f)] = f.numpy()
        labels.append(y.numpy())
        n += len(f)
    if feats is None:
        raise ValueError(f"{args.data}: no image could be read")
    feats.flush()
    if n < len(feats):  # unreadable images were skipped (data.skip_bad)
        np.save(out, np.array(feats[:n]))
    labels_path = out.with_name(out.stem + "_labels.npy")
    np.save(labels_path, np.concatenate(labels))
    skipped = f" ({len(dataset.skipped)} unreadable images skipped)" if dataset.skipped else ""
    print(f"wrote {(n, feats.shape[1])} embeddings to {out} and labels to {labels_path}{skipped}")


def _cmd_shards(args: argparse.Namespace) -> None:
    from .data.write_shards import write_shards

    report = write_shards(args.source, args.out, args.shard_size, not args.no_shuffle, args.seed, args.workers, img_key=args.csv_img_key, caption_key=args.csv_caption_key, separator=args.csv_separator)
    for line in report.skipped[:20]:
        print(f"skipped {line}")
    if len(report.skipped) > 20:
        print(f"... and {len(report.skipped) - 20} more")
    print(f"wrote {report.samples} samples in {report.shards} shards; {len(report.skipped)} unreadable files skipped")
    print(f"train on them with: data.name=wds data.path='{report.pattern}'")


def _cmd_export(args: argparse.Namespace) -> None:
    from .export import export_backbone
    from .train.runs import load_run

    run = load_run(args.run)
    path, rebuild = export_backbone(run, args.out)
    print(f"wrote {path}: load with {rebuild} then load_state_dict")


def _cmd_attention(args: argparse.Namespace) -> None:
    from .eval.attention import write_attention_report
    from .train.runs import load_run

    run = load_run(args.run)
    dataset = _dataset_for(args.data or run.cfg.data.name, run.cfg.data, args.split, in_memory=True)
    report = write_attention_report(run.encoder(), dataset, run.meta.mean, run.meta.std, Path(args.out), args.num)
    (Path(args.out) / "attention.json").write_text(json.dumps(report, indent=2))
    print("wrote " + ", ".join(report["grids"]))
    if "attention_in_object" in report:
        print(f"[CLS] attention on the object: {100 * report['attention_in_object']:.1f} % (uniform attention: {100 * report['object_area']:.1f} %, the object's area)")


def _image_text_run(path: str, need: str):
    """A trained image-text run whose method can do ``need`` ("contrastive" or "captioner")."""
    from .methods import ImageTextMethod
    from .train.runs import load_run

    run = load_run(path)
    if not isinstance(run.method, ImageTextMethod) or not getattr(run.method, need):
        what = {"contrastive": "embeds images and text (clip, coca)", "captioner": "writes captions (coca, prefix_lm)"}[need]
        raise ValueError(f"{path} is a '{run.cfg.method.name}' run; this command needs a method that {what}")
    return run


def _cmd_zeroshot(args: argparse.Namespace) -> None:
    from .eval import extract_features
    from .eval.image_text import zero_shot_classifier, zero_shot_prompts
    from .eval.zeroshot import zero_shot_accuracy

    run = _image_text_run(args.run, "contrastive")
    dataset = _run_input(_dataset_for(args.data or run.cfg.data.name, run.cfg.data, args.split), run.meta)
    if (dataset.labels < 0).any():
        raise ValueError("zero-shot accuracy needs labelled images (a built-in dataset or a folder of class subfolders)")
    names, prompts = zero_shot_prompts(dataset, run.cfg.data.train_templates, args.classes, args.templates)
    classes = zero_shot_classifier(run.method, run.tokenizer, prompts)
    images = extract_features(run.method.image_embedder(), dataset, run.meta.mean, run.meta.std, run.cfg.eval.batch_size)[0]
    result = {"classes": names, "prompts_per_class": len(prompts[0]), "example_prompts": prompts[0][:3], **zero_shot_accuracy(images, classes, dataset.labels)}
    print(f"{len(names)} classes, {len(prompts[0])} prompts each (e.g. {prompts[0][0]!r})")
    print(f"zero-shot accuracy on {len(dataset)} images: top-1 {result['top1']:.2f} %, top-5 {result['top5']:.2f} %")
    (run.run_dir / "zeroshot.json").write_text(json.dumps(result, indent=2))


def _cmd_retrieve(args: argparse.Namespace) -> None:
    from .eval import extract_features
    from .eval.image_text import embed_texts, retrieval_captions
    from .eval.image_text_plots import plot_recall, plot_similarity
    from .eval.zeroshot import caption_groups, retrieval_metrics

    run = _image_text_run(args.run, "contrastive")
    dataset = _run_input(_dataset_for(args.data or run.cfg.data.name, run.cfg.data, args.split), run.meta)
    captions = retrieval_captions(dataset, run.cfg.data.train_templates)
    images = extract_features(run.method.image_embedder(), dataset, run.meta.mean, run.meta.std, run.cfg.eval.batch_size)[0]
    texts = embed_texts(run.method, run.tokenizer, captions)
    groups = caption_groups(captions)  # images sharing a caption all match it
    result = retrieval_metrics(images, texts, groups)
    for direction in ("image_to_text", "text_to_image"):
        recalls = "  ".join(f"R@{k} {result[f'{direction}_R@{k}']:.1f} %" for k in (1, 5, 10))
        print(f"{direction.replace('_', ' ')}: {recalls}  mean rank {result[f'{direction}_mean_rank']:.1f}, median {result[f'{direction}_median_rank']:.0f}  ({len(captions)} pairs, {int(groups.max()) + 1} distinct captions)")
    plots = [plot_similarity(images, texts, captions, run.run_dir / "similarity.png"), plot_recall(images, texts, run.run_dir / "recall.png", groups)]
    (run.run_dir / "retrieval.json").write_text(json.dumps(result, indent=2))
    print("plots: " + ", ".join(str(p) for p in plots))


def _cmd_caption(args: argparse.Namespace) -> None:
    import torch

    from .eval.captioning import caption_accuracy, generate_captions
    from .eval.image_text_plots import plot_captions

    run = _image_text_run(args.run, "captioner")
    dataset = _dataset_for(args.images, run.cfg.data, args.split, in_memory=True)
    dataset = dataset.subset(torch.arange(min(args.num, len(dataset)))) if args.num else dataset
    captions = generate_captions(run.method, run.tokenizer, dataset, run.meta.mean, run.meta.std, beam_size=args.beam)
    for i, caption in enumerate(captions[:16]):
        print(f"{i:3d}: {caption}")
    result: dict = {"beam_size": args.beam, "captions": captions}
    if dataset.attributes is not None:
        result.update(caption_accuracy(captions, dataset.attributes))
        print(f"caption accuracy on {len(captions)} images: " + ", ".join(f"{k} {result[f'caption_{k}_acc']:.1f} %" for k in ("shape", "colour", "size", "all")) + f" (a size is stated in {result['caption_size_stated']:.1f} %)")
    (run.run_dir / "captions.json").write_text(json.dumps(result, indent=2))
    print(f"plot: {plot_captions(dataset.images[:16], captions[:16], run.run_dir / 'captions.png')}")


def _attack_images(run, fit_images: int, held_out: int):
    """Fitting images from the run's training split, held-out images and labels from its test split."""
    from .attacks.classifier import pixels
    from .data import build_dataset

    if run.cfg.data.name == "wds":
        raise ValueError("attacks read their images in memory: run them on a folder or a built-in dataset, not shards")
    data = replace(run.cfg.data, stream=False)
    train_set, test_set = build_dataset(data, train=True), build_dataset(data, train=False)
    return pixels(train_set.images[:fit_images]), pixels(test_set.images[:held_out]), test_set.labels[:held_out], test_set.class_names


def _uap_kwargs(args: argparse.Namespace) -> dict:
    return {"max_passes": args.passes, "target": args.target, "progress": True}


def _cmd_attack_uap(args: argparse.Namespace) -> None:
    from .attacks.classifier import INPUT_SCALE, run_classifier
    from .attacks.report import fit_uap, fooling_vs_fit_size, load_uap, measure, plot_uap, save_uap, uap_metadata
    from .train.runs import load_run

    if args.eps is None and not args.load:
        raise ValueError("give the budget with --eps (on the [0, 1] pixel scale) or a saved perturbation with --load")
    run = load_run(args.run)
    model = run_classifier(run)
    fit, held_out, labels, names = _attack_images(run, args.fit_images, args.held_out)
    if args.load:
        v, meta = load_uap(args.load)
        if tuple(v.shape) != tuple(fit.shape[1:]):
            raise ValueError(f"{args.load} holds a {tuple(v.shape)} perturbation; {args.run} takes {tuple(fit.shape[1:])} images")
        eps, norm, history, passes = meta["eps"], meta["norm"], [], 0
        print(f"loaded v from {args.load} (fitted on {meta['run']}, {meta['algo']}, eps {eps}, l{norm})")
    else:
        eps, norm = args.eps, args.norm
        result = fit_uap(model, fit, args.algo, eps, norm, **_uap_kwargs(args))
        v, history, passes = result.v, result.fooling_history, result.passes
    report = {"eps": eps, "eps_0_255": eps * 255, "norm": norm, "algo": args.algo, "passes": passes, "fooling_history": history, **measure(model, v, eps, norm, fit, held_out, labels, args.target)}
    if args.curve and not args.load:
        sizes = sorted({max(1, args.fit_images // d) for d in (16, 8, 4, 2, 1)})
        report["fooling_vs_fit_images"] = fooling_vs_fit_size(model, fit, held_out, args.algo, eps, norm, sizes, max_passes=args.passes, target=args.target)
    out = Path(args.out or run.run_dir / f"uap_{args.algo}_l{norm}_{eps:g}")
    out.mkdir(parents=True, exist_ok=True)
    if not args.load:
        save_uap(out / "uap.safetensors", v, uap_metadata(run.run_dir, args.algo, eps, norm, args.target, passes))
    (out / "uap.json").write_text(json.dumps(report, indent=2))
    plot = plot_uap(v, held_out, model, history, report["pushed_to"], out / "uap.png", names)
    what = f"predicted as class {args.target}" if args.target is not None else "prediction changed"
    print(f"eps {eps:g} on {INPUT_SCALE} (= {eps * 255:.1f} of 255), l{norm}; ||v|| = {report['norm_of_v']:.4f}; {passes} passes")
    print(f"fooling rate ({what}): fitting images {report['fooling_rate_fit']:.1f} %, held-out {report['fooling_rate_held_out']:.1f} %; random noise of the same norm {report['noise_fooling_rate_held_out']:.1f} %")
    print(f"accuracy: clean {report['clean_accuracy']:.1f} %, perturbed {report['perturbed_accuracy']:.1f} %")
    print("changed predictions went to: " + ", ".join(f"{names[c] if names else c}: {n}" for c, n in enumerate(report["pushed_to"]) if n))
    if "fooling_vs_fit_images" in report:
        print("held-out fooling rate vs fitting images: " + ", ".join(f"{n}: {r:.1f} %" for n, r in report["fooling_vs_fit_images"].items()))
    print(f"wrote {out}/uap.safetensors, uap.json, {plot.name}" if not args.load else f"wrote {out}/uap.json, {plot.name}")


def _cmd_attack_transfer(args: argparse.Namespace) -> None:
    import torch

    from .attacks.classifier import pixels, run_classifier
    from .attacks.report import fit_uap
    from .attacks.transfer import matrix_lines, transfer_matrix
    from .data import build_dataset
    from .train.runs import load_run

    runs = [load_run(r) for r in args.runs]
    models = [run_classifier(r) for r in runs]
    data = [_attack_images(r, 0, args.held_out) for r in runs]
    pools = [build_dataset(replace(r.cfg.data, stream=False), train=True).images for r in runs]

    def fit_images(i: int, seed: int):
        """Seed ``seed``'s own draw of fitting images from run ``i``'s training split."""
        order = torch.randperm(len(pools[i]), generator=torch.Generator().manual_seed(seed))
        return pixels(pools[i][order[: args.fit_images]])

    names = [r.run_dir.name for r in runs]
    result = transfer_matrix(names, models, [d[1] for d in data], fit_images, lambda m, x: fit_uap(m, x, args.algo, args.eps, args.norm, **_uap_kwargs(args)).v, args.eps, args.norm, args.seeds, args.target)
    print(f"held-out fooling rate (%) of v fitted on the row's run ({args.algo}, eps {args.eps:g} = {args.eps * 255:.1f}/255, l{args.norm}), mean [95 % interval] over fitting-set seeds {', '.join(map(str, args.seeds))}")
    print("\n".join(matrix_lines(result, names)))
    out = Path(args.out or "uap_transfer.json")
    out.write_text(json.dumps({"eps": args.eps, "norm": args.norm, "algo": args.algo, **result}, indent=2))
    print(f"wrote {out}")


def _cmd_graph_check(args: argparse.Namespace) -> None:
    import warnings

    import torch

    with warnings.catch_warnings():  # PyG's import warns about torch.jit.script, not about anything here
        warnings.simplefilter("ignore", FutureWarning)
        from torch_geometric.datasets import KarateClub

        from .graph import AGGREGATORS, GraphEncoder, MessagePassingLayer, PositionWeightedSum, check_equivariance

    graph = KarateClub()[0]  # built into PyG, no download
    torch.manual_seed(0)
    x = torch.randn(graph.num_nodes, 8)
    models = {f"{a} aggregation": MessagePassingLayer(8, 16, a) for a in AGGREGATORS}
    models |= {"two layers (sum)": GraphEncoder(8, 16, 4, 2, "sum"), "position-weighted sum, edge-list order": PositionWeightedSum(8, 16, "edge"), "position-weighted sum, node-id order": PositionWeightedSum(8, 16, "id")}
    print(f"Zachary's karate club ({graph.num_nodes} nodes, {graph.edge_index.shape[1]} directed edges), random features, {args.trials} random permutations; worst |deviation| (pass: < {args.tol:g})")
    print(f"{'model':42s} {'node equivariance':>18s} {'graph invariance':>17s} {'edge-order inv.':>16s}")
    for name, model in models.items():
        dev = check_equivariance(model, x, graph.edge_index, args.trials)
        cells = "".join(f"{f'{v:.1e} ' + ('ok' if v < args.tol else 'FAIL'):>18s}" for v in dev.values())
        print(f"{name:42s}{cells}")


def _cmd_graph_train(args: argparse.Namespace) -> None:
    import torch

    from .graph import edge_list, karate, sbm
    from .graph.evaluate import predict_nodes, probe_accuracy, supervised_accuracy
    from .graph.plots import plot_graph_run
    from .graph.ssl import GraphSSL, train_graph_ssl

    graph = {"karate": karate, "sbm": lambda: sbm(seed=args.seed)}.get(args.data, lambda: edge_list(args.data, args.features))()
    torch.manual_seed(args.seed)
    model = GraphSSL(args.method, graph.x.shape[1])
    status(f"training {args.method} on {args.data} for {args.epochs} epochs, then {args.seeds} seeded probes and supervised baselines ...")
    losses = train_graph_ssl(model, graph.x, graph.edge_index, args.epochs, args.lr, args.seed)
    model.eval()
    with torch.no_grad():
        embeddings = model.encoder(graph.x, graph.edge_index)
    print(f"{args.method} on {args.data}: {graph.num_nodes} nodes, {graph.edge_index.shape[1] // 2} edges; loss {losses[0]:.3f} -> {losses[-1]:.3f} in {args.epochs} epochs")
    if (graph.y >= 0).sum() == 0:
        print("no node labels: nothing to evaluate")
        return
    rows = {
        f"{args.method} embeddings + linear probe": probe_accuracy(embeddings, graph.y, args.labels_per_class, args.seeds),
        "raw features + linear probe": probe_accuracy(graph.x, graph.y, args.labels_per_class, args.seeds),
        "supervised message passing (same labels)": supervised_accuracy(graph.x, graph.edge_index, graph.y, args.labels_per_class, args.seeds),
    }
    print(f"node classification, {args.labels_per_class} labels per class, {args.seeds} seeded splits (test accuracy %, mean +- std):")
    for name, (mean, std) in rows.items():
        print(f"  {name:44s} {mean:5.1f} +- {std:.1f}")
    predicted = predict_nodes(embeddings, graph.y, args.labels_per_class)
    out = Path(args.out or f"graph_{args.method}_{Path(args.data).stem}.png")
    print(f"plot: {plot_graph_run(graph.edge_index, embeddings, predicted, graph.y, out, f'{args.method} on {args.data}')}")


def _study_command(name: str, args: argparse.Namespace, out: Path) -> str:
    """The command that runs study ``name`` alone as this call does (written into its study.json)."""
    parts = ["selfsup study", name, "--out", str(out), *(["--gpu"] if args.gpu else []), *(["--config", args.config] if args.config else [])]
    parts += [*(["--epochs", str(args.epochs)] if args.epochs else []), *(["--seeds", *map(str, args.seeds)] if args.seeds else [])]
    parts += [*(["--variants", *map(shlex.quote, args.variants)] if args.variants else []), *map(shlex.quote, args.overrides)]
    return " ".join(parts)


def _run_one_study(name: str, args: argparse.Namespace, out: Path) -> int:
    """Run study ``name`` on its preset (or ``args.config``) into ``out``; returns the runs made."""
    from .study import load_study
    from .study.runner import run_study

    study = load_study(name)
    epochs = args.epochs or (None if args.gpu or args.config else study.epochs)  # a study's CPU budget applies to its CPU preset
    overrides = [*([f"train.epochs={epochs}"] if epochs else []), "train.progress=false", *args.overrides]
    preset = study.gpu_preset if args.gpu else study.preset
    if not args.config and not Path(preset).is_file():
        preset = str(Path(__file__).resolve().parents[1] / preset)  # run from outside the checkout
    cfg = load_config(args.config or preset, overrides)
    rows = run_study(study, cfg, out, args.seeds, tuple(args.variants) if args.variants else None, _study_command(name, args, out))
    for file in ("table.md", "claims.md"):
        print((out / file).read_text())
    print(f"plot: {out / study.plot_name}; runs: {out}/<variant>/ ({len(rows)} runs and floors)")
    return len(rows)


def _cmd_study(args: argparse.Namespace) -> None:
    from .study import STUDIES
    from .study.collect import write_report

    if args.name != "all":
        _run_one_study(args.name, args, Path(args.out or f"runs/study_{args.name.replace('-', '_')}"))
        return
    if args.config or args.variants:
        raise ValueError("`selfsup study all` runs every study on its own preset: --config and --variants name one study's")
    root = Path(args.out or "runs/claims")
    for i, name in enumerate(STUDIES, 1):
        print(f"[{i}/{len(STUDIES)}] study {name} -> {root / ('study_' + name.replace('-', '_'))}", flush=True)
        _run_one_study(name, args, root / f"study_{name.replace('-', '_')}")
    print(f"report: {write_report(root)}")


def _cmd_report(args: argparse.Namespace) -> None:
    from .study.collect import write_report

    path = write_report([Path(r) for r in args.runs], Path(args.out) if args.out else None)
    print(f"report: {path}")


def _cmd_floors(args: argparse.Namespace) -> None:
    from .eval.floors import floors

    cfg = load_config(args.config, args.overrides)
    status(f"floors of {cfg.data.name}: raw pixels and a random-init {cfg.model.backbone}, kNN and a {cfg.eval.linear_epochs}-epoch linear probe each ...")
    for name, accs in floors(cfg).items():
        print(f"{name:12s} kNN {accs['knn_acc']:.2f} %  linear {accs['linear_acc']:.2f} %  ({cfg.data.name}, {cfg.model.backbone})")


# What the arguments many commands share mean; each command's own arguments say it where they are made.
SHARED_HELP = {
    "run": "a run folder (its checkpoint.pt and config.yaml)",
    "runs": "run folders, each with its checkpoint.pt",
    "split": "which part of a built-in dataset to read",
    "norm": "the perturbation's norm: l-inf or l2",
    "algo": "DeepFool-UAP or SGD-UAP",
    "fit_images": "training-split images the perturbation is fitted on",
    "held_out": "test-split images it is measured on",
    "trials": "random node permutations tried per model",
    "tol": "largest |deviation| that passes",
    "method": "the graph SSL method",
    "epochs": "training epochs",
    "lr": "learning rate (Adam)",
    "labels_per_class": "labelled nodes per class for the probe and the supervised baseline",
    "seeds": "seeded label splits to average over",
    "seed": "seed of the graph and the training",
}


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Every argument's default in --help, except where there is none or the help says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def _describe(parser: argparse.ArgumentParser) -> None:
    """Give every (sub)command the defaults formatter and every argument a description."""
    parser.formatter_class = _HelpWithDefaults
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _describe(sub)
        elif not action.help and action.dest in SHARED_HELP:
            action.help = SHARED_HELP[action.dest]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="selfsup", description="Self-supervised representation learning: train, evaluate, embed, export.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="pretrain an encoder (no arguments: SimCLR on MNIST-5k, a few minutes on a CPU)")
    t.add_argument("--config", help="YAML preset (see configs/)")
    t.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its checkpoint")
    t.add_argument("overrides", nargs="*", help="section.key=value, e.g. optim.lr=0.001 method=byol")
    t.set_defaults(func=_cmd_train)
    e = sub.add_parser("eval", help="kNN, linear probe and collapse monitors of a run; dense probe and robustness on request")
    e.add_argument("run")
    e.add_argument("--dense", action="store_true", help="per-patch linear segmentation probe, mIoU (ViT runs on data with masks: shapes)")
    e.add_argument("--robustness", action="store_true", help="kNN / linear accuracy with 0-75 %% of patches blanked and under noise, plus a plot")
    e.add_argument("--grid", type=int, default=8, help="occlusion grid side for non-ViT encoders (ViTs use their patch grid)")
    e.add_argument("overrides", nargs="*", help="data.* and eval.* keys, e.g. data.path=/data/imagenet eval.max_train_images=100000")
    e.set_defaults(func=_cmd_eval)
    m = sub.add_parser("embed", help="write a run's embeddings of a dataset to a .npy file")
    m.add_argument("run")
    m.add_argument("--data", required=True, help="a built-in dataset name, an image folder, a caption CSV or shards ('shards/{00000..00009}.tar')")
    m.add_argument("--split", choices=["train", "test"], default="test")
    m.add_argument("--out", required=True, help="the .npy file of embeddings (labels go to <name>_labels.npy beside it)")
    m.set_defaults(func=_cmd_embed)
    sh = sub.add_parser("shards", help="write WebDataset tar shards from an image folder (class subfolders) or a caption CSV")
    sh.add_argument("source", help="an image folder, or a CSV / TSV of image paths and captions (open_clip's layout)")
    sh.add_argument("--out", required=True, help="folder for the shards, sizes.json and classes.json")
    sh.add_argument("--shard-size", type=int, default=1000, help="samples per shard")
    sh.add_argument("--no-shuffle", action="store_true", help="keep the listing order (default: a seeded shuffle, so that each shard mixes the classes)")
    sh.add_argument("--seed", type=int, default=0, help="shuffle seed")
    sh.add_argument("--workers", type=int, default=1, help="processes that check each image by decoding it")
    sh.add_argument("--csv-img-key", default="filepath", help="CSV: the image path column")
    sh.add_argument("--csv-caption-key", default="title", help="CSV: the caption column")
    sh.add_argument("--csv-separator", default="\t", help="CSV: the separator (default: tab)")
    sh.set_defaults(func=_cmd_shards)
    x = sub.add_parser("export", help="write a run's backbone weights as safetensors")
    x.add_argument("run")
    x.add_argument("--out", required=True, help="the .safetensors file to write")
    x.set_defaults(func=_cmd_export)
    a = sub.add_parser("attention", help="PNG grids of a ViT run's last-block [CLS] attention per head")
    a.add_argument("run")
    a.add_argument("--data", help="a built-in dataset name or an image folder (default: the run's dataset)")
    a.add_argument("--split", choices=["train", "test"], default="test")
    a.add_argument("--num", type=int, default=16, help="images to draw (8 per grid)")
    a.add_argument("--out", required=True, help="folder for the PNG grids and attention.json")
    a.set_defaults(func=_cmd_attention)
    from .study import STUDIES

    s = sub.add_parser("study", help="reproduce a claim at small scale: a grid of runs, a table, claims judged by a rule, plots")
    s.add_argument("name", choices=[*STUDIES, "all"], help="; ".join(f"{k}: {v}" for k, v in STUDIES.items()) + "; all: every study in turn into --out (default runs/claims), then the report; resumable")
    s.add_argument("--config", help="the study's preset (default: its CPU budget preset, see configs/)")
    s.add_argument("--gpu", action="store_true", help="use the study's GPU preset (the papers' scale of settings)")
    s.add_argument("--epochs", type=int, help="epochs per run (default: on the study's CPU preset its budget: dino-collapse 6, attndrop 5, byol-collapse 10; otherwise the preset's)")
    s.add_argument("--seeds", type=int, nargs="+", help="training seeds; each variant runs once per seed, tables show mean ± std; verdicts need >= 3 (default: the preset's seed and the next two)")
    s.add_argument("--variants", nargs="+", help="run only these variants (quote names with spaces)")
    s.add_argument("--out", help="study folder (default: runs/study_<name>; for all, the folder of study folders, default runs/claims)")
    s.add_argument("overrides", nargs="*", help="section.key=value, applied to every run")
    s.set_defaults(func=_cmd_study)
    rp = sub.add_parser("report", help="gather every study under a folder into one Markdown report with tables, claims and plots")
    rp.add_argument("runs", nargs="*", default=["runs"], help="folders holding study folders (each with study.json and results.json), default: runs; a study in several is taken from the last")
    rp.add_argument("--out", help="write report.md and copies of the plots here (default: RUNS/report.md, plots linked in place)")
    rp.set_defaults(func=_cmd_report)
    z = sub.add_parser("zeroshot", help="zero-shot classification with an image-text run (clip, coca)")
    z.add_argument("run")
    z.add_argument("--data", help="a built-in dataset name or an image folder with class subfolders (default: the run's dataset)")
    z.add_argument("--split", choices=["train", "test"], default="test")
    z.add_argument("--classes", nargs="+", help="class names (default: the dataset's)")
    z.add_argument("--templates", nargs="+", help="prompt templates with {} for the class, e.g. 'a photo of a {}.' (default on shapes / digits: the held-out templates)")
    z.set_defaults(func=_cmd_zeroshot)
    r = sub.add_parser("retrieve", help="image<->text retrieval R@k on held-out pairs, similarity matrix and recall curves")
    r.add_argument("run")
    r.add_argument("--data", help="a built-in dataset name (default: the run's dataset)")
    r.add_argument("--split", choices=["train", "test"], default="test")
    r.set_defaults(func=_cmd_retrieve)
    c = sub.add_parser("caption", help="generate captions with a captioning run (coca, prefix_lm); caption accuracy on shapes")
    c.add_argument("run")
    c.add_argument("--images", required=True, help="a built-in dataset name or an image folder")
    c.add_argument("--split", choices=["train", "test"], default="test")
    c.add_argument("--num", type=int, default=0, help="caption only the first N images (default: all)")
    c.add_argument("--beam", type=int, default=1, help="beam size (1 = greedy)")
    c.set_defaults(func=_cmd_caption)
    atk = sub.add_parser("attack", help="universal adversarial perturbations against a run's encoder + linear probe")
    atk_sub = atk.add_subparsers(dest="attack", required=True)
    for name, helptext in (("uap", "fit one perturbation v and measure it"), ("transfer", "fit on each run, fooling rate on every run")):
        u = atk_sub.add_parser(name, help=helptext)
        if name == "uap":
            u.add_argument("run")
            u.add_argument("--load", help="a saved uap.safetensors: measure it against this run instead of fitting")
            u.add_argument("--curve", action="store_true", help="also the held-out fooling rate against the number of fitting images")
            u.add_argument("--out", help="output folder (default: RUN/uap_<algo>_l<norm>_<eps>)")
        else:
            u.add_argument("runs", nargs="+")
            u.add_argument("--out", help="the matrix as JSON (default: uap_transfer.json)")
            u.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="each seed draws its own fitting images and noise; cells show the mean and a 95 %% interval (default: 0 1 2)")
        u.add_argument("--eps", type=float, required=name == "transfer", help="budget on the [0, 1] pixel scale (0.1 = 25.5 / 255)" + ("; required unless --load" if name == "uap" else ""))
        u.add_argument("--norm", choices=["inf", "2"], default="inf")
        u.add_argument("--algo", choices=["deepfool", "sgd"], default="deepfool")
        u.add_argument("--fit-images", type=int, default=500)
        u.add_argument("--held-out", type=int, default=1000)
        u.add_argument("--passes", type=int, default=10, help="most passes over the fitting images")
        u.add_argument("--target", type=int, help="targeted: push predictions to this class")
        u.set_defaults(func=_cmd_attack_uap if name == "uap" else _cmd_attack_transfer)
    gr = sub.add_parser("graph", help="graph message passing")
    gr_sub = gr.add_subparsers(dest="graph", required=True)
    gc = gr_sub.add_parser("check", help="permutation equivariance / invariance report for the built-in aggregators and an order-dependent one")
    gc.add_argument("--trials", type=int, default=5)
    gc.add_argument("--tol", type=float, default=1e-5)
    gc.set_defaults(func=_cmd_graph_check)
    gt = gr_sub.add_parser("train", help="GRACE or BGRL on a graph, then few-label node classification against raw features and a supervised network")
    gt.add_argument("--method", choices=["grace", "bgrl"], default="grace")
    gt.add_argument("--data", default="sbm", help="karate, sbm, or an edge-list CSV (source,target)")
    gt.add_argument("--features", help="with an edge list: a CSV of node,label,f1,f2,...")
    gt.add_argument("--epochs", type=int, default=200)
    gt.add_argument("--lr", type=float, default=1e-3)
    gt.add_argument("--labels-per-class", type=int, default=5)
    gt.add_argument("--seeds", type=int, default=5)
    gt.add_argument("--seed", type=int, default=0)
    gt.add_argument("--out", help="plot file (default: graph_<method>_<data>.png)")
    gt.set_defaults(func=_cmd_graph_train)
    f = sub.add_parser("floors", help="kNN / linear accuracy of raw pixels and of the untrained backbone")
    f.add_argument("--config", help="YAML preset (see configs/)")
    f.add_argument("overrides", nargs="*", help="section.key=value")
    f.set_defaults(func=_cmd_floors)
    _describe(p)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse stops filling a positional list at the first option; key=value items after it land here.
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from .data import DataError
    from .train.trainer import TrainingDiverged

    try:
        args.func(args)
    except (ConfigError, DataError, TrainingDiverged, OSError, ValueError) as e:
        print(f"selfsup: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
