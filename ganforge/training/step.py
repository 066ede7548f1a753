"""The adversarial training step: what it does, the settings and players it needs, on any backend.

One step is ``d_steps`` discriminator updates, then one generator update:

1. take a batch of real images (one per discriminator update);
2. make fakes from fresh noise;
3. update D on real (label 1) and fake (label 0), only D's weights moving; at a D update where
   lazy regularisers are due (``every = N``), a second update of D on them alone;
4. make new fakes;
5. update G through D with the fakes labelled "real", only G's weights moving; at a step where
   G's regularisers are due, a second update of G on them alone;
6. ADA's adaptive p, a regulariser's running mean and the average of G's weights move.

Each update differentiates with respect to one model's variables and applies
that model's own optimizer — which is why no ``trainable = False`` switch is
needed (and why the article's use of it is a trap in Keras 3).

Every random number a step uses (noise, label flips, penalty points) comes from
:func:`ganforge.streams.step_draws`, keyed by (seed, step, draw) and made on the
host: the noise of any step is known without replaying the steps before it, so a
resumed run draws exactly what the uninterrupted run drew, on either backend.

In a conditional run (``condition.py``) the real images come with their labels,
each fake is made for a label drawn from the data's, and D sees every image with
the label it was made for or came with.

What each update minimises — the loss, a conditional D's classification terms, the penalties,
the augmentation of every image D sees — is written once, in ``objective.py``. Differentiating
it and applying the gradients is engine code: ``engines/tensorflow/step.py`` (a ``tf.function``
under a ``tf.distribute`` strategy) and ``engines/jax/step.py`` (a jitted, stateless function
under a ``keras.distribution``) implement the same interface, ``step(real_batches, step,
draws=None, real_labels=None)`` returning the (D loss, G loss) of the step's last updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ganforge import streams
from ganforge.plugin.contract import supports
from ganforge.training.augment import PARAMETERS, parse_policy


def ada_columns() -> int:
    """How many numbers each image draws for ADA (its module imports Keras: read when a step draws)."""
    from ganforge.training.ada import COLUMNS

    return COLUMNS


@dataclass(frozen=True)
class StepSettings:
    """The numbers a step needs, read from the recipe's ``[train]`` table and seed."""

    batch_size: int
    latent_dim: int
    seed: int = 0
    d_steps: int = 1
    label_smoothing: float = 0.0
    label_noise: float = 0.0
    ema_decay: float = 0.0
    ema_images: Any = None  # the average's half-life in images, a number or a Schedule (instead of ema_decay)
    ema_rampup: float = 0.0
    jit_compile: bool = False
    augment: tuple[str, ...] = ()  # DiffAugment's policies, in order (augment.py)
    ada: Ada | None = None  # ADA's pipeline and how its p is set (ada.py)
    # the interval D's lazy regularisers share (1: none; assembly checks), paid in updates of their own
    d_every: int = 1
    g_every: int = 0  # the interval of G's regularisers (0: none)
    image_shape: tuple[int, ...] = ()  # the data's, for what G's regularisers project its images on
    # a conditional run's Condition (condition.py), whose training labels the fakes' labels are drawn from
    condition: Any = field(default=None, compare=False, repr=False)

    @property
    def conditional(self) -> bool:
        return self.condition is not None

    def regularised(self, step: int) -> Regularised:
        """Which of ``step``'s updates pay the lazy regularisers: known on the host from the step number,
        so each pattern is compiled once and the updates that skip them cost nothing."""
        discriminator = tuple(
            self.d_every > 1 and (step * self.d_steps + draw) % self.d_every == 0 for draw in range(self.d_steps)
        )
        return Regularised(discriminator, bool(self.g_every) and step % self.g_every == 0)

    def draws(self, step: int) -> streams.Draws:
        """Every random number ``step`` uses, for the whole global batch."""
        columns = PARAMETERS if self.augment else ada_columns() if self.ada is not None else 0
        return streams.step_draws(
            self.seed,
            step,
            self.d_steps,
            self.batch_size,
            self.latent_dim,
            self.label_noise,
            columns,
            None if self.condition is None else self.condition.table,
            self.image_shape if self.regularised(step).generator else None,
        )

    @classmethod
    def from_recipe(cls, recipe, players: Players | None = None, image_shape=()) -> StepSettings:
        """``players``: what the step trains (its regularisers' intervals, a conditional run's Condition)."""
        train, augment = recipe.model.train, recipe.model.augment
        penalties = players.penalties if players is not None else []
        generator_penalties = players.generator_penalties if players is not None else []
        return cls(
            batch_size=train.batch_size,
            latent_dim=train.latent_dim,
            seed=recipe.model.seed,
            d_steps=train.d_steps,
            label_smoothing=train.label_smoothing,
            label_noise=train.label_noise,
            ema_decay=train.ema_decay,
            ema_images=train.ema_images,
            ema_rampup=train.ema_rampup,
            jit_compile=train.jit_compile,
            augment=parse_policy(augment.policy),
            ada=Ada.from_config(augment) if augment.pipeline.strip() else None,
            d_every=max((term.every for term in penalties if term.every > 1), default=1),
            g_every=max((term.every for term in generator_penalties), default=0),  # G's are always paid apart
            image_shape=tuple(image_shape),
            condition=players.condition if players is not None else None,
        )


