"""The adversarial step on TensorFlow: one ``tf.function`` under a ``tf.distribute`` strategy
(TensorFlow's default one on one device). What the step does is described in ``step.py``."""

from __future__ import annotations

from ganforge.backend import tensorflow
from ganforge.training.condition import discriminate, generate
from ganforge.training.objective import Objective
from ganforge.training.step import Players, StepSettings


class Judge:
    """D as the objective runs it on TensorFlow: called directly (inside the update's tape), its input
    gradients from a tape of their own, a lazy term under ``tf.cond``."""

    def __init__(self, discriminator):
        self.discriminator = discriminator

    def __call__(self, images, labels):
        return discriminate(self.discriminator, images, labels)

    def input_gradients(self, points, value_of):
        tf = tensorflow()
        points = tf.convert_to_tensor(points, tf.float32)  # a tape watches tensors only
        with tf.GradientTape() as tape:
            tape.watch(points)
            value = value_of(points)
        return tape.gradient(value, points)

    def when(self, due, value):
        tf = tensorflow()
        return tf.cond(due, value, lambda: tf.constant(0.0))


def maker(generator):
    """G as the objective runs it on TensorFlow (inside the tape of G's update)."""
    return lambda noise, labels: generate(generator, noise, labels, training=True)


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
        self,
        players: Players,
        generator_optimizer,
        discriminator_optimizer,
        settings: StepSettings,
        distribution=None,
        lr_scale=None,
    ):
        """``distribution``: the started Distribution whose strategy the step runs under (TensorFlow's
        default strategy if None). ``lr_scale``: unused here; a ``tf.function`` reads the variable each call."""
        tf = tensorflow()
        self.players = players
        self.objective = Objective(players, settings)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.settings = settings
        self.strategy = distribution.strategy if distribution is not None else tf.distribute.get_strategy()
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

    def __call__(self, real_batches, step: int, draws=None, real_labels=None):
        """``real_batches``: (d_steps, batch, H, W, C), uint8 pixels or floats in [-1, 1]; ``draws``: the
        step's :class:`~ganforge.streams.Draws` (made here when None); ``real_labels``: (d_steps, batch,
        ...) the real images' labels, in a conditional run. Under a strategy of several replicas they
        come as each replica's slice (``Distribution.distribute``).

        Returns the (D loss, G loss) tensors of the last updates, averaged over the global batch."""
        tf = tensorflow()
        if draws is None:
            draws = self.settings.draws(step)
        if self.settings.conditional != (real_labels is not None):
            raise ValueError("a conditional step needs the real images' labels, and only it takes them")
        if self.replicas == 1:
            real_batches = tf.convert_to_tensor(real_batches)
            draws = draws.map(tf.convert_to_tensor)
            real_labels = None if real_labels is None else tf.convert_to_tensor(real_labels)
        return self._compiled(real_batches, draws, tf.constant(step, tf.int64), real_labels)

    # -- the step -------------------------------------------------------------
    def _step(self, real_batches, draws, step, real_labels):
        strategy, players = self.strategy, self.players
        for draw in range(self.settings.d_steps):
            discriminator_loss = strategy.run(
                self._update_discriminator, args=(real_batches, draws, step, draw, real_labels)
            )
            players.loss.constrain_discriminator(players.discriminator)
        generator_loss = strategy.run(self._update_generator, args=(real_batches, draws, real_labels))
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

    def _labels(self, labels, draw: int):
        """One update's real labels in a conditional run; None otherwise (the models then take none)."""
        return labels[draw] if self.settings.conditional else None

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

    def _update_discriminator(self, real_batches, draws, step, draw: int, real_labels):
        tf = tensorflow()
        players = self.players
        update = draws.update(draw, self.settings.conditional)
        fake = self.objective.fakes(maker(players.generator), update)  # outside the tape: D's update only
        with tf.GradientTape() as tape:
            loss = self.objective.discriminator(
                Judge(players.discriminator),
                real_batches[draw],
                fake,
                update,
                self._labels(real_labels, draw),
                step,
                draw,
            )
            scaled = self._scaled(loss, self.discriminator_optimizer)
        self._apply(self.discriminator_optimizer, scaled, tape, players.discriminator.trainable_variables)
        return loss

    def _update_generator(self, real_batches, draws, real_labels):
        """G's update; the last real batch D saw is there for a loss that compares fakes with it."""
        tf = tensorflow()
        players, d_steps = self.players, self.settings.d_steps
        update = draws.update(d_steps, self.settings.conditional)
        with tf.GradientTape() as tape:
            loss = self.objective.generator(
                Judge(players.discriminator),
                maker(players.generator),
                update,
                real_batches[d_steps - 1],
                self._labels(real_labels, d_steps - 1),
            )
            scaled = self._scaled(loss, self.generator_optimizer)
        self._apply(self.generator_optimizer, scaled, tape, players.generator.trainable_variables)
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
