"""The ring and grid mixtures, exactly as the benchmarks define them."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from ganforge.data import DataSpec

RING_MODES = 8
RING_STD = 0.01
GRID_STD = 0.05


class Mixture:
    """An equal-weight mixture of isotropic Gaussians, drawn once into memory."""

    def __init__(self, name: str, modes: np.ndarray, std: float, size: int, seed: int):
        self.name = name
        self.modes = modes.astype(np.float32)
        self.std = std
        rng = np.random.default_rng(seed)
        which = rng.integers(0, len(modes), size)
        self.points = (self.modes[which] + rng.normal(0.0, std, (size, 2))).astype(np.float32)
        self.spec = DataSpec(2)

    def __len__(self) -> int:
        return len(self.points)

    def read(self, indices: np.ndarray) -> np.ndarray:
        return self.points[indices]

    def render(self, samples: np.ndarray) -> np.ndarray:
        from ganforge_toy2d.scatter import scatter

        return scatter(samples, self.modes, self.std)


def ring_modes() -> np.ndarray:
    # endpoint=False: including 2π would put the ninth mode on top of the first
    angles = np.linspace(0.0, 2.0 * np.pi, RING_MODES, endpoint=False)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_modes() -> np.ndarray:
    axis = np.arange(-4.0, 5.0, 2.0)
    return np.array([(x, y) for x in axis for y in axis])


Size = Annotated[int, Field(ge=1, description="points drawn once from the mixture (one epoch)")]
Seed = Annotated[int, Field(ge=0, description="seed of those points (the same data for every run seed)")]


def ring(size: Size = 100_000, seed: Seed = 0) -> Mixture:
    return Mixture("ring", ring_modes(), RING_STD, size, seed)


def grid(size: Size = 100_000, seed: Seed = 0) -> Mixture:
    return Mixture("grid", grid_modes(), GRID_STD, size, seed)