@dataclass(frozen=True)
class Ada:
    """ADA (Karras et al. 2020): its pipeline, and its p fixed, scheduled, or adaptive."""

    pipeline: str
    p: Any  # a number or a Schedule; adaptive: where p starts
    adaptive: bool = False
    target: float = 0.6
    interval: int = 4
    speed_images: int = 500_000

    @classmethod
    def from_config(cls, config) -> Ada:
        return cls(
            config.pipeline.strip(), config.p, config.adaptive, config.target, config.interval, config.speed_images
        )


class Regularised(NamedTuple):
    """Which updates of a step pay the lazy regularisers: one flag per D update, and G's."""

    discriminator: tuple[bool, ...]
    generator: bool


def latent_of(generator):
    """(mapping, synthesis) when G offers its intermediate latent w (the contract's optional members),
    else None."""
    found = supports("generator", generator)
    return None if found["mapping"] is None else (found["mapping"], found["synthesis"])


@dataclass(frozen=True)
class Term:
    """A regulariser as the objective adds it: the component, and the scale (a number or a Schedule)
    its recipe table multiplies it by."""

    component: Any
    scale: Any = 1.0

    @property
    def every(self) -> int:
        return int(self.component.every)

    @property
    def points(self) -> str:
        return self.component.points


class LossTerms:
    """A loss plugin, always called the same way: its optional members are looked up once, here."""

    def __init__(self, loss):
        found = supports("loss", loss)
        self.loss = loss
        self.uses_real_logits = bool(found["uses_real_logits"])
        self.takes_targets = bool(found["supports_targets"])
        self.accepts_penalty = bool(found["accepts_penalty"])
        self.own_penalty = found["penalty"]
        self.constrain_discriminator = found["constrain_discriminator"] or (lambda discriminator: None)

    def discriminator(self, real_logits, fake_logits, real_targets, fake_targets):
        if self.takes_targets:
            return self.loss.discriminator_loss(real_logits, fake_logits, real_targets, fake_targets)
        return self.loss.discriminator_loss(real_logits, fake_logits)

    def generator(self, fake_logits, real_logits):
        """``real_logits`` is None unless the loss uses them (then D is not run on the real batch for G)."""
        if self.uses_real_logits:
            return self.loss.generator_loss(fake_logits, real_logits)
        return self.loss.generator_loss(fake_logits)


@dataclass
class Players:
    """What one step trains, and how it scores them."""

    generator: Any
    discriminator: Any
    loss: LossTerms
    penalties: list = field(default_factory=list)  # D's regularisers, as Terms
    ema_generator: Any = None  # the weights' moving average, when the recipe keeps one
    condition: Any = None  # a conditional run's Condition (condition.py): G and D then take labels
    generator_penalties: list = field(default_factory=list)  # G's regularisers, as Terms
