"""Mode coverage, as the VEEGAN and PacGAN papers measure it.

A sample is high-quality when it lies within 3 standard deviations of its
nearest mode; a mode is captured when it is the nearest mode of at least one
high-quality sample. The reverse KL compares the histogram of high-quality
samples over the modes with the uniform one: KL(p || uniform) =
log K - H(p), 0 for a perfect spread, log K when everything sits in one mode.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field


def nearest_modes(samples: np.ndarray, modes: np.ndarray, std: float) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's nearest mode, and whether it is high-quality (within 3 std of that mode)."""
    distances = np.linalg.norm(samples[:, None, :].astype(np.float64) - modes[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    return nearest, distances[np.arange(len(samples)), nearest] <= 3.0 * std


def coverage(samples: np.ndarray, modes: np.ndarray, std: float) -> dict[str, float]:
    nearest, high_quality = nearest_modes(samples, modes, std)
    counts = np.bincount(nearest[high_quality], minlength=len(modes))
    if counts.sum() == 0:
        reverse_kl = float(np.log(len(modes)))  # nothing landed anywhere: as far from uniform as it gets
    else:
        p = counts / counts.sum()
        present = p > 0
        reverse_kl = float(np.sum(p[present] * np.log(p[present] * len(modes))))
    return {
        "modes": int((counts > 0).sum()),
        "high_quality_percent": 100.0 * float(high_quality.mean()),
        "reverse_kl": reverse_kl,
    }


class ModeCoverage:
    def __init__(self, samples: Annotated[int, Field(ge=1, description="generated points per evaluation")] = 2500):
        self.samples = samples

    def check(self, spec, dataset) -> None:
        """Called before training: the dataset must know its modes."""
        if not hasattr(dataset, "modes") or not hasattr(dataset, "std"):
            raise ValueError("mode_coverage needs a dataset with known modes (ring, grid)")

    def evaluate(self, context) -> dict[str, float]:
        samples = context.generate(self.samples)
        dataset = context.dataset
        context.save_image("mode_coverage", dataset.render(samples))
        return coverage(samples, dataset.modes, dataset.std)

    def describe(self) -> dict:
        return {"samples": self.samples}
