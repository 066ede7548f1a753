"""Images/s of the article's DCGAN on one replica and on several, at the same global batch.

One device against ``[distribute] strategy = "mirrored"`` over N devices, trained by the
real ``train()`` loop (see ``step_throughput.py``) in one process, round by round
alternating, medians compared:

- on a machine without GPUs the CPU is split into N logical devices (``distribute.cpu_devices``):
  they share the same cores, so N replicas cannot be faster, and the ratio is the price of the
  strategy itself — splitting the batch, running the replicas, all-reducing the gradients;
- on a machine with N GPUs the same command measures the real speed-up.

    python benchmarks/scaling.py                         # 1 and 2 replicas, batch 32 and 64
    python benchmarks/scaling.py --replicas 4 --batch 256 --steps 50   # a 4-GPU machine
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from step_throughput import ganforge_images_per_s  # noqa: E402


def measure(replicas: int, batch: int, steps: int, rounds: int, split_cpu: int) -> dict[str, list[float]]:
    one = f'[distribute]\nstrategy = "none"\ncpu_devices = {split_cpu}\n'
    several = f'[distribute]\nstrategy = "mirrored"\ncpu_devices = {split_cpu}\n'
    if split_cpu == 1:  # GPUs: the first N of them
        several += "devices = [" + ", ".join(f'"GPU:{index}"' for index in range(replicas)) + "]\n"
    times: dict[str, list[float]] = {"one": [], "several": []}
    for _ in range(rounds):
        times["one"].append(ganforge_images_per_s(batch, steps, "auto", one))
        times["several"].append(ganforge_images_per_s(batch, steps, "auto", several))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2, help="replicas to compare with one device")
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 64], help="global batch sizes")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per batch size")
    args = parser.parse_args()

    from ganforge.backend import tensorflow

    tf = tensorflow()
    gpus = len(tf.config.list_physical_devices("GPU"))
    if gpus and gpus < args.replicas:
        parser.error(f"--replicas {args.replicas}: this machine has {gpus} GPU(s)")
    split_cpu = 1 if gpus else args.replicas
    where = f"{args.replicas} GPUs" if gpus else f"the CPU split into {args.replicas} logical devices"
    print(f"Article DCGAN 64x64x3: one replica against {args.replicas} on {where}, same global batch")
    print(f"medians of {args.rounds} alternating rounds of {args.steps} steps (min-max in brackets)\n")
    print(f"{'batch':>6}{'1 replica img/s':>24}{f'{args.replicas} replicas img/s':>24}{'ratio':>8}")
    for batch in args.batch:
        times = measure(args.replicas, batch, args.steps, args.rounds, split_cpu)
        one, several = statistics.median(times["one"]), statistics.median(times["several"])
        spread = lambda values: f"[{min(values):.0f}-{max(values):.0f}]"  # noqa: E731
        print(
            f"{batch:>6}{one:>14.1f} {spread(times['one']):>9}{several:>14.1f} {spread(times['several']):>9}"
            f"{several / one:>8.2f}"
        )


if __name__ == "__main__":
    main()
