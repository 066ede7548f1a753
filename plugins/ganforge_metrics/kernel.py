"""Kernel Inception Distance (Bińkowski et al. 2018): an unbiased MMD².

Kernel k(x, y) = (xᵀy / d + 1)³. On each of ``subsets`` random subsets of
``subset_size`` vectors from each side, the unbiased estimator leaves out the
diagonal terms k(x, x):

    MMD² = Σ_{i≠j} k(xᵢ,xⱼ)/(m(m-1)) + Σ_{i≠j} k(yᵢ,yⱼ)/(m(m-1)) - 2 Σ_{i,j} k(xᵢ,yⱼ)/m²

Its expectation is exactly 0 when both sides come from one distribution, so
small samples read near 0, and can read below it.
"""

from __future__ import annotations

import numpy as np


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    m, n = len(x), len(y)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(within_x + within_y - 2 * kxy.mean())


def kid(
    real: np.ndarray, fake: np.ndarray, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD² over random subsets."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError(f"KID needs at least 2 vectors on each side; got {len(real)} real and {len(fake)} generated")
    rng = np.random.default_rng(seed)
    values = [
        mmd2_unbiased(
            real[rng.choice(len(real), size, replace=False)], fake[rng.choice(len(fake), size, replace=False)]
        )
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))
