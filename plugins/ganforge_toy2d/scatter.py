"""Scatter plots of samples over the true modes, drawn with Pillow."""

import numpy as np

SIZE = 480
MARGIN = 0.15  # of the modes' extent, on each side


def scatter(samples: np.ndarray, modes: np.ndarray, std: float) -> np.ndarray:
    """An RGB image: each mode's 3-std circle in green, samples as dark dots."""
    from PIL import Image, ImageDraw

    low, high = modes.min(axis=0), modes.max(axis=0)
    extent = float(max(high - low)) or 1.0
    centre = (low + high) / 2
    half = extent * (0.5 + MARGIN)
    scale = SIZE / (2 * half)

    def to_pixels(points):
        x = (points[:, 0] - centre[0] + half) * scale
        y = (centre[1] + half - points[:, 1]) * scale  # y grows upwards
        return np.stack([x, y], axis=1)

    image = Image.new("RGB", (SIZE, SIZE), "white")
    draw = ImageDraw.Draw(image)
    radius = max(3 * std * scale, 2.0)
    for x, y in to_pixels(modes):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=(40, 160, 60), width=2)
    for x, y in to_pixels(np.asarray(samples, dtype=np.float64)):
        if 0 <= x < SIZE and 0 <= y < SIZE:
            draw.point((x, y), fill=(30, 30, 120))
    return np.asarray(image)
