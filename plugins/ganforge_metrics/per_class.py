"""Metrics of conditional generators, per class: does a sample show the class it was asked for, and how
close is each class's samples to that class's real images.

- ``class_consistency``: samples are drawn for each class in turn (``samples / K`` each) and a
  classifier (a feature network with logits and ``class_names``, such as ``digits``) reads them; the
  share it reads as the class they were drawn for, over all classes, and the worst class's share.
- ``intra_fid``: FID between the samples drawn for one class and real images of that class, averaged
  over the classes (Miyato & Koyama 2018 report it for class-conditional ImageNet).
"""

from __future__ import annotations

import numpy as np

from ganforge.data import label_spec
from ganforge.data.pixels import to_unit_range
from ganforge.evaluation.features import extract
from ganforge.plugin.contract import supports
from ganforge_metrics.measured import REFERENCE_SEED, FeatureMetric


class PerClassMetric(FeatureMetric):
    conditional = True  # needs samples for given labels: only a conditional run has them

    def check(self, spec, dataset) -> None:
        super().check(spec, dataset)
        labels = label_spec(dataset)
        if labels is None or labels.kind != "classes":
            kind = "no labels" if labels is None else "attributes, not classes"
            raise ValueError(f"measures per class, and this dataset has {kind}")
        if self.samples < len(labels):
            raise ValueError(f"samples = {self.samples} cannot cover the dataset's {len(labels)} classes")

    def per_class(self, context) -> tuple[np.ndarray, int]:
        """The samples drawn for each class in turn (``samples // K`` of each), and that count."""
        classes = len(context.label_spec)
        each = self.samples // classes
        labels = np.repeat(np.arange(classes, dtype=np.int32), each)
        return context.generate_for(labels), each

    def describe(self) -> dict:
        return {**super().describe(), "per_class": True}


class ClassConsistency(PerClassMetric):
    needs_logits = True

    def __init__(self, features, samples, resize):
        super().__init__(features, samples, 0, resize, minimum=0)

    def check(self, spec, dataset) -> None:
        super().check(spec, dataset)
        self.network_classes(label_spec(dataset))

    def network_classes(self, labels) -> np.ndarray:
        """For each of the dataset's classes, the place of the same name among the network's classes."""
        names = supports("features", self.network)["class_names"]
        if names is None:
            raise ValueError(f"needs a classifier whose classes have names; {self.network.describe()} has none")
        missing = [name for name in labels.names if name not in names]
        if missing:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise ValueError(f"the classes {shown} are not among the network's ({', '.join(names[:12])})")
        return np.array([list(names).index(name) for name in labels.names])

    def evaluate(self, context):
        self._spec = self._spec or context.spec
        images, each = self.per_class(context)
        read = extract(self.network, images, self.resize).logits.argmax(axis=1)
        wanted = np.repeat(self.network_classes(context.label_spec), each)
        right = (read == wanted).reshape(-1, each).mean(axis=1)
        return {"class_consistency": float(right.mean()), "worst_class": float(right.min())}


class IntraClassFID(PerClassMetric):
    def __init__(self, features, samples, reference_samples, resize):
        super().__init__(features, samples, reference_samples, resize, minimum=2)
        self._real: dict = {}  # features of each class's real images, and the dataset's labels, read once
        self._labels: dict = {}

    def real_of_class(self, dataset, spec, k: int, count: int):
        """Features of up to ``count`` real images of class ``k`` (a fixed choice), computed once."""
        key = (id(self.network), id(dataset), k, count)
        if key not in self._real:
            if (labels := self._labels.get(id(dataset))) is None:
                labels = self._labels[id(dataset)] = dataset.labels(np.arange(len(dataset)))
            rows = np.flatnonzero(labels == k)
            chosen = np.sort(np.random.default_rng([REFERENCE_SEED, k]).permutation(rows)[:count])
            if len(chosen) < 2:
                raise ValueError(f"class {spec.names[k]!r} has {len(chosen)} real image(s); FID needs 2 or more")
            self._real[key] = (dataset, extract(self.network, to_unit_range(dataset.read(chosen)), self.resize))
        return self._real[key][1]

    def evaluate(self, context):
        from ganforge_metrics.frechet import fid

        self._spec = self._spec or context.spec
        images, each = self.per_class(context)
        spec = context.label_spec
        per_real = self.reference_samples // len(spec)
        distances = []
        for k in range(len(spec)):
            generated = extract(self.network, images[k * each : (k + 1) * each], self.resize)
            real = self.real_of_class(context.dataset, spec, k, per_real)
            distances.append(fid(real.features, generated.features))
        return {"intra_fid": float(np.mean(distances)), "worst_class_fid": float(np.max(distances))}
