"""Data loading of real photos: lightly's multi-crop loader against selfsup's streamed pipeline.

Builds a folder of N JPEGs (random crops of the real photos scikit-learn and scikit-image ship,
re-encoded at 500x375, quality 90, in 10 class subfolders) and, in one process with the same
workers, measures source images per second of:

- lightly (the anchor): torchvision ``ImageFolder`` + lightly's ``DINOTransform`` (2x224 + 6x96)
  or ``SimCLRTransform(224)``, as lightly's examples load data;
- decode only (the limit): selfsup's decoder (libjpeg-turbo), full size, no augmentation;
- selfsup, views ready: each view cropped from the decoded photo and resized (uint8, before
  photometric augmentation);
- selfsup, views as the trainer consumes them: the same plus the batched photometric
  augmentation (``MultiCropAugment``) in the main process, on the CPU.

Then peak RSS (main process and the largest worker) while reading 2k and 20k-image folders, and
the time from start to the first batch on the larger one.

    python benchmarks/bench_data.py --images 400 --workers 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from selfsup.augment import MultiCropAugment
from selfsup.config import AugmentConfig, DataConfig
from selfsup.data import build_dataset, for_training, make_loader
from selfsup.data.decode import decode

DINO = AugmentConfig(n_global=2, n_local=6, global_size=224, local_size=96, global_scale=(0.4, 1.0), local_scale=(0.05, 0.4), hflip=True, blur_prob=[1.0, 0.1], solarize_prob=[0.0, 0.2])
SIMCLR = AugmentConfig(n_global=2, global_size=224, global_scale=(0.08, 1.0), hflip=True, blur_prob=[0.5], solarize_prob=[0.0])
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def source_photos() -> list[np.ndarray]:
    """The RGB photos the packages ship (no download)."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    photos = list(load_sample_images().images)
    for name in ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "cat"):
        image = getattr(skimage.data, name)()
        if image.ndim == 3 and image.shape[2] == 3:
            photos.append(image)
    return photos


def build_folder(root: Path, n: int, seed: int = 0) -> Path:
    """N JPEGs at 500x375, q90, each a random crop (60-100 % of each side) of a real photo, in 10 classes."""
    done = root / f".done_{n}"
    if done.is_file():
        return root
    photos = source_photos()
    rng = np.random.default_rng(seed)
    for i in range(n):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        ch, cw = int(h * rng.uniform(0.6, 1.0)), int(w * rng.uniform(0.6, 1.0))
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        folder = root / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo[y : y + ch, x : x + cw]).resize((500, 375), Image.BICUBIC).save(folder / f"{i:06d}.jpg", quality=90)
    done.write_text("")
    return root


def rate(batches, count) -> float:  # noqa: ANN001 - an iterable of batches, a function counting a batch's images
    """Source images per second after the first batch (worker start-up excluded)."""
    it = iter(batches)
    next(it)
    t0, n = time.perf_counter(), 0
    for batch in it:
        n += count(batch)
    return n / (time.perf_counter() - t0)


def lightly_rate(root: Path, transform, batch: int, workers: int) -> float:  # noqa: ANN001
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    loader = DataLoader(ImageFolder(str(root), transform=transform), batch_size=batch, num_workers=workers)
    return rate(loader, lambda b: len(b[1]))


