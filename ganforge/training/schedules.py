"""Schedules in training: learning rates, Adam's betas and the EMA's decay, and the optimizer built from them.

An optimizer's ``iterations`` counter is saved in every checkpoint, so a
schedule that reads only it resumes exactly where it left off. The
discriminator's optimizer updates ``d_steps`` times per training step, so its
schedule runs over ``steps * d_steps`` updates; a recipe's schedule (``ganforge.schedule``),
written in images, is read at ``iterations * images_per_update``.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from ganforge.schedule import Schedule, is_scheduled, traced


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


def learning_rate(config, updates: int, images_per_update: float = 1.0):
    """A float for a constant rate, else a schedule over ``updates`` optimizer updates, or the recipe's
    schedule in images (``images_per_update``: the images one update of this optimizer stands for)."""
    if isinstance(config.learning_rate, Schedule):
        if config.schedule != "constant":  # the recipe refuses both; this guards other callers
            raise ValueError("a learning_rate schedule replaces schedule/decay_start/final_scale: use one")
        if not is_scheduled(config.learning_rate):
            return config.learning_rate.initial
        return ImagesSchedule(config.learning_rate, images_per_update)
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


@keras.saving.register_keras_serializable(package="ganforge")
class ImagesSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A recipe's :class:`~ganforge.schedule.Schedule`, read at ``step * images_per_update`` images."""

    def __init__(self, schedule: Schedule | dict, images_per_update: float = 1.0):
        self.schedule = schedule if isinstance(schedule, Schedule) else Schedule.model_validate(schedule)
        self.images_per_update = float(images_per_update)

    def __call__(self, step):
        return traced(self.schedule, ops.cast(step, "float32") * self.images_per_update)

    def get_config(self):
        return {"schedule": self.schedule.model_dump(), "images_per_update": self.images_per_update}


@keras.saving.register_keras_serializable(package="ganforge")
class ScheduledAdam(keras.optimizers.Adam):
    """Adam whose ``beta_1`` and ``beta_2`` may be schedules, with StyleGAN2's lazy-regularisation ``ratio``.

    Keras' ``Adam.update_step`` reads ``self.beta_1`` and ``self.beta_2`` as numbers; here they are
    properties that give each update the scheduled value at ``iterations * images_per_update``
    images. ``iterations`` is read the way Adam reads it for its bias correction, so the value is the
    traced one inside ``tf.function`` and, on JAX, the one ``stateless_apply`` maps it to.

    ``ratio`` (Karras et al. 2020, appendix B: N / (N + 1) for a regulariser every N updates)
    multiplies the learning rate and raises each beta to its power; 1.0 changes nothing.

    The variables are exactly a plain Adam's (checkpoints store them by position), and with plain
    numbers and ratio 1.0 every update is bit for bit a plain Adam's.
    """

    def __init__(self, *args, images_per_update: float = 1.0, ratio: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"ratio must be in (0, 1], got {ratio}")
        self.images_per_update = float(images_per_update)
        self.ratio = float(ratio)

    # Adam.__init__ assigns the betas: the setters keep what was given, the getters evaluate it
    @property
    def beta_1(self):
        return self._beta_at_update(self._beta_1)

    @beta_1.setter
    def beta_1(self, value):
        self._beta_1 = value

    @property
    def beta_2(self):
        return self._beta_at_update(self._beta_2)

    @beta_2.setter
    def beta_2(self, value):
        self._beta_2 = value

    def _beta_at_update(self, beta):
        if not is_scheduled(beta):
            # a Python number stays one (Keras' own arithmetic on it), so unscheduled Adam is unchanged
            value = beta.initial if isinstance(beta, Schedule) else beta
            return value if self.ratio == 1.0 else float(value) ** self.ratio
        images = ops.cast(self.iterations, "float32") * self.images_per_update
        value = traced(beta, images)
        return value if self.ratio == 1.0 else ops.power(value, self.ratio)

    def _get_current_learning_rate(self):
        # the one place Keras reads the rate, for updates and for optimizer.learning_rate alike
        rate = super()._get_current_learning_rate()
        return rate if self.ratio == 1.0 else rate * self.ratio

    def get_config(self):
        config = super().get_config()
        for key, beta in (("beta_1", self._beta_1), ("beta_2", self._beta_2)):
            config[key] = beta.model_dump() if isinstance(beta, Schedule) else beta
        return {**config, "images_per_update": self.images_per_update, "ratio": self.ratio}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("beta_1", "beta_2"):
            if isinstance(config.get(key), dict):
                config[key] = Schedule.model_validate(config[key])
        return super().from_config(config, custom_objects)


def optimizer(
    config,
    updates: int,
    scale=1.0,
    loss_scaling: bool = False,
    *,
    images_per_update: float = 1.0,
    ratio: float = 1.0,
):
    """Adam for ``updates`` updates in all, its rate multiplied by ``scale``; betas and rate may be schedules.

    ``config``: an optimizer section (learning_rate, beta_1, beta_2, epsilon, schedule, decay_start,
    final_scale). ``scale`` may be a variable: the loop lowers it when it rolls back a diverged run.
    ``loss_scaling``: wrap it in a dynamic ``LossScaleOptimizer`` (float16 training).
    ``images_per_update``: the images one update stands for (a recipe's schedules are in images).
    ``ratio``: lazy regularisation's N / (N + 1) (:class:`ScheduledAdam`).
    """
    adam = ScheduledAdam(
        learning_rate=Scaled(learning_rate(config, updates, images_per_update), scale),
        beta_1=config.beta_1,
        beta_2=config.beta_2,
        epsilon=config.epsilon,
        images_per_update=images_per_update,
        ratio=ratio,
        name="adam",  # the variables' paths in a checkpoint's layout, as before schedules of betas
    )
    return keras.optimizers.LossScaleOptimizer(adam) if loss_scaling else adam


def ema_beta(half_life, images, batch_size: int, rampup: float):
    """StyleGAN's EMA decay for one step of ``batch_size`` images, ``images`` (maybe traced) seen before it.

    ``half_life`` (images; a number or a schedule) is the EMA's half-life; with ``rampup`` > 0 it is at
    most ``images * rampup``, so early weights, still changing fast, are forgotten sooner.
    A Python float when nothing depends on ``images``, else a float32 tensor.
    """
    half = traced(half_life, images)
    if rampup > 0:
        half = ops.minimum(half, ops.cast(images, "float32") * rampup)
    if isinstance(half, float):
        return 0.5 ** (batch_size / max(half, 1e-8))
    return ops.power(0.5, batch_size / ops.maximum(half, 1e-8))
