"""ganforge's own plugins pass the checks ganforge.testing gives plugin authors, and the checks catch breakage."""

import numpy as np
import pytest
from image_trees import make_celeba, make_mixed_folder

from ganforge import testing
from ganforge.data import DataSpec
from ganforge.plugin.registry import get_registry

REGISTRY = get_registry()


def factory(kind, name):
    return REGISTRY.get(kind, name).load_factory()


# (name, spec, params): small where the defaults would be slow, the article's model once at full size
GENERATORS = [
    ("dcgan", DataSpec(64, 64, 3), {}),
    ("dcgan", DataSpec(32, 32, 1), {"preset": "radford", "filters": [32, 16, 8]}),
    ("mlp", DataSpec(2), {"hidden": 16, "layers": 2, "categories": 5}),
    ("sngan_resnet", DataSpec(32, 32, 1), {"width": 16}),
    ("sngan_resnet", DataSpec(64, 64, 3), {"width": 32}),
    ("r3gan", DataSpec(32, 32, 1), {"width": 16, "groups": 4}),
]
DISCRIMINATORS = [
    ("dcgan", DataSpec(64, 64, 3), {}),
    ("dcgan", DataSpec(32, 32, 1), {"preset": "radford", "filters": [8, 16, 32]}),
    ("mlp", DataSpec(2), {"hidden": 16, "layers": 2}),
    ("dcgan", DataSpec(32, 32, 3), {"preset": "radford", "filters": [8, 16, 32], "spectral_norm": True}),
    ("sngan_resnet", DataSpec(32, 32, 1), {"width": 16}),
    ("sngan_resnet", DataSpec(64, 64, 3), {"width": 32}),
    ("r3gan", DataSpec(32, 32, 1), {"width": 16, "groups": 4}),
]


def test_every_builtin_generator_and_discriminator_is_covered_here():
    assert {name for name, _, _ in GENERATORS} == set(REGISTRY.names("generator"))
    assert {name for name, _, _ in DISCRIMINATORS} == set(REGISTRY.names("discriminator"))


@pytest.mark.parametrize("name, spec, params", GENERATORS)
def test_builtin_generators_keep_the_contract_and_survive_save_and_load(name, spec, params):
    model = testing.check_generator(factory("generator", name), spec, latent_dim=12, **params)
    testing.check_save_and_load(model, np.zeros((2, 12), np.float32))


@pytest.mark.parametrize("name, spec, params", DISCRIMINATORS)
def test_builtin_discriminators_keep_the_contract_and_survive_save_and_load(name, spec, params):
    model = testing.check_discriminator(factory("discriminator", name), spec, **params)
    testing.check_save_and_load(model, np.zeros((2, *spec.shape), np.float32))


@pytest.mark.parametrize("name", sorted(REGISTRY.names("loss")))
def test_builtin_losses_are_finite_and_differentiable(name):
    testing.check_loss(factory("loss", name))


@pytest.mark.parametrize("name", sorted(REGISTRY.names("penalty")))
def test_builtin_penalties_keep_the_contract(name):
    testing.check_penalty(factory("penalty", name))


@pytest.mark.parametrize("name", sorted(REGISTRY.names("generator_penalty")))
def test_builtin_generator_penalties_keep_the_contract(name):
    testing.check_generator_penalty(factory("generator_penalty", name))


@pytest.fixture
def image_roots(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    make_celeba(tmp_path / "celeba", count=20)
    make_mixed_folder(tmp_path / "mixed")
    return tmp_path


def test_builtin_datasets_read_the_same_examples_every_time(image_roots):
    cases = {
        "digits": {"classes": [3]},
        "stacked_digits": {"size": 50},
        "ring": {"size": 100},
        "grid": {"size": 100},
        "celeba": {"root": str(image_roots / "celeba"), "resolution": 16},
        "images": {"root": str(image_roots / "mixed"), "resolution": 16, "on_error": "skip"},
    }
    assert set(cases) == set(REGISTRY.names("dataset"))
    for name, params in cases.items():
        dataset = testing.check_dataset(factory("dataset", name), **params)
        assert len(dataset) > 0


def test_the_mode_coverage_metric_scores_the_data_itself_as_perfect():
    dataset = factory("dataset", "ring")(size=2000)
    results = testing.check_metric(factory("metric", "mode_coverage"), dataset, samples=2000)
    assert results["modes"] == 8


@pytest.mark.parametrize("name", ["console", "jsonl", "png", "tensorboard"])
def test_builtin_sinks_take_every_kind_of_record(name, tmp_path):
    testing.check_sink(factory("sink", name), tmp_path)


# -- the checks fail when they should ------------------------------------------------------


def unbounded_generator(spec, latent_dim):
    import keras

    noise = keras.Input((latent_dim,))
    return keras.Model(noise, keras.layers.Reshape(spec.shape)(keras.layers.Dense(int(np.prod(spec.shape)))(noise)))


def sigmoid_discriminator(spec):
    import keras

    images = keras.Input(spec.shape)
    return keras.Model(images, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(images)))


class ShuffledEachTime:
    """A dataset that draws new random examples on every read: breaks resume."""

    spec = DataSpec(4, 4, 1)

    def __len__(self):
        return 10

    def read(self, indices):
        return np.random.default_rng().integers(0, 255, (len(indices), 4, 4, 1), dtype=np.uint8)


class FlatLoss:
    def discriminator_loss(self, real_logits, fake_logits):
        from keras import ops

        return ops.mean(ops.stop_gradient(real_logits - fake_logits))

    def generator_loss(self, fake_logits):
        from keras import ops

        return ops.mean(fake_logits) * 0.0


class TargetsIgnored:
    """Says it takes label targets, then ignores them: label smoothing would silently do nothing."""

    supports_targets = True

    def discriminator_loss(self, real_logits, fake_logits, real_targets=None, fake_targets=None):
        from keras import ops

        return (
            ops.mean(ops.softplus(-real_logits))
            + ops.mean(ops.softplus(fake_logits))
            + 1.0 * (real_targets is not None)
        )

    def generator_loss(self, fake_logits):
        from keras import ops

        return ops.mean(ops.softplus(-fake_logits))


class MiscountedDataset(ShuffledEachTime):
    """Reads the same examples every time, but its optional ``listed`` disagrees with its length."""

    listed = 12

    def read(self, indices):
        return np.zeros((len(indices), 4, 4, 1), np.uint8)


@pytest.mark.parametrize(
    "check, args, message",
    [
        (testing.check_loss, (TargetsIgnored,), "supports_targets: discriminator_loss with targets 1 and 0"),
        (testing.check_dataset, (MiscountedDataset,), "listed is 12 once prepared, but len"),
        (testing.check_generator, (unbounded_generator, DataSpec(4, 4, 1)), r"must lie in \[-1, 1\]"),
        (
            testing.check_generator,
            (lambda spec, latent_dim: "a model", DataSpec(4, 4, 1)),
            r"returned builtins.str 'a model'",
        ),
        (testing.check_discriminator, (sigmoid_discriminator, DataSpec(4, 4, 1)), "ends with a sigmoid"),
        (testing.check_dataset, (ShuffledEachTime,), "other values for the same indices"),
        (testing.check_dataset, (lambda: [1, 2, 3],), "which has no spec, read"),
        (testing.check_loss, (FlatLoss,), "not differentiable|gradient is zero"),
    ],
)
def test_each_check_says_what_is_wrong(check, args, message):
    with pytest.raises(testing.ContractError, match=message):
        check(*args)
