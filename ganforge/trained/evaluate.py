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

from ganforge import streams
from ganforge import trained as trained_runs
from ganforge.data.folder import read_folder
from ganforge.data.pixels import to_unit_range
from ganforge.errors import DataError, Location, RecipeError
from ganforge.evaluation.measure import NamedMetric, append_evaluation, measure, reference_name
from ganforge.plugin.build import build
from ganforge.plugin.contract import supports
from ganforge.plugin.registry import Registry, get_registry
from ganforge.recipe import Recipe


@dataclass
class Options:
    metrics: list[str]
    samples: int | None = None
    reference_samples: int | None = None
    features: str | None = None
    seed: int = 0
    reference_overrides: tuple[str, ...] = ()  # e.g. ("split=test",): the run's dataset with other parameters


def build_metrics(options: Options, recipe: Recipe | None, registry: Registry) -> list[NamedMetric]:
    """Metrics named on the command line (with its overrides), else the recipe's ``[eval] metrics``."""
    if options.metrics:
        # no recipe table: an unknown name is the command line's mistake, said without a key
        tables = [(Location(), {"name": name}) for name in options.metrics]
    elif recipe is not None and recipe.data["eval"]["metrics"]:
        metrics = recipe.data["eval"]["metrics"]
        tables = [(recipe.location(f"eval.metrics[{index}]"), dict(table)) for index, table in enumerate(metrics)]
    else:
        raise RecipeError(
            "name at least one metric with --metric (e.g. --metric fid), or list some in the recipe's [eval] metrics"
        )
    built = []
    given = {"samples": options.samples, "reference_samples": options.reference_samples}
    given["features"] = features_option(options.features) if options.features else None
    for where, table in tables:
        fields = registry.get("metric", table["name"]).params.model_fields
        for key, value in given.items():
            if value is not None and key in fields:
                table[key] = value
        built.append(NamedMetric(table["name"], build(registry, "metric", table, where=where)))
    return built


def features_option(text: str):
    """``--features NAME`` or ``--features NAME:key=value[,key=value]`` as a metric's ``features`` value."""
    name, _, rest = text.partition(":")
    if not rest:
        return name
    pairs = [pair.partition("=") for pair in rest.split(",")]
    if not name or any(not key or not sep for key, sep, _ in pairs):
        raise RecipeError(
            f"--features {text!r}: write NAME or NAME:key=value[,key=value], e.g. fid_inception:weights=PATH"
        )
    return {"name": name, **{key.strip(): value for key, _, value in pairs}}


def evaluate_run(
    target: Path, options: Options, *, against: Path | None, best: bool, raw: bool
) -> tuple[Path, list[dict]]:
    trained = trained_runs.load(target, best=best, raw=raw)
    reference, reference_text = _reference(trained, options, against)
    if (prepare := supports("dataset", reference)["prepare"]) is not None:
        prepare()  # an image cache, built on first use
    metrics = build_metrics(options, trained.recipe, get_registry())
    rng = streams.generator(options.seed, streams.EVAL_COMMAND)

    def generate(count: int) -> np.ndarray:
        labels = trained.labels(options.seed, count)  # a conditional run's: drawn from its data
        return trained.generate(rng.standard_normal((count, trained.latent_dim)).astype(np.float32), labels)

    generate_for, label_spec = None, None
    if trained.condition is not None:  # per-class metrics draw each class in turn
        label_spec = trained.condition.spec
        noise = streams.generator(options.seed, streams.EVAL_COMMAND, 1)

        def generate_for(wanted: np.ndarray) -> np.ndarray:
            values = noise.standard_normal((len(wanted), trained.latent_dim)).astype(np.float32)
            return trained.generate(values, trained.condition.as_input(wanted))

    measured = measure(metrics, generate, reference, trained.step, reference_text, label_spec, generate_for)
    records = []
    for name, results, description in measured:
        record = {
            "step": trained.step,
            "metric": name,
            "results": results,
            **description,
            "source": "ganforge eval",
            "checkpoint": str(trained.checkpoint),
            "weights": trained.weights,
            "reference": reference_text,
            "seed": options.seed,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        append_evaluation(trained.run_dir, record)
        records.append(record)
    return trained.run_dir, records


def _reference(trained, options: Options, against: Path | None):
    """The real images to compare with, and how to name them in the records."""
    if against is not None:
        spec = trained.dataset.spec
        return read_folder(against, spec.height, spec.channels), f"folder {against}"
    if options.reference_overrides:
        from ganforge.recipe import load_recipe
        from ganforge.training.assembly import build_dataset

        changed = load_recipe(trained.recipe.path, [f"dataset.{override}" for override in options.reference_overrides])
        return build_dataset(changed), reference_name(changed.data["dataset"])
    return trained.dataset, reference_name(trained.recipe.data["dataset"])


def evaluate_folders(generated: Path, reference: Path, options: Options, out: Path | None) -> list[dict]:
    """Folder against folder: ``generated`` plays the generator's part (its first N images)."""
    if out is not None and out.exists():
        raise DataError(f"{out}: already exists; ganforge eval does not overwrite results (choose another --out)")
    real = read_folder(reference)
    fake = read_folder(generated, real.spec.height, real.spec.channels)
    metrics = build_metrics(options, None, get_registry())

    def generate(count: int) -> np.ndarray:
        if count > len(fake):
            raise ValueError(f"needs {count} generated images; {generated} holds {len(fake)} (lower --samples)")
        return to_unit_range(fake.read(np.arange(count)))

    records = [
        {"metric": name, "results": results, **description, "generated": str(generated), "reference": str(reference)}
        for name, results, description in measure(metrics, generate, real, 0, f"{generated} against {reference}")
    ]
    if out is not None:
        partial = out.with_name(f".{out.name}.partial")
        partial.write_text(json.dumps(records, indent=2) + "\n")
        os.replace(partial, out)
    return records
