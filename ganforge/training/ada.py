"""ADA's augmentation pipeline (Karras et al. 2020, "Training Generative Adversarial Networks with Limited
Data", appendix B): StyleGAN2-ADA's ``bgc`` transforms in ``keras.ops``, the same on TensorFlow and JAX.

``augment(images, uniforms, p, pipeline)`` applies each transform of the pipeline to each image with
probability ``p`` (the two rotations with 1 - sqrt(1 - p) each, so that one or the other happens with
probability p). Images are (B, H, W, C) in [-1, 1], C = 1 or 3.

- Geometric (``b``lit and ``g``eneral): every transform is a 3x3 matrix in pixel units about the image's
  centre (x right, y down). Their inverses are right-multiplied, in the order of the table below, into one
  matrix per image that takes an output pixel to the input pixel it reads, and the image is resampled once:
  upsampled 2x with the sym6 wavelet's low-pass filter, read bilinearly at the transformed coordinates,
  downsampled 2x with the same filter reversed. Because the filter is orthogonal, the identity reproduces the
  image, and whole-pixel translations move pixels exactly; flips and 90-degree rotations do so up to the
  filter (a ~0.1-pixel shift and a slight blur, as in the reference).
- Colour (``c``): every transform is a 4x4 matrix on (R, G, B, 1), left-multiplied into one matrix per image;
  a 1-channel image is scaled and shifted by the mean of its first three rows (hue and saturation are skipped).

Every random number is drawn on the host as uniforms in [0, 1) (``streams.step_draws``), COLUMNS per
image; normals are made from them here (Box-Muller: sqrt(-2 ln(1 - u_a)) cos / sin (2 pi u_b), the
1 - u keeping the logarithm finite). The first column of each transform is its gate (it applies when the
gate is below p), the rest its parameters. The layout is one for every pipeline: a pipeline without a
group ignores that group's columns.

======  ====================  ================================================================
column  transform             parameters (reference defaults)
======  ====================  ================================================================
0-1     x-flip                1: flipped if floor(2u) = 1
2-3     90-degree rotations   3: floor(4u) quarter turns
4-6     integer translation   5, 6: (2u - 1) * 0.125 of the width, height, rounded to whole pixels
7-9     isotropic scaling     8, 9: normal z, scale 2^(0.2 z)
10-11   pre-rotation          11: angle (2u - 1) * pi; gate against 1 - sqrt(1 - p)
12-14   anisotropic scaling   13, 14: normal z, x scaled by 2^(0.2 z) and y by 2^(-0.2 z)
15-16   post-rotation         16: angle (2u - 1) * pi; gate against 1 - sqrt(1 - p)
17-19   fractional transl.    18, 19: normals (z_x, z_y) (one Box-Muller pair), 0.125 z of the width, height
20-22   brightness            21, 22: normal z, 0.2 z added to every channel
23-25   contrast              24, 25: normal z, scaled by 2^(0.5 z)
26-27   luma flip             27: the colour reflected through the grey axis' normal plane if floor(2u) = 1
28-29   hue rotation          29: angle (2u - 1) * pi about the grey axis (RGB only)
30-32   saturation            31, 32: normal z, off-grey part scaled by 2^z (RGB only)
======  ====================  ================================================================

Borders: the reference pads the image by reflection (mirror, edge pixel not repeated) with a margin it
computes per batch from the transformed corners, capped at the image's size, and samples zeros past it.
Shapes must be static here, so the reflection is folded into the resampling instead: the reflected image
is periodic (period 2(N - 1) pixels, 4(N - 1) once upsampled), so one period of it is upsampled, by a
constant matrix, and the sampling coordinates are wrapped into that period. That equals the reference
wherever its margin reaches (everywhere a transform of the ``bgc`` ranges usually reads); where the
reference's capped margin ends and it reads zeros, this goes on reflecting.

Images whose matrix is exactly the identity (every gate shut, or a flip that drew "no flip") are passed
through untouched, so ``p = 0`` returns the images exactly, bit for bit.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ganforge import backend

# the names and their parsing live below the recipe, which checks a pipeline; the step imports them from here
from ganforge.data.augment_policy import ADA_PIPELINES, parse_pipeline  # noqa: F401

# each transform and how many columns it reads, in the order the table above gives (and the matrices compose)
WIDTHS = {
    "xflip": 2,
    "rotate90": 2,
    "xint": 3,
    "scale": 3,
    "rotate_pre": 2,
    "aniso": 3,
    "rotate_post": 2,
    "xfrac": 3,
    "brightness": 3,
    "contrast": 3,
    "lumaflip": 2,
    "hue": 2,
    "saturation": 3,
}
FIRST = dict(zip(WIDTHS, np.cumsum([0, *WIDTHS.values()])[:-1].tolist(), strict=True))
COLUMNS = sum(WIDTHS.values())
GROUPS = {
    "blit": ("xflip", "rotate90", "xint"),
    "geom": ("scale", "rotate_pre", "aniso", "rotate_post", "xfrac"),
    "color": ("brightness", "contrast", "lumaflip", "hue", "saturation"),
}

# the reference's defaults (StyleGAN2-ADA's AugmentPipe)
XINT_MAX = 0.125  # of the image's size
SCALE_STD = 0.2  # log2
ROTATE_MAX = 1.0  # of a half turn
ANISO_STD = 0.2  # log2
XFRAC_STD = 0.125  # of the image's size
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5  # log2
HUE_MAX = 1.0  # of a half turn
SATURATION_STD = 1.0  # log2

# the sym6 (least-asymmetric Daubechies) wavelet's low-pass filter, in the reference's order; orthogonal to its
# own shifts by 2, which is what makes upsampling then downsampling with it the identity
SYM6 = (
    0.015404109327027373,
    0.0034907120842174702,
    -0.11799011114819057,
    -0.048311742585633,
    0.4910559419267466,
    0.787641141030194,
    0.3379294217276218,
    -0.07263752278646252,
    -0.021060292512300564,
    0.04472490177066578,
    0.0017677118642428036,
    -0.007800708325034148,
)
MARGIN = len(SYM6) // 4  # pixels the resampled grid extends past each border, for the downsampling filter
LUMA = np.array([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3.0)  # the grey axis, homogeneous


def augment(images, uniforms, p, pipeline: str = "bgc"):
    """``images`` (B, H, W, C) in [-1, 1] augmented with ``uniforms`` (B, COLUMNS) in [0, 1) at probability ``p``
    (a number or a scalar tensor); the same shape and dtype, differentiable with respect to ``images``."""
    ops = _ops()
    _, height, width, channels = images.shape
    groups = parse_pipeline(pipeline)
    if "color" in groups and channels not in (1, 3):
        raise ValueError(f"ADA's colour transforms need 1 or 3 channels, not {channels}")
    params = draw(uniforms, p, pipeline, height, width)
    result = ops.cast(images, "float32")
    if "blit" in groups or "geom" in groups:
        result = warp(result, geometric_matrix(params))
    if "color" in groups:
        result = recolor(result, color_matrix(params, channels))
    return ops.cast(result, images.dtype)


def _ops():
    return backend.keras().ops


# -- the parameters, from the uniforms -------------------------------------------------------------------


def draw(uniforms, p, pipeline: str, height: int, width: int) -> dict:
    """Each transform of ``pipeline`` -> its parameters per image, (B,) tensors; the identity's where its gate
    is shut. Translations come in pixels of a ``height`` x ``width`` image."""
    ops = _ops()
    uniforms = ops.cast(uniforms, "float32")
    p = ops.cast(p, "float32")
    p_rotate = 1.0 - ops.sqrt(ops.clip(1.0 - p, 0.0, 1.0))  # P(pre or post) = p
    params = {}
    for group in parse_pipeline(pipeline):
        for name in GROUPS[group]:
            columns = uniforms[:, FIRST[name] : FIRST[name] + WIDTHS[name]]
            gate = columns[:, 0] < (p_rotate if name.startswith("rotate_") else p)
            params[name] = DRAWS[name](columns, gate, height, width)
    return params


def _whole(u, count: int):
    """A uniform as a whole number in [0, count), as a float."""
    ops = _ops()
    return ops.minimum(ops.floor(u * count), count - 1.0)


def _normals(columns, first: int):
    """Box-Muller: two independent standard normals from the uniforms at ``first`` and ``first + 1``."""
    ops = _ops()
    radius = ops.sqrt(-2.0 * ops.log(1.0 - columns[:, first]))
    angle = 2.0 * math.pi * columns[:, first + 1]
    return radius * ops.cos(angle), radius * ops.sin(angle)


def _gated(gate, value, identity: float):
    ops = _ops()
    return ops.where(gate, value, ops.full_like(value, identity))


def _draw_flip(columns, gate, height, width):
    return (_gated(gate, 1.0 - 2.0 * _whole(columns[:, 1], 2), 1.0),)  # the x axis' sign


def _draw_quarter_turns(columns, gate, height, width):
    return (_gated(gate, _whole(columns[:, 1], 4), 0.0),)


def _draw_whole_shift(columns, gate, height, width):
    ops = _ops()
    shifts = [(2.0 * columns[:, i] - 1.0) * XINT_MAX * size for i, size in ((1, width), (2, height))]
    return tuple(_gated(gate, ops.round(shift), 0.0) for shift in shifts)


def _draw_angle(limit: float):
    def angle(columns, gate, height, width):
        return (_gated(gate, (2.0 * columns[:, 1] - 1.0) * math.pi * limit, 0.0),)

    return angle


def _draw_lognormal(std: float):
    def factor(columns, gate, height, width):
        return (_gated(gate, _ops().exp2(_normals(columns, 1)[0] * std), 1.0),)

    return factor


def _draw_fraction_shift(columns, gate, height, width):
    along_x, along_y = _normals(columns, 1)
    return _gated(gate, along_x * XFRAC_STD * width, 0.0), _gated(gate, along_y * XFRAC_STD * height, 0.0)


def _draw_brightness(columns, gate, height, width):
    return (_gated(gate, _normals(columns, 1)[0] * BRIGHTNESS_STD, 0.0),)


def _draw_luma_flip(columns, gate, height, width):
    return (_gated(gate, _whole(columns[:, 1], 2), 0.0),)


DRAWS = {
    "xflip": _draw_flip,
    "rotate90": _draw_quarter_turns,
    "xint": _draw_whole_shift,
    "scale": _draw_lognormal(SCALE_STD),
    "rotate_pre": _draw_angle(ROTATE_MAX),
    "aniso": _draw_lognormal(ANISO_STD),
    "rotate_post": _draw_angle(ROTATE_MAX),
    "xfrac": _draw_fraction_shift,
    "brightness": _draw_brightness,
    "contrast": _draw_lognormal(CONTRAST_STD),
    "lumaflip": _draw_luma_flip,
    "hue": _draw_angle(HUE_MAX),
    "saturation": _draw_lognormal(SATURATION_STD),
}


# -- the matrices -----------------------------------------------------------------------------------------


def _matrix(rows, like):
    """(B, n, m) from n rows of m entries, each a (B,) tensor like ``like`` or a number."""
    ops = _ops()
    entries = [[e if not isinstance(e, int | float) else ops.full_like(like, e) for e in row] for row in rows]
    return ops.stack([ops.stack(row, axis=-1) for row in entries], axis=-2)


def translate2d(tx, ty):
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def scale2d(sx, sy):
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def rotate2d(theta):
    """Counter-clockwise as the axes are drawn (x right, y down: clockwise on screen)."""
    ops = _ops()
    cos, sin = ops.cos(theta), ops.sin(theta)
    return _matrix([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]], theta)


def quarter_turns2d(turns):
    """rotate2d(pi / 2 * turns) for whole ``turns`` in [0, 4), with exact zeros and ones (no cos(pi / 2))."""
    ops = _ops()
    cos = ops.cast(ops.equal(turns, 0.0), "float32") - ops.cast(ops.equal(turns, 2.0), "float32")
    sin = ops.cast(ops.equal(turns, 1.0), "float32") - ops.cast(ops.equal(turns, 3.0), "float32")
    return _matrix([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]], turns)


def translate3d(t):
    return _matrix([[1, 0, 0, t], [0, 1, 0, t], [0, 0, 1, t], [0, 0, 0, 1]], t)


def scale3d(s):
    return _matrix([[s, 0, 0, 0], [0, s, 0, 0], [0, 0, s, 0], [0, 0, 0, 1]], s)


def _constant_sum(*terms):
    """sum of weight (B,) * constant (n, n) for each (weight, constant) pair of ``terms``: (B, n, n)."""
    ops = _ops()
    total = 0.0
    for weight, constant in terms:
        total = total + ops.reshape(weight, (-1, 1, 1)) * ops.convert_to_tensor(constant.astype(np.float32))
    return total


def luma_flip(flip):
    """The Householder reflection I - 2 v v^T through the plane normal to the grey axis v, where ``flip`` = 1."""
    ops = _ops()
    return _constant_sum((ops.ones_like(flip), np.eye(4)), (flip, -2.0 * np.outer(LUMA, LUMA)))


def hue_rotation(theta):
    """Rotation by ``theta`` about the grey axis v (Rodrigues: cos I + sin [v]x + (1 - cos) v v^T)."""
    ops = _ops()
    cos, sin = ops.cos(theta), ops.sin(theta)
    vx, vy, vz = LUMA[:3]
    cross = np.array([[0, -vz, vy, 0], [vz, 0, -vx, 0], [-vy, vx, 0, 0], [0, 0, 0, 0]])
    homogeneous = np.diag([0.0, 0.0, 0.0, 1.0])
    terms = [(ops.ones_like(theta), homogeneous), (cos, np.eye(4) - homogeneous), (sin, cross)]
    return _constant_sum(*terms, (1.0 - cos, np.outer(LUMA, LUMA)))


def saturation(s):
    """The grey part kept, the rest (the chroma) scaled by ``s``: v v^T + (I - v v^T) s."""
    ops = _ops()
    grey = np.outer(LUMA, LUMA)
    return _constant_sum((ops.ones_like(s), grey), (s, np.eye(4) - grey))


GEOMETRIC_INVERSES = {  # each transform's inverse, from its parameters
    "xflip": lambda sign: scale2d(sign, 1.0),
    "rotate90": quarter_turns2d,  # as the reference's: its inverse is rotate2d_inv(-pi / 2 * turns)
    "xint": lambda tx, ty: translate2d(-tx, -ty),
    "scale": lambda s: scale2d(1.0 / s, 1.0 / s),
    "rotate_pre": rotate2d,  # the reference right-multiplies rotate2d_inv(-theta)
    "aniso": lambda s: scale2d(1.0 / s, s),
    "rotate_post": rotate2d,
    "xfrac": lambda tx, ty: translate2d(-tx, -ty),
}
COLORS = {
    "brightness": translate3d,
    "contrast": scale3d,
    "lumaflip": luma_flip,
    "hue": hue_rotation,
    "saturation": saturation,
}


def geometric_matrices(params: dict) -> list:
    """The inverse (output pixel -> input pixel) of each geometric transform in ``params``, in order."""
    return [inverse(*params[name]) for name, inverse in GEOMETRIC_INVERSES.items() if name in params]


def geometric_matrix(params: dict):
    """(B, 3, 3): output pixel -> input pixel, the inverses right-multiplied in order (the first transform
    applied is the first factor)."""
    ops = _ops()
    matrices = geometric_matrices(params)
    result = matrices[0] if matrices else None
    for matrix in matrices[1:]:
        result = ops.matmul(result, matrix)
    return result


def color_matrices(params: dict, channels: int) -> list:
    """Each colour transform's matrix in ``params``, in order; hue and saturation only for RGB."""
    skipped = ("hue", "saturation") if channels == 1 else ()
    return [make(*params[name]) for name, make in COLORS.items() if name in params and name not in skipped]


