"""Pixels: dataset bytes to the models' [-1, 1] and back, sample grids, PNG files."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """Dataset images (uint8 0..255, or float already in [-1, 1]) as float32 in [-1, 1]."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 127.5 - 1.0
    return np.asarray(images, np.float32)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Model outputs in [-1, 1] to uint8 pixels (values outside are clipped)."""
    return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_grid(images: np.ndarray, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """(N, H, W, C) uint8 images tiled into one (rows*H, columns*W, C) image."""
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.zeros((rows * (height + padding) + padding, columns * (width + padding) + padding, channels), np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def save_png(image: np.ndarray, path: Path) -> None:
    """Write an (H, W, 1|3|4) uint8 image atomically: a reader never sees half a file."""
    from PIL import Image

    array = image[..., 0] if image.shape[-1] == 1 else image
    temporary = path.with_name(f".{path.name}.tmp")
    Image.fromarray(array).save(temporary, format="PNG")
    os.replace(temporary, path)
