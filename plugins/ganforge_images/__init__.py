"""``images``: any folder (or zip) of your own images as a dataset.

jpg, png, webp, bmp, gif and tiff files, in nested folders, of any size and
mode (grayscale, RGBA, CMYK, palette: all converted), cropped and resized
once into a cache (see ganforge.data.cache) and trained from there.
"""

from ganforge import hookimpl
from ganforge_images.folder import images_dataset

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for


@hookimpl
def register_datasets(register):
    register(
        "images", images_dataset, help="a folder or zip of your own images (jpg, png, webp, ...), any size or mode"
    )
