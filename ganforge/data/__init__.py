"""The dataset contract and the batching every dataset shares.

A dataset plugin only says how to read examples by index. ganforge owns the
order they are drawn in: batch ``b`` of a run is a pure function of the
recipe's seed and ``b``, so a resumed run sees exactly the batches the
uninterrupted run would have seen, whatever dataset it trains on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ganforge import streams
from ganforge.data.labels import LabelSpec, require_pair

if TYPE_CHECKING:
    from ganforge.plugin.contract import Dataset


class DataSpec:
    """The shape of one example, which generators and discriminators are sized from.

    ``DataSpec(64, 64, 3)`` describes images (height, width, channels);
    ``DataSpec(2)`` points in the plane. ``height``, ``width`` and
    ``channels`` exist only for images: a component that needs them raises
    a clear ValueError for anything else.
    """

    def __init__(self, *shape: int):
        if not shape or any(not isinstance(d, (int, np.integer)) or d <= 0 for d in shape):
            raise ValueError(f"a data shape is one or more positive sizes, got {shape}")
        self.shape = tuple(int(d) for d in shape)

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    def _image_dim(self, index: int) -> int:
        if not self.is_image:
            raise ValueError(
                f"needs images (height x width x channels), but the dataset gives examples of shape {self.shape}"
            )
        return self.shape[index]

    @property
    def height(self) -> int:
        return self._image_dim(0)

    @property
    def width(self) -> int:
        return self._image_dim(1)

    @property
    def channels(self) -> int:
        return self._image_dim(2)

    def __eq__(self, other) -> bool:
        return isinstance(other, DataSpec) and other.shape == self.shape

    def __hash__(self) -> int:
        return hash(self.shape)

    def __repr__(self) -> str:
        return f"DataSpec{self.shape}"

    def __str__(self) -> str:
        return "x".join(str(d) for d in self.shape)


class ArrayDataset:
    """A dataset held in one array in memory (or memory-mapped), with labels if given.

    (N, H, W) grayscale images get a channel axis; (N, D) arrays are points.
    ``labels`` go with ``label_spec`` (see ganforge.data.labels): class
    numbers (N,) or 0/1 attribute flags (N, A).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray | None = None, label_spec: LabelSpec | None = None):
        if images.ndim == 3 and images.dtype == np.uint8:
            images = images[..., None]
        if images.ndim < 2:
            raise ValueError(f"expected examples shaped (N, ...), got {images.shape}")
        require_pair(labels, label_spec)
        self.images = images
        self.spec = DataSpec(*images.shape[1:])
        self._labels = None if label_spec is None else label_spec.check(labels, len(images))
        if label_spec is not None:  # only labelled data has the member: its absence says "unlabelled"
            self.label_spec = label_spec

    def __len__(self) -> int:
        return len(self.images)

    def read(self, indices: np.ndarray) -> np.ndarray:
        return self.images[indices]

    def labels(self, indices: np.ndarray) -> np.ndarray:
        if self._labels is None:
            raise TypeError("this dataset has no labels")
        return self._labels[indices]


class BatchSampler:
    """Shuffled batches without replacement, one fresh permutation per epoch.

    The permutation of epoch ``e`` comes from ``(seed, e)`` alone, and the
    incomplete last batch of an epoch is dropped so every batch has the same
    static shape.
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, limit: int | None = None):
        size = len(dataset)
        # ``limit``: train on a fixed subset (the same rows whatever the seed); epochs run over it alone
        self.rows = None if limit is None else streams.subset(size, min(limit, size))
        size = size if self.rows is None else len(self.rows)
        if size < batch_size:
            raise ValueError(f"the dataset has {size} examples, fewer than one batch of {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.batches_per_epoch = size // batch_size
        self._epoch = -1
        self._order: np.ndarray | None = None

    def indices(self, batch_number: int) -> np.ndarray:
        epoch, position = divmod(batch_number, self.batches_per_epoch)
        if epoch != self._epoch:
            size = len(self.dataset) if self.rows is None else len(self.rows)
            order = streams.data_order(self.seed, epoch).permutation(size)
            self._order = order if self.rows is None else self.rows[order]
            self._epoch = epoch
        start = position * self.batch_size
        # Sorted indices read memory-mapped files front to back; the order
        # inside a batch does not matter to the model.
        return np.sort(self._order[start : start + self.batch_size])

    def batch(self, batch_number: int, rows: slice = slice(None)) -> np.ndarray:
        """The examples of batch ``batch_number`` as the dataset stores them (uint8 stays uint8).

        ``rows``: only these rows of the batch (a worker of a distributed run reads only its own).
        """
        return self.dataset.read(self.indices(batch_number)[rows])

    def labels(self, batch_number: int, rows: slice = slice(None)) -> np.ndarray:
        """The labels of the same examples ``batch`` reads, for a dataset that has them (``label_spec``)."""
        return self.dataset.labels(self.indices(batch_number)[rows])


def label_spec(dataset) -> LabelSpec | None:
    """What a dataset's labels are (an optional member of the Dataset protocol), None for unlabelled data."""
    return getattr(dataset, "label_spec", None)


def size_without_preparing(dataset) -> int:
    """How many examples a dataset holds, without decoding a cache just to count them.

    A dataset's optional ``listed``: for a cached image dataset not yet
    prepared, the files it lists (some may later prove unreadable and be
    skipped); any other dataset, its length.
    """
    listed = getattr(dataset, "listed", None)  # an optional member of the Dataset protocol
    return len(dataset) if listed is None else listed


def __getattr__(name: str):
    # ganforge.data.Dataset of 0.1: the protocol now lives with the rest of the contract
    if name == "Dataset":
        from ganforge.plugin.contract import Dataset

        return Dataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
