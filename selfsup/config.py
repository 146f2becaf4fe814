"""Typed configuration: one dataclass per component, one default in one place.

A run's configuration is a :class:`Config`. It is filled from a YAML preset and then from
``key=value`` overrides (``optim.lr=0.001``, ``method.temperature=0.2``). Unknown keys raise
:class:`ConfigError` naming the key and the valid ones. The ``method`` section is typed by the
method's own dataclass (:data:`METHOD_CONFIGS`), chosen by ``method.name``.

Why not OmegaConf's structured configs (measured with omegaconf 2.3 on these dataclasses):
``OmegaConf.structured(Config)`` types ``method`` by its default (SimCLR), so
``method.name=dino method.ibot_weight=1`` fails with "Key 'ibot_weight' not in 'SimCLRConfig'":
the schema switch by ``method.name`` (:func:`_method_config`) would stay ours. Its unknown-key
error ("Key 'lrr' not in 'OptimConfig'. Did you mean: 'lr'?") names neither the section path nor
the valid keys, so every error would be caught and rewritten to keep today's messages; the minimums
(:func:`check_counts`) and YAML line numbers stay ours either way. What it would replace is
:func:`_coerce` (~35 lines), for a dependency and 50 ms of import; we keep ours.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration key or value that cannot be used; the message says which and why."""


@dataclass
class DataConfig:
    name: str = "mnist"  # mnist | digits | shapes | cifar10 | stl10 | folder | csv | wds
    path: str | None = None  # folder holding the files (cifar10, stl10, folder); the CSV file (csv); the shards, e.g. 'shards/{00000..00099}.tar' (wds)
    stream: bool | None = None  # read images lazily in loader workers, crops from the original (default: folder, csv and wds stream; built-in data is held in memory)
    val_path: str | None = None  # held-out data for evaluation: a folder, a CSV, shards (default: test_fraction of data.path; of its shards for wds)
    shuffle_buffer: int = 1000  # wds: samples (still encoded) each loader worker shuffles among
    image_size: int = 28  # digits, shapes and in-memory images are resized to this; streamed images are evaluated at this size
    num_images: int = 5000  # shapes: how many to generate (train + test)
    test_fraction: float = 0.2  # shapes / folder / csv: held-out fraction of the images (wds: of the shards) for evaluation
    skip_bad: bool = False  # skip unreadable images / bad CSV rows (counted in the log) instead of failing
    csv_img_key: str = "filepath"  # csv: the image path column (open_clip's names)
    csv_caption_key: str = "title"  # csv: the caption column
    csv_separator: str = "\t"  # csv: the column separator (a tab, as open_clip writes)
    train_templates: int = 3  # shapes / digits captions: the first N built-in templates caption training images; the rest are held out for zero-shot
    seed: int = 0  # generation and split seed
    batch_size: int = 256  # the global batch: under torchrun each process takes batch_size / world
    num_workers: int = 0  # DataLoader worker processes (streamed data decodes in them)


@dataclass
class AugmentConfig:
    """Views made on the training device. Per-view lists hold one value per global crop."""

    n_global: int = 2  # global crops per image (SimCLR / BYOL: the two views)
    n_local: int = 0  # local (small) crops per image; DINO, AttnDrop and LoGo use them
    global_size: int | None = None  # global crop side in pixels (default: the data's image size)
    local_size: int | None = None  # local crop side in pixels (default: about 3/7 of the global size; ViTs: a multiple of the patch)
    global_scale: tuple[float, float] = (0.5, 1.0)  # global crops: area fraction range of the image (digits lose their identity in small crops)
    local_scale: tuple[float, float] = (0.05, 0.2)  # local crops: area fraction range of the image
    ratio: tuple[float, float] = (3 / 4, 4 / 3)  # every crop's aspect ratio range (width / height), as RandomResizedCrop's
    hflip: bool = False  # random horizontal flip (off for digits; on for natural images)
    jitter_prob: float = 0.8  # probability of colour jitter per view
    brightness: float = 0.4  # colour jitter strengths (torchvision ColorJitter semantics)
    contrast: float = 0.4  # colour jitter: contrast strength
    saturation: float = 0.2  # colour jitter: saturation strength
    hue: float = 0.1  # colour jitter: hue shift, a fraction of the colour circle
    grayscale_prob: float = 0.2  # probability of grayscale per view
    blur_prob: list[float] = field(default_factory=lambda: [0.2])  # Gaussian blur probability per global view (one value for all, or one per view; BYOL's paper: [1.0, 0.1])
    solarize_prob: list[float] = field(default_factory=lambda: [0.0])  # solarize probability per global view (BYOL: [0.0, 0.2])
    local_blur_prob: float = 0.5  # Gaussian blur probability on each local view
    blur_sigma: tuple[float, float] = (0.1, 2.0)  # Gaussian blur sigma range, in pixels


