"""Stacked MNIST: three digits as the red, green and blue channels, 1,000 modes.

Used by VEEGAN, PacGAN and others to count mode collapse: a generator that
covers the data makes all 10³ digit triples in equal measure. Here the
digits are the 5,000 embedded ones; triple ``i`` takes three of them chosen
by a fixed random table (``seed``), so the dataset is the same everywhere.

``stacked_modes`` labels each channel of a generated image with the
``digits`` classifier: modes are the distinct triples seen, and the reverse
KL compares their histogram with the uniform one over all 1,000.
"""

from __future__ import annotations

import numpy as np

from ganforge.data import DataSpec
from ganforge.data.labels import LabelSpec
from ganforge.evaluation.features import NetworkSlot, extract

MODES = 1000


class StackedDigits:
    def __init__(self, size: int, seed: int, pad: int = 2):
        from ganforge_mnist.embedded import read_embedded

        if size < 1:
            raise ValueError(f"size must be >= 1; got {size}")
        digits, labels = read_embedded()
        self.digits = np.pad(digits, ((0, 0), (pad, pad), (pad, pad)))
        self.table = np.random.default_rng(seed).integers(0, len(digits), (size, 3))
        self.modes = (labels[self.table].astype(np.int64) * [100, 10, 1]).sum(axis=1)  # the true triple of each image
        self.spec = DataSpec(*self.digits.shape[1:], 3)
        self.label_spec = LabelSpec("classes", tuple(f"{mode:03d}" for mode in range(MODES)))

    def __len__(self) -> int:
        return len(self.table)

    def read(self, indices: np.ndarray) -> np.ndarray:
        return np.stack([self.digits[self.table[indices, channel]] for channel in range(3)], axis=-1)

    def labels(self, indices: np.ndarray) -> np.ndarray:
        """The digit triple of each image as one class number: 100 x red + 10 x green + blue."""
        return self.modes[indices].astype(np.int32)


def mode_histogram(labels: np.ndarray) -> dict[str, float]:
    """Modes seen and KL(histogram || uniform over 1,000) for (N, 3) digit labels."""
    modes = labels.astype(np.int64) @ np.array([100, 10, 1])
    counts = np.bincount(modes, minlength=MODES)
    p = counts[counts > 0] / len(modes)
    return {"modes": int((counts > 0).sum()), "reverse_kl": float(np.sum(p * np.log(p * MODES)))}


class StackedModes:
    def __init__(self, samples: int, features):
        if samples < 1:
            raise ValueError(f"samples must be >= 1; got {samples}")
        self.samples = samples
        self._network = NetworkSlot(features)

    @property
    def network(self):
        return self._network.get()

    def check(self, spec, dataset) -> None:
        if not spec.is_image or spec.channels != 3:
            raise ValueError(f"needs 3-channel images, one digit per channel; the data are {spec}")
        if (
            self.network.input_shape[-1] != 1
            or extract(self.network, np.zeros((1, *spec.shape[:2], 1), np.float32), "bilinear").logits is None
        ):
            raise ValueError('the feature network must classify single-channel digits (features = "digits")')

    def labels(self, images: np.ndarray) -> np.ndarray:
        """(N, 3) digit labels of (N, H, W, 3) images in [-1, 1]."""
        channels = [images[..., c : c + 1] for c in range(3)]
        return np.stack(
            [extract(self.network, channel, "bilinear").logits.argmax(axis=1) for channel in channels], axis=1
        )

    def evaluate(self, context) -> dict[str, float]:
        return mode_histogram(self.labels(context.generate(self.samples)))

    def describe(self) -> dict:
        return {"features": self.network.describe(), "resize": "bilinear", "samples": self.samples}
