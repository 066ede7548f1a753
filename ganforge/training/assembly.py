"""Assembling a run from its recipe, in one place: the dataset, the two models, the loss and its
penalties, the metrics, the optimizers and the step — with their shapes proven to meet before
any training starts."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganforge import backend
from ganforge.data import size_without_preparing
from ganforge.errors import RecipeError
from ganforge.evaluation.measure import NamedMetric
from ganforge.plugin.contract import supports
from ganforge.plugin.registry import Registry, get_registry
from ganforge.recipe import Recipe
from ganforge.training.condition import Condition, discriminate, generate, shown_labels
from ganforge.training.engines import engine
from ganforge.training.precision import FLOAT32, check_precision, policy
from ganforge.training.step import LossTerms, Players, StepSettings, Term, latent_of

# How many images the probe batch holds: more than one, so a model that
# confuses the batch axis with another one shows it.
PROBE_BATCH = 2


@dataclass
class Parts(Players):
    """The components a recipe names, built and checked; what one step trains is the ``Players`` part."""

    dataset: Any = None
    metrics: list[NamedMetric] = field(default_factory=list)


@dataclass
class Training:
    """Everything a run trains with."""

    parts: Parts
    generator_optimizer: Any
    discriminator_optimizer: Any
    lr_scale: Any  # one multiplier for both rates: a rollback lowers it, checkpoints remember it
    step: Any  # the engine's AdversarialStep (training/engines/<backend>/step.py)
    objective_state: dict = field(default_factory=dict)  # name -> variable: ADA's p, a regulariser's mean

    @property
    def state(self) -> dict[str, list]:
        """Every variable a checkpoint holds, by group."""
        groups = {
            "generator": self.parts.generator.weights,
            "discriminator": self.parts.discriminator.weights,
            "generator_optimizer": self.generator_optimizer.variables,
            "discriminator_optimizer": self.discriminator_optimizer.variables,
        }
        if self.parts.ema_generator is not None:
            groups["ema_generator"] = self.parts.ema_generator.weights
        if self.objective_state:
            groups["objective"] = list(self.objective_state.values())
        return groups


def assemble(recipe: Recipe, registry: Registry | None = None, distribution=None) -> Training:
    """The parts, two Adam optimizers over the run's length, and the compiled step, on the recipe's backend.

    ``distribution``: the started :class:`~ganforge.training.cluster.Distribution` to train under
    (one device if None); every variable is made in its scope.
    """
    keras = backend.keras()
    with distribution.scope() if distribution is not None else contextlib.nullcontext():
        parts = build_parts(recipe, registry)
        settings = StepSettings.from_recipe(recipe, parts, parts.dataset.spec.shape)
        lr_scale = keras.Variable(1.0, dtype="float32", trainable=False, name="lr_scale")
        optimizers = make_optimizers(recipe, settings, lr_scale)
        from ganforge.training.objective import Objective  # Keras' backend is chosen by now

        state = {
            name: keras.Variable(value, dtype="float32", trainable=False, name=name.replace("/", "_"))
            for name, value in Objective(parts, settings).initial_state().items()
        }
    step = engine(recipe.model.backend).AdversarialStep(
        parts, *optimizers, settings, distribution=distribution, lr_scale=lr_scale, state=state
    )
    return Training(parts, *optimizers, lr_scale, step, state)


def make_optimizers(recipe: Recipe, settings: StepSettings, lr_scale):
    """G's and D's Adam. A side with lazy regularisers pays them in updates of their own, so its rate is
    multiplied by N/(N+1) and its betas raised to that power (StyleGAN2, Karras et al. 2020, appendix B);
    its schedules count those updates too."""
    from ganforge.training.schedules import optimizer

    train = recipe.model.train
    scaled = train.precision == "mixed_float16"

    def adam(config, updates: int, every: int):
        """``updates``: the side's main updates over the run (the old decay's length, with the lazy ones)."""
        ratio = every / (every + 1) if every > 1 else 1.0
        images_per_update = settings.batch_size * train.steps / updates * ratio
        return optimizer(
            config, round(updates / ratio), lr_scale, scaled, images_per_update=images_per_update, ratio=ratio
        )

    return (
        adam(recipe.model.generator_optimizer, train.steps, settings.g_every),
        adam(recipe.model.discriminator_optimizer, train.steps * train.d_steps, settings.d_every),
    )


def build_dataset(recipe: Recipe, registry: Registry | None = None):
    """The dataset alone: no TensorFlow needed (``ganforge data prepare`` uses it).

    ``limit`` is ganforge's key, not the dataset plugin's: training reads only that many examples
    (the trainer's sampler picks them); metrics still compare with the whole dataset."""
    return recipe.build("dataset", registry or get_registry())


def dataset_limit(recipe: Recipe) -> int | None:
    """``[dataset] limit`` (checked when the recipe was read): how many examples training reads, if limited."""
    return recipe.data["dataset"].get("limit")


def build_generator(
    recipe: Recipe, spec, registry: Registry | None = None, precision: str = FLOAT32, condition: Condition | None = None
):
    """One generator as the recipe describes it, for data of ``spec`` (no discriminator, no metrics).

    ``precision``: the dtype policy it computes in (training may use a mixed one; a trained
    generator's users keep float32, which its float32 weights load into all the same).
    ``condition``: a conditional run's labels; the generator then takes ``[noise, labels]``.
    """
    backend.use(recipe)
    backend.keras()
    latent_dim = recipe.model.train.latent_dim
    given = {} if condition is None else {"condition": condition.spec}
    with policy(precision):
        return recipe.build("generator", registry or get_registry(), spec, latent_dim, given=given)


def build_condition(recipe: Recipe, dataset) -> Condition | None:
    """A conditional run's labels (``[condition] labels = true``), None otherwise."""
    config = recipe.model.condition
    if not config.labels:
        if config.discriminator != "projection":
            message = f'discriminator = "{config.discriminator}" needs labels = true'
            raise recipe.location("condition").error(message, "discriminator")
        return None
    weight = config.classifier_weight if config.discriminator == "classifier" else 0.0
    try:
        return Condition.of(dataset, dataset_limit(recipe), weight)
    except ValueError as error:
        name = recipe.table("dataset")["name"]
        raise recipe.location("condition").error(
            f"dataset {name!r}: {error} (conditioning needs a labelled dataset: docs/conditional.md)", "labels"
        ) from None


def build_parts(recipe: Recipe, registry: Registry | None = None) -> Parts:
    registry = registry or get_registry()
    backend.use(recipe)
    backend.keras()
    dataset = build_dataset(recipe, registry)
    spec = dataset.spec
    precision = recipe.model.train.precision
    condition = build_condition(recipe, dataset)
    generator = build_generator(recipe, spec, registry, precision, condition)
    given = condition.discriminator_keyword() if condition is not None else {}
    with policy(precision):
        discriminator = recipe.build("discriminator", registry, spec, given=given)
    loss = LossTerms(recipe.build("loss", registry))
    check_shapes(recipe, spec, generator, discriminator, registry, condition)
    _check_augmentation(recipe, spec)
    penalties = _penalties(recipe, registry, loss)
    generator_penalties = _generator_penalties(recipe, registry, generator)
    _check_label_options(recipe, loss)
    ema_generator = None
    if recipe.model.train.ema_decay > 0 or recipe.model.train.ema_images is not None:
        # a second instance from the same factory: works for any generator, functional or subclassed
        ema_generator = build_generator(recipe, spec, registry, precision, condition)
        ema_generator.set_weights(generator.get_weights())
    metrics = [_metric(recipe, registry, index, dataset) for index in range(len(recipe.data["eval"]["metrics"]))]
    return Parts(
        generator,
        discriminator,
        loss,
        penalties,
        ema_generator,
        condition,
        generator_penalties,
        dataset=dataset,
        metrics=metrics,
    )


def _metric(recipe: Recipe, registry: Registry, index: int, dataset) -> NamedMetric:
    """A metric of ``[eval] metrics``, which says before training when it cannot measure this data."""
    section = f"eval.metrics[{index}]"
    where = recipe.location(section)
    metric = NamedMetric(recipe.table(section)["name"], recipe.build(section, registry))
    if metric.conditional and not recipe.model.condition.labels:
        message = f"metric {metric.name!r} measures a conditional generator: set [condition] labels = true"
        raise where.error(message, file_key=where.key("name"))
    try:
        metric.check(dataset.spec, dataset)
    except ValueError as error:
        raise where.error(f"metric {metric.name!r}: {error}") from None
    return metric


def _check_augmentation(recipe: Recipe, spec) -> None:
    augment = recipe.model.augment
    for key, what in (("policy", "DiffAugment"), ("pipeline", "ADA")):
        if getattr(augment, key).strip() and not spec.is_image:
            message = f"{what} transforms images; this dataset's examples have shape {spec.shape}"
            raise recipe.location("augment").error(message, key)
    pipeline = augment.pipeline.strip()
    if "c" in pipeline and spec.shape[-1] not in (1, 3):  # its colour matrices are RGB's (or grey's)
        message = f'ADA\'s colour transforms ("c") take grey or RGB images; these have {spec.shape[-1]} channels'
        raise recipe.location("augment").error(message + ' (use pipeline = "bg")', "pipeline")


def _penalties(recipe: Recipe, registry: Registry, loss: LossTerms) -> list[Term]:
    """D's regularisers: the loss's own, then the recipe's [[penalty]] tables, checked against the loss
    and each other."""
    terms = [Term(loss.own_penalty)] if loss.own_penalty is not None else []
    for section in recipe.tables("penalty"):
        where = recipe.location(section)
        if not loss.accepts_penalty:
            loss_name, penalty_name = recipe.table("loss")["name"], recipe.table(section)["name"]
            reason = "has a gradient penalty of its own" if terms else "keeps D Lipschitz its own way"
            message = (
                f"loss {loss_name!r} {reason}: it cannot take penalty {penalty_name!r} (remove it or change the loss)"
            )
            raise where.error(message, "name")
        terms.append(Term(recipe.build(section, registry), recipe.core_key(section, "scale", 1.0)))
    _check_one_of_each(recipe, "penalty", terms[len(terms) - len(recipe.tables("penalty")) :])
    return terms


def _generator_penalties(recipe: Recipe, registry: Registry, generator) -> list[Term]:
    """G's regularisers, from [[generator_penalty]]; they take G's intermediate latent, which G must offer."""
    terms = []
    for section in recipe.tables("generator_penalty"):
        if latent_of(generator) is None:
            name = recipe.table("generator")["name"]
            message = (
                f"generator {name!r} does not offer its intermediate latent w (mapping and synthesis), which "
                f"{recipe.table(section)['name']!r} regularises (docs/regularisation.md)"
            )
            raise recipe.location(section).error(message, "name")
        terms.append(Term(recipe.build(section, registry), recipe.core_key(section, "scale", 1.0)))
    _check_one_of_each(recipe, "generator_penalty", terms)
    return terms


def _check_one_of_each(recipe: Recipe, section: str, terms: list[Term]) -> None:
    """One regulariser of each name on a side, and one interval for the lazy ones (their updates and the
    optimizer's N/(N+1) correction are shared)."""
    names, intervals = {}, {}
    for index, term in enumerate(terms):
        table = f"{section}[{index}]"
        name = recipe.table(table)["name"]
        if name in names:
            message = f"{name!r} is listed twice ({names[name]} and {table}): give it one table, with one weight"
            raise recipe.location(table).error(message, "name")
        names[name] = table
        if term.every > 1 or section == "generator_penalty":
            intervals.setdefault(term.every, table)
    if len(intervals) > 1:
        (first, where), (second, other) = list(intervals.items())[:2]
        message = (
            f"lazy regularisers of one side share one interval: {where} has every = {first}, {other} every = {second}"
        )
        raise recipe.location(other).error(message, "every")


def _check_label_options(recipe: Recipe, loss: LossTerms) -> None:
    train = recipe.model.train
    for key in ("label_smoothing", "label_noise"):
        if getattr(train, key) and not loss.takes_targets:
            raise recipe.location("train").error(
                f"loss {recipe.table('loss')['name']!r} has no labels to smooth or flip (it is not a classification loss)",
                key,
            )


def check_before_training(recipe: Recipe, dataset, *, prepare: bool) -> None:
    """The checks ``run`` makes before its first step besides building the parts (which proves the shapes,
    the penalty, the label options and the metrics) and starting its plan (which checks the batch's
    split, :meth:`~ganforge.training.cluster.Plan.start`); ``recipe check`` makes the same ones.

    ``prepare``: decode the dataset's cache first and count exactly (``run``), or count what it lists
    without decoding (``recipe check``, which must stay quick).
    """
    check_precision(recipe)
    if prepare and (prepare_dataset := supports("dataset", dataset)["prepare"]) is not None:
        prepare_dataset()
    size = len(dataset) if prepare else size_without_preparing(dataset)
    limit = dataset_limit(recipe)
    if limit is not None and limit > size:
        raise recipe.location("dataset").error(f"limit = {limit}, but the dataset holds only {size} examples", "limit")
    batch_size = recipe.model.train.batch_size
    if min(size, limit or size) < batch_size:
        raise recipe.location("train").error(
            f"the dataset {'limit gives' if limit else 'holds'} {min(size, limit or size)} images, "
            f"fewer than one batch of {batch_size}",
            "batch_size",
        )


def check_output_dir(recipe: Recipe) -> None:
    """``output_dir`` can hold a new run folder: it is a folder, or can be made one, and can be written."""
    folder = Path(recipe.model.output_dir)
    existing = next((path for path in (folder, *folder.parents) if path.exists()), Path("."))
    if not existing.is_dir():
        problem = f"{existing} is a file, not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} cannot be written"
    else:
        return
    raise recipe.location().error(f"cannot create run folders in {folder}: {problem}", "output_dir")


def check_shapes(recipe: Recipe, spec, generator, discriminator, registry: Registry, condition=None) -> None:
    """Generator output = discriminator input = dataset images, and one logit per image (with labels, in a
    conditional run)."""
    latent_dim = recipe.model.train.latent_dim
    made_by = {
        kind: registry.who(registry.get(kind, recipe.table(kind)["name"])) for kind in ("generator", "discriminator")
    }

    def wrong(kind: str, message: str) -> RecipeError:
        return RecipeError(f"{made_by[kind]} {message}", file=str(recipe.path), key=kind)

    labels = None if condition is None else condition.probe(PROBE_BATCH)
    with_labels = "" if labels is None else f" with labels of shape {labels.shape}"
    try:
        fake = generate(generator, np.zeros((PROBE_BATCH, latent_dim), np.float32), labels, training=False)
    except Exception as error:
        message = f"cannot take noise of shape ({PROBE_BATCH}, {latent_dim}){with_labels}: {error}"
        raise wrong("generator", message) from None
    fake_shape = tuple(fake.shape[1:])
    if fake_shape != spec.shape:
        raise wrong("generator", f"makes images of shape {fake_shape}, but the dataset's images are {spec.shape}")
    shown = shown_labels(condition, labels)
    try:
        logits = discriminate(discriminator, np.zeros((PROBE_BATCH, *spec.shape), np.float32), shown, training=False)
    except Exception as error:
        with_labels = "" if shown is None else with_labels
        raise wrong("discriminator", f"cannot take images of shape {spec.shape}{with_labels}: {error}") from None
    if condition is not None and condition.classifies:
        logits = _class_logits(logits, condition, wrong)
    if tuple(logits.shape) not in ((PROBE_BATCH, 1), (PROBE_BATCH,)):
        raise wrong(
            "discriminator",
            f"must return one logit per image, shape ({PROBE_BATCH}, 1); it returned {tuple(logits.shape)}",
        )


def _class_logits(outputs, condition: Condition, wrong):
    """An AC-GAN discriminator's outputs, [logits, class logits (batch, K or A)]: its logits, once checked."""
    expected = (PROBE_BATCH, len(condition.spec))
    if not isinstance(outputs, (list, tuple)) or len(outputs) != 2 or tuple(outputs[1].shape) != expected:
        shapes = [tuple(o.shape) for o in outputs] if isinstance(outputs, (list, tuple)) else tuple(outputs.shape)
        raise wrong(
            "discriminator",
            f"as a classifier (AC-GAN) must return [logits, class logits {expected}]; it returned {shapes}",
        )
    return outputs[0]


def make_optimizer(config, updates: int, scale=1.0, loss_scaling: bool = False):
    """Adam for ``updates`` updates in all (the schedule's length), its rate multiplied by ``scale``: one
    side's optimizer without lazy regularisers (:func:`make_optimizers` builds a run's two)."""
    from ganforge.training.schedules import optimizer

    return optimizer(config, updates, scale, loss_scaling)
