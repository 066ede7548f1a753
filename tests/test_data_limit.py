"""``[dataset] limit``: train on a fixed subset — the same rows whatever the seed — and say when it cannot."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_user_error, invoke_cli

from ganforge.data import BatchSampler, DataSpec


class Numbered:
    """Example i is the number i: what a batch read shows which rows it came from."""

    spec = DataSpec(1)

    def __init__(self, size: int):
        self.size = size

    def __len__(self):
        return self.size

    def read(self, indices):
        return np.asarray(indices, np.float32)[:, None]


def rows_read(sampler: BatchSampler, batches: int) -> set[int]:
    return {int(row) for number in range(batches) for row in sampler.batch(number)[:, 0]}


def test_training_reads_only_the_subset_and_the_subset_does_not_depend_on_the_seed():
    dataset = Numbered(1000)
    first, second = BatchSampler(dataset, 10, seed=1, limit=50), BatchSampler(dataset, 10, seed=2, limit=50)
    assert rows_read(first, 40) == rows_read(second, 40)  # 8 epochs of the subset, each seed in its own order
    assert len(rows_read(first, 40)) == 50
    assert [first.batch(n)[:, 0].tolist() for n in range(5)] != [second.batch(n)[:, 0].tolist() for n in range(5)]
    assert len(rows_read(BatchSampler(dataset, 10, seed=1), 100)) == 1000  # no limit: every row


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "limit must be a whole number of examples >= 1; got 0"),
        ("5000", "limit = 5000, but the dataset holds only"),
    ],
)
def test_a_limit_that_cannot_be_met_is_refused_naming_the_key(tmp_path, tiny_recipe, value, message):
    done = invoke_cli("recipe", "check", str(tiny_recipe), "--set", f"dataset.limit={value}", cwd=tmp_path)
    assert_user_error(done, "dataset.limit", message)


def test_a_limited_run_trains(tmp_path, tiny_recipe):
    from test_engine import start_run

    from ganforge.training.trainer import train

    assert train(*start_run(tiny_recipe, tmp_path, ["dataset.limit=40", "train.steps=3"])).step == 3


def test_a_dataset_plugin_that_declares_its_own_limit_is_refused(tmp_path, tiny_recipe):
    import types

    from ganforge import hookimpl
    from ganforge.errors import PluginError
    from ganforge.plugin.registry import Registry
    from ganforge.recipe import load_recipe

    def numbered(size: int = 100, limit: int = 0):
        return Numbered(size)

    module = types.ModuleType("numbered_plugin")
    module.GANFORGE_CONTRACT = 1
    module.register_datasets = hookimpl(lambda register: register("numbered", numbered))
    registry = Registry.from_entry_points()
    registry.add_plugin("numbered", lambda: module, package="numbered-plugin")
    with pytest.raises(PluginError, match="dataset 'numbered' declares the parameter 'limit', which ganforge reserves"):
        load_recipe(tiny_recipe, ['dataset={ name = "numbered" }'], registry=registry)
