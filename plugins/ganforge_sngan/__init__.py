"""SNGAN's ResNet generator and discriminator (Miyato et al. 2018), as a plugin like any other.

The shapes are the paper's and mimicry's: at 32 px three residual blocks of ``width`` channels each
(256 in G, 128 in D); at 64 px four blocks whose channels halve from ``width`` (1024) in G and double
up to it in D. Every layer of the discriminator is spectrally normalised (``ganforge.layers.SpectralNorm``);
use the ``hinge`` loss, as the paper does. Both size themselves from the data: square images of 32 or
64 pixels, any number of channels.
"""

from typing import Annotated, Optional

from pydantic import Field

from ganforge import hookimpl

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for

Width = Annotated[
    Optional[int],
    Field(ge=1, description="channels of the widest block (default: the paper's, 256/1024 for G, 128/1024 for D)"),
]


def generator(spec, latent_dim: int, width: Width = None):
    """ResNet generator: Dense to 4x4, residual up-blocks (BN, ReLU, nearest upsampling), tanh."""
    from ganforge_sngan.models import build_generator

    return build_generator(spec, latent_dim, width)


def discriminator(spec, width: Width = None):
    """ResNet discriminator with spectral norm on every layer, global sum pooling, one logit."""
    from ganforge_sngan.models import build_discriminator

    return build_discriminator(spec, width)


@hookimpl
def register_generators(register):
    register("sngan_resnet", generator, help="SNGAN ResNet generator (Miyato et al. 2018), 32 or 64 px")


@hookimpl
def register_discriminators(register):
    register("sngan_resnet", discriminator, help="SNGAN ResNet discriminator, spectral norm throughout, 32 or 64 px")
