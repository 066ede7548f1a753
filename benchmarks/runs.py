"""Shared by the benchmarks that train a recipe and read its last evaluation."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def train_and_evaluate(
    recipe_path: Path, seed: int, steps: int | None, workdir: Path, metric: str
) -> tuple[dict, float]:
    """Train ``recipe_path`` with ``seed``; the final results of ``metric`` (e.g. ``modes``) and the seconds taken."""
    from ganforge.recipe import load_recipe
    from ganforge.runs import folder as run_dir
    from ganforge.training.trainer import train

    overrides = [f"seed={seed}", 'sinks=["jsonl"]']
    if steps:
        overrides.append(f"train.steps={steps}")
    recipe = load_recipe(recipe_path, overrides)
    folder = run_dir.create(workdir, recipe.name, recipe.to_toml())
    start = time.perf_counter()
    train(recipe, folder)
    seconds = time.perf_counter() - start
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    prefix = f"eval/{metric}/"
    final = [r for r in records if any(key.startswith(prefix) for key in r)][-1]
    return {key[len(prefix) :]: value for key, value in final.items() if key.startswith(prefix)}, seconds


def mean_std(values: list[float], digits: int) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}"


def emit(table: str, out: Path | None) -> None:
    """Print the markdown table, and write it to ``out`` when given."""
    print("\n" + table)
    if out:
        out.write_text(table + "\n")
