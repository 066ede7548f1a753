"""The conditional digits goal: recipes/conditional_digits.toml against the unconditional quickstart,
at the same budget (the quickstart's 2,000 steps of 64), the same seeds and the same FID.

Each run is the real command (``ganforge run RECIPE --set seed=N``, one process per run); the
quickstart is evaluated with the conditional recipe's FID (5,000 samples against the 5,000 digits on
the ``digits`` network). Prints a markdown table with mean ± std over seeds, and the goals:
class consistency of at least 95%, and an FID no worse than the quickstart's.

    python benchmarks/conditional_digits.py                 # 3 seeds: about 40 minutes on 2 CPU cores
    python benchmarks/conditional_digits.py --seeds 1 --steps 300   # a quick look
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from leaderboard import read_run

from runs import RECIPES, emit, mean_std

SAME_FID = 'eval.metrics=[{ name = "fid", samples = 5000, reference_samples = 5000 }]'
RUNS = {  # label -> (recipe, overrides)
    "unconditional (quickstart)": ("quickstart.toml", [SAME_FID, "eval.every=0"]),
    "conditional (projection D, label embedding G)": ("conditional_digits.toml", []),
}


def train(recipe: str, overrides: list[str], seed: int, steps: int | None, workdir: Path) -> dict:
    folder = workdir / f"{Path(recipe).stem}-seed{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    command = [sys.executable, "-m", "ganforge", "run", str(RECIPES / recipe)]
    settings = [*overrides, f"seed={seed}", f"output_dir={json.dumps(str(folder))}", 'sinks=["jsonl", "png"]']
    if steps:
        settings.append(f"train.steps={steps}")
    for setting in settings:
        command += ["--set", setting]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    (run,) = [path for path in folder.iterdir() if path.is_dir()]
    return {"run": str(run), "seconds": time.perf_counter() - start, **read_run(run)}


def table(results: dict[str, list[dict]]) -> str:
    def column(runs: list[dict], key: str, scale: float = 1.0, digits: int = 1) -> str:
        if key not in runs[0]["results"]:
            return "—"
        return mean_std([scale * r["results"][key] for r in runs], digits)

    lines = [
        "| run | steps | class consistency (%) | FID | intra-class FID | img/s | minutes per run |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, runs in results.items():
        lines.append(
            f"| {label} | {runs[0]['steps']:,} | {column(runs, 'class_consistency/class_consistency', 100)} | "
            f"{column(runs, 'fid/fid')} | {column(runs, 'intra_fid/intra_fid')} | "
            f"{statistics.mean(r['images_per_s'] for r in runs):.0f} | "
            f"{statistics.mean(r['seconds'] for r in runs) / 60:.1f} |"
        )
    plain, conditional = results.values()
    consistency = statistics.mean(r["results"]["class_consistency/class_consistency"] for r in conditional)
    fids = [statistics.mean(r["results"]["fid/fid"] for r in runs) for runs in (plain, conditional)]
    lines += [
        "",
        f"- Class consistency {100 * consistency:.1f}% (goal: at least 95%: {'met' if consistency >= 0.95 else 'not met'}).",
        f"- FID {fids[1]:.1f} conditional against {fids[0]:.1f} unconditional "
        f"(goal: no worse: {'met' if fids[1] <= fids[0] else 'not met'}).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="override the recipes' 2,000 steps")
    parser.add_argument("--workdir", type=Path, default=Path("runs/conditional_digits"))
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = parser.parse_args()
    results: dict[str, list[dict]] = {label: [] for label in RUNS}
    for seed in range(args.seeds):
        for label, (recipe, overrides) in RUNS.items():
            run = train(recipe, overrides, seed, args.steps, args.workdir.resolve())
            results[label].append(run)
            print(f"{label}, seed {seed}: {run['results']} in {run['seconds']:.0f} s", flush=True)
    emit(table(results), args.out)


if __name__ == "__main__":
    main()
