"""The DCGAN presets, checked against the tables they implement."""

import numpy as np
import pytest

from ganforge.backend import tensorflow
from ganforge.data import DataSpec

tensorflow()
from ganforge_dcgan.models import build_discriminator, build_generator  # noqa: E402


def test_article_preset_has_the_articles_parameter_counts():
    spec = DataSpec(64, 64, 3)
    assert build_generator(spec, 100, preset="article").count_params() == 492_083
    assert build_discriminator(spec, preset="article").count_params() == 816_529


def test_radford_preset_matches_the_paper_at_64px():
    spec = DataSpec(64, 64, 3)
    generator = build_generator(spec, 100, preset="radford")
    discriminator = build_discriminator(spec, preset="radford")
    conv_filters = [layer.filters for layer in discriminator.layers if hasattr(layer, "filters")]
    assert conv_filters == [64, 128, 256, 512]
    up_filters = [layer.filters for layer in generator.layers if hasattr(layer, "filters")]
    assert up_filters == [256, 128, 64, 3]
    kernels = {layer.kernel_size for layer in discriminator.layers if hasattr(layer, "kernel_size")}
    assert kernels == {(4, 4)}


@pytest.mark.parametrize("preset", ["article", "radford"])
@pytest.mark.parametrize("side, channels", [(32, 1), (64, 3), (128, 3)])
def test_presets_size_themselves_from_the_data(preset, side, channels):
    spec = DataSpec(side, side, channels)
    noise = np.random.default_rng(0).standard_normal((2, 100)).astype("float32")
    images = np.asarray(build_generator(spec, 100, preset=preset)(noise, training=False))
    assert images.shape == (2, side, side, channels)
    assert np.all(np.abs(images) <= 1.0)  # tanh output
    logits = build_discriminator(spec, preset=preset)(images, training=False)
    assert tuple(logits.shape) == (2, 1)


def test_unsupported_sizes_and_filters_are_clear_errors():
    with pytest.raises(ValueError, match="power of two"):
        build_generator(DataSpec(28, 28, 1), 100)
    with pytest.raises(ValueError, match="filters must list 3"):
        build_discriminator(DataSpec(32, 32, 1), filters=[8, 16])


@pytest.mark.parametrize(
    "options, normalizers",
    [
        ({}, {"BatchNormalization"}),
        ({"norm": "layer"}, {"LayerNormalization"}),
        ({"norm": "none"}, set()),
        ({"spectral_norm": True}, set()),
        ({"spectral_norm": True, "norm": "layer"}, {"LayerNormalization"}),
    ],
)
def test_the_discriminators_normalization_is_chosen_by_norm(options, normalizers):
    discriminator = build_discriminator(DataSpec(32, 32, 1), preset="radford", **options)
    found = {type(layer).__name__ for layer in discriminator.layers if "Normalization" in type(layer).__name__}
    assert found == normalizers
    unwrapped = [getattr(layer, "layer", layer) for layer in discriminator.layers]  # inside SpectralNorm
    convolutions = [layer for layer in unwrapped if hasattr(layer, "filters")]
    # the first convolution has no normalization after it, so it keeps its bias; the others have one only without
    assert [conv.use_bias for conv in convolutions] == [True] + [not normalizers] * 2
    images = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 1)).astype("float32")
    logits = np.asarray(discriminator(images, training=True))
    assert logits.shape == (4, 1) and np.all(np.isfinite(logits))
    if normalizers == {"LayerNormalization"}:
        # per image: one image's logit does not depend on the rest of the batch, unlike batch norm's
        # (training=False: a training call of spectral norm would also move its power iteration)
        batch = np.asarray(discriminator(images, training=False))
        alone = np.asarray(discriminator(images[:1], training=False))
        np.testing.assert_allclose(alone, batch[:1], rtol=1e-5, atol=1e-6)
