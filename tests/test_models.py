"""The DCGAN presets, checked against the tables they implement."""

import numpy as np
import pytest

from ganforge.backend import tensorflow
from ganforge.data import DataSpec, LabelSpec

tensorflow()
from ganforge_dcgan import conditioning  # noqa: E402
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


CLASSES = LabelSpec("classes", tuple("0123456789"))
FLAGS = LabelSpec("attributes", ("Smiling", "Eyeglasses", "Male"))


def some_labels(condition: LabelSpec, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if condition.kind == "classes":
        return rng.integers(0, len(condition), count).astype("int32")
    return rng.integers(0, 2, (count, len(condition))).astype("float32")


@pytest.mark.parametrize("preset", ["article", "radford"])
@pytest.mark.parametrize("condition", [CLASSES, FLAGS], ids=["classes", "attributes"])
def test_a_conditional_generator_draws_what_its_labels_ask(preset, condition):
    spec = DataSpec(32, 32, 1)
    generator = build_generator(spec, 16, preset=preset, condition=condition)
    assert [tuple(i.shape[1:]) for i in generator.inputs] == [(16,), condition.shape]
    noise = np.random.default_rng(0).standard_normal((6, 16)).astype("float32")
    first, second = some_labels(condition, 6, 1), some_labels(condition, 6, 2)
    if condition.kind == "classes":
        second = (first + 1) % len(condition)  # every example asks for another class
    else:
        second = 1.0 - first  # every flag flipped
    images = np.asarray(generator([noise, first], training=False))
    assert images.shape == (6, 32, 32, 1) and np.all(np.abs(images) <= 1)
    again = np.asarray(generator([noise, first], training=False))
    other = np.asarray(generator([noise, second], training=False))
    np.testing.assert_array_equal(images, again)
    assert np.all(np.abs(images - other).reshape(6, -1).max(axis=1) > 1e-4)  # the labels reach every image
    unconditional = build_generator(spec, 16, preset=preset)
    assert generator.count_params() > unconditional.count_params()


@pytest.mark.parametrize("spectral_norm", [False, True])
@pytest.mark.parametrize("condition", [CLASSES, FLAGS], ids=["classes", "attributes"])
def test_a_projection_discriminator_adds_the_labels_projection_to_its_logit(spectral_norm, condition):
    import keras

    discriminator = build_discriminator(
        DataSpec(32, 32, 1), preset="radford", spectral_norm=spectral_norm, norm="none", condition=condition
    )
    images = np.random.default_rng(3).uniform(-1, 1, (5, 32, 32, 1)).astype("float32")
    first, second = some_labels(condition, 5, 4), some_labels(condition, 5, 5)
    logits = np.asarray(discriminator([images, first], training=False))
    assert logits.shape == (5, 1)
    # logit(y1) - logit(y2) = <e(y1) - e(y2), h>, h the features the projection sees
    projection = discriminator.get_layer("projection")
    features = keras.Model(discriminator.inputs, discriminator.get_layer("projection_term").input[1])
    h = np.asarray(features([images, first], training=False))
    table = np.asarray(projection.get_weights()[0])
    if condition.kind == "classes":
        terms = (table[first] - table[second]) * h
    else:
        terms = (((2 * first - 1) - (2 * second - 1)) @ table) * h
    difference = logits[:, 0] - np.asarray(discriminator([images, second], training=False))[:, 0]
    # float32 sums of thousands of terms: the error scales with their absolute sum, not with the result
    np.testing.assert_allclose(difference, terms.sum(axis=1), rtol=0, atol=1e-5 * np.abs(terms).sum(axis=1).max())


@pytest.mark.parametrize("condition", [CLASSES, FLAGS], ids=["classes", "attributes"])
def test_ganforge_testing_checks_conditional_models_and_catches_one_that_ignores_its_labels(condition):
    """What a third party's conditional generator or discriminator is checked with: ``condition=``."""
    import keras

    from ganforge import testing

    spec = DataSpec(8, 8, 1)
    testing.check_generator(build_generator, spec, latent_dim=8, condition=condition, preset="radford")
    testing.check_discriminator(build_discriminator, spec, condition=condition, preset="radford")

    def deaf_generator(spec, latent_dim, condition):  # takes the labels, then multiplies them away
        noise, labels = keras.Input((latent_dim,)), conditioning.labels_input(condition)
        unused = keras.layers.Lambda(lambda pair: pair[0] + 0.0 * keras.ops.sum(keras.ops.cast(pair[1], "float32")))
        images = keras.layers.Dense(64, activation="tanh")(unused([noise, labels]))
        return keras.Model([noise, labels], keras.layers.Reshape(spec.shape)(images))

    with pytest.raises(testing.ContractError, match="the generator gives the same output whatever the labels"):
        testing.check_generator(deaf_generator, spec, latent_dim=8, condition=condition)
