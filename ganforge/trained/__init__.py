"""What uses a trained run, above training: its generator loaded (here), ``generating`` (sample,
interpolate, export), ``evaluate`` (``ganforge eval``), ``report`` and ``compare`` (HTML pages).

This module is 0.1's ``ganforge.trained``, back at its path: a trained generator, loaded from a
run folder or one of its checkpoints. ``ganforge eval``, ``sample``, ``interpolate`` and ``export``
all start here.
The run folder's ``recipe.toml`` rebuilds the networks; the checkpoint's
layout must match them, so a checkpoint from another recipe is refused
before anything is read into the models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganforge import streams
from ganforge.errors import CheckpointError, DataError
from ganforge.recipe import Recipe, load_recipe
from ganforge.runs import checkpoint
from ganforge.runs import folder as run_folder
from ganforge.training.condition import Condition, chosen, generate


@dataclass
class Trained:
    recipe: Recipe
    run_dir: Path
    checkpoint: Path
    step: int
    generator: object  # the Keras model whose weights were restored
    weights: str  # "ema" or "raw"
    dataset: object
    condition: Condition | None = None  # a conditional run's labels: the generator takes [noise, labels]

    @property
    def latent_dim(self) -> int:
        return self.recipe.model.train.latent_dim

    def generate(self, noise: np.ndarray, labels: np.ndarray | None = None, batch: int = 500) -> np.ndarray:
        """Images for ``noise`` (and, for a conditional generator, ``labels``: see :meth:`labels`)."""
        if (self.condition is None) != (labels is None):
            raise ValueError("a conditional generator takes labels with its noise, and only it does")
        pieces = []
        for start in range(0, len(noise), batch):
            rows = None if labels is None else labels[start : start + batch]
            pieces.append(np.asarray(generate(self.generator, noise[start : start + batch], rows, training=False)))
        return np.concatenate(pieces)

    def labels(self, seed: int, count: int, cls: str | None = None, attributes=()) -> np.ndarray | None:
        """Labels for ``count`` samples of a conditional run (None for another run, unless some were asked
        for: then a DataError saying the run has none). Drawn from the data, with ``cls`` or ``attributes``
        (``NAME=true``) set."""
        if self.condition is None:
            if cls is not None or attributes:
                asked = "--class" if cls is not None else "--attribute"
                raise DataError(
                    f"{self.run_dir} was trained without labels ([condition] labels = false): {asked} needs a "
                    "conditional run (docs/conditional.md)"
                )
            return None
        rng = streams.generator(seed, streams.SAMPLE_COMMAND, 1)
        try:
            return chosen(self.condition, rng, count, cls, attributes)
        except ValueError as error:
            raise DataError(f"{self.run_dir}: {error}") from None

    def describe(self) -> str:
        return f"{self.checkpoint} (step {self.step}, {self.weights} weights)"


def locate(target: Path, best: bool = False) -> tuple[Path, Path]:
    """(run folder, checkpoint) for a run folder (its newest checkpoint, or best.npz) or a checkpoint file."""
    if target.is_file():
        folder = target.parent.parent
        if target.parent.name != run_folder.CHECKPOINTS or not run_folder.is_run(folder):
            raise CheckpointError(
                f"{target}: not inside a run folder's {run_folder.CHECKPOINTS}/ (its recipe.toml is needed)"
            )
        return folder, target
    if not target.is_dir():
        raise CheckpointError(f"{target}: no such run folder or checkpoint")
    if not run_folder.is_run(target):
        raise CheckpointError(f"{target}: not a run folder (it has no {run_folder.RECIPE_FILE})")
    checkpoints = target / run_folder.CHECKPOINTS
    if best:
        chosen = checkpoints / checkpoint.BEST
        if not chosen.is_file():
            raise CheckpointError(
                f"{target}: no {run_folder.CHECKPOINTS}/{checkpoint.BEST} (the recipe's [eval] best keeps one)"
            )
        return target, chosen
    found = checkpoint.list_checkpoints(checkpoints)
    if not found:
        raise CheckpointError(f"{target}: no checkpoint in {run_folder.CHECKPOINTS}/")
    return target, found[-1][1]


def load(target: Path, *, best: bool = False, raw: bool = False) -> Trained:
    """Rebuild the run's generator and restore it (the EMA weights, when the run kept them, unless ``raw``).

    Only the dataset (for its shape) and the generator are built: sampling
    needs no discriminator, and no metric's feature network.
    """
    # the training stack only when a generator is built: report and compare, in this package, read files
    from ganforge.training.assembly import build_condition, build_dataset, build_generator

    folder, path = locate(Path(target), best)
    recipe = load_recipe(folder / run_folder.RECIPE_FILE)
    header = checkpoint.read_header(path)
    if header.get("recipe") != recipe.name:
        raise CheckpointError(f"{path}: saved by recipe {header.get('recipe')!r}, not {recipe.name!r} ({recipe.path})")
    dataset = build_dataset(recipe)
    condition = build_condition(recipe, dataset)
    generator = build_generator(recipe, dataset.spec, condition=condition)
    weights = "ema" if recipe.model.train.ema_decay > 0 and not raw else "raw"
    checkpoint.restore_group(path, "ema_generator" if weights == "ema" else "generator", generator.weights)
    return Trained(recipe, folder, path, header["step"], generator, weights, dataset, condition)
