"""Two-dimensional mixtures for measuring mode coverage on a CPU.

- ``ring``: 8 Gaussians at (cos 2πi/8, sin 2πi/8), std 0.01;
- ``grid``: 25 Gaussians at {-4, -2, 0, 2, 4}², std 0.05;
- ``mlp`` generator and discriminator for any flat (or flattened) data;
- ``mode_coverage``: modes captured, % high-quality samples and the reverse
  KL of the mode histogram against uniform, with a scatter plot each time.
"""

from typing import Annotated, Literal

from pydantic import Field

from ganforge import hookimpl
from ganforge_toy2d.coverage import ModeCoverage
from ganforge_toy2d.mixtures import grid, ring

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for

Hidden = Annotated[int, Field(ge=1, description="units per hidden layer")]
Layers = Annotated[int, Field(ge=1, description="hidden layers")]
Activation = Annotated[Literal["relu", "leaky_relu", "tanh"], Field(description="hidden activation")]
Categories = Annotated[
    int,
    Field(
        ge=0,
        description="generator only: turn the first noise coordinate into a one-hot code of this many equally "
        "likely values (0: off)",
    ),
]


def mlp_generator(
    spec,
    latent_dim,
    hidden: Hidden = 256,
    layers: Layers = 3,
    activation: Activation = "relu",
    categories: Categories = 0,
):
    from ganforge_toy2d.mlp import build_generator

    return build_generator(spec, latent_dim, hidden, layers, activation, categories)


def mlp_discriminator(
    spec, hidden: Hidden = 256, layers: Layers = 3, activation: Activation = "relu", categories: Categories = 0
):
    from ganforge_toy2d.mlp import build_discriminator

    return build_discriminator(spec, hidden, layers, activation, categories)


@hookimpl
def register_datasets(register):
    register("ring", ring, help="8 Gaussians on the unit circle, std 0.01")
    register("grid", grid, help="25 Gaussians on a 5x5 grid, spacing 2, std 0.05")


@hookimpl
def register_generators(register):
    register("mlp", mlp_generator, help="fully connected generator, any data shape")


@hookimpl
def register_discriminators(register):
    register("mlp", mlp_discriminator, help="fully connected discriminator, any data shape")


@hookimpl
def register_metrics(register):
    register(
        "mode_coverage",
        ModeCoverage,
        help="modes captured, % high-quality samples, reverse KL to uniform (datasets with modes)",
    )
