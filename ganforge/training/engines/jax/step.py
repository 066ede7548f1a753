"""The adversarial step on JAX: one jitted, stateless function. What the step does is described in
``step.py``; this module does it the JAX way.

Keras variables hold the state between steps (checkpoints, samples and the NaN checks read them,
as on TensorFlow); the jitted function takes their values and returns the new ones, models run
through ``stateless_call``, gradients come from ``jax.grad`` (D's input gradients for a penalty
too) and optimizers through ``stateless_apply``. Under a ``keras.distribution`` the same function
runs on the whole global batch, sharded over the devices: JAX (GSPMD) places the collectives, so
batch norm sees the global batch as it would on one device.
"""

from __future__ import annotations

from ganforge.training.condition import model_inputs
from ganforge.training.step import (
    Players,
    StepSettings,
    classification,
    interpolated,
    judged,
    penalty_due,
    shown_labels,
    targets,
    to_unit_range,
)


class AdversarialStep:
    """``step(real_batches, step, draws=None, real_labels=None)`` -> (D loss, G loss), with the TensorFlow
    step's meaning.

    ``lr_scale``: the variable a rollback lowers. A jitted function reads a variable outside its
    inputs once, when it is traced, so the step is traced again whenever that scale has moved.
    """

    def __init__(
        self,
        players: Players,
        generator_optimizer,
        discriminator_optimizer,
        settings: StepSettings,
        lr_scale=None,
        place=None,
    ):
        self.players = players
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.settings = settings
        self.lr_scale = lr_scale
        self.place = place or (lambda values: values)  # host arrays -> device arrays (sharded when distributed)
        generator_optimizer.build(players.generator.trainable_variables)
        discriminator_optimizer.build(players.discriminator.trainable_variables)
        ema = players.ema_generator.weights if players.ema_generator is not None else []
        groups = [
            players.generator.weights,
            players.discriminator.weights,
            generator_optimizer.variables,
            discriminator_optimizer.variables,
            ema,
        ]
        unique = {id(variable): variable for group in groups for variable in group}
        self.variables = list(unique.values())  # the state the jitted function takes and returns
        self._compiled, self._traced_scale, self._scale_seen = None, None, None

    def __call__(self, real_batches, step: int, draws=None, real_labels=None):
        import jax
        import numpy as np

        if self.settings.conditional != (real_labels is not None):
            raise ValueError("a conditional step needs the real images' labels, and only it takes them")
        if draws is None:
            draws = self.place(tuple(self.settings.draws(step)))
            real_batches = self.place(real_batches)
            real_labels = None if real_labels is None else self.place(real_labels)
        moved = self._scale_moved()  # first, so it has always seen the scale the step is traced with
        if self._compiled is None or moved:
            self._compiled = jax.jit(self._step)
        state = [variable.value for variable in self.variables]
        state, losses = self._compiled(state, real_batches, tuple(draws), np.int32(step), real_labels)
        for variable, value in zip(self.variables, state):
            variable.assign(value)
        return losses

    def _scale_moved(self) -> bool:
        """Whether ``lr_scale`` holds another number than the step was traced with. Its value is read
        (a wait for the device) only when the variable was assigned since the last look."""
        import numpy as np

        if self.lr_scale is None or self.lr_scale.value is self._scale_seen:
            return False
        self._scale_seen = self.lr_scale.value
        scale = float(np.asarray(self._scale_seen))
        moved, self._traced_scale = scale != self._traced_scale, scale
        return moved

    # -- the step (traced) ----------------------------------------------------
    def _step(self, state, real_batches, draws, step, real_labels):
        values = {id(variable): value for variable, value in zip(self.variables, state)}
        players = self.players
        discriminator_loss = None
        for draw in range(self.settings.d_steps):
            discriminator_loss = self._update_discriminator(values, real_batches, draws, step, draw, real_labels)
            self._constrain(values)
        generator_loss = self._update_generator(values, real_batches, draws, real_labels)
        if players.ema_generator is not None:
            self._update_ema(values)
        return [values[id(variable)] for variable in self.variables], (discriminator_loss, generator_loss)

    def _judge(self, trainable, non_trainable, images, labels):
        """D's (logits, class logits or None) for ``images`` (shown ``labels`` when D takes them), and its
        non-trainable values after the call."""
        condition = self.players.condition
        inputs = model_inputs(images, shown_labels(condition, labels))
        outputs, non_trainable = self.players.discriminator.stateless_call(
            trainable, non_trainable, inputs, training=True
        )
        return judged(outputs, condition), non_trainable

    def _labels(self, labels, draw: int):
        """One update's labels in a conditional run; None otherwise (the models then take none)."""
        return labels[draw] if self.settings.conditional else None

    def _update_discriminator(self, values, real_batches, draws, step, draw: int, real_labels):
        import jax

        players, settings = self.players, self.settings
        generator, discriminator = players.generator, players.discriminator
        optimizer = self.discriminator_optimizer
        real = to_unit_range(real_batches[draw])
        labels, fake_labels = self._labels(real_labels, draw), self._labels(draws[4], draw)
        fake, values_g = generator.stateless_call(
            _of(values, generator.trainable_variables),
            _of(values, generator.non_trainable_variables),
            model_inputs(draws[0][draw], fake_labels),
            training=True,
        )
        _put(values, generator.non_trainable_variables, values_g)
        real_targets, fake_targets = targets(draws[1][draw], settings.batch_size, settings.label_smoothing)
        seen_real = lambda images: settings.seen_by_discriminator(images, draws[3][draw][:, 0])  # noqa: E731
        seen_fake = settings.seen_by_discriminator(fake, draws[3][draw][:, 1])

        condition = players.condition

        def loss_of(trainable, non_trainable):
            (real_logits, real_classes), non_trainable = self._judge(trainable, non_trainable, seen_real(real), labels)
            (fake_logits, fake_classes), non_trainable = self._judge(trainable, non_trainable, seen_fake, fake_labels)
            loss = players.loss.discriminator(real_logits, fake_logits, real_targets, fake_targets)
            loss = loss + classification(condition, real_classes, labels)
            loss = loss + classification(condition, fake_classes, fake_labels)
            for penalty in players.penalties:
                term, non_trainable = self._penalty(
                    penalty, trainable, non_trainable, real, fake, draws[2][draw], step, draw, seen_real, labels
                )
                loss = loss + term
            return _scaled(optimizer, values, loss), (loss, non_trainable)

        trainable = _of(values, discriminator.trainable_variables)
        gradients, (loss, non_trainable) = jax.grad(loss_of, has_aux=True)(
            trainable, _of(values, discriminator.non_trainable_variables)
        )
        _put(values, discriminator.non_trainable_variables, non_trainable)
        self._apply(optimizer, values, gradients, discriminator.trainable_variables)
        return loss

    def _update_generator(self, values, real_batches, draws, real_labels):
        """G's update; the last real batch D saw is there for a loss that compares fakes with it."""
        import jax

        players, settings, d_steps = self.players, self.settings, self.settings.d_steps
        generator, discriminator = players.generator, players.discriminator
        optimizer = self.generator_optimizer
        d_trainable = _of(values, discriminator.trainable_variables)
        params, fake_labels = draws[3][d_steps], self._labels(draws[4], d_steps)
        real_labels = self._labels(real_labels, d_steps - 1)

        def loss_of(trainable, non_trainable, d_non_trainable):
            noise = model_inputs(draws[0][d_steps], fake_labels)
            fake, non_trainable = generator.stateless_call(trainable, non_trainable, noise, training=True)
            real_logits = None
            if players.loss.uses_real_logits:
                real = settings.seen_by_discriminator(to_unit_range(real_batches[d_steps - 1]), params[:, 0])
                (real_logits, _), d_non_trainable = self._judge(d_trainable, d_non_trainable, real, real_labels)
            fake = settings.seen_by_discriminator(fake, params[:, 1])
            (fake_logits, fake_classes), d_non_trainable = self._judge(d_trainable, d_non_trainable, fake, fake_labels)
            loss = players.loss.generator(fake_logits, real_logits)
            loss = loss + classification(players.condition, fake_classes, fake_labels)
            return _scaled(optimizer, values, loss), (loss, non_trainable, d_non_trainable)

        gradients, (loss, non_trainable, d_non_trainable) = jax.grad(loss_of, has_aux=True)(
            _of(values, generator.trainable_variables),
            _of(values, generator.non_trainable_variables),
            _of(values, discriminator.non_trainable_variables),
        )
        _put(values, generator.non_trainable_variables, non_trainable)
        _put(values, discriminator.non_trainable_variables, d_non_trainable)
        self._apply(optimizer, values, gradients, generator.trainable_variables)
        return loss

    def _penalty(self, penalty, trainable, non_trainable, real, fake, alpha, step, draw: int, seen, labels):
        """One penalty's term for this discriminator update (0 when a lazy one is not due), and D's
        non-trainable values after the call it makes. ``seen``: what D is shown of the points;
        ``labels``: the real images' labels in a conditional run."""
        import jax
        from keras import ops

        discriminator = self.players.discriminator
        points = real if penalty.points == "real" else interpolated(real, fake, alpha)
        labels = shown_labels(self.players.condition, labels)  # none for an AC-GAN D

        def value(non_trainable):
            def summed(points, non_trainable):
                outputs, non_trainable = discriminator.stateless_call(
                    trainable, non_trainable, model_inputs(seen(points), labels), training=True
                )
                logits, _ = judged(outputs, self.players.condition)  # an AC-GAN D: the penalty is on its logit
                return ops.sum(logits), non_trainable

            gradients, non_trainable = jax.grad(summed, has_aux=True)(points, non_trainable)
            term = ops.cast(penalty.from_gradients(gradients), "float32") * float(penalty.every)
            return term, non_trainable

        if penalty.every <= 1:
            return value(non_trainable)
        # lazy: only every N-th discriminator update pays for the penalty
        due = penalty_due(penalty, step, draw, self.settings.d_steps)
        return jax.lax.cond(due, value, lambda kept: (ops.zeros((), "float32"), kept), non_trainable)

    def _apply(self, optimizer, values, gradients, variables) -> None:
        trainable, optimizer_values = optimizer.stateless_apply(
            _of(values, optimizer.variables), gradients, _of(values, variables)
        )
        _put(values, variables, trainable)
        _put(values, optimizer.variables, optimizer_values)

    def _constrain(self, values) -> None:
        """The loss's weight constraint (WGAN's clipping), which assigns to D's variables: run on the values."""
        import keras

        discriminator = self.players.discriminator
        mapping = [(variable, values[id(variable)]) for variable in discriminator.weights]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            self.players.loss.constrain_discriminator(discriminator)
        _put(values, discriminator.weights, [scope.get_current_value(variable) for variable in discriminator.weights])

    def _update_ema(self, values) -> None:
        """``average = decay * average + (1 - decay) * current`` for every float weight; counters are copied."""
        decay = self.settings.ema_decay
        for average, current in zip(self.players.ema_generator.weights, self.players.generator.weights):
            now = values[id(current)]
            if "float" in str(average.dtype):
                now = decay * values[id(average)] + (1.0 - decay) * now
            values[id(average)] = now


def _of(values, variables) -> list:
    return [values[id(variable)] for variable in variables]


def _put(values, variables, new_values) -> None:
    for variable, value in zip(variables, new_values):
        values[id(variable)] = value


def _scaled(optimizer, values, loss):
    """The loss as the optimizer wants its gradient: scaled up by a loss-scale optimizer (float16), which
    unscales the gradients itself. Its scale is a variable: read here from the traced values."""
    import keras

    with keras.StatelessScope(state_mapping=[(variable, values[id(variable)]) for variable in optimizer.variables]):
        return optimizer.scale_loss(loss)
