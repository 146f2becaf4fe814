"""The training loop: data -> augment -> method.training_step -> optimizer, EMA, schedules ->
metrics, checkpoints, evaluation. It knows a method only through the :class:`Method` interface."""

from __future__ import annotations

import json
import math
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from ..augment import MultiCropAugment, pick_captions
from ..config import Config, ConfigError, config_to_dict
from ..data import ShardImages, StreamBatch, StreamingDataset, build_dataset, channel_stats, for_training, limit_images, make_loader
from ..eval import embedding_std, extract_features, knn_accuracy, linear_probe_accuracy, rankme
from ..eval.declared import run_declared
from ..methods import Method, build_method, method_class
from ..methods.base import Batch
from ..models import build_backbone
from ..models.tokens import is_vit
from ..text import CaptionTokenizer, TextSpec
from .captions import attach_captions
from .checkpoint import load_checkpoint, rng_state, save_atomic, set_rng_state
from .run_dir import prepare_run_dir, remove_if_empty
from ..core.distributed import all_reduce_mean, barrier, init_from_env, is_distributed, is_main, rank, world_size
from .global_bn import synchronise_batchnorm
from .logging import RunLogger, plot_run
from .optim import build_optimizer
from ..core.schedules import cosine, warmup_cosine

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_KEYS = ("method", "optimizer", "step", "rng", "config", "meta")  # what a run's checkpoint holds


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class RunParts:
    """Everything a run's networks need to be rebuilt from its folder (saved as the checkpoint's ``meta``)."""

    backbone: str
    in_chans: int
    image_size: int
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    global_pool: str | None = None
    patch_size: int | None = None
    text: dict[str, int] | None = None  # image-text runs: the tokenizer's TextSpec


def run_parts(cfg: Config, train_set, tokenizer: CaptionTokenizer | None = None) -> RunParts:  # noqa: ANN001 - any dataset
    mean, std = channel_stats(train_set, cfg.data.num_workers)
    size = cfg.augment.global_size or train_set.image_size
    text = vars(tokenizer.spec(cfg.method.context_length)) if tokenizer is not None else None
    return RunParts(cfg.model.backbone, train_set.channels, size, train_set.num_classes, mean, std, cfg.model.global_pool, cfg.model.patch_size, text)


def build_networks(cfg: Config, meta: RunParts, total_steps: int, steps_per_epoch: int = 1) -> tuple[Method, nn.Linear | None]:
    """The method (with its backbone) and the online linear probe (None without labels)."""
    backbone = build_backbone(meta.backbone, meta.in_chans, meta.image_size, meta.global_pool, meta.patch_size)
    method = build_method(cfg.method, backbone, cfg.model, total_steps, steps_per_epoch, TextSpec(**meta.text) if meta.text else None)
    probe = nn.Linear(backbone.num_features, meta.num_classes) if cfg.train.online_probe and meta.num_classes > 0 else None
    return method, probe


def check_view_sizes(augment: MultiCropAugment, encoder: nn.Module) -> None:
    """A ViT needs every view's side to be a multiple of its patch; say which key to change."""
    if not is_vit(encoder):
        return
    patch = encoder.patch_embed.patch_size[0]
    sizes = {"augment.global_size": augment.global_size, **({"augment.local_size": augment.local_size} if augment.cfg.n_local else {})}
    for key, size in sizes.items():
        if size % patch:
            raise ConfigError(f"{key} is {size} px, not a multiple of the ViT's {patch} px patch (model.patch_size); try {max(patch, round(size / patch) * patch)}")


def resolve_run_dir(cfg: Config) -> Path:
    name = cfg.train.run_name or f"{cfg.method.name}_{cfg.data.name}_{time.strftime('%Y%m%d-%H%M%S')}"
    return Path(cfg.train.out_dir) / name


