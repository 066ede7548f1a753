"""The upsampler generator: the smallest convolutional generator that draws clean edges at any power-of-two size."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field


def build_upsampler(
    spec,
    latent_dim,
    width: Annotated[
        int, Field(ge=4, le=1024, description="channels of the first 4x4 block; halved per doubling, at least 16")
    ] = 128,
):
    """Noise (batch, latent_dim) -> images (batch, H, W, C) in [-1, 1], for H = W = 4 * 2^k."""
    size = spec.height
    blocks = (size // 4).bit_length() - 1
    if spec.width != size or size < 8 or 4 * 2**blocks != size:
        raise ValueError(f"needs square images of 8, 16, 32, ... pixels; the dataset's are {spec.shape}")
    import keras  # here: registering the plugin must not load TensorFlow

    noise = keras.Input((latent_dim,))
    x = keras.layers.Dense(4 * 4 * width)(noise)
    x = keras.layers.Reshape((4, 4, width))(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    channels = width
    for _ in range(blocks):
        channels = max(channels // 2, 16)
        x = keras.layers.UpSampling2D(interpolation="nearest")(x)  # nearest + conv: no checkerboard artefacts
        x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    images = keras.layers.Conv2D(spec.channels, 3, padding="same", activation="tanh")(x)
    return keras.Model(noise, images, name="upsampler")
