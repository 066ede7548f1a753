"""The training loop: plain Python around the compiled step.

A :class:`Trainer` holds one run's state — the assembled parts, the step it
is at, its last checkpoint, the losses since the last record — and its loop
reads in the order a person thinks of a step: take a batch, train, check the
numbers, record, save. Each of those is a method of its own below.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ganforge import backend
from ganforge.data import BatchSampler
from ganforge.errors import CheckpointError, RecipeError, TrainingStopped
from ganforge.evaluation.measure import reference_name
from ganforge.plugin.registry import Registry, get_registry
from ganforge.recipe import Recipe
from ganforge.runs import checkpoint
from ganforge.runs.folder import CHECKPOINTS, EVALUATIONS
from ganforge.runs.records import keep_records
from ganforge.schedule import value_at
from ganforge.training.assembly import assemble, check_before_training, dataset_limit
from ganforge.training.cluster import PEER_EXIT_CODE, ClusterError, Plan
from ganforge.training.monitor import BestKeeper, Monitor
from ganforge.training.sinks import SinkSet
from ganforge.training.stopping import (
    NAMES,
    STORAGE_ERRNOS,
    STORAGE_EXIT_CODE,
    StopRequests,
    first_bad_loss,
    first_bad_variable,
    warn_if_disk_is_short,
)

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    run_dir: Path
    step: int
    checkpoint: Path | None
    last_scalars: dict[str, float] = field(default_factory=dict)
    workers: int = 1
    rank: int = 0
    fingerprint: str = ""  # the SHA-256 of every variable at the end, as a checkpoint would hold it


def train(
    recipe: Recipe, run_dir: Path, *, resume_from: Path | None = None, registry: Registry | None = None
) -> RunResult:
    """Train ``recipe`` in ``run_dir`` to ``train.steps``, from the start or from a checkpoint."""
    return Trainer(recipe, registry=registry).run(run_dir, resume_from)


@dataclass(frozen=True)
class Due:
    """What a finished step owes: a record, a sample grid, an evaluation, a checkpoint, a stop."""

    log: bool
    samples: bool
    evaluation: bool
    checkpoint: bool
    stop: bool

    @classmethod
    def after(cls, done: int, config, evaluate_every: int, has_metrics: bool, stop_received: bool) -> Due:
        finished = done == config.steps
        return cls(
            log=done % config.log_every == 0 or finished,
            samples=done % config.sample_every == 0 or finished,
            evaluation=has_metrics and (bool(evaluate_every and done % evaluate_every == 0) or finished),
            checkpoint=done % config.checkpoint_every == 0 or finished,
            stop=stop_received,
        )

    @property
    def anything(self) -> bool:
        return self.log or self.samples or self.evaluation or self.checkpoint or self.stop

    @property
    def saves(self) -> bool:
        """Whether weights reach a file: a checkpoint (a stop writes one), or a best checkpoint after evaluating."""
        return self.checkpoint or self.evaluation or self.stop


class LossWindow:
    """The losses and time since the last record: checked for NaN, then averaged into one record."""

    def __init__(self, step: int):
        self.restart(step)

    def restart(self, step: int) -> None:
        self.first_step, self.started, self.losses = step, time.perf_counter(), []

    def add(self, losses) -> None:
        self.losses.append(losses)  # tensors: reading them waits for the step, so only checks and records do

    def problem(self) -> str | None:
        bad = first_bad_loss(self.losses)
        if bad is None:
            return None
        index, which, value = bad
        return f"step {self.first_step + index + 1}: the {which} loss is {value}"

    def scalars(self, done: int, batch_size: int) -> dict[str, float]:
        steps_per_s = (done - self.first_step) / (time.perf_counter() - self.started)
        d_loss, g_loss = np.mean(np.asarray(self.losses, dtype=np.float64), axis=0)
        return {
            "loss/discriminator": float(d_loss),
            "loss/generator": float(g_loss),
            "speed/steps_per_s": steps_per_s,
            "speed/images_per_s": steps_per_s * batch_size,
        }


class Trainer:
    """One run: its parts, assembled from the recipe and checked, and the loop that trains them.

    Everything that can refuse a recipe happens when a Trainer is made, before any file is written;
    ``run`` then only writes to the run folder it is given.
    """

    def __init__(self, recipe: Recipe, *, registry: Registry | None = None):
        self.recipe = recipe
        self.config = recipe.model.train
        self.seed = recipe.model.seed
        self.registry = registry or get_registry()
        backend.use(recipe)  # before anything imports Keras
        plan = Plan(recipe)
        self.distribution = plan.start()  # the batch's split checked, before a cluster waits for its peers
        self.writes = self.distribution.is_chief  # one writer: the chief writes every file of the run
        try:  # the workers of a cluster build their variables together: one that fails stops them all
            backend.configure(self.seed, plan.deterministic())
            self.training = assemble(recipe, self.registry, self.distribution)
            self.parts = self.training.parts
            self.state = self.training.state
            self._check_and_prepare()
        except Exception as error:
            if not self.distribution.peer_lost(error):
                raise
            raise ClusterError(
                "another worker stopped before training began (its output says why)",
                exit_at_once=self.distribution.exit_at_once,
            ) from None
        self.sampler = BatchSampler(self.parts.dataset, self.config.batch_size, self.seed, dataset_limit(self.recipe))
        self.step = 0
        self.last_checkpoint: Path | None = None
        self.rollbacks = 0
        self.last_scalars: dict[str, float] = {}

    def _check_and_prepare(self) -> None:
        """The last checks, the dataset's cache prepared: by the chief first, so that workers sharing
        a cache folder build it once, and the others open what it built."""
        if not self.writes:
            self.distribution.barrier()
        check_before_training(self.recipe, self.parts.dataset, prepare=True)
        if self.writes:
            self.distribution.barrier()

    # -- the run ---------------------------------------------------------------
    def run(self, run_dir: Path, resume_from: Path | None = None) -> RunResult:
        self.run_dir = run_dir
        self.checkpoints = run_dir / CHECKPOINTS
        if resume_from is not None:
            self.step = self._restore(resume_from)
            self.last_checkpoint = resume_from
        if self.writes:
            checkpoint.remove_partial_files(self.checkpoints)
            warn_if_disk_is_short(self.checkpoints, self.state, self.config.keep_checkpoints)
        self.sinks = SinkSet.open(self.recipe, self.run_dir, self.registry) if self.writes else SinkSet([])
        try:
            self.sinks.start(self.config.steps, self.step)
            self.sinks.text(self.step, "recipe", self.recipe.to_toml())
            # samples and evaluation use the averaged generator when there is one
            self.monitor = Monitor(
                self.parts.ema_generator or self.parts.generator,
                self.parts.dataset,
                self.parts.metrics,
                self.sinks,
                seed=self.seed,
                latent_dim=self.config.latent_dim,
                samples=self.config.samples,
                run_dir=self.run_dir,
                reference=reference_name(self.recipe.data["dataset"]),
                condition=self.parts.condition,
            )
            self.best = BestKeeper.resume(self.recipe, self.checkpoints)
            self.window = LossWindow(self.step)
            with StopRequests() as stop:
                self._loop(stop)
        except OSError as error:
            if error.errno not in STORAGE_ERRNOS:
                raise
            raise self._storage_stop(error) from None
        except Exception as error:  # a step, or the workers agreeing on a stop, found a peer gone
            if not self.distribution.peer_lost(error):
                raise
            raise self._peer_stop(error) from None
        finally:
            self.sinks.close()
        distribution = self.distribution
        return RunResult(
            self.run_dir,
            self.config.steps,
            self.last_checkpoint,
            self.last_scalars,
            workers=distribution.workers,
            rank=distribution.rank,
            fingerprint=checkpoint.fingerprint(self.state) if distribution.workers > 1 else "",
        )

    def _loop(self, stop: StopRequests) -> None:
        evaluate_every, has_metrics = self.recipe.model.eval.every, bool(self.parts.metrics)
        while self.step < self.config.steps:
            self.window.add(self._train_step(*self._inputs(self.step)))
            self.step += 1
            self.sinks.progress(self.step)
            received = self.distribution.first_signal(stop.received)  # every worker stops after the same step
            due = Due.after(self.step, self.config, evaluate_every, has_metrics, bool(received))
            # nothing non-finite may reach a record, a sample or a checkpoint
            if due.anything and (problem := self._problem(check_weights=due.saves)):
                self._roll_back_or_stop(problem)
                continue
            if due.stop:
                self._stop_for(received)
            self._record(due)
            if due.checkpoint:
                self._save()

    # -- sample, step, check ---------------------------------------------------
    def _inputs(self, step: int):
        """One real batch per discriminator update, numbered so a resumed run reads the same ones, and
        the step's random draws: this worker's rows of them, placed on its devices."""
        d_steps, rows = self.config.d_steps, self.distribution.rows(self.config.batch_size)
        numbers = [step * d_steps + draw for draw in range(d_steps)]
        batches = np.stack([self.sampler.batch(number, rows) for number in numbers])
        draws = self.training.step.settings.draws(step).rows(rows)
        distribute = self.distribution.distribute
        labels = None
        if (condition := self.parts.condition) is not None:  # the real images' labels, as the models take them
            labels = distribute(np.stack([condition.as_input(self.sampler.labels(n, rows)) for n in numbers]))
        return distribute(batches), draws.map(distribute), labels

    def _train_step(self, real, draws, labels):
        try:
            return self.training.step(real, self.step, draws, labels)
        except Exception as error:
            if (memory := backend.out_of_memory(error)) is None:
                raise
            where = f"; {self.last_checkpoint} is the last checkpoint" if self.last_checkpoint else ""
            raise RecipeError(
                f"step {self.step + 1} does not fit in memory ({memory}): lower train.batch_size or the models' sizes{where}",
                file=str(self.recipe.path),
                key="train.batch_size",
            ) from None

    def _problem(self, check_weights: bool) -> str | None:
        """What stopped being a number since the last check, if anything."""
        if problem := self.window.problem():
            return problem
        if check_weights and (variable := first_bad_variable(self.state)):
            return f"step {self.step}: {variable} holds NaN or infinite values"
        return None

    def _roll_back_or_stop(self, problem: str) -> None:
        """Restore the last checkpoint with lower rates, or stop with exit code 3."""
        config = self.config
        if config.on_divergence != "rollback" or self.last_checkpoint is None or self.rollbacks >= config.max_rollbacks:
            if self.last_checkpoint:
                where = f"{self.last_checkpoint} is the last good checkpoint"
            else:
                where = "no checkpoint was written before it"
            tried = f" after {self.rollbacks} rollback(s)" if self.rollbacks else ""
            raise TrainingStopped(
                f"{problem}; training stopped{tried}. {where}. Lower the learning rates, add a penalty or set "
                f'train.on_divergence = "rollback", then resume: ganforge run {self.run_dir} --resume --set ...',
                exit_code=3,
            )
        self.rollbacks += 1
        self.step = self._restore(self.last_checkpoint)
        lr_scale = self.training.lr_scale
        lr_scale.assign(float(lr_scale.numpy()) * config.rollback_lr_factor)
        self.sinks.rewind(self.step)
        self.window.restart(self.step)
        logger.warning(
            f"{problem}; rolled back to {self.last_checkpoint} (step {self.step}), learning rates now "
            f"x{float(lr_scale.numpy()):g} (rollback {self.rollbacks} of {config.max_rollbacks})"
        )

    def _peer_stop(self, error: BaseException) -> TrainingStopped:
        where = (
            f"{self.last_checkpoint} is the last checkpoint" if self.last_checkpoint else "no checkpoint was written"
        )
        reason = next((line for line in str(error).splitlines() if "aborted" in line), type(error).__name__)
        return TrainingStopped(
            f"another worker of the cluster stopped answering during step {self.step + 1} ({reason.strip()[:200]}); "
            f"training stopped. {where}. Start every worker again with: ganforge run {self.run_dir} --resume",
            exit_code=PEER_EXIT_CODE,
            exit_at_once=self.distribution.exit_at_once,
        )

    def _stop_for(self, signal_number: int) -> None:
        self._save()
        raise TrainingStopped(
            f"{NAMES[signal_number]}: stopped after step {self.step}, checkpoint {self.last_checkpoint}. "
            f"Continue with: ganforge run {self.run_dir} --resume",
            exit_code=128 + signal_number,
        )

    # -- record, save ----------------------------------------------------------
    def _record(self, due: Due) -> None:
        if due.log:
            self.last_scalars = {**self.window.scalars(self.step, self.config.batch_size), **self._rates()}
            self.sinks.scalars(self.step, self.last_scalars)
            self.window.restart(self.step)
        if not self.writes:
            return
        if due.samples:
            self.monitor.save_samples(self.step)
        if due.evaluation:
            results = self.monitor.run_metrics(self.step)
            if self.best.improved(results):
                header = {**self._header(), "best": self.best.record()}
                checkpoint.save_best(self.checkpoints, self.step, self.state, header)

    def _rates(self) -> dict[str, float]:
        """The rate each optimizer's next update will use (it moves when a schedule is set), and what the
        objective keeps that a person watches: ADA's p and r_t (its sums are bookkeeping), a running mean."""
        training = self.training
        rates = {
            "lr/generator": float(training.generator_optimizer.learning_rate),
            "lr/discriminator": float(training.discriminator_optimizer.learning_rate),
        }
        for name, variable in training.objective_state.items():
            if not name.endswith(("/signs", "/count")):
                rates[name] = float(np.asarray(variable.value))
        ada = training.step.settings.ada
        if ada is not None and not ada.adaptive:  # a fixed or scheduled p: the one the next step uses
            rates["augment/p"] = value_at(ada.p, self.step * self.config.batch_size)
        return rates

    def _header(self) -> dict:
        return {"seed": self.seed, "recipe": self.recipe.name, "lr_scale": float(self.training.lr_scale.numpy())}

    def _save(self) -> None:
        if not self.writes:  # the chief writes it; every worker restores from it after a rollback
            self.last_checkpoint = checkpoint.checkpoint_path(self.checkpoints, self.step)
            return
        keep = self.config.keep_checkpoints
        self.last_checkpoint = checkpoint.save(self.checkpoints, self.step, self.state, self._header(), keep=keep)
        self.sinks.checkpoint(self.step, self.last_checkpoint)

    def _restore(self, path: Path) -> int:
        """Load a checkpoint into every variable; returns its step."""
        header = checkpoint.restore(path, self.state)
        if header.get("seed") != self.seed:
            raise CheckpointError(f"{path}: saved with seed {header.get('seed')}, the recipe says {self.seed}")
        self.training.lr_scale.assign(header.get("lr_scale", 1.0))
        if self.writes:  # evaluations made after the checkpoint will be made again
            keep_records(
                self.run_dir / EVALUATIONS,
                lambda record: record.get("source") == "ganforge eval" or record.get("step", 0) <= header["step"],
            )
        return header["step"]

    def _storage_stop(self, error: OSError) -> TrainingStopped:
        kept = f"{self.last_checkpoint} is intact" if self.last_checkpoint else "no checkpoint had been written yet"
        return TrainingStopped(
            f"{error.filename or self.run_dir}: cannot write ({error.strerror}); training stopped at step {self.step}. "
            f"{kept}. Free some space, then continue with: ganforge run {self.run_dir} --resume",
            exit_code=STORAGE_EXIT_CODE,
        )
