"""``fid_inception``: the Inception network that published FIDs are measured with, in Keras.

The original FID code (TTUR, Heusel et al. 2017) used TensorFlow's Inception graph of 2015-12-05 and
its 2,048 pool features. ``pytorch-fid`` ported that graph to PyTorch and published its weights as
``pt_inception-2015-12-05-6726825d.pth``; StudioGAN, mimicry, torch-fidelity and clean-fid use that file.
It is not Keras' (or torchvision's) ImageNet Inception-v3: three kinds of block differ — the average
pools leave padding out of the mean, and the last block max-pools where the others average — and the
weights are the 2015 graph's. This module builds that network from Keras layers and loads that file.

Input handling is the reference's, step for step: images become uint8 pixels (as when saved to PNG),
then floats in [0, 1], then are resized to 299x299 by bilinear interpolation with half-pixel centres
and no antialiasing (PyTorch's ``F.interpolate(..., mode="bilinear", align_corners=False)``), then
scaled to [-1, 1].

The class logits are the 2015 graph's 1,008 outputs without the final bias, as the original Inception
Score code computed them (``softmax/logits/MatMul``), so an Inception Score from this network compares
with published ones too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
WEIGHTS_BYTES = 95_628_359
SIZE = 299


class Builder:
    """Adds the network's layers, keeping each convolution's layers under its PyTorch module name."""

    def __init__(self, keras):
        self.keras = keras
        self.units: dict[str, tuple] = {}  # "Mixed_5b.branch1x1" -> (Conv2D, BatchNormalization)

    def conv(self, x, name: str, filters: int, kernel, strides: int = 1, padding: str = "same"):
        layers = self.keras.layers
        conv = layers.Conv2D(filters, kernel, strides, padding, use_bias=False, name=f"{name}.conv")
        norm = layers.BatchNormalization(epsilon=1e-3, name=f"{name}.bn")
        self.units[name] = (conv, norm)
        return layers.ReLU()(norm(conv(x)))

    def chain(self, x, block: str, convs: list[tuple]):
        for name, *arguments in convs:
            x = self.conv(x, f"{block}.{name}", *arguments)
        return x

    def average(self, x):
        # TensorFlow's SAME average pooling divides by the pixels inside the image, as the 2015 graph did
        return self.keras.layers.AveragePooling2D(3, strides=1, padding="same")(x)

    def join(self, branches):
        return self.keras.layers.Concatenate()(branches)


def block_a(b: Builder, x, name: str, pool_features: int):
    return b.join(
        [
            b.conv(x, f"{name}.branch1x1", 64, 1),
            b.chain(x, name, [("branch5x5_1", 48, 1), ("branch5x5_2", 64, 5)]),
            b.chain(x, name, [("branch3x3dbl_1", 64, 1), ("branch3x3dbl_2", 96, 3), ("branch3x3dbl_3", 96, 3)]),
            b.conv(b.average(x), f"{name}.branch_pool", pool_features, 1),
        ]
    )


def block_b(b: Builder, x, name: str):
    pool = b.keras.layers.MaxPooling2D(3, strides=2)(x)
    double = [("branch3x3dbl_1", 64, 1), ("branch3x3dbl_2", 96, 3), ("branch3x3dbl_3", 96, 3, 2, "valid")]
    return b.join([b.conv(x, f"{name}.branch3x3", 384, 3, 2, "valid"), b.chain(x, name, double), pool])


def block_c(b: Builder, x, name: str, width: int):
    seven = [("branch7x7_1", width, 1), ("branch7x7_2", width, (1, 7)), ("branch7x7_3", 192, (7, 1))]
    double = [
        ("branch7x7dbl_1", width, 1),
        ("branch7x7dbl_2", width, (7, 1)),
        ("branch7x7dbl_3", width, (1, 7)),
        ("branch7x7dbl_4", width, (7, 1)),
        ("branch7x7dbl_5", 192, (1, 7)),
    ]
    return b.join(
        [
            b.conv(x, f"{name}.branch1x1", 192, 1),
            b.chain(x, name, seven),
            b.chain(x, name, double),
            b.conv(b.average(x), f"{name}.branch_pool", 192, 1),
        ]
    )


def block_d(b: Builder, x, name: str):
    three = [("branch3x3_1", 192, 1), ("branch3x3_2", 320, 3, 2, "valid")]
    seven = [
        ("branch7x7x3_1", 192, 1),
        ("branch7x7x3_2", 192, (1, 7)),
        ("branch7x7x3_3", 192, (7, 1)),
        ("branch7x7x3_4", 192, 3, 2, "valid"),
    ]
    pool = b.keras.layers.MaxPooling2D(3, strides=2)(x)
    return b.join([b.chain(x, name, three), b.chain(x, name, seven), pool])


def block_e(b: Builder, x, name: str, max_pool: bool):
    """The last two blocks; the very last max-pools its pool branch, a quirk of the 2015 graph."""
    three = b.conv(x, f"{name}.branch3x3_1", 384, 1)
    double = b.chain(x, name, [("branch3x3dbl_1", 448, 1), ("branch3x3dbl_2", 384, 3)])
    pool = b.keras.layers.MaxPooling2D(3, strides=1, padding="same")(x) if max_pool else b.average(x)
    return b.join(
        [
            b.conv(x, f"{name}.branch1x1", 320, 1),
            b.join(
                [b.conv(three, f"{name}.branch3x3_2a", 384, (1, 3)), b.conv(three, f"{name}.branch3x3_2b", 384, (3, 1))]
            ),
            b.join(
                [
                    b.conv(double, f"{name}.branch3x3dbl_3a", 384, (1, 3)),
                    b.conv(double, f"{name}.branch3x3dbl_3b", 384, (3, 1)),
                ]
            ),
            b.conv(pool, f"{name}.branch_pool", 192, 1),
        ]
    )


def build_model(keras):
    """The network on 299x299x3 inputs in [-1, 1]: (2048 pool features, 1008 logits without bias),
    and its convolutions by PyTorch module name."""
    b = Builder(keras)
    layers = keras.layers
    inputs = keras.Input((SIZE, SIZE, 3))
    x = b.conv(inputs, "Conv2d_1a_3x3", 32, 3, 2, "valid")
    x = b.conv(x, "Conv2d_2a_3x3", 32, 3, 1, "valid")
    x = layers.MaxPooling2D(3, strides=2)(b.conv(x, "Conv2d_2b_3x3", 64, 3))
    x = b.conv(x, "Conv2d_3b_1x1", 80, 1)
    x = layers.MaxPooling2D(3, strides=2)(b.conv(x, "Conv2d_4a_3x3", 192, 3, 1, "valid"))
    for name, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
        x = block_a(b, x, name, pool_features)
    x = block_b(b, x, "Mixed_6a")
    for name, width in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        x = block_c(b, x, name, width)
    x = block_d(b, x, "Mixed_7a")
    x = block_e(b, x, "Mixed_7b", max_pool=False)
    x = block_e(b, x, "Mixed_7c", max_pool=True)
    features = layers.GlobalAveragePooling2D(name="pool3")(x)
    logits = layers.Dense(1008, use_bias=False, name="fc")(features)
    return keras.Model(inputs, [features, logits], name="fid_inception"), b.units


def load_weights(model, units: dict, arrays: dict[str, np.ndarray], path: Path) -> None:
    """Set the network's weights from a pytorch-fid state dict; ValueError (key ``weights``) when the
    file is another network's, so nothing is half-loaded into a model that is then used."""
    wanted = {"fc.weight": (1008, 2048), "fc.bias": (1008,)}
    for name, (conv, _) in units.items():
        height, width, inputs, outputs = conv.kernel.shape
        wanted[f"{name}.conv.weight"] = (outputs, inputs, height, width)
        for part in ("weight", "bias", "running_mean", "running_var"):
            wanted[f"{name}.bn.{part}"] = (outputs,)
    _check_layout(wanted, arrays, path)
    for name, (conv, norm) in units.items():
        conv.set_weights([arrays[f"{name}.conv.weight"].transpose(2, 3, 1, 0)])  # (out, in, h, w) -> (h, w, in, out)
        norm.set_weights([arrays[f"{name}.bn.{part}"] for part in ("weight", "bias", "running_mean", "running_var")])
    model.get_layer("fc").set_weights([arrays["fc.weight"].T])


