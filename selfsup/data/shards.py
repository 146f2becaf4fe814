"""WebDataset tar shards in open_clip's layout, read as a stream: ``data.path='shards/{00000..00099}.tar'``.

Each sample is the members sharing a key: an image (``jpg``, ``jpeg``, ``png``, ``webp``), an
optional integer class (``cls``) and an optional caption (``txt``). Beside the shards,
``sizes.json`` (open_clip's: shard file name -> samples) gives the epoch's length without
reading them, and ``classes.json`` the class names (both written by ``selfsup shards``).

Shards are split over processes (rank r takes every world-th shard of the epoch's seeded
order) and then over each process's loader workers, so every sample is read by one worker of
one process per pass. Within a worker, samples pass through a seeded shuffle buffer of raw
bytes, decoded only when they leave it.
"""

from __future__ import annotations

import itertools
import json
import random
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

from torch import Tensor
from torch.utils.data import IterableDataset, get_worker_info

from .base import DataError
from .stream import Bad, StreamingDataset

IMAGE_KEYS = ("jpg", "jpeg", "png", "webp")
SIZES_FILE = "sizes.json"
CLASSES_FILE = "classes.json"


def expand_shards(pattern: str | None) -> list[Path]:
    """The shard files a brace pattern (``a/{000..009}.tar``, ``::``-joined lists) names; each must exist."""
    from webdataset.shardlists import expand_urls

    if not pattern:
        raise DataError("wds: set data.path to the shards, e.g. 'shards/{00000..00099}.tar'")
    paths = [Path(u).expanduser() for u in expand_urls(pattern)]
    missing = [p for p in paths if not p.is_file()]
    if not paths or len(missing) == len(paths):
        raise DataError(f"wds: no shard file matches {pattern!r}")
    if missing:
        raise DataError(f"wds: {len(missing)} of the {len(paths)} shards {pattern!r} names do not exist, the first {missing[0]}")
    return paths


def count_samples(shard: Path) -> int:
    """Samples in one shard, from its member headers (seeks past the data)."""
    from webdataset.tariterators import base_plus_ext

    try:
        with tarfile.open(shard, "r:") as tar:
            return len({base_plus_ext(m.name)[0] for m in tar if m.isreg()} - {None})  # the keys webdataset groups by
    except (tarfile.TarError, OSError) as e:
        raise DataError(f"wds: cannot read shard {shard}: {e}") from e


def shard_sizes(shards: list[Path]) -> list[int]:
    """Samples per shard: from ``sizes.json`` beside them where it lists them, else counted."""
    listed: dict[str, int] = {}
    for folder in {s.parent for s in shards}:
        if (folder / SIZES_FILE).is_file():
            listed.update({str(folder / k): int(v) for k, v in json.loads((folder / SIZES_FILE).read_text()).items()})
    return [listed[str(s)] if str(s) in listed else count_samples(s) for s in shards]


def shard_classes(shards: list[Path]) -> list[str] | None:
    file = shards[0].parent / CLASSES_FILE
    return json.loads(file.read_text()) if file.is_file() else None


def _members(shard: Path, errors: list[Bad]) -> Iterator[dict]:
    """Samples of one shard as dicts of member suffix -> bytes (plus ``__key__``); a damaged
    shard ends with a :class:`Bad` in ``errors`` naming the shard and the member reached."""
    from webdataset.tariterators import tarfile_samples

    last = {"key": "its first member"}

    def record(exn: Exception) -> bool:
        errors.append(Bad(f"{shard} after {last['key']}", f"wds: shard {shard} is damaged after {last['key']}: {exn.args[0] if exn.args else exn}"))
        return False  # stop reading this shard

    before = len(errors)
    for sample in tarfile_samples([{"url": str(shard)}], handler=record):
        if len(errors) > before:
            return  # the members read before the damage: a partial sample, not one to use
        last["key"] = sample["__key__"]
        yield sample


