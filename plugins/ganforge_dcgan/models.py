"""DCGAN models, each preset written the way its source tabulates it.

``article`` (the tutorial, 64x64x3: 492,083 generator and 816,529
discriminator parameters):
  G: Dense(4*4*128) -> BN -> Reshape -> n x [Conv2DTranspose(f, 5, s2) -> BN
     -> LeakyReLU(0.3)], f = 64, 32, 16, 16 -> Conv2D(C, 5, tanh)
  D: n x [Conv2D(f, 5) -> BN -> Conv2D(f, 5, s2) -> BN -> LeakyReLU(0.3)],
     f = 16, 32, 64, 128 -> GlobalAveragePooling2D -> Dense(1)
  Keras default (Glorot uniform) initialisation.

``radford`` (Radford et al. 2015):
  G: Dense(4*4*8w) -> BN -> ReLU -> (n-1) x [Conv2DTranspose(f, 4, s2) -> BN
     -> ReLU] -> Conv2DTranspose(C, 4, s2, tanh)
  D: Conv2D(w, 4, s2) -> LeakyReLU(0.2) -> (n-1) x [Conv2D(f, 4, s2) -> BN ->
     LeakyReLU(0.2)] -> Flatten -> Dense(1); no BN on G's output or D's input
  Weights N(0, 0.02); w = 64 at 64 px (filters 64/128/256/512).

``spectral_norm = true`` on the discriminator wraps every convolution and the
output layer in spectral normalization (``ganforge.layers.SpectralNorm``) and
drops its batch norms, as Miyato et al. (2018) train their CNN discriminator.
``norm`` picks D's normalization explicitly: ``batch``, ``layer`` (over each
image's height, width and channels, as WGAN-GP's critic) or ``none``.

``condition`` (a labelled dataset's ``LabelSpec``) makes either network
conditional, as ``ganforge_dcgan.conditioning`` describes: G takes
``[noise, labels]``, D ``[images, labels]`` with a projection term. The
unconditional networks are unchanged by it, weight for weight.

n = log2(side / 4) resolution blocks: 4 at 64 px, 3 at 32 px, 5 at 128 px.
Discriminators return logits: the article's final sigmoid lives in the loss.
"""

import math

import keras
from keras import layers

from ganforge.data import DataSpec
from ganforge.data.labels import LabelSpec
from ganforge.layers import SpectralNorm
from ganforge_dcgan import conditioning

ARTICLE_SLOPE = 0.3
RADFORD_SLOPE = 0.2
ARTICLE_G_BASE = 128  # channels of the 4x4 map the article's Dense layer produces


