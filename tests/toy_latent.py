"""A toy generator that offers its intermediate latent w (``mapping`` and ``synthesis``), registered through
the public plugin contract, for tests of G-side regularisers (path length) on either backend.

The generator is ``keras.Model(z, synthesis(mapping(z)))``: the two parts are the very layers of the model,
so their weights are the generator's and generator(z) == synthesis(mapping(z)).
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field

from ganforge import hookimpl

NAME = "toy_latent"


def build(
    spec,
    latent_dim,
    w_dim: Annotated[int, Field(ge=1, description="width of w")] = 8,
    num_ws: Annotated[int, Field(ge=0, description="copies of w (StyleGAN's ws axis); 0: w is (batch, w_dim)")] = 2,
    hidden: Annotated[int, Field(ge=1, description="units of the hidden layers")] = 16,
):
    """mapping: z -> w (batch, num_ws, w_dim), or (batch, w_dim) with num_ws = 0; synthesis: w -> images in tanh."""
    import keras

    w_shape = (num_ws, w_dim) if num_ws else (w_dim,)
    noise = keras.Input((latent_dim,))
    x = keras.layers.Dense(hidden, activation="leaky_relu")(noise)
    x = keras.layers.Reshape(w_shape)(keras.layers.Dense(math.prod(w_shape))(x))
    mapping = keras.Model(noise, x, name="mapping")

    latent = keras.Input(w_shape)
    y = keras.layers.Dense(hidden, activation="leaky_relu")(keras.layers.Flatten()(latent))
    y = keras.layers.Dense(math.prod(spec.shape), activation="tanh")(y)
    synthesis = keras.Model(latent, keras.layers.Reshape(spec.shape)(y), name="synthesis")

    generator_input = keras.Input((latent_dim,))
    generator = keras.Model(generator_input, synthesis(mapping(generator_input)), name="toy_latent")
    generator.mapping, generator.synthesis = mapping, synthesis
    return generator


class ToyLatentPlugin:
    """The plugin: an object with hooks, loaded like a module."""

    GANFORGE_CONTRACT = 1

    @hookimpl
    def register_generators(self, register):
        register(NAME, build, help="a toy generator offering mapping and synthesis")


def add_to(registry):
    """``registry`` with this plugin as one more, the way a third party's is loaded; returns the registry."""
    plugin = registry.add_plugin(NAME, ToyLatentPlugin, package="toy-latent")
    assert plugin.error is None, plugin.error
    return registry


def registry():
    """The installed plugins and this one."""
    from ganforge.plugin.registry import Registry

    return add_to(Registry.from_entry_points())
