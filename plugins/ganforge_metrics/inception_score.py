"""Inception Score (Salimans et al. 2016) from class logits.

IS = exp(E_x KL(p(y|x) || p(y))), computed on each of ``splits`` equal parts
of the samples, reported as mean and std over parts, as the paper does.
"""

from __future__ import annotations

import numpy as np


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    logits = np.asarray(logits, np.float64)
    if len(logits) < splits:
        raise ValueError(f"needs at least {splits} samples for {splits} splits; got {len(logits)}")
    log_p = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    scores = []
    for part in np.array_split(log_p, splits):
        log_marginal = np.log(np.exp(part).mean(axis=0))
        kl = (np.exp(part) * (part - log_marginal)).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))
