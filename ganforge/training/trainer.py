"""The training loop: plain Python around the compiled step."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ganforge import backend
from ganforge.errors import CheckpointError, RecipeError, TrainingStopped
from ganforge.plugin.registry import Registry, get_registry
from ganforge.recipe import Recipe
from ganforge.runs import checkpoint
from ganforge.runs import folder as run_folder
from ganforge.sinks.jsonl import keep_records
from ganforge.training.assembly import batch_sampler, build_parts, make_optimizer
from ganforge.training.monitor import EVALUATIONS, Evaluation
from ganforge.training.sinks import SinkSet
from ganforge.training.step import AdversarialStep
from ganforge.training.stopping import (
    NAMES,
    STORAGE_ERRNOS,
    STORAGE_EXIT_CODE,
    StopRequests,
    first_bad_loss,
    first_bad_variable,
    warn_if_disk_is_short,
)


@dataclass
class RunResult:
    run_dir: Path
    step: int
    checkpoint: Path | None
    last_scalars: dict[str, float] = field(default_factory=dict)


def train(
    recipe: Recipe, run_dir: Path, *, resume_from: Path | None = None, registry: Registry | None = None
) -> RunResult:
    registry = registry or get_registry()
    config = recipe.model.train
    seed = recipe.model.seed
    backend.configure(seed, config.deterministic)
    from keras import Variable as keras_variable

    parts = build_parts(recipe, registry)
    # one multiplier for both rates: a rollback after divergence lowers it, checkpoints remember it
    lr_scale = keras_variable(1.0, dtype="float32", trainable=False, name="lr_scale")
    generator_optimizer = make_optimizer(recipe.model.generator_optimizer, config.steps, lr_scale)
    discriminator_optimizer = make_optimizer(
        recipe.model.discriminator_optimizer, config.steps * config.d_steps, lr_scale
    )
    step_fn = AdversarialStep(
        parts.generator,
        parts.discriminator,
        parts.loss,
        generator_optimizer,
        discriminator_optimizer,
        batch_size=config.batch_size,
        latent_dim=config.latent_dim,
        d_steps=config.d_steps,
        seed=seed,
        jit_compile=config.jit_compile,
        penalties=parts.penalties,
        label_smoothing=config.label_smoothing,
        label_noise=config.label_noise,
        ema_generator=parts.ema_generator,
        ema_decay=config.ema_decay,
    )
    state = {
        "generator": parts.generator.weights,
        "discriminator": parts.discriminator.weights,
        "generator_optimizer": generator_optimizer.variables,
        "discriminator_optimizer": discriminator_optimizer.variables,
    }
    if parts.ema_generator is not None:
        state["ema_generator"] = parts.ema_generator.weights

    def restore(path: Path) -> int:
        header = checkpoint.restore(path, state)
        if header.get("seed") != seed:
            raise CheckpointError(f"{path}: saved with seed {header.get('seed')}, the recipe says {seed}")
        lr_scale.assign(header.get("lr_scale", 1.0))
        # evaluations made after the checkpoint will be made again
        keep_records(
            run_dir / EVALUATIONS, lambda r: r.get("source") == "ganforge eval" or r.get("step", 0) <= header["step"]
        )
        return header["step"]

    first_step = 0 if resume_from is None else restore(resume_from)
    sampler = batch_sampler(recipe, parts.dataset)
    checkpoints = run_dir / run_folder.CHECKPOINTS
    last_checkpoint = resume_from
    checkpoint.remove_partial_files(checkpoints)
    warn_if_disk_is_short(checkpoints, state, config.keep_checkpoints)
    sinks = SinkSet.open(recipe.data["sinks"], run_dir, registry)
    sinks.start(config.steps, first_step)
    sinks.text(first_step, "recipe", recipe.to_toml())

    # samples and evaluation use the averaged generator when there is one
    evaluation = Evaluation(
        parts.ema_generator or parts.generator,
        parts.dataset,
        parts.metrics,
        sinks,
        seed=seed,
        latent_dim=config.latent_dim,
        samples=config.samples,
        run_dir=run_dir,
    )
    evaluate_every = recipe.model.eval.every
    best = BestKeeper.resume(recipe, checkpoints)

    losses = []
    window_start, window_step = time.perf_counter(), first_step
    last_scalars: dict[str, float] = {}
    rollbacks = 0

    def header_extra() -> dict:
        return {"seed": seed, "recipe": recipe.name, "lr_scale": float(lr_scale.numpy())}

    def save(done: int) -> Path:
        path = checkpoint.save(checkpoints, done, state, header_extra(), keep=config.keep_checkpoints)
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

    def train_step(real, step: int):
        try:
            return step_fn(real, step)
        except Exception as error:
            if (memory := backend.out_of_memory(error)) is None:
                raise
            where = f"; {last_checkpoint} is the last checkpoint" if last_checkpoint else ""
            raise RecipeError(
                f"step {step + 1} does not fit in memory ({memory}): lower train.batch_size or the "
                f"models' sizes{where}",
                file=str(recipe.path),
                key="train.batch_size",
            ) from None

    def divergence(done: int, check_weights: bool) -> str | None:
        """What stopped being a number since the last check, if anything."""
        bad = first_bad_loss(losses)
        if bad is not None:
            index, which, value = bad
            return f"step {window_step + index + 1}: the {which} loss is {value}"
        if check_weights and (variable := first_bad_variable(state)):
            return f"step {done}: {variable} holds NaN or infinite values"
        return None

    def roll_back_or_stop(problem: str) -> int:
        """Restore the last checkpoint with lower rates (returning its step), or stop with exit code 3."""
        nonlocal rollbacks, window_start, window_step
        if config.on_divergence != "rollback" or last_checkpoint is None or rollbacks >= config.max_rollbacks:
            where = (
                f"{last_checkpoint} is the last good checkpoint"
                if last_checkpoint
                else "no checkpoint was written before it"
            )
            tried = f" after {rollbacks} rollback(s)" if rollbacks else ""
            raise TrainingStopped(
                f"{problem}; training stopped{tried}. {where}. Lower the learning rates, add a penalty or set "
                f'train.on_divergence = "rollback", then resume: ganforge run {run_dir} --resume --set ...',
                exit_code=3,
            )
        rollbacks += 1
        step = restore(last_checkpoint)
        lr_scale.assign(float(lr_scale.numpy()) * config.rollback_lr_factor)
        sinks.rewind(step)
        losses.clear()
        window_start, window_step = time.perf_counter(), step
        print(
            f"ganforge: {problem}; rolled back to {last_checkpoint} (step {step}), learning rates now "
            f"x{float(lr_scale.numpy()):g} (rollback {rollbacks} of {config.max_rollbacks})",
            file=sys.stderr,
        )
        return step

    try:
        with StopRequests() as stop:
            step = first_step
            while step < config.steps:
                real = np.stack([sampler.batch(step * config.d_steps + draw) for draw in range(config.d_steps)])
                losses.append(train_step(real, step))
                step = done = step + 1
                finished = done == config.steps
                sinks.progress(done)
                due_log = done % config.log_every == 0 or finished
                due_checkpoint = done % config.checkpoint_every == 0 or finished or stop.received
                due_eval = bool(parts.metrics) and ((evaluate_every and done % evaluate_every == 0) or finished)
                if due_log or due_checkpoint or due_eval:
                    # nothing non-finite may reach a record, a sample or a checkpoint
                    if problem := divergence(done, check_weights=due_checkpoint or due_eval):
                        step = roll_back_or_stop(problem)
                        continue
                if stop.received:
                    last_checkpoint = save(done)
                    raise TrainingStopped(
                        f"{NAMES[stop.received]}: stopped after step {done}, checkpoint {last_checkpoint}. "
                        f"Continue with: ganforge run {run_dir} --resume",
                        exit_code=128 + stop.received,
                    )
                if due_log:
                    last_scalars = window_scalars(done)
                    sinks.scalars(done, last_scalars)
                    losses.clear()
                    window_start, window_step = time.perf_counter(), done
                if done % config.sample_every == 0 or finished:
                    evaluation.save_samples(done)
                if due_eval:
                    results = evaluation.run_metrics(done)
                    if best.improved(results):
                        checkpoint.save_best(checkpoints, done, state, {**header_extra(), "best": best.record()})
                if done % config.checkpoint_every == 0 or finished:
                    last_checkpoint = save(done)
    except OSError as error:
        if error.errno not in STORAGE_ERRNOS:
            raise
        kept = f"{last_checkpoint} is intact" if last_checkpoint else "no checkpoint had been written yet"
        raise TrainingStopped(
            f"{error.filename or run_dir}: cannot write ({error.strerror}); training stopped at step {step}. "
            f"{kept}. Free some space, then continue with: ganforge run {run_dir} --resume",
            exit_code=STORAGE_EXIT_CODE,
        ) from None
    finally:
        sinks.close()
    return RunResult(run_dir, config.steps, last_checkpoint, last_scalars)


class BestKeeper:
    """Tracks the best value of ``[eval] best``; on resume, starts from the one saved in best.npz."""

    def __init__(self, key: str, mode: str, value: float | None):
        self.key, self.mode, self.value = key, mode, value

    @classmethod
    def resume(cls, recipe: Recipe, checkpoints: Path) -> BestKeeper:
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
            print(
                f"ganforge: [eval] best = {self.key!r}, but the metric reported {reported or 'nothing'}; "
                "no best checkpoint is kept",
                file=sys.stderr,
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
