"""The relativistic losses against values and gradients worked out by hand, and G's update seeing D's real logits."""

import math

import numpy as np
import pytest
from conftest import TINY_RECIPE, write

from ganforge.backend import tensorflow

tf = tensorflow()
from ganforge_losses.relativistic import (  # noqa: E402
    RelativisticAverage,
    RelativisticAverageHinge,
    RelativisticPairing,
)

REAL = [2.0, -1.0, 0.5]
FAKE = [0.5, -3.0, 1.5]


def softplus(x):
    return math.log1p(math.exp(x))


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def column(values):
    return np.array(values, np.float64)[:, None]


def by_hand(kind):
    """(D loss, G loss, dG/dfake) for REAL and FAKE, from the papers' formulas, one term at a time."""
    n = len(REAL)
    mean_real, mean_fake = sum(REAL) / n, sum(FAKE) / n
    if kind == "rpgan":
        d = sum(softplus(f - r) for r, f in zip(REAL, FAKE)) / n
        g = sum(softplus(r - f) for r, f in zip(REAL, FAKE)) / n
        grad = [-sigmoid(r - f) / n for r, f in zip(REAL, FAKE)]
        return d, g, grad
    c_real = [r - mean_fake for r in REAL]  # each real against the mean fake
    c_fake = [f - mean_real for f in FAKE]  # each fake against the mean real
    if kind == "relativistic":
        d = sum(softplus(-c) for c in c_real) / n + sum(softplus(c) for c in c_fake) / n
        g = sum(softplus(-c) for c in c_fake) / n + sum(softplus(c) for c in c_real) / n
        # fake k moves its own C_f (+1) and every C_r through the mean fake (-1/n)
        through_real = sum(sigmoid(c) for c in c_real) / n
        grad = [-sigmoid(-c) / n - through_real / n for c in c_fake]
        return d, g, grad
    d = sum(max(0.0, 1 - c) for c in c_real) / n + sum(max(0.0, 1 + c) for c in c_fake) / n
    g = sum(max(0.0, 1 - c) for c in c_fake) / n + sum(max(0.0, 1 + c) for c in c_real) / n
    through_real = sum(1.0 for c in c_real if 1 + c > 0) / n
    grad = [-(1.0 if 1 - c > 0 else 0.0) / n - through_real / n for c in c_fake]
    return d, g, grad


LOSSES = {
    "relativistic": RelativisticAverage,
    "relativistic_hinge": RelativisticAverageHinge,
    "rpgan": RelativisticPairing,
}


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_values_and_the_generators_gradient_match_the_hand_computed_ones(kind):
    loss = LOSSES[kind]()
    d, g, grad = by_hand(kind)
    real, fake = tf.constant(column(REAL)), tf.Variable(column(FAKE))
    assert float(loss.discriminator_loss(real, fake)) == pytest.approx(d, rel=1e-9)
    with tf.GradientTape() as tape:
        value = loss.generator_loss(fake, real)
    assert float(value) == pytest.approx(g, rel=1e-9)
    np.testing.assert_allclose(tape.gradient(value, fake).numpy()[:, 0], grad, rtol=1e-9)


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_the_relativistic_losses_keep_the_contract(kind):
    from ganforge import testing

    testing.check_loss(LOSSES[kind])


def test_each_is_registered_as_a_loss_that_uses_real_logits():
    from ganforge.plugin.contract import supports
    from ganforge.plugin.registry import get_registry

    for name in LOSSES:
        loss = get_registry().get("loss", name).load_factory()()
        assert supports("loss", loss)["uses_real_logits"] is True


def test_generators_update_sees_ds_logits_on_the_steps_last_real_batch(tmp_path):
    """G's loss here is the mean of the real logits it is given: the step's G loss must be D's mean logit on the
    last real batch of the step (D's weights after its updates), not on the first."""
    from keras import ops

    from ganforge.recipe import load_recipe
    from ganforge.training.assembly import build_parts, make_optimizer
    from ganforge.training.engines.tensorflow.step import AdversarialStep
    from ganforge.training.step import LossTerms, StepSettings

    class RealMean(RelativisticPairing):
        def generator_loss(self, fake_logits, real_logits):
            return ops.mean(real_logits) + 0.0 * ops.mean(fake_logits)

    recipe = load_recipe(write(tmp_path / "tiny.toml", TINY_RECIPE))
    parts = build_parts(recipe)
    parts.loss = LossTerms(RealMean())
    optimizers = [
        make_optimizer(recipe.model.generator_optimizer, 1),
        make_optimizer(recipe.model.generator_optimizer, 1),
    ]
    step = AdversarialStep(parts, *optimizers, StepSettings(batch_size=16, latent_dim=16, d_steps=2))
    batches = np.random.default_rng(0).integers(0, 256, (2, 16, 32, 32, 1), dtype=np.uint8)
    _, generator_loss = step(batches, 0)

    def mean_logit(batch):
        return float(ops.mean(parts.discriminator(batch.astype(np.float32) / 127.5 - 1.0, training=True)))

    assert float(generator_loss) == pytest.approx(mean_logit(batches[1]), rel=1e-4, abs=1e-5)
    assert float(generator_loss) != pytest.approx(mean_logit(batches[0]), rel=1e-4, abs=1e-5)


def test_a_relativistic_recipe_trains_and_resumes_exactly(tmp_path):
    """4 steps of rpgan, checkpoints at 2 and 4; resumed from its own step-2 checkpoint in another folder,
    the run ends with the same weights."""
    from ganforge.recipe import load_recipe
    from ganforge.runs import checkpoint
    from ganforge.runs import folder as run_folder
    from ganforge.training.trainer import train

    overrides = ['loss={ name = "rpgan" }', "train.steps=4", "train.checkpoint_every=2", 'sinks=["jsonl"]']
    recipe = load_recipe(write(tmp_path / "tiny.toml", TINY_RECIPE), overrides)
    ends, start = [], None
    for name in ("whole", "resumed"):
        folder = run_folder.create(tmp_path / name, recipe.name, recipe.to_toml())
        result = train(recipe, folder, resume_from=start)
        start = folder / run_folder.CHECKPOINTS / "step_00000002.npz"  # the whole run's, for the resumed one
        assert result.checkpoint.name == "step_00000004.npz"
        with np.load(result.checkpoint) as saved:
            ends.append({key: saved[key] for key in saved.files if key != checkpoint.HEADER_KEY})
    for key in ends[0]:
        np.testing.assert_array_equal(ends[0][key], ends[1][key], err_msg=key)
