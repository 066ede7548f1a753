"""FID, KID, precision/recall, density/coverage and Inception Score: closed forms and hand-built sets."""

import json

import numpy as np
import pytest

from ganforge.evaluation.features import build_feature_network, extract, fit_to_input
from ganforge_metrics.frechet import fid, frechet_distance
from ganforge_metrics.inception_score import inception_score
from ganforge_metrics.kernel import kid, mmd2_unbiased, polynomial_kernel
from ganforge_metrics.manifold import density_coverage, precision_recall


# -- Fréchet distance ---------------------------------------------------
@pytest.mark.parametrize("dims", [1, 4, 64])
def test_frechet_of_unit_gaussians_one_apart_in_every_dimension_is_d(dims):
    assert frechet_distance(np.zeros(dims), np.eye(dims), np.ones(dims), np.eye(dims)) == pytest.approx(dims)


def test_frechet_of_scaled_covariances_matches_the_closed_form():
    # N(0, I) vs N(0, s² I) in d dims: d (1 - s)²
    dims, scale = 8, 3.0
    assert frechet_distance(np.zeros(dims), np.eye(dims), np.zeros(dims), scale**2 * np.eye(dims)) == pytest.approx(
        dims * (1 - scale) ** 2
    )


def test_frechet_is_symmetric_and_zero_for_one_set():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(500, 16)), rng.normal(0.5, 2.0, size=(400, 16))
    assert fid(a, b) == pytest.approx(fid(b, a), rel=1e-9)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-8)
    assert fid(a, b) > 10


def test_frechet_stays_real_and_finite_with_fewer_samples_than_dimensions():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(10, 64)), rng.normal(size=(12, 64))  # rank 9 and 11 covariances in 64 dims
    value = fid(a, b)
    assert isinstance(value, float) and np.isfinite(value) and value > 0
    assert fid(a, a) == pytest.approx(0.0, abs=1e-6)


# -- KID -----------------------------------------------------------------
def test_kid_is_near_zero_for_two_samples_of_one_distribution_and_large_for_different_ones():
    rng = np.random.default_rng(2)
    same = kid(rng.normal(size=(2000, 32)), rng.normal(size=(2000, 32)), subsets=20, subset_size=500)
    shifted = kid(rng.normal(size=(2000, 32)), rng.normal(1.0, 1.0, size=(2000, 32)), subsets=20, subset_size=500)
    assert abs(same[0]) < 3 * same[1] + 1e-3
    assert shifted[0] > 100 * max(abs(same[0]), same[1])


def test_kid_estimator_is_unbiased_where_the_plug_in_one_is_not():
    rng = np.random.default_rng(3)
    unbiased, plug_in = [], []
    for _ in range(300):
        x, y = rng.normal(size=(10, 4)), rng.normal(size=(10, 4))
        unbiased.append(mmd2_unbiased(x, y))
        plug_in.append(
            polynomial_kernel(x, x).mean() + polynomial_kernel(y, y).mean() - 2 * polynomial_kernel(x, y).mean()
        )
    spread = np.std(unbiased) / np.sqrt(len(unbiased))
    assert abs(np.mean(unbiased)) < 3 * spread  # expectation 0 for one distribution
    assert np.mean(plug_in) > 10 * spread  # keeping k(x, x) biases it upwards


# -- precision/recall, density/coverage ---------------------------------
SQUARE = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], float)


def test_precision_recall_density_coverage_on_hand_built_sets():
    # real: two unit squares 100 apart; each corner's 3rd neighbour is its diagonal, √2 away
    real = np.concatenate([SQUARE, SQUARE + [100, 0]])
    one_square = SQUARE.copy()
    assert precision_recall(real, one_square, k=3) == {"precision": 1.0, "recall": 0.5}
    # each generated corner lies in all four balls of its square: density 16 / (3 * 4)
    assert density_coverage(real, one_square, k=3) == pytest.approx({"density": 4 / 3, "coverage": 0.5})
    far = SQUARE + [0, 50]
    assert precision_recall(real, far, k=3) == {"precision": 0.0, "recall": 0.0}
    assert density_coverage(real, far, k=3) == {"density": 0.0, "coverage": 0.0}
    assert precision_recall(real, real, k=3) == {"precision": 1.0, "recall": 1.0}


def test_manifold_metrics_need_more_points_than_k():
    with pytest.raises(ValueError, match="more than k = 5"):
        density_coverage(SQUARE, SQUARE, k=5)


# -- Inception Score ----------------------------------------------------
def test_inception_score_is_one_for_uniform_predictions_and_k_for_confident_spread_ones():
    assert inception_score(np.zeros((100, 10)), splits=2)[0] == pytest.approx(1.0)
    confident = np.full((100, 10), -50.0)
    confident[np.arange(100), np.arange(100) % 10] = 50.0
    assert inception_score(confident, splits=2)[0] == pytest.approx(10.0)
    all_one_class = np.tile(confident[:1], (100, 1))
    assert inception_score(all_one_class, splits=2)[0] == pytest.approx(1.0)


# -- feature networks ----------------------------------------------------
def test_images_are_resized_and_grey_repeated_for_a_colour_network():
    grey = np.linspace(-1, 1, 2 * 8 * 8).reshape(2, 8, 8, 1).astype(np.float32)
    fitted = fit_to_input(grey, (16, 16, 3), "bilinear")
    assert fitted.shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(fitted[..., 0], fitted[..., 2])
    assert fitted.min() >= -1 and fitted.max() <= 1
    with pytest.raises(ValueError, match="takes 1-channel images; these have 3"):
        fit_to_input(np.zeros((1, 8, 8, 3), np.float32), (8, 8, 1), "bilinear")
    with pytest.raises(ValueError, match="unknown filter 'cubic'"):
        fit_to_input(grey, (16, 16, 3), "cubic")


