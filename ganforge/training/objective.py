"""The GAN objective: what D's and G's updates minimise, written once for every engine.

Each engine (``engines/tensorflow``, ``engines/jax``) differentiates these functions its own
way — ``tf.GradientTape`` on TensorFlow, ``jax.grad`` over a stateless call on JAX — and hands
them the models as two small callables (:class:`Judge` for D, :class:`Maker` for G), so the
loss, the classification term of a conditional run, every regulariser (D's and G's) and the
augmentation of every image D sees (DiffAugment or ADA, with ADA's adaptive p) are composed here
and nowhere else. Adding a term to the objective touches this file only.

A lazy regulariser (``every = N``) is paid as StyleGAN2 pays it: at the updates due (which the
engine knows on the host from the step number, so each pattern of due updates is compiled once)
the engine runs an update of its own on :meth:`Objective.discriminator_regularisation` or
:meth:`Objective.generator_regularisation`, the term times N; the side's optimizer carries the
N/(N+1) correction (``assembly.make_optimizers``).

Everything here is ``keras.ops``, traced inside the engine's compiled step; the module is imported
by the engines only, once the recipe has chosen Keras' backend.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from keras import ops

from ganforge.schedule import traced
from ganforge.streams import UpdateDraws
from ganforge.training.augment import augment
from ganforge.training.condition import shown_labels
from ganforge.training.schedules import ema_beta


class Judge(Protocol):
    """D as the objective runs it; each engine makes one for every update it differentiates."""

    def __call__(self, images: Any, labels: Any) -> Any:
        """D's outputs for ``images`` (in training mode), shown ``labels`` when they are not None."""

    def input_gradients(self, points: Any, value_of: Any) -> Any:
        """The gradient of the scalar ``value_of(points)`` with respect to ``points`` (D's input)."""


class Maker(Protocol):
    """G as the objective runs it (in training mode)."""

    def __call__(self, noise: Any, labels: Any) -> Any: ...

    def latent_gradients(self, noise: Any, labels: Any, value_of: Any) -> Any:
        """The gradient of the scalar ``value_of(images)`` with respect to G's intermediate latent ``w``,
        the images made from ``w = mapping(noise, labels)`` by ``synthesis(w)`` (G offers both)."""


