"""ADA's augmentation pipeline (ganforge/training/ada.py): each transform against its definition, the
composed matrices against the products of the single ones, whole pipelines against a NumPy float64
reference that takes the reference implementation's route (tests/ada_reference.py), the gates'
probabilities, exact pass-through at p = 0, gradients, and TensorFlow = JAX.

Tolerances. Float32 against float64: 1e-6 for matrices; 1e-4 of the largest value for resampled images
(a float32 coordinate of an upsampled 16-pixel image is off by ~1e-5 pixel, the noise images change by ~2
a pixel). Moves that are exact by the filter's design (the identity, whole-pixel translations: the sym6
filter is orthogonal, so upsampling then downsampling gives the image back) to 1e-5. Flips and 90-degree
rotations go through the filter's response at a mirrored phase, a ~0.1-pixel shift and a slight blur, so
they are checked on a smooth image (slopes of at most ~0.1 a pixel) to 0.02, where a wrong transform is off
by more than 1. General transforms are checked against the smooth image's formula at the transformed
points, away from the borders, to 0.01 (bilinear reading of the 2x upsampled image); wrong ones are off by
0.15 or more."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import ada_reference as ref
import numpy as np
import pytest
import tensorflow as tf

from ganforge import backend

keras = backend.keras()
ops = keras.ops

from ganforge.training import ada  # noqa: E402  (after Keras, on TensorFlow)

PIPELINES = ("b", "g", "c", "bg", "bgc")
SIZE = 32


def tensor(values):
    return ops.convert_to_tensor(np.asarray(values, np.float32))


def smooth(x, y):
    """A low-frequency, asymmetric image as a formula of the pixel coordinates (periods of 2-3 image sizes)."""
    return 0.6 * np.cos(2 * np.pi * x / 64 + 0.4) * np.cos(2 * np.pi * y / 80 - 0.3) + 0.3 * np.sin(
        2 * np.pi * (x + 2 * y) / 96
    )


def smooth_image():
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    return smooth(x, y)[None, :, :, None].astype(np.float32)


def noise(batch, height, width, channels, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (batch, height, width, channels)).astype(np.float32)
    return images, rng.uniform(size=(batch, ada.COLUMNS)).astype(np.float32)


def warped(image, matrix):
    return np.asarray(ada.warp(tensor(image), matrix))


# -- the layout and the pipelines' names ----------------------------------------------------------------


def test_the_column_layout_is_the_documented_one():
    assert ada.COLUMNS == ref.COLUMNS == 33
    assert ada.FIRST == {name: first for name, (first, _) in ref.LAYOUT.items()}
    for line in ("0-1     x-flip", "17-19   fractional transl.", "30-32   saturation"):
        assert line in ada.__doc__


def test_a_pipeline_is_named_as_stylegan2_adas_and_a_wrong_name_is_refused_with_a_hint():
    assert ada.parse_pipeline("bgc") == ("blit", "geom", "color")
    assert ada.parse_pipeline("g") == ("geom",)
    with pytest.raises(ValueError, match=r"unknown ADA pipeline 'bgcf'; did you mean 'bgc'\?.*'bg'"):
        ada.parse_pipeline("bgcf")
    with pytest.raises(ValueError, match="1 or 3 channels"):
        ada.augment(np.zeros((1, 8, 8, 2), np.float32), np.zeros((1, ada.COLUMNS), np.float32), 0.5)


# -- each transform, with fixed parameters -------------------------------------------------------------


@pytest.mark.parametrize(
    "built, expected",
    [
        (lambda: ada.translate2d(tensor([2.0]), tensor([-3.5])), ref.translate2d(2.0, -3.5)),
        (lambda: ada.scale2d(tensor([1.7]), tensor([0.4])), ref.scale2d(1.7, 0.4)),
        (lambda: ada.rotate2d(tensor([0.3])), ref.rotate2d(0.3)),
        (lambda: ada.rotate2d(tensor([-2.9])), ref.rotate2d(-2.9)),
        (lambda: ada.quarter_turns2d(tensor([3.0])), ref.rotate2d(3 * np.pi / 2)),
        (lambda: ada.translate3d(tensor([0.25])), ref.translate3d(0.25)),
        (lambda: ada.scale3d(tensor([1.4])), ref.scale3d(1.4)),
        (lambda: ada.luma_flip(tensor([1.0])), ref.luma_flip(1.0)),
        (lambda: ada.luma_flip(tensor([0.0])), np.eye(4)),
        (lambda: ada.hue_rotation(tensor([2.2])), ref.hue_rotation(2.2)),
        (lambda: ada.saturation(tensor([0.3])), ref.saturation(0.3)),
    ],
)
def test_each_matrix_is_its_definition(built, expected):
    np.testing.assert_allclose(np.asarray(built())[0], expected, atol=1e-6)


def test_the_colour_matrices_do_what_their_names_say():
    grey, colour = np.array([0.3, 0.3, 0.3, 1.0]), np.array([0.5, -0.2, 0.1, 1.0])
    hue = np.asarray(ada.hue_rotation(tensor([1.1])))[0]
    np.testing.assert_allclose(hue @ grey, grey, atol=1e-6)  # the grey axis stays
    assert (hue @ colour)[:3].sum() == pytest.approx(colour[:3].sum(), abs=1e-6)  # so does the luma
    assert np.linalg.norm((hue @ colour)[:3]) == pytest.approx(np.linalg.norm(colour[:3]), abs=1e-6)
    assert np.abs(hue @ colour - colour).max() > 0.2
    np.testing.assert_allclose(np.asarray(ada.luma_flip(tensor([1.0])))[0] @ grey, [-0.3, -0.3, -0.3, 1], atol=1e-6)
    desaturated = np.asarray(ada.saturation(tensor([0.0])))[0] @ colour
    np.testing.assert_allclose(desaturated[:3], np.full(3, colour[:3].mean()), atol=1e-6)
    shifted = np.asarray(ada.translate3d(tensor([0.2])))[0] @ colour
    np.testing.assert_allclose(shifted, colour + [0.2, 0.2, 0.2, 0], atol=1e-6)


def test_a_whole_pixel_translation_moves_every_pixel_exactly_reflecting_at_the_borders():
    images, _ = noise(2, 12, 16, 3)
    shift = (3.0, -2.0)  # content moves 3 pixels right, 2 up
    out = warped(images, ada.translate2d(tensor([-shift[0]] * 2), tensor([-shift[1]] * 2)))
    rows = ref_reflected(np.arange(12) - int(shift[1]), 12)
    columns = ref_reflected(np.arange(16) - int(shift[0]), 16)
    np.testing.assert_allclose(out, images[:, rows][:, :, columns], atol=1e-5)


def ref_reflected(index, size):
    """Mirror padding (the edge pixel not repeated), as np.pad's "reflect" lays it."""
    return np.pad(np.arange(size), size, mode="reflect")[index + size]


