"""The DCGAN generator and discriminator, as a plugin like any other.

Two presets: ``article`` is the tutorial's model exactly (see
docs/how-ganforge-trains.md), ``radford`` the DCGAN paper's. Both size
themselves from the dataset: square images of 8 to 256 pixels whose side is
a power of two, any number of channels.
"""

from ganforge import hookimpl
from ganforge_dcgan.params import DCGANDiscriminatorParams, DCGANParams

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for


@hookimpl
def register_generators(register):
    register(
        "dcgan",
        "ganforge_dcgan.models:build_generator",
        params=DCGANParams,
        help="DCGAN generator (presets: article, radford)",
    )


@hookimpl
def register_discriminators(register):
    register(
        "dcgan",
        "ganforge_dcgan.models:build_discriminator",
        params=DCGANDiscriminatorParams,
        help="DCGAN discriminator returning logits (presets: article, radford)",
    )
