"""R3GAN's generator and discriminator (Huang et al. 2024), built from ``ganforge_r3gan.layers``.

A network is a list of stages, one per resolution: 4x4, 8x8, ... up to the image's side. G's first stage
is the generative basis, each later stage an upsampling transition (a 1x1 convolution first where the
width changes), and every stage ends in its residual blocks; a 1x1 convolution makes the image (no tanh,
as the official code). D mirrors it: a 1x1 convolution from the image, then per stage its residual blocks
and a downsampling transition (a 1x1 convolution after it where the width changes), the last stage
ending in the discriminative basis. D's widths are G's reversed.

Conditioning (ganforge's ``condition=``), as the official code: G concatenates a linear embedding of the
labels (as wide as the noise) to the noise; D's basis outputs a vector as wide as its last stage, and the
logit is its dot product with a linear embedding of the labels (projection, Miyato & Koyama 2018).

Layer names follow the official modules, so that ``ganforge_r3gan.official`` can match them:
``stage{s}_layer{l}`` is the official ``MainLayers.{s}.Layers.{l}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
from keras import layers

from ganforge.data import DataSpec
from ganforge.data.labels import LabelSpec
from ganforge.errors import ParameterError
from ganforge_r3gan.layers import (
    DiscriminativeBasis,
    Downsample,
    GenerativeBasis,
    ResidualBlock,
    Upsample,
    convolution,
    msr,
)


@dataclass(frozen=True)
class Preset:
    side: int | None  # the image side it is made for; None: any power of two from 8 to 256
    width: int  # channels of the widest stage
    groups: int  # grouped convolution's groups at the widest stage
    blocks: int  # residual blocks per stage
    ratios: tuple[float, ...] | None = None  # each G stage's width over the widest, from 4x4 up
    halving: bool = False  # ratios for any side: the widest at 4x4 and 8x8, halving at each stage above

    def stage_ratios(self, count: int) -> tuple[float, ...]:
        if self.ratios is not None:
            return self.ratios
        return tuple(0.5 ** max(0, s - 1) for s in range(count)) if self.halving else (1.0,) * count


PRESETS = {
    # the official train.py's CIFAR10 and FFHQ-64 presets: 3/4 of 1024 channels, 3 x 32 groups, 2 blocks
    "cifar10": Preset(side=32, width=768, groups=96, blocks=2),
    "ffhq64": Preset(side=64, width=768, groups=96, blocks=2, ratios=(1, 1, 1, 1, 0.5)),
    # for a CPU: half as wide at each stage above 8x8, as most of the paper's larger networks taper (a
    # stage costs pixels x width^2: a 32-px stage as wide as the 4x4 one would cost 3/4 of the network)
    "small": Preset(side=None, width=64, groups=8, blocks=1, halving=True),
}


@dataclass(frozen=True)
class Architecture:
    """Per stage, in G's order (4x4 first): channels, groups of the 3x3 convolution, residual blocks."""

    widths: tuple[int, ...]
    groups: tuple[int, ...]
    blocks: tuple[int, ...]
    expansion: int = 2

    def reversed(self) -> Architecture:
        """The same stages in D's order (the image's side first)."""
        return Architecture(self.widths[::-1], self.groups[::-1], self.blocks[::-1], self.expansion)


def stages_for(spec: DataSpec, preset: str) -> int:
    """How many stages make the dataset's images: one per power of two from 4 to the side."""
    side = spec.height
    wanted = PRESETS[preset].side
    if wanted is not None and (spec.height, spec.width) != (wanted, wanted):
        raise ParameterError(
            "preset",
            f"preset {preset!r} makes {wanted}x{wanted} images; the dataset's are {spec.height}x{spec.width}: "
            f"use preset 'small' (any square power-of-two side from 8 to 256) with width, groups and blocks",
        )
    if not spec.is_image or spec.height != spec.width or side < 8 or side > 256 or side & (side - 1):
        raise ParameterError(
            "preset", f"r3gan makes square images whose side is a power of two, 8 to 256; the dataset gives {spec}"
        )
    return int(math.log2(side)) - 1


