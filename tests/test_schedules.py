"""Schedules of any number (ganforge/schedule.py) and the training parts built on them
(ganforge/training/schedules.py): values against the formulas written out in NumPy here, recipe-style
validation, and Adam with scheduled betas against a NumPy Adam, on TensorFlow and on JAX."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ganforge.schedule import Schedule, is_scheduled, scheduled, traced, value_at

ROOT = Path(__file__).resolve().parents[1]


def reference(shape, initial, final, start, end, images):
    """A schedule's value from its definition (docs/regularisation.md), in float64."""
    if shape == "constant":
        return initial
    if shape == "linear":
        return float(np.interp(images, [start, end], [initial, final]))
    t = min(max((images - start) / (end - start), 0.0), 1.0)
    return final + (initial - final) * 0.5 * (1 + math.cos(math.pi * t))


# -- values --------------------------------------------------------------------
POINTS = [0, 999, 1000, 1500, 2000, 2750, 3999, 4000, 10**7]


@pytest.mark.parametrize("shape", ["linear", "cosine"])
def test_a_schedule_holds_initial_before_its_start_final_after_its_end_and_its_shape_between(shape):
    schedule = Schedule(shape=shape, initial=2e-4, final=5e-5, start_images=1000, end_images=4000)
    for images in POINTS:
        assert value_at(schedule, images) == pytest.approx(reference(shape, 2e-4, 5e-5, 1000, 4000, images), rel=1e-12)
    # the ends exactly, as a run's first and last records show them
    assert value_at(schedule, 0) == 2e-4 and value_at(schedule, 1000) == 2e-4
    assert value_at(schedule, 4000) == 5e-5 and value_at(schedule, 10**7) == 5e-5
    # halfway: linear is the mean; cosine too (cos(pi/2) = 0); a quarter in, cosine has moved less
    assert value_at(schedule, 2500) == pytest.approx(1.25e-4, rel=1e-12)
    quarter = 2e-4 - value_at(schedule, 1750)
    assert quarter == pytest.approx(1.5e-4 * (0.25 if shape == "linear" else (1 - math.cos(math.pi / 4)) / 2))


def test_a_constant_schedule_and_a_plain_number_are_their_value_everywhere():
    constant = Schedule(shape="constant", initial=0.3)
    assert [value_at(constant, images) for images in POINTS] == [0.3] * len(POINTS)
    assert value_at(0.3, 123) == 0.3 and value_at(2, 0) == 2.0
    assert not is_scheduled(constant) and not is_scheduled(0.3)
    assert is_scheduled(Schedule(shape="linear", initial=0.0, final=1.0, end_images=10))


@pytest.mark.parametrize("shape", ["linear", "cosine"])
def test_traced_gives_value_at_in_float32_on_a_tensor_of_image_counts(shape):
    from keras import ops

    schedule = Schedule(shape=shape, initial=0.999, final=0.99, start_images=1000, end_images=4000)
    values = ops.convert_to_numpy(traced(schedule, ops.convert_to_tensor(np.array(POINTS, np.float32))))
    assert values.dtype == np.float32
    expected = [value_at(schedule, images) for images in POINTS]
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    assert values[0] == np.float32(0.999) and values[-1] == np.float32(0.99)  # the ends exactly
    assert traced(0.5, ops.convert_to_tensor(3.0)) == 0.5  # a plain number stays a Python float


