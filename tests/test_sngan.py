"""The SNGAN ResNet plugin: the paper's shapes at 32 and 64 px, spectral norm on every discriminator layer,
and a short hinge-loss run on the digits (test_plugin_contract.py checks the contract and save/load)."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

from ganforge.data import DataSpec
from ganforge.layers import SpectralNorm
from ganforge_sngan import discriminator, generator

RECIPE = str(Path(__file__).resolve().parents[1] / "recipes" / "sngan_digits.toml")


def test_every_weighted_layer_of_the_discriminator_is_spectrally_normalised():
    model = discriminator(DataSpec(32, 32, 3), width=16)
    weighted = [layer for layer in model.layers if layer.weights]
    assert weighted and all(isinstance(layer, SpectralNorm) for layer in weighted)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


def test_the_shapes_are_the_papers():
    """32 px: G 4x4x256 -> three up-blocks of 256; D ends at 8x8x128. 64 px: G 4x4x1024 halving to 64
    channels; D doubling from 64 to 1024, ending at 2x2."""
    g32, d32 = generator(DataSpec(32, 32, 3), 128), discriminator(DataSpec(32, 32, 3))
    assert g32.get_layer(index=2).output.shape[1:] == (4, 4, 256)
    assert [layer.output.shape[-1] for layer in g32.layers if isinstance(layer, keras.layers.Add)] == [256] * 3
    adds = [layer.output.shape[1:] for layer in d32.layers if isinstance(layer, keras.layers.Add)]
    assert adds == [(16, 16, 128), (8, 8, 128), (8, 8, 128), (8, 8, 128)]
    g64 = generator(DataSpec(64, 64, 3), 128)
    assert [layer.output.shape[-1] for layer in g64.layers if isinstance(layer, keras.layers.Add)] == [
        512,
        256,
        128,
        64,
    ]
    d64 = discriminator(DataSpec(64, 64, 3))
    adds = [layer.output.shape[1:] for layer in d64.layers if isinstance(layer, keras.layers.Add)]
    assert adds == [(32, 32, 64), (16, 16, 128), (8, 8, 256), (4, 4, 512), (2, 2, 1024)]


def test_other_image_sizes_are_refused():
    with pytest.raises(ValueError, match="sngan_resnet takes square images of 32 or 64 pixels"):
        generator(DataSpec(48, 48, 3), 16)


def test_the_digits_recipe_trains_and_refuses_another_image_size(tmp_path):
    from test_engine import start_run

    from ganforge.errors import RecipeError
    from ganforge.recipe import load_recipe
    from ganforge.training.assembly import build_parts
    from ganforge.training.trainer import train

    # its loss, optimizers and models, narrower (the shapes are checked above) and with one D update per step
    # (each one more is traced into the step, and d_steps is the engine's, tested in test_engine.py)
    settings = ["train.steps=2", "train.batch_size=16", "train.d_steps=1", "generator.width=16"]
    settings += ["discriminator.width=16", 'sinks=["jsonl"]', "output_dir=runs"]
    assert train(*start_run(RECIPE, tmp_path, settings)).step == 2
    with pytest.raises(RecipeError, match="sngan_resnet takes square images of 32 or 64 pixels"):
        build_parts(load_recipe(RECIPE, ["dataset.pad=8"]))