def color_matrix(params: dict, channels: int):
    """(B, 4, 4): the colour transforms left-multiplied in order (the first applied is the last factor)."""
    ops = _ops()
    matrices = color_matrices(params, channels)
    result = matrices[0] if matrices else None
    for matrix in matrices[1:]:
        result = ops.matmul(matrix, result)
    return result


def _is_identity(matrices):
    """(B,) bool: which matrices are exactly the identity."""
    ops = _ops()
    size = matrices.shape[-1]
    flat = ops.reshape(matrices, (-1, size * size))
    return ops.all(ops.equal(flat, np.eye(size, dtype=np.float32).reshape(1, -1)), axis=1)


# -- applying them ------------------------------------------------------------------------------------------


def recolor(images, matrix):
    """``images`` (B, H, W, C) float32 through the colour matrices (B, 4, 4); identity rows pass untouched."""
    ops = _ops()
    if images.shape[-1] == 3:
        result = ops.einsum("bck,bhwk->bhwc", matrix[:, :3, :3], images) + matrix[:, None, None, :3, 3]
    else:  # the reference's reduction for one channel: the mean of the RGB rows
        rows = ops.mean(matrix[:, :3, :], axis=1)
        gain = ops.sum(rows[:, :3], axis=1)
        result = images * ops.reshape(gain, (-1, 1, 1, 1)) + ops.reshape(rows[:, 3], (-1, 1, 1, 1))
    return ops.where(ops.reshape(_is_identity(matrix), (-1, 1, 1, 1)), images, result)