def _blocks(spec: DataSpec) -> int:
    side = spec.height
    if spec.height != spec.width or side < 8 or side > 256 or side & (side - 1):
        raise ValueError(
            f"dcgan needs square images whose side is a power of two from 8 to 256; the dataset gives {spec}"
        )
    return int(math.log2(side // 4))


def _filters(preset: str, role: str, blocks: int, override: list[int] | None) -> list[int]:
    if override is not None:
        if len(override) != blocks or any(f <= 0 for f in override):
            raise ValueError(f"filters must list {blocks} positive numbers for this image size, got {override}")
        return list(override)
    if preset == "article":
        # 64 px: G 64, 32, 16, 16 and D 16, 32, 64, 128, extended at the thin end
        generator = [64, 32] + [16] * max(blocks - 2, 0)
        discriminator = [16 * 2**i for i in range(blocks)]
        return (generator if role == "generator" else discriminator)[:blocks]
    discriminator = [64 * 2**i for i in range(blocks)]
    return discriminator[::-1] if role == "generator" else discriminator


def build_generator(
    spec: DataSpec,
    latent_dim: int,
    preset: str = "article",
    filters: list[int] | None = None,
    condition: LabelSpec | None = None,
) -> keras.Model:
    """With ``condition`` (a labelled dataset's LabelSpec) the model takes ``[noise, labels]``."""
    blocks = _blocks(spec)
    filters = _filters(preset, "generator", blocks, filters)
    noise = keras.Input((latent_dim,), name="noise")
    inputs, x = noise, noise
    if condition is not None:
        labels = conditioning.labels_input(condition)
        inputs = [noise, labels]
        x = layers.Concatenate()(
            [noise, conditioning.embed(labels, condition, conditioning.EMBEDDING, "label_embedding")]
        )
    if preset == "article":
        x = layers.Dense(4 * 4 * ARTICLE_G_BASE)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Reshape((4, 4, ARTICLE_G_BASE))(x)
        for f in filters:
            x = layers.Conv2DTranspose(f, 5, strides=2, padding="same")(x)
            x = layers.BatchNormalization()(x)
            x = layers.LeakyReLU(ARTICLE_SLOPE)(x)
        images = layers.Conv2D(spec.channels, 5, padding="same", activation="tanh")(x)
    else:
        init = keras.initializers.RandomNormal(0.0, 0.02)
        x = layers.Dense(4 * 4 * filters[0], use_bias=False, kernel_initializer=init)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Reshape((4, 4, filters[0]))(x)
        for f in filters[1:]:
            x = layers.Conv2DTranspose(f, 4, strides=2, padding="same", use_bias=False, kernel_initializer=init)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        images = layers.Conv2DTranspose(
            spec.channels, 4, strides=2, padding="same", activation="tanh", kernel_initializer=init
        )(x)
    return keras.Model(inputs, images, name=f"dcgan_{preset}_{'conditional_' if condition else ''}generator")


def _normalizer(norm: str):
    if norm == "batch":
        return lambda x: layers.BatchNormalization()(x)
    if norm == "layer":
        return lambda x: layers.LayerNormalization(axis=[1, 2, 3])(x)
    if norm == "none":
        return lambda x: x
    raise ValueError(f"norm must be batch, layer or none, got {norm!r}")


def build_discriminator(
    spec: DataSpec,
    preset: str = "article",
    filters: list[int] | None = None,
    spectral_norm: bool = False,
    norm: str | None = None,
    condition: LabelSpec | None = None,
    classifier: LabelSpec | None = None,
) -> keras.Model:
    """With ``condition`` the model takes ``[images, labels]`` and adds the projection term to its logit;
    with ``classifier`` (AC-GAN) it also returns class logits, ``[logits, class_logits]``."""
    if condition is not None and classifier is not None:
        raise ValueError("a discriminator takes the labels (condition) or predicts them (classifier), not both")
    blocks = _blocks(spec)
    filters = _filters(preset, "discriminator", blocks, filters)
    wrap = SpectralNorm if spectral_norm else (lambda layer: layer)
    # spectral norm takes batch norm's place by default, as in Miyato et al.'s CNN discriminator
    norm = norm or ("none" if spectral_norm else "batch")
    normalize = _normalizer(norm)

    images = keras.Input(spec.shape, name="images")
    x = images
    if preset == "article":
        for f in filters:
            x = normalize(wrap(layers.Conv2D(f, 5, padding="same"))(x))
            x = normalize(wrap(layers.Conv2D(f, 5, strides=2, padding="same"))(x))
            x = layers.LeakyReLU(ARTICLE_SLOPE)(x)
        x = layers.GlobalAveragePooling2D()(x)
    else:
        init = keras.initializers.RandomNormal(0.0, 0.02)
        for i, f in enumerate(filters):
            has_bias = i == 0 or norm == "none"  # a batch or layer norm's offset stands in for the bias
            conv = layers.Conv2D(f, 4, strides=2, padding="same", use_bias=has_bias, kernel_initializer=init)
            x = wrap(conv)(x)
            if i > 0:
                x = normalize(x)
            x = layers.LeakyReLU(RADFORD_SLOPE)(x)
        x = layers.Flatten()(x)
    output = SpectralNorm(layers.Dense(1), name="logits") if spectral_norm else layers.Dense(1, name="logits")
    logits = output(x)
    name = f"dcgan_{preset}_{'sn_' if spectral_norm else ''}{'conditional_' if condition else ''}discriminator"
    if classifier is not None:
        class_logits = layers.Dense(len(classifier), name="class_logits")(x)
        return keras.Model(images, [logits, class_logits], name=name.replace("discriminator", "acgan_discriminator"))
    if condition is None:
        return keras.Model(images, logits, name=name)
    labels = conditioning.labels_input(condition)
    logits = layers.Add(name="conditional_logits")([logits, conditioning.project(x, labels, condition)])
    return keras.Model([images, labels], logits, name=name)
