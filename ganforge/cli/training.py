"""``ganforge run``: train from a recipe, or continue a run folder with ``--resume``."""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from ganforge.cli.support import SetOption, console, user_errors
from ganforge.errors import CheckpointError, TrainingStopped
from ganforge.runs import folder as run_folder
from ganforge.training.cluster import ClusterError

Recipe = Annotated[str, typer.Argument(help="recipe file or bundled recipe name; with --resume, also a run folder")]
Resume = Annotated[
    bool,
    typer.Option("--resume", help="continue from the last checkpoint of a run folder (or of the recipe's newest run)"),
]


def run(recipe: Recipe, overrides: SetOption = None, resume: Resume = False) -> None:
    """Train a GAN from a recipe."""
    from ganforge.recipe import load_recipe
    from ganforge.training.assembly import check_output_dir

    overrides = overrides or []
    # one process per run folder: a second --resume of a running run would write the same files
    with contextlib.ExitStack() as holding:
        if resume:
            started = _resumable(recipe, overrides, holding)
            if started is None:
                return
            loaded, folder, resume_from = started
            trainer = _trainer(loaded)
            if trainer.writes:
                run_folder.write_recipe(folder, loaded.to_toml())  # with this resume's --set, once it passed
        else:
            loaded = load_recipe(recipe, overrides)
            check_output_dir(loaded)
            trainer = _trainer(loaded)  # every check passes before the run folder is made
            folder = _new_folder(trainer, loaded, holding)
            resume_from = None
        _train(trainer, folder, resume_from)


def _new_folder(trainer, loaded, holding: contextlib.ExitStack) -> Path:
    """The new run's folder: made and held by the one process that writes (the chief of several workers),
    and told to the others."""
    folder = None
    if trainer.writes:
        folder = run_folder.create(Path(loaded.model.output_dir), loaded.name, loaded.to_toml())
        holding.enter_context(run_folder.held(folder))
    try:
        folder = Path(trainer.distribution.from_chief(str(folder or "")))
    except Exception as error:
        if not trainer.distribution.peer_lost(error):
            raise
        if trainer.writes:  # nothing was trained into it
            shutil.rmtree(folder, ignore_errors=True)
        raise ClusterError(
            "another worker stopped before training began (its output says why)",
            exit_at_once=trainer.distribution.exit_at_once,
        ) from None
    console().print(f"run folder: [bold]{folder}[/]")
    return folder


def _trainer(loaded):
    """The run's parts, built and checked (the dataset prepared): a recipe error stops here, nothing written."""
    from ganforge.training.trainer import Trainer

    try:
        return Trainer(loaded)
    except KeyboardInterrupt:
        print("\ninterrupted before training began; nothing was written", file=sys.stderr)
        raise typer.Exit(130) from None


def _resumable(reference: str, overrides: list[str], holding: contextlib.ExitStack):
    """(recipe, run folder, checkpoint) to continue from, the folder held; None when the run is already done."""
    from ganforge.recipe import load_recipe
    from ganforge.runs.checkpoint import list_checkpoints, newest_good
    from ganforge.training.cluster import writes_files

    folder = Path(reference)
    if not folder.is_dir():
        loaded = load_recipe(reference, overrides)
        folder = run_folder.latest_run(Path(loaded.model.output_dir), loaded.name)
        if folder is None:
            raise CheckpointError(
                f"--resume: no run of recipe {loaded.name!r} with a checkpoint under {loaded.model.output_dir}/"
            )
    if not run_folder.is_run(folder):
        raise CheckpointError(f"--resume: {folder} is not a run folder (it has no {run_folder.RECIPE_FILE})")
    loaded = load_recipe(folder / run_folder.RECIPE_FILE, overrides)
    if writes_files(loaded):  # of several workers, only the chief holds the folder
        holding.enter_context(run_folder.held(folder))
    checkpoints = folder / run_folder.CHECKPOINTS
    if not list_checkpoints(checkpoints):
        raise CheckpointError(f"--resume: {folder} has no checkpoint in {run_folder.CHECKPOINTS}/ to continue from")
    good = newest_good(checkpoints, lambda message: print(f"ganforge: {message}", file=sys.stderr))
    if good is None:
        raise CheckpointError(f"--resume: every checkpoint in {checkpoints} is damaged")
    step, resume_from = good
    if step >= loaded.model.train.steps:
        console().print(
            f"{folder} already finished {step} of {loaded.model.train.steps} steps; "
            f"to train longer: ganforge run {folder} --resume --set train.steps=N"
        )
        return None
    console().print(f"resuming [bold]{folder}[/] from step {step}")
    return loaded, folder, resume_from


def _train(trainer, folder: Path, resume_from: Path | None) -> None:
    """Train, turning a stop the user asked for (a signal) into its exit code and one line."""
    from ganforge.runs.checkpoint import list_checkpoints

    try:
        result = trainer.run(folder, resume_from)
    except TrainingStopped as stopped:
        if not stopped.asked_for:  # diverged, or the disk is full: an error
            raise
        print(f"\n{stopped}", file=sys.stderr)  # a signal, handled as asked: not an error
        raise typer.Exit(stopped.exit_code) from None
    except KeyboardInterrupt:  # before training began
        found = list_checkpoints(folder / run_folder.CHECKPOINTS)
        where = f"the last checkpoint is step {found[-1][0]}" if found else "no checkpoint was written yet"
        print(f"\ninterrupted; {where}. Continue with: ganforge run {folder} --resume", file=sys.stderr)
        raise typer.Exit(130) from None
    samples = folder / run_folder.SAMPLES
    if result.workers > 1:  # so a person (or a test) can see that every worker ends with the same weights
        console().print(
            f"worker {result.rank} of {result.workers}: weights sha256 {result.fingerprint}", soft_wrap=True
        )
    if result.rank == 0:
        console().print(f"finished step {result.step}: samples in {samples}, checkpoint {result.checkpoint}")
    else:
        console().print(f"finished step {result.step}; the chief wrote the run's files in {folder}", soft_wrap=True)


def add_commands(app: typer.Typer) -> None:
    app.command("run")(user_errors(run))
