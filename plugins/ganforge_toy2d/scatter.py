"""Scatter plots of samples over the true modes, drawn with NumPy and Pillow.

Each sample is a translucent disc a few pixels wide, so that where thousands
pile up inside a mode the colour deepens and a stray sample between modes
still shows. Samples within 3 standard deviations of a mode (the "high
quality" ones the coverage metric counts) are blue, the others red, and the
share of each is written in the corner: a reader tells a run that keeps 96%
of its samples on the modes from one that keeps 60% at a glance.
"""

import numpy as np

SIZE = 480
MARGIN = 0.15  # of the modes' extent, on each side
DOT_RADIUS = 2.5  # pixels
DOT_OPACITY = 0.35  # of one dot; n dots on a pixel cover 1 - 0.65**n of it
ON_MODE = np.array([30, 60, 200])
OFF_MODE = np.array([220, 40, 40])
MODE_CIRCLE = (40, 160, 60)


def _disc_offsets(radius: float) -> list[tuple[int, int]]:
    reach = int(radius)
    return [
        (dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1) if dx * dx + dy * dy <= radius**2
    ]


def _coverage(pixels: np.ndarray) -> np.ndarray:
    """How much of each pixel the dots at these (x, y) pixel positions cover, 0 to 1."""
    counts = np.zeros((SIZE, SIZE))
    inside = np.all((pixels >= 0) & (pixels < SIZE), axis=1)
    x, y = pixels[inside].astype(int).T
    np.add.at(counts, (y, x), 1.0)
    pad = int(DOT_RADIUS) + 1
    padded = np.pad(counts, pad)
    stamped = sum(
        padded[pad + dy : pad + dy + SIZE, pad + dx : pad + dx + SIZE] for dy, dx in _disc_offsets(DOT_RADIUS)
    )
    return 1.0 - (1.0 - DOT_OPACITY) ** stamped


def scatter(samples: np.ndarray, modes: np.ndarray, std: float) -> np.ndarray:
    """An RGB image: each mode's 3-std circle in green, samples as translucent dots, blue on a mode, red off."""
    from PIL import Image, ImageDraw

    from ganforge_toy2d.coverage import nearest_modes

    low, high = modes.min(axis=0), modes.max(axis=0)
    extent = float(max(high - low)) or 1.0
    centre = (low + high) / 2
    half = extent * (0.5 + MARGIN)
    scale = SIZE / (2 * half)

    def to_pixels(points):
        x = (points[:, 0] - centre[0] + half) * scale
        y = (centre[1] + half - points[:, 1]) * scale  # y grows upwards
        return np.stack([x, y], axis=1)

    samples = np.asarray(samples, dtype=np.float64)
    _, on_mode = nearest_modes(samples, modes, std)  # what the coverage metric counts as high-quality
    canvas = np.full((SIZE, SIZE, 3), 255.0)
    for chosen, colour in ((~on_mode, OFF_MODE), (on_mode, ON_MODE)):
        cover = _coverage(to_pixels(samples[chosen]))[..., None]
        canvas = canvas * (1.0 - cover) + colour * cover
    image = Image.fromarray(canvas.round().astype(np.uint8))
    draw = ImageDraw.Draw(image)
    radius = max(3 * std * scale, 2.0)
    for x, y in to_pixels(modes):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=MODE_CIRCLE, width=2)
    share = 100.0 * on_mode.mean() if len(samples) else 0.0
    draw.text((8, 6), f"{len(samples):,} samples: {share:.0f}% within 3 std of a mode (blue)", fill=(0, 0, 0))
    draw.text((8, 20), f"{100 - share:.0f}% off the modes (red)", fill=(0, 0, 0))
    return np.asarray(image)
