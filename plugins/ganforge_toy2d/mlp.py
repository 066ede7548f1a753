"""Fully connected networks for flat data (flattening and reshaping anything else)."""

import math

import keras
from keras import ops

from ganforge.data import DataSpec


@keras.saving.register_keras_serializable(package="ganforge_toy2d")
class CategoricalCode(keras.layers.Layer):
    """Turns the first noise coordinate into a one-hot code of ``categories`` equally likely values.

    z ~ N(0, 1) falls into category floor(K * Phi(z)), Phi the normal CDF, so
    every category has probability 1/K. A generator with such a code can
    send each category to its own mode without stretching one continuous
    latent across the empty space between modes (the idea of DeLiGAN and
    InfoGAN's categorical codes); the other coordinates stay continuous.
    """

    def __init__(self, categories: int, **kwargs):
        super().__init__(**kwargs)
        self.categories = categories

    def call(self, noise):
        probability = 0.5 * (1.0 + ops.erf(noise[:, :1] / math.sqrt(2.0)))
        index = ops.clip(ops.floor(probability * self.categories), 0, self.categories - 1)
        code = ops.one_hot(ops.cast(index[:, 0], "int32"), self.categories)
        return ops.concatenate([code, noise[:, 1:]], axis=1)

    def get_config(self):
        return {**super().get_config(), "categories": self.categories}


def _hidden_stack(x, hidden: int, layers: int, activation: str):
    for _ in range(layers):
        x = keras.layers.Dense(hidden)(x)
        x = keras.layers.LeakyReLU(0.2)(x) if activation == "leaky_relu" else keras.layers.Activation(activation)(x)
    return x


def build_generator(
    spec: DataSpec, latent_dim: int, hidden: int = 256, layers: int = 3, activation: str = "relu", categories: int = 0
) -> keras.Model:
    noise = keras.Input((latent_dim,), name="noise")
    x = CategoricalCode(categories)(noise) if categories else noise
    x = _hidden_stack(x, hidden, layers, activation)
    outputs = keras.layers.Dense(math.prod(spec.shape))(x)  # no squashing: toy data is not in [-1, 1]
    if len(spec.shape) > 1:
        outputs = keras.layers.Reshape(spec.shape)(outputs)
    return keras.Model(noise, outputs, name="mlp_generator")


def build_discriminator(
    spec: DataSpec, hidden: int = 256, layers: int = 3, activation: str = "relu", categories: int = 0
) -> keras.Model:
    if categories:
        raise ValueError("categories is a generator parameter (a code in its noise); the discriminator takes none")
    inputs = keras.Input(spec.shape, name="examples")
    x = keras.layers.Flatten()(inputs) if len(spec.shape) > 1 else inputs
    x = _hidden_stack(x, hidden, layers, activation)
    return keras.Model(inputs, keras.layers.Dense(1, name="logits")(x), name="mlp_discriminator")
