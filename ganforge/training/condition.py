"""A conditional run's labels: what the generator and discriminator take beside noise and images.

With ``[condition] labels = true`` both models are built with the dataset's
``LabelSpec`` (their factories' ``condition`` argument) and are called as
``generator([noise, labels])`` and ``discriminator([images, labels])``. Labels
reach the models as class numbers ``(batch,)`` int32, or attribute flags
``(batch, A)`` float32 0/1 (floats, so a model may mix or interpolate them).

Real images come with their own labels; each fake's label is the label of a
training example picked at random (keyed by seed and step, in
:mod:`ganforge.streams`), so fakes follow the data's label distribution: its
class frequencies, or its attributes' joint frequencies.

With ``[condition] discriminator = "classifier"`` (AC-GAN, Odena et al. 2017)
D is not shown the labels: its factory gets ``classifier=`` the LabelSpec and
its model returns ``[logits, class logits]``; the classification loss on
real and fake images is added to D's loss, and on fakes to G's
(:func:`ganforge.training.step.classification`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ganforge import streams
from ganforge.data import label_spec
from ganforge.data.labels import LabelSpec


@dataclass(eq=False)
class Condition:
    spec: LabelSpec
    # the training examples' labels as the models take them, one row per example; or a function that reads
    # them, called when training first draws (a dataset that decodes a cache is not decoded to build models)
    source: Any
    classifier_weight: float = 0.0  # > 0: AC-GAN, D predicts the labels (this weighs its loss) instead of taking them

    @classmethod
    def of(cls, dataset, limit: int | None = None, classifier_weight: float = 0.0) -> Condition:
        """The labels of the rows training reads (``limit``: the same subset the sampler trains on)."""
        spec = label_spec(dataset)
        if spec is None:
            raise ValueError("this dataset has no labels to condition on")

        def read() -> np.ndarray:
            size = len(dataset)
            rows = np.arange(size) if limit is None else streams.subset(size, min(limit, size))
            return as_model_input(spec, spec.check(dataset.labels(rows), len(rows)))

        return cls(spec, read, classifier_weight)

    @cached_property
    def table(self) -> np.ndarray:
        return self.source() if callable(self.source) else np.asarray(self.source)

    @property
    def classifies(self) -> bool:
        """Whether D predicts the labels (AC-GAN) rather than taking them (projection)."""
        return self.classifier_weight > 0

    def discriminator_keyword(self) -> dict:
        """What D's factory is given: ``condition=`` (projection) or ``classifier=`` (AC-GAN) the spec."""
        return {"classifier" if self.classifies else "condition": self.spec}

    def as_input(self, labels: np.ndarray) -> np.ndarray:
        """A batch of the dataset's labels as the models take them."""
        return as_model_input(self.spec, labels)

    def probe(self, count: int) -> np.ndarray:
        """``count`` labels for checking shapes (classes in turn, attributes off), without reading the data's."""
        if self.spec.kind == "classes":
            return np.arange(count, dtype=np.int32) % len(self.spec)
        return np.zeros((count, len(self.spec)), np.float32)


def as_model_input(spec: LabelSpec, labels: np.ndarray) -> np.ndarray:
    """Dataset labels as models take them: int32 class numbers, or float32 attribute flags."""
    return np.asarray(labels, np.int32 if spec.kind == "classes" else np.float32)


def model_inputs(inputs, labels):
    """What a model is called with: ``[inputs, labels]`` in a conditional run, ``inputs`` alone otherwise."""
    return inputs if labels is None else [inputs, labels]


def shown_labels(condition: Condition | None, labels):
    """The labels D is shown: a projection D's; none for an unconditional or an AC-GAN D."""
    return labels if condition is not None and not condition.classifies else None


def generate(generator, noise, labels, training: bool):
    """G's images; ``labels`` None for an unconditional G."""
    return generator(model_inputs(noise, labels), training=training)


def discriminate(discriminator, images, labels, training: bool = True):
    """D's logits; ``labels`` None for an unconditional D."""
    return discriminator(model_inputs(images, labels), training=training)


GRID_ROWS = 10  # the most rows a sample grid gives to classes or attribute settings


@dataclass(frozen=True)
class GridRows:
    """A conditional sample grid: one row per class (or attribute setting), one column per noise vector."""

    labels: np.ndarray  # (rows, *label shape), as the models take them
    names: list[str]
    columns: int

    def inputs(self, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(noise, labels) for every image, row by row: column j of every row shares noise vector j."""
        rows = len(self.labels)
        return np.tile(noise[: self.columns], (rows, 1)), np.repeat(self.labels, self.columns, axis=0)


def grid_rows(condition: Condition, samples: int) -> GridRows:
    """The first classes, or the attribute settings most common in the data, about ``samples`` images in all."""
    spec = condition.spec
    if spec.kind == "classes":
        labels = np.arange(min(len(spec), GRID_ROWS), dtype=np.int32)
        names = [spec.names[k] for k in labels]
    else:
        settings, counts = np.unique(condition.table, axis=0, return_counts=True)
        labels = settings[np.argsort(-counts, kind="stable")[:GRID_ROWS]]
        names = [attribute_setting(spec, row) for row in labels]
    return GridRows(labels, names, max(1, samples // len(labels)))


def attribute_setting(spec: LabelSpec, flags) -> str:
    """``Smiling=true, Eyeglasses=false``: a row of attribute flags in the words ``--attribute`` takes."""
    return ", ".join(f"{name}={'true' if flag else 'false'}" for name, flag in zip(spec.names, flags))


def drawn(condition: Condition, rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` labels drawn from the training data's, as the training step draws the fakes'."""
    return condition.table[rng.integers(len(condition.table), size=count)]


def chosen(condition: Condition, rng: np.random.Generator, count: int, cls: str | None, attributes=()) -> np.ndarray:
    """Labels for ``count`` samples as ``sample --class`` / ``--attribute NAME=true`` ask: drawn from the
    data's labels (as training draws them), then the named class or attributes set.

    ``attributes``: ``"NAME=true"`` / ``"NAME=false"`` texts. ValueError, with the names there are, when the
    run's labels are of the other kind or a name is not among them."""
    spec, labels = condition.spec, drawn(condition, rng, count)
    other = "--attribute NAME=true|false" if spec.kind == "attributes" else "--class NAME"
    if cls is not None:
        if spec.kind != "classes":
            raise ValueError(f"this run's labels are attributes ({', '.join(spec.names)}), not classes: use {other}")
        labels[:] = spec.index(cls)
    for text in attributes:
        if spec.kind != "attributes":
            raise ValueError(f"this run's labels are classes, not attributes: use {other}")
        name, sign, value = text.partition("=")
        if not sign or value.strip().lower() not in ("true", "false"):
            raise ValueError(f"--attribute {text!r}: write NAME=true or NAME=false")
        labels[:, spec.index(name.strip())] = 1.0 if value.strip().lower() == "true" else 0.0
    return labels
