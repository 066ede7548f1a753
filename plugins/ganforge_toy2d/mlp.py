"""Fully connected networks for flat data (flattening and reshaping anything else)."""
import math

import keras

from ganforge.data import DataSpec


def _hidden_stack(x, hidden: int, layers: int, activation: str):
    for _ in range(layers):
        x = keras.layers.Dense(hidden)(x)
        x = keras.layers.LeakyReLU(0.2)(x) if activation == "leaky_relu" else keras.layers.Activation(activation)(x)
    return x


def build_generator(spec: DataSpec, latent_dim: int, hidden: int = 256, layers: int = 3, activation: str = "relu") -> keras.Model:
    noise = keras.Input((latent_dim,), name="noise")
    x = _hidden_stack(noise, hidden, layers, activation)
    outputs = keras.layers.Dense(math.prod(spec.shape))(x)  # no squashing: toy data is not in [-1, 1]
    if len(spec.shape) > 1:
        outputs = keras.layers.Reshape(spec.shape)(outputs)
    return keras.Model(noise, outputs, name="mlp_generator")


def build_discriminator(spec: DataSpec, hidden: int = 256, layers: int = 3, activation: str = "relu") -> keras.Model:
    inputs = keras.Input(spec.shape, name="examples")
    x = keras.layers.Flatten()(inputs) if len(spec.shape) > 1 else inputs
    x = _hidden_stack(x, hidden, layers, activation)
    return keras.Model(inputs, keras.layers.Dense(1, name="logits")(x), name="mlp_discriminator")
