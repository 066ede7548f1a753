"""The GAN objective is written once (training/objective.py): a term added through the public plugin
contract reaches D's loss on TensorFlow and on JAX alike, with the value its definition gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import write
from toy_regulariser import RECIPE, WEIGHT, discriminator_losses, real_points, registry

TESTS = Path(__file__).parent
ON_JAX = """
import json, sys
sys.modules["tensorflow"] = None  # the JAX engine must not need TensorFlow
sys.path.insert(0, sys.argv[1])
from toy_regulariser import discriminator_losses
variants = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
print(json.dumps(discriminator_losses(sys.argv[2], sys.argv[3], variants)))
"""


def expected_term(recipe: Path, weights: Path) -> float:
    """The toy regulariser's value computed here, with a tape of this test's own on D at the real points."""
    import tensorflow as tf

    from ganforge.recipe import load_recipe
    from ganforge.training.assembly import build_parts

    plugins = registry()
    parts = build_parts(load_recipe(recipe, registry=plugins), plugins)
    saved = np.load(weights)
    arrays = [saved[f"arr_{index}"] for index in range(len(saved.files))]
    parts.discriminator.set_weights(arrays[len(parts.generator.get_weights()) :])
    points = tf.constant(real_points()[0])
    with tf.GradientTape() as tape:
        tape.watch(points)
        total = tf.reduce_sum(parts.discriminator(points, training=True))
    gradients = tape.gradient(total, points).numpy().astype(np.float64)
    return WEIGHT * float(np.mean(np.sum(gradients**2, axis=1)))


@pytest.fixture(scope="module")
def on_tensorflow(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy_regulariser")
    recipe, weights = write(folder / "toy.toml", RECIPE), folder / "weights.npz"
    return recipe, weights, discriminator_losses(recipe, weights)


def test_a_regulariser_registered_by_a_plugin_adds_its_value_to_ds_loss(on_tensorflow):
    recipe, weights, losses = on_tensorflow
    expected = expected_term(recipe, weights)
    assert expected > 0.01  # a term that is there to be seen
    assert losses["with"] - losses["without"] == pytest.approx(expected, rel=1e-4)


@pytest.mark.slow
def test_the_same_regulariser_gives_the_same_loss_on_jax(on_tensorflow):
    recipe, weights, tensorflow = on_tensorflow
    result = subprocess.run(
        [sys.executable, "-c", ON_JAX, str(TESTS), str(recipe), str(weights)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jax = json.loads(result.stdout.strip().splitlines()[-1])
    assert jax["without"] == pytest.approx(tensorflow["without"], rel=1e-5)
    assert jax["with"] - jax["without"] == pytest.approx(tensorflow["with"] - tensorflow["without"], rel=1e-4)