def warp(images, inverse):
    """``images`` (B, H, W, C) float32 resampled through ``inverse`` (B, 3, 3), output pixel -> input pixel about
    the centre: upsample 2x, read bilinearly, downsample 2x, with sym6; identity rows pass untouched."""
    ops = _ops()
    _, height, width, _ = images.shape
    up_rows, up_columns = (ops.convert_to_tensor(_upsampling(size)) for size in (height, width))
    upsampled = ops.einsum("nh,bhwc->bnwc", up_rows, images)
    upsampled = ops.einsum("mw,bnwc->bnmc", up_columns, upsampled)
    read = _bilinear(upsampled, *_coordinates(inverse, height, width))
    down_rows, down_columns = (ops.convert_to_tensor(_downsampling(size)) for size in (height, width))
    result = ops.einsum("in,bnmc->bimc", down_rows, read)
    result = ops.einsum("jm,bimc->bijc", down_columns, result)
    return ops.where(ops.reshape(_is_identity(inverse), (-1, 1, 1, 1)), images, result)


def _filter() -> np.ndarray:
    taps = np.asarray(SYM6, np.float64)
    return taps / taps.sum()  # unit gain at DC, as the reference normalises it


def _reflected(index: np.ndarray, size: int) -> np.ndarray:
    """Pixel ``index`` of the image reflected without end (mirror, the edge pixel not repeated)."""
    index = np.mod(index, 2 * (size - 1))
    return np.where(index > size - 1, 2 * (size - 1) - index, index)


