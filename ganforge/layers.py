"""Layers that GAN models need and Keras lacks in the form the papers define.

``SpectralNorm`` is spectral normalization as Miyato et al. (2018) define it and PyTorch's
``torch.nn.utils.spectral_norm`` implements it: every training call runs one power-iteration step
that updates the estimates ``u`` and ``v`` of the kernel's leading singular vectors, and the layer
computes with ``W / σ``, ``σ = uᵀ W v``, where the gradient flows through ``σ`` into ``W`` while ``u``
and ``v`` are held constant. The kernel itself keeps its unnormalised values: this is a
reparametrisation, not a projection. (Keras' own ``SpectralNormalization`` writes ``W / σ`` back into
the kernel after each call, and lets no gradient through ``σ``.) ``u`` and ``v`` are non-trainable
weights of the layer, so checkpoints keep them and a resumed run continues the same iteration.
"""

from __future__ import annotations

import keras
from keras import ops

# layer type -> (the weight that is normalised, the axis of its outputs)
WRAPPABLE = {
    keras.layers.Dense: ("kernel", -1),
    keras.layers.Conv1D: ("kernel", -1),
    keras.layers.Conv2D: ("kernel", -1),
    keras.layers.Conv3D: ("kernel", -1),
    keras.layers.Conv2DTranspose: ("kernel", -2),
    keras.layers.Embedding: ("embeddings", 0),
}


def _normalized(vector, epsilon: float):
    return vector / ops.maximum(ops.sqrt(ops.sum(ops.square(vector))), epsilon)


@keras.saving.register_keras_serializable(package="ganforge")
class SpectralNorm(keras.layers.Wrapper):
    """``SpectralNorm(keras.layers.Conv2D(...))``: the wrapped layer, computing with its kernel divided
    by the kernel's largest singular value (estimated by power iteration, one step per training call)."""

    def __init__(self, layer, power_iterations: int = 1, epsilon: float = 1e-12, **kwargs):
        kind = next((kind for kind in WRAPPABLE if type(layer) is kind), None)
        if kind is None:
            names = ", ".join(kind.__name__ for kind in WRAPPABLE)
            raise ValueError(f"spectral norm cannot wrap a {type(layer).__name__} layer; it wraps {names}")
        if power_iterations < 1:
            raise ValueError(f"power_iterations must be >= 1, got {power_iterations}")
        super().__init__(layer, **kwargs)
        self.weight_name, self.output_axis = WRAPPABLE[kind]
        self.power_iterations = power_iterations
        self.epsilon = epsilon

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        shape = tuple(self._weight().shape)
        outputs = shape[self.output_axis]
        inputs = 1
        for size in shape:
            inputs *= size
        inputs //= outputs
        normal = keras.initializers.RandomNormal(0.0, 1.0)
        self.u = self.add_weight((outputs,), initializer=normal, trainable=False, name="u", aggregation="mean")
        self.v = self.add_weight((inputs,), initializer=normal, trainable=False, name="v", aggregation="mean")
        # PyTorch starts from normalised random vectors too
        self.u.assign(_normalized(self.u, self.epsilon))
        self.v.assign(_normalized(self.v, self.epsilon))
        self.built = True

    def _weight(self):
        return getattr(self.layer, self.weight_name)

    def _matrix(self, weight):
        """The weight as (outputs, inputs): the matrix whose largest singular value is σ."""
        moved = ops.moveaxis(weight, self.output_axis, 0)
        return ops.reshape(moved, (ops.shape(moved)[0], -1))

    def normalized_weight(self, training: bool = False):
        weight = self._weight()
        matrix = self._matrix(ops.cast(weight, "float32"))
        u, v = self.u, self.v
        if training:
            plain = ops.stop_gradient(matrix)
            for _ in range(self.power_iterations):
                v = _normalized(ops.matmul(u, plain), self.epsilon)
                u = _normalized(ops.matmul(plain, v), self.epsilon)
            self.u.assign(u)
            self.v.assign(v)
        u, v = ops.stop_gradient(ops.convert_to_tensor(u)), ops.stop_gradient(ops.convert_to_tensor(v))
        sigma = ops.sum(u * ops.matmul(matrix, v))
        return ops.cast(ops.cast(weight, "float32") / sigma, self.layer.compute_dtype)

    def call(self, inputs, training=False):
        weight = self.normalized_weight(bool(training))
        layer = self.layer
        if isinstance(layer, keras.layers.Embedding):
            return ops.take(weight, ops.cast(inputs, "int32"), axis=0)
        if isinstance(layer, keras.layers.Dense):
            outputs = ops.matmul(inputs, weight)
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            outputs = ops.conv_transpose(
                inputs,
                weight,
                layer.strides,
                layer.padding,
                layer.output_padding,
                layer.data_format,
                layer.dilation_rate,
            )
        else:
            outputs = layer.convolution_op(inputs, weight)
        if layer.use_bias:
            channels_first = getattr(layer, "data_format", "channels_last") == "channels_first"
            shape = [1] * len(outputs.shape)
            shape[1 if channels_first else -1] = -1
            outputs = outputs + ops.reshape(layer.bias, shape)
        return layer.activation(outputs) if layer.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations, "epsilon": self.epsilon}
