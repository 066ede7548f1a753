"""Metrics that compare generated images with real ones in a feature network's space.

Each reads ``reference_samples`` real images (a fixed random choice, the same
at every evaluation) and ``samples`` generated ones, passes both through the
feature network, and compares. Real features are computed once per dataset,
network, count and resize, and kept for every metric that asks (``reference_features``). ``describe()`` gives what the number depends on: network, resize
filter and both sample counts.
"""

from __future__ import annotations

import numpy as np

from ganforge.data import size_without_preparing
from ganforge.data.pixels import to_unit_range
from ganforge.evaluation.features import Features, NetworkSlot, extract, network_record, resize_used

REFERENCE_SEED = 0
READ_CHUNK = 1000


def default_features(spec) -> str:
    """``features = "auto"``: the digits classifier for grey images (MNIST-like), else the FID Inception,
    the network published FIDs and KIDs of colour images are measured with."""
    if spec.is_image and spec.channels == 1:
        return "digits"
    return "fid_inception"


# (network, dataset, count, resize) -> (dataset, features): metrics on one network share the real images'
# features. The dataset is held so that its id is not reused while the entry exists.
_REFERENCES: dict[tuple, tuple] = {}


def reference_features(network, dataset, count: int, resize) -> Features:
    """Features of ``count`` real images, a fixed random choice (the same at every evaluation)."""
    key = (id(network), id(dataset), count, resize)
    if key not in _REFERENCES:
        chosen = np.sort(np.random.default_rng(REFERENCE_SEED).permutation(len(dataset))[:count])
        images = np.concatenate(
            [to_unit_range(dataset.read(chosen[s : s + READ_CHUNK])) for s in range(0, len(chosen), READ_CHUNK)]
        )
        _REFERENCES[key] = (dataset, extract(network, images, resize))
    return _REFERENCES[key][1]


class FeatureMetric:
    needs_logits = False

    def __init__(self, features, samples: int, reference_samples: int, resize: str | None, minimum: int):
        for key, value in (("samples", samples), ("reference_samples", reference_samples)):
            if value < minimum:
                raise ValueError(f"{key}: this metric needs at least {minimum} samples; got {value}")
        self._network = NetworkSlot(features, default_features)
        self.samples = samples
        self.reference_samples = reference_samples
        self.resize = resize
        self._spec = None

    @property
    def network(self):
        return self._network.get(self._spec)

    def check(self, spec, dataset) -> None:
        """Before training: the data are images the network can take, and there are enough of them."""
        if not spec.is_image:
            raise ValueError(f"needs images; this dataset's samples have shape {spec.shape}")
        self._spec = spec
        resize_used(self.network, self.resize)
        probe = extract(self.network, np.zeros((2, *spec.shape), np.float32), self.resize)
        if self.needs_logits and probe.logits is None:
            raise ValueError(f"needs class logits, and the feature network {self.network.describe()} has none")
        if dataset is not None and size_without_preparing(dataset) < self.reference_samples:
            raise ValueError(
                f"reference_samples = {self.reference_samples}, but the dataset holds only {size_without_preparing(dataset)} images"
            )

    def reference(self, dataset) -> Features:
        self._spec = self._spec or dataset.spec
        if len(dataset) < self.reference_samples:
            raise ValueError(
                f"reference_samples = {self.reference_samples}, but the reference holds only {len(dataset)} images"
            )
        return reference_features(self.network, dataset, self.reference_samples, self.resize)

    def evaluate(self, context) -> dict[str, float]:
        self._spec = self._spec or context.spec
        generated = extract(self.network, context.generate(self.samples), self.resize)
        return self.compare(self.reference(context.dataset), generated)

    def compare(self, real: Features, generated: Features) -> dict[str, float]:
        raise NotImplementedError

    def describe(self) -> dict:
        return {
            "features": self.network.describe(),
            "network": network_record(self._network.name, self.network),
            "resize": resize_used(self.network, self.resize),
            "samples": self.samples,
            "reference_samples": self.reference_samples,
        }


class FID(FeatureMetric):
    def __init__(self, features, samples, reference_samples, resize):
        super().__init__(features, samples, reference_samples, resize, minimum=2)

    def compare(self, real, generated):
        from ganforge_metrics.frechet import fid

        return {"fid": fid(real.features, generated.features)}


class KID(FeatureMetric):
    def __init__(self, features, samples, reference_samples, resize, subsets: int, subset_size: int):
        if subsets < 1 or subset_size < 2:
            raise ValueError(f"subsets must be >= 1 and subset_size >= 2; got {subsets} and {subset_size}")
        super().__init__(features, samples, reference_samples, resize, minimum=2)
        self.subsets = subsets
        # like the reference implementations: subsets no larger than the samples there are
        self.subset_size = min(subset_size, samples, reference_samples)

    def compare(self, real, generated):
        from ganforge_metrics.kernel import kid

        mean, std = kid(real.features, generated.features, subsets=self.subsets, subset_size=self.subset_size)
        return {"kid": mean, "kid_std": std}

    def describe(self):
        return {**super().describe(), "subsets": self.subsets, "subset_size": self.subset_size}


class PrecisionRecall(FeatureMetric):
    def __init__(self, features, samples, reference_samples, resize, k: int):
        if k < 1:
            raise ValueError(f"k must be >= 1; got {k}")
        super().__init__(features, samples, reference_samples, resize, minimum=k + 1)
        self.k = k

    def compare(self, real, generated):
        from ganforge_metrics.manifold import precision_recall

        return precision_recall(real.features, generated.features, self.k)

    def describe(self):
        return {**super().describe(), "k": self.k}


class DensityCoverage(PrecisionRecall):
    def compare(self, real, generated):
        from ganforge_metrics.manifold import density_coverage

        return density_coverage(real.features, generated.features, self.k)


class InceptionScore(FeatureMetric):
    """Needs no real images: ``reference_samples`` is 0."""

    needs_logits = True

    def __init__(self, features, samples, resize, splits: int):
        super().__init__(features, samples, 0, resize, minimum=0)
        if splits < 1 or samples < splits:
            raise ValueError(f"samples: {splits} splits need at least {splits} samples; got {samples}")
        self.splits = splits

    def evaluate(self, context):
        from ganforge_metrics.inception_score import inception_score

        self._spec = self._spec or context.spec
        generated = extract(self.network, context.generate(self.samples), self.resize)
        mean, std = inception_score(generated.logits, self.splits)
        return {"inception_score": mean, "inception_score_std": std}

    def describe(self):
        return {**super().describe(), "splits": self.splits}
