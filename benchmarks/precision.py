"""Images/s of the article's DCGAN in float32 and in mixed precision, on this machine.

The real ``train()`` loop (see ``step_throughput.py``), one process, the precisions
alternating round by round, medians compared. On a CPU, 16-bit math is fast only with the
instructions for it (AVX512_BF16 or AMX for bfloat16; AVX512_FP16 or AMX-FP16 for float16):
the script prints which of them this CPU has, beside the figures.

    python benchmarks/precision.py                 # batch 32 and 64, ~10 minutes on 2 cores
    python benchmarks/precision.py --batch 64 --rounds 1 --steps 10   # a quick look
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from step_throughput import ganforge_images_per_s  # noqa: E402

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per batch size")
    args = parser.parse_args()

    from ganforge.training.precision import CPU_FLAGS, cpu_flags

    flags = cpu_flags()
    has = sorted(flag for wanted in CPU_FLAGS.values() for flag in wanted if flag in flags)
    print(f"Article DCGAN 64x64x3; this CPU's 16-bit instructions: {', '.join(has) or 'none'}")
    print(f"medians of {args.rounds} alternating rounds of {args.steps} steps (min-max in brackets)\n")
    print(f"{'batch':>6}" + "".join(f"{name + ' img/s':>26}" for name in PRECISIONS) + "   ratios to float32")
    for batch in args.batch:
        times: dict[str, list[float]] = {name: [] for name in PRECISIONS}
        for _ in range(args.rounds):
            for name in PRECISIONS:
                times[name].append(ganforge_images_per_s(batch, args.steps, "auto", precision=name))
        medians = {name: statistics.median(values) for name, values in times.items()}
        cells = "".join(
            f"{medians[name]:>15.1f} [{min(times[name]):.0f}-{max(times[name]):.0f}]".rjust(26) for name in PRECISIONS
        )
        ratios = " / ".join(f"{medians[name] / medians['float32']:.2f}" for name in PRECISIONS[1:])
        print(f"{batch:>6}{cells}   {ratios}")


if __name__ == "__main__":
    main()
