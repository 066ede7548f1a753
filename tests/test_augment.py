"""DiffAugment: each transform as the paper defines it, gradients through it, the recipe table and its
bad input, and runs that resume exactly and compute the same on TensorFlow and JAX (spectral norm's
JAX check runs here too: one JAX process for both)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY_RECIPE, assert_user_error, invoke_cli, write
from test_engine import saved_arrays, start_run

from ganforge.training.augment import augment, color, cutout, translation
from ganforge.training.trainer import train


def params_for(batch: int, **columns) -> np.ndarray:
    """Uniform parameters (B, 7), with the named columns set."""
    index = {"brightness": 0, "saturation": 1, "contrast": 2, "rows": 3, "columns": 4, "cut_rows": 5, "cut_columns": 6}
    params = np.full((batch, 7), 0.5, np.float32)
    for name, value in columns.items():
        params[:, index[name]] = value
    return params


def test_translation_shifts_whole_pixels_and_fills_with_zeros():
    images = np.random.default_rng(0).uniform(-1, 1, (1, 16, 16, 2)).astype(np.float32)
    # side 16: shifts of -2..2 pixels; 0.9 -> floor(0.9 * 5) - 2 = +2 rows, 0.1 -> -2 columns
    out = np.asarray(translation(images, params_for(1, rows=0.9, columns=0.1)))
    expected = np.zeros_like(images)
    expected[:, :14, 2:] = images[:, 2:, :14]  # output row i is input row i + 2; column j is input column j - 2
    np.testing.assert_array_equal(out, expected)
    unshifted = np.asarray(translation(images, params_for(1, rows=0.5, columns=0.5)))
    np.testing.assert_array_equal(unshifted, images)


def test_cutout_zeroes_a_square_of_half_the_side():
    images = np.ones((1, 16, 16, 3), np.float32)
    # centre floor(0.25 * 17) = 4: rows and columns 4 - 4 = 0 .. 7
    out = np.asarray(cutout(images, params_for(1, cut_rows=0.25, cut_columns=0.25)))
    assert (out[0, :8, :8] == 0).all() and out[0, 8:].all() and out[0, :, 8:].all()
    corner = np.asarray(cutout(images, params_for(1, cut_rows=0.0, cut_columns=0.99)))
    assert (corner[0] == 0).sum() == 4 * 4 * 3  # centred on the edge: a quarter of the square falls inside


def test_color_is_the_papers_brightness_saturation_and_contrast():
    rng = np.random.default_rng(1)
    images = rng.uniform(-1, 1, (2, 4, 4, 3)).astype(np.float32)
    params = rng.uniform(0, 1, (2, 7)).astype(np.float32)
    x = images + (params[:, 0] - 0.5)[:, None, None, None]
    mean = x.mean(axis=3, keepdims=True)
    x = (x - mean) * (2 * params[:, 1])[:, None, None, None] + mean
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * (params[:, 2] + 0.5)[:, None, None, None] + mean
    np.testing.assert_allclose(np.asarray(color(images, params)), x, rtol=1e-5, atol=1e-6)


def test_gradients_flow_through_every_transform():
    import tensorflow as tf

    images = tf.Variable(np.random.default_rng(2).uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32))
    params = np.random.default_rng(3).uniform(0, 1, (2, 7)).astype(np.float32)
    with tf.GradientTape() as tape:
        out = augment(images, params, ("color", "translation", "cutout"))
        loss = tf.reduce_sum(out * out)
    gradient = tape.gradient(loss, images).numpy()
    assert np.isfinite(gradient).all() and (gradient != 0).mean() > 0.3  # cutout and shifts zero some pixels


@pytest.mark.parametrize(
    ("setting", "fragments"),
    [
        ('augment.policy="color,cutuot"', ("augment.policy", "unknown augmentation 'cutuot'; did you mean 'cutout'?")),
        ('augment.policy="color,color"', ("augment.policy", "listed twice")),
    ],
)
def test_a_policy_that_does_not_exist_is_refused_with_a_suggestion(tmp_path, tiny_recipe, setting, fragments):
    assert_user_error(invoke_cli("recipe", "check", str(tiny_recipe), "--set", setting, cwd=tmp_path), *fragments)


def test_augmenting_data_that_are_not_images_is_refused(tmp_path):
    recipe = write(tmp_path / "ring.toml", 'extends = "' + str(_recipes() / "ring8.toml") + '"\nname = "ring"\n')
    done = invoke_cli("recipe", "check", str(recipe), "--set", 'augment.policy="translation"', cwd=tmp_path)
    assert_user_error(done, "augment.policy", "DiffAugment transforms images")


def _recipes():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "recipes"


AUGMENTED = ['augment.policy="color,translation,cutout"']


def test_an_augmented_run_resumes_exactly_and_differs_from_an_unaugmented_one(tiny_recipe, tiny_run, tmp_path):
    """The tiny recipe augmented, 6 steps; resumed from its own step-3 checkpoint in another folder, it ends
    with the same weights; the tiny run without augmentation ends with others."""
    whole = train(*start_run(tiny_recipe, tmp_path / "whole", AUGMENTED))
    recipe, folder = start_run(tiny_recipe, tmp_path / "resumed", AUGMENTED)
    resumed = train(recipe, folder, resume_from=whole.run_dir / "checkpoints" / "step_00000003.npz")
    assert whole.checkpoint.name == resumed.checkpoint.name == "step_00000006.npz"
    whole_arrays, resumed_arrays = saved_arrays(whole.checkpoint), saved_arrays(resumed.checkpoint)
    for key in whole_arrays:
        np.testing.assert_array_equal(whole_arrays[key], resumed_arrays[key], err_msg=key)
    plain_arrays = saved_arrays(tiny_run / "checkpoints" / whole.checkpoint.name)
    assert any(not np.array_equal(plain_arrays[key], whole_arrays[key]) for key in whole_arrays)


@pytest.mark.slow
def test_on_jax_augmentation_and_spectral_norm_compute_as_on_tensorflow(tmp_path):
    """From one TensorFlow checkpoint each, two more steps on each backend: the same losses and weights
    (spectral norm's u and v included)."""
    pytest.importorskip("jax")
    from test_distribute import losses, weights
    from test_jax import tensorflow_then_jax

    # one variant covers all three: augmentation of every D input (the penalty's points too) and spectral
    # norm. R1 through batch norm (double backprop) already differs between the backends by float noise, with
    # or without augmentation; the spectrally normalised discriminator has no batch norm.
    r1 = ['penalty={ name = "r1", gamma = 1.0 }', "discriminator.spectral_norm=true"]
    # and ADA with its adaptive p (moving fast, so the steps compared use p > 0) and R2 at fakes: its colour
    # group, since what a training step adds to the pipeline (tests/test_ada.py: bgc's images and gradients,
    # TF = JAX) is p's update and the points R1 and R2 see, the same for every pipeline
    ada = ['augment.pipeline="c"', "augment.adaptive=true", "augment.interval=1", "augment.speed_images=200"]
    r1_r2 = ['penalty=[{ name = "r1", gamma = 1.0 }, { name = "r2", gamma = 1.0 }]', "discriminator.spectral_norm=true"]
    variants = {"augmented_r1_sn": [*AUGMENTED, *r1], "ada_r1_r2_sn": [*ada, *r1_r2]}
    out = tensorflow_then_jax(tmp_path, variants, then={}, recipe_text=TINY_RECIPE)
    for name in variants:
        np.testing.assert_allclose(losses(out / f"{name}-jax")[-2:], losses(out / name)[-2:], rtol=2e-4, atol=1e-5)
        expected, found = weights(out / name, 4), weights(out / f"{name}-jax", 4)
        # R1 and R2 through ADA's transforms differentiate them twice, summed in another order on each
        # backend: Adam's moments of D then differ by up to 7e-5 (measured with bgc)
        atol = 1e-4 if name.startswith("ada") else 1e-5
        for key in expected:
            np.testing.assert_allclose(found[key], expected[key], rtol=1e-3, atol=atol, err_msg=f"{name}: {key}")
        if name.startswith("ada"):  # p moved, and moved alike
            p = [json.loads(line)["augment/p"] for line in (out / name / "metrics.jsonl").read_text().splitlines()]
            p_jax = [
                json.loads(line)["augment/p"]
                for line in (out / f"{name}-jax" / "metrics.jsonl").read_text().splitlines()
            ]
            assert p[-1] > 0 and p_jax[-2:] == pytest.approx(p[-2:], abs=1e-6)
