"""``ganforge eval``: measure a trained generator, or one folder of images against another.

Results are appended to the run folder's ``evaluations.jsonl`` (never
rewritten), each with the checkpoint, the weights (EMA or raw), what the
reference was, and what the metric depended on (feature network, resize
filter, sample counts).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydantic

from ganforge.data import ArrayDataset
from ganforge.data.imagefiles import IMAGE_SUFFIXES, Preprocess, decode
from ganforge.errors import DataError, RecipeError
from ganforge.evaluation.features import to_unit_range
from ganforge.plugin.registry import Registry, get_registry
from ganforge.training.monitor import EvalContext, append_evaluation

NOISE_SEED = 2**31 - 3  # eval noise apart from training's streams


@dataclass
class Options:
    metrics: list[str]
    samples: int | None = None
    reference_samples: int | None = None
    features: str | None = None
    seed: int = 0
    reference_overrides: tuple[str, ...] = ()  # e.g. ("split=test",): the run's dataset with other parameters


def build_metrics(options: Options, recipe_metrics: list[dict], registry: Registry) -> list[tuple[str, object]]:
    """Metrics named on the command line (with its overrides), else the recipe's ``[eval] metrics``."""
    tables = [{"name": name} for name in options.metrics] or [dict(m) for m in recipe_metrics]
    if not tables:
        raise RecipeError(
            "name at least one metric with --metric (e.g. --metric fid), or list some in the recipe's [eval] metrics"
        )
    built = []
    for table in tables:
        name = table.pop("name")
        component = registry.get("metric", name)
        fields = component.params.model_fields
        for key in ("samples", "reference_samples", "features"):
            value = getattr(options, key)
            if value is not None and key in fields:
                table[key] = value
        try:
            component.params.model_validate(table, strict=True)
            metric = component.load_factory()(**table)
        except (pydantic.ValidationError, ValueError) as error:
            raise RecipeError(f"metric {name!r}: {_first_error(error)}") from None
        built.append((name, metric))
    return built


def _first_error(error: Exception) -> str:
    if isinstance(error, pydantic.ValidationError):
        problem = error.errors()[0]
        return f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}"
    return str(error)


def read_folder(folder: Path, resolution: int | None = None, channels: int | None = None) -> ArrayDataset:
    """Every image under ``folder``, squashed to ``resolution`` squares (default: the first image's size)."""
    from PIL import Image

    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder of images")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    if resolution is None or channels is None:
        with Image.open(files[0]) as first:
            resolution = resolution or min(first.size)
            channels = channels or (1 if first.mode in ("L", "I", "I;16", "1") else 3)
    preprocess = Preprocess(crop="none", resolution=resolution, channels=channels)
    images = []
    for path in files:
        try:
            images.append(decode(path.read_bytes(), preprocess))
        except ValueError as error:
            raise DataError(f"{path}: {error}") from None
    return ArrayDataset(np.stack(images))


def measure(metrics, generate, reference, step: int, on_image=None) -> list[tuple[str, dict, dict]]:
    """(name, results, description) for each metric; each metric first checks it can measure this data."""
    context = EvalContext(step, reference.spec, reference, generate, on_image or (lambda name, image: None))
    measured = []
    for name, metric in metrics:
        try:
            if hasattr(metric, "check"):
                metric.check(reference.spec, reference)
            results = {key: float(value) for key, value in metric.evaluate(context).items()}
        except ValueError as error:
            raise DataError(f"metric {name!r}: {error}") from None
        measured.append((name, results, metric.describe() if hasattr(metric, "describe") else {}))
    return measured


def evaluate_run(
    target: Path, options: Options, *, against: Path | None, best: bool, raw: bool
) -> tuple[Path, list[dict]]:
    from ganforge.runs import trained as trained_runs

    trained = trained_runs.load(target, best=best, raw=raw)
    spec = trained.dataset.spec
    if against is not None:
        reference = read_folder(against, spec.height, spec.channels)
        reference_name = f"folder {against}"
    elif options.reference_overrides:
        from ganforge.recipe import load_recipe
        from ganforge.training.assembly import build_dataset

        changed = load_recipe(trained.recipe.path, [f"dataset.{override}" for override in options.reference_overrides])
        reference = build_dataset(changed)
        reference_name = f"dataset {changed.data['dataset']['name']!r} with {', '.join(options.reference_overrides)}"
    else:
        reference = trained.dataset
        reference_name = f"dataset {trained.recipe.data['dataset']['name']!r} of the run's recipe"
    if hasattr(reference, "prepare"):
        reference.prepare()  # an image cache, built on first use
    metrics = build_metrics(options, trained.recipe.data["eval"]["metrics"], get_registry())
    rng = np.random.default_rng([options.seed, NOISE_SEED])

    def generate(count: int) -> np.ndarray:
        return trained.generate(rng.standard_normal((count, trained.latent_dim)).astype(np.float32))

    records = []
    for name, results, description in measure(metrics, generate, reference, trained.step):
        record = {
            "step": trained.step,
            "metric": name,
            "results": results,
            **description,
            "source": "ganforge eval",
            "checkpoint": str(trained.checkpoint),
            "weights": trained.weights,
            "reference": reference_name,
            "seed": options.seed,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        append_evaluation(trained.run_dir, record)
        records.append(record)
    return trained.run_dir, records


def evaluate_folders(generated: Path, reference: Path, options: Options, out: Path | None) -> list[dict]:
    """Folder against folder: ``generated`` plays the generator's part (its first N images)."""
    if out is not None and out.exists():
        raise DataError(f"{out}: already exists; ganforge eval does not overwrite results (choose another --out)")
    real = read_folder(reference)
    fake = read_folder(generated, real.spec.height, real.spec.channels)
    metrics = build_metrics(options, [], get_registry())

    def generate(count: int) -> np.ndarray:
        if count > len(fake):
            raise ValueError(f"needs {count} generated images; {generated} holds {len(fake)} (lower --samples)")
        return to_unit_range(fake.read(np.arange(count)))

    records = [
        {"metric": name, "results": results, **description, "generated": str(generated), "reference": str(reference)}
        for name, results, description in measure(metrics, generate, real, 0)
    ]
    if out is not None:
        partial = out.with_name(f".{out.name}.partial")
        partial.write_text(json.dumps(records, indent=2) + "\n")
        os.replace(partial, out)
    return records
