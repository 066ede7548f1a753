"""The two BCE losses against values worked out by hand."""

import math

import numpy as np
import pytest

from ganforge.backend import tensorflow

tensorflow()
from ganforge_losses.bce import Minimax, NonSaturating  # noqa: E402


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


REAL = [2.0, -1.0]
FAKE = [0.5, -3.0]


def expected_d_loss():
    real = -np.mean([math.log(sigmoid(x)) for x in REAL])
    fake = -np.mean([math.log(1 - sigmoid(x)) for x in FAKE])
    return real + fake


@pytest.mark.parametrize("loss", [Minimax(), NonSaturating()])
def test_discriminator_loss_is_bce_on_both_batches(loss):
    value = float(loss.discriminator_loss(np.array(REAL)[:, None], np.array(FAKE)[:, None]))
    assert value == pytest.approx(expected_d_loss(), rel=1e-6)


def test_generator_losses():
    fake = np.array(FAKE)[:, None]
    minimax = np.mean([math.log(1 - sigmoid(x)) for x in FAKE])  # G minimises log(1 - D(G(z)))
    nonsaturating = -np.mean([math.log(sigmoid(x)) for x in FAKE])  # G minimises -log D(G(z))
    assert float(Minimax().generator_loss(fake)) == pytest.approx(minimax, rel=1e-6)
    assert float(NonSaturating().generator_loss(fake)) == pytest.approx(nonsaturating, rel=1e-6)


def test_large_logits_stay_finite():
    logits = np.array([[500.0], [-500.0]], dtype="float32")
    for loss in (Minimax(), NonSaturating()):
        assert np.isfinite(float(loss.discriminator_loss(logits, logits)))
        assert np.isfinite(float(loss.generator_loss(logits)))


# -- the other losses, penalties, and their engine path --------------------
from ganforge_losses.divergences import Hinge, LeastSquares, Wasserstein, WassersteinGP  # noqa: E402
from ganforge_losses.penalties import R1, GradientPenalty  # noqa: E402


def test_least_squares():
    real, fake = np.array(REAL)[:, None], np.array(FAKE)[:, None]
    expected_d = 0.5 * np.mean([(x - 1) ** 2 for x in REAL]) + 0.5 * np.mean([x**2 for x in FAKE])
    assert float(LeastSquares().discriminator_loss(real, fake)) == pytest.approx(expected_d, rel=1e-6)
    assert float(LeastSquares().generator_loss(fake)) == pytest.approx(
        0.5 * np.mean([(x - 1) ** 2 for x in FAKE]), rel=1e-6
    )


def test_wasserstein_and_hinge():
    real, fake = np.array(REAL)[:, None], np.array(FAKE)[:, None]
    critic = np.mean(FAKE) - np.mean(REAL)
    for loss in (Wasserstein(), WassersteinGP()):
        assert float(loss.discriminator_loss(real, fake)) == pytest.approx(critic, rel=1e-6)
        assert float(loss.generator_loss(fake)) == pytest.approx(-np.mean(FAKE), rel=1e-6)
    hinge_d = np.mean([max(0, 1 - x) for x in REAL]) + np.mean([max(0, 1 + x) for x in FAKE])
    assert float(Hinge().discriminator_loss(real, fake)) == pytest.approx(hinge_d, rel=1e-6)
    assert float(Hinge().generator_loss(fake)) == pytest.approx(-np.mean(FAKE), rel=1e-6)


def test_one_sided_label_smoothing_changes_the_real_target():
    real, fake = np.array(REAL)[:, None], np.array(FAKE)[:, None]
    smoothed = -np.mean([0.9 * math.log(sigmoid(x)) + 0.1 * math.log(1 - sigmoid(x)) for x in REAL])
    smoothed += -np.mean([math.log(1 - sigmoid(x)) for x in FAKE])
    assert float(NonSaturating().discriminator_loss(real, fake, 0.9, 0.0)) == pytest.approx(smoothed, rel=1e-6)


def linear_discriminator(weights, bias=0.5):
    import keras

    inputs = keras.Input((len(weights),))
    dense = keras.layers.Dense(1)
    model = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.array(weights, "float32")[:, None], np.array([bias], "float32")])
    return model


def test_r1_equals_its_closed_form_for_a_linear_discriminator():
    from ganforge.training.engines.tensorflow.step import Judge
    from ganforge.training.objective import penalty_value

    w = [0.3, -1.2, 2.0]
    real = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    value = float(penalty_value(Judge(linear_discriminator(w)), R1(gamma=4.0), real))
    assert value == pytest.approx(4.0 / 2 * sum(x * x for x in w), rel=1e-5)


def test_gradient_penalty_closed_form_and_finite_where_the_gradient_is_zero():
    import tensorflow as tf

    from ganforge.training.engines.tensorflow.step import Judge
    from ganforge.training.objective import interpolated, penalty_value

    real = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    points = interpolated(real, real, np.full((8, 1), 0.3, "float32"))
    w = [0.6, 0.0, 0.8]  # norm 1: no penalty
    assert float(penalty_value(Judge(linear_discriminator(w)), GradientPenalty(weight=10.0), points)) == pytest.approx(
        0.0, abs=1e-5
    )
    # real = fake and a zero gradient: the norm's derivative is where NaNs come from
    flat = linear_discriminator([0.0, 0.0, 0.0])
    with tf.GradientTape() as tape:
        value = penalty_value(Judge(flat), GradientPenalty(weight=10.0), points)
    gradients = tape.gradient(value, flat.trainable_variables)
    assert float(value) == pytest.approx(10.0, rel=1e-4)  # 10 * (0 - 1)^2
    kernel_gradient = gradients[0]  # the bias does not move the input gradient: its gradient is None
    assert kernel_gradient is not None and np.all(np.isfinite(kernel_gradient.numpy()))


def test_weight_clipping():
    critic = linear_discriminator([0.5, -0.5, 0.001], bias=3.0)
    Wasserstein(clip=0.01).constrain_discriminator(critic)
    for variable in critic.trainable_variables:
        assert np.abs(variable.numpy()).max() <= 0.01 + 1e-9