def test_the_shipped_digits_classifier_is_at_least_97_percent_right_on_held_out_digits():
    from ganforge.evaluation.download import sha256_of
    from ganforge_mnist.classifier import SHIPPED, split, weights_files

    network = build_feature_network("digits")
    _, (images, labels) = split()
    result = extract(network, images, "bilinear")
    accuracy = np.mean(result.logits.argmax(axis=1) == labels)
    assert accuracy >= 0.97
    assert result.features.shape == (len(labels), 128)
    report = json.loads(weights_files(SHIPPED)[1].read_text())
    assert report["held_out_accuracy"] == pytest.approx(accuracy)  # the shipped score is these weights' score
    assert f"{100 * accuracy:.1f}% on 1000 held-out digits" in network.describe()
    assert network.record()["weights_sha256"] == sha256_of(weights_files(SHIPPED)[0])


@pytest.mark.slow
def test_the_digits_classifier_trains_again_from_its_seed(tmp_path, capsys):
    """The command that made the shipped files: a short run of it learns, and leaves only finished files.

    Its ``main`` (what ``python -m ganforge_mnist.classifier`` runs) is called in this process: seeding and
    deterministic ops are what training here turns on anyway."""
    from ganforge_mnist.classifier import DigitsNetwork, main, weights_files

    main([str(tmp_path), "--epochs", "1"])
    report = json.loads(capsys.readouterr().out)
    assert report["epochs"] == 1 and report["trained_on"] == 4000 and report["held_out"] == 1000
    assert report["held_out_accuracy"] > 0.8  # ten classes: chance is 0.1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in weights_files(tmp_path))
    assert DigitsNetwork(tmp_path).report == report


@pytest.mark.slow
def test_inception_v3_loads_a_local_weights_file_and_says_what_it_needs_without_one(tmp_path, monkeypatch):
    import keras

    monkeypatch.delenv("GANFORGE_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(
        ValueError, match="inception_v3_weights_tf_dim_ordering_tf_kernels.h5.*GANFORGE_INCEPTION_WEIGHTS"
    ):
        build_feature_network("inception_v3")
    with pytest.raises(ValueError, match="features .inception_v3.: weights: no such file"):
        build_feature_network({"name": "inception_v3", "weights": str(tmp_path / "nowhere.h5")})
    # random weights stand in for ImageNet's: the loading and the layers are what is tested
    weights = tmp_path / "inception.weights.h5"
    keras.applications.InceptionV3(include_top=True, weights=None).save_weights(weights)
    monkeypatch.setenv("GANFORGE_INCEPTION_WEIGHTS", str(weights))
    network = build_feature_network("inception_v3")
    result = extract(network, np.zeros((2, 32, 32, 1), np.float32), "bicubic")
    assert result.features.shape == (2, 2048) and result.logits.shape == (2, 1000)


def test_any_keras_file_serves_features_from_a_named_layer(tmp_path):
    import keras

    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Dense(5, name="hidden")(keras.layers.Flatten()(inputs))
    path = tmp_path / "tiny.keras"
    keras.Model(inputs, keras.layers.Dense(2, name="out")(hidden)).save(path)
    network = build_feature_network({"name": "keras_file", "path": str(path), "layer": "hidden", "logits_layer": "out"})
    result = extract(network, np.zeros((3, 16, 16, 1), np.float32), "area")
    assert result.features.shape == (3, 5) and result.logits.shape == (3, 2)
    with pytest.raises(ValueError, match="has no layer 'missing'; its layers: .*hidden"):
        build_feature_network({"name": "keras_file", "path": str(path), "layer": "missing"})
    with pytest.raises(ValueError, match="features.layer: required key is missing"):
        build_feature_network({"name": "keras_file", "path": str(path)})
    with pytest.raises(ValueError, match="features.name: .*'digitz'"):
        build_feature_network("digitz")


# -- Stacked MNIST --------------------------------------------------------
def test_stacked_mode_histogram_on_hand_built_labels():
    from ganforge_mnist.stacked import mode_histogram

    every_triple = np.array([[a, b, c] for a in range(10) for b in range(10) for c in range(10)])
    assert mode_histogram(every_triple) == pytest.approx({"modes": 1000, "reverse_kl": 0.0})
    one_triple = np.tile([[1, 2, 3]], (50, 1))
    assert mode_histogram(one_triple) == pytest.approx({"modes": 1, "reverse_kl": np.log(1000)})
    two_triples = np.array([[1, 2, 3], [3, 2, 1]] * 10)
    assert mode_histogram(two_triples) == pytest.approx({"modes": 2, "reverse_kl": np.log(500)})


@pytest.mark.slow
def test_stacked_modes_reads_the_triples_of_real_stacked_digits():
    from ganforge.data import DataSpec
    from ganforge.data.pixels import to_unit_range
    from ganforge_mnist.stacked import StackedDigits, StackedModes

    stacked = StackedDigits(size=600, seed=1)
    metric = StackedModes(samples=600, features="digits")
    metric.check(stacked.spec, stacked)
    labels = metric.labels(to_unit_range(stacked.read(np.arange(600))))
    read = labels @ np.array([100, 10, 1])
    assert np.mean(read == stacked.modes) > 0.9
    with pytest.raises(ValueError, match="needs 3-channel images"):
        metric.check(DataSpec(32, 32, 1), None)
