"""Weights in the official R3GAN code's layout, put into ganforge's networks.

The official networks (brownvc/R3GAN, ``training/networks.py``) wrap ``R3GAN.Networks`` as ``.Model``, so
a state dict's keys read ``Model.MainLayers.{s}.Layers.{l}.<module>``, ``Model.AggregationLayer...``
(G), ``Model.ExtractionLayer...`` (D) and ``Model.EmbeddingLayer.weight`` (conditional networks); keys
without the ``Model.`` prefix (the state dict of ``.Model`` itself) are read too. Tensors are NCHW /
OIHW, transposed here. The resamplers' ``Kernel`` buffers are not weights: they are checked against
ganforge's fixed [1, 3, 3, 1] filter, so a file made with another filter is refused, not misread.

The file is read by ganforge's pickle-free reader (``ganforge.evaluation.torch_weights``): a plain
``state_dict`` saved with ``torch.save``; docs/models.md shows how to get one from an official ``.pkl``.
"""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np

from ganforge.evaluation.torch_weights import WeightsFileError, read_state_dict
from ganforge_r3gan.layers import LOWPASS, torch_conv_kernel

STAGE_LAYER = re.compile(r"^stage(\d+)_layer(\d+)(_linear)?$")
FILTER = "Resampler.Kernel"


def read(path: str | Path) -> dict[str, np.ndarray]:
    """The file's tensors, keyed without the wrapper's ``Model.`` prefix."""
    try:
        tensors = read_state_dict(Path(path))
    except (OSError, WeightsFileError) as error:
        raise ValueError(f"{path}: {error}") from None
    return {key.removeprefix("Model."): np.asarray(value) for key, value in tensors.items()}


def weights(model: keras.Model) -> dict[str, tuple]:
    """Official key (without ``Model.``) -> (the network's variable, official array -> Keras array)."""
    found = {}
    for layer in model.layers:
        found.update({f"{_module(layer)}.{key}": value for key, value in _layer_weights(layer).items()})
    return found


def _module(layer) -> str:
    """The official module a ganforge layer stands for (the names in networks.py follow them)."""
    if match := STAGE_LAYER.match(layer.name):
        return f"MainLayers.{match[1]}.Layers.{match[2]}" + (".LinearLayer" if match[3] else "")
    return {"aggregation": "AggregationLayer", "extraction": "ExtractionLayer", "embedding": "EmbeddingLayer"}.get(
        layer.name, layer.name
    )


def _layer_weights(layer) -> dict[str, tuple]:
    if hasattr(layer, "official"):
        return layer.official()
    if isinstance(layer, keras.layers.Conv2D):  # a 1x1 convolution: the official Convolution's inner Layer
        return {"Layer.weight": (layer.kernel, torch_conv_kernel)}
    if isinstance(layer, keras.layers.Embedding):  # the official Linear on one-hot classes
        return {"weight": (layer.embeddings, np.transpose)}
    if isinstance(layer, keras.layers.Dense):
        return {"weight": (layer.kernel, np.transpose)}
    return {}


def load(model: keras.Model, tensors: dict[str, np.ndarray], source: str) -> None:
    """Every weight of ``model`` from ``tensors``: a key left over, one missing or a shape that differs
    means the file was made for another network, and nothing is half-loaded when that is found."""
    wanted = weights(model)
    filters = {key: value for key, value in tensors.items() if key.endswith(FILTER)}
    for key, kernel in filters.items():
        _check_filter(kernel, f"{source}: {key}")
    given = {key: value for key, value in tensors.items() if key not in filters}
    extra, missing = sorted(set(given) - set(wanted)), sorted(set(wanted) - set(given))
    if extra or missing:
        raise ValueError(
            f"{source}: not the state dict of this network ({_differences(extra, missing)}): it was made for other widths, blocks, image size or labels"
        )
    converted = {}
    for key, (variable, convert) in wanted.items():
        value = np.asarray(convert(given[key]), np.float32)
        if value.shape != tuple(variable.shape):
            raise ValueError(
                f"{source}: {key} has shape {given[key].shape}, this network needs {tuple(variable.shape)} (in the official layout)"
            )
        converted[key] = value
    for key, (variable, _) in wanted.items():
        variable.assign(converted[key])


def _differences(extra: list[str], missing: list[str]) -> str:
    parts = []
    if extra:
        parts.append(f"{len(extra)} tensor(s) it does not have, e.g. {extra[0]}")
    if missing:
        parts.append(f"{len(missing)} it needs missing, e.g. {missing[0]}")
    return "; ".join(parts)


def _check_filter(kernel: np.ndarray, where: str) -> None:
    taps = np.asarray(LOWPASS)
    expected = np.outer(taps, taps) / np.outer(taps, taps).sum()
    if kernel.shape != expected.shape or not np.allclose(kernel, expected, rtol=1e-6, atol=1e-7):
        raise ValueError(f"{where}: not the [1, 3, 3, 1] filter ganforge's R3GAN resamples with")