@dataclass
class ModelConfig:
    backbone: str = "vit_micro"  # a preset of selfsup.models or any timm model name
    global_pool: str | None = None  # override the preset's pooling: "token" ([CLS]), "avg" or "max" over patch tokens (ViTs)
    patch_size: int | None = None  # override a ViT preset's patch side (more tokens per image)
    proj_hidden: int = 512  # projection head hidden width (SimCLR, BYOL)
    proj_dim: int = 128  # projection head output width
    pred_hidden: int = 512  # BYOL's predictor hidden width


@dataclass
class SimCLRConfig:
    name: str = "simclr"
    temperature: float = 0.2  # NT-Xent temperature
    gather_distributed: bool = True  # gather negatives from every process (with gradient) under torchrun


@dataclass
class BYOLConfig:
    name: str = "byol"
    momentum: float = 0.99  # EMA momentum at step 0, raised to 1 by a cosine schedule
    momentum_end: float = 1.0  # EMA momentum at the last step
    predictor: bool = True  # False: the online projection is compared with the target directly (BYOL's collapse ablation)
    # LoGo (Zhang et al., CVPR 2022) on top of BYOL: needs augment.n_local >= 2
    logo: bool = False
    repel_weight: float = 1.0  # lambda on the local-local repulsion, before the gradient clip
    repel_grad_ratio: float = 0.5  # repulsion gradient norm <= this x attraction's, at the local embeddings
    affinity_hidden: int = 512  # LoGo: the affinity regressor's hidden width


@dataclass
class DistillConfig:
    """What the self-distillation methods (DINO, AttnDrop) share: heads, temperatures, centring, EMA."""

    name: str = ""
    out_dim: int = 4096  # the head's prototypes (DINO's ViT-S uses 65,536)
    hidden_dim: int = 2048  # the head MLP's hidden width
    bottleneck_dim: int = 256  # the head's bottleneck before the weight-normalised last layer
    norm_last_layer: bool = True  # fix the last layer's row norms to 1 (DINO's default; stabler)
    use_bn_in_head: bool = False  # BatchNorm in the head's MLP (DINO's option for ResNets; helps tiny ViTs)
    student_temp: float = 0.1  # student softmax temperature
    teacher_temp: float = 0.07  # teacher softmax temperature after warm-up
    warmup_teacher_temp: float = 0.04  # teacher temperature at step 0, raised linearly to teacher_temp
    warmup_teacher_temp_epochs: float = 30.0  # epochs of the teacher temperature warm-up
    centering: str = "center"  # center | sinkhorn | none
    center_momentum: float = 0.9  # EMA momentum of the teacher logits' centre
    momentum: float = 0.996  # teacher EMA momentum at step 0, raised to momentum_end by a cosine schedule
    momentum_end: float = 1.0  # teacher EMA momentum at the last step
    freeze_last_layer_epochs: float = 1.0  # epochs at the start in which the head's last layer gets no update
    koleo_weight: float = 0.0  # KoLeo spreading term on the student's global features (DINOv2: 0.1)
    patch_out_dim: int = 4096  # the patch (iBOT) head's prototypes
    patch_teacher_temp: float = 0.07  # patch head teacher temperature after warm-up
    patch_warmup_teacher_temp: float = 0.04  # patch head teacher temperature at step 0


