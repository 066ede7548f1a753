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
from ganforge.training.objective import Objective
from ganforge.training.step import Players, StepSettings, latent_of


class Stateless:
    """A model as the objective runs it on JAX: its trainable values fixed for the update, its
    non-trainable values (batch norm's statistics) carried from one call to the next, as a stateful
    call would leave them. The engine reads ``non_trainable`` back after the objective is done."""

    def __init__(self, model, trainable, non_trainable):
        self.model = model
        self.trainable = trainable
        self.non_trainable = non_trainable

    def __call__(self, inputs, labels):
        outputs, self.non_trainable = self.model.stateless_call(
            self.trainable, self.non_trainable, model_inputs(inputs, labels), training=True
        )
        return outputs


class Judge(Stateless):
    """D on JAX: input gradients through ``jax.grad``, a lazy term under ``jax.lax.cond``; both carry the
    non-trainable values through the nested trace as an explicit input and output, so no traced value
    leaks out of it."""

    def input_gradients(self, points, value_of):
        import jax

        def value(at, non_trainable):
            self.non_trainable = non_trainable
            return value_of(at), self.non_trainable

        gradients, self.non_trainable = jax.grad(value, has_aux=True)(points, self.non_trainable)
        return gradients


class Maker(Stateless):
    """G on JAX; its latent gradients run G's ``mapping`` and ``synthesis`` under a ``StatelessScope``
    that maps each of G's variables to its value in the update, and take ``jax.grad`` with respect to w."""

    def __init__(self, model, trainable, non_trainable, latent=None):
        super().__init__(model, trainable, non_trainable)
        self.latent = latent  # (mapping, synthesis) when G offers its intermediate latent

    def latent_gradients(self, noise, labels, value_of):
        import jax

        mapping, synthesis = self.latent
        w, self.non_trainable = self._in_scope(lambda: mapping(model_inputs(noise, labels), training=True))

        def value(at, non_trainable):
            self.non_trainable = non_trainable
            return self._in_scope(lambda: value_of(synthesis(at, training=True)))

        gradients, self.non_trainable = jax.grad(value, has_aux=True)(w, self.non_trainable)
        return gradients

    def _in_scope(self, run):
        """``run()`` with G's variables read from this update's values; returns its result and the
        non-trainable values it leaves (batch norm's statistics)."""
        import keras

        model = self.model
        mapping = [
            *zip(model.trainable_variables, self.trainable),
            *zip(model.non_trainable_variables, self.non_trainable),
        ]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            result = run()
            return result, [scope.get_current_value(v) for v in model.non_trainable_variables]


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
        distribution=None,
        lr_scale=None,
        state=None,
    ):
        """``distribution``: the started Distribution whose devices the step's inputs are placed on
        when the step is called with host arrays (one device if None). ``state``: the objective's state,
        name -> variable (``Objective.initial_state``)."""
        self.players = players
        self.objective = Objective(players, settings)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.settings = settings
        self.lr_scale = lr_scale
        self.state = state or {}
        self.latent = latent_of(players.generator)
        # host arrays -> device arrays (sharded when distributed)
        self.place = distribution.distribute if distribution is not None else (lambda values: values)
        generator_optimizer.build(players.generator.trainable_variables)
        discriminator_optimizer.build(players.discriminator.trainable_variables)
        ema = players.ema_generator.weights if players.ema_generator is not None else []
        groups = [
            players.generator.weights,
            players.discriminator.weights,
            generator_optimizer.variables,
            discriminator_optimizer.variables,
            ema,
            list(self.state.values()),
        ]
        unique = {id(variable): variable for group in groups for variable in group}
        self.variables = list(unique.values())  # the state the jitted function takes and returns
        self._compiled, self._traced_scale, self._scale_seen = {}, None, None

    def __call__(self, real_batches, step: int, draws=None, real_labels=None):
        import functools

        import jax
        import numpy as np

        if self.settings.conditional != (real_labels is not None):
            raise ValueError("a conditional step needs the real images' labels, and only it takes them")
        if draws is None:
            draws = self.settings.draws(step).map(self.place)
            real_batches = self.place(real_batches)
            real_labels = None if real_labels is None else self.place(real_labels)
        if self._scale_moved():  # first, so it has always seen the scale the step is traced with
            self._compiled = {}
        due = self.settings.regularised(step)  # one compiled step per pattern of regularised updates
        if due not in self._compiled:
            self._compiled[due] = jax.jit(functools.partial(self._step, due=due))
        state = [variable.value for variable in self.variables]
        state, losses = self._compiled[due](state, real_batches, draws, np.int32(step), real_labels)
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
    def _step(self, state, real_batches, draws, step, real_labels, due):
        values = {id(variable): value for variable, value in zip(self.variables, state)}
        players, objective = self.players, self.objective
        kept = {name: values[id(variable)] for name, variable in self.state.items()}  # the objective's state
        discriminator_loss, observed = None, []
        for draw in range(self.settings.d_steps):
            discriminator_loss, seen = self._update_discriminator(
                values, real_batches, draws, step, draw, real_labels, kept
            )
            self._constrain(values)
            observed.append(seen)
            if due.discriminator[draw]:
                self._regularise_discriminator(values, real_batches, draws, step, draw, real_labels, kept)
                self._constrain(values)
        generator_loss = self._update_generator(values, real_batches, draws, real_labels, step, kept)
        new = {}
        if due.generator:
            new.update(
                objective.after_generator_regularisation(kept, self._regularise_generator(values, draws, step, kept))
            )
        summed = {key: sum(seen[key] for seen in observed) for key in observed[0]}
        new.update(objective.after_step(kept, summed, step))
        for name, value in new.items():
            values[id(self.state[name])] = value
        if players.ema_generator is not None:
            self._update_ema(values, step)
        return [values[id(variable)] for variable in self.variables], (discriminator_loss, generator_loss)

    def _labels(self, labels, draw: int):
        """One update's real labels in a conditional run; None otherwise (the models then take none)."""
        return labels[draw] if self.settings.conditional else None

    def _fakes(self, values, update):
        """G's images for ``update``, outside any differentiated function (for D's updates)."""
        generator = self.players.generator
        maker = Stateless(
            generator, _of(values, generator.trainable_variables), _of(values, generator.non_trainable_variables)
        )
        fake = self.objective.fakes(maker, update)
        _put(values, generator.non_trainable_variables, maker.non_trainable)
        return fake

    def _update_discriminator(self, values, real_batches, draws, step, draw: int, real_labels, kept):
        objective = self.objective
        update = draws.update(draw, self.settings.conditional)
        fake, labels = self._fakes(values, update), self._labels(real_labels, draw)

        def loss(judge):
            return objective.discriminator(judge, real_batches[draw], fake, update, labels, step, kept)

        return self._update_d(values, loss)

    def _regularise_discriminator(self, values, real_batches, draws, step, draw: int, real_labels, kept):
        """The lazy regularisers' update of their own, on the fakes of D's update before it."""
        objective = self.objective
        update = draws.update(draw, self.settings.conditional)
        fake = self._fakes(values, update) if objective.lazy_takes_fakes else None
        labels = self._labels(real_labels, draw)

        def loss(judge):
            value = objective.discriminator_regularisation(judge, real_batches[draw], fake, update, labels, step, kept)
            return value, None

        return self._update_d(values, loss)

    def _update_d(self, values, loss_and_more):
        """One update of D: ``loss_and_more(judge)`` -> (loss, anything) differentiated, applied; returns both."""
        import jax

        discriminator = self.players.discriminator

        def loss_of(trainable, non_trainable):
            judge = Judge(discriminator, trainable, non_trainable)
            loss, more = loss_and_more(judge)
            return _scaled(self.discriminator_optimizer, values, loss), (loss, more, judge.non_trainable)

        gradients, (loss, more, non_trainable) = jax.grad(loss_of, has_aux=True)(
            _of(values, discriminator.trainable_variables), _of(values, discriminator.non_trainable_variables)
        )
        _put(values, discriminator.non_trainable_variables, non_trainable)
        self._apply(self.discriminator_optimizer, values, gradients, discriminator.trainable_variables)
        return loss, more

    def _update_generator(self, values, real_batches, draws, real_labels, step, kept):
        """G's update; the last real batch D saw is there for a loss that compares fakes with it."""
        objective, d_steps = self.objective, self.settings.d_steps
        update = draws.update(d_steps, self.settings.conditional)
        real_batch, real_labels = real_batches[d_steps - 1], self._labels(real_labels, d_steps - 1)

        def loss(maker, judge):
            return objective.generator(judge, maker, update, real_batch, real_labels, step, kept), None

        return self._update_g(values, loss)[0]

    def _regularise_generator(self, values, draws, step, kept):
        """G's regularisers' update of their own; returns their batch statistics."""
        update = draws.update(self.settings.d_steps, self.settings.conditional)
        return self._update_g(
            values, lambda maker, judge: self.objective.generator_regularisation(maker, update, step, kept)
        )[1]

    def _update_g(self, values, loss_and_more):
        """One update of G: ``loss_and_more(maker, judge)`` -> (loss, anything), D's trainable values fixed
        and its non-trainable ones carried; returns both."""
        import jax

        generator, discriminator = self.players.generator, self.players.discriminator
        d_trainable = _of(values, discriminator.trainable_variables)

        def loss_of(trainable, non_trainable, d_non_trainable):
            maker = Maker(generator, trainable, non_trainable, self.latent)
            judge = Judge(discriminator, d_trainable, d_non_trainable)
            loss, more = loss_and_more(maker, judge)
            scaled = _scaled(self.generator_optimizer, values, loss)
            return scaled, (loss, more, maker.non_trainable, judge.non_trainable)

        gradients, (loss, more, non_trainable, d_non_trainable) = jax.grad(loss_of, has_aux=True)(
            _of(values, generator.trainable_variables),
            _of(values, generator.non_trainable_variables),
            _of(values, discriminator.non_trainable_variables),
        )
        _put(values, generator.non_trainable_variables, non_trainable)
        _put(values, discriminator.non_trainable_variables, d_non_trainable)
        self._apply(self.generator_optimizer, values, gradients, generator.trainable_variables)
        return loss, more

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

    def _update_ema(self, values, step) -> None:
        """``average = decay * average + (1 - decay) * current`` for every float weight; counters are copied."""
        decay = self.objective.ema_decay(step)
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
