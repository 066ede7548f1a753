"""ADA's pipeline in NumPy float64, written from the paper's definitions (Karras et al. 2020, "Training
Generative Adversarial Networks with Limited Data", appendix B) and the steps StyleGAN2-ADA's
AugmentPipe takes, for tests/test_ada.py to hold ganforge/training/ada.py against.

It goes by the reference's own route, one image at a time, where the module under test folds steps
together: forward matrices inverted with ``np.linalg.inv`` (the module writes the inverses), the hue
rotation as a matrix exponential, the image padded by reflection by a margin computed from its own
transform, upsampled by inserting zeros and convolving, read with ``grid_sample``'s normalised coordinates
(align_corners=False, zeros outside) through the reference's chain of conjugations, and downsampled.
Nothing here imports the module under test: the column layout and the constants are written again.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

SYM6 = np.array(
    [
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
    ]
)
FILTER = SYM6 / SYM6.sum()
LUMA = np.array([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3.0)

# name: (first column, group); the gate is the first column, the parameters the next ones
LAYOUT = {
    "xflip": (0, "b"),
    "rotate90": (2, "b"),
    "xint": (4, "b"),
    "scale": (7, "g"),
    "rotate_pre": (10, "g"),
    "aniso": (12, "g"),
    "rotate_post": (15, "g"),
    "xfrac": (17, "g"),
    "brightness": (20, "c"),
    "contrast": (23, "c"),
    "lumaflip": (26, "c"),
    "hue": (28, "c"),
    "saturation": (30, "c"),
}
COLUMNS = 33


# -- the single transforms, from their definitions -------------------------------------------------------


def translate2d(tx, ty):
    return np.array([[1.0, 0, tx], [0, 1.0, ty], [0, 0, 1.0]])


def scale2d(sx, sy):
    return np.diag([sx, sy, 1.0])


def rotate2d(theta):
    return np.array([[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0], [0, 0, 1.0]])


def translate3d(t):
    matrix = np.eye(4)
    matrix[:3, 3] = t
    return matrix


def scale3d(s):
    return np.diag([s, s, s, 1.0])


def luma_flip(flip):
    return np.eye(4) - 2.0 * flip * np.outer(LUMA, LUMA)


def hue_rotation(theta):
    """exp(theta K), K the cross product with the grey axis: the rotation about it, computed another way."""
    v = LUMA[:3]
    cross = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    matrix = np.eye(4)
    matrix[:3, :3] = scipy.linalg.expm(theta * cross)
    return matrix


def saturation(s):
    grey = np.outer(LUMA, LUMA)  # the projection onto the grey axis
    return grey + s * (np.eye(4) - grey)


# -- the parameters, from the uniforms -------------------------------------------------------------------


def _normals(u_a, u_b):
    radius = np.sqrt(-2.0 * np.log(1.0 - u_a))
    return radius * np.cos(2 * np.pi * u_b), radius * np.sin(2 * np.pi * u_b)


def draw(uniforms, p, pipeline: str, height: int, width: int) -> dict:
    """name -> tuple of (B,) float64 parameters, the identity's where the gate is shut."""
    u = np.asarray(uniforms, np.float64)
    p_rotate = 1.0 - math.sqrt(min(max(1.0 - p, 0.0), 1.0))
    params = {}
    for name, (first, group) in LAYOUT.items():
        if group in pipeline:
            gate = u[:, first] < (p_rotate if name.startswith("rotate_") else p)
            params[name] = _value(name, u[:, first + 1 :], gate, height, width)
    return params


def _value(name, u, gate, height, width):
    def keep(value, identity):
        return np.where(gate, value, identity)

    normal = _normals(u[:, 0], u[:, 1])[0] if u.shape[1] > 1 else None
    if name == "xflip":
        return (keep(1.0 - 2.0 * np.floor(u[:, 0] * 2), 1.0),)
    if name == "rotate90":
        return (keep(np.floor(u[:, 0] * 4), 0.0),)
    if name == "xint":
        tx, ty = (np.round((2 * u[:, i] - 1) * 0.125 * size) for i, size in ((0, width), (1, height)))
        return keep(tx, 0.0), keep(ty, 0.0)
    if name in ("rotate_pre", "rotate_post", "hue"):
        return (keep((2 * u[:, 0] - 1) * np.pi, 0.0),)
    if name == "xfrac":
        zx, zy = _normals(u[:, 0], u[:, 1])
        return keep(zx * 0.125 * width, 0.0), keep(zy * 0.125 * height, 0.0)
    if name == "brightness":
        return (keep(normal * 0.2, 0.0),)
    if name == "lumaflip":
        return (keep(np.floor(u[:, 0] * 2), 0.0),)
    std = {"scale": 0.2, "aniso": 0.2, "contrast": 0.5, "saturation": 1.0}[name]
    return (keep(2.0 ** (normal * std), 1.0),)


# each transform's forward matrix: the reference right-multiplies the inverse of these into G_inv
FORWARD = {
    "xflip": lambda sign: scale2d(sign, 1.0),
    "rotate90": lambda turns: rotate2d(-np.pi / 2 * turns),
    "xint": translate2d,
    "scale": lambda s: scale2d(s, s),
    "rotate_pre": lambda theta: rotate2d(-theta),
    "aniso": lambda s: scale2d(s, 1.0 / s),
    "rotate_post": lambda theta: rotate2d(-theta),
    "xfrac": translate2d,
}
COLOR = {
    "brightness": translate3d,
    "contrast": scale3d,
    "lumaflip": luma_flip,
    "hue": hue_rotation,
    "saturation": saturation,
}