@lru_cache(maxsize=16)
def _upsampling(size: int) -> np.ndarray:
    """(4(size - 1), size): one period of the reflected image, zeros inserted after each pixel and filtered
    with the filter (gain 2 per axis): row n is upsampled pixel n, which sits at input pixel n / 2."""
    if size < 2:
        raise ValueError(f"ADA's geometric transforms need images of at least 2 pixels a side, not {size}")
    taps = _filter()
    rows = np.arange(4 * (size - 1))[:, None]
    sources = np.arange(-len(taps), 2 * size + len(taps))[None, :]  # every input pixel a row can reach
    tap = rows + len(taps) // 2 - 1 - 2 * sources  # upsampled n reads input q through tap n + 5 - 2q
    valid = (tap >= 0) & (tap < len(taps))
    matrix = np.zeros((rows.shape[0], size))
    rows_hit, sources_hit = np.nonzero(valid)
    np.add.at(matrix, (rows_hit, _reflected(sources[0, sources_hit], size)), 2.0 * taps[tap[valid]])
    return matrix.astype(np.float32)


@lru_cache(maxsize=16)
def _downsampling(size: int) -> np.ndarray:
    """(size, 2 (size + 2 MARGIN)): output pixel i is the filter (unflipped) over resampled pixels 2i + 1 on."""
    taps = _filter()
    matrix = np.zeros((size, 2 * (size + 2 * MARGIN)))
    for i in range(size):
        matrix[i, 2 * i + 1 : 2 * i + 1 + len(taps)] = taps
    return matrix.astype(np.float32)