@dataclass
class DINOConfig(DistillConfig):
    """DINO; with ``ibot_weight``, ``koleo_weight`` and ``centering="sinkhorn"`` the DINOv2 recipe."""

    name: str = "dino"
    ibot_weight: float = 0.0  # weight of iBOT's masked patch loss (DINOv2: 1.0; 0 turns iBOT and masking off)
    ibot_mask_ratio: tuple[float, float] = (0.1, 0.5)  # iBOT: range of the share of patches masked in a masked view
    ibot_mask_prob: float = 0.5  # fraction of global views that are masked


@dataclass
class AttnDropConfig(DistillConfig):
    """AttnDrop: DINO [CLS] loss + patch distillation at the kept tokens + pixel reconstruction
    of the dropped ones; the teacher's [CLS] attention picks the tokens the student keeps."""

    name: str = "attndrop"
    keep_ratio: float = 0.5  # share of patch tokens the student keeps; 1.0 turns dropping (and so reconstruction) off
    drop_policy: str = "attention"  # attention | random | low_attention
    w_cls: float = 1.0  # weight of the [CLS] distillation loss (0 turns it off)
    w_patch: float = 1.0  # weight of the patch distillation loss at the kept tokens
    w_recon: float = 1.0  # weight of the pixel reconstruction of the dropped patches
    norm_pix_loss: bool = True  # per-patch normalised pixel targets
    decoder_dim: int = 128  # pixel decoder width
    decoder_depth: int = 2  # pixel decoder blocks
    decoder_heads: int = 4  # pixel decoder attention heads


@dataclass
class MAEConfig:
    name: str = "mae"
    mask_ratio: float = 0.75  # share of patches removed at random
    norm_pix_loss: bool = True  # per-patch normalised pixel targets
    decoder_dim: int = 128  # decoder width
    decoder_depth: int = 2  # decoder blocks
    decoder_heads: int = 4  # decoder attention heads


@dataclass
class ImageTextConfig:
    """What the image-text methods share: the tokenizer, the text transformer and the embedding."""

    name: str = ""
    vocab_size: int = 1000  # the BPE tokenizer trained on the run's captions stops at this size
    context_length: int = 32  # tokens per caption, <start_of_text> and <end_of_text> included
    text_width: int = 128  # the text transformer's width
    text_layers: int = 4  # CoCa: the unimodal half; prefix-LM: the whole image+text transformer
    text_heads: int = 4  # the text transformer's attention heads
    embed_dim: int = 128  # width of the shared image-text embedding
    logit_scale_init: float = 2.659260036932778  # initial log logit scale, ln(1 / 0.07); the scale is clamped at 100
    gather_distributed: bool = True  # score each process's rows against features gathered from all (open_clip's local loss)


@dataclass
class CLIPConfig(ImageTextConfig):
    name: str = "clip"
    text_tower: str = "scratch"  # scratch | minilm: pretrained all-MiniLM-L6-v2, frozen (LiT); needs the `lit` extra


@dataclass
class CoCaConfig(ImageTextConfig):
    name: str = "coca"
    multimodal_layers: int = 2  # the decoder's half that cross-attends to the image
    caption_queries: int = 16  # attentional pooler queries the decoder attends to
    contrastive_weight: float = 1.0  # weight of the contrastive loss
    caption_weight: float = 2.0  # weight of the captioning loss


@dataclass
class PrefixLMConfig(ImageTextConfig):
    name: str = "prefix_lm"


METHOD_CONFIGS: dict[str, type] = {
    "simclr": SimCLRConfig,
    "byol": BYOLConfig,
    "dino": DINOConfig,
    "attndrop": AttnDropConfig,
    "mae": MAEConfig,
    "clip": CLIPConfig,
    "coca": CoCaConfig,
    "prefix_lm": PrefixLMConfig,
}