def test_an_x_flip_and_90_degree_rotations_move_pixels_up_to_the_filter():
    image = smooth_image()
    flipped = warped(image, ada.scale2d(tensor([-1.0]), tensor([1.0])))
    np.testing.assert_allclose(flipped[0, :, :, 0], image[0, :, ::-1, 0], atol=0.02)
    assert np.abs(image[0, :, :, 0] - image[0, :, ::-1, 0]).max() > 1.0  # the check can tell
    for turns in (1, 2, 3):  # turns of the reference's G_inv: np.rot90's counter-clockwise ones on screen
        rotated = warped(image, ada.quarter_turns2d(tensor([turns])))
        np.testing.assert_allclose(rotated[0, :, :, 0], np.rot90(image[0, :, :, 0], turns), atol=0.02)
        assert np.abs(image[0, :, :, 0] - np.rot90(image[0, :, :, 0], turns)).max() > 1.0


@pytest.mark.parametrize(
    "inverse",
    [
        lambda: ada.rotate2d(tensor([0.7])),
        lambda: ada.scale2d(tensor([1 / 1.3]), tensor([1 / 1.3])),
        lambda: ada.scale2d(tensor([0.8]), tensor([1.25])),
        lambda: ada.translate2d(tensor([-2.4]), tensor([1.7])),
        lambda: ada.rotate2d(tensor([-0.4])) @ ada.scale2d(tensor([0.9]), tensor([1.1])),
    ],
)
def test_a_general_transform_reads_each_output_pixel_at_its_inverse_image(inverse):
    matrix = inverse()
    out = warped(smooth_image(), matrix)[0, :, :, 0]
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    centre = (SIZE - 1) / 2
    source = np.einsum("ij,jhw->ihw", np.asarray(matrix)[0], np.stack([x - centre, y - centre, np.ones_like(x)]))
    expected = smooth(source[0] + centre, source[1] + centre)
    inside = (np.abs(source[0]) < centre - 4) & (np.abs(source[1]) < centre - 4)  # the filter sees no border
    assert inside.sum() > 400
    np.testing.assert_allclose(out[inside], expected[inside], atol=0.01)
    assert np.abs(smooth_image()[0, :, :, 0] - expected)[inside].max() > 0.1


# -- the parameters, composed -----------------------------------------------------------------------------


def test_the_drawn_parameters_follow_the_layout_and_the_reference_defaults():
    _, uniforms = noise(256, 1, 1, 1, seed=3)
    mine = ada.draw(tensor(uniforms), 0.6, "bgc", 24, 40)
    expected = ref.draw(uniforms, 0.6, "bgc", 24, 40)
    assert mine.keys() == expected.keys()
    for name, values in expected.items():
        for got, want in zip(mine[name], values, strict=True):
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5, err_msg=name)