class Objective:
    """D's and G's losses for one update, from the step's settings and the players' scoring parts.

    ``settings``: the step's :class:`~ganforge.training.step.StepSettings`; ``players``: its
    :class:`~ganforge.training.step.Players` (the loss, the regularisers, a conditional run's labels).

    What the objective keeps from step to step (ADA's p and its heuristic's sums, a generator-side
    regulariser's running mean) is ``state``: a dict of scalars the engine holds in variables (so
    checkpoints keep it) and passes in; the methods return what they observed, and :meth:`after_step`
    and :meth:`after_generator_regularisation` the new state, for the engine to store.
    """

    def __init__(self, players, settings):
        self.loss = players.loss
        self.condition = players.condition
        self.settings = settings
        self.every_update = [term for term in players.penalties if term.every <= 1]
        self.lazy = [term for term in players.penalties if term.every > 1]
        self.generator_terms = list(players.generator_penalties)

    def initial_state(self) -> dict[str, float]:
        """The state's names and starting values (empty when nothing is kept)."""
        state = {}
        if (ada := self.settings.ada) is not None and ada.adaptive:
            state.update({ADA_P: float(ada.p), ADA_SIGNS: 0.0, ADA_COUNT: 0.0, ADA_RT: 0.0})
        for index, term in enumerate(self.generator_terms):
            state.update({f"{GENERATOR_STATE}{index}/{key}": float(v) for key, v in term.component.state.items()})
        return state

    # -- the two losses ----------------------------------------------------------
    def fakes(self, maker: Maker, update: UpdateDraws):
        """G's images for this update's noise (and the labels drawn for them, in a conditional run)."""
        return maker(update.noise, update.labels)

    def discriminator(self, judge: Judge, real_batch, fake, update: UpdateDraws, real_labels, step, state):
        """D's loss on one real batch and ``fake`` — the adversarial loss on the images as D sees them, a
        conditional D's classification terms, every regulariser paid at each update — and what ADA's
        heuristic observes: ``{"signs": sum of sign(D(real)), "count": images}``."""
        real, p = to_unit_range(real_batch), self.augment_p(state, step)
        real_logits, real_classes = self._judge(judge, self.seen(real, update.augment_real, p), real_labels)
        fake_logits, fake_classes = self._judge(judge, self.seen(fake, update.augment_fake, p), update.labels)
        real_targets, fake_targets = targets(update.flips, self.settings.label_smoothing)
        loss = self.loss.discriminator(real_logits, fake_logits, real_targets, fake_targets)
        loss = loss + classification(self.condition, real_classes, real_labels)
        loss = loss + classification(self.condition, fake_classes, update.labels)
        for term in self.every_update:
            loss = loss + self._penalty(judge, term, real, fake, update, real_labels, step, p)
        count = ops.cast(ops.shape(real_logits)[0], "float32")
        return loss, {"signs": ops.sum(ops.sign(real_logits)), "count": count}

    def discriminator_regularisation(self, judge: Judge, real_batch, fake, update, real_labels, step, state):
        """The lazy regularisers' loss at an update that pays them (an update of its own, as StyleGAN2's):
        each term times its interval, so its average strength is kept."""
        real, p = to_unit_range(real_batch), self.augment_p(state, step)
        terms = [self._penalty(judge, term, real, fake, update, real_labels, step, p) for term in self.lazy]
        return sum(term * float(lazy.every) for term, lazy in zip(terms, self.lazy))

    def generator(self, judge: Judge, maker: Maker, update: UpdateDraws, real_batch, real_labels, step, state):
        """G's loss: its fakes judged as D sees them; the real batch D last saw is judged too when the loss
        compares with it (relativistic losses), and a conditional D's classification term is added."""
        fake, p = self.fakes(maker, update), self.augment_p(state, step)
        real_logits = None
        if self.loss.uses_real_logits:
            real = self.seen(to_unit_range(real_batch), update.augment_real, p)
            real_logits, _ = self._judge(judge, real, real_labels)
        fake_logits, fake_classes = self._judge(judge, self.seen(fake, update.augment_fake, p), update.labels)
        loss = self.loss.generator(fake_logits, real_logits)
        return loss + classification(self.condition, fake_classes, update.labels)

    def generator_regularisation(self, maker: Maker, update: UpdateDraws, step, state):
        """G's regularisers at an update that pays them (its own update), each times its interval, and
        each one's batch statistics (for :meth:`after_generator_regularisation`)."""
        loss, statistics = 0.0, []
        for index, term in enumerate(self.generator_terms):
            value, found = self._generator_term(maker, update, term, self._state_of(state, index))
            loss = loss + value * self.scale(term, step) * float(term.every)
            statistics.append(found)
        return loss, statistics

    def after_generator_regularisation(self, state, statistics) -> dict:
        """The generator-side regularisers' state after they were paid (``statistics`` averaged over
        the replicas)."""
        new = {}
        for index, (term, found) in enumerate(zip(self.generator_terms, statistics)):
            updated = term.component.updated(self._state_of(state, index), found)
            new.update({f"{GENERATOR_STATE}{index}/{key}": value for key, value in updated.items()})
        return new

    @property
    def lazy_takes_fakes(self) -> bool:
        """Whether a lazy regulariser's points need G's images (R2, interpolates): R1's update makes none."""
        return any(term.points != "real" for term in self.lazy)

    @property
    def adapts(self) -> bool:
        """Whether :meth:`after_step` moves anything (ADA's adaptive p)."""
        return self.settings.ada is not None and self.settings.ada.adaptive

    def after_step(self, state, observed, step) -> dict:
        """ADA's adaptive p after a step: ``observed`` (D's sums over the step's updates and replicas)
        added to the heuristic's sums; every ``interval`` steps p moves by sign(r_t - target) times
        the images judged over the speed (StyleGAN2-ADA), and the sums start again."""
        if not self.adapts:
            return {}
        ada = self.settings.ada
        signs, count = state[ADA_SIGNS] + observed["signs"], state[ADA_COUNT] + observed["count"]
        now = ops.equal((step + 1) % ada.interval, 0)
        rt = signs / ops.maximum(count, 1.0)
        moved = state[ADA_P] + ops.sign(rt - ada.target) * count / float(ada.speed_images)
        p = ops.where(now, ops.clip(moved, 0.0, 1.0), state[ADA_P])
        zero = ops.zeros_like(signs)
        return {
            ADA_P: p,
            ADA_RT: ops.where(now, rt, state[ADA_RT]),
            ADA_SIGNS: ops.where(now, zero, signs),
            ADA_COUNT: ops.where(now, zero, count),
        }

    # -- the parts ---------------------------------------------------------------
    def images(self, step):
        """The images trained on before ``step`` (its global batches): what schedules are written in."""
        return ops.cast(step, "float32") * float(self.settings.batch_size)

    def ema_decay(self, step):
        """The decay of G's average after ``step``: ``ema_decay``, or StyleGAN's from a half-life in images."""
        settings = self.settings
        if settings.ema_images is None:
            return settings.ema_decay
        return ema_beta(settings.ema_images, self.images(step), settings.batch_size, settings.ema_rampup)

    def scale(self, term, step):
        """A regulariser's scale at ``step``: its recipe table's number or schedule."""
        return traced(term.scale, self.images(step))

    def augment_p(self, state, step):
        """ADA's probability at ``step``: adaptive (the state's), scheduled or fixed; None without ADA."""
        ada = self.settings.ada
        if ada is None:
            return None
        return state[ADA_P] if ada.adaptive else traced(ada.p, self.images(step))

    def seen(self, images, params, p=None):
        """``images`` as D sees them: DiffAugment'ed with ``params`` (B, 7) when the recipe asks for it, or
        ADA's pipeline at probability ``p``."""
        if self.settings.ada is not None:
            from ganforge.training import ada  # keras-only, like this module; imported when a recipe uses it

            return ada.augment(images, params, p, self.settings.ada.pipeline)
        policies = self.settings.augment
        return augment(images, params, policies) if policies else images

    def _judge(self, judge: Judge, images, labels):
        """D's (logits, class logits or None) for ``images``, shown ``labels`` when D takes them."""
        return judged(judge(images, shown_labels(self.condition, labels)), self.condition)

    def _penalty(self, judge: Judge, term, real, fake, update: UpdateDraws, labels, step, p):
        """One D-side regulariser's term, times its scale. D is shown the term's points as it is shown
        the real images: with their augmentation and their labels (a fake point with the fakes')."""
        points, params = real, update.augment_real
        if term.points == "interpolated":
            points = interpolated(real, fake, update.alpha)
        elif term.points == "fake":
            points, params, labels = ops.cast(fake, "float32"), update.augment_fake, update.labels
        shown = shown_labels(self.condition, labels)  # none for an AC-GAN D
        seen = lambda images: self.seen(images, params, p)  # noqa: E731
        value = penalty_value(judge, term.component, points, seen, shown, self.condition)
        return value * self.scale(term, step)

    def _generator_term(self, maker: Maker, update: UpdateDraws, term, state):
        """One G-side regulariser on every ``batch_shrink``-th row: the gradient of G's images projected
        on the update's random images, with respect to its latent w (path length's J_w^T y)."""
        rows = slice(None, None, term.component.batch_shrink)
        probe = update.latent_probe[rows]
        size = float(np.prod(probe.shape[1:-1]))  # H * W: y ~ N(0, 1) / sqrt(H W), as StyleGAN2

        def projected(images):
            return ops.sum(ops.cast(images, "float32") * probe) / np.sqrt(size)

        labels = None if update.labels is None else update.labels[rows]
        gradients = maker.latent_gradients(update.noise[rows], labels, projected)
        value, statistics = term.component.from_latent_gradients(ops.cast(gradients, "float32"), state)
        return ops.cast(value, "float32"), statistics

    def _state_of(self, state, index: int) -> dict:
        prefix = f"{GENERATOR_STATE}{index}/"
        return {name[len(prefix) :]: value for name, value in state.items() if name.startswith(prefix)}


# the names of the objective's state (checkpoint variables and metrics.jsonl's keys say them)
ADA_P, ADA_RT, ADA_SIGNS, ADA_COUNT = "augment/p", "augment/rt", "augment/signs", "augment/count"
GENERATOR_STATE = "generator_penalty"


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
