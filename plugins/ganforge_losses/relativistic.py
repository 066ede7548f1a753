"""Relativistic losses: D judges how much more realistic real data is than fake, so G's loss needs D's
logits on the real batch too (the loss says so with ``uses_real_logits = True``).

With ``r`` D's logits on the real batch and ``f`` on the fake batch of the same step:

- ``RelativisticAverage`` (RaGAN, Jolicoeur-Martineau 2018), with ``C_r = r - mean(f)`` and
  ``C_f = f - mean(r)``: D minimises BCE(C_r, 1) + BCE(C_f, 0), G minimises BCE(C_f, 1) + BCE(C_r, 0).
  The paper's equations: the sum of the two terms, not their mean.
- ``RelativisticAverageHinge`` (RaHingeGAN, same paper): D minimises mean(relu(1 - C_r)) + mean(relu(1 + C_f)),
  G minimises mean(relu(1 - C_f)) + mean(relu(1 + C_r)).
- ``RelativisticPairing`` (RpGAN, same paper; the loss R3GAN builds on, Huang et al. 2024): each real example is
  paired with the fake one at the same place in the batch; D minimises mean(softplus(f - r)), G minimises
  mean(softplus(r - f)).

BCE(x, 1) = softplus(-x) and BCE(x, 0) = softplus(x): the stable forms, for any logit.
"""

from keras import ops


def _average_terms(real_logits, fake_logits):
    """(C_r, C_f): each side against the other side's mean."""
    return real_logits - ops.mean(fake_logits), fake_logits - ops.mean(real_logits)


class RelativisticAverage:
    uses_real_logits = True

    def discriminator_loss(self, real_logits, fake_logits):
        real_vs_fake, fake_vs_real = _average_terms(real_logits, fake_logits)
        return ops.mean(ops.softplus(-real_vs_fake)) + ops.mean(ops.softplus(fake_vs_real))

    def generator_loss(self, fake_logits, real_logits):
        real_vs_fake, fake_vs_real = _average_terms(real_logits, fake_logits)
        return ops.mean(ops.softplus(-fake_vs_real)) + ops.mean(ops.softplus(real_vs_fake))


class RelativisticAverageHinge:
    uses_real_logits = True

    def discriminator_loss(self, real_logits, fake_logits):
        real_vs_fake, fake_vs_real = _average_terms(real_logits, fake_logits)
        return ops.mean(ops.relu(1.0 - real_vs_fake)) + ops.mean(ops.relu(1.0 + fake_vs_real))

    def generator_loss(self, fake_logits, real_logits):
        real_vs_fake, fake_vs_real = _average_terms(real_logits, fake_logits)
        return ops.mean(ops.relu(1.0 - fake_vs_real)) + ops.mean(ops.relu(1.0 + real_vs_fake))


class RelativisticPairing:
    uses_real_logits = True

    def discriminator_loss(self, real_logits, fake_logits):
        return ops.mean(ops.softplus(fake_logits - real_logits))

    def generator_loss(self, fake_logits, real_logits):
        return ops.mean(ops.softplus(real_logits - fake_logits))
