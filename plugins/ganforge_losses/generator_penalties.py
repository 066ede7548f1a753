"""Regularisers of the generator on its intermediate latent w.

The engine takes the gradients of G's images, projected on a random image,
with respect to w (differentiating is backend-specific) and keeps each
regulariser's ``state`` in variables that checkpoints hold; a regulariser
here only turns the gradients and the state into a term and statistics with
keras.ops, so it holds nothing between steps itself.
"""

from keras import ops

# A zero gradient has an undefined norm derivative; this keeps it finite.
NORM_EPSILON = 1e-12


def _path_lengths(gradients):
    """Per row: sqrt(mean over the ws axis of sum over w_dim of g^2); with no ws axis, sqrt(sum of g^2)."""
    squares = ops.sum(ops.square(ops.cast(gradients, "float32")), axis=-1)
    if len(gradients.shape) == 3:  # (rows, num_ws, w_dim): StyleGAN's broadcast w, one per synthesis layer
        squares = ops.mean(squares, axis=1)
    return ops.sqrt(squares + NORM_EPSILON)


def _lerp(old, new, amount):
    return old + amount * (new - old)


class PathLength:
    """Path length regularisation (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN",
    section 3.2): weight * E[(||J_w^T y||_2 - a)^2], a the running mean of the lengths with rate ``decay``.

    The term uses the mean moved by this batch, not detached, as the reference implementation does: the
    gradient also flows through this batch's share of the mean.
    """

    def __init__(self, weight: float = 2.0, decay: float = 0.01, batch_shrink: int = 2, every: int = 4):
        self.weight = weight
        self.decay = decay
        self.batch_shrink = batch_shrink
        self.every = every
        self.state = {"mean": 0.0}

    def from_latent_gradients(self, gradients, state):
        lengths = _path_lengths(gradients)
        batch_mean = ops.mean(lengths)
        moved = _lerp(ops.cast(state["mean"], "float32"), batch_mean, self.decay)
        term = self.weight * ops.mean(ops.square(lengths - moved))
        return term, {"mean": batch_mean}

    def updated(self, state, statistics):
        return {"mean": _lerp(ops.cast(state["mean"], "float32"), statistics["mean"], self.decay)}
