"""Batching every dataset shares, and the embedded digits."""

import numpy as np
import pytest

from ganforge.data import ArrayDataset, BatchSampler
from ganforge_mnist.embedded import load_digits


def test_batches_cover_each_epoch_once_and_reshuffle():
    dataset = ArrayDataset(np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1))
    sampler = BatchSampler(dataset, batch_size=3, seed=1)
    assert sampler.batches_per_epoch == 3
    epoch0 = np.concatenate([sampler.indices(b) for b in range(3)])
    epoch1 = np.concatenate([sampler.indices(b) for b in range(3, 6)])
    assert len(set(epoch0)) == 9 and len(set(epoch1)) == 9  # no repeats inside an epoch
    assert sorted(epoch0) != sorted(epoch1) or not np.array_equal(epoch0, epoch1)


def test_batch_order_is_a_function_of_seed_and_position():
    dataset = ArrayDataset(np.zeros((50, 2, 2, 1), np.uint8))
    first = BatchSampler(dataset, 8, seed=3)
    second = BatchSampler(dataset, 8, seed=3)
    sequence = [first.indices(b).tolist() for b in range(20)]
    # jumping straight to batch 13, as a resumed run does, gives the same batch
    assert second.indices(13).tolist() == sequence[13]
    assert BatchSampler(dataset, 8, seed=4).indices(0).tolist() != sequence[0]


def test_too_small_dataset():
    with pytest.raises(ValueError, match="fewer than one batch"):
        BatchSampler(ArrayDataset(np.zeros((3, 2, 2, 1), np.uint8)), 4, seed=0)


def test_batches_keep_the_datasets_dtype():
    # uint8 pixels cross to the step as bytes; the step scales them
    dataset = ArrayDataset(np.full((8, 2, 2, 1), 255, np.uint8))
    assert BatchSampler(dataset, 4, seed=0).batch(1).dtype == np.uint8


def test_digits_are_embedded_and_padded():
    dataset = load_digits(None, pad=2)
    assert len(dataset) == 5000 and dataset.spec.shape == (32, 32, 1)
    batch = dataset.read(np.arange(10))
    assert batch.dtype == np.uint8 and batch.max() > 200
    assert batch[:, :2].max() == 0  # the padding is blank
    assert len(load_digits([3], pad=0)) == 500
    with pytest.raises(ValueError):
        load_digits([11], pad=2)