def _only(uniforms, names):
    """``uniforms`` with every gate shut but those of ``names`` (p = 0.5)."""
    gated = uniforms.copy()
    for name, first in ada.FIRST.items():
        gated[:, first] = 0.0 if name in names else 0.99
    return gated


def test_the_geometric_matrix_is_the_product_of_the_single_transforms_inverses_in_order():
    _, uniforms = noise(16, 1, 1, 1, seed=4)
    names = ada.GROUPS["blit"] + ada.GROUPS["geom"]
    singles = [np.asarray(ada.geometric_matrix(ada.draw(_only(uniforms, [n]), 0.5, "bg", 32, 32))) for n in names]
    whole = np.asarray(ada.geometric_matrix(ada.draw(_only(uniforms, names), 0.5, "bg", 32, 32)))
    product = singles[0]
    for single in singles[1:]:
        product = product @ single
    np.testing.assert_allclose(whole, product, rtol=1e-5, atol=1e-4)
    params = ref.draw(_only(uniforms, names), 0.5, "bg", 32, 32)
    for index in range(16):  # and the reference's: the forward matrices inverted, right-multiplied
        np.testing.assert_allclose(whole[index], ref.geometric_inverse(params, index), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("channels", [3, 1])
def test_the_colour_matrix_is_the_product_of_the_single_ones_in_order(channels):
    _, uniforms = noise(16, 1, 1, 1, seed=5)
    names = ada.GROUPS["color"]
    singles = [np.asarray(ada.color_matrix(ada.draw(_only(uniforms, [n]), 0.5, "c", 8, 8), 3)) for n in names]
    whole = np.asarray(ada.color_matrix(ada.draw(_only(uniforms, names), 0.5, "c", 8, 8), channels))
    kept = singles if channels == 3 else singles[:3]  # hue and saturation are RGB's only
    product = kept[0]
    for single in kept[1:]:
        product = single @ product
    np.testing.assert_allclose(whole, product, atol=1e-5)
    params = ref.draw(_only(uniforms, names), 0.5, "c", 8, 8)
    for index in range(16):
        np.testing.assert_allclose(whole[index], ref.color_matrix(params, index, channels), atol=1e-5)


# -- whole pipelines -------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("pipeline", PIPELINES)
def test_a_pipeline_equals_the_float64_reference(pipeline, channels):
    images, uniforms = noise(6, 16, 12, channels, seed=len(pipeline) + channels)
    out = np.asarray(ada.augment(tensor(images), tensor(uniforms), 0.8, pipeline))
    expected = ref.augment(images, uniforms, 0.8, pipeline)
    assert out.shape == images.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-4 * max(1.0, np.abs(expected).max()))
    assert np.abs(expected - images).max() > 0.5


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_p_zero_returns_the_images_bit_for_bit_and_p_one_changes_every_image(pipeline):
    images, uniforms = noise(8, 16, 16, 3, seed=6)
    for p in (0.0, tf.constant(0.0)):
        np.testing.assert_array_equal(np.asarray(ada.augment(tensor(images), tensor(uniforms), p, pipeline)), images)
    changed = np.asarray(ada.augment(tensor(images), tensor(uniforms), 1.0, pipeline)) != images
    assert changed.any(axis=(1, 2, 3)).all()


def test_each_transform_touches_about_p_of_the_images():
    p, count = 0.3, 4000
    _, uniforms = noise(count, 1, 1, 1, seed=7)
    params = {name: [np.asarray(v) for v in values] for name, values in ada.draw(uniforms, p, "bgc", 32, 32).items()}
    identity = {"xflip": 1, "scale": 1, "aniso": 1, "contrast": 1, "saturation": 1}
    touched = {name: np.any([v != identity.get(name, 0) for v in values], axis=0) for name, values in params.items()}
    p_rotate = 1 - math.sqrt(1 - p)
    expected = {  # a flip draws "no flip" half the time, quarter turns none a quarter of the time, and a
        "xflip": p / 2,  # whole shift of up to 4 pixels rounds to none on both axes 1/64 of the time
        "rotate90": p * 3 / 4,
        "xint": p * 63 / 64,
        "rotate_pre": p_rotate,
        "rotate_post": p_rotate,
        "lumaflip": p / 2,
    }
    for name, hit in touched.items():
        assert hit.mean() == pytest.approx(expected.get(name, p), abs=0.025), name
    assert (touched["rotate_pre"] | touched["rotate_post"]).mean() == pytest.approx(p, abs=0.025)


