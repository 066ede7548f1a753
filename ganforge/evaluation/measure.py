"""Running metrics: what a metric is given, what it returns, and where results are kept.

Used in training (every ``[eval] every`` steps) and by ``ganforge eval``.
Every result goes to the run folder's ``evaluations.jsonl`` with what it
depended on (the metric's ``describe()``: feature network, resize filter,
sample counts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.data.labels import LabelSpec
from ganforge.errors import DataError
from ganforge.plugin.contract import supports
from ganforge.runs import records
from ganforge.runs.folder import EVALUATIONS


@dataclass
class EvalContext:
    """What a metric's ``evaluate(context)`` gets (see the Metric protocol)."""

    step: int
    spec: object
    dataset: object
    generate: Callable[[int], np.ndarray]
    save_image: Callable[[str, np.ndarray], None]
    # a conditional run's: what its labels are, and samples made for given labels (as the dataset gives them)
    label_spec: LabelSpec | None = None
    generate_for: Callable[[np.ndarray], np.ndarray] | None = None


class NamedMetric:
    """A metric under the name a recipe gives it, its optional members looked up once."""

    def __init__(self, name: str, metric: Any):
        found = supports("metric", metric)
        self.name = name
        self.metric = metric
        self._check = found["check"]
        self._describe = found["describe"]
        self.conditional = bool(found["conditional"])

    def check(self, spec, dataset) -> None:
        """Raises ValueError when the metric cannot measure this data."""
        if self._check is not None:
            self._check(spec, dataset)

    def describe(self) -> dict[str, Any]:
        return self._describe() if self._describe is not None else {}

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        return {key: float(value) for key, value in self.metric.evaluate(context).items()}


def measure(
    metrics: list[NamedMetric], generate, reference, step: int, where: str = "", label_spec=None, generate_for=None
) -> list[tuple[str, dict, dict]]:
    """(name, results, description) for each metric, outside training (``ganforge eval``).

    Each metric first checks it can measure ``reference``; a metric's ValueError is a DataError naming
    it and ``where`` (the images measured, in words). ``label_spec``, ``generate_for``: a conditional
    generator's labels and its samples for given labels (EvalContext).
    """
    context = EvalContext(step, reference.spec, reference, generate, lambda name, image: None, label_spec, generate_for)
    measured = []
    for metric in metrics:
        try:
            metric.check(reference.spec, reference)
            if metric.conditional and generate_for is None:
                raise ValueError("measures a conditional generator ([condition] labels = true); this one is not")
            results = metric.evaluate(context)
        except ValueError as error:
            raise DataError(f"metric {metric.name!r}{f' on {where}' if where else ''}: {error}") from None
        measured.append((metric.name, results, metric.describe()))
    return measured


# dataset parameters that change how data is read, not which images are read; ``limit`` narrows what
# training reads, while metrics compare with the whole dataset
NOT_ABOUT_THE_IMAGES = ("cache_dir", "workers", "limit")


def reference_name(dataset_table: dict) -> str:
    """The reference set of a run's results in words: its dataset and every parameter that picks the images."""
    parameters = ", ".join(
        f"{key}={value!r}" for key, value in sorted(dataset_table.items()) if key not in ("name", *NOT_ABOUT_THE_IMAGES)
    )
    return f"dataset {dataset_table['name']!r}" + (f" ({parameters})" if parameters else "")


def append_evaluation(run_dir: Path, record: dict) -> None:
    records.append(run_dir / EVALUATIONS, record)
