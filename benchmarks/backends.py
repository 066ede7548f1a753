"""Images/s of ganforge's training loop on TensorFlow and on JAX, side by side on this machine.

The article's DCGAN (64x64x3) through the real loop on an in-memory dataset, at batch 32 and 64.
Keras takes one backend per process, so each measurement runs in a process of its own; the two
backends alternate, round by round, and the medians are compared, so a change in the machine's
load hits both alike.

    python benchmarks/backends.py                        # ~6 minutes on 2 cores
    python benchmarks/backends.py --steps 5 --rounds 1   # a quick, noisy look
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BACKENDS = ("tensorflow", "jax")


def measure_in_a_new_process(backend: str, batch: int, steps: int) -> float:
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1])\n"
        "from step_throughput import ganforge_images_per_s\n"
        "print(json.dumps(ganforge_images_per_s(int(sys.argv[2]), int(sys.argv[3]), 'auto', backend=sys.argv[4])))\n"
    )
    folder = str(Path(__file__).resolve().parent)
    child = subprocess.run(
        [sys.executable, "-c", code, folder, str(batch), str(steps), backend],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per batch size")
    args = parser.parse_args()
    print(f"medians of {args.rounds} alternating rounds, images/s (min-max in brackets)\n")
    print(f"{'batch':>5}{'tensorflow':>22}{'jax':>22}{'tensorflow / jax':>18}")
    for batch in (32, 64):
        found = {backend: [] for backend in BACKENDS}
        for _ in range(args.rounds):
            for backend in BACKENDS:
                found[backend].append(measure_in_a_new_process(backend, batch, args.steps))
        medians = {backend: statistics.median(values) for backend, values in found.items()}
        cells = "".join(f"{medians[b]:>12.1f} [{min(found[b]):.0f}-{max(found[b]):.0f}]".rjust(22) for b in BACKENDS)
        print(f"{batch:>5}{cells}{medians['tensorflow'] / medians['jax']:>18.2f}", flush=True)


if __name__ == "__main__":
    main()
