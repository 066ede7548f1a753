"""Feature networks, as metrics use them: built by name, fed images of any size.

A metric names its feature network the way a recipe names any component:
``features = "digits"`` or ``features = { name = "inception_v3", weights = "..." }``.
Images reach the network through ``extract``, which resizes them with a
named filter and repeats a single channel to three when the network wants
colour. A network whose ``input_shape`` is ``(None, None, C)`` takes images of
any size and brings them to its input itself, the way its reference code does
(the FID Inception); its ``resize`` attribute says how. Every number a metric
reports is only comparable to others made with the same network, weights,
resize and sample counts, so a metric's ``describe`` gives them all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from ganforge import backend
from ganforge.data.pixels import to_unit_range  # noqa: F401 (0.1 plugins import it from here)
from ganforge.errors import Location, RecipeError
from ganforge.plugin.build import build
from ganforge.plugin.contract import supports
from ganforge.plugin.registry import Registry, get_registry

RESIZE_FILTERS = ("bilinear", "bicubic", "area", "nearest", "lanczos3")
DEFAULT_RESIZE = "bilinear"
AUTO = "auto"  # a metric's features chosen by the data (see NetworkSlot)

FeaturesParam = Union[str, dict[str, Any]]


@dataclass
class Features:
    features: np.ndarray  # (N, D) float64
    logits: np.ndarray | None  # (N, classes), when the network classifies


def build_feature_network(value: FeaturesParam, registry: Registry | None = None):
    """The network a metric's ``features`` parameter names.

    Errors are ``ValueError``s naming the key (``features.weights: ...``): the
    metric that asked reports them as an error in its own recipe table.
    """
    table = {"name": value} if isinstance(value, str) else dict(value)
    if not isinstance(table.get("name"), str):
        raise ValueError('features: give a feature network\'s name, e.g. features = "digits"')
    try:
        return build(registry or get_registry(), "features", table, where=Location("features"))
    except RecipeError as error:
        # the factory's own message already names its key; validation's needs the key said
        raise ValueError(error.message if error.key == "features" else str(error)) from None


class NetworkSlot:
    """A metric's feature network, built on first use: creating a metric stays cheap, and a
    missing weights file surfaces at the metric's ``check()``, before training.

    ``choose(spec) -> value`` stands in for the value ``"auto"``: the network then depends on the
    data (a metric may pick one for grey digits and another for colour photographs)."""

    def __init__(self, value: FeaturesParam, choose: Callable[[Any], FeaturesParam] | None = None):
        self.value = value
        self.choose = choose
        self._network = None

    def get(self, spec=None):
        if self._network is None:
            value = self.value
            if value == AUTO:
                if spec is None or self.choose is None:
                    raise ValueError('features: "auto" is decided by the data, which is not known here')
                value = self.choose(spec)
            self._network = shared_network(value)
            self.name = value if isinstance(value, str) else value["name"]
        return self._network


_SHARED: dict[str, object] = {}


def shared_network(value: FeaturesParam):
    """One network per value (and ganforge environment) in a process: FID, KID and precision/recall
    on the same network build it once, and keep its weights in memory once."""
    settings = {key: item for key, item in os.environ.items() if key.startswith("GANFORGE_")}
    key = json.dumps([value, settings], sort_keys=True, default=str)
    if key not in _SHARED:
        _SHARED[key] = build_feature_network(value)
    return _SHARED[key]


def fit_to_input(images: np.ndarray, input_shape: tuple, resize: str | None, smallest: int = 1) -> np.ndarray:
    """Images (N, H, W, C) in [-1, 1], channel-matched to ``input_shape`` and resized to it with the
    filter ``resize`` (default bilinear) — unless its height is None: a network that takes images of
    any size (``smallest`` pixels a side at least) and resizes them itself."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"the feature network takes images (N, H, W, C); got shape {images.shape}")
    height, width, channels = input_shape
    have = images.shape[-1]
    if have != channels:
        if have == 1 and channels == 3:
            images = np.repeat(images, 3, axis=-1)  # grey as colour, as FID on MNIST is usually computed
        else:
            raise ValueError(f"the feature network takes {channels}-channel images; these have {have}")
    if height is None:
        if min(images.shape[1:3]) < smallest:
            raise ValueError(
                f"the feature network takes images of at least {smallest}x{smallest}; "
                f"these are {images.shape[1]}x{images.shape[2]}"
            )
        return images
    resize = resize or DEFAULT_RESIZE
    if resize not in RESIZE_FILTERS:
        raise ValueError(f"resize: unknown filter {resize!r}; choose one of {', '.join(RESIZE_FILTERS)}")
    if images.shape[1:3] != (height, width):
        images = np.clip(_resized(images, (height, width), resize), -1.0, 1.0)
    return images


def resize_used(network, resize: str | None) -> str:
    """What brought images to the network's input, for records; a filter the network would ignore is an error."""
    own = network.input_shape[0] is None
    how = supports("features", network)["resize"] or "its own"
    if own and resize is not None:
        raise ValueError(f"resize: this feature network resizes images itself ({how}); leave resize out")
    return how if own else resize or DEFAULT_RESIZE


def network_record(name: str, network) -> dict:
    """The network's name and what identifies its weights (a checksum, where it reports one)."""
    record = supports("features", network)["record"]
    extra = record() if record is not None else {}
    return {"name": name, "description": network.describe(), **extra}


def _resized(images: np.ndarray, size: tuple[int, int], resize: str) -> np.ndarray:
    """TensorFlow's resize where TensorFlow runs (the filters FID numbers so far were measured with);
    Keras' own on another backend (JAX's resize: antialiased the same way, not bit-identical)."""
    if backend.current() == "tensorflow":
        tf = backend.tensorflow()
        return tf.image.resize(images, size, method=resize, antialias=resize != "nearest").numpy()
    keras = backend.keras()
    return np.asarray(keras.ops.image.resize(images, size, interpolation=resize, antialias=resize != "nearest"))


def extract(network, images: np.ndarray, resize: str | None) -> Features:
    """Features (and logits) of ``images`` in [-1, 1], in batches."""
    features, logits = [], []
    optional = supports("features", network)
    step = optional["batch"]
    for start in range(0, len(images), step):
        batch = fit_to_input(images[start : start + step], network.input_shape, resize, optional["smallest"])
        batch_features, batch_logits = network(batch)
        features.append(np.asarray(batch_features, np.float64).reshape(len(batch), -1))
        if batch_logits is not None:
            logits.append(np.asarray(batch_logits, np.float64))
    return Features(np.concatenate(features), np.concatenate(logits) if logits else None)
