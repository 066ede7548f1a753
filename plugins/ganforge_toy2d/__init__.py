"""Two-dimensional mixtures for measuring mode coverage on a CPU.

- ``ring``: 8 Gaussians at (cos 2πi/8, sin 2πi/8), std 0.01;
- ``grid``: 25 Gaussians at {-4, -2, 0, 2, 4}², std 0.05;
- ``mlp`` generator and discriminator for any flat (or flattened) data;
- ``mode_coverage``: modes captured, % high-quality samples and the reverse
  KL of the mode histogram against uniform, with a scatter plot each time.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ganforge import hookimpl

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for


class MixtureParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(100_000, ge=1, description="points drawn once from the mixture (one epoch)")
    seed: int = Field(0, ge=0, description="seed of those points (the same data for every run seed)")


class MLPParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hidden: int = Field(256, ge=1, description="units per hidden layer")
    layers: int = Field(3, ge=1, description="hidden layers")
    activation: Literal["relu", "leaky_relu", "tanh"] = Field("relu", description="hidden activation")
    categories: int = Field(
        0,
        ge=0,
        description="generator only: turn the first noise coordinate into a one-hot code of this many equally likely values (0: off)",
    )


class ModeCoverageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    samples: int = Field(2500, ge=1, description="generated points per evaluation")


@hookimpl
def register_datasets(register):
    register(
        "ring", "ganforge_toy2d.mixtures:ring", params=MixtureParams, help="8 Gaussians on the unit circle, std 0.01"
    )
    register(
        "grid",
        "ganforge_toy2d.mixtures:grid",
        params=MixtureParams,
        help="25 Gaussians on a 5x5 grid, spacing 2, std 0.05",
    )


@hookimpl
def register_generators(register):
    register(
        "mlp", "ganforge_toy2d.mlp:build_generator", params=MLPParams, help="fully connected generator, any data shape"
    )


@hookimpl
def register_discriminators(register):
    register(
        "mlp",
        "ganforge_toy2d.mlp:build_discriminator",
        params=MLPParams,
        help="fully connected discriminator, any data shape",
    )


@hookimpl
def register_metrics(register):
    register(
        "mode_coverage",
        "ganforge_toy2d.coverage:ModeCoverage",
        params=ModeCoverageParams,
        help="modes captured, % high-quality samples, reverse KL to uniform (datasets with modes)",
    )
