"""The DCGAN generator and discriminator, as a plugin like any other.

Two presets: ``article`` is the tutorial's model exactly (see
docs/how-ganforge-trains.md), ``radford`` the DCGAN paper's. Both size
themselves from the dataset: square images of 8 to 256 pixels whose side is
a power of two, any number of channels.
"""

from typing import Annotated, Literal, Optional

from pydantic import Field

from ganforge import hookimpl

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for

Preset = Annotated[
    Literal["article", "radford"], Field(description="article: the tutorial's model; radford: the DCGAN paper's")
]
Filters = Annotated[
    Optional[list[int]],
    Field(description="filters per resolution block, overriding the preset's (one per halving/doubling)"),
]
SpectralNormOption = Annotated[
    bool,
    Field(
        description="spectral normalization (Miyato et al. 2018) on every convolution and the output layer, "
        "in place of batch norm"
    ),
]
Norm = Annotated[
    Optional[Literal["batch", "layer", "none"]],
    Field(
        description="normalization after D's convolutions: batch; layer (over each image's whole feature map, "
        "as Gulrajani et al. 2017 advise for a gradient-penalty critic, whose penalty batch norm would tie "
        "across the batch); none. Default: batch, or none with spectral_norm"
    ),
]


def generator(spec, latent_dim, preset: Preset = "article", filters: Filters = None, condition=None):
    from ganforge_dcgan.models import build_generator

    return build_generator(spec, latent_dim, preset, filters, condition)


def discriminator(
    spec,
    preset: Preset = "article",
    filters: Filters = None,
    spectral_norm: SpectralNormOption = False,
    norm: Norm = None,
    condition=None,
    classifier=None,
):
    from ganforge_dcgan.models import build_discriminator

    return build_discriminator(spec, preset, filters, spectral_norm, norm, condition, classifier)


@hookimpl
def register_generators(register):
    register("dcgan", generator, help="DCGAN generator (presets: article, radford)")


@hookimpl
def register_discriminators(register):
    register("dcgan", discriminator, help="DCGAN discriminator returning logits (presets: article, radford)")