def _check_layout(wanted: dict[str, tuple], arrays: dict[str, np.ndarray], path: Path) -> None:
    # batch norm's step counter is bookkeeping, not a weight: present or not, it changes nothing
    found = {name for name in arrays if not name.endswith(".num_batches_tracked")}
    missing, unexpected = sorted(set(wanted) - found), sorted(found - set(wanted))
    wrong = [
        f"{name} {tuple(arrays[name].shape)} (expected {shape})"
        for name, shape in wanted.items()
        if name in arrays and tuple(arrays[name].shape) != shape
    ]
    wrong += [
        f"{name} {arrays[name].dtype} (expected float32)"
        for name in wanted
        if name in arrays and arrays[name].dtype != np.float32
    ]
    if missing or unexpected or wrong:
        problems = [
            f"{len(missing)} of its {len(wanted)} tensors missing (e.g. {', '.join(missing[:3])})" if missing else "",
            f"{len(unexpected)} tensors it does not have (e.g. {', '.join(unexpected[:3])})" if unexpected else "",
            f"tensors of the wrong shape or type: {', '.join(wrong[:3])}" if wrong else "",
        ]
        raise ValueError(
            f"weights: {path} is not the FID Inception weights file {WEIGHTS_FILE}: "
            + "; ".join(problem for problem in problems if problem)
        )
