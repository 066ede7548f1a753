from importlib import resources

import numpy as np

from ganforge.data import ArrayDataset


def read_embedded() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (5000, 28, 28), labels uint8 (5000,))."""
    with resources.files("ganforge_mnist").joinpath("digits.npz").open("rb") as file:
        with np.load(file, allow_pickle=False) as archive:
            return archive["images"], archive["labels"]


def load_digits(classes: list[int] | None, pad: int) -> ArrayDataset:
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    images, labels = read_embedded()
    if classes is not None:
        unknown = sorted(set(classes) - set(range(10)))
        if unknown or not classes:
            raise ValueError(f"classes must be digits 0-9, got {classes}")
        images = images[np.isin(labels, classes)]
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
    return ArrayDataset(images)
