"""What the loop shows and measures of the generator: sample pictures, metrics, the best checkpoint.

Both use the EMA generator when the recipe keeps one. Evaluation noise has
its own random stream per step, apart from training noise and data order,
so evaluating never changes what training draws.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from ganforge import streams
from ganforge.data.pixels import make_grid, to_uint8
from ganforge.evaluation.measure import EvalContext, NamedMetric, append_evaluation
from ganforge.plugin.contract import supports
from ganforge.runs import checkpoint
from ganforge.training.condition import Condition, drawn, generate, grid_rows
from ganforge.training.sinks import SinkSet

logger = logging.getLogger(__name__)

EVAL_BATCH = 500


class Monitor:
    def __init__(
        self,
        generator,
        dataset,
        metrics: list[NamedMetric],
        sinks: SinkSet,
        *,
        seed: int,
        latent_dim: int,
        samples: int,
        run_dir: Path | None = None,
        reference: str = "",
        condition: Condition | None = None,
    ):
        self.run_dir = run_dir
        self.reference = reference  # the real images metrics compare with, in words, for the records
        self.generator = generator
        self.dataset = dataset
        self.metrics = metrics
        self.sinks = sinks
        self.seed = seed
        self.latent_dim = latent_dim
        self._render = None if dataset.spec.is_image else supports("dataset", dataset)["render"]
        self.condition = condition
        # the same noise (and labels: a row per class) at every sample step, so pictures compare over time
        rng = streams.generator(seed, streams.FIXED_SAMPLES)
        self.fixed_noise = rng.standard_normal((samples, latent_dim)).astype(np.float32)
        self.fixed_labels, self.columns = None, None
        if condition is not None:
            rows = grid_rows(condition, samples)
            self.fixed_noise, self.fixed_labels = rows.inputs(self.fixed_noise)
            self.columns = rows.columns

    def generate(self, count: int, step: int) -> np.ndarray:
        """``count`` samples for the metrics; a conditional run's labels are drawn as training draws them."""
        rng = streams.generator(self.seed, streams.EVALUATION, step)
        labels = None
        if self.condition is not None:
            labels = drawn(self.condition, streams.generator(self.seed, streams.EVALUATION, step, 1), count)
        batches = []
        for start in range(0, count, EVAL_BATCH):
            noise = rng.standard_normal((min(EVAL_BATCH, count - start), self.latent_dim)).astype(np.float32)
            rows = None if labels is None else labels[start : start + len(noise)]
            batches.append(self._generate(noise, rows))
        return np.concatenate(batches)

    def generate_labelled(self, labels: np.ndarray, step: int) -> np.ndarray:
        """Samples for the given labels (a conditional run's per-class metrics), noise keyed by step."""
        rng = streams.generator(self.seed, streams.EVALUATION, step, 2)
        batches = []
        for start in range(0, len(labels), EVAL_BATCH):
            rows = self.condition.as_input(labels[start : start + EVAL_BATCH])
            batches.append(self._generate(rng.standard_normal((len(rows), self.latent_dim)).astype(np.float32), rows))
        return np.concatenate(batches)

    def _generate(self, noise, labels) -> np.ndarray:
        return np.asarray(generate(self.generator, noise, labels, training=False), dtype=np.float32)

    def save_samples(self, step: int) -> None:
        samples = self._generate(self.fixed_noise, self.fixed_labels)
        if self.dataset.spec.is_image:
            picture = make_grid(to_uint8(samples), self.columns)
        elif self._render is not None:  # e.g. 2-D points drawn over the true modes
            picture = self._render(samples)
        else:
            return
        self.sinks.images(step, "samples", picture)

    def run_metrics(self, step: int) -> dict[str, float]:
        """Every metric's results, as ``{"metric/value": number}``; also sent to the sinks."""
        context = EvalContext(
            step,
            self.dataset.spec,
            self.dataset,
            lambda count: self.generate(count, step),
            lambda name, image: self.sinks.images(step, name, image),
            None if self.condition is None else self.condition.spec,
            None if self.condition is None else (lambda labels: self.generate_labelled(labels, step)),
        )
        everything = {}
        rows = []
        for metric in self.metrics:
            started = time.perf_counter()
            results = metric.evaluate(context)
            self.sinks.scalars(step, {f"eval/{metric.name}/{key}": value for key, value in results.items()})
            everything.update({f"{metric.name}/{key}": value for key, value in results.items()})
            described = metric.describe()
            if self.run_dir is not None:
                seconds = round(time.perf_counter() - started, 3)
                record = {"step": step, "metric": metric.name, "results": results, **described}
                record.update(reference=self.reference, seconds=seconds)
                append_evaluation(self.run_dir, record)
            rows += [[metric.name, key, value, json.dumps(described)] for key, value in results.items()]
        self.sinks.table(step, "evaluation", ["metric", "result", "value", "measured with"], rows)
        return everything


class BestKeeper:
    """Tracks the best value of ``[eval] best``; on resume, starts from the one saved in best.npz."""

    def __init__(self, key: str, mode: str, value: float | None):
        self.key, self.mode, self.value = key, mode, value

    @classmethod
    def resume(cls, recipe, checkpoints: Path) -> BestKeeper:
        key, mode = recipe.model.eval.best, recipe.model.eval.best_mode
        saved = checkpoints / checkpoint.BEST
        value = None
        if key and saved.is_file():
            previous = checkpoint.read_header(saved).get("best", {})
            if previous.get("key") == key and previous.get("mode") == mode:
                value = previous["value"]
        return cls(key, mode, value)

    def improved(self, results: dict[str, float]) -> bool:
        if self.key and self.key not in results:
            # the metric's value names are only known once it has run: say so once, then stop looking
            metric = self.key.partition("/")[0]
            reported = ", ".join(k for k in results if k.startswith(f"{metric}/"))
            logger.warning(
                f"[eval] best = {self.key!r}, but the metric reported {reported or 'nothing'}; no best checkpoint is kept"
            )
            self.key = ""
        if not self.key or not np.isfinite(results[self.key]):
            return False
        new = results[self.key]
        if self.value is not None and not (new < self.value if self.mode == "min" else new > self.value):
            return False
        self.value = new
        return True

    def record(self) -> dict:
        return {"key": self.key, "mode": self.mode, "value": self.value}
