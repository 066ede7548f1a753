"""Several regularisers per recipe, lazy ones in updates of their own (StyleGAN2's), and G-side ones:
R1 + R2 against a NumPy float64 reference, exact resume across the lazy updates, and the recipe's
refusals of what cannot be trained."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import toy_latent
from conftest import TINY_RECIPE, assert_user_error, invoke_cli, write
from test_engine import saved_arrays
from toy_regulariser import RECIPE, discriminator_losses, real_points

from ganforge.recipe import load_recipe
from ganforge.runs import checkpoint
from ganforge.training.trainer import train

R1_GAMMA, R2_GAMMA = 3.0, 5.0
R1_AND_R2 = [f'penalty=[{{ name = "r1", gamma = {R1_GAMMA} }}, {{ name = "r2", gamma = {R2_GAMMA} }}]']


# -- R1 + R2: the values of their definitions -----------------------------------------------------
TANH = ["discriminator.activation=tanh"]
R1_R2_VARIANTS = {"without": TANH, "with": [*TANH, *R1_AND_R2]}


def mlp(weights: list[np.ndarray], x: np.ndarray, activation) -> list[np.ndarray]:
    """The toy MLP's layers in float64 (Dense, activation, ..., Dense): every layer's output."""
    outputs = [x.astype(np.float64)]
    pairs = list(zip(weights[::2], weights[1::2]))
    for index, (kernel, bias) in enumerate(pairs):
        y = outputs[-1] @ kernel.astype(np.float64) + bias
        outputs.append(y if index == len(pairs) - 1 else activation(y))
    return outputs


def tanh_input_gradients(weights: list[np.ndarray], points: np.ndarray) -> np.ndarray:
    """d sum(D(x)) / dx in float64 for the toy D (tanh hidden layers)."""
    outputs = mlp(weights, points, np.tanh)
    back = np.ones((len(points), 1))
    for layer in range(len(weights) // 2 - 1, -1, -1):
        back = back @ weights[2 * layer].T.astype(np.float64)
        if layer > 0:
            back = back * (1 - outputs[layer] ** 2)
    return back


def r1_r2_reference(weights_path) -> tuple[float, float]:
    """R1 at step 0's real points and R2 at its fakes (G's relu MLP on step 0's noise), all in float64."""
    from ganforge import streams

    saved = np.load(weights_path)
    arrays = [saved[f"arr_{index}"] for index in range(len(saved.files))]
    generator, discriminator = arrays[:6], arrays[6:]
    noise = streams.step_draws(5, 0, 1, 16, 4, 0.0).noise[0]  # the toy recipe's seed, batch and latent size
    fake = mlp(generator, noise, lambda y: np.maximum(y, 0.0))[-1]
    real = real_points()[0]
    r1 = R1_GAMMA / 2 * np.mean(np.sum(tanh_input_gradients(discriminator, real) ** 2, axis=1))
    r2 = R2_GAMMA / 2 * np.mean(np.sum(tanh_input_gradients(discriminator, fake) ** 2, axis=1))
    return r1, r2


@pytest.fixture(scope="module")
def r1_r2(tmp_path_factory):
    """The toy recipe with and without R1 + R2: its step-0 D losses on TensorFlow, the weights they
    started from, and the float64 reference of the two terms."""
    folder = tmp_path_factory.mktemp("r1_r2")
    recipe, weights = write(folder / "toy.toml", RECIPE), folder / "weights.npz"
    found = discriminator_losses(recipe, weights, R1_R2_VARIANTS)
    return recipe, weights, found, r1_r2_reference(weights)


def test_r1_and_r2_in_one_recipe_equal_their_float64_definitions(r1_r2):
    recipe, weights, found, (r1, r2) = r1_r2
    assert r1 > 0.01 and r2 > 0.01  # terms there to be seen
    # each term alone, as the objective computes it, to 1e-6
    from ganforge.training.assembly import build_parts
    from ganforge.training.engines.tensorflow.step import Judge
    from ganforge.training.objective import penalty_value

    parts = build_parts(load_recipe(recipe, R1_R2_VARIANTS["with"]))
    saved = np.load(weights)
    parts.discriminator.set_weights([saved[f"arr_{index}"] for index in range(6, len(saved.files))])
    parts.generator.set_weights([saved[f"arr_{index}"] for index in range(6)])
    assert [term.points for term in parts.penalties] == ["real", "fake"]
    fake = parts.generator(streams_noise(), training=True)
    judge = Judge(parts.discriminator)
    terms = [float(penalty_value(judge, t.component, x)) for t, x in zip(parts.penalties, (real_points()[0], fake))]
    np.testing.assert_allclose(terms, [r1, r2], rtol=1e-6)
    # and in D's loss of a whole step, beside the adversarial loss (float32 sums: a looser tolerance)
    assert found["with"] - found["without"] == pytest.approx(r1 + r2, rel=1e-5)


