"""The two losses of Goodfellow et al. (2014), from logits.

D's loss is the same for both: binary cross-entropy with real labelled 1 and
fake labelled 0, each batch averaged separately and summed (the two batches
go through D separately, as in the article). They differ in G's loss:

- ``Minimax``: G minimises log(1 - D(G(z))) = -BCE(fake, 0), the game as
  written. Its gradient vanishes while D rejects fakes confidently.
- ``NonSaturating``: G minimises -log D(G(z)) = BCE(fake, 1), "fakes labelled
  1 through D" — what the article (and nearly every DCGAN) trains with.

log(sigmoid(x)) is computed as -softplus(-x), so no logit overflows.
"""

from keras import ops


def _bce_with_logits(logits, label):
    # BCE(sigmoid(x), y) = softplus(x) - y*x, stable for every x
    return ops.mean(ops.softplus(logits) - label * logits)


class Minimax:
    # label smoothing and label noise give other targets than 1 and 0
    supports_targets = True

    def discriminator_loss(self, real_logits, fake_logits, real_targets=1.0, fake_targets=0.0):
        return _bce_with_logits(real_logits, real_targets) + _bce_with_logits(fake_logits, fake_targets)

    def generator_loss(self, fake_logits):
        return -_bce_with_logits(fake_logits, 0.0)


class NonSaturating(Minimax):
    def generator_loss(self, fake_logits):
        return _bce_with_logits(fake_logits, 1.0)
