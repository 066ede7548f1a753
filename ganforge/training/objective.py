"""The GAN objective: what D's and G's updates minimise, written once for every engine.

Each engine (``engines/tensorflow``, ``engines/jax``) differentiates these functions its own
way — ``tf.GradientTape`` on TensorFlow, ``jax.grad`` over a stateless call on JAX — and hands
them the models as two small callables (:class:`Judge` for D, :class:`Maker` for G), so the
loss, the classification term of a conditional run, every penalty and the augmentation of
every image D sees are composed here and nowhere else. Adding a term to the objective touches
this file only.

Everything here is ``keras.ops``, traced inside the engine's compiled step; the module is imported
by the engines only, once the recipe has chosen Keras' backend.
"""

from __future__ import annotations

from typing import Any, Protocol

from keras import ops

from ganforge.streams import UpdateDraws
from ganforge.training.augment import augment
from ganforge.training.condition import shown_labels


class Judge(Protocol):
    """D as the objective runs it; each engine makes one for every update it differentiates."""

    def __call__(self, images: Any, labels: Any) -> Any:
        """D's outputs for ``images`` (in training mode), shown ``labels`` when they are not None."""

    def input_gradients(self, points: Any, value_of: Any) -> Any:
        """The gradient of the scalar ``value_of(points)`` with respect to ``points`` (D's input)."""

    def when(self, due: Any, value: Any) -> Any:
        """``value()`` where the traced boolean ``due`` holds, a float32 zero elsewhere: a lazy term
        costs nothing on the updates that skip it."""


class Maker(Protocol):
    """G as the objective runs it (in training mode)."""

    def __call__(self, noise: Any, labels: Any) -> Any: ...


class Objective:
    """D's and G's losses for one update, from the step's settings and the players' scoring parts.

    ``settings``: the step's :class:`~ganforge.training.step.StepSettings`; ``players``: its
    :class:`~ganforge.training.step.Players` (the loss, the penalties, a conditional run's labels).
    """

    def __init__(self, players, settings):
        self.loss = players.loss
        self.penalties = list(players.penalties)
        self.condition = players.condition
        self.settings = settings

    # -- the two losses ----------------------------------------------------------
    def fakes(self, maker: Maker, update: UpdateDraws):
        """G's images for this update's noise (and the labels drawn for them, in a conditional run)."""
        return maker(update.noise, update.labels)

    def discriminator(self, judge: Judge, real_batch, fake, update: UpdateDraws, real_labels, step, draw: int):
        """D's loss on one real batch and ``fake``: the adversarial loss on the images as D sees them, a
        conditional D's classification terms, and every penalty due at this update (``step`` traced)."""
        real = to_unit_range(real_batch)
        real_logits, real_classes = self._judge(judge, self.seen(real, update.augment_real), real_labels)
        fake_logits, fake_classes = self._judge(judge, self.seen(fake, update.augment_fake), update.labels)
        real_targets, fake_targets = targets(update.flips, self.settings.label_smoothing)
        loss = self.loss.discriminator(real_logits, fake_logits, real_targets, fake_targets)
        loss = loss + classification(self.condition, real_classes, real_labels)
        loss = loss + classification(self.condition, fake_classes, update.labels)
        for penalty in self.penalties:
            loss = loss + self._penalty(judge, penalty, real, fake, update, real_labels, step, draw)
        return loss

    def generator(self, judge: Judge, maker: Maker, update: UpdateDraws, real_batch, real_labels):
        """G's loss: its fakes judged as D sees them; the real batch D last saw is judged too when the loss
        compares with it (relativistic losses), and a conditional D's classification term is added."""
        fake = self.fakes(maker, update)
        real_logits = None
        if self.loss.uses_real_logits:
            real = self.seen(to_unit_range(real_batch), update.augment_real)
            real_logits, _ = self._judge(judge, real, real_labels)
        fake_logits, fake_classes = self._judge(judge, self.seen(fake, update.augment_fake), update.labels)
        loss = self.loss.generator(fake_logits, real_logits)
        return loss + classification(self.condition, fake_classes, update.labels)

    # -- the parts ---------------------------------------------------------------
    def seen(self, images, params):
        """``images`` as D sees them: DiffAugment'ed with ``params`` (B, 7) when the recipe asks for it."""
        policies = self.settings.augment
        return augment(images, params, policies) if policies else images

    def _judge(self, judge: Judge, images, labels):
        """D's (logits, class logits or None) for ``images``, shown ``labels`` when D takes them."""
        return judged(judge(images, shown_labels(self.condition, labels)), self.condition)

    def _penalty(self, judge: Judge, penalty, real, fake, update: UpdateDraws, labels, step, draw: int):
        """One penalty's term for this discriminator update (0 when a lazy one is not due, scaled by
        ``every`` when due, so its average strength is kept). D is shown the penalty's points as it is
        shown the real images: with their augmentation and their labels."""
        points = real if penalty.points == "real" else interpolated(real, fake, update.alpha)
        shown = shown_labels(self.condition, labels)  # none for an AC-GAN D

        def value():
            seen = lambda images: self.seen(images, update.augment_real)  # noqa: E731
            return penalty_value(judge, penalty, points, seen, shown, self.condition) * float(penalty.every)

        if penalty.every <= 1:
            return value()
        # lazy: only every N-th discriminator update pays for the penalty
        return judge.when(penalty_due(penalty, step, draw, self.settings.d_steps), value)


