"""``ganforge recipe show|check`` and ``ganforge data prepare``: recipes and their data, before training."""

from __future__ import annotations

import typer

from ganforge.cli.support import RecipeArgument, SetOption, user_errors
from ganforge.cli.support import console as _console


def recipe_show(recipe: RecipeArgument, overrides: SetOption = None) -> None:
    """Print the resolved recipe: extends chain merged, overrides applied, defaults filled in."""
    from ganforge.recipe import load_recipe

    loaded = load_recipe(recipe, overrides or [])
    print(f"# resolved from {loaded.path}")
    print(loaded.to_toml(), end="")


def recipe_check(recipe: RecipeArgument, overrides: SetOption = None) -> None:
    """Validate a recipe, build its models and make every check `run` makes before its first step."""
    from ganforge.plugin.contract import supports
    from ganforge.recipe import load_recipe
    from ganforge.training.assembly import build_parts, check_before_training, check_output_dir
    from ganforge.training.cluster import Plan

    loaded = load_recipe(recipe, overrides or [])
    parts = build_parts(loaded)
    plan = Plan(loaded)
    plan.check_batch()  # as `run` does when it starts the plan, without starting anything here
    check_before_training(loaded, parts.dataset, prepare=False)
    check_output_dir(loaded)
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
    if regularisers := _regularisers(loaded):
        console.print(f"  regularisers   {regularisers}")
    if augmentation := _augmentation(loaded.model.augment):
        console.print(f"  augmentation   {augmentation}")
    train = loaded.model.train
    console.print(f"  training       {plan.describe()}, {train.precision}, on {loaded.model.backend}")


def _regularisers(recipe) -> str:
    """``D: r1 (every 16), r2; G: path_length (every 4)``: the recipe's regularisers, lazy ones with their interval."""

    def named(table: dict) -> str:
        every = table.get("every", 1)
        return table["name"] + (f" (every {every})" if every > 1 else "")

    sides = [
        f"{side}: {', '.join(named(table) for table in recipe.data.get(section, []))}"
        for side, section in (("D", "penalty"), ("G", "generator_penalty"))
        if recipe.data.get(section)
    ]
    return "; ".join(sides)


def _augmentation(config) -> str:
    """What D's inputs go through: DiffAugment's policy or ADA's pipeline and how its p is set."""
    if config.policy.strip():
        return f"DiffAugment {config.policy}"
    if not config.pipeline.strip():
        return ""
    from ganforge.schedule import is_scheduled

    if config.adaptive:
        how = f"adaptive p from {config.p:g} (target {config.target:g}, every {config.interval} steps)"
    else:
        how = "p on a schedule" if is_scheduled(config.p) else f"p = {config.p:g}"
    return f"ADA {config.pipeline}, {how}"


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


def add_commands(app: typer.Typer) -> None:
    recipe_app = typer.Typer(help="Inspect and validate recipes.", no_args_is_help=True)
    recipe_app.command("show")(user_errors(recipe_show))
    recipe_app.command("check")(user_errors(recipe_check))
    app.add_typer(recipe_app, name="recipe")
    data_app = typer.Typer(help="Prepare datasets.", no_args_is_help=True)
    data_app.command("prepare")(user_errors(data_prepare))
    app.add_typer(data_app, name="data")
