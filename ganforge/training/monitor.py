"""What the loop shows and measures of the generator: sample pictures and metrics.

Both use the EMA generator when the recipe keeps one. Evaluation noise has
its own random stream per step, apart from training noise and data order,
so evaluating never changes what training draws.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganforge.data.pixels import make_grid, to_uint8

FIXED_NOISE_STREAM = 2**31 - 1
EVAL_NOISE_STREAM = 2**31 - 2
EVAL_BATCH = 500
EVALUATIONS = "evaluations.jsonl"  # in the run folder: each result with what it depended on


@dataclass
class EvalContext:
    """What a metric's ``evaluate(context)`` gets (see hookspecs.register_metrics)."""

    step: int
    spec: object
    dataset: object
    generate: Callable[[int], np.ndarray]
    save_image: Callable[[str, np.ndarray], None]


class Evaluation:
    def __init__(
        self,
        generator,
        dataset,
        metrics,
        sinks,
        *,
        seed: int,
        latent_dim: int,
        samples: int,
        run_dir: Path | None = None,
    ):
        self.run_dir = run_dir
        self.generator = generator
        self.dataset = dataset
        self.metrics = metrics
        self.sinks = sinks
        self.seed = seed
        self.latent_dim = latent_dim
        # the same noise at every sample step, so pictures compare over time
        self.fixed_noise = (
            np.random.default_rng([seed, FIXED_NOISE_STREAM]).standard_normal((samples, latent_dim)).astype(np.float32)
        )

    def generate(self, count: int, step: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, EVAL_NOISE_STREAM, step])
        batches = []
        for start in range(0, count, EVAL_BATCH):
            noise = rng.standard_normal((min(EVAL_BATCH, count - start), self.latent_dim)).astype(np.float32)
            batches.append(np.asarray(self.generator(noise, training=False)))
        return np.concatenate(batches)

    def save_samples(self, step: int) -> None:
        samples = np.asarray(self.generator(self.fixed_noise, training=False))
        if self.dataset.spec.is_image:
            picture = make_grid(to_uint8(samples))
        elif hasattr(self.dataset, "render"):  # e.g. 2-D points drawn over the true modes
            picture = self.dataset.render(samples)
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
        )
        everything = {}
        rows = []
        for name, metric in self.metrics:
            started = time.perf_counter()
            results = {key: float(value) for key, value in metric.evaluate(context).items()}
            self.sinks.scalars(step, {f"eval/{name}/{key}": value for key, value in results.items()})
            everything.update({f"{name}/{key}": value for key, value in results.items()})
            described = metric.describe() if hasattr(metric, "describe") else {}
            if self.run_dir is not None:
                record = {
                    "step": step,
                    "metric": name,
                    "results": results,
                    **described,
                    "seconds": round(time.perf_counter() - started, 3),
                }
                append_evaluation(self.run_dir, record)
            rows += [[name, key, value, json.dumps(described)] for key, value in results.items()]
        self.sinks.table(step, "evaluation", ["metric", "result", "value", "measured with"], rows)
        return everything


def append_evaluation(run_dir: Path, record: dict) -> None:
    with open(run_dir / EVALUATIONS, "a", encoding="utf-8") as file:
        file.write(json.dumps(record) + "\n")
