"""Feature networks loaded from files the user gives: Inception-v3, or any ``.keras`` model.

Nothing is downloaded: a missing file is an error that says which file is
needed and where to get it. ``.keras`` files are loaded in Keras' safe mode,
so a file cannot run code (no lambda layers) that it smuggles in.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

INCEPTION_ENV = "GANFORGE_INCEPTION_WEIGHTS"
INCEPTION_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/{INCEPTION_FILE}"


def _existing_file(path: str, key: str, what: str) -> Path:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"{key}: no such file {str(file)!r} ({what})")
    return file


class InceptionV3:
    """Keras' ImageNet Inception-v3: 2048-d pool features and 1000 class logits, at 299x299x3.

    FID from these weights is comparable with other Keras-Inception FIDs, not
    with the numbers of the original TensorFlow FID code, which used an older
    Inception graph; reports say which weights were used.
    """

    input_shape = (299, 299, 3)

    def __init__(self, weights: str = ""):
        from ganforge import backend

        path = weights or os.environ.get(INCEPTION_ENV, "")
        if not path:
            raise ValueError(
                f"weights: inception_v3 needs Keras' ImageNet weights file {INCEPTION_FILE} (92 MB). "
                f"ganforge never downloads it for you: fetch {INCEPTION_URL} where there is internet, then give its path "
                f'as features = {{ name = "inception_v3", weights = "PATH" }} or in ${INCEPTION_ENV}'
            )
        self.path = _existing_file(path, "weights", f"Keras' Inception-v3 weights, {INCEPTION_FILE}")
        keras = backend.keras()

        full = keras.applications.InceptionV3(include_top=True, weights=None)
        try:
            full.load_weights(self.path)
        except Exception as error:  # h5py and Keras raise many kinds for a wrong or damaged file
            raise ValueError(f"weights: {self.path} is not an Inception-v3 weights file: {error}") from None
        self.model = keras.Model(full.input, [full.get_layer("avg_pool").output, full.output])

    def describe(self) -> str:
        return f"inception_v3 (Keras ImageNet weights {self.path.name}, 2048-d avg_pool)"

    def __call__(self, images):
        features, probabilities = self.model(images, training=False)
        # the top layer is a softmax: log-probabilities are logits up to a constant per image
        return np.asarray(features), np.log(np.maximum(np.asarray(probabilities, np.float64), 1e-30))


class KerasFile:
    """Any ``.keras`` model: features from the layer named ``layer``, logits from ``logits_layer`` if given."""

    def __init__(self, path: str, layer: str, logits_layer: str = ""):
        from ganforge import backend

        self.path = _existing_file(path, "path", "a Keras model saved with model.save('....keras')")
        keras = backend.keras()

        try:
            model = keras.saving.load_model(self.path, compile=False, safe_mode=True)
        except Exception as error:
            raise ValueError(f"path: cannot load {self.path} as a Keras model: {error}") from None
        names = [one.name for one in model.layers]
        outputs = []
        for key, name in (("layer", layer), ("logits_layer", logits_layer)):
            if not name:
                continue
            if name not in names:
                raise ValueError(f"{key}: {self.path.name} has no layer {name!r}; its layers: {', '.join(names)}")
            outputs.append(model.get_layer(name).output)
        self.layer, self.has_logits = layer, bool(logits_layer)
        if len(model.inputs) != 1:
            raise ValueError(f"path: the model must take one input (images); it takes {len(model.inputs)}")
        self.model = keras.Model(model.inputs[0], outputs)
        self.input_shape = tuple(model.inputs[0].shape[1:])
        if len(self.input_shape) != 3 or None in self.input_shape:
            raise ValueError(f"path: the model must take images of a fixed (H, W, C); it takes {self.input_shape}")

    def describe(self) -> str:
        return f"{self.path.name} (layer {self.layer!r})"

    def __call__(self, images):
        outputs = self.model(images, training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        features = np.asarray(outputs[0]).reshape(len(images), -1)
        return features, (np.asarray(outputs[1]) if self.has_logits else None)
