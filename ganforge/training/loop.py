"""The training loop: plain Python around the compiled step."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ganforge import backend
from ganforge.errors import CheckpointError, TrainingStopped
from ganforge.recipe import Recipe
from ganforge.registry import Registry, get_registry
from ganforge.training import checkpoint, run_dir as run_folder
from ganforge.training.build import batch_sampler, build_parts, make_optimizer
from ganforge.sinks.jsonl import keep_records
from ganforge.training.evaluation import EVALUATIONS, Evaluation
from ganforge.training.records import SinkSet
from ganforge.training.step import AdversarialStep
from ganforge.training.stopping import NAMES, StopRequests, first_bad_loss


@dataclass
class RunResult:
    run_dir: Path
    step: int
    checkpoint: Path | None
    last_scalars: dict[str, float] = field(default_factory=dict)


def train(recipe: Recipe, run_dir: Path, *, resume_from: Path | None = None, registry: Registry | None = None) -> RunResult:
    registry = registry or get_registry()
    config = recipe.model.train
    seed = recipe.model.seed
    backend.configure(seed, config.deterministic)

    parts = build_parts(recipe, registry)
    generator_optimizer = make_optimizer(recipe.model.generator_optimizer, config.steps)
    discriminator_optimizer = make_optimizer(recipe.model.discriminator_optimizer, config.steps * config.d_steps)
    step_fn = AdversarialStep(
        parts.generator, parts.discriminator, parts.loss, generator_optimizer, discriminator_optimizer,
        batch_size=config.batch_size, latent_dim=config.latent_dim, d_steps=config.d_steps, seed=seed,
        jit_compile=config.jit_compile, penalties=parts.penalties, label_smoothing=config.label_smoothing,
        label_noise=config.label_noise, ema_generator=parts.ema_generator, ema_decay=config.ema_decay,
    )
    state = {
        "generator": parts.generator.weights,
        "discriminator": parts.discriminator.weights,
        "generator_optimizer": generator_optimizer.variables,
        "discriminator_optimizer": discriminator_optimizer.variables,
    }
    if parts.ema_generator is not None:
        state["ema_generator"] = parts.ema_generator.weights
    first_step = 0
    if resume_from is not None:
        header = checkpoint.restore(resume_from, state)
        if header.get("seed") != seed:
            raise CheckpointError(f"{resume_from}: saved with seed {header.get('seed')}, the recipe says {seed}")
        first_step = header["step"]
        # evaluations the interrupted run made after its checkpoint will be made again
        keep_records(run_dir / EVALUATIONS, lambda r: r.get("source") == "ganforge eval" or r.get("step", 0) <= first_step)

    sampler = batch_sampler(recipe, parts.dataset)
    checkpoints = run_dir / run_folder.CHECKPOINTS
    last_checkpoint = resume_from
    sinks = SinkSet.open(recipe.data["sinks"], run_dir, registry)
    sinks.start(config.steps, first_step)
    sinks.text(first_step, "recipe", recipe.to_toml())

    # samples and evaluation use the averaged generator when there is one
    evaluation = Evaluation(
        parts.ema_generator or parts.generator, parts.dataset, parts.metrics, sinks,
        seed=seed, latent_dim=config.latent_dim, samples=config.samples, run_dir=run_dir,
    )
    evaluate_every = recipe.model.eval.every
    best = BestKeeper.resume(recipe, checkpoints)

    losses = []
    window_start, window_step = time.perf_counter(), first_step
    last_scalars: dict[str, float] = {}

    def save(done: int) -> Path:
        path = checkpoint.save(checkpoints, done, state, {"seed": seed, "recipe": recipe.name}, keep=config.keep_checkpoints)
        sinks.checkpoint(done, path)
        return path

    def window_scalars(done: int) -> dict[str, float]:
        """Losses averaged over the steps since the last record, speed, and the learning rates."""
        steps_per_s = (done - window_step) / (time.perf_counter() - window_start)
        d_loss, g_loss = np.mean(np.asarray(losses, dtype=np.float64), axis=0)
        return {
            "loss/discriminator": float(d_loss),
            "loss/generator": float(g_loss),
            "speed/steps_per_s": steps_per_s,
            "speed/images_per_s": steps_per_s * config.batch_size,
            # the rate the next update will use (it moves when a schedule is set)
            "lr/generator": float(generator_optimizer.learning_rate),
            "lr/discriminator": float(discriminator_optimizer.learning_rate),
        }

    def stop_if_diverged():
        """Stop before a NaN reaches a checkpoint or a record."""
        bad = first_bad_loss(losses)
        if bad is None:
            return
        index, which, value = bad
        where = f"{last_checkpoint} is the last good checkpoint" if last_checkpoint else "no checkpoint was written before it"
        raise TrainingStopped(
            f"step {window_step + index + 1}: the {which} loss is {value}; training stopped. {where}. "
            f"Lower the learning rates or add a penalty, then resume: ganforge run {run_dir} --resume --set ...",
            exit_code=3,
        )

    try:
        with StopRequests() as stop:
            for step in range(first_step, config.steps):
                real = np.stack([sampler.batch(step * config.d_steps + draw) for draw in range(config.d_steps)])
                losses.append(step_fn(real, step))
                done = step + 1
                finished = done == config.steps
                sinks.progress(done)
                if done % config.log_every == 0 or finished or done % config.checkpoint_every == 0 or stop.received:
                    stop_if_diverged()
                if stop.received:
                    last_checkpoint = save(done)
                    name = NAMES[stop.received]
                    raise TrainingStopped(
                        f"{name}: stopped after step {done}, checkpoint {last_checkpoint}. "
                        f"Continue with: ganforge run {run_dir} --resume",
                        exit_code=128 + stop.received,
                    )
                if done % config.log_every == 0 or finished:
                    last_scalars = window_scalars(done)
                    sinks.scalars(done, last_scalars)
                    losses.clear()
                    window_start, window_step = time.perf_counter(), done
                if done % config.sample_every == 0 or finished:
                    evaluation.save_samples(done)
                if parts.metrics and ((evaluate_every and done % evaluate_every == 0) or finished):
                    results = evaluation.run_metrics(done)
                    if best.improved(results):
                        checkpoint.save_best(checkpoints, done, state, {"seed": seed, "recipe": recipe.name, "best": best.record()})
                if done % config.checkpoint_every == 0 or finished:
                    last_checkpoint = save(done)
    finally:
        sinks.close()
    return RunResult(run_dir, config.steps, last_checkpoint, last_scalars)


class BestKeeper:
    """Tracks the best value of ``[eval] best``; on resume, starts from the one saved in best.npz."""

    def __init__(self, key: str, mode: str, value: float | None):
        self.key, self.mode, self.value = key, mode, value

    @classmethod
    def resume(cls, recipe: Recipe, checkpoints: Path) -> "BestKeeper":
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
            print(f"ganforge: [eval] best = {self.key!r}, but the metric reported {reported or 'nothing'}; "
                  "no best checkpoint is kept", file=sys.stderr)
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