def _coordinates(inverse, height: int, width: int):
    """(x, y), each (B, 2 (H + 2 MARGIN), 2 (W + 2 MARGIN)): where each resampled pixel reads the upsampled image,
    in its pixels. The resampled grid reaches MARGIN input pixels past each border, for the downsampling filter.

    Along x (y likewise, with the height), resampled pixel n stands for the point (n - W - 5) / 2 input
    pixels from the centre, and the point c is upsampled pixel 2c + W - 1. These are the reference's
    coordinates with its padding's offsets, its normalisation for grid_sample (align_corners=False) and
    its conjugation by translate(-0.5) multiplied out: the padding cancels, as it must."""
    ops = _ops()
    to_centre = np.array([[0.5, 0, -(width + 5) / 2], [0, 0.5, -(height + 5) / 2], [0, 0, 1]], np.float32)
    to_upsampled = np.array([[2.0, 0, width - 1], [0, 2.0, height - 1], [0, 0, 1]], np.float32)
    full = ops.matmul(ops.matmul(ops.convert_to_tensor(to_upsampled), inverse), ops.convert_to_tensor(to_centre))
    # the map is affine in the grid's (column, row): broadcasting is cheaper than a product with every point
    columns = np.arange(2 * (width + 2 * MARGIN), dtype=np.float32)[None, None, :]
    rows = np.arange(2 * (height + 2 * MARGIN), dtype=np.float32)[None, :, None]
    entry = [[ops.reshape(full[:, i, j], (-1, 1, 1)) for j in range(3)] for i in range(2)]
    return tuple(entry[i][0] * columns + entry[i][1] * rows + entry[i][2] for i in range(2))