def geometric_inverse(params: dict, index: int) -> np.ndarray:
    """Image ``index``'s G_inv: output pixel -> input pixel, about the centre."""
    result = np.eye(3)
    for name, forward in FORWARD.items():
        if name in params:
            result = result @ np.linalg.inv(forward(*(value[index] for value in params[name])))
    return result


def color_matrix(params: dict, index: int, channels: int) -> np.ndarray:
    result = np.eye(4)
    for name, make in COLOR.items():
        if name in params and not (channels == 1 and name in ("hue", "saturation")):
            result = make(*(value[index] for value in params[name])) @ result
    return result


# -- applying them, by the reference's route --------------------------------------------------------------


def _upsample(image, axis):
    """upfirdn2d's upsample2d along ``axis``: zeros after each pixel, padded 6 before and 5 after, convolved
    with the filter times 2 (the gain of 4 split between the two axes)."""

    def one(line):
        zeros = np.zeros(2 * line.size)
        zeros[::2] = line
        return np.convolve(np.pad(zeros, (6, 5)), 2.0 * FILTER, mode="valid")

    return np.apply_along_axis(one, axis, image)


def _downsample(image, axis):
    """downsample2d with padding -6 (cropping): 1 pixel cropped each side, correlated, every other one kept."""
    return np.apply_along_axis(lambda line: np.correlate(line[1:-1], FILTER, mode="valid")[::2], axis, image)


def _grid_sample(image, theta, out_height, out_width):
    """affine_grid + grid_sample (bilinear, zeros outside, align_corners=False) of (H, W, C) ``image``."""
    in_height, in_width, _ = image.shape
    ys, xs = np.meshgrid(np.arange(out_height), np.arange(out_width), indexing="ij")
    normalised = np.stack([(2 * xs + 1) / out_width - 1, (2 * ys + 1) / out_height - 1, np.ones(xs.shape)], -1)
    source = normalised @ theta[:2].T
    x = ((source[..., 0] + 1) * in_width - 1) / 2
    y = ((source[..., 1] + 1) * in_height - 1) / 2
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    result = np.zeros((out_height, out_width, image.shape[2]))
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
        row, column = y0 + dy, x0 + dx
        weight = (1 - np.abs(y - row)) * (1 - np.abs(x - column))
        inside = (row >= 0) & (row < in_height) & (column >= 0) & (column < in_width)
        picked = image[np.clip(row, 0, in_height - 1), np.clip(column, 0, in_width - 1)]
        result += np.where(inside, weight, 0.0)[..., None] * picked
    return result


def _margin(g_inv, height, width):
    """Reflection padding wide enough that nothing read, with the filter's reach, falls outside it."""
    cx, cy = (width - 1) / 2 + 4, (height - 1) / 2 + 4  # the resampled grid's corners, 3 pixels out, and one
    corners = np.array([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]]).T
    reach = np.abs(g_inv @ corners)[:2].max(axis=1) - [(width - 1) / 2, (height - 1) / 2]
    return int(math.ceil(max(reach.max(), 0.0))) + 8


def warp(image, g_inv):
    """(H, W, C) float64 ``image`` resampled through G_inv, by the reference's steps."""
    height, width, _ = image.shape
    before = _margin(g_inv, height, width)
    after = before + 2  # uneven on purpose: the reference's recentring for it must cancel
    padded = np.pad(image, ((before, after), (before, after), (0, 0)), mode="reflect")
    upsampled = _upsample(_upsample(padded, 0), 1)
    g = translate2d((before - after) / 2, (before - after) / 2) @ g_inv
    g = scale2d(2, 2) @ g @ np.linalg.inv(scale2d(2, 2))
    g = translate2d(-0.5, -0.5) @ g @ np.linalg.inv(translate2d(-0.5, -0.5))
    out_height, out_width = 2 * (height + 6), 2 * (width + 6)
    in_height, in_width, _ = upsampled.shape
    theta = scale2d(2 / in_width, 2 / in_height) @ g @ np.linalg.inv(scale2d(2 / out_width, 2 / out_height))
    sampled = _grid_sample(upsampled, theta, out_height, out_width)
    return _downsample(_downsample(sampled, 0), 1)


def recolor(image, matrix):
    if image.shape[-1] == 3:
        return image @ matrix[:3, :3].T + matrix[:3, 3]
    rows = matrix[:3].mean(axis=0)
    return image * rows[:3].sum() + rows[3]


def augment(images, uniforms, p, pipeline: str = "bgc"):
    """(B, H, W, C) images through the pipeline, in float64."""
    images = np.asarray(images, np.float64)
    _, height, width, channels = images.shape
    params = draw(uniforms, p, pipeline, height, width)
    result = []
    for index, image in enumerate(images):
        if "b" in pipeline or "g" in pipeline:
            image = warp(image, geometric_inverse(params, index))
        if "c" in pipeline:
            image = recolor(image, color_matrix(params, index, channels))
        result.append(image)
    return np.stack(result)
