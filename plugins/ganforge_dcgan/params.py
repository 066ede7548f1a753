"""Recipe parameters of the DCGAN components (kept apart from the models so
that registering them imports no TensorFlow)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DCGANParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preset: Literal["article", "radford"] = Field(
        "article", description="article: the tutorial's model; radford: the DCGAN paper's"
    )
    filters: list[int] | None = Field(
        None,
        description="filters per resolution block, overriding the preset's (one per halving/doubling)",
    )


class DCGANDiscriminatorParams(DCGANParams):
    spectral_norm: bool = Field(
        False,
        description="spectral normalization (Miyato et al. 2018) on every convolution and the output layer, "
        "in place of batch norm",
    )
    norm: Literal["batch", "layer", "none"] | None = Field(
        None,
        description="normalization after D's convolutions: batch; layer (over each image's whole feature map, "
        "as Gulrajani et al. 2017 advise for a gradient-penalty critic, whose penalty batch norm would tie "
        "across the batch); none. Default: batch, or none with spectral_norm",
    )
