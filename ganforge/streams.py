"""Every random stream ganforge draws from, in one place.

Each stream is keyed by the recipe's seed and a fixed number, so any draw can
be made again without replaying the draws before it: a resumed run draws
exactly what the uninterrupted run drew, and evaluating or sampling never
moves the training streams. Changing a number here changes every figure
measured with a seed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

# -- inside the training step ---------------------------------------------
# Drawn on the host with NumPy, keyed [seed, STEP, step, draw, stream]: the same numbers on every
# backend and every number of devices, so a step from the same weights gives the same losses on
# TensorFlow and on JAX, and each device takes its rows of what the whole batch drew.
# Draw 0..d_steps-1 are D's updates and draw d_steps is G's.
STEP = 2**31 - 5
NOISE, LABELS, INTERPOLATION, AUGMENT, CONDITION, LATENT_PROBE = 0, 1, 2, 3, 4, 5


class Draws(NamedTuple):
    """Every random number one training step uses; the batch is axis 1 of each, as in the real batches."""

    noise: np.ndarray  # (d_steps + 1, batch, latent_dim) float32: one per D update, then G's
    flips: np.ndarray  # (d_steps, batch, 2) bool: flip D's target for the real / the fake image
    alpha: np.ndarray  # (d_steps, batch) float32: the real image's weight in a penalty's interpolated point
    augment: np.ndarray  # (d_steps + 1, batch, 2, columns) float32 in [0, 1): the augmentation's numbers for the
    # real / the fake image of each update (DiffAugment's 7 or ADA's; last axis empty when nothing is augmented)
    condition: np.ndarray  # (d_steps + 1, batch, *label shape): the fakes' labels of each update, drawn from
    # the training data's labels ((d_steps + 1, batch, 0) when the run is not conditional)
    latent_probe: np.ndarray  # (1, batch, *image shape) float32 N(0, 1): the random images a generator-side
    # regulariser (path length) projects G's output on, drawn only at steps that pay it; (1, batch, 0) otherwise

    def rows(self, rows: slice) -> Draws:
        """The rows of the batch one worker (or one device) trains on."""
        return self.map(lambda values: values[:, rows])

    def map(self, function) -> Draws:
        """``function`` applied to each array, the names kept (to place them on devices, say)."""
        return Draws(*(function(values) for values in self))

    def update(self, draw: int, conditional: bool) -> UpdateDraws:
        """What update ``draw`` of the step uses (0..d_steps-1: D's, d_steps: G's), by name. G's update
        flips no target and takes no penalty points; an unconditional run's fakes have no labels."""
        for_d = draw < self.flips.shape[0]  # (static: a traced array has its shape)
        return UpdateDraws(
            noise=self.noise[draw],
            flips=self.flips[draw] if for_d else None,
            alpha=self.alpha[draw] if for_d else None,
            augment_real=self.augment[draw][:, 0],
            augment_fake=self.augment[draw][:, 1],
            labels=self.condition[draw] if conditional else None,
            latent_probe=None if for_d else self.latent_probe[0],
        )


class UpdateDraws(NamedTuple):
    """One update's rows of a step's :class:`Draws`, as ``training/objective.py`` reads them."""

    noise: Any  # (batch, latent_dim): the fakes' noise
    flips: Any  # (batch, 2) or None (G's update): flip D's target for the real / the fake image
    alpha: Any  # (batch,) or None (G's update): the real image's weight in an interpolated point
    augment_real: Any  # (batch, 7 or 0): DiffAugment's numbers for the real images
    augment_fake: Any  # (batch, 7 or 0): ... and for the fakes
    labels: Any  # the fakes' labels, or None when the run is not conditional
    latent_probe: Any = None  # (batch, *image shape) for G's update at a step that pays a G regulariser


def step_draws(
    seed: int,
    step: int,
    d_steps: int,
    batch: int,
    latent_dim: int,
    label_noise: float,
    augment: int = 0,
    labels: np.ndarray | None = None,
    latent_probe: tuple[int, ...] | None = None,
) -> Draws:
    """The draws of ``step`` for the whole global batch, made again identically whenever asked.

    ``augment``: how many numbers each augmented image draws (0: none). ``labels``: a conditional run's
    training labels, one row per example; each fake's label is the label of an example picked at random,
    so fakes follow the data's label distribution (joint, for attributes). ``latent_probe``: the image
    shape, at a step whose G update pays a generator-side regulariser."""

    def stream(draw: int, which: int) -> np.random.Generator:
        return np.random.default_rng([seed, STEP, step, draw, which])

    noise = np.stack(
        [stream(draw, NOISE).standard_normal((batch, latent_dim), np.float32) for draw in range(d_steps + 1)]
    )
    if label_noise:
        flips = np.stack([stream(draw, LABELS).random((batch, 2)) < label_noise for draw in range(d_steps)])
    else:
        flips = np.zeros((d_steps, batch, 2), bool)
    alpha = np.stack([stream(draw, INTERPOLATION).random(batch, np.float32) for draw in range(d_steps)])
    shape = (batch, 2, augment)
    augmented = np.stack([stream(draw, AUGMENT).random(shape, np.float32) for draw in range(d_steps + 1)])
    if labels is None:
        condition = np.zeros((d_steps + 1, batch, 0), np.float32)
    else:
        condition = np.stack(
            [labels[stream(draw, CONDITION).integers(len(labels), size=batch)] for draw in range(d_steps + 1)]
        )
    if latent_probe is None:
        probe = np.zeros((1, batch, 0), np.float32)
    else:
        probe = stream(d_steps, LATENT_PROBE).standard_normal((1, batch, *latent_probe), np.float32)
    return Draws(noise, flips, alpha, augmented, condition, probe)


# -- NumPy generators, keyed [seed, stream, ...] ---------------------------
# Data order uses [seed, epoch]: epochs count up from 0, so the fixed streams
# (and STEP above) sit at the far end of the key space.
FIXED_SAMPLES = 2**31 - 1  # the sample grids' noise, the same at every step
EVALUATION = 2**31 - 2  # metrics during training, keyed by step too
EVAL_COMMAND = 2**31 - 3  # `ganforge eval`, keyed by its --seed
SAMPLE_COMMAND = 2**31 - 4  # `ganforge sample` and `interpolate`, keyed by --seed
SUBSET = 2**31 - 6  # `[dataset] limit`'s rows: keyed by nothing else, the same for every run seed


def data_order(seed: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch])


def subset(size: int, limit: int) -> np.ndarray:
    """The ``limit`` rows of a ``size``-example dataset that ``[dataset] limit`` trains on, in order."""
    return np.sort(np.random.default_rng([SUBSET, size]).permutation(size)[:limit])


def generator(seed: int, stream: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *more])
