"""R3GAN's building blocks as Keras layers (Huang et al. 2024, section 3; the official code's Networks.py).

Every convolution and linear map has no bias and starts from N(0, gain / sqrt(fan_in)) ("MSR"
initialisation): a bias lives only in the activation after it. A residual block scales the gain of its
first two convolutions by ``L ** -0.25`` (``L`` the network's total block count) and starts its last
convolution at zero, so that each block starts as the identity and the sum of L blocks keeps the
signal's variance (the fix-up initialisation, Zhang et al. 2019). No normalisation anywhere.

Resampling is the fixed low-pass filter [1, 3, 3, 1] x [1, 3, 3, 1] / 64, applied per channel as a
depthwise convolution: upsampling inserts zeros between pixels and filters with 4x the kernel (the
gain that keeps a constant image constant), downsampling filters and keeps every other pixel. Padding
is upfirdn2d's: (2, 1) before and after an upsampling filter, (1, 1) around a downsampling one.

Images and feature maps are NHWC here; the official code is NCHW (``ganforge_r3gan.official`` converts).
Each layer with weights has ``official()``: its weights keyed as in the official module, each with the
function that turns the official tensor into the Keras weight.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

SLOPE = 0.2  # leaky ReLU's negative slope
ACTIVATION_GAIN = math.sqrt(2 / (1 + SLOPE**2))  # He et al.'s gain for that leaky ReLU
LOWPASS = (1.0, 3.0, 3.0, 1.0)
PACKAGE = "ganforge_r3gan"


def msr(gain: float, fan_in: int):
    """N(0, gain / sqrt(fan_in)); zeros for gain 0 (a block's last convolution)."""
    if gain == 0:
        return keras.initializers.Zeros()
    return keras.initializers.RandomNormal(0.0, gain / math.sqrt(fan_in))


def on_accelerator() -> bool:
    """Whether the backend computes on a GPU or TPU (where grouped convolutions have kernels of their own)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    return False


@keras.saving.register_keras_serializable(package=PACKAGE)
class GroupedConv2D(layers.Conv2D):
    """Conv2D with ``groups``, its weights as Keras keeps them, computed as one convolution per group on a
    CPU. XLA's grouped convolution on a CPU (which Keras' TensorFlow backend calls for any groups > 1,
    and JAX always) took 60 times as long under R1's double backward pass as the groups one by one
    (benchmarks/r3gan.py measures it); GPUs keep the fused kernel."""

    def convolution_op(self, inputs, kernel):
        if self.groups == 1 or on_accelerator():
            return super().convolution_op(inputs, kernel)
        pairs = zip(ops.split(inputs, self.groups, axis=-1), ops.split(kernel, self.groups, axis=-1))
        return ops.concatenate([super(GroupedConv2D, self).convolution_op(x, k) for x, k in pairs], axis=-1)


def convolution(filters: int, size: int, fan_in: int, *, groups: int = 1, gain: float = 1.0, name: str):
    """A bias-free convolution, 'same' padding ((size - 1) / 2 on each side, as the official code)."""
    return GroupedConv2D(
        filters,
        size,
        padding="same",
        groups=groups,
        use_bias=False,
        kernel_initializer=msr(gain, fan_in * size * size // groups),
        name=name,
    )


def torch_conv_kernel(weight: np.ndarray) -> np.ndarray:
    """PyTorch's (out, in / groups, h, w) as Keras's (h, w, in / groups, out)."""
    return np.transpose(weight, (2, 3, 1, 0))


def same(array: np.ndarray) -> np.ndarray:
    return array


@keras.saving.register_keras_serializable(package=PACKAGE)
class BiasedLeakyReLU(layers.Layer):
    """x + bias, then leaky ReLU (0.2): the official BiasedActivation. Its bias starts at zero."""

    def build(self, input_shape):
        self.bias = self.add_weight((input_shape[-1],), initializer="zeros", name="bias")

    def call(self, x):
        return ops.leaky_relu(x + ops.cast(self.bias, x.dtype), negative_slope=SLOPE)

    def official(self) -> dict:
        return {"Bias": (self.bias, same)}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResidualBlock(layers.Layer):
    """x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))), widening to ``channels * expansion`` inside."""

    def __init__(self, groups: int, expansion: int, total_blocks: int, **kwargs):
        super().__init__(**kwargs)
        self.groups, self.expansion, self.total_blocks = groups, expansion, total_blocks

    def build(self, input_shape):
        channels = input_shape[-1]
        wide = channels * self.expansion
        # three linear layers in the branch: the variance of L summed branches stays 1 with L^(-1/(2*3-2))
        gain = ACTIVATION_GAIN * self.total_blocks ** (-1 / 4)
        self.widen = convolution(wide, 1, channels, gain=gain, name="widen")
        self.act1 = BiasedLeakyReLU(name="act1")
        self.grouped = convolution(wide, 3, wide, groups=self.groups, gain=gain, name="grouped")
        self.act2 = BiasedLeakyReLU(name="act2")
        self.narrow = convolution(channels, 1, wide, gain=0.0, name="narrow")
        shape = tuple(input_shape)
        self.widen.build(shape)
        wide_shape = shape[:-1] + (wide,)
        for layer in (self.act1, self.grouped, self.act2, self.narrow):
            layer.build(wide_shape)

    def call(self, x):
        y = self.act1(self.widen(x))
        y = self.act2(self.grouped(y))
        return x + self.narrow(y)

    def get_config(self):
        return {
            **super().get_config(),
            "groups": self.groups,
            "expansion": self.expansion,
            "total_blocks": self.total_blocks,
        }

    def official(self) -> dict:
        tensors = {}
        for layer, key in ((self.widen, "LinearLayer1"), (self.grouped, "LinearLayer2"), (self.narrow, "LinearLayer3")):
            tensors[f"{key}.Layer.weight"] = (layer.kernel, torch_conv_kernel)
        for layer, key in ((self.act1, "NonLinearity1"), (self.act2, "NonLinearity2")):
            tensors.update({f"{key}.{name}": value for name, value in layer.official().items()})
        return tensors


def lowpass_kernel(channels: int, gain: float, dtype) -> keras.KerasTensor:
    """(4, 4, channels, 1): the normalised [1, 3, 3, 1] outer product, times ``gain``, for every channel."""
    taps = np.asarray(LOWPASS)
    kernel = np.outer(taps, taps) / np.outer(taps, taps).sum() * gain
    return ops.convert_to_tensor(np.tile(kernel[:, :, None, None], (1, 1, channels, 1)), dtype=dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Upsample(layers.Layer):
    """2x upsampling: zeros between pixels, then the low-pass filter (x4) per channel."""

    def call(self, x):
        _, height, width, channels = x.shape
        spread = ops.reshape(x, (-1, height, 1, width, 1, channels))
        spread = ops.pad(spread, ((0, 0), (0, 0), (0, 1), (0, 0), (0, 1), (0, 0)))
        spread = ops.reshape(spread, (-1, 2 * height, 2 * width, channels))
        spread = ops.pad(spread, ((0, 0), (2, 1), (2, 1), (0, 0)))
        return ops.depthwise_conv(spread, lowpass_kernel(channels, 4.0, x.dtype), padding="valid")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, 2 * height, 2 * width, channels)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Downsample(layers.Layer):
    """2x downsampling: the low-pass filter per channel, keeping every other pixel."""

    def call(self, x):
        padded = ops.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        return ops.depthwise_conv(padded, lowpass_kernel(x.shape[-1], 1.0, x.dtype), strides=2, padding="valid")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, height // 2, width // 2, channels)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GenerativeBasis(layers.Layer):
    """G's start: a learned 4x4 basis per channel, each scaled by a linear map of the input vector."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels

    def build(self, input_shape):
        self.basis = self.add_weight(
            (4, 4, self.channels), initializer=keras.initializers.RandomNormal(0.0, 1.0), name="basis"
        )
        self.kernel = self.add_weight(
            (input_shape[-1], self.channels), initializer=msr(1.0, input_shape[-1]), name="kernel"
        )

    def call(self, z):
        scales = ops.matmul(z, ops.cast(self.kernel, z.dtype))
        return ops.cast(self.basis, z.dtype)[None] * scales[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 4, 4, self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}

    def official(self) -> dict:
        return {
            "Basis": (self.basis, lambda basis: np.transpose(basis, (1, 2, 0))),
            "LinearLayer.weight": (self.kernel, np.transpose),
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class DiscriminativeBasis(layers.Layer):
    """D's end: a depthwise 4x4 'valid' convolution (one learned basis per channel) and a linear map."""

    def __init__(self, outputs: int, **kwargs):
        super().__init__(**kwargs)
        self.outputs = outputs

    def build(self, input_shape):
        channels = input_shape[-1]
        self.basis = self.add_weight((4, 4, channels, 1), initializer=msr(1.0, 16), name="basis")
        self.kernel = self.add_weight((channels, self.outputs), initializer=msr(1.0, channels), name="kernel")

    def call(self, x):
        pooled = ops.depthwise_conv(x, ops.cast(self.basis, x.dtype), padding="valid")
        return ops.matmul(ops.reshape(pooled, (-1, x.shape[-1])), ops.cast(self.kernel, x.dtype))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.outputs)

    def get_config(self):
        return {**super().get_config(), "outputs": self.outputs}

    def official(self) -> dict:
        basis = (self.basis, lambda weight: np.transpose(weight, (2, 3, 0, 1)))  # (C, 1, 4, 4) -> (4, 4, C, 1)
        return {"Basis.weight": basis, "LinearLayer.weight": (self.kernel, np.transpose)}
