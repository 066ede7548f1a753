"""Feature networks loaded from weight files: the FID Inception, Keras' Inception-v3, any ``.keras`` model.

Only the FID Inception's weights are downloaded (once, SHA-256 checked, into the cache); for the
others a missing file is an error that says which file is needed and where to get it. ``.keras`` files are loaded in Keras' safe mode,
so a file cannot run code (no lambda layers) that it smuggles in.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

# under "ganforge", where the ganforge command shows INFO records; a module name outside it would not be shown
logger = logging.getLogger("ganforge.plugins.metrics")
INCEPTION_ENV = "GANFORGE_INCEPTION_WEIGHTS"
INCEPTION_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/{INCEPTION_FILE}"
FID_WEIGHTS_ENV = "GANFORGE_FID_WEIGHTS"  # a local copy of the FID Inception weights
FID_URL_ENV = "GANFORGE_FID_WEIGHTS_URL"  # a mirror to download them from (same SHA-256)


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


class FIDInception:
    """The FID Inception network (pytorch-fid's port of the 2015-12-05 graph): 2048-d pool3 features
    and 1008 class logits, fed exactly as the reference FID code feeds it (see ``reference_input``)."""

    input_shape = (None, None, 3)  # any size: the network brings images to 299x299 itself
    resize = "pytorch-fid: uint8, bilinear to 299x299 (align_corners=False, no antialias), 2x-1"
    smallest = 16  # pixels a side; smaller images are more the resize filter than the generator
    batch = 50  # 299x299 activations are large: 50 images a forward pass

    def __init__(self, weights: str = ""):
        from ganforge import backend
        from ganforge.evaluation.download import sha256_of
        from ganforge.evaluation.torch_weights import WeightsFileError, read_state_dict
        from ganforge_metrics import inception_2015

        self.path, verified = locate_fid_weights(weights)
        self.sha256 = verified or sha256_of(self.path)
        try:
            arrays = read_state_dict(self.path)
        except WeightsFileError as error:
            raise ValueError(f"weights: {error}") from None
        self.model, units = inception_2015.build_model(backend.keras())
        inception_2015.load_weights(self.model, units, arrays, self.path)

    @property
    def standard(self) -> bool:
        from ganforge_metrics.inception_2015 import WEIGHTS_SHA256

        return self.sha256 == WEIGHTS_SHA256

    def describe(self) -> str:
        which = "the published weights" if self.standard else f"NOT the published weights: {self.path.name}"
        return f"fid_inception (2015-12-05 Inception, {which}, SHA-256 {self.sha256[:12]}, 2048-d pool3)"

    def record(self) -> dict:
        return {"weights": str(self.path), "weights_sha256": self.sha256, "standard_weights": self.standard}

    def __call__(self, images):
        from ganforge_metrics.inception_2015 import SIZE
        from ganforge_metrics.reference_input import reference_input

        features, logits = self.model(reference_input(images, SIZE), training=False)
        return np.asarray(features), np.asarray(logits)


def locate_fid_weights(weights: str) -> tuple[Path, str | None]:
    """The weights file: the one given, else ``$GANFORGE_FID_WEIGHTS``, else the cached download
    (fetched now, once, from the published URL or ``$GANFORGE_FID_WEIGHTS_URL``, SHA-256 checked);
    and its SHA-256 where checking it already read the file (None for a file given by the user)."""
    from ganforge.data.cache import default_cache_root
    from ganforge.errors import DataError
    from ganforge.evaluation.download import fetch
    from ganforge_metrics.inception_2015 import WEIGHTS_BYTES, WEIGHTS_FILE, WEIGHTS_SHA256, WEIGHTS_URL

    if weights:
        return _existing_file(weights, "weights", f"the FID Inception weights, {WEIGHTS_FILE}"), None
    if os.environ.get(FID_WEIGHTS_ENV):
        what = f"the FID Inception weights, {WEIGHTS_FILE}"
        return _existing_file(os.environ[FID_WEIGHTS_ENV], f"${FID_WEIGHTS_ENV}", what), None
    target = default_cache_root() / "features" / WEIGHTS_FILE
    url = os.environ.get(FID_URL_ENV) or WEIGHTS_URL
    fix = (
        f"fetch {WEIGHTS_URL} where there is internet, then give its path with "
        f'--features fid_inception:weights=PATH, features = {{ name = "fid_inception", weights = "PATH" }} '
        f"or ${FID_WEIGHTS_ENV}=PATH"
    )
    if not target.is_file():
        logger.info(f"downloading the FID Inception weights ({WEIGHTS_BYTES / 1e6:.1f} MB) from {url} ...")
    try:
        found = fetch(url, target, WEIGHTS_SHA256, fix=fix)
    except DataError as error:
        raise ValueError(f"weights: {error}") from None
    logger.info(f"FID Inception weights: {found} (SHA-256 verified)")
    return found, WEIGHTS_SHA256  # fetch() read the file to check exactly this