# -- validation: errors a recipe turns into "file, key: message" ---------------
class Section(BaseModel):
    """Like a recipe's section: strict, no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True)
    p: scheduled(ge=0, le=1) = Field(0.0)
    rate: scheduled(gt=0) | None = None


def first_error(**values) -> tuple[tuple, str]:
    with pytest.raises(ValidationError) as caught:
        Section.model_validate(values, strict=True)
    error = caught.value.errors()[0]
    return error["loc"], error["msg"]


def linear(**keys):
    return {"shape": "linear", "initial": 0.0, "final": 1.0, "end_images": 1000, **keys}


def test_a_field_takes_a_number_or_a_schedule_table():
    assert Section.model_validate({"p": 1}, strict=True).p == 1.0  # TOML's integers are numbers
    section = Section.model_validate({"p": linear(start_images=10), "rate": 2e-4}, strict=True)
    assert section.p == Schedule(shape="linear", initial=0.0, final=1.0, start_images=10, end_images=1000)
    assert type(section.p) is Schedule and section.rate == 2e-4
    assert Section.model_validate({"p": section.p}, strict=True).p == section.p  # a Schedule made in Python


def test_a_schedule_that_ends_before_it_starts_is_refused_with_both_counts():
    loc, message = first_error(p=linear(start_images=5000, end_images=4000))
    assert loc == ("p",)
    assert "ends (end_images = 4000) before it starts (start_images = 5000)" in message
    assert (
        "(end_images = 10) before it starts (start_images = 10)"
        in first_error(p=linear(start_images=10, end_images=10))[1]
    )


def test_the_bounds_hold_for_a_number_and_for_a_schedules_initial_and_final_naming_the_key():
    assert first_error(p=1.5) == (("p",), "Input should be less than or equal to 1")
    assert first_error(p=linear(final=1.5)) == (("p", "final"), "Input should be less than or equal to 1")
    assert first_error(p=linear(initial=-0.5)) == (("p", "initial"), "Input should be greater than or equal to 0")
    assert first_error(rate=linear(initial=1e-3, final=0.0)) == (("rate", "final"), "Input should be greater than 0")
    assert first_error(p=float("nan"))[1] == "Input should be a finite number"


def test_malformed_schedules_are_refused_at_their_key():
    assert "keeps its initial value" in first_error(p={"shape": "constant", "initial": 0.5, "final": 0.6})[1]
    assert first_error(p={"shape": "cosine", "initial": 0.5})[1] == "a cosine schedule needs final and end_images"
    loc, message = first_error(p=linear(shape="exponential"))
    assert loc == ("p", "shape") and "'constant', 'linear' or 'cosine'" in message
    assert first_error(p=linear(end_image=10)) == (("p", "end_image"), "Extra inputs are not permitted")
    assert first_error(p=linear(end_images=1e6))[0] == ("p", "end_images")  # images are counted: integers
    assert first_error(p=linear(start_images=-1))[0] == ("p", "start_images")
    loc, message = first_error(p="0.5")
    assert loc == ("p",) and message.startswith("Input should be a number, or a schedule table")
    assert first_error(p=True)[0] == ("p",)


# -- the EMA's decay -----------------------------------------------------------
def test_ema_beta_is_stylegans_half_life_decay_with_its_rampup():
    from keras import ops

    from ganforge.training.schedules import ema_beta

    def stylegan(ema_nimg, cur_nimg, batch, rampup):  # training_loop.py's three lines
        if rampup is not None:
            ema_nimg = min(ema_nimg, cur_nimg * rampup)
        return 0.5 ** (batch / max(ema_nimg, 1e-8))

    for images in (0.0, 1e5, 1e6):
        got = ema_beta(10_000.0, ops.convert_to_tensor(images), 64, 0.05)
        assert float(ops.convert_to_numpy(got)) == pytest.approx(stylegan(10_000, images, 64, 0.05), rel=1e-6)
    assert float(ops.convert_to_numpy(ema_beta(10_000.0, ops.convert_to_tensor(0.0), 64, 0.05))) == 0.0
    assert ema_beta(10_000.0, 1e6, 64, 0.0) == stylegan(10_000, 1e6, 64, None)  # a Python float, exactly
    schedule = Schedule(shape="linear", initial=10_000.0, final=20_000.0, end_images=2_000_000)
    got = ops.convert_to_numpy(ema_beta(schedule, ops.convert_to_tensor(1e6), 64, 0.05))
    assert float(got) == pytest.approx(stylegan(15_000, 1e6, 64, 0.05), rel=1e-6)


# -- Adam with scheduled betas -------------------------------------------------
LR, EPSILON, STEPS = 0.05, 1e-8, 4
BETA_2 = {"shape": "linear", "initial": 0.5, "final": 0.99, "start_images": 64, "end_images": 256}
BETA_1 = {"shape": "cosine", "initial": 0.9, "final": 0.0, "end_images": 192}


def grads_and_start():
    rng = np.random.default_rng(3)
    start = rng.normal(size=(3, 4)).astype(np.float32)
    return start, [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(STEPS)]


def numpy_adam(beta_1, beta_2, images_per_update, ratio=1.0):
    """Keras' Adam update (optimizers/adam.py) in float64, each beta read at the update's images.

    Keras works in float32 on weights near 1: the changes it makes agree to about 1e-6 absolute."""
    start, grads = grads_and_start()
    w, m, v = start.astype(np.float64), np.zeros((3, 4)), np.zeros((3, 4))
    for step, g in enumerate(grads):
        images = step * images_per_update
        b1 = value_at(beta_1, images) ** ratio
        b2 = value_at(beta_2, images) ** ratio
        t = step + 1
        alpha = LR * ratio * math.sqrt(1 - b2**t) / (1 - b1**t)
        m += (g - m) * (1 - b1)
        v += (g**2 - v) * (1 - b2)
        w -= m * alpha / (np.sqrt(v) + EPSILON)
    return w - start


def config(beta_1=0.5, beta_2=0.99, **keys):
    parse = lambda beta: Schedule.model_validate(beta) if isinstance(beta, dict) else beta  # noqa: E731
    return SimpleNamespace(
        learning_rate=LR, beta_1=parse(beta_1), beta_2=parse(beta_2), epsilon=EPSILON, schedule="constant",
        decay_start=0.0, final_scale=0.0, **keys,
    )  # fmt: skip


def train_on_tensorflow(optimizer, compiled=True):
    """STEPS updates of one weight, from one traced tf.function (iterations read inside the graph)."""
    import keras
    import tensorflow as tf

    start, grads = grads_and_start()
    weight = keras.Variable(start)
    optimizer.build([weight])
    apply = (
        tf.function(lambda g: optimizer.apply([g], [weight])) if compiled else lambda g: optimizer.apply([g], [weight])
    )
    for g in grads:
        apply(tf.constant(g))
    return weight.numpy() - start, optimizer


def test_with_plain_numbers_scheduled_adam_is_bit_for_bit_kerass_adam():
    import keras

    from ganforge.training.schedules import Scaled, optimizer

    ours, adam = train_on_tensorflow(optimizer(config(), 100), compiled=False)
    plain = keras.optimizers.Adam(learning_rate=Scaled(LR, 1.0), beta_1=0.5, beta_2=0.99, epsilon=EPSILON)
    theirs, plain = train_on_tensorflow(plain, compiled=False)
    assert np.array_equal(ours, theirs)
    # the same variables in the same order: checkpoints store them by position
    kinds = lambda optimizer: [(v.path.split("/")[-1].rsplit("_")[-1], v.shape) for v in optimizer.variables]  # noqa: E731
    assert kinds(adam) == kinds(plain)


def test_scheduled_betas_are_read_at_each_updates_images_inside_tf_function():
    from ganforge.training.schedules import optimizer

    deltas, adam = train_on_tensorflow(optimizer(config(BETA_1, BETA_2), 100, images_per_update=64.0))
    expected = numpy_adam(Schedule(**BETA_1), Schedule(**BETA_2), 64.0)
    np.testing.assert_allclose(deltas, expected, rtol=2e-5, atol=1e-6)
    frozen = numpy_adam(0.9, 0.5, 64.0)  # what betas stuck at their first values would give
    assert np.abs(frozen - expected).max() > 100 * np.abs(deltas - expected).max()
    assert int(adam.iterations.numpy()) == STEPS


def test_lazy_regularisations_ratio_scales_the_rate_and_raises_the_betas_to_its_power():
    from keras import ops

    from ganforge.training.schedules import optimizer

    ratio = 16 / 17
    deltas, adam = train_on_tensorflow(optimizer(config(0.5, BETA_2), 100, images_per_update=64.0, ratio=ratio))
    np.testing.assert_allclose(deltas, numpy_adam(0.5, Schedule(**BETA_2), 64.0, ratio), rtol=2e-5, atol=1e-6)
    assert float(ops.convert_to_numpy(adam.learning_rate)) == pytest.approx(LR * ratio, rel=1e-6)
    assert adam.beta_1 == 0.5**ratio


def test_a_learning_rate_schedule_is_read_at_iterations_times_images_per_update():
    from keras import ops

    from ganforge.training.schedules import ImagesSchedule, optimizer

    rate = Schedule(shape="cosine", initial=2e-4, final=5e-5, end_images=6400)
    adam = optimizer(SimpleNamespace(**{**vars(config()), "learning_rate": rate}), 100, images_per_update=64.0)
    for updates in (0, 50, 100, 200):
        adam.iterations.assign(updates)
        got = float(ops.convert_to_numpy(adam.learning_rate))
        assert got == pytest.approx(value_at(rate, updates * 64), rel=1e-6)
    restored = ImagesSchedule.from_config(ImagesSchedule(rate, 64.0).get_config())
    assert restored.schedule == rate and restored.images_per_update == 64.0


def test_the_old_learning_rate_decay_and_loss_scaling_still_build():
    import keras
    from keras import ops

    from ganforge.training.schedules import HoldThenDecay, ScheduledAdam, optimizer

    old = SimpleNamespace(**{**vars(config()), "schedule": "cosine", "decay_start": 0.5, "final_scale": 0.1})
    adam = optimizer(old, 100)
    assert isinstance(adam._learning_rate.rate, HoldThenDecay)
    adam.iterations.assign(100)
    assert float(ops.convert_to_numpy(adam.learning_rate)) == pytest.approx(LR * 0.1, rel=1e-6)
    wrapped = optimizer(config(), 100, loss_scaling=True)
    assert isinstance(wrapped, keras.optimizers.LossScaleOptimizer)
    assert isinstance(wrapped.inner_optimizer, ScheduledAdam)


def test_scheduled_adams_config_round_trips_with_its_schedules():
    from ganforge.training.schedules import ScheduledAdam, optimizer

    adam = optimizer(config(0.5, BETA_2), 100, images_per_update=32.0, ratio=0.75)
    again = ScheduledAdam.from_config(adam.get_config())
    assert again._beta_2 == Schedule(**BETA_2) and again._beta_1 == 0.5
    assert (again.ratio, again.images_per_update, again.epsilon) == (0.75, 32.0, EPSILON)


ON_JAX = """
import json, sys
sys.modules["tensorflow"] = None  # the JAX engine must not need TensorFlow
sys.path.insert(0, sys.argv[1])
import jax, keras
from test_schedules import STEPS, config, grads_and_start
from ganforge.training.schedules import optimizer