# -- the maths of the terms -------------------------------------------------------------------
def targets(flips, label_smoothing: float):
    """D's targets for real (1 - smoothing) and fake (0) images, each flipped where ``flips`` says
    (``flips``: (rows, 2) booleans, this update's rows of the draws)."""
    real = ops.where(flips[:, :1], 0.0, 1.0 - label_smoothing)
    fake = ops.where(flips[:, 1:], 1.0, 0.0)
    return ops.cast(real, "float32"), ops.cast(fake, "float32")


def to_unit_range(real_batch):
    """uint8 pixels to [-1, 1] on the device, so the host moves bytes, not floats."""
    if "int" in str(real_batch.dtype):
        return ops.cast(real_batch, "float32") * (2.0 / 255.0) - 1.0
    return ops.cast(real_batch, "float32")


def penalty_value(judge: Judge, penalty, points, seen=lambda images: images, labels=None, condition=None):
    """``penalty`` of D's input gradients at ``points``: the gradient of the sum of D's logits for
    ``seen(points)`` (shown ``labels``), so each example's row is its own gradient. An AC-GAN D's
    penalty is on its real/fake logit, not its class logits."""

    def logits_sum(at):
        logits, _ = judged(judge(seen(at), labels), condition)
        return ops.sum(logits)

    return ops.cast(penalty.from_gradients(judge.input_gradients(points, logits_sum)), "float32")


def interpolated(real, fake, alpha):
    """The points ``alpha * real + (1 - alpha) * fake`` a penalty on interpolates is taken at."""
    alpha = ops.reshape(alpha, (-1,) + (1,) * (len(real.shape) - 1))
    return alpha * real + (1.0 - alpha) * ops.cast(fake, "float32")


def penalty_due(penalty, step, draw: int, d_steps: int):
    """Whether a lazy penalty (``every`` > 1) is paid at this discriminator update (``step`` may be traced)."""
    return (step * d_steps + draw) % penalty.every == 0


def judged(outputs, condition):
    """D's outputs as (logits, class logits or None), float32 whatever D computes in (mixed precision)."""
    if condition is None or not condition.classifies:
        return ops.cast(outputs, "float32"), None
    logits, classes = outputs
    return ops.cast(logits, "float32"), ops.cast(classes, "float32")


def classification(condition, class_logits, labels):
    """AC-GAN's term: the weighted cross-entropy of D's class logits against the labels asked for (a
    softmax over classes; a sigmoid per attribute); 0 when D predicts no labels."""
    if class_logits is None:
        return 0.0
    if condition.spec.kind == "classes":
        loss = ops.sparse_categorical_crossentropy(labels, class_logits, from_logits=True)
    else:
        loss = ops.mean(ops.binary_crossentropy(labels, class_logits, from_logits=True), axis=-1)
    return condition.classifier_weight * ops.mean(loss)