@dataclass
class OptimConfig:
    name: str = "adamw"  # adamw | sgd | lars
    lr: float = 1e-3  # peak learning rate, after warm-up
    min_lr: float = 1e-5  # learning rate at the end of the cosine schedule
    warmup_epochs: float = 1.0  # linear learning-rate warm-up
    weight_decay: float = 0.05  # weight decay (at the start, if weight_decay_end is set)
    weight_decay_end: float | None = None  # cosine weight-decay schedule end (None = constant)
    momentum: float = 0.9  # sgd / lars: momentum
    clip_grad: float | None = 3.0  # clip the gradient norm at this (None: no clipping)
    lars_eta: float = 0.02  # LARS trust coefficient


@dataclass
class TrainConfig:
    epochs: int = 20  # passes over the training data
    precision: str = "fp32"  # fp32 | bf16
    seed: int = 0  # seed of initialisation, views and data order
    threads: int | None = None  # torch intra-op threads (None = torch's default)
    out_dir: str = "runs"  # run folders are created here
    run_name: str | None = None  # default: <method>_<dataset>_<time>
    online_probe: bool = True  # train a linear probe on detached features during training (its accuracy at every evaluation)
    eval_every: int = 5  # epochs between kNN / collapse evaluations
    ckpt_every: int = 1  # epochs between checkpoints
    ckpt_every_steps: int | None = None  # also a checkpoint every N steps within an epoch (long epochs: a kill loses at most N steps)
    log_every: int = 10  # steps between `train` records in metrics.jsonl (mean loss over them)
    max_steps: int | None = None  # stop early (tests, smoke runs)
    progress: bool = True  # show progress bars


@dataclass
class EvalConfig:
    knn_k: int = 20  # kNN: neighbours that vote (cosine similarity)
    knn_temperature: float = 0.07  # kNN: votes weighted by exp(similarity / T)
    linear_epochs: int = 100  # offline linear probe: epochs on frozen, standardised features
    linear_lr: float = 0.1  # offline linear probe: learning rate
    batch_size: int = 512  # batch size of feature extraction
    max_train_images: int | None = None  # the kNN bank and the linear probe use at most this many training images (a seeded sample; None: all)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: Any = field(default_factory=SimCLRConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check and convert a YAML value to the field's declared type."""
    hint = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if hint in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: {value!r} is not a {annotation}")
    if hint in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        item = args[0] if args else Any
        items = [_coerce(v, item, key) for v in value]
        return tuple(items) if hint is tuple else items
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str):
        try:
            return float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string
        except ValueError:
            pass
    if annotation is Any or (isinstance(annotation, type) and isinstance(value, annotation)):
        if annotation is int and isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    raise ConfigError(f"{key}: expected {getattr(annotation, '__name__', annotation)}, got {value!r}")


def _fill(obj: Any, values: dict[str, Any], prefix: str) -> None:
    hints = typing.get_type_hints(type(obj))
    names = [f.name for f in dataclasses.fields(obj)]
    for key, value in values.items():
        if key not in names:
            raise ConfigError(
                f"unknown config key '{prefix}{key}'; valid keys in '{prefix.rstrip('.') or 'config'}': "
                + ", ".join(names)
            )
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and key != "method":
            if not isinstance(value, dict):
                raise ConfigError(f"'{prefix}{key}' is a section; give it a mapping of keys")
            _fill(current, value, f"{prefix}{key}.")
        elif key == "method":
            setattr(obj, key, _method_config(value, current))
        else:
            setattr(obj, key, _coerce(value, hints[key], f"{prefix}{key}"))


def _method_config(value: dict[str, Any] | str, current: Any) -> Any:
    if isinstance(value, str):
        value = {"name": value}
    name = value.get("name", current.name)
    if name not in METHOD_CONFIGS:
        raise ConfigError(f"unknown method '{name}'; valid methods: {', '.join(sorted(METHOD_CONFIGS))}")
    method = current if current.name == name else METHOD_CONFIGS[name]()
    _fill(method, {k: v for k, v in value.items() if k != "name"}, "method.")
    return method


