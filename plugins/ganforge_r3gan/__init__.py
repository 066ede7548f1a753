"""R3GAN's generator and discriminator (Huang, Gokaslan, Kuleshov, Tompkin, NeurIPS 2024), as a plugin.

A modern ResNet without normalisation: residual blocks of 1x1, grouped 3x3 and 1x1 convolutions, the
fix-up initialisation, [1, 3, 3, 1] resampling. Proven equal to the official PyTorch networks
(tests/test_r3gan_equivalence.py). Train it with the ``rpgan`` loss and R1 + R2 (recipes/r3gan_*.toml);
docs/models.md says when to pick it.
"""

from typing import Annotated, Literal, Optional

from pydantic import Field

from ganforge import hookimpl

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for

Preset = Annotated[
    Literal["cifar10", "ffhq64", "small"],
    Field(
        description="cifar10: the paper's 32-px networks (768 channels, 96 groups, 2 blocks per stage); "
        "ffhq64: its 64-px ones (last stage 384 channels); small: any square power-of-two side, 64 channels, "
        "8 groups, 1 block per stage, for a CPU"
    ),
]
Width = Annotated[Optional[int], Field(ge=1, description="channels of the widest stage (default: the preset's)")]
Groups = Annotated[
    Optional[int],
    Field(ge=1, description="groups of the 3x3 convolutions at the widest stage; must divide width x expansion"),
]
Blocks = Annotated[Optional[int], Field(ge=1, description="residual blocks per stage (default: the preset's)")]
Expansion = Annotated[int, Field(ge=1, description="how much wider a residual block is inside")]
OfficialWeights = Annotated[
    Optional[str],
    Field(
        description="a state dict in the official code's layout (.pth, read without unpickling code) "
        "to start from, e.g. an official checkpoint's G_ema"
    ),
]


def generator(
    spec,
    latent_dim: int,
    preset: Preset = "small",
    width: Width = None,
    groups: Groups = None,
    blocks: Blocks = None,
    expansion: Expansion = 2,
    official_weights: OfficialWeights = None,
    condition=None,
):
    """R3GAN generator: a 4x4 basis scaled by a linear map of z, residual stages, a 1x1 convolution."""
    from ganforge_r3gan import networks

    arch = networks.architecture(spec, preset, width, groups, blocks, expansion)
    model = networks.build_generator(spec, latent_dim, arch, condition)
    return _start_from(model, official_weights)


def discriminator(
    spec,
    preset: Preset = "small",
    width: Width = None,
    groups: Groups = None,
    blocks: Blocks = None,
    expansion: Expansion = 2,
    official_weights: OfficialWeights = None,
    condition=None,
):
    """R3GAN discriminator: a 1x1 convolution, residual stages, a depthwise 4x4 basis and a linear map."""
    from ganforge_r3gan import networks

    arch = networks.architecture(spec, preset, width, groups, blocks, expansion).reversed()
    model = networks.build_discriminator(spec, arch, condition)
    return _start_from(model, official_weights)


def _start_from(model, official_weights):
    """The model, with the official file's weights when one is named."""
    from ganforge.errors import ParameterError
    from ganforge_r3gan import official

    if official_weights:
        try:
            official.load(model, official.read(official_weights), official_weights)
        except ValueError as error:
            raise ParameterError("official_weights", str(error)) from None
    return model


@hookimpl
def register_generators(register):
    register("r3gan", generator, help="R3GAN generator (Huang et al. 2024), presets cifar10, ffhq64, small")


@hookimpl
def register_discriminators(register):
    register("r3gan", discriminator, help="R3GAN discriminator (Huang et al. 2024), presets cifar10, ffhq64, small")