def architecture(
    spec: DataSpec, preset: str, width: int | None, groups: int | None, blocks: int | None, expansion: int
) -> Architecture:
    """The preset's stages for the dataset, with any of its numbers overridden; checked."""
    chosen = PRESETS[preset]
    count = stages_for(spec, preset)
    ratios = chosen.stage_ratios(count)
    width, groups = width or chosen.width, groups or chosen.groups
    widths = tuple(max(1, round(width * r)) for r in ratios)
    cardinalities = tuple(max(1, round(groups * r)) for r in ratios)
    for stage_width, stage_groups in zip(widths, cardinalities):
        wide = stage_width * expansion
        if wide % stage_groups:
            raise ParameterError(
                "groups",
                f"groups = {stage_groups} does not divide the grouped convolution's {wide} channels "
                f"(width {stage_width} x expansion {expansion}): choose width and groups so that it does, "
                f"e.g. groups = {_divisor_near(wide, stage_groups)}",
            )
    return Architecture(widths, cardinalities, (blocks or chosen.blocks,) * count, expansion)


def _divisor_near(number: int, near: int) -> int:
    return min((d for d in range(1, number + 1) if number % d == 0), key=lambda d: abs(d - near))


def _labels_input(condition: LabelSpec):
    if condition.kind == "classes":
        return keras.Input((), dtype="int32", name="labels")
    return keras.Input((len(condition),), dtype="float32", name="labels")


def _embed(labels, condition: LabelSpec, size: int, gain: float):
    """A linear map of the labels, as the official code's (which takes one-hot classes): a class picks a
    row of the table; attribute flags (0/1) go through a bias-free dense layer."""
    initializer = msr(gain, len(condition))
    if condition.kind == "classes":
        return layers.Embedding(len(condition), size, embeddings_initializer=initializer, name="embedding")(labels)
    return layers.Dense(size, use_bias=False, kernel_initializer=initializer, name="embedding")(labels)


def _blocks(x, stage: int, first: int, arch: Architecture, index: int):
    for j in range(arch.blocks[index]):
        x = ResidualBlock(arch.groups[index], arch.expansion, sum(arch.blocks), name=f"stage{stage}_layer{first + j}")(
            x
        )
    return x


def build_generator(
    spec: DataSpec, latent_dim: int, arch: Architecture, condition: LabelSpec | None = None
) -> keras.Model:
    noise = keras.Input((latent_dim,), name="noise")
    inputs, x = noise, noise
    if condition is not None:
        labels = _labels_input(condition)
        inputs, x = (
            [noise, labels],
            layers.Concatenate(name="noise_and_labels")([noise, _embed(labels, condition, latent_dim, 1.0)]),
        )
    x = GenerativeBasis(arch.widths[0], name="stage0_layer0")(x)
    x = _blocks(x, 0, 1, arch, 0)
    for s in range(1, len(arch.widths)):
        if arch.widths[s] != arch.widths[s - 1]:
            x = convolution(arch.widths[s], 1, arch.widths[s - 1], name=f"stage{s}_layer0_linear")(x)
        x = Upsample(name=f"stage{s}_layer0")(x)
        x = _blocks(x, s, 1, arch, s)
    images = convolution(spec.channels, 1, arch.widths[-1], name="aggregation")(x)
    model = keras.Model(inputs, images, name="r3gan_generator")
    model.linear_output = True  # no tanh, as the official code: ganforge clips where it makes pixels
    return model


def build_discriminator(spec: DataSpec, arch: Architecture, condition: LabelSpec | None = None) -> keras.Model:
    """``arch`` in D's order (see Architecture.reversed)."""
    images = keras.Input(spec.shape, name="images")
    x = convolution(arch.widths[0], 1, spec.channels, name="extraction")(images)
    last = len(arch.widths) - 1
    for s in range(last):
        x = _blocks(x, s, 0, arch, s)
        x = Downsample(name=f"stage{s}_layer{arch.blocks[s]}")(x)
        if arch.widths[s + 1] != arch.widths[s]:
            x = convolution(arch.widths[s + 1], 1, arch.widths[s], name=f"stage{s}_layer{arch.blocks[s]}_linear")(x)
    x = _blocks(x, last, 0, arch, last)
    if condition is None:
        logits = DiscriminativeBasis(1, name=f"stage{last}_layer{arch.blocks[last]}")(x)
        return keras.Model(images, logits, name="r3gan_discriminator")
    features = DiscriminativeBasis(arch.widths[last], name=f"stage{last}_layer{arch.blocks[last]}")(x)
    labels = _labels_input(condition)
    embedded = _embed(labels, condition, arch.widths[last], 1 / math.sqrt(arch.widths[last]))
    logits = layers.Dot(axes=1, name="projection")([features, embedded])
    return keras.Model([images, labels], logits, name="r3gan_discriminator")
