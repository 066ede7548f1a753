"""The adversarial training step: what it does, the settings and players it needs, on any backend.

One step is ``d_steps`` discriminator updates, then one generator update:

1. take a batch of real images (one per discriminator update);
2. make fakes from fresh noise;
3. update D on real (label 1) and fake (label 0), only D's weights moving;
4. make new fakes;
5. update G through D with the fakes labelled "real", only G's weights moving.

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
from typing import Any

from ganforge import streams
from ganforge.plugin.contract import supports
from ganforge.training.augment import parse_policy


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
    jit_compile: bool = False
    augment: tuple[str, ...] = ()  # DiffAugment's policies, in order (augment.py)
    # a conditional run's Condition (condition.py), whose training labels the fakes' labels are drawn from
    condition: Any = field(default=None, compare=False, repr=False)

    @property
    def conditional(self) -> bool:
        return self.condition is not None

    def draws(self, step: int) -> streams.Draws:
        """Every random number ``step`` uses, for the whole global batch."""
        return streams.step_draws(
            self.seed,
            step,
            self.d_steps,
            self.batch_size,
            self.latent_dim,
            self.label_noise,
            bool(self.augment),
            None if self.condition is None else self.condition.table,
        )

    @classmethod
    def from_recipe(cls, recipe, condition=None) -> StepSettings:
        """``condition``: a conditional run's Condition."""
        train = recipe.model.train
        return cls(
            batch_size=train.batch_size,
            latent_dim=train.latent_dim,
            seed=recipe.model.seed,
            d_steps=train.d_steps,
            label_smoothing=train.label_smoothing,
            label_noise=train.label_noise,
            ema_decay=train.ema_decay,
            jit_compile=train.jit_compile,
            augment=parse_policy(recipe.model.augment.policy),
            condition=condition,
        )


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
    penalties: list = field(default_factory=list)
    ema_generator: Any = None  # the weights' moving average, when the recipe keeps one
    condition: Any = None  # a conditional run's Condition (condition.py): G and D then take labels
