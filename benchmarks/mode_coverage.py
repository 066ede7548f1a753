"""Mode coverage of each loss on the ring and grid mixtures, against the published tables.

For every recipe (``recipes/ring8*.toml`` and ``recipes/grid25*.toml``) and
every seed, train, then read the final ``mode_coverage`` evaluation
(2,500 samples): modes captured, % high-quality samples, reverse KL.
Prints a markdown table in the papers' format (mean ± std over seeds),
with the published rows beneath, and writes it to ``--out``.

    python benchmarks/mode_coverage.py                          # every recipe, 5 seeds: hours
    python benchmarks/mode_coverage.py --recipes grid25 --seeds 5
    python benchmarks/mode_coverage.py --recipes ring8 grid25_wgan_gp --seeds 2 --steps 2000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from runs import RECIPES, emit, mean_std, train_and_evaluate

# (method, ring modes, ring % high quality, grid modes, grid % high quality), from ARTICLE.md
PUBLISHED = [
    ("GAN (VEEGAN table)", "1", "99.3", "3.3", "0.5"),
    ("Unrolled GAN (VEEGAN table)", "7.6", "35.6", "23.6", "16"),
    ("VEEGAN", "8", "52.9", "24.6", "40"),
    ("GAN (PacGAN table)", "6.3", "98.2", "17.3", "94.8"),
    ("PacGAN4", "7.8", "95.9", "24.8", "93.6"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="*", help="recipe names (default: every ring8* and grid25* recipe)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, help="override train.steps (quicker, not the benchmark)")
    parser.add_argument("--out", type=Path, help="also write the table to this markdown file")
    args = parser.parse_args()

    names = args.recipes or sorted(p.stem for p in RECIPES.glob("*.toml") if p.stem.startswith(("ring8", "grid25")))
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in names:
            results, times = [], []
            for seed in range(args.seeds):
                result, seconds = train_and_evaluate(
                    RECIPES / f"{name}.toml", seed, args.steps, Path(workdir), "mode_coverage"
                )
                results.append(result)
                times.append(seconds)
                print(
                    f"{name} seed {seed}: {result['modes']:.0f} modes, {result['high_quality_percent']:.1f}% high quality, "
                    f"reverse KL {result['reverse_kl']:.3f} ({seconds:.0f} s)",
                    flush=True,
                )
            rows.append((name, results, times))

    lines = [
        "| recipe | modes | % high quality | reverse KL | seconds per run |",
        "|---|---|---|---|---|",
    ]
    for name, results, times in rows:
        lines.append(
            f"| `{name}` | {mean_std([r['modes'] for r in results], 1)} | "
            f"{mean_std([r['high_quality_percent'] for r in results], 1)} | "
            f"{mean_std([r['reverse_kl'] for r in results], 3)} | {statistics.mean(times):.0f} |"
        )
    lines += [
        "",
        f"{args.seeds} seeds each, 2,500 samples per evaluation.",
        "",
        "| published | ring modes | ring % high quality | grid modes | grid % high quality |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in PUBLISHED]
    emit("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
