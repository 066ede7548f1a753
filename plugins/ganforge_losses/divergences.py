"""Losses beyond the original GAN: least squares, Wasserstein, hinge.

All take D's raw outputs ("logits": no sigmoid anywhere) and use keras.ops.

- ``LeastSquares`` (Mao et al. 2017, the 0-1-1 coding): D regresses real to
  1 and fake to 0, G pulls fakes to 1.
- ``Wasserstein`` (Arjovsky et al. 2017): D (a critic) widens
  mean(real) - mean(fake); its weights are clipped to [-clip, clip] after
  every update to keep it Lipschitz.
- ``WassersteinGP`` (Gulrajani et al. 2017): the same critic loss with a
  gradient penalty instead of clipping (weight 10 in the paper).
- ``Hinge`` (Lim & Ye 2017; Miyato et al. 2018): D's margin loss
  relu(1 - real) + relu(1 + fake), G raises mean(fake).
"""

from keras import ops

from ganforge_losses.penalties import GradientPenalty


class LeastSquares:
    supports_targets = True

    def discriminator_loss(self, real_logits, fake_logits, real_targets=1.0, fake_targets=0.0):
        return 0.5 * ops.mean(ops.square(real_logits - real_targets)) + 0.5 * ops.mean(
            ops.square(fake_logits - fake_targets)
        )

    def generator_loss(self, fake_logits):
        return 0.5 * ops.mean(ops.square(fake_logits - 1.0))


class Wasserstein:
    # a penalty on D's gradients contradicts clipping its weights
    accepts_penalty = False

    def __init__(self, clip: float = 0.01):
        self.clip = clip

    def discriminator_loss(self, real_logits, fake_logits):
        return ops.mean(fake_logits) - ops.mean(real_logits)

    def generator_loss(self, fake_logits):
        return -ops.mean(fake_logits)

    def constrain_discriminator(self, discriminator):
        """Called by the engine after every discriminator update."""
        for variable in discriminator.trainable_variables:
            variable.assign(ops.clip(variable, -self.clip, self.clip))


class WassersteinGP(Wasserstein):
    accepts_penalty = False  # it carries its own

    def __init__(self, weight: float = 10.0):
        self.penalty = GradientPenalty(weight=weight)

    def constrain_discriminator(self, discriminator):
        pass


class Hinge:
    def discriminator_loss(self, real_logits, fake_logits):
        return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))

    def generator_loss(self, fake_logits):
        return -ops.mean(fake_logits)
