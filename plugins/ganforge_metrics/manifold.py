"""Nearest-neighbour measures of fidelity and diversity.

Improved precision and recall (Kynkäänniemi et al. 2019, k = 3): each set's
manifold is the union of balls around its points, each ball reaching the
point's k-th nearest neighbour in its own set. Precision is the share of
generated points inside the real manifold; recall, the share of real points
inside the generated one.

Density and coverage (Naeem et al. 2020, k = 5) use only the real manifold:
density counts, per generated point, how many real balls contain it (divided
by k, so about 1 when the two match); coverage is the share of real balls
that contain at least one generated point.
"""

from __future__ import annotations

import numpy as np

CHUNK = 1024


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0)


def kth_neighbour_radii(points: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each point to its k-th nearest other point in the same set."""
    if len(points) <= k:
        raise ValueError(f"needs more than k = {k} points in each set; got {len(points)}")
    radii = np.empty(len(points))
    for start in range(0, len(points), CHUNK):
        d = _squared_distances(points[start : start + CHUNK], points)
        radii[start : start + CHUNK] = np.partition(d, k, axis=1)[:, k]  # index 0 is the point itself
    return radii


def _balls_containing(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Boolean (len(queries), len(centres)): query i lies in the ball around centre j."""
    return np.concatenate(
        [_squared_distances(queries[s : s + CHUNK], centres) <= radii[None, :] for s in range(0, len(queries), CHUNK)]
    )


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    precision = _balls_containing(fake, real, kth_neighbour_radii(real, k)).any(axis=1).mean()
    recall = _balls_containing(real, fake, kth_neighbour_radii(fake, k)).any(axis=1).mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    radii = kth_neighbour_radii(real, k)
    inside = _balls_containing(fake, real, radii)
    density = inside.sum() / (k * len(fake))
    # a real ball is covered when its nearest generated point lies inside it
    coverage = inside.any(axis=0).mean()
    return {"density": float(density), "coverage": float(coverage)}