def evaluate(
    cfg: Config, method: Method, probe: nn.Module | None, train_set, test_set, meta: RunParts, device: torch.device, linear: bool, tokenizer: CaptionTokenizer | None = None  # noqa: ANN001 - any datasets
) -> dict[str, float]:
    """kNN, collapse monitors, the online probe's accuracy, (``linear``) the offline linear probe, and
    the evaluations the method declares (``Method.evaluations``: zero-shot and retrieval, caption accuracy).

    The kNN bank and the probe's training set are at most ``eval.max_train_images`` images;
    streamed datasets are read in chunks, so only features are held."""
    encoder = method.encoder()
    bank, bank_limit = limit_images(train_set, cfg.eval.max_train_images, cfg.train.seed)
    workers = cfg.data.num_workers
    ftr, ytr = extract_features(encoder, bank, meta.mean, meta.std, cfg.eval.batch_size, device, workers, bank_limit)
    fte, yte = extract_features(encoder, test_set, meta.mean, meta.std, cfg.eval.batch_size, device, workers)
    out = {"embedding_std": embedding_std(fte), "rankme": rankme(fte)}
    if (ytr >= 0).all() and (yte >= 0).all():
        out["knn_acc"] = knn_accuracy(ftr, ytr, fte, yte, cfg.eval.knn_k, cfg.eval.knn_temperature)
        if probe is not None:
            with torch.no_grad():
                pred = probe(fte.to(device)).argmax(1).cpu()
            out["online_probe_acc"] = 100.0 * (pred == yte).float().mean().item()
        if linear:
            out["linear_acc"] = linear_probe_accuracy(ftr, ytr, fte, yte, cfg.eval.linear_epochs, cfg.eval.linear_lr)
    out.update(run_declared(method, tokenizer, test_set, cfg.data.train_templates, meta.mean, meta.std, cfg.eval.batch_size, device))  # what the method declares
    return out


def train(cfg: Config, resume: bool = False) -> dict[str, Any]:
    """Run (or resume) the training job ``cfg`` describes; returns the run's summary."""
    device = init_from_env()
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    run_dir = resolve_run_dir(cfg)
    ckpt_path = run_dir / CHECKPOINT
    if not resume and (ckpt_path.is_file() or (run_dir / "metrics.jsonl").is_file()):
        # A fresh run here would mix its metrics with the old run's and overwrite its checkpoint.
        raise ValueError(f"{run_dir} already holds a run; continue it with `selfsup train --resume {run_dir}` or set another train.run_name")
    if resume and not ckpt_path.is_file():
        raise FileNotFoundError(f"cannot resume {run_dir}: it has no {CHECKPOINT} (the run stopped before its first checkpoint; start it again under another train.run_name)")
    state = load_checkpoint(ckpt_path, CHECKPOINT_KEYS) if resume else None
    created = is_main() and not run_dir.exists()
    if is_main():
        prepare_run_dir(run_dir, config_to_dict(cfg), int(state["step"]) if state is not None else None)
    barrier()
    try:
        return _train(cfg, state, run_dir, device)
    except BaseException:
        if created:
            remove_if_empty(run_dir)  # an error before anything was learned leaves no folder behind
        raise


