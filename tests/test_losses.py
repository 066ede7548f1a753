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