class DecodeOnly(torch.utils.data.Dataset):
    """The same files through selfsup's decoder at full size, nothing else."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        return decode(self.files[i].read_bytes(), str(self.files[i]))


def decode_rate(root: Path, batch: int, workers: int) -> float:
    from torch.utils.data import DataLoader

    files = sorted(root.rglob("*.jpg"))
    loader = DataLoader(DecodeOnly(files), batch_size=batch, num_workers=workers, collate_fn=list)
    return rate(loader, len)


def selfsup_rates(root: Path, views: AugmentConfig, batch: int, workers: int) -> tuple[float, float]:
    """(views ready, views as the trainer consumes them)."""
    data = DataConfig(name="folder", path=str(root), image_size=224, test_fraction=0.0)
    dataset = build_dataset(data, train=True)
    augment = MultiCropAugment(views, 224, MEAN, STD)
    streamed = for_training(dataset, augment.worker_views(3))
    ready = rate(make_loader(streamed, batch, shuffle=True, num_workers=workers), lambda b: len(b.labels))
    consumed = rate(augmented(make_loader(streamed, batch, shuffle=True, num_workers=workers), augment), lambda b: len(b.labels))
    return ready, consumed


def augmented(loader, augment: MultiCropAugment):  # noqa: ANN001, ANN201 - a generator of batches
    """Batches after the trainer's photometric augmentation of their views."""
    for batch in loader:
        augment(batch.views)
        yield batch


def memory_probe(root: str, workers: int, batches: int) -> None:
    """(child process) Read ``batches`` DINO batches of the folder; print start-up and peak RSS as JSON."""
    t0 = time.perf_counter()
    dataset = build_dataset(DataConfig(name="folder", path=root, image_size=224, test_fraction=0.0), train=True)
    augment = MultiCropAugment(DINO, 224, MEAN, STD)
    loader = make_loader(for_training(dataset, augment.worker_views(3)), 32, shuffle=True, num_workers=workers)
    first, workers_peak = None, 0.0
    for i, _ in enumerate(loader):
        first = first or time.perf_counter() - t0
        if i + 1 >= batches:
            workers_peak = max((peak_rss_mb(pid) for pid in child_pids()), default=0.0)  # while the workers live
            break
    print(json.dumps({"images": len(dataset), "first_batch_s": first, "main_rss_mb": peak_rss_mb("self"), "worker_rss_mb": workers_peak}))


def peak_rss_mb(pid: int | str) -> float:
    """A process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child_pids() -> list[int]:
    return [int(p) for task in Path("/proc/self/task").iterdir() for p in (task / "children").read_text().split()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=400, help="photos in the speed folder")
    p.add_argument("--workers", type=int, default=2, help="loader workers for every pipeline")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--root", default="/tmp/selfsup_bench_data", help="where the JPEG folders are built (kept between runs)")
    p.add_argument("--memory-sizes", type=int, nargs="*", default=[2000, 20000], help="folder sizes for the peak-RSS probe (none: skip it)")
    p.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)  # internal: ROOT BATCHES, run in a child process
    args = p.parse_args()
    if args.probe:
        memory_probe(args.probe[0], args.workers, int(args.probe[1]))
        return
    from lightly.transforms import DINOTransform, SimCLRTransform

    torch.set_num_threads(2)
    root = build_folder(Path(args.root) / f"speed_{args.images}", args.images)
    limit = decode_rate(root, args.batch, args.workers)
    print(f"{args.images} JPEGs at 500x375, batch {args.batch}, {args.workers} workers, {torch.get_num_threads()} main threads; source images/s")
    print(f"decode only (full size, libjpeg-turbo): {limit:.0f}")
    for name, views, transform in (("DINO 2x224 + 6x96", DINO, DINOTransform()), ("SimCLR 2x224", SIMCLR, SimCLRTransform(input_size=224))):
        anchor = lightly_rate(root, transform, args.batch, args.workers)
        ready, consumed = selfsup_rates(root, views, args.batch, args.workers)
        print(f"{name}: lightly {anchor:.1f} | selfsup views ready {ready:.0f} ({ready / limit:.2f}x decode) | as consumed {consumed:.0f} ({consumed / anchor:.1f}x lightly)")
    for n in args.memory_sizes:
        folder = build_folder(Path(args.root) / f"memory_{n}", n)
        out = subprocess.run([sys.executable, __file__, "--workers", str(args.workers), "--probe", str(folder), "30"], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['images']} images: first batch after {r['first_batch_s']:.1f} s; peak RSS main {r['main_rss_mb']:.0f} MB, largest worker {r['worker_rss_mb']:.0f} MB (30 batches of 32)")


if __name__ == "__main__":
    main()
