"""Penalties on the discriminator's input gradients.

The engine takes the gradient of D's output with respect to its input at
the points a penalty asks for (``points``: real images, G's images or
interpolates), because differentiating is backend-specific; a penalty turns those per-example gradients into a scalar
with keras.ops. ``every`` > 1 applies it lazily, every that many
discriminator updates, scaled by ``every`` so its average strength is kept
(Karras et al. 2020).
"""

from keras import ops

# A zero gradient has an undefined norm derivative; this keeps it finite.
NORM_EPSILON = 1e-12


def _squared_norms(gradients):
    flat = ops.reshape(gradients, (ops.shape(gradients)[0], -1))
    return ops.sum(ops.square(flat), axis=1)


class GradientPenalty:
    """WGAN-GP: weight * E[(||grad D(x_hat)|| - 1)^2] at x_hat = a*real + (1-a)*fake, a ~ U(0, 1) per example."""

    points = "interpolated"

    def __init__(self, weight: float = 10.0, every: int = 1):
        self.weight = weight
        self.every = every

    def from_gradients(self, gradients):
        norms = ops.sqrt(_squared_norms(gradients) + NORM_EPSILON)
        return self.weight * ops.mean(ops.square(norms - 1.0))


class R1:
    """R1 (Mescheder et al. 2018): gamma / 2 * E[||grad D(x)||^2] on real images."""

    points = "real"

    def __init__(self, gamma: float = 10.0, every: int = 1):
        self.gamma = gamma
        self.every = every

    def from_gradients(self, gradients):
        return 0.5 * self.gamma * ops.mean(_squared_norms(gradients))


class R2(R1):
    """R2 (Mescheder et al. 2018): R1's term, taken on G's images, held constant (no gradient to G)."""

    points = "fake"