def _train(cfg: Config, state: dict[str, Any] | None, run_dir: Path, device: torch.device) -> dict[str, Any]:
    ckpt_path = run_dir / CHECKPOINT
    resume = state is not None
    torch.manual_seed(cfg.train.seed)
    started = time.perf_counter()
    train_set, test_set = build_dataset(cfg.data, train=True), build_dataset(cfg.data, train=False)
    world = world_size()
    if cfg.data.batch_size % world:
        raise ValueError(f"data.batch_size {cfg.data.batch_size} does not split evenly over {world} processes")
    local_batch = cfg.data.batch_size // world
    steps_per_epoch = len(train_set) // cfg.data.batch_size if isinstance(train_set, ShardImages) else len(train_set) // world // local_batch
    if steps_per_epoch == 0:
        raise ValueError(f"data.batch_size {cfg.data.batch_size} is larger than the {len(train_set)} training images")
    total_steps = cfg.train.epochs * steps_per_epoch
    tokenizer = attach_captions(cfg, train_set, run_dir, resume) if method_class(cfg.method.name).uses_text else None
    meta = run_parts(cfg, train_set, tokenizer)
    method, probe = build_networks(cfg, meta, total_steps, steps_per_epoch)
    method.to(device)
    if is_distributed():
        method = synchronise_batchnorm(method, device.type == "cuda")  # BatchNorm over the global batch, as one process sees it
    for part in (train_set, test_set):
        if isinstance(part, StreamingDataset):
            part.evaluate_at(meta.image_size, part.channels)  # the model's input size (augment.global_size, if set)
    augment = MultiCropAugment(cfg.augment, meta.image_size, meta.mean, meta.std)
    check_view_sizes(augment, method.encoder())
    streamed = for_training(train_set, augment.worker_views(train_set.channels))
    loader = make_loader(streamed, local_batch, True, cfg.data.num_workers, drop_last=True, seed=cfg.train.seed, distributed=is_distributed())
    optimizer = build_optimizer(cfg.optim, [method])
    probe_opt = None
    if probe is not None:
        probe.to(device)
        probe_opt = torch.optim.AdamW(probe.parameters(), lr=1e-3, weight_decay=0.0)
    model = DistributedDataParallel(method) if is_distributed() else method
    logger = RunLogger(run_dir, purge_step=int(state["step"]) + 1 if state is not None else None)
    if train_set.skipped:
        logger.log({"kind": "data", "step": 0, "skipped_files": len(train_set.skipped), "skipped": train_set.skipped[:100]})
    listed_bad = len(train_set.skipped)

    step = 0
    if state is not None:
        method.load_state_dict(state["method"])
        optimizer.load_state_dict(state["optimizer"])
        if probe is not None:
            probe.load_state_dict(state["probe"])
            probe_opt.load_state_dict(state["probe_optimizer"])
        set_rng_state(state["rng"])
        step = int(state["step"])

    def save(step: int) -> None:
        if is_main():
            save_atomic(
                {
                    "method": method.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "probe": probe.state_dict() if probe is not None else {},
                    "probe_optimizer": probe_opt.state_dict() if probe_opt is not None else {},
                    "step": step,
                    "rng": rng_state(),
                    "config": config_to_dict(cfg),
                    "meta": vars(meta),
                },
                ckpt_path,
            )

    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if cfg.train.precision == "bf16" else nullcontext()
    warmup = int(cfg.optim.warmup_epochs * steps_per_epoch)
    last_step = min(total_steps, cfg.train.max_steps or total_steps)
    method.train()
    while step < last_step:
        epoch = step // steps_per_epoch
        skip = step - epoch * steps_per_epoch  # batches of this epoch already done before a resume
        if streamed is not train_set:
            # Streamed: the epoch's order is a function of (seed, epoch); a resume starts `skip` batches
            # in without reading them, so no batch is repeated or skipped (only the workers' crop draws differ).
            if isinstance(streamed, ShardImages):
                streamed.set_epoch(epoch, skip, local_batch)
            else:
                loader.sampler.set_epoch(epoch, skip * local_batch)
            loader.generator.manual_seed(cfg.train.seed + epoch + 1_000_003 * rank())
        elif is_distributed():
            loader.sampler.set_epoch(epoch)
        else:
            loader.generator.manual_seed(cfg.train.seed + epoch)
        bar = tqdm(total=steps_per_epoch, initial=skip, desc=f"epoch {epoch + 1}/{cfg.train.epochs}", disable=not (cfg.train.progress and is_main()), leave=False)
        t0, seen, loss_sum, loss_n = time.perf_counter(), 0, 0.0, 0
        epoch_terms: dict[str, float] = {}  # sums of the method's scalar terms (collapse monitors) this epoch
        for i, batch in enumerate(loader):
            if isinstance(batch, StreamBatch):
                streamed.accept(batch.skipped)  # counts unreadable images, or stops with one line naming the first
                if not batch.views:
                    continue
                images, labels, text = [v.to(device, non_blocking=True) for v in batch.views], batch.labels, [batch.text] if batch.text is not None else []
            else:
                if i < skip:
                    continue
                images, labels, *text = batch
                images = images.to(device, non_blocking=True)
            if step == 0 and is_main() and cfg.train.progress:
                tqdm.write(f"first batch {time.perf_counter() - started:.1f} s after start")
            lr = warmup_cosine(step, total_steps, warmup, cfg.optim.lr, cfg.optim.min_lr)
            wd = cfg.optim.weight_decay if cfg.optim.weight_decay_end is None else cosine(step, total_steps, cfg.optim.weight_decay, cfg.optim.weight_decay_end)
            for group in optimizer.param_groups:
                group["lr"] = lr
                if not group["bias_or_norm"]:
                    group["weight_decay"] = wd
            labels = labels.to(device, non_blocking=True)
            batch = Batch(augment(images), pick_captions(text[0].to(device, non_blocking=True)) if text else None)
            with autocast:
                out = model(batch, step)
            loss = out["loss"]
            loss_value = all_reduce_mean(loss.detach().clone()).item()  # the mean over processes: every process stops on a NaN together
            if not math.isfinite(loss_value):
                kept = f"last good checkpoint kept at {ckpt_path}" if ckpt_path.is_file() else "no checkpoint was written before it"
                logger.log({"kind": "diverged", "step": step, "epoch": epoch, "loss": loss_value})
                logger.close()
                raise TrainingDiverged(f"loss became {loss_value} at step {step} (epoch {epoch + 1}); training stopped, {kept}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.optim.clip_grad:
                nn.utils.clip_grad_norm_(method.parameters(), cfg.optim.clip_grad)
            method.before_optimizer_step(step)
            optimizer.step()
            method.on_step_end(step)
            if probe is not None and (labels >= 0).all():
                probe_loss = F.cross_entropy(probe(out["features"].float()), labels)
                probe_opt.zero_grad(set_to_none=True)
                probe_loss.backward()
                probe_opt.step()
            names = [k for k, v in out.items() if k not in ("loss", "features") and v.numel() == 1]
            terms = dict(zip(names, torch.stack([out[k].detach().float() for k in names]).tolist())) if names else {}  # one device sync
            for k, v in terms.items():
                epoch_terms[k] = epoch_terms.get(k, 0.0) + v
            step += 1
            seen += labels.shape[0] * world
            if cfg.train.ckpt_every_steps and step % cfg.train.ckpt_every_steps == 0 and step % steps_per_epoch:
                save(step)
            loss_sum, loss_n = loss_sum + loss_value, loss_n + 1
            rate = seen / (time.perf_counter() - t0)
            bar.set_postfix(loss=f"{loss_value:.4f}", img_s=f"{rate:.0f}")
            bar.update(1)
            if step % cfg.train.log_every == 0 or step == last_step:
                logger.log({"kind": "train", "step": step, "epoch": epoch + 1, "loss": loss_sum / loss_n, "lr": lr, "weight_decay": wd, "images_per_s": rate, **terms})
                loss_sum, loss_n = 0.0, 0
            if step >= last_step or step % steps_per_epoch == 0:
                break  # before the loader reads (and crops) a batch this epoch does not use
        bar.close()
        if len(streamed.skipped) > listed_bad and is_main():
            logger.log({"kind": "data", "step": step, "epoch": epoch + 1, "skipped_files": len(streamed.skipped), "skipped": streamed.skipped[-100:]})
            listed_bad = len(streamed.skipped)
        epoch_done = step % steps_per_epoch == 0
        if epoch_done and seen:
            done = step - epoch * steps_per_epoch - skip
            means = {k: v / done for k, v in epoch_terms.items()}
            logger.log({"kind": "epoch", "step": step, "epoch": epoch + 1, "images_per_s": rate, "seconds": time.perf_counter() - t0, **means})
        finished = step >= last_step
        # The last epoch's evaluation is the final one below (with the linear probe), not done twice.
        if epoch_done and (epoch + 1) % cfg.train.eval_every == 0 and not finished and is_main():
            metrics = evaluate(cfg, method, probe, train_set, test_set, meta, device, linear=False, tokenizer=tokenizer)
            logger.log({"kind": "eval", "step": step, "epoch": epoch + 1, **metrics})
            plot_run(run_dir)
        if finished or (epoch_done and (epoch + 1) % cfg.train.ckpt_every == 0):
            save(step)
    barrier()

    summary: dict[str, Any] = {"run_dir": str(run_dir), "steps": step, "epochs": step / steps_per_epoch, "skipped_files": len(streamed.skipped)}
    if is_main():
        if cfg.train.progress:
            bank = min(len(train_set), cfg.eval.max_train_images or len(train_set))
            print(f"final evaluation: features of {bank} training and {len(test_set)} test images, kNN, a {cfg.eval.linear_epochs}-epoch linear probe ...", file=sys.stderr, flush=True)
        final = evaluate(cfg, method, probe, train_set, test_set, meta, device, linear=True, tokenizer=tokenizer)
        summary.update(final)
        logger.log({"kind": "eval", "step": step, "epoch": step / steps_per_epoch, **final})
        summary["plots"] = [str(p) for p in plot_run(run_dir)]
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    logger.close()
    return summary
