"""Learning-rate schedules, as functions of the optimizer's own update count.

An optimizer's ``iterations`` counter is saved in every checkpoint, so a
schedule that reads only it resumes exactly where it left off. The
discriminator's optimizer updates ``d_steps`` times per training step, so its
schedule runs over ``steps * d_steps`` updates.
"""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ganforge")
class HoldThenDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Hold ``initial`` until ``decay_start`` updates, then decay to ``initial * final_scale`` at ``total``.

    ``shape`` is ``"linear"`` or ``"cosine"``; past ``total`` the rate stays at its final value.
    """

    def __init__(self, initial: float, total: int, decay_start: int, final_scale: float, shape: str):
        if shape not in ("linear", "cosine"):
            raise ValueError(f"unknown decay shape {shape!r}")
        self.initial = float(initial)
        self.total = int(total)
        self.decay_start = int(decay_start)
        self.final_scale = float(final_scale)
        self.shape = shape

    def __call__(self, step):
        span = max(self.total - self.decay_start, 1)
        progress = ops.clip((ops.cast(step, "float32") - self.decay_start) / span, 0.0, 1.0)
        if self.shape == "cosine":
            remaining = 0.5 * (1.0 + ops.cos(math.pi * progress))
        else:
            remaining = 1.0 - progress
        return self.initial * (self.final_scale + (1.0 - self.final_scale) * remaining)

    def get_config(self):
        return {
            "initial": self.initial,
            "total": self.total,
            "decay_start": self.decay_start,
            "final_scale": self.final_scale,
            "shape": self.shape,
        }


def learning_rate(config, updates: int):
    """A float for a constant rate, else a schedule over ``updates`` optimizer updates."""
    if config.schedule == "constant":
        return config.learning_rate
    return HoldThenDecay(
        config.learning_rate, updates, int(round(config.decay_start * updates)), config.final_scale, config.schedule
    )


@keras.saving.register_keras_serializable(package="ganforge")
class Scaled(keras.optimizers.schedules.LearningRateSchedule):
    """``rate`` (a float or a schedule) times ``scale``, a variable the loop lowers after a rollback.

    The scale lives outside the optimizer's variables so that checkpoints keep
    their layout; the loop saves it in each checkpoint's header instead.
    """

    def __init__(self, rate, scale):
        self.rate = rate
        self.scale = scale

    def __call__(self, step):
        base = self.rate(step) if callable(self.rate) else self.rate
        return base * ops.convert_to_tensor(self.scale)

    def get_config(self):
        rate = keras.saving.serialize_keras_object(self.rate) if callable(self.rate) else self.rate
        return {"rate": rate, "scale": float(ops.convert_to_numpy(self.scale))}
