from importlib import resources

import numpy as np

from ganforge.data import ArrayDataset
from ganforge.data.labels import LabelSpec


def read_embedded() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (5000, 28, 28), labels uint8 (5000,))."""
    with resources.files("ganforge_mnist").joinpath("digits.npz").open("rb") as file:
        with np.load(file, allow_pickle=False) as archive:
            return archive["images"], archive["labels"]


def load_digits(classes: list[int] | None, pad: int) -> ArrayDataset:
    """The digits, labelled with their classes: "0" to "9", or the kept ones in ascending order."""
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    images, labels = read_embedded()
    kept = list(range(10))
    if classes is not None:
        unknown = sorted(set(classes) - set(range(10)))
        if unknown or not classes:
            raise ValueError(f"classes must be digits 0-9, got {classes}")
        kept = sorted(set(classes))
        chosen = np.isin(labels, kept)
        images, labels = images[chosen], labels[chosen]
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
    if len(kept) < 2:
        return ArrayDataset(images)  # one digit alone is no class to condition on
    numbers = np.searchsorted(kept, labels)  # class number = position among the kept digits
    return ArrayDataset(images, numbers, LabelSpec("classes", tuple(str(digit) for digit in kept)))
