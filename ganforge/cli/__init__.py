"""The ``ganforge`` command: a thin typer layer over the library.

Errors the user can fix (GanforgeError) print one line and exit with 2; no
traceback. TensorFlow is imported only by the commands that build models,
so ``ganforge --help`` and ``ganforge plugins`` answer at once.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ganforge.cli.support import console as _console
from ganforge.cli.support import user_errors
from ganforge.errors import CheckpointError, GanforgeError, TrainingStopped

app = typer.Typer(
    name="ganforge",
    help="Train GANs from TOML recipes; every part is a plugin.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
recipe_app = typer.Typer(help="Inspect and validate recipes.", no_args_is_help=True)
app.add_typer(recipe_app, name="recipe")
data_app = typer.Typer(help="Prepare datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
plugin_app = typer.Typer(help="Write your own plugin.", no_args_is_help=True)
app.add_typer(plugin_app, name="plugin")

SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", "-s", help="override a recipe key, e.g. --set train.steps=200 (value read as TOML)"),
]
RecipeArgument = Annotated[str, typer.Argument(help="recipe file, or the name of a bundled recipe (quickstart)")]


@app.command()
@user_errors
def run(
    recipe: Annotated[str, typer.Argument(help="recipe file or bundled recipe name; with --resume, also a run folder")],
    overrides: SetOption = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="continue from the last checkpoint of a run folder (or of the recipe's newest run)"
        ),
    ] = False,
) -> None:
    """Train a GAN from a recipe."""
    from ganforge.recipe import load_recipe
    from ganforge.runs import folder as run_folder
    from ganforge.runs.checkpoint import list_checkpoints, newest_good

    overrides = overrides or []
    console = _console()
    resume_from = None
    # one process per run folder: a second --resume of a running run would write the same files
    with contextlib.ExitStack() as holding:
        if resume:
            folder = Path(recipe)
            if not folder.is_dir():
                loaded = load_recipe(recipe, overrides)
                folder = run_folder.latest_run(Path(loaded.model.output_dir), loaded.name)
                if folder is None:
                    raise CheckpointError(
                        f"--resume: no run of recipe {loaded.name!r} with a checkpoint under {loaded.model.output_dir}/"
                    )
            if not run_folder.is_run(folder):
                raise CheckpointError(f"--resume: {folder} is not a run folder (it has no {run_folder.RECIPE_FILE})")
            holding.enter_context(run_folder.held(folder))
            if not list_checkpoints(folder / run_folder.CHECKPOINTS):
                raise CheckpointError(
                    f"--resume: {folder} has no checkpoint in {run_folder.CHECKPOINTS}/ to continue from"
                )
            good = newest_good(
                folder / run_folder.CHECKPOINTS, lambda message: print(f"ganforge: {message}", file=sys.stderr)
            )
            if good is None:
                raise CheckpointError(f"--resume: every checkpoint in {folder / run_folder.CHECKPOINTS} is damaged")
            loaded = load_recipe(folder / run_folder.RECIPE_FILE, overrides)
            run_folder.write_recipe(folder, loaded.to_toml())
            step, resume_from = good
            if step >= loaded.model.train.steps:
                console.print(
                    f"{folder} already finished {step} of {loaded.model.train.steps} steps; "
                    f"to train longer: ganforge run {folder} --resume --set train.steps=N"
                )
                return
            console.print(f"resuming [bold]{folder}[/] from step {step}")
        else:
            loaded = load_recipe(recipe, overrides)
            folder = run_folder.create(Path(loaded.model.output_dir), loaded.name, loaded.to_toml())
            holding.enter_context(run_folder.held(folder))
            console.print(f"run folder: [bold]{folder}[/]")

        from ganforge.training.trainer import train

        try:
            result = train(loaded, folder, resume_from=resume_from)
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
        console.print(
            f"finished step {result.step}: samples in {folder / run_folder.SAMPLES}, checkpoint {result.checkpoint}"
        )


@app.command()
@user_errors
def plugins(
    show: Annotated[
        Optional[str], typer.Option("--show", help="print a component's parameters (NAME or plugin:NAME)")
    ] = None,
) -> None:
    """List installed plugins and their components."""
    from ganforge.cli.plugins import print_component, print_plugins

    if show:
        print_component(_console(), show)
    else:
        print_plugins(_console())


@recipe_app.command("show")
@user_errors
def recipe_show(recipe: RecipeArgument, overrides: SetOption = None) -> None:
    """Print the resolved recipe: extends chain merged, overrides applied, defaults filled in."""
    from ganforge.recipe import load_recipe

    loaded = load_recipe(recipe, overrides or [])
    print(f"# resolved from {loaded.path}")
    print(loaded.to_toml(), end="")


@recipe_app.command("check")
@user_errors
def recipe_check(recipe: RecipeArgument, overrides: SetOption = None) -> None:
    """Validate a recipe and build its models to prove their shapes meet."""
    from ganforge.plugin.contract import supports
    from ganforge.recipe import load_recipe
    from ganforge.training.assembly import build_parts

    loaded = load_recipe(recipe, overrides or [])
    parts = build_parts(loaded)
    console = _console()
    spec = parts.dataset.spec
    dataset = parts.dataset
    found = supports("dataset", dataset)
    if found["prepare"] is not None and found["listed"] is not None:  # say so, rather than spend minutes decoding
        size = f"{dataset.listed} images listed (decoded into a cache on first use, or by `ganforge data prepare`)"
    else:
        size = f"{len(dataset)} images"
    console.print(f"[green]ok[/]: {loaded.path}")
    console.print(f"  dataset        {loaded.data['dataset']['name']}: {size} of {spec}")
    console.print(
        f"  generator      {loaded.data['generator']['name']}: {parts.generator.count_params():,} parameters, "
        f"noise ({loaded.model.train.latent_dim},) -> {spec}"
    )
    console.print(
        f"  discriminator  {loaded.data['discriminator']['name']}: {parts.discriminator.count_params():,} parameters, "
        f"{spec} -> 1 logit"
    )
    console.print(f"  loss           {loaded.data['loss']['name']}")


@data_app.command("prepare")
@user_errors
def data_prepare(recipe: RecipeArgument, overrides: SetOption = None) -> None:
    """Decode, crop and resize a recipe's dataset into its cache now (training does it on first use)."""
    from ganforge.data.cache import ImageCache
    from ganforge.plugin.contract import supports
    from ganforge.recipe import load_recipe
    from ganforge.training.assembly import build_dataset

    loaded = load_recipe(recipe, overrides or [])
    dataset = build_dataset(loaded)
    console = _console()
    prepare = supports("dataset", dataset)["prepare"]
    if prepare is None:
        console.print(f"dataset {loaded.data['dataset']['name']!r} reads its data directly: nothing to prepare")
        return
    cache = prepare()
    if not isinstance(cache, ImageCache):  # a plugin's own kind of preparation
        console.print(f"[green]ready[/]: {len(dataset)} examples of {dataset.spec} for this recipe")
        return
    size_mb = cache.images.nbytes / 2**20
    console.print(
        f"[green]ready[/]: {len(dataset)} images of {dataset.spec} for this recipe; "
        f"cache {cache.folder} ({len(cache.names)} images, {size_mb:.0f} MiB)"
    )
    if cache.skipped:
        console.print(
            f"  {len(cache.skipped)} unreadable image(s) left out; the list is in {cache.folder / 'manifest.json'}"
        )


