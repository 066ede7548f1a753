"""Every random stream ganforge draws from, in one place.

Each stream is keyed by the recipe's seed and a fixed number, so any draw can
be made again without replaying the draws before it: a resumed run draws
exactly what the uninterrupted run drew, and evaluating or sampling never
moves the training streams. Changing a number here changes every figure
measured with a seed.
"""

from __future__ import annotations

import numpy as np

# -- inside the training step (stateless TensorFlow draws) ----------------
# One counter per (step, draw, stream): draw 0..d_steps-1 are D's updates and
# draw d_steps is G's. Streams are spaced by STEP_STREAMS, one spare.
NOISE, LABELS, INTERPOLATION = 0, 1, 2
STEP_STREAMS = 4


def step_counter(step, draw: int, stream: int, d_steps: int):
    """The counter of ``stream`` at ``draw`` of ``step`` (``step`` may be a tensor)."""
    return (step * (d_steps + 1) + draw) * STEP_STREAMS + stream


# -- NumPy generators, keyed [seed, stream, ...] ---------------------------
# Data order uses [seed, epoch]: epochs count up from 0, so the fixed streams
# below sit at the far end of the key space.
FIXED_SAMPLES = 2**31 - 1  # the sample grids' noise, the same at every step
EVALUATION = 2**31 - 2  # metrics during training, keyed by step too
EVAL_COMMAND = 2**31 - 3  # `ganforge eval`, keyed by its --seed
SAMPLE_COMMAND = 2**31 - 4  # `ganforge sample` and `interpolate`, keyed by --seed


def data_order(seed: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch])


def generator(seed: int, stream: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *more])