beta_1, beta_2, ratio = json.loads(sys.argv[2])
adam = optimizer(config(beta_1, beta_2), 100, images_per_update=64.0, ratio=ratio)
start, grads = grads_and_start()
weight = keras.Variable(start)
adam.build([weight])
# one compiled program for every update: iterations is a traced input of it
step = jax.jit(lambda variables, g, weights: adam.stateless_apply(variables, [g], weights))
weights, variables = [weight.value], [v.value for v in adam.variables]
for g in grads:
    weights, variables = step(variables, g, weights)
print(json.dumps({"deltas": (weights[0] - start).tolist(), "iterations": int(variables[0]),
                  "compiled": step._cache_size()}))
"""


@pytest.mark.slow  # a JAX process
def test_on_jax_stateless_apply_under_jit_reads_each_updates_scheduled_betas():
    ratio = 4 / 5
    answer = subprocess.run(
        [sys.executable, "-c", ON_JAX, str(Path(__file__).parent), json.dumps([BETA_1, BETA_2, ratio])],
        capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "jax"}, timeout=120, check=False,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr[-3000:]
    result = json.loads(answer.stdout.strip().splitlines()[-1])
    assert result["iterations"] == STEPS and result["compiled"] == 1
    expected = numpy_adam(Schedule(**BETA_1), Schedule(**BETA_2), 64.0, ratio)
    np.testing.assert_allclose(np.array(result["deltas"]), expected, rtol=2e-5, atol=1e-6)
