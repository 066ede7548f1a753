"""Image-quality metrics (FID, KID, precision/recall, density/coverage, Inception Score)
and the feature networks they compare images in (``fid_inception``, ``inception_v3``, ``keras_file``).

Every metric takes ``features``: a feature network's name (``"fid_inception"``),
a table with its parameters (``{ name = "inception_v3", weights = "..." }``),
or ``"auto"`` (the default: the digits classifier for grey images, the FID
Inception for colour), and ``resize``, the filter that brings images to a
fixed-size network's input.
"""

from typing import Annotated, Literal, Optional

from pydantic import Field

from ganforge import hookimpl
from ganforge.evaluation.features import FeaturesParam

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for

Features = Annotated[
    FeaturesParam,
    Field(
        description='feature network: a name ("fid_inception") or { name = ..., parameters }; '
        '"auto": digits for 1-channel images, fid_inception for colour'
    ),
]
Samples = Annotated[int, Field(ge=1, description="generated images measured")]
Reference = Annotated[int, Field(ge=1, description="real images compared with (a fixed random choice)")]
Resize = Annotated[
    Optional[Literal["bilinear", "bicubic", "area", "nearest", "lanczos3"]],
    Field(
        description="filter that resizes images to a fixed-size network's input (default bilinear); "
        "fid_inception resizes as the reference FID code does and takes none"
    ),
]


def fid(
    features: Features = "auto",
    samples: Samples = 5000,
    reference_samples: Reference = 5000,
    resize: Resize = None,
):
    """Fréchet distance between Gaussians fitted to real and generated features."""
    from ganforge_metrics.measured import FID

    return FID(features, samples, reference_samples, resize)


def kid(
    features: Features = "auto",
    samples: Samples = 5000,
    reference_samples: Reference = 5000,
    resize: Resize = None,
    subsets: Annotated[int, Field(ge=1, description="random subsets averaged over")] = 100,
    subset_size: Annotated[
        int, Field(ge=2, description="vectors per side in each subset (capped at the sample counts)")
    ] = 1000,
):
    """Unbiased MMD² with the cubic polynomial kernel, averaged over subsets."""
    from ganforge_metrics.measured import KID

    return KID(features, samples, reference_samples, resize, subsets, subset_size)


def precision_recall(
    features: Features = "auto",
    samples: Samples = 5000,
    reference_samples: Reference = 5000,
    resize: Resize = None,
    k: Annotated[int, Field(ge=1, description="neighbour that sets each point's ball")] = 3,
):
    """Improved precision and recall (k-NN manifolds)."""
    from ganforge_metrics.measured import PrecisionRecall

    return PrecisionRecall(features, samples, reference_samples, resize, k)


def density_coverage(
    features: Features = "auto",
    samples: Samples = 5000,
    reference_samples: Reference = 5000,
    resize: Resize = None,
    k: Annotated[int, Field(ge=1, description="neighbour that sets each real point's ball")] = 5,
):
    """Density and coverage (k-NN balls around real samples)."""
    from ganforge_metrics.measured import DensityCoverage

    return DensityCoverage(features, samples, reference_samples, resize, k)


def inception_score(
    features: Features = "auto",
    samples: Samples = 5000,
    resize: Resize = None,
    splits: Annotated[int, Field(ge=1, description="parts the samples are split into; mean and std over them")] = 10,
):
    """exp(E KL(p(y|x) || p(y))) from the feature network's class logits."""
    from ganforge_metrics.measured import InceptionScore

    return InceptionScore(features, samples, resize, splits)


def fid_inception(
    weights: Annotated[
        str,
        Field(
            description="path to pt_inception-2015-12-05-6726825d.pth; default $GANFORGE_FID_WEIGHTS, "
            "else downloaded once into the cache"
        ),
    ] = "",
):
    """The Inception network of published FIDs (the 2015-12-05 graph, pytorch-fid's weights file)."""
    from ganforge_metrics.networks import FIDInception

    return FIDInception(weights)


def inception_v3(
    weights: Annotated[
        str,
        Field(
            description="path to inception_v3_weights_tf_dim_ordering_tf_kernels.h5; default $GANFORGE_INCEPTION_WEIGHTS"
        ),
    ] = "",
):
    """Keras' ImageNet Inception-v3 from a local weights file (or $GANFORGE_INCEPTION_WEIGHTS)."""
    from ganforge_metrics.networks import InceptionV3

    return InceptionV3(weights)


def keras_file(
    path: Annotated[str, Field(description="a model saved with model.save('....keras')")],
    layer: Annotated[str, Field(description="the layer whose output is the features")],
    logits_layer: Annotated[str, Field(description="a layer of class logits, for the Inception Score")] = "",
):
    """Any .keras model file (loaded in safe mode), features from a named layer."""
    from ganforge_metrics.networks import KerasFile

    return KerasFile(path, layer, logits_layer)


def class_consistency(
    features: Features = "auto",
    samples: Annotated[int, Field(ge=1, description="generated images measured, split evenly over the classes")] = 5000,
    resize: Resize = None,
):
    """A conditional generator's samples drawn for each class, read by a classifier: the share read right."""
    from ganforge_metrics.per_class import ClassConsistency

    return ClassConsistency(features, samples, resize)


def intra_fid(
    features: Features = "auto",
    samples: Annotated[int, Field(ge=1, description="generated images measured, split evenly over the classes")] = 5000,
    reference_samples: Annotated[
        int, Field(ge=1, description="real images compared with, split evenly over the classes")
    ] = 5000,
    resize: Resize = None,
):
    """FID between each class's samples and that class's real images, averaged over the classes."""
    from ganforge_metrics.per_class import IntraClassFID

    return IntraClassFID(features, samples, reference_samples, resize)


@hookimpl
def register_metrics(register):
    register("fid", fid, help="Fréchet distance of features (FID)")
    register("kid", kid, help="kernel distance of features (KID), unbiased")
    register("precision_recall", precision_recall, help="improved precision and recall, k = 3")
    register("density_coverage", density_coverage, help="density and coverage, k = 5")
    register("inception_score", inception_score, help="Inception Score, from class logits")
    register("class_consistency", class_consistency, help="conditional: the share of samples read as their class")
    register("intra_fid", intra_fid, help="conditional: FID per class against that class's real images, averaged")


@hookimpl
def register_feature_networks(register):
    register("fid_inception", fid_inception, help="the FID Inception (2015 graph) of published FIDs, 2048-d")
    register("inception_v3", inception_v3, help="Keras' ImageNet Inception-v3 from a local weights file, 2048-d")
    register("keras_file", keras_file, help="any .keras model, features from a named layer")
