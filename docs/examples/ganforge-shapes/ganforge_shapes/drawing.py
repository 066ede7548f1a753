"""Drawing the shapes: every image is a pure function of (seed, index), so any index reads the same pixels."""

from __future__ import annotations

import numpy as np

from ganforge.data import DataSpec

SUPERSAMPLE = 4  # sub-pixels per pixel side: edges are anti-aliased by averaging them


class Shapes:
    def __init__(self, size: int, resolution: int, kinds: tuple[str, ...], seed: int):
        self.size, self.resolution, self.kinds, self.seed = size, resolution, kinds, seed
        self.spec = DataSpec(resolution, resolution, 3)
        fine = (np.arange(resolution * SUPERSAMPLE) + 0.5) / (resolution * SUPERSAMPLE)
        self._y, self._x = np.meshgrid(fine, fine, indexing="ij")  # sub-pixel centres in [0, 1]

    def __len__(self) -> int:
        return self.size

    def read(self, indices: np.ndarray) -> np.ndarray:
        """uint8 RGB images, (len(indices), resolution, resolution, 3)."""
        return np.stack([self.draw(int(index)) for index in indices])

    def draw(self, index: int) -> np.ndarray:
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} outside 0..{self.size - 1}")
        rng = np.random.default_rng([self.seed, index])
        kind = self.kinds[rng.integers(len(self.kinds))]
        centre = rng.uniform(0.3, 0.7, 2)
        radius = rng.uniform(0.15, 0.3)
        turn = rng.uniform(0, 2 * np.pi)
        colour = rng.uniform(0.3, 1.0, 3) * 255
        background = rng.uniform(0, 40)
        # coordinates relative to the centre, turned by -turn: the shape is drawn upright
        dx, dy = self._x - centre[0], self._y - centre[1]
        u = np.cos(turn) * dx + np.sin(turn) * dy
        v = -np.sin(turn) * dx + np.cos(turn) * dy
        if kind == "circle":
            inside = u**2 + v**2 <= radius**2
        elif kind == "square":
            half = radius / np.sqrt(2)
            inside = (np.abs(u) <= half) & (np.abs(v) <= half)
        else:  # an equilateral triangle: inside all three edges' half-planes
            inside = np.ones_like(u, dtype=bool)
            for k in range(3):
                angle = 2 * np.pi * k / 3
                inside &= np.cos(angle) * u + np.sin(angle) * v <= radius / 2
        cover = inside.reshape(self.resolution, SUPERSAMPLE, self.resolution, SUPERSAMPLE).mean(axis=(1, 3))
        image = background + cover[..., None] * (colour - background)
        return np.round(image).astype(np.uint8)
