"""Stacked MNIST: how many of the 1,000 digit triples a built-in recipe's DCGAN makes.

Trains ``recipes/stacked_mnist.toml`` (or ``--recipe``) for each seed and
reads the final ``stacked_modes`` evaluation (26,000 samples, each channel
labelled by the ``digits`` classifier). The real data, labelled the same
way, is measured first: the ceiling the classifier allows. Prints a markdown
table with the published rows beneath, and writes it to ``--out``.

    python benchmarks/stacked_mnist.py                  # 1 seed, about 30 minutes on 2 CPU cores
    python benchmarks/stacked_mnist.py --seeds 3 --out stacked.md
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np

from runs import RECIPES, emit, mean_std, train_and_evaluate

# (method, modes, KL), from ARTICLE.md
PUBLISHED = [
    ("DCGAN (VEEGAN table)", "99", "—"),
    ("DCGAN (PacGAN table)", "78.9", "—"),
    ("PacDCGAN2 (PacGAN table)", "1,000", "0.06"),
]


def real_data_row(samples: int) -> dict:
    """The metric on real stacked digits: what a perfect generator would score with this classifier."""
    from ganforge.data.pixels import to_unit_range
    from ganforge_mnist.stacked import StackedDigits, StackedModes, mode_histogram

    dataset = StackedDigits(size=50_000, seed=0)
    metric = StackedModes(samples, "digits")
    chosen = np.random.default_rng(1).permutation(len(dataset))[:samples]
    labels = metric.labels(to_unit_range(dataset.read(chosen)))
    agreement = float(np.mean(labels @ np.array([100, 10, 1]) == dataset.modes[chosen]))
    return {**mode_histogram(labels), "triples_read_right": agreement}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="stacked_mnist")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, help="override train.steps (quicker, not the benchmark)")
    parser.add_argument("--out", type=Path, help="also write the table to this markdown file")
    args = parser.parse_args()

    from ganforge.backend import tensorflow

    tensorflow()  # imported quietly, before the classifier imports it
    real = real_data_row(26_000)
    print(
        f"real stacked digits: {real['modes']} modes, KL {real['reverse_kl']:.3f}, "
        f"{100 * real['triples_read_right']:.1f}% of triples read right",
        flush=True,
    )
    results, times = [], []
    with tempfile.TemporaryDirectory() as workdir:
        for seed in range(args.seeds):
            result, seconds = train_and_evaluate(
                RECIPES / f"{args.recipe}.toml", seed, args.steps, Path(workdir), "stacked_modes"
            )
            results.append(result)
            times.append(seconds)
            print(
                f"{args.recipe} seed {seed}: {result['modes']:.0f} modes, KL {result['reverse_kl']:.3f} ({seconds:.0f} s)",
                flush=True,
            )

    lines = [
        "| | modes (of 1,000) | reverse KL | minutes per run |",
        "|---|---|---|---|",
        f"| real data, same classifier | {real['modes']} | {real['reverse_kl']:.3f} | — |",
        f"| `{args.recipe}` ({args.seeds} seed{'s' if args.seeds > 1 else ''}) | {mean_std([r['modes'] for r in results], 1)} | "
        f"{mean_std([r['reverse_kl'] for r in results], 3)} | {statistics.mean(times) / 60:.0f} |",
    ]
    lines += [f"| {method} (published) | {modes} | {kl} | — |" for method, modes, kl in PUBLISHED]
    emit("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
