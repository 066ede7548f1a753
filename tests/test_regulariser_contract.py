"""The regularisers' side of the contract: R2 at G's images, the G-side kind (path length), the generator's
optional intermediate latent, and the refusals that name the plugin; values against NumPy float64."""

import types

import numpy as np
import pytest
import toy_latent

from ganforge import hookimpl, testing
from ganforge.data import DataSpec
from ganforge.errors import Location, PluginError
from ganforge.plugin import contract
from ganforge.plugin.build import build
from ganforge.plugin.registry import Registry, get_registry

WHERE = Location("penalty", file="recipe.toml")


def made(kind, name, registry=None, *args, **params):
    return build(registry or get_registry(), kind, {"name": name, **params}, *args, where=WHERE)


def reference_path_length(gradients, mean, weight, decay):
    """StyleGAN2's path length term, in float64: (term, batch mean of the lengths, the state's next mean)."""
    g = np.asarray(gradients, np.float64)
    squares = (g**2).sum(axis=-1)
    lengths = np.sqrt(squares.mean(axis=1) if g.ndim == 3 else squares)
    moved = mean + decay * (lengths.mean() - mean)
    return weight * ((lengths - moved) ** 2).mean(), lengths.mean(), moved


def test_the_registry_finds_r2_and_path_length_beside_r1():
    registry = get_registry()
    assert registry.get("penalty", "r2").plugin == registry.get("penalty", "r1").plugin == "losses"
    path_length = registry.get("generator_penalty", "path_length")
    assert path_length.plugin == "losses"
    assert [(row.name, row.default) for row in path_length.describe_params()] == [
        ("weight", "2.0"),
        ("decay", "0.01"),
        ("batch_shrink", "2"),
        ("every", "4"),
    ]
    assert [(row.name, row.default) for row in registry.get("penalty", "r2").describe_params()] == [
        ("gamma", "10.0"),
        ("every", "1"),
    ]


def test_r2_is_half_gamma_times_the_mean_squared_gradient_norm_at_gs_images():
    r2 = made("penalty", "r2", gamma=3.0, every=16)
    assert (r2.points, r2.every) == ("fake", 16)
    gradients = np.random.default_rng(0).standard_normal((5, 8, 8, 3)).astype(np.float32)
    expected = 0.5 * 3.0 * (np.asarray(gradients, np.float64).reshape(5, -1) ** 2).sum(axis=1).mean()
    assert float(np.asarray(r2.from_gradients(gradients))) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("shape", [(6, 8), (6, 3, 8)], ids=["w", "ws"])
def test_path_length_term_statistics_and_state_match_float64(shape):
    penalty = made("generator_penalty", "path_length", weight=2.5, decay=0.05, batch_shrink=3, every=4)
    assert (penalty.every, penalty.batch_shrink, penalty.state) == (4, 3, {"mean": 0.0})
    gradients = (0.3 * np.random.default_rng(1).standard_normal(shape)).astype(np.float32)
    for mean in (0.0, 0.7):  # the first step's state, and one the running mean has moved
        term, statistics = penalty.from_latent_gradients(gradients, {"mean": np.float32(mean)})
        expected_term, batch_mean, moved = reference_path_length(gradients, mean, 2.5, 0.05)
        assert float(np.asarray(term)) == pytest.approx(expected_term, rel=1e-6, abs=1e-9)
        assert set(statistics) == {"mean"}
        assert float(np.asarray(statistics["mean"])) == pytest.approx(batch_mean, rel=1e-6)
        updated = penalty.updated({"mean": np.float32(mean)}, statistics)
        assert set(updated) == {"mean"} and float(np.asarray(updated["mean"])) == pytest.approx(moved, rel=1e-6)


@pytest.mark.parametrize("shape", [(6, 8), (6, 3, 8)], ids=["w", "ws"])
def test_path_lengths_gradient_flows_through_the_moved_mean_as_in_the_reference(shape):
    """d term / d gradients in float64: the batch's share of the moved mean is differentiated too, not held."""
    import tensorflow as tf

    weight, decay, mean = 2.0, 0.3, 0.4
    penalty = made("generator_penalty", "path_length", weight=weight, decay=decay)
    g = (0.3 * np.random.default_rng(3).standard_normal(shape)).astype(np.float32)
    variable = tf.Variable(g)
    with tf.GradientTape() as tape:
        term, _ = penalty.from_latent_gradients(variable, {"mean": tf.constant(mean)})
    found = tape.gradient(term, variable).numpy()
    g64 = g.astype(np.float64)
    _, _, moved = reference_path_length(g64, mean, weight, decay)
    squares = (g64**2).sum(axis=-1)
    lengths = np.sqrt(squares.mean(axis=1) if g.ndim == 3 else squares)
    n, ws = len(g), (shape[1] if g.ndim == 3 else 1)
    by_length = 2 * weight / n * ((lengths - moved) - decay * (lengths - moved).mean())
    length_by_g = g64 / (ws * lengths.reshape((n,) + (1,) * (g.ndim - 1)))
    expected = by_length.reshape((n,) + (1,) * (g.ndim - 1)) * length_by_g
    np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-7)