def test_the_images_no_gate_touches_pass_untouched_and_the_others_change():
    images, uniforms = noise(64, 8, 8, 3, seed=8)
    out = np.asarray(ada.augment(tensor(images), tensor(uniforms), 0.2, "c"))
    first = ada.FIRST["brightness"]
    shut = (uniforms[:, [first, first + 3, first + 6, first + 8, first + 10]] >= 0.2).all(axis=1)
    assert 0 < shut.sum() < 64
    np.testing.assert_array_equal(out[shut], images[shut])
    flip_only = ~shut & ((uniforms[:, [first, first + 3, first + 8, first + 10]] >= 0.2).all(axis=1))
    moved = ~shut & ~flip_only  # a luma flip alone may have drawn "no flip"
    assert (np.abs(out[moved] - images[moved]).max(axis=(1, 2, 3)) > 1e-3).all()


# -- gradients and backends -----------------------------------------------------------------------------


def test_gradients_reach_the_images_and_are_the_transposed_map():
    """The pipeline is affine in the images for fixed uniforms: out = A x + c, so the gradient of
    sum(w * out) is A^T w, and <A^T w, v> = <w, A v> = sum(w * (augment(v) - augment(0)))."""
    images, uniforms = noise(4, 16, 16, 3, seed=9)
    weights, direction = noise(4, 16, 16, 3, seed=10)[0], noise(4, 16, 16, 3, seed=11)[0]
    x = tf.Variable(images)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(weights * ada.augment(x, uniforms, 1.0, "bgc"))
    gradient = tape.gradient(total, x).numpy()
    assert np.isfinite(gradient).all() and (np.abs(gradient).sum(axis=(1, 2, 3)) > 1).all()

    def augmented(batch):
        return np.asarray(ada.augment(tensor(batch), tensor(uniforms), 1.0, "bgc"), np.float64)

    linear = np.sum(weights * (augmented(direction) - augmented(np.zeros_like(direction))))
    assert np.sum(gradient * direction) == pytest.approx(linear, rel=1e-4)


@pytest.mark.slow  # traces and compiles the whole pipeline three times
def test_inside_tf_function_with_a_traced_p_it_computes_what_it_does_eagerly():
    images, uniforms = noise(4, 16, 16, 1, seed=12)
    compiled = tf.function(lambda x, u, p: ada.augment(x, u, p, "bgc"))  # as the step, jit_compile's default
    for p in (0.0, 0.45, 1.0):
        eager = np.asarray(ada.augment(tensor(images), tensor(uniforms), p, "bgc"))
        np.testing.assert_allclose(compiled(images, uniforms, tf.constant(p)).numpy(), eager, atol=1e-5)


ON_JAX = """
import sys
import numpy as np
import jax
from ganforge.training import ada

inputs = np.load(sys.argv[1])
results = {}
for pipeline in ("bgc",):
    run = jax.jit(lambda x, u, p: ada.augment(x, u, p, pipeline))
    loss = jax.jit(jax.grad(lambda x, u, p: (inputs["weights"] * ada.augment(x, u, p, pipeline)).sum()))
    results[pipeline] = np.asarray(run(inputs["images"], inputs["uniforms"], inputs["p"]))
    results[pipeline + "-grad"] = np.asarray(loss(inputs["images"], inputs["uniforms"], inputs["p"]))
np.savez(sys.argv[2], **results)
"""


@pytest.mark.slow
def test_tensorflow_and_jax_give_the_same_images_and_gradients(tmp_path):
    images, uniforms = noise(6, 16, 12, 3, seed=13)
    weights = noise(6, 16, 12, 3, seed=14)[0]
    p = np.float32(0.7)
    np.savez(tmp_path / "inputs.npz", images=images, uniforms=uniforms, weights=weights, p=p)
    started = subprocess.Popen(  # JAX's own process, started first: it runs while TensorFlow computes here
        [sys.executable, "-c", ON_JAX, str(tmp_path / "inputs.npz"), str(tmp_path / "jax.npz")],
        env={**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"},
        stderr=subprocess.PIPE,
        text=True,
    )
    expected = {}
    for pipeline in ("bgc",):  # every transform; the others are subsets of its code
        x = tf.Variable(images)
        with tf.GradientTape() as tape:
            out = ada.augment(x, uniforms, tf.constant(p), pipeline)
            total = tf.reduce_sum(weights * out)
        expected[pipeline], expected[pipeline + "-grad"] = out.numpy(), tape.gradient(total, x).numpy()
    _, errors = started.communicate(timeout=300)
    assert started.returncode == 0, errors[-3000:]
    on_jax = np.load(tmp_path / "jax.npz")
    for key, value in expected.items():
        np.testing.assert_allclose(on_jax[key], value, atol=1e-5, err_msg=json.dumps(key))
