"""A toy regulariser, registered through the public plugin contract (a ``register_penalties`` hook),
and one training step's D loss with and without it, on whichever backend this process runs.

Imported by tests/test_objective.py in the test process (TensorFlow) and in a fresh process on
JAX: a process has one Keras backend.
"""

from __future__ import annotations

import sys

import numpy as np

from ganforge import hookimpl

RECIPE = """
name = "toy-regulariser"
seed = 5

[dataset]
name = "grid"
size = 64

[generator]
name = "mlp"
hidden = 16
layers = 2

[discriminator]
name = "mlp"
hidden = 16
layers = 2

[train]
batch_size = 16
latent_dim = 4
"""
WEIGHT = 3.0


class SumOfSquares:
    """``weight`` x the mean over examples of the squared entries of D's input gradient at real points:
    R1 under another name, so its value is known without ganforge's help."""

    points = "real"

    def __init__(self, weight: float = 1.0, every: int = 1):
        self.weight = weight
        self.every = every

    def from_gradients(self, gradients):
        from keras import ops

        return self.weight * ops.mean(ops.sum(ops.square(gradients), axis=1))


@hookimpl
def register_penalties(register):
    register("sum_of_squares", SumOfSquares)


def registry():
    """The installed plugins and this module as one more, the way a third party's is loaded."""
    from ganforge.plugin.registry import Registry

    found = Registry.from_entry_points()
    found.add_plugin("toy_regulariser", lambda: sys.modules[__name__], package="toy-regulariser")
    return found


def real_points() -> np.ndarray:
    """One step's real batch: (d_steps, batch, 2)."""
    return np.random.default_rng(0).normal(size=(1, 16, 2)).astype(np.float32)


TOY_VARIANTS = {"without": [], "with": [f'penalty={{ name = "sum_of_squares", weight = {WEIGHT} }}']}


def discriminator_losses(recipe_path, weights_path, variants=None) -> dict[str, float]:
    """D's loss of step 0 from the weights in ``weights_path`` (written first if missing), for each of
    ``variants`` (name -> recipe overrides; by default without and with the toy regulariser), on this
    process's backend."""
    import os

    import keras

    from ganforge.recipe import load_recipe
    from ganforge.training.assembly import assemble

    plugins, losses = registry(), {}
    # the weights drawn from the recipe's seed, not from whatever earlier tests in this process left
    keras.utils.set_random_seed(5)  # the recipe's seed
    for name, settings in (variants or TOY_VARIANTS).items():
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")
        recipe = load_recipe(recipe_path, [f"backend={backend}", *settings], plugins)
        training = assemble(recipe, plugins)
        models = (training.parts.generator, training.parts.discriminator)
        if not os.path.exists(weights_path):
            np.savez(weights_path, *[weight for model in models for weight in model.get_weights()])
        saved = np.load(weights_path)
        arrays = [saved[f"arr_{index}"] for index in range(len(saved.files))]
        split = len(models[0].get_weights())
        models[0].set_weights(arrays[:split])
        models[1].set_weights(arrays[split:])
        discriminator_loss, _ = training.step(real_points(), 0)
        losses[name] = float(np.asarray(discriminator_loss))
    return losses
