"""DiffAugment (Zhao et al. 2020): differentiable augmentations of every image the discriminator sees.

``[augment] policy = "color,translation,cutout"`` transforms real and fake images alike, in D's
updates and in G's, so D never sees an unaugmented image and G's gradient flows back through the
transform. The three policies are the paper's, with its parameters, for images in [-1, 1]:

- ``color``: brightness ``x + (r - 0.5)``, saturation ``(x - mean_c) * 2r + mean_c`` (mean over the
  channels), contrast ``(x - mean) * (r + 0.5) + mean`` (mean over the image); an ``r`` of its own each.
- ``translation``: a shift by up to 1/8 of the side in each direction (whole pixels), zeros filling in.
- ``cutout``: a square of half the side, centred anywhere, set to zero.

Every random number is drawn on the host (``streams.step_draws``, keyed by seed, step and draw) and
passed in as ``params``, uniform in [0, 1): the same numbers on TensorFlow and JAX, and a resumed
run augments exactly as the run left alone would. The transforms are ``keras.ops``: shifts and the
cutout are products with 0/1 matrices, so they differentiate like the rest of the step on any backend.
Keras is imported on first use, not with this module: a recipe names its policy before its backend is set.
"""

from __future__ import annotations

from ganforge import backend

# the names and their parsing live below the recipe, which checks a policy; the step imports them from here
from ganforge.data.augment_policy import POLICIES, parse_policy  # noqa: F401

PARAMETERS = 7  # brightness, saturation, contrast, shift (rows, columns), cutout centre (rows, columns)
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def augment(images, params, policy: tuple[str, ...]):
    """``images`` (B, H, W, C) transformed by each policy in turn; ``params`` (B, PARAMETERS) in [0, 1)."""
    for name in policy:
        images = TRANSFORMS[name](images, params)
    return images


def _ops():
    return backend.keras().ops


def _column(params, index: int):
    ops = _ops()
    return ops.reshape(params[:, index], (-1, 1, 1, 1))


def color(images, params):
    ops = _ops()
    dtype = images.dtype
    images = images + ops.cast(_column(params, 0) - 0.5, dtype)
    mean = ops.mean(images, axis=3, keepdims=True)
    images = (images - mean) * ops.cast(_column(params, 1) * 2.0, dtype) + mean
    mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * ops.cast(_column(params, 2) + 0.5, dtype) + mean


def _whole(fraction, count: int):
    """Uniform [0, 1) as a whole number in [0, count)."""
    ops = _ops()
    return ops.minimum(ops.floor(fraction * count), count - 1)


def _shift_matrices(offsets, size: int, dtype):
    """(B, size, size): row i picks source pixel i + offset, none (zeros) where that falls outside."""
    ops = _ops()
    sources = ops.cast(ops.arange(size), "float32")[None, :] + offsets[:, None]
    return ops.cast(ops.one_hot(ops.cast(sources, "int32"), size), dtype)  # out-of-range indices: all-zero rows


def translation(images, params):
    ops = _ops()
    _, height, width, _ = images.shape
    shift_rows, shift_columns = int(height * TRANSLATION_RATIO + 0.5), int(width * TRANSLATION_RATIO + 0.5)
    rows = _whole(params[:, 3], 2 * shift_rows + 1) - shift_rows
    columns = _whole(params[:, 4], 2 * shift_columns + 1) - shift_columns
    pick_rows = _shift_matrices(rows, height, images.dtype)
    pick_columns = _shift_matrices(columns, width, images.dtype)
    images = ops.einsum("bij,bjwc->biwc", pick_rows, images)
    return ops.einsum("bkw,bhwc->bhkc", pick_columns, images)


def _band(centres, size: int, length: int):
    """(B, size): 1 inside [centre - length // 2, centre - length // 2 + length), else 0."""
    ops = _ops()
    low = centres - length // 2
    positions = ops.cast(ops.arange(size), "float32")[None, :]
    return ops.cast((positions >= low[:, None]) & (positions < low[:, None] + length), "float32")


def cutout(images, params):
    ops = _ops()
    _, height, width, _ = images.shape
    length_rows, length_columns = int(height * CUTOUT_RATIO + 0.5), int(width * CUTOUT_RATIO + 0.5)
    rows = _band(_whole(params[:, 5], height + 1 - length_rows % 2), height, length_rows)
    columns = _band(_whole(params[:, 6], width + 1 - length_columns % 2), width, length_columns)
    keep = 1.0 - rows[:, :, None, None] * columns[:, None, :, None]
    return images * ops.cast(keep, images.dtype)


TRANSFORMS = {"color": color, "translation": translation, "cutout": cutout}