def test_the_builtin_regularisers_pass_the_authors_checks():
    registry = get_registry()
    testing.check_penalty(registry.get("penalty", "r2").load_factory())
    assert testing.check_generator_penalty(registry.get("generator_penalty", "path_length").load_factory()).every == 4


# -- refusals, each naming the plugin ----------------------------------------------------------------------


class Points:
    points, every = "nowhere", 1

    def from_gradients(self, gradients):
        return gradients


class Lengths:
    """A generator penalty whose members the test sets from its parameters."""

    def __init__(self, every=1, batch_shrink=1, state=None):
        self.every, self.batch_shrink = every, batch_shrink
        self.state = {"mean": 0.0} if state is None else state

    def from_latent_gradients(self, gradients, state):
        return 0.0, {"mean": 0.0}

    def updated(self, state, statistics):
        return state


class NoUpdate:
    every, batch_shrink, state = 1, 1, {}

    def from_latent_gradients(self, gradients, state):
        return 0.0, {}


def half_latent(spec, latent_dim):
    """A generator with a mapping and no synthesis."""
    import keras

    noise = keras.Input((latent_dim,))
    model = keras.Model(noise, keras.layers.Dense(4)(noise))
    model.mapping = keras.layers.Dense(2)
    return model


@pytest.fixture(scope="module")
def bad():
    """The installed plugins and one more whose components break the contract."""
    module = types.ModuleType("bad_regularisers")
    module.GANFORGE_CONTRACT = 1
    module.register_penalties = hookimpl(lambda register: register("points", Points))
    module.register_generator_penalties = hookimpl(
        lambda register: (register("lengths", Lengths), register("no_update", NoUpdate))
    )
    module.register_generators = hookimpl(lambda register: register("half_latent", half_latent))
    registry = Registry.from_entry_points()
    assert registry.add_plugin("bad_regularisers", lambda: module, package="bad-pack").error is None
    return registry


@pytest.mark.parametrize(
    "kind, name, params, fragments",
    [
        ("penalty", "points", {}, ["points = 'nowhere'", "'real', 'fake' or 'interpolated'"]),
        ("generator_penalty", "lengths", {"every": 0}, ["every = 0", "an int >= 1"]),
        ("generator_penalty", "lengths", {"batch_shrink": 0}, ["batch_shrink = 0", "an int >= 1"]),
        ("generator_penalty", "lengths", {"state": {"mean": "zero"}}, ["state = ", "a dict of names to floats"]),
        ("generator_penalty", "lengths", {"state": [0.0]}, ["state = ", "a dict of names to floats"]),
        ("generator_penalty", "no_update", {}, ["which has no updated", "from_latent_gradients(gradients, state)"]),
        ("generator", "half_latent", {}, ["with mapping but no synthesis", "both", "or neither"]),
    ],
)
def test_a_regulariser_or_generator_that_breaks_the_contract_is_refused_naming_its_plugin(
    bad, kind, name, params, fragments
):
    args = (DataSpec(4, 4, 1), 3) if kind == "generator" else ()
    with pytest.raises(PluginError) as error:
        made(kind, name, bad, *args, **params)
    message = str(error.value)
    assert f"{kind} {name!r} of plugin 'bad_regularisers' (bad-pack)" in message
    assert all(fragment in message for fragment in fragments), message


def test_a_bool_is_no_interval():
    with pytest.raises(PluginError, match="generator_penalty 'x' of plugin 'p'.* every = True; it must be an int >= 1"):
        contract.check_returned("generator_penalty", "generator_penalty 'x' of plugin 'p'", Lengths(every=True))


def test_the_generator_protocol_lists_the_latent_parts_as_optional():
    assert contract.OPTIONAL["generator"] == {"linear_output": False, "mapping": None, "synthesis": None}
    assert contract.required("generator_penalty") == [
        "every",
        "batch_shrink",
        "state",
        "from_latent_gradients",
        "updated",
    ]


# -- the toy generator with an intermediate latent ----------------------------------------------------------


@pytest.mark.parametrize("num_ws", [2, 0])
def test_the_toy_latent_generator_is_synthesis_of_mapping(num_ws):
    registry = toy_latent.registry()
    factory = registry.get("generator", "toy_latent").load_factory()
    model = testing.check_generator(factory, DataSpec(8, 8, 1), latent_dim=4, num_ws=num_ws, w_dim=5)
    noise = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    latent = np.asarray(model.mapping(noise))
    assert latent.shape == ((3, 2, 5) if num_ws else (3, 5))
    assert np.array_equal(np.asarray(model.synthesis(latent)), np.asarray(model(noise)))
    assert len(model.weights) == len(model.mapping.weights) + len(model.synthesis.weights)  # shared, not copied


def test_check_generator_catches_a_synthesis_that_is_not_the_generators():
    def factory(spec, latent_dim):
        model = toy_latent.build(spec, latent_dim)
        model.synthesis = toy_latent.build(spec, latent_dim).synthesis  # other weights
        return model

    with pytest.raises(testing.ContractError, match=r"synthesis\(mapping\(inputs\)\) differs from generator"):
        testing.check_generator(factory, DataSpec(8, 8, 1), latent_dim=4)
