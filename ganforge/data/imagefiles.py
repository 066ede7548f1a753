"""Reading one image file into the pixels a dataset trains on.

Kept apart from the cache so that the worker processes that decode in
parallel import only Pillow and NumPy.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import numpy as np

CROPS = ("none", "center", "center178", "center160", "center140")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


@dataclass(frozen=True)
class Preprocess:
    """How every image is turned into a ``resolution`` square of ``channels``.

    crop: ``none`` squashes the whole frame to a square (the article);
    ``center`` takes the largest centred square; ``centerN`` takes the
    centred N x N box (clipped to the image), e.g. ``center178`` for CelebA's
    178-pixel width. Resizing is Pillow's antialiased bicubic filter.
    """

    crop: str = "none"
    resolution: int = 64
    channels: int = 3
    resize_filter: str = "bicubic"

    def __post_init__(self):
        if self.crop not in CROPS:
            raise ValueError(f"crop must be one of {', '.join(CROPS)}; got {self.crop!r}")
        if not 4 <= self.resolution <= 1024:
            raise ValueError(f"resolution must be between 4 and 1024 pixels; got {self.resolution}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB); got {self.channels}")

    def as_dict(self) -> dict:
        return asdict(self)


def crop_box(width: int, height: int, crop: str) -> tuple[int, int, int, int]:
    if crop == "none":
        return (0, 0, width, height)
    side = min(width, height) if crop == "center" else min(int(crop[len("center") :]), width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return (left, top, left + side, top + side)


def decode(data: bytes, preprocess: Preprocess) -> np.ndarray:
    """Encoded image bytes to a (resolution, resolution, channels) uint8 array.

    Palette, grayscale, 16-bit, CMYK and alpha images are all converted;
    transparent pixels become white. Raises ValueError for anything Pillow
    cannot read completely (a truncated JPEG included).
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decode now: a truncated file fails here, not later
            image = _to_rgb_or_gray(image, preprocess.channels)
    except Exception as error:
        # Pillow's decoders meet untrusted bytes: besides OSError they raise TypeError, struct.error,
        # IndexError, ... on damaged files (fuzzing found a TIFF that raises TypeError). Any of them
        # means this one file cannot be read, which the dataset's on_error setting handles.
        raise ValueError(f"not a readable image ({type(error).__name__}: {error})") from None
    image = image.crop(crop_box(image.width, image.height, preprocess.crop))
    image = image.resize((preprocess.resolution, preprocess.resolution), Image.Resampling.BICUBIC)
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def _to_rgb_or_gray(image, channels: int):
    from PIL import Image

    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # 16-bit and float grayscale: rescale to 8 bits rather than clip
        values = np.asarray(image, dtype=np.float64)
        span = values.max() - values.min() or 1.0
        image = Image.fromarray(((values - values.min()) * (255.0 / span)).astype(np.uint8))
    return image.convert("L" if channels == 1 else "RGB")
