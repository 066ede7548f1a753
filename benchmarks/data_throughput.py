"""Is data ever the bottleneck? Cache build and batch delivery against the step.

In one run, on CelebA-shaped files this script writes (178x218 JPEGs):

- cache build: images/s decoding, cropping and resizing into the cache, on
  every core (``ganforge data prepare`` does exactly this);
- delivery: shuffled 64x64x3 batches/s drawn from the memory-mapped cache the
  way the training loop draws them (``BatchSampler``);
- consumption: images/s the article's DCGAN training step takes at batch 32
  on this machine.

Goals: delivery >= 20x consumption, and >= 100,000 images/s (what a GPU
would ask for).

    python benchmarks/data_throughput.py               # 4,000 images, about 2 minutes
    python benchmarks/data_throughput.py --images 20000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

BATCH = 32


def write_jpegs(folder: Path, count: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
    folder.mkdir(parents=True)
    for index in range(count):
        # a smooth picture with per-file noise: JPEG work close to a photo's
        noise = rng.integers(0, 24, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(base // 2 + noise + np.uint8(index % 64)).save(folder / f"{index + 1:06d}.jpg", quality=90)


def anonymous_memory_mib() -> float:
    """Memory that is the process's own (not the page cache of mapped files), Linux only."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def delivery_images_per_s(dataset, batch_size: int, batches: int) -> float:
    from ganforge.data import BatchSampler

    sampler = BatchSampler(dataset, batch_size, seed=0)
    sampler.batch(0)
    start = time.perf_counter()
    checksum = 0
    for number in range(batches):
        checksum += int(sampler.batch(number)[0, 0, 0, 0])  # touch the data so nothing is skipped
    return batches * batch_size / (time.perf_counter() - start)


def large_cache_delivery(path: Path, rows: int) -> tuple[float, float, float]:
    """Delivery from a CelebA-sized memory-mapped cache: (images/s, MiB of cache, MiB of own memory gained)."""
    from ganforge.data import ArrayDataset

    images = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(rows, 64, 64, 3))
    for start in range(0, rows, 10_000):  # fill it in slices: never the whole array in memory
        images[start : start + 10_000] = np.uint8(start % 251)
    images.flush()
    del images
    dataset = ArrayDataset(np.load(path, mmap_mode="r"))
    before = anonymous_memory_mib()
    rate = delivery_images_per_s(dataset, 64, batches=rows // 64)  # one whole epoch, shuffled
    return rate, rows * 64 * 64 * 3 / 2**20, anonymous_memory_mib() - before


def step_images_per_s(dataset, steps: int) -> float:
    from ganforge.backend import tensorflow

    tensorflow()  # first, so TensorFlow's start-up notices stay quiet
    import keras

    from ganforge.data import BatchSampler
    from ganforge.training.engines.tensorflow.step import AdversarialStep
    from ganforge.training.step import LossTerms, Players, StepSettings
    from ganforge_dcgan.models import build_discriminator, build_generator
    from ganforge_losses.bce import NonSaturating

    generator = build_generator(dataset.spec, 100, preset="article")
    discriminator = build_discriminator(dataset.spec, preset="article")
    step = AdversarialStep(
        Players(generator, discriminator, LossTerms(NonSaturating())),
        keras.optimizers.Adam(2e-4, beta_1=0.9),
        keras.optimizers.Adam(2e-4, beta_1=0.9),
        StepSettings(batch_size=BATCH, latent_dim=100),
    )
    sampler = BatchSampler(dataset, BATCH, seed=0)
    for number in range(3):
        step(sampler.batch(number)[None], number)[0].numpy()
    start = time.perf_counter()
    for number in range(steps):
        losses = step(sampler.batch(number)[None], number)
    losses[0].numpy()
    return steps * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000, help="JPEGs to write and prepare")
    parser.add_argument("--steps", type=int, default=15, help="timed training steps")
    parser.add_argument(
        "--large", type=int, default=202_599, help="rows of the CelebA-sized cache for the memory check (0: skip)"
    )
    args = parser.parse_args()

    from ganforge.data.cache import CachedImageDataset, FolderSource
    from ganforge.data.imagefiles import Preprocess

    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir) / "img_align_celeba"
        print(f"writing {args.images} JPEGs of 178x218 ...")
        write_jpegs(folder, args.images)
        names = sorted(p.name for p in folder.iterdir())

        dataset = CachedImageDataset(
            "bench", FolderSource(folder), names, Preprocess("none", 64, 3), cache_root=Path(workdir) / "cache"
        )
        start = time.perf_counter()
        dataset.prepare()
        build = args.images / (time.perf_counter() - start)

        reused = CachedImageDataset(
            "bench", FolderSource(folder), names, Preprocess("none", 64, 3), cache_root=Path(workdir) / "cache"
        )
        start = time.perf_counter()
        reused.prepare()
        reuse_s = time.perf_counter() - start

        memory_before = anonymous_memory_mib()
        delivery = {
            size: delivery_images_per_s(dataset, size, batches=max(200, 400_000 // size // 4)) for size in (32, 64, 256)
        }
        memory_growth = anonymous_memory_mib() - memory_before
        cache_mib = dataset.cache.images.nbytes / 2**20
        large = large_cache_delivery(Path(workdir) / "large.npy", args.large) if args.large else None
        consumption = step_images_per_s(dataset, args.steps)

    print(f"\ncache build     {build:>12,.0f} images/s   ({args.images} JPEGs 178x218 -> 64x64x3, all cores)")
    print(f"cache reuse     {reuse_s:>12.2f} s          (manifest check of {args.images} files)")
    for size, rate in delivery.items():
        print(f"delivery b={size:<4}{rate:>12,.0f} images/s   (shuffled, from the memory-mapped cache)")
    print(
        f"memory          {memory_growth:>+12.1f} MiB      (process-owned memory while delivering ~{sum(max(200, 400_000 // s // 4) * s for s in (32, 64, 256)):,} images from a {cache_mib:.0f} MiB cache)"
    )
    if large:
        print(
            f"large cache b=64{large[0]:>12,.0f} images/s   (one shuffled epoch of a {large[1]:,.0f} MiB cache; own memory {large[2]:+.1f} MiB)"
        )
    print(f"step consumes   {consumption:>12,.1f} images/s   (article DCGAN, batch {BATCH}, this CPU)")
    ratio = delivery[BATCH] / consumption
    print(f"\ndelivery / consumption at batch {BATCH}: {ratio:,.0f}x  (goal >= 20x)")
    print(f"delivery at batch 64: {delivery[64]:,.0f} images/s  (goal >= 100,000)")


if __name__ == "__main__":
    main()
