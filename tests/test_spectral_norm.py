"""Spectral normalization as Miyato et al. define it: checked against PyTorch's ``spectral_norm`` call by
call (outputs, power-iteration vectors, gradients through σ), and in ganforge's DCGAN discriminator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from test_engine import saved_arrays, start_run

from ganforge.layers import SpectralNorm
from ganforge.runs import checkpoint
from ganforge.training.trainer import train

HERE = Path(__file__).parent


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def conv_case(rng):
    """A Conv2D and PyTorch's Conv2d with the same weights; v's entries reordered between the layouts."""
    weight = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)  # (out, in, kh, kw)
    layer = keras.layers.Conv2D(6, 3, padding="same")
    x = rng.standard_normal((2, 5, 5, 4)).astype(np.float32)
    v_torch = unit(rng.standard_normal(4 * 3 * 3))
    ours = {"kernel": weight.transpose(2, 3, 1, 0), "v": v_torch.reshape(4, 3, 3).transpose(1, 2, 0).ravel()}
    ours["v_to_torch"] = lambda v: v.reshape(3, 3, 4).transpose(2, 0, 1).ravel()
    ours["grad_to_torch"] = lambda grad: grad.transpose(3, 2, 0, 1)
    return weight, layer, x, v_torch, ours


def dense_case(rng):
    weight = rng.standard_normal((5, 7)).astype(np.float32)  # (out, in)
    v_torch = unit(rng.standard_normal(7))
    ours = {"kernel": weight.T, "v": v_torch, "v_to_torch": lambda v: v, "grad_to_torch": lambda grad: grad.T}
    return weight, keras.layers.Dense(5), rng.standard_normal((3, 7)).astype(np.float32), v_torch, ours


@pytest.mark.slow
@pytest.mark.parametrize("case", [conv_case, dense_case], ids=["conv2d", "dense"])
def test_each_training_call_matches_pytorchs_spectral_norm(pytorch, tmp_path, case):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    weight, layer, x, v_torch, ours = case(rng)
    bias, u = rng.standard_normal(weight.shape[0]).astype(np.float32), unit(rng.standard_normal(weight.shape[0]))
    out_shape = layer.compute_output_shape(x.shape)
    r = rng.standard_normal(out_shape).astype(np.float32)
    np.savez(tmp_path / "inputs.npz", weight=weight, bias=bias, u=u, v=v_torch, x=x, r=r)
    env = {**os.environ, "PYTHONPATH": str(pytorch), "PYTHONWARNINGS": "ignore"}
    subprocess.run([sys.executable, str(HERE / "spectral_norm_reference.py"), str(tmp_path)], env=env, check=True)
    expected = np.load(tmp_path / "torch.npz")

    wrapped = SpectralNorm(layer)
    wrapped.build(x.shape)
    layer.kernel.assign(ours["kernel"])
    layer.bias.assign(bias)
    wrapped.u.assign(u)
    wrapped.v.assign(ours["v"])
    for call in range(3):
        with tf.GradientTape() as tape:
            out = wrapped(x, training=True)
            loss = tf.reduce_sum(out * r)
        grad = tape.gradient(loss, layer.kernel.value)
        np.testing.assert_allclose(out, expected[f"out_{call}"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(wrapped.u.numpy(), expected[f"u_{call}"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours["v_to_torch"](wrapped.v.numpy()), expected[f"v_{call}"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours["grad_to_torch"](grad.numpy()), expected[f"grad_{call}"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(wrapped(x, training=False), expected["eval_out"], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.kernel.numpy(), ours["kernel"])  # a reparametrisation: W itself unchanged


def test_the_normalised_kernel_has_largest_singular_value_one():
    rng = np.random.default_rng(1)
    layer = keras.layers.Conv2D(8, 3)
    wrapped = SpectralNorm(layer, power_iterations=30)
    wrapped.build((None, 9, 9, 3))
    layer.kernel.assign(3.0 * rng.standard_normal(layer.kernel.shape).astype(np.float32))
    normalized = np.asarray(wrapped.normalized_weight(training=True))
    matrix = np.moveaxis(normalized, -1, 0).reshape(8, -1)
    assert np.linalg.svd(matrix, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-4)
    assert np.linalg.svd(np.moveaxis(layer.kernel.numpy(), -1, 0).reshape(8, -1), compute_uv=False)[0] > 3


def test_a_layer_without_a_kernel_to_normalise_is_refused():
    with pytest.raises(
        ValueError, match="spectral norm cannot wrap a BatchNormalization layer; it wraps Dense, Conv1D"
    ):
        SpectralNorm(keras.layers.BatchNormalization())
    with pytest.raises(ValueError, match="power_iterations must be >= 1"):
        SpectralNorm(keras.layers.Dense(3), power_iterations=0)


def test_the_dcgan_discriminator_with_spectral_norm_resumes_exactly(tiny_recipe, tmp_path):
    """4 steps, checkpoints at 2 and 4; resumed from its own step-2 checkpoint in another folder, the run
    ends with the same weights, u and v included."""
    overrides = ["discriminator.spectral_norm=true", "train.steps=4", "train.checkpoint_every=2"]
    whole = train(*start_run(tiny_recipe, tmp_path / "whole", overrides))
    half = whole.run_dir / "checkpoints" / "step_00000002.npz"
    recipe, folder = start_run(tiny_recipe, tmp_path / "resumed", overrides)
    resumed = train(recipe, folder, resume_from=half)
    whole_arrays, resumed_arrays = saved_arrays(whole.checkpoint), saved_arrays(resumed.checkpoint)
    layout = checkpoint.read_header(whole.checkpoint)["layout"]["discriminator"]
    vectors = [f"discriminator/{index:05d}" for index, (path, _) in enumerate(layout) if path.endswith(("/u", "/v"))]
    assert len(vectors) == 2 * 4, layout  # u and v of the 3 convolutions and the output layer
    assert whole.checkpoint.name == resumed.checkpoint.name == "step_00000004.npz"
    for key in whole_arrays:
        np.testing.assert_array_equal(whole_arrays[key], resumed_arrays[key], err_msg=key)
    changed = saved_arrays(half)
    assert any(not np.array_equal(changed[key], whole_arrays[key]) for key in vectors)  # u, v moved while training