def _bilinear(upsampled, x, y):
    """``upsampled`` (B, P, Q, C), one period of the reflected image, read bilinearly at (``x``, ``y``), each
    (B, H', W'), wrapped into the period; returns (B, H', W', C)."""
    ops = _ops()
    batch = upsampled.shape[0] if upsampled.shape[0] is not None else ops.shape(upsampled)[0]
    _, rows, columns, channels = upsampled.shape
    x0, y0 = ops.floor(x), ops.floor(y)
    ax, ay = ops.expand_dims(x - x0, -1), ops.expand_dims(y - y0, -1)
    base = ops.reshape(ops.arange(batch, dtype="int32") * (rows * columns), (-1, 1, 1))
    left, top = ops.mod(ops.cast(x0, "int32"), columns), ops.mod(ops.cast(y0, "int32"), rows)
    right, bottom = ops.mod(left + 1, columns), ops.mod(top + 1, rows)
    top, bottom = base + top * columns, base + bottom * columns
    flat = ops.reshape(upsampled, (-1, channels))
    # four gathers: one gather of the four corners side by side (or of the four indices stacked) is a little
    # faster forward on TensorFlow's CPU, but its gradient made forward + backward ~1.8x slower
    corners = [ops.take(flat, index, axis=0) for index in (top + left, top + right, bottom + left, bottom + right)]
    upper = corners[0] + (corners[1] - corners[0]) * ax
    lower = corners[2] + (corners[3] - corners[2]) * ax
    return upper + (lower - upper) * ay
