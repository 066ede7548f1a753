"""Image-quality metrics (FID, KID, precision/recall, density/coverage, Inception Score)
and the feature networks loaded from local files (``inception_v3``, ``keras_file``).

Every metric takes ``features``: a feature network's name (``"digits"``) or
a table with its parameters (``{ name = "inception_v3", weights = "..." }``),
and ``resize``, the filter that brings images to the network's input size.
"""
from typing import Literal

from ganforge import hookimpl
from ganforge.features import FeaturesParam

Resize = Literal["bilinear", "bicubic", "area", "nearest", "lanczos3"]


def fid(features: FeaturesParam = "digits", samples: int = 5000, reference_samples: int = 5000, resize: Resize = "bilinear"):
    """Fréchet distance between Gaussians fitted to real and generated features."""
    from ganforge_metrics.measured import FID

    return FID(features, samples, reference_samples, resize)


def kid(
    features: FeaturesParam = "digits", samples: int = 5000, reference_samples: int = 5000, resize: Resize = "bilinear",
    subsets: int = 100, subset_size: int = 1000,
):
    """Unbiased MMD² with the cubic polynomial kernel, averaged over subsets."""
    from ganforge_metrics.measured import KID

    return KID(features, samples, reference_samples, resize, subsets, subset_size)


def precision_recall(
    features: FeaturesParam = "digits", samples: int = 5000, reference_samples: int = 5000, resize: Resize = "bilinear",
    k: int = 3,
):
    """Improved precision and recall (k-NN manifolds)."""
    from ganforge_metrics.measured import PrecisionRecall

    return PrecisionRecall(features, samples, reference_samples, resize, k)


def density_coverage(
    features: FeaturesParam = "digits", samples: int = 5000, reference_samples: int = 5000, resize: Resize = "bilinear",
    k: int = 5,
):
    """Density and coverage (k-NN balls around real samples)."""
    from ganforge_metrics.measured import DensityCoverage

    return DensityCoverage(features, samples, reference_samples, resize, k)


def inception_score(features: FeaturesParam = "digits", samples: int = 5000, resize: Resize = "bilinear", splits: int = 10):
    """exp(E KL(p(y|x) || p(y))) from the feature network's class logits."""
    from ganforge_metrics.measured import InceptionScore

    return InceptionScore(features, samples, resize, splits)


def inception_v3(weights: str = ""):
    """Keras' ImageNet Inception-v3 from a local weights file (or $GANFORGE_INCEPTION_WEIGHTS)."""
    from ganforge_metrics.networks import InceptionV3

    return InceptionV3(weights)


def keras_file(path: str, layer: str, logits_layer: str = ""):
    """Any .keras model file (loaded in safe mode), features from a named layer."""
    from ganforge_metrics.networks import KerasFile

    return KerasFile(path, layer, logits_layer)


@hookimpl
def register_metrics(register):
    register("fid", fid, help="Fréchet distance of features (FID)")
    register("kid", kid, help="kernel distance of features (KID), unbiased")
    register("precision_recall", precision_recall, help="improved precision and recall, k = 3")
    register("density_coverage", density_coverage, help="density and coverage, k = 5")
    register("inception_score", inception_score, help="Inception Score, from class logits")


@hookimpl
def register_feature_networks(register):
    register("inception_v3", inception_v3, help="Inception-v3 from a local Keras weights file, 2048-d")
    register("keras_file", keras_file, help="any .keras model, features from a named layer")
