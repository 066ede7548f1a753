"""A folder of image files read whole into memory: what ``ganforge eval`` compares against."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganforge.data import ArrayDataset
from ganforge.data.imagefiles import IMAGE_SUFFIXES, Preprocess, decode
from ganforge.errors import DataError


def read_folder(folder: Path, resolution: int | None = None, channels: int | None = None) -> ArrayDataset:
    """Every image under ``folder``, squashed to ``resolution`` squares (default: the first image's size)."""
    from PIL import Image

    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder of images")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    if resolution is None or channels is None:
        with Image.open(files[0]) as first:
            resolution = resolution or min(first.size)
            channels = channels or (1 if first.mode in ("L", "I", "I;16", "1") else 3)
    preprocess = Preprocess(crop="none", resolution=resolution, channels=channels)
    images = []
    for path in files:
        try:
            images.append(decode(path.read_bytes(), preprocess))
        except ValueError as error:
            raise DataError(f"{path}: {error}") from None
    return ArrayDataset(np.stack(images))
