"""``images``: any folder (or zip) of your own images as a dataset.

jpg, png, webp, bmp, gif and tiff files, in nested folders, of any size and
mode (grayscale, RGBA, CMYK, palette: all converted), cropped and resized
once into a cache (see ganforge.data.cache) and trained from there.
"""

from typing import Literal

from pydantic import Field

from ganforge import hookimpl
from ganforge.data.params import CachedImageParams

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for


class ImagesParams(CachedImageParams):
    root: str = Field(description="folder of images (searched recursively) or a .zip of them")
    crop: Literal["none", "center", "center178", "center160", "center140"] = Field(
        "center",
        description="none: squash the frame to a square; center: the largest centred square; centerN: a centred NxN box",
    )
    channels: Literal[1, 3] = Field(3, description="3: RGB, 1: grayscale")
    labels: Literal["auto", "folders", "none"] = Field(
        "auto",
        description="folders: each first-level subfolder is a class (root/cat/1.jpg is a cat); "
        "auto: so when every image sits in one of two or more subfolders, else no labels; none: no labels",
    )


@hookimpl
def register_datasets(register):
    register(
        "images",
        "ganforge_images.folder:images_dataset",
        params=ImagesParams,
        help="a folder or zip of your own images (jpg, png, webp, ...), any size or mode",
    )