class ShardImages(StreamingDataset, IterableDataset):
    """Images (and classes, captions) streamed from tar shards; items as :class:`~selfsup.data.stream.ImageFiles`'.

    ``repeat``: after its shards, a worker starts over (training, so that no process runs dry
    before the trainer's epoch of ``len(self) // batch`` steps ends); off for one pass (evaluation).
    """

    def __init__(self, shards: list[Path], image_size: int, channels: int = 3, skip_bad: bool = False, shuffle_buffer: int = 1000, seed: int = 0) -> None:
        super().__init__(image_size, channels, shard_classes(shards), skip_bad)
        self.shards = shards
        self.sizes = shard_sizes(shards)
        self.shuffle_buffer = shuffle_buffer
        self.seed = seed
        self.shuffle, self.repeat = False, False
        self.rank, self.world = 0, 1
        self.epoch, self.skip_batches, self.batch_size = 0, 0, 1
        self.encode_caption: Callable[[str], Tensor] | None = None

    def __len__(self) -> int:
        return sum(self.sizes)

    def split(self, rank: int, world: int) -> None:
        """Read rank ``rank``'s share of ``world`` processes: every world-th shard. Each sample is read
        once per epoch when the shards split evenly (equal sizes, a multiple of world x workers);
        otherwise a process that runs out early starts its shards over for the epoch's last steps."""
        if len(self.shards) < world:
            raise DataError(f"wds: {len(self.shards)} shards cannot feed {world} processes; write smaller shards (selfsup shards --shard-size)")
        self.rank, self.world = rank, world

    def set_epoch(self, epoch: int, skip_batches: int = 0, batch_size: int = 1) -> None:
        """Start epoch ``epoch``'s order, ``skip_batches`` of this process's batches in (resuming)."""
        self.epoch, self.skip_batches, self.batch_size = epoch, skip_batches, batch_size

    def _my_shards(self, worker: int, workers: int) -> list[Path]:
        order = list(self.shards)
        if self.shuffle:
            random.Random(self.seed + self.epoch).shuffle(order)
        return order[self.rank :: self.world][worker::workers]

    def _samples(self, shards: list[Path]) -> Iterator[dict | Bad]:
        errors: list[Bad] = []
        for shard in shards:
            for sample in _members(shard, errors):
                yield sample
            yield from errors
            errors.clear()

    def __iter__(self) -> Iterator[tuple | Bad]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        # The loader takes batches from its workers in turn, from worker 0: the stream that made batch
        # k made every workers-th batch from it. Resuming `skip_batches` in, worker w plays the part of
        # the stream that made batch skip_batches + w, past its own batches before that.
        role = (worker + self.skip_batches) % workers
        shards = self._my_shards(role, workers)
        if not shards:
            return
        skip = len(range(role, self.skip_batches, workers)) * self.batch_size
        rng = random.Random(hash((self.seed, self.epoch, self.rank, role)))
        for sample in itertools.islice(self._shuffled(shards, rng), skip, None):  # skipped ones are never decoded
            yield self._decode(sample)

    def _shuffled(self, shards: list[Path], rng: random.Random) -> Iterator[dict | Bad]:
        """The shards' still-encoded samples through the shuffle buffer: one pass, or pass after pass (``repeat``)."""
        buffer: list[dict | Bad] = []
        while True:
            good = 0
            for sample in self._samples(shards):
                good += not isinstance(sample, Bad)
                if not (self.shuffle and self.shuffle_buffer > 1):
                    yield sample
                    continue
                buffer.append(sample)
                if len(buffer) >= self.shuffle_buffer:
                    yield buffer.pop(rng.randrange(len(buffer)))
            while buffer:
                yield buffer.pop(rng.randrange(len(buffer)))
            if not self.repeat or not good:  # one pass, or nothing readable to repeat
                return

    def _decode(self, sample: dict | Bad) -> tuple | Bad:
        if isinstance(sample, Bad):
            return sample
        where = f"{sample['__url__']}:{sample['__key__']}"
        data = next((sample[k] for k in IMAGE_KEYS if k in sample), None)
        try:
            label = int(sample["cls"]) if "cls" in sample else -1
        except ValueError:
            return Bad(where, f"{where}: cls is not an integer: {sample['cls'][:20]!r}")
        text = None
        if self.encode_caption is not None:
            caption = sample.get("txt", b"").decode("utf-8", "replace").strip()
            if not caption:
                return Bad(where, f"{where}: empty caption")
            text = self.encode_caption(caption)
        return self._item(data, where, label, text)

    def read_captions(self, limit: int) -> list[str]:
        """Up to ``limit`` captions from the first shards (to train the tokenizer on), reading only ``txt`` members."""
        out: list[str] = []
        errors: list[Bad] = []
        for shard in self.shards:
            for sample in _members(shard, errors):
                if "txt" in sample:
                    out.append(sample["txt"].decode("utf-8", "replace").strip())
                if len(out) >= limit:
                    return out
        return out
