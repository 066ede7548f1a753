"""The training loop: plain Python around the compiled step."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ganforge import backend
from ganforge.errors import CheckpointError
from ganforge.grids import make_grid, to_uint8
from ganforge.recipe import Recipe
from ganforge.registry import Registry, get_registry
from ganforge.training import checkpoint, run_dir as run_folder
from ganforge.training.build import batch_sampler, build_parts, make_optimizer
from ganforge.training.records import SinkSet
from ganforge.training.step import AdversarialStep

# The fixed sample noise and evaluation noise have their own random streams,
# apart from the data order (keyed by epoch) and the training noise
# (stateless, keyed by step).
FIXED_NOISE_STREAM = 2**31 - 1
EVAL_NOISE_STREAM = 2**31 - 2
EVAL_BATCH = 500


@dataclass
class EvalContext:
    """What a metric's ``evaluate(context)`` gets (see hookspecs.register_metrics)."""

    step: int
    spec: object
    dataset: object
    generate: Callable[[int], np.ndarray]
    save_image: Callable[[str, np.ndarray], None]


@dataclass
class RunResult:
    run_dir: Path
    step: int
    checkpoint: Path | None
    last_scalars: dict[str, float] = field(default_factory=dict)


def fixed_noise(seed: int, count: int, latent_dim: int) -> np.ndarray:
    return np.random.default_rng([seed, FIXED_NOISE_STREAM]).standard_normal((count, latent_dim)).astype(np.float32)


def train(recipe: Recipe, run_dir: Path, *, resume_from: Path | None = None, registry: Registry | None = None) -> RunResult:
    registry = registry or get_registry()
    config = recipe.model.train
    seed = recipe.model.seed
    backend.configure(seed, config.deterministic)

    parts = build_parts(recipe, registry)
    generator_optimizer = make_optimizer(recipe.model.generator_optimizer)
    discriminator_optimizer = make_optimizer(recipe.model.discriminator_optimizer)
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
    # samples and evaluation use the averaged generator when there is one
    sampling_generator = parts.ema_generator or parts.generator
    first_step = 0
    if resume_from is not None:
        header = checkpoint.restore(resume_from, state)
        if header.get("seed") != seed:
            raise CheckpointError(f"{resume_from}: saved with seed {header.get('seed')}, the recipe says {seed}")
        first_step = header["step"]

    sampler = batch_sampler(recipe, parts.dataset)
    noise = fixed_noise(seed, config.samples, config.latent_dim)
    checkpoints = run_dir / run_folder.CHECKPOINTS
    last_checkpoint = resume_from
    sinks = SinkSet.open(recipe.model.sinks, run_dir, registry)
    sinks.start(config.steps, first_step)

    def generate(count: int) -> np.ndarray:
        """``count`` samples from fresh noise of the evaluation stream, in batches."""
        rng = np.random.default_rng([seed, EVAL_NOISE_STREAM, done])
        batches = []
        for start in range(0, count, EVAL_BATCH):
            z = rng.standard_normal((min(EVAL_BATCH, count - start), config.latent_dim)).astype(np.float32)
            batches.append(np.asarray(sampling_generator(z, training=False)))
        return np.concatenate(batches)

    def sample_picture() -> np.ndarray | None:
        samples = np.asarray(sampling_generator(noise, training=False))
        if parts.dataset.spec.is_image:
            return make_grid(to_uint8(samples))
        render = getattr(parts.dataset, "render", None)  # e.g. 2-D points drawn over the true modes
        return render(samples) if render else None

    def evaluate() -> None:
        context = EvalContext(done, parts.dataset.spec, parts.dataset, generate, lambda name, image: sinks.images(done, name, image))
        for name, metric in parts.metrics:
            results = metric.evaluate(context)
            sinks.scalars(done, {f"eval/{name}/{key}": float(value) for key, value in results.items()})

    done = first_step
    losses = []
    window_start, window_step = time.perf_counter(), first_step
    last_scalars: dict[str, float] = {}
    try:
        for step in range(first_step, config.steps):
            real = np.stack([sampler.batch(step * config.d_steps + draw) for draw in range(config.d_steps)])
            losses.append(step_fn(real, step))
            done = step + 1
            finished = done == config.steps
            sinks.progress(done)
            if done % config.log_every == 0 or finished:
                elapsed = time.perf_counter() - window_start
                steps_per_s = (done - window_step) / elapsed
                d_loss, g_loss = np.mean(np.asarray(losses, dtype=np.float64), axis=0)
                last_scalars = {
                    "loss/discriminator": float(d_loss),
                    "loss/generator": float(g_loss),
                    "speed/steps_per_s": steps_per_s,
                    "speed/images_per_s": steps_per_s * config.batch_size,
                }
                sinks.scalars(done, last_scalars)
                losses.clear()
                window_start, window_step = time.perf_counter(), done
            if done % config.sample_every == 0 or finished:
                picture = sample_picture()
                if picture is not None:
                    sinks.images(done, "samples", picture)
            if parts.metrics and ((recipe.model.eval.every and done % recipe.model.eval.every == 0) or finished):
                evaluate()
            if done % config.checkpoint_every == 0 or finished:
                last_checkpoint = checkpoint.save(
                    checkpoints, done, state, {"seed": seed, "recipe": recipe.name}, keep=config.keep_checkpoints
                )
    finally:
        sinks.close()
    return RunResult(run_dir, config.steps, last_checkpoint, last_scalars)