def streams_noise() -> np.ndarray:
    from ganforge import streams

    return streams.step_draws(5, 0, 1, 16, 4, 0.0).noise[0]


@pytest.mark.slow
def test_r1_and_r2_in_one_recipe_give_the_same_values_on_jax(r1_r2):
    from test_objective import ON_JAX, TESTS

    recipe, weights, on_tensorflow, (r1, r2) = r1_r2
    result = subprocess.run(
        [sys.executable, "-c", ON_JAX, str(TESTS), str(recipe), str(weights), json.dumps(R1_R2_VARIANTS)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    on_jax = json.loads(result.stdout.strip().splitlines()[-1])
    assert on_jax["without"] == pytest.approx(on_tensorflow["without"], rel=1e-5)
    assert on_jax["with"] - on_jax["without"] == pytest.approx(r1 + r2, rel=1e-5)


# -- lazy regularisers and path length: exact resume ---------------------------------------------
LAZY = [
    'penalty={ name = "r1", gamma = 1.0, every = 16 }',
    'generator_penalty={ name = "path_length", every = 4 }',
    "generator.name=toy_latent",
    # R1 through batch norm (double backprop) differs between the backends by float noise that grows with
    # the steps (tests/test_augment.py): a spectrally normalised D has none
    "discriminator.spectral_norm=true",
    "train.steps=12",
    "train.checkpoint_every=6",
    "train.log_every=1",
    "train.sample_every=100",
    "train.d_steps=2",
]


@pytest.fixture(scope="module")
def lazy_runs(tmp_path_factory):
    """The lazy recipe trained 12 steps straight, and again from the straight run's step-6 checkpoint."""
    folder = tmp_path_factory.mktemp("lazy")
    registry = toy_latent.registry()
    recipe_path = write(folder / "tiny.toml", TINY_RECIPE)
    recipe = load_recipe(recipe_path, LAZY, registry)
    whole = train(recipe, _run_folder(folder / "whole", recipe), registry=registry)
    halfway = whole.run_dir / "checkpoints" / "step_00000006.npz"
    resumed = train(recipe, _run_folder(folder / "resumed", recipe), resume_from=halfway, registry=registry)
    return recipe_path, whole.run_dir, resumed.run_dir


def _run_folder(folder, recipe):
    from ganforge.runs import folder as run_folder

    return run_folder.create(folder / "runs", recipe.name, recipe.to_toml())


FINAL = "step_00000012.npz"


@pytest.mark.slow
def test_lazy_r1_and_path_length_resume_exactly_across_their_updates(lazy_runs):
    """12 steps straight, and 6 then 6 more from the step-6 checkpoint (R1 due again at D's update 16, in
    step 8, and the path length at step 8): the same bits, the path-length mean and the optimizers'
    counters (which count the regularisers' own updates) included."""
    _, whole, resumed = lazy_runs
    whole_arrays = saved_arrays(whole / "checkpoints" / FINAL)
    resumed_arrays = saved_arrays(resumed / "checkpoints" / FINAL)
    assert whole_arrays.keys() == resumed_arrays.keys()
    for key in whole_arrays:
        np.testing.assert_array_equal(whole_arrays[key], resumed_arrays[key], err_msg=key)
    (mean,) = [value for key, value in whole_arrays.items() if key.startswith("objective/")]
    assert mean > 0  # the running mean of path lengths moved from its start, and was saved
    logged = [r["generator_penalty0/mean"] for r in records(whole) if "generator_penalty0/mean" in r]
    assert logged[-1] == pytest.approx(float(mean), rel=1e-6)
    # the regularisers' updates are counted by the optimizers: D paid R1 at updates 0 and 16 of 24,
    # G the path length at steps 0, 4, 8 of 12
    layout = checkpoint.read_header(whole / "checkpoints" / FINAL)["layout"]
    iterations = {
        group: int(whole_arrays[f"{group}/{index:05d}"])
        for group in ("discriminator_optimizer", "generator_optimizer")
        for index, (path, _) in enumerate(layout[group])
        if path.endswith("iteration")
    }
    assert iterations == {"discriminator_optimizer": 24 + 2, "generator_optimizer": 12 + 3}


ON_JAX = """
import json, sys
from pathlib import Path
sys.modules["tensorflow"] = None  # the JAX engine must not need TensorFlow
sys.path.insert(0, sys.argv[1])
import toy_latent
from ganforge.recipe import load_recipe
from ganforge.runs import folder as run_folder
from ganforge.training.trainer import train
registry = toy_latent.registry()
recipe = load_recipe(sys.argv[2], ["backend=jax", *json.loads(sys.argv[4])], registry)
folder = run_folder.create(Path(sys.argv[3]), recipe.name, recipe.to_toml())
print(train(recipe, folder, resume_from=Path(sys.argv[5]), registry=registry).run_dir)
"""


@pytest.mark.slow
def test_lazy_r1_and_path_length_train_on_jax_as_on_tensorflow(lazy_runs, tmp_path):
    """From the TensorFlow run's step-6 checkpoint, 6 steps on JAX (R1 due at D's update 16, the path
    length at step 8): the TensorFlow run's losses and weights, to the backends' tolerance."""
    recipe_path, whole, _ = lazy_runs
    halfway = whole / "checkpoints" / "step_00000006.npz"
    args = [str(Path(__file__).parent), str(recipe_path), str(tmp_path / "runs"), json.dumps(LAZY), str(halfway)]
    result = subprocess.run(
        [sys.executable, "-c", ON_JAX, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    on_jax = Path(result.stdout.strip().splitlines()[-1])
    expected, found = losses(records(whole))[-6:], losses(records(on_jax))[-6:]
    np.testing.assert_allclose(found, expected, rtol=2e-4, atol=1e-5)
    tensorflow_arrays, jax_arrays = (
        saved_arrays(whole / "checkpoints" / FINAL),
        saved_arrays(on_jax / "checkpoints" / FINAL),
    )
    for key in tensorflow_arrays:
        np.testing.assert_allclose(jax_arrays[key], tensorflow_arrays[key], rtol=1e-3, atol=1e-5, err_msg=key)


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def losses(rows: list[dict]) -> np.ndarray:
    return np.array([[r["loss/discriminator"], r["loss/generator"]] for r in rows if "loss/generator" in r])


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "overrides, key, fragment",
    [
        (['loss.name="wgan"', 'penalty={ name = "r1" }'], "penalty.name", "cannot take penalty"),
        (['penalty=[{ name = "r1" }, { name = "r1", gamma = 2.0 }]'], "penalty[1].name", "listed twice"),
        (
            ['penalty=[{ name = "r1", every = 16 }, { name = "r2", every = 4 }]'],
            "penalty[1].every",
            "share one interval",
        ),
        (['generator_penalty={ name = "path_length" }'], "generator_penalty.name", "intermediate latent"),
        (
            [
                'generator_optimizer.learning_rate={ shape = "cosine", initial = 1e-3, final = 1e-4, start_images = 500, end_images = 100 }'
            ],
            "generator_optimizer.learning_rate",
            "before it starts",
        ),
        (
            ['generator_optimizer.beta_2={ shape = "cosine", initial = 0.99, final = 0.9, end_image = 100 }'],
            "generator_optimizer.beta_2.end_image",
            "did you mean 'end_images'",
        ),
        (
            [
                'generator_optimizer.learning_rate={ shape = "constant", initial = 1e-3 }',
                "generator_optimizer.schedule=cosine",
            ],
            "generator_optimizer.schedule",
            "decay it twice",
        ),
        (['penalty={ name = "r1" }', "penalty[3].gamma=1.0"], "penalty[3]", "no table penalty[3] (it lists 1"),
        (['augment.pipeline="bgc"', "augment.p=1.5"], "augment.p", "1"),
        (['augment.pipeline="bgc"', "augment.adaptive=true", "augment.target=1.0"], "augment.target", "less than 1"),
        (["augment.p=0.5"], "augment.p", "pipeline"),
        (['augment.pipeline="bgc"', 'augment.policy="color"'], "augment.pipeline", "keep one"),
        (["train.ema_decay=0.9", "train.ema_images=10000"], "train.ema_images", "keep one"),
    ],
)
def test_a_bad_regulariser_schedule_or_augmentation_is_refused_before_anything_is_written(
    tmp_path, overrides, key, fragment
):
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE)
    args = [value for override in overrides for value in ("--set", override)]
    result = invoke_cli("run", str(recipe), *args, cwd=tmp_path)
    assert_user_error(result, "--set", key, fragment)
    assert not (tmp_path / "runs").exists()


def test_one_table_of_several_is_set_by_its_index(tmp_path):
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE)
    both = 'penalty=[{ name = "r1", gamma = 1.0 }, { name = "r2", gamma = 1.0, every = 4 }]'
    loaded = load_recipe(recipe, [both, "penalty[1].gamma=0.5", "penalty[0].scale=2.0"])
    assert loaded.data["penalty"] == [
        {"name": "r1", "gamma": 1.0, "every": 1, "scale": 2.0},
        {"name": "r2", "gamma": 0.5, "every": 4},
    ]


def test_ada_on_data_that_is_not_images_is_refused(tmp_path):
    recipe = write(tmp_path / "points.toml", RECIPE)
    result = invoke_cli("run", str(recipe), "--set", 'augment.pipeline="bgc"', cwd=tmp_path)
    assert_user_error(result, "--set", "augment.pipeline", "ADA transforms images")
