"""Turning a validated recipe into a dataset, two models and a loss, and
proving their shapes meet before any training starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ganforge.backend import out_of_memory, tensorflow
from ganforge.data import BatchSampler
from ganforge.errors import DataError, RecipeError
from ganforge.plugin.contract import check_returned
from ganforge.plugin.registry import Registry, get_registry
from ganforge.recipe import Recipe

# How many images the probe batch holds: more than one, so a model that
# confuses the batch axis with another one shows it.
PROBE_BATCH = 2


@dataclass
class Parts:
    dataset: Any
    generator: Any
    discriminator: Any
    loss: Any
    penalties: list = field(default_factory=list)
    ema_generator: Any = None
    metrics: list = field(default_factory=list)  # (name, metric)


def _factory_error(recipe: Recipe, section: str, name: str, error: Exception) -> RecipeError:
    return RecipeError(
        f"{section} {name!r}: {error}", file=recipe.origins.get(f"{section}.name", str(recipe.path)), key=section
    )


def _call(recipe: Recipe, registry: Registry, section: str, kind: str, *args: Any, values: dict | None = None) -> Any:
    params = dict(values if values is not None else recipe.data[section])
    name = params.pop("name")
    component = registry.get(kind, name)
    factory = component.load_factory()
    try:
        made = factory(*args, **params)
    except (ValueError, DataError) as error:  # the contract: "these parameters or files cannot work"
        raise _factory_error(recipe, section, name, error) from None
    except Exception as error:
        if (memory := out_of_memory(error)) is None:
            raise
        raise _factory_error(
            recipe, section, name, f"does not fit in memory with these parameters ({memory})"
        ) from None
    return check_returned(kind, registry.who(component), made)


def build_dataset(recipe: Recipe, registry: Registry | None = None):
    """The dataset alone: no TensorFlow needed (``ganforge data prepare`` uses it)."""
    return _call(recipe, registry or get_registry(), "dataset", "dataset")


def batch_sampler(recipe: Recipe, dataset) -> BatchSampler:
    """Prepare the dataset if it has a cache to build, then batch it."""
    if hasattr(dataset, "prepare"):
        dataset.prepare()
    batch_size = recipe.model.train.batch_size
    if len(dataset) < batch_size:
        raise RecipeError(
            f"the dataset holds {len(dataset)} images, fewer than one batch of {batch_size}",
            file=recipe.origins.get("train.batch_size", str(recipe.path)),
            key="train.batch_size",
        )
    return BatchSampler(dataset, batch_size, recipe.model.seed)


def build_generator(recipe: Recipe, spec, registry: Registry | None = None):
    """One generator as the recipe describes it, for data of ``spec`` (no discriminator, no metrics)."""
    tensorflow()
    return _call(recipe, registry or get_registry(), "generator", "generator", spec, recipe.model.train.latent_dim)


def build_parts(recipe: Recipe, registry: Registry | None = None) -> Parts:
    registry = registry or get_registry()
    tensorflow()
    train = recipe.model.train
    dataset = build_dataset(recipe, registry)
    spec = dataset.spec
    generator = _call(recipe, registry, "generator", "generator", spec, train.latent_dim)
    discriminator = _call(recipe, registry, "discriminator", "discriminator", spec)
    loss = _call(recipe, registry, "loss", "loss")
    check_shapes(recipe, spec, generator, discriminator, registry)
    penalties = _penalties(recipe, registry, loss)
    _check_label_options(recipe, loss)
    ema_generator = None
    if train.ema_decay > 0:
        # a second instance from the same factory: works for any generator, functional or subclassed
        ema_generator = _call(recipe, registry, "generator", "generator", spec, train.latent_dim)
        ema_generator.set_weights(generator.get_weights())
    metrics = []
    for index, values in enumerate(recipe.data["eval"]["metrics"]):
        section = f"eval.metrics[{index}]"
        metric = _call(recipe, registry, section, "metric", values=values)
        try:
            if hasattr(metric, "check"):  # a metric that cannot measure this dataset says so before training
                metric.check(spec, dataset)
        except ValueError as error:
            raise RecipeError(f"metric {values['name']!r}: {error}", file=str(recipe.path), key=section) from None
        metrics.append((values["name"], metric))
    return Parts(dataset, generator, discriminator, loss, penalties, ema_generator, metrics)


def _penalties(recipe: Recipe, registry: Registry, loss) -> list:
    penalties = [loss.penalty] if getattr(loss, "penalty", None) is not None else []
    if "penalty" in recipe.data:
        loss_name, penalty_name = recipe.data["loss"]["name"], recipe.data["penalty"]["name"]
        if not getattr(loss, "accepts_penalty", True):
            reason = "has a gradient penalty of its own" if penalties else "keeps D Lipschitz its own way"
            raise RecipeError(
                f"loss {loss_name!r} {reason}: it cannot take penalty {penalty_name!r} (remove [penalty] or change the loss)",
                file=recipe.origins.get("penalty.name", str(recipe.path)),
                key="penalty.name",
            )
        penalties.append(_call(recipe, registry, "penalty", "penalty"))
    return penalties


def _check_label_options(recipe: Recipe, loss) -> None:
    train = recipe.model.train
    for key in ("label_smoothing", "label_noise"):
        if getattr(train, key) and not getattr(loss, "supports_targets", False):
            raise RecipeError(
                f"loss {recipe.data['loss']['name']!r} has no labels to smooth or flip (it is not a classification loss)",
                file=recipe.origins.get(f"train.{key}", str(recipe.path)),
                key=f"train.{key}",
            )


def check_shapes(recipe: Recipe, spec, generator, discriminator, registry: Registry) -> None:
    """Generator output = discriminator input = dataset images, and one logit per image."""
    latent_dim = recipe.model.train.latent_dim
    file = str(recipe.path)
    made_by = {
        kind: registry.who(registry.get(kind, recipe.data[kind]["name"])) for kind in ("generator", "discriminator")
    }
    try:
        fake = generator(np.zeros((PROBE_BATCH, latent_dim), np.float32), training=False)
    except Exception as error:
        raise RecipeError(
            f"{made_by['generator']} cannot take noise of shape ({PROBE_BATCH}, {latent_dim}): {error}",
            file=file,
            key="generator",
        ) from None
    fake_shape = tuple(fake.shape[1:])
    if fake_shape != spec.shape:
        raise RecipeError(
            f"{made_by['generator']} makes images of shape {fake_shape}, but the dataset's images are {spec.shape}",
            file=file,
            key="generator",
        )
    try:
        logits = discriminator(np.zeros((PROBE_BATCH, *spec.shape), np.float32), training=False)
    except Exception as error:
        raise RecipeError(
            f"{made_by['discriminator']} cannot take images of shape {spec.shape}: {error}",
            file=file,
            key="discriminator",
        ) from None
    if tuple(logits.shape) not in ((PROBE_BATCH, 1), (PROBE_BATCH,)):
        raise RecipeError(
            f"{made_by['discriminator']} must return one logit per image, shape ({PROBE_BATCH}, 1); "
            f"it returned {tuple(logits.shape)}",
            file=file,
            key="discriminator",
        )


def make_optimizer(config, updates: int, scale=1.0):
    """Adam for ``updates`` updates in all (the schedule's length), its rate multiplied by ``scale``.

    ``scale`` may be a variable: the loop lowers it when it rolls back a diverged run.
    """
    import keras

    from ganforge.training.schedules import Scaled, learning_rate

    return keras.optimizers.Adam(
        learning_rate=Scaled(learning_rate(config, updates), scale),
        beta_1=config.beta_1,
        beta_2=config.beta_2,
        epsilon=config.epsilon,
    )
