"""ganforge-shapes: circles, squares and triangles drawn from a seed, and a generator to learn them.

- dataset ``shapes``: one anti-aliased shape per image, its kind, colour,
  place, size and turn drawn from (seed, index); nothing to download.
- generator ``upsampler``: noise -> 4x4 features -> (upsample, convolve) to
  the dataset's resolution -> tanh.

This module only registers; Keras is imported when a model is built.
"""

from typing import Annotated, Literal

from pydantic import Field

from ganforge import hookimpl
from ganforge_shapes.drawing import Shapes
from ganforge_shapes.upsampler import build_upsampler

GANFORGE_CONTRACT = 1  # the plugin contract this package was written for

Kind = Literal["circle", "square", "triangle"]
ALL_KINDS = ["circle", "square", "triangle"]  # a recipe's value is a list; this default is never changed


def shapes(
    size: Annotated[int, Field(ge=1, description="images in the dataset")] = 10_000,
    resolution: Annotated[int, Field(ge=8, le=256, description="height and width in pixels")] = 32,
    kinds: Annotated[list[Kind], Field(min_length=1, description="which shapes to draw")] = ALL_KINDS,
    seed: Annotated[int, Field(ge=0, description="the same seed draws the same images")] = 0,
) -> Shapes:
    return Shapes(size, resolution, tuple(kinds), seed)


@hookimpl
def register_datasets(register):
    register("shapes", shapes, help="circles, squares and triangles in colour, drawn from a seed")


@hookimpl
def register_generators(register):
    register("upsampler", build_upsampler, help="noise -> 4x4 -> upsample and convolve to the image size")
