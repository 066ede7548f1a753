"""How the reference FID code feeds images to its Inception network, reproduced in NumPy.

``pytorch-fid`` reads images as uint8 pixels, divides by 255, resizes to 299x299 with
``F.interpolate(mode="bilinear", align_corners=False)`` and computes ``2 * x - 1``. The resize is
bilinear with half-pixel centres, no antialiasing, source positions below 0 clamped to 0 and the
last row and column repeated — PyTorch's rules, followed here in float32. Being separable, it is two
matrix products with fixed interpolation matrices (two non-zero weights a row).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ganforge.data.pixels import to_uint8


@lru_cache(maxsize=16)
def interpolation_matrix(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) float32: row i holds the weights of output pixel i over the input pixels."""
    matrix = np.zeros((size_out, size_in), np.float32)
    if size_in == size_out:  # PyTorch copies: no weights computed, no rounding
        np.fill_diagonal(matrix, 1.0)
        return matrix
    scale = np.float32(size_in) / np.float32(size_out)
    centres = np.arange(size_out, dtype=np.float32) + np.float32(0.5)
    # scale * centre - 0.5 rounded once, as the fused multiply-add in PyTorch's compiled kernel does;
    # rounding twice moves a source position by an ulp, and a pixel by up to 1e-6
    source = (scale.astype(np.float64) * centres - 0.5).astype(np.float32)
    source = np.maximum(source, np.float32(0.0))
    first = source.astype(np.int64)  # floor: source >= 0
    second = np.minimum(first + 1, size_in - 1)
    weight = np.clip(source - first.astype(np.float32), 0.0, 1.0).astype(np.float32)
    rows = np.arange(size_out)
    np.add.at(matrix, (rows, first), np.float32(1.0) - weight)
    np.add.at(matrix, (rows, second), weight)
    return matrix


def resize_bilinear(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W, C) float32 -> (N, size, size, C), as PyTorch's bilinear ``align_corners=False``."""
    _, height, width, _ = images.shape
    rows, columns = interpolation_matrix(height, size), interpolation_matrix(width, size)
    planes = np.ascontiguousarray(images.transpose(0, 3, 1, 2), np.float32)  # (N, C, H, W)
    resized = rows @ planes @ columns.T  # (N, C, size, size)
    return np.ascontiguousarray(resized.transpose(0, 2, 3, 1))


def reference_input(images: np.ndarray, size: int) -> np.ndarray:
    """Images in [-1, 1] (N, H, W, 3) -> the network's input: uint8 pixels, /255, resized, 2x - 1."""
    unit = to_uint8(np.asarray(images, np.float32)).astype(np.float32) / np.float32(255.0)
    return np.float32(2.0) * resize_bilinear(unit, size) - np.float32(1.0)
