"""The Fréchet distance between two Gaussians fitted to feature sets (FID).

    d² = |μ₁ - μ₂|² + tr(Σ₁) + tr(Σ₂) - 2 tr((Σ₁ Σ₂)^½)

The last trace is computed as tr((√Σ₁ Σ₂ √Σ₁)^½): that matrix is symmetric
and positive semi-definite, so its eigenvalues are real and (after clipping
round-off below zero) non-negative. This never goes complex, and it stays
finite for rank-deficient covariances (fewer samples than dimensions), where
``scipy.linalg.sqrtm`` of the non-symmetric product needs the usual
"add eps to the diagonal" patch.
"""

from __future__ import annotations

import numpy as np


def gaussian_fit(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least 2 feature vectors, shape (N, D); got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"feature sizes differ: {mu1.shape} vs {mu2.shape}")
    root1 = _psd_sqrt(sigma1)
    middle = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    cross = np.sqrt(np.clip(middle, 0, None)).sum()
    distance = float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * cross)
    return max(distance, 0.0)  # round-off can leave -1e-12 for identical inputs


def fid(real_features: np.ndarray, fake_features: np.ndarray) -> float:
    return frechet_distance(*gaussian_fit(real_features), *gaussian_fit(fake_features))
