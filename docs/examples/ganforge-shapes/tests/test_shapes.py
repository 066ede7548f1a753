"""ganforge-shapes keeps ganforge's plugin contract, and its recipe trains."""

from pathlib import Path

import numpy as np
import pytest
from ganforge_shapes import shapes
from ganforge_shapes.upsampler import build_upsampler

from ganforge import testing
from ganforge.data import DataSpec
from ganforge.plugin.registry import Registry

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "shapes.toml"


def test_the_dataset_reads_the_same_shapes_every_time():
    dataset = testing.check_dataset(shapes, size=50, resolution=16)
    assert dataset.spec == DataSpec(16, 16, 3)


def test_each_kind_covers_a_plausible_share_of_the_picture():
    for kind, low, high in (("circle", 0.05, 0.3), ("square", 0.03, 0.2), ("triangle", 0.02, 0.15)):
        images = shapes(size=40, resolution=32, kinds=[kind]).read(np.arange(40)).astype(float)
        lit = (images.max(axis=-1) > 60).mean()  # the background stays below 40
        assert low < lit < high, (kind, lit)


@pytest.mark.parametrize("size", [8, 32])
def test_the_generator_keeps_the_contract_and_saves(size):
    model = testing.check_generator(build_upsampler, DataSpec(size, size, 3), latent_dim=8, width=32)
    testing.check_save_and_load(model, np.zeros((2, 8), np.float32))


def test_the_generator_refuses_sizes_it_cannot_make():
    with pytest.raises(ValueError, match="8, 16, 32"):
        build_upsampler(DataSpec(24, 24, 3), 8)


def test_ganforge_finds_both_components():
    registry = Registry.from_entry_points()
    assert registry.get("dataset", "shapes").plugin == registry.get("generator", "upsampler").plugin == "shapes"


def test_the_recipe_trains(tmp_path):
    run = testing.train_briefly(RECIPE, tmp_path, steps=2, overrides=["dataset.size=256"])
    assert (run / "checkpoints" / "step_00000002.npz").is_file()
