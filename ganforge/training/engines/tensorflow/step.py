"""The adversarial step on TensorFlow: one ``tf.function`` under a ``tf.distribute`` strategy
(TensorFlow's default one on one device). What the step does is described in ``step.py``."""

from __future__ import annotations

import functools

from ganforge.backend import tensorflow
from ganforge.training.condition import discriminate, generate, model_inputs
from ganforge.training.objective import Objective
from ganforge.training.step import Players, StepSettings, latent_of


class Judge:
    """D as the objective runs it on TensorFlow: called directly (inside the update's tape), its input
    gradients from a tape of their own."""

    def __init__(self, discriminator):
        self.discriminator = discriminator

    def __call__(self, images, labels):
        return discriminate(self.discriminator, images, labels)

    def input_gradients(self, points, value_of):
        return _gradient(value_of, points)


class Maker:
    """G as the objective runs it on TensorFlow (inside the tape of G's update)."""

    def __init__(self, generator, latent=None):
        self.generator = generator
        self.latent = latent  # (mapping, synthesis) when G offers its intermediate latent

    def __call__(self, noise, labels):
        return generate(self.generator, noise, labels, training=True)

    def latent_gradients(self, noise, labels, value_of):
        mapping, synthesis = self.latent
        w = mapping(model_inputs(noise, labels), training=True)
        return _gradient(lambda at: value_of(synthesis(at, training=True)), w)


def _gradient(value_of, points):
    """d value_of(points) / d points, from a tape of its own (nested in the update's, so the result
    differentiates further: double backprop)."""
    tf = tensorflow()
    points = tf.convert_to_tensor(points)  # a tape watches tensors only
    if not points.dtype.is_floating:
        points = tf.cast(points, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(points)
        value = value_of(points)
    return tape.gradient(value, points)


def update_ema(average_model, model, decay) -> None:
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
        state=None,
    ):
        """``distribution``: the started Distribution whose strategy the step runs under (TensorFlow's
        default strategy if None). ``lr_scale``: unused here; a ``tf.function`` reads the variable each call.
        ``state``: the objective's state, name -> variable (``Objective.initial_state``)."""
        tf = tensorflow()
        self.players = players
        self.objective = Objective(players, settings)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.settings = settings
        self.state = state or {}
        self.latent = latent_of(players.generator)
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
        self._compiled = {}  # one tf.function per pattern of regularised updates (StepSettings.regularised)

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
        due = self.settings.regularised(step)
        if due not in self._compiled:
            step_function = functools.partial(self._step, due=due)
            self._compiled[due] = tf.function(
                step_function, jit_compile=self.settings.jit_compile, reduce_retracing=True
            )
        return self._compiled[due](real_batches, draws, tf.constant(step, tf.int64), real_labels)

    # -- the step -------------------------------------------------------------
    def _step(self, real_batches, draws, step, real_labels, due):
        strategy, players, objective = self.strategy, self.players, self.objective
        state = {name: variable.value for name, variable in self.state.items()}
        observed = []
        for draw in range(self.settings.d_steps):
            discriminator_loss, seen = strategy.run(
                self._update_discriminator, args=(real_batches, draws, step, draw, real_labels, state)
            )
            players.loss.constrain_discriminator(players.discriminator)
            observed.append(seen)
            if due.discriminator[draw]:
                strategy.run(self._regularise_discriminator, args=(real_batches, draws, step, draw, real_labels, state))
                players.loss.constrain_discriminator(players.discriminator)
        generator_loss = strategy.run(self._update_generator, args=(real_batches, draws, real_labels, step, state))
        if due.generator:
            statistics = strategy.run(self._regularise_generator, args=(draws, step, state))
            statistics = tensorflow().nest.map_structure(lambda value: self._mean(value), statistics)
            self._store(objective.after_generator_regularisation(state, statistics))
        if self.replicas > 1:
            strategy.run(self._average_moving_statistics)
        if objective.adapts:  # (a sum over the replicas is a collective: only when something reads it)
            summed = {key: sum(self._sum(seen[key]) for seen in observed) for key in observed[0]}
            self._store(objective.after_step(state, summed, step))
        if players.ema_generator is not None:
            update_ema(players.ema_generator, players.generator, objective.ema_decay(step))
        return self._mean(discriminator_loss), self._mean(generator_loss)

    def _store(self, values: dict) -> None:
        """New values of the objective's state (cross-replica: every copy alike)."""
        for name, value in values.items():
            self.state[name].assign(value)

    def _sum(self, per_replica):
        return per_replica if self.replicas == 1 else self.strategy.reduce("SUM", per_replica, axis=None)

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
        # a term that leaves a weight out (R1 on D's last bias) moves it by its momentum alone, as JAX's
        # zero gradients do (and StyleGAN2's reference, which adds 0 * logits for that purpose)
        gradients = [tensorflow().zeros_like(v) if g is None else g for g, v in zip(gradients, variables)]
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

    def _update_discriminator(self, real_batches, draws, step, draw: int, real_labels, state):
        players = self.players
        update = draws.update(draw, self.settings.conditional)
        fake = self.objective.fakes(Maker(players.generator), update)  # outside the tape: D's update only
        labels = self._labels(real_labels, draw)

        def loss():
            return self.objective.discriminator(
                Judge(players.discriminator), real_batches[draw], fake, update, labels, step, state
            )

        return self._differentiate(loss, self.discriminator_optimizer, players.discriminator)

    def _regularise_discriminator(self, real_batches, draws, step, draw: int, real_labels, state):
        """The lazy regularisers' update of their own, on the fakes of D's update before it."""
        players = self.players
        update = draws.update(draw, self.settings.conditional)
        fake = self.objective.fakes(Maker(players.generator), update) if self.objective.lazy_takes_fakes else None
        labels = self._labels(real_labels, draw)

        def loss():
            judge = Judge(players.discriminator)
            value = self.objective.discriminator_regularisation(
                judge, real_batches[draw], fake, update, labels, step, state
            )
            return value, None

        return self._differentiate(loss, self.discriminator_optimizer, players.discriminator)[0]

    def _update_generator(self, real_batches, draws, real_labels, step, state):
        """G's update; the last real batch D saw is there for a loss that compares fakes with it."""
        players, d_steps = self.players, self.settings.d_steps
        update = draws.update(d_steps, self.settings.conditional)
        labels = self._labels(real_labels, d_steps - 1)

        def loss():
            judge, maker = Judge(players.discriminator), Maker(players.generator)
            return self.objective.generator(judge, maker, update, real_batches[d_steps - 1], labels, step, state), None

        return self._differentiate(loss, self.generator_optimizer, players.generator)[0]

    def _regularise_generator(self, draws, step, state):
        """G's regularisers' update of their own; returns their batch statistics."""
        update = draws.update(self.settings.d_steps, self.settings.conditional)

        def loss():
            return self.objective.generator_regularisation(
                Maker(self.players.generator, self.latent), update, step, state
            )

        return self._differentiate(loss, self.generator_optimizer, self.players.generator)[1]

    def _differentiate(self, loss_and_more, optimizer, model):
        """One update of ``model``: ``loss_and_more()`` -> (loss, anything) differentiated on a tape, the
        gradients applied; returns the loss and the anything."""
        tf = tensorflow()
        with tf.GradientTape() as tape:
            loss, more = loss_and_more()
            scaled = self._scaled(loss, optimizer)
        self._apply(optimizer, scaled, tape, model.trainable_variables)
        return loss, more


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
