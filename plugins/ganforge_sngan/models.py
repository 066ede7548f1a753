"""The SNGAN ResNet blocks and networks (Miyato et al. 2018, appendix B; the shapes mimicry trains).

Generator, 32 px: Dense(4*4*w) -> 3 x UpBlock(w) -> BN -> ReLU -> Conv3x3(C) -> tanh, w = 256.
Generator, 64 px: Dense(4*4*w) -> UpBlocks to w/2, w/4, w/8, w/16 -> BN -> ReLU -> Conv3x3(C) -> tanh,
w = 1024. UpBlock: BN -> ReLU -> 2x nearest -> Conv3x3 -> BN -> ReLU -> Conv3x3, plus the shortcut
2x nearest -> Conv1x1.
Discriminator, 32 px: FirstBlock(w) -> DownBlock(w) -> Block(w) -> Block(w) -> ReLU -> sum over space ->
Dense(1), w = 128. 64 px: FirstBlock(w/16) -> DownBlocks to w/8, w/4, w/2, w -> ReLU -> sum -> Dense(1),
w = 1024. FirstBlock: Conv3x3 -> ReLU -> Conv3x3 -> 2x2 average pool, shortcut pool -> Conv1x1.
DownBlock: ReLU -> Conv3x3 -> ReLU -> Conv3x3 -> pool, shortcut Conv1x1 -> pool. Every
discriminator layer is spectrally normalised.
"""

import keras
from keras import layers

from ganforge.data import DataSpec
from ganforge.layers import SpectralNorm

WIDTHS = {32: (256, 128), 64: (1024, 1024)}  # side -> (generator, discriminator) widest block


def _side(spec: DataSpec) -> int:
    if not spec.is_image or spec.height != spec.width or spec.height not in WIDTHS:
        raise ValueError(f"sngan_resnet takes square images of 32 or 64 pixels; the dataset gives {spec}")
    return spec.height


def _up_block(x, filters: int):
    shortcut = layers.Conv2D(filters, 1)(layers.UpSampling2D(2)(x))
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Conv2D(filters, 3, padding="same")(layers.UpSampling2D(2)(x))
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Conv2D(filters, 3, padding="same")(x)
    return layers.Add()([x, shortcut])


def build_generator(spec: DataSpec, latent_dim: int, width: int | None = None) -> keras.Model:
    side = _side(spec)
    width = width or WIDTHS[side][0]
    blocks = [width] * 3 if side == 32 else [max(width // 2**i, 1) for i in range(1, 5)]
    noise = keras.Input((latent_dim,), name="noise")
    x = layers.Reshape((4, 4, width))(layers.Dense(4 * 4 * width)(noise))
    for filters in blocks:
        x = _up_block(x, filters)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    images = layers.Conv2D(spec.channels, 3, padding="same", activation="tanh")(x)
    return keras.Model(noise, images, name=f"sngan_resnet{side}_generator")


def _conv(filters: int, kernel: int):
    return SpectralNorm(layers.Conv2D(filters, kernel, padding="same"))


def _first_block(x, filters: int):
    shortcut = _conv(filters, 1)(layers.AveragePooling2D(2)(x))
    x = _conv(filters, 3)(layers.ReLU()(_conv(filters, 3)(x)))
    return layers.Add()([layers.AveragePooling2D(2)(x), shortcut])


def _block(x, filters: int, down: bool):
    shortcut = x
    if down or x.shape[-1] != filters:
        shortcut = _conv(filters, 1)(shortcut)
    if down:
        shortcut = layers.AveragePooling2D(2)(shortcut)
    x = _conv(filters, 3)(layers.ReLU()(x))
    x = _conv(filters, 3)(layers.ReLU()(x))
    if down:
        x = layers.AveragePooling2D(2)(x)
    return layers.Add()([x, shortcut])


def build_discriminator(spec: DataSpec, width: int | None = None) -> keras.Model:
    side = _side(spec)
    width = width or WIDTHS[side][1]
    images = keras.Input(spec.shape, name="images")
    if side == 32:
        x = _first_block(images, width)
        x = _block(x, width, down=True)
        x = _block(_block(x, width, down=False), width, down=False)
    else:
        x = _first_block(images, max(width // 16, 1))
        for filters in (width // 8, width // 4, width // 2, width):
            x = _block(x, max(filters, 1), down=True)
    x = layers.ReLU()(x)
    pooled = layers.Rescaling(x.shape[1] * x.shape[2], name="sum_pool")(layers.GlobalAveragePooling2D()(x))
    logits = SpectralNorm(layers.Dense(1), name="logits")(pooled)
    return keras.Model(images, logits, name=f"sngan_resnet{side}_discriminator")