def _nested(overrides: list[str]) -> dict[str, Any]:
    """``["optim.lr=0.1", "method=byol"]`` -> ``{"optim": {"lr": 0.1}, "method": {"name": "byol"}}``."""
    tree: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not of the form section.key=value")
        dotted, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError as e:
            raise ConfigError(f"override '{item}': {raw!r} is not a YAML value ({_yaml_problem(e)})") from e
        parts = dotted.split(".")
        if parts == ["method"]:
            parts = ["method", "name"]
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree


def _yaml_problem(e: yaml.YAMLError) -> str:
    """One line: what the YAML parser found and where (line and column, counted from 1)."""
    mark = getattr(e, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{getattr(e, 'problem', None) or e}{where}"


# Counts and sizes that must be at least this (the key is named when one is not).
MINIMUMS = {
    "data": {"batch_size": 1, "image_size": 1, "num_images": 2, "num_workers": 0, "shuffle_buffer": 1, "train_templates": 1},
    "augment": {"n_global": 1, "n_local": 0, "global_size": 1, "local_size": 1},
    "model": {"patch_size": 1, "proj_hidden": 1, "proj_dim": 1, "pred_hidden": 1},
    "train": {"epochs": 1, "log_every": 1, "eval_every": 1, "ckpt_every": 1, "ckpt_every_steps": 1, "max_steps": 1, "threads": 1},
    "eval": {"knn_k": 1, "linear_epochs": 1, "batch_size": 1, "max_train_images": 1},
}
METHOD_MINIMUMS = {"out_dim": 1, "hidden_dim": 1, "bottleneck_dim": 1, "patch_out_dim": 1, "decoder_dim": 1, "decoder_depth": 1, "decoder_heads": 1,
                   "vocab_size": 8, "context_length": 3, "text_width": 1, "text_layers": 1, "text_heads": 1, "embed_dim": 1, "multimodal_layers": 1,
                   "caption_queries": 1, "affinity_hidden": 1}


def check_counts(cfg: Config) -> None:
    """Every count and size is at least its minimum: ``train.epochs=0`` or ``data.batch_size=-5`` is an error naming the key."""
    sections = [(name, getattr(cfg, name), mins) for name, mins in MINIMUMS.items()] + [("method", cfg.method, METHOD_MINIMUMS)]
    for name, section, mins in sections:
        for key, low in mins.items():
            value = getattr(section, key, None)
            if value is not None and value < low:
                raise ConfigError(f"{name}.{key} is {value}; it must be at least {low}")
    for key in ("lr", "min_lr", "weight_decay"):
        if getattr(cfg.optim, key) < 0:
            raise ConfigError(f"optim.{key} is {getattr(cfg.optim, key)}; it must not be negative")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the YAML preset at ``path``, then ``key=value`` overrides."""
    cfg = Config()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path} is not valid YAML: {_yaml_problem(e)}") from e
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        _fill(cfg, values, "")
    if overrides:
        _fill(cfg, _nested(overrides), "")
    check_counts(cfg)
    return cfg


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """A copy of ``cfg`` with ``key=value`` overrides applied (checked as :func:`load_config` checks them)."""
    out = config_from_dict(config_to_dict(cfg))
    _fill(out, _nested(overrides), "")
    check_counts(out)
    return out


def config_from_dict(values: dict[str, Any]) -> Config:
    """Rebuild a config from :func:`config_to_dict`'s output (a run's saved ``config.yaml``)."""
    cfg = Config()
    _fill(cfg, values, "")
    return cfg


def config_to_dict(cfg: Config) -> dict[str, Any]:
    def plain(v: Any) -> Any:
        return list(v) if isinstance(v, tuple) else v

    out = dataclasses.asdict(cfg)
    for section in out.values():
        for k, v in section.items():
            section[k] = plain(v)
    return out
