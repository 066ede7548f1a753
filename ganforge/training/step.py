"""The adversarial training step, compiled once with tf.function.

This and ``distribute.py`` (the strategies it runs under) are the TensorFlow-specific
training code: a second backend is one more module with the same ``AdversarialStep`` interface.

One step is ``d_steps`` discriminator updates, then one generator update:

1. take a batch of real images (one per discriminator update);
2. make fakes from fresh noise;
3. update D on real (label 1) and fake (label 0), only D's weights moving;
4. make new fakes;
5. update G through D with the fakes labelled "real", only G's weights moving.

Each update differentiates with respect to one model's variables and applies
that model's own optimizer — which is why no ``trainable = False`` switch is
needed (and why the article's use of it is a trap in Keras 3).

Noise comes from ``stateless_normal`` keyed by (seed, step, draw) (see
:mod:`ganforge.streams`), so the noise of any step is known without replaying
the steps before it: a resumed run draws exactly what the uninterrupted run
drew.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ganforge import streams
from ganforge.backend import tensorflow
from ganforge.plugin.contract import supports


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

    @classmethod
    def from_recipe(cls, recipe) -> StepSettings:
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


def penalty_value(penalty, discriminator, real, fake, alpha=None):
    """``penalty`` at its points: real images, or ``alpha * real + (1 - alpha) * fake``.

    Taking D's gradient with respect to its input is the backend-specific
    part, so it lives here; the penalty's maths is keras.ops in its plugin.
    """
    tf = tensorflow()
    real = tf.convert_to_tensor(real, tf.float32)
    if penalty.points == "real":
        points = real
    else:
        points = alpha * real + (1.0 - alpha) * tf.cast(fake, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(points)
        outputs = discriminator(points, training=True)
    return tf.cast(penalty.from_gradients(tape.gradient(outputs, points)), tf.float32)


def update_ema(average_model, model, decay: float) -> None:
    """``average = decay * average + (1 - decay) * current`` for every float weight; counters are copied."""
    for average, current in zip(average_model.weights, model.weights):
        if "float" in str(average.dtype):
            average.assign(decay * average + (1.0 - decay) * current)
        else:  # counters and seeds are copied, not averaged
            average.assign(current)


class AdversarialStep:
    """One training step under a ``tf.distribute`` strategy: TensorFlow's default one on one device.

    Each replica trains on its slice of the global batch: its rows of the real batch, and its
    rows of the noise, label flips and penalty points the whole batch draws, so replicas differ
    from each other and the sum of their updates is the update one device would make. Each
    replica's loss is scaled by its share of the global batch because the Keras optimizer sums
    the replicas' gradients (once: nothing here reduces them again). What must change every
    copy of a variable alike (a weight constraint, the generator's moving average) runs between
    the replicas' updates, outside them.
    """

    def __init__(
        self, players: Players, generator_optimizer, discriminator_optimizer, settings: StepSettings, strategy=None
    ):
        tf = tensorflow()
        self.players = players
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.settings = settings
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync
        if settings.batch_size % self.replicas:
            raise ValueError(f"a global batch of {settings.batch_size} does not split among {self.replicas} replicas")
        self.share = settings.batch_size // self.replicas  # rows per replica
        # Build the optimizers' slots now so checkpoints can be restored into
        # them before the first step runs (and, under a strategy, inside its scope: keras#23085).
        with self.strategy.scope():
            generator_optimizer.build(players.generator.trainable_variables)
            discriminator_optimizer.build(players.discriminator.trainable_variables)
        self._compiled = tf.function(self._step, jit_compile=settings.jit_compile, reduce_retracing=True)

    def __call__(self, real_batches, step: int):
        """``real_batches``: (d_steps, batch, H, W, C), uint8 pixels or floats in [-1, 1], as a tensor
        or, under a strategy of several replicas, each replica's slice of it.

        Returns the (D loss, G loss) tensors of the last updates, averaged over the global batch."""
        tf = tensorflow()
        if self.replicas == 1:
            real_batches = tf.convert_to_tensor(real_batches)
        return self._compiled(real_batches, tf.constant(step, tf.int64))

    # -- random draws, keyed by (seed, step, draw) ---------------------------
    # Each draw is made for the whole global batch, and each replica keeps its rows of it.
    def _key(self, step, draw: int, stream: int):
        tf = tensorflow()
        counter = streams.step_counter(step, draw, stream, self.settings.d_steps)
        return tf.stack([tf.constant(self.settings.seed, tf.int64), counter])

    def _my_rows(self, values, axis: int = 0):
        """This replica's slice of ``values`` drawn for the global batch (all of it on one device)."""
        tf = tensorflow()
        if self.replicas == 1:
            return values
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        start = tf.cast(replica, tf.int32) * self.share
        if axis == 0:
            return values[start : start + self.share]
        return values[:, start : start + self.share]

    def _noise(self, step, draw: int):
        tf = tensorflow()
        shape = (self.settings.batch_size, self.settings.latent_dim)
        return self._my_rows(tf.random.stateless_normal(shape, seed=self._key(step, draw, streams.NOISE)))

    def _targets(self, step, draw: int):
        """D's targets: 1 for real (1 - smoothing), 0 for fake, each flipped with probability label_noise."""
        tf = tensorflow()
        settings = self.settings
        real = tf.fill((self.share, 1), 1.0 - settings.label_smoothing)
        fake = tf.zeros((self.share, 1))
        if settings.label_noise:
            shape = (2, settings.batch_size, 1)
            draws = tf.random.stateless_uniform(shape, seed=self._key(step, draw, streams.LABELS))
            flips = self._my_rows(draws, axis=1) < settings.label_noise
            real, fake = tf.where(flips[0], 0.0, real), tf.where(flips[1], 1.0, fake)
        return real, fake

    def _penalty(self, penalty, real, fake, step, draw: int):
        """One penalty's term for this discriminator update (0 when a lazy one is not due)."""
        tf = tensorflow()

        def value():
            shape = (self.settings.batch_size,) + (1,) * (len(real.shape) - 1)
            alpha = self._my_rows(tf.random.stateless_uniform(shape, seed=self._key(step, draw, streams.INTERPOLATION)))
            return penalty_value(penalty, self.players.discriminator, real, fake, alpha) * float(penalty.every)

        if penalty.every <= 1:
            return value()
        # lazy: only every N-th discriminator update pays for the penalty
        update = step * self.settings.d_steps + draw
        return tf.cond(update % penalty.every == 0, value, lambda: tf.constant(0.0))

    # -- the step -------------------------------------------------------------
    def _step(self, real_batches, step):
        strategy, players = self.strategy, self.players
        for draw in range(self.settings.d_steps):
            discriminator_loss = strategy.run(self._update_discriminator, args=(real_batches, step, draw))
            players.loss.constrain_discriminator(players.discriminator)
        generator_loss = strategy.run(self._update_generator, args=(real_batches, step))
        if self.replicas > 1:
            strategy.run(self._average_moving_statistics)
        if players.ema_generator is not None:
            update_ema(players.ema_generator, players.generator, self.settings.ema_decay)
        return self._mean(discriminator_loss), self._mean(generator_loss)

    def _mean(self, per_replica):
        """The replicas' losses (each over its share) as the loss over the global batch."""
        if self.replicas == 1:
            return per_replica
        return self.strategy.reduce("MEAN", per_replica, axis=None)

    def _scaled(self, loss, optimizer):
        """The loss over this replica's share, scaled by that share (inside the tape).

        The optimizer sums the replicas' gradients, so the sum is then the gradient of the
        loss over the global batch (on one device the scale is 1.0, which changes no bit).
        A loss-scale optimizer (float16) scales it further, and unscales the gradients itself.
        """
        return optimizer.scale_loss(loss * (self.share / self.settings.batch_size))

    def _apply(self, optimizer, scaled_loss, tape, variables) -> None:
        import keras

        gradients = tape.gradient(scaled_loss, variables)
        if self.replicas > 1 and isinstance(optimizer, keras.optimizers.LossScaleOptimizer):  # float16
            gradients = _overflow_everywhere_if_anywhere(gradients)
        optimizer.apply_gradients(zip(gradients, variables))

    def _average_moving_statistics(self) -> None:
        """Each replica's batch norm updates its own moving statistics (Keras makes them unaggregated):
        average them over the replicas after each step, so every copy — the one a checkpoint holds
        on each worker included — is the same."""
        tf = tensorflow()
        context = tf.distribute.get_replica_context()
        for model in (self.players.generator, self.players.discriminator):
            for variable in model.non_trainable_variables:
                if "float" in str(variable.dtype):
                    # this replica's copy as a plain tensor (a mirrored variable here is not a value to reduce)
                    variable.assign(context.all_reduce("MEAN", tf.identity(variable.value)))

    def _update_discriminator(self, real_batches, step, draw: int):
        tf = tensorflow()
        players = self.players
        discriminator = players.discriminator
        real = _to_unit_range(real_batches[draw])
        fake = players.generator(self._noise(step, draw), training=True)
        with tf.GradientTape() as tape:
            real_logits = _logits(discriminator, real)
            fake_logits = _logits(discriminator, fake)
            loss = players.loss.discriminator(real_logits, fake_logits, *self._targets(step, draw))
            for penalty in players.penalties:
                loss += self._penalty(penalty, real, fake, step, draw)
            scaled = self._scaled(loss, self.discriminator_optimizer)
        self._apply(self.discriminator_optimizer, scaled, tape, discriminator.trainable_variables)
        return loss

    def _update_generator(self, real_batches, step):
        """G's update; the last real batch D saw is there for a loss that compares fakes with it."""
        tf = tensorflow()
        players = self.players
        generator, discriminator = players.generator, players.discriminator
        with tf.GradientTape() as tape:
            fake = generator(self._noise(step, self.settings.d_steps), training=True)
            real_logits = None
            if players.loss.uses_real_logits:
                real_logits = _logits(discriminator, _to_unit_range(real_batches[self.settings.d_steps - 1]))
            loss = players.loss.generator(_logits(discriminator, fake), real_logits)
            scaled = self._scaled(loss, self.generator_optimizer)
        self._apply(self.generator_optimizer, scaled, tape, generator.trainable_variables)
        return loss


def _overflow_everywhere_if_anywhere(gradients):
    """Keras' loss-scale optimizer judges overflow on one replica's gradients before they are summed;
    make every replica's non-finite when any replica's are, so all skip the update and lower the scale
    together (finite gradients pass unchanged: + 0.0)."""
    tf = tensorflow()
    present = [gradient for gradient in gradients if gradient is not None]
    bad = tf.add_n([tf.reduce_sum(tf.cast(~tf.math.is_finite(gradient), tf.float32)) for gradient in present])
    bad = tf.distribute.get_replica_context().all_reduce("SUM", bad)
    poison = tf.where(bad > 0, float("nan"), 0.0)
    return [None if gradient is None else gradient + tf.cast(poison, gradient.dtype) for gradient in gradients]


def _logits(discriminator, images):
    """D's logits in float32 whatever it computes in, so every loss is float32 (mixed precision)."""
    return tensorflow().cast(discriminator(images, training=True), "float32")


def _to_unit_range(real_batches):
    """uint8 pixels to [-1, 1] here, on the device, so the host moves bytes, not floats."""
    tf = tensorflow()
    if real_batches.dtype == tf.uint8:
        return tf.cast(real_batches, tf.float32) * (2.0 / 255.0) - 1.0
    return tf.cast(real_batches, tf.float32)