@plugin_app.command("new")
@user_errors
def plugin_new(
    name: Annotated[str, typer.Argument(help="plugin name: the package is ganforge-NAME, the module ganforge_NAME")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            "-k",
            help="component to start from: generator, discriminator, dataset, loss, penalty, metric, features or sink",
        ),
    ] = "generator",
    directory: Annotated[Path, typer.Option("--dir", help="where to create ganforge-NAME/")] = Path("."),
) -> None:
    """Create a plugin package: pyproject with its entry point, one component, a recipe, a README and tests."""
    from ganforge.plugin.scaffold import create

    target = create(name, kind, directory)
    console = _console()
    console.print(f"[green]created[/] {target}/ with the {kind} {name.replace('-', '_')!r}. Next:")
    steps = [
        f"cd {target}",
        'pip install -e ".[test]"',
        "pytest",
        "ganforge plugins",
        f"ganforge run recipes/{name}.toml",
    ]
    console.print("\n".join(f"  {step}" for step in steps), markup=False)


@app.command()
@user_errors
def report(
    run: Annotated[Path, typer.Argument(help="run folder")],
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="where to write the page (default RUN/report.html)")
    ] = None,
) -> None:
    """Write one self-contained HTML page for a run: curves, samples over time, evaluations, recipe."""
    from ganforge.runs import report as run_report

    written = run_report.write(run, out)
    _console().print(f"report: {written} ({written.stat().st_size / 1024:.0f} KiB; opens in any browser, offline)")


def _add_plugin_commands() -> None:
    from ganforge.plugin.registry import get_registry

    for component in get_registry().components("command"):
        try:
            callback = component.load_factory()
        except GanforgeError as error:
            print(f"ganforge: {error}", file=sys.stderr)
            continue
        app.command(component.name, help=component.help or None)(user_errors(callback))


def main() -> None:
    from ganforge.cli import trained as cli_trained

    cli_trained.add_commands(app)
    _add_plugin_commands()
    app()


if __name__ == "__main__":
    main()
