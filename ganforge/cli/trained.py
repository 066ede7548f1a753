"""Commands on trained runs: ``eval``, ``sample``, ``interpolate``, ``export``, ``report``, ``compare``.

TARGET is a run folder (its newest checkpoint, or ``--best``) or a
checkpoint file inside one. The generator is the EMA one when the run kept
it, unless ``--raw``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ganforge.cli.support import console, user_errors

Target = Annotated[Path, typer.Argument(help="run folder, or a checkpoint file in one")]
Best = Annotated[bool, typer.Option("--best", help="use checkpoints/best.npz instead of the newest checkpoint")]
Raw = Annotated[bool, typer.Option("--raw", help="use the raw generator weights even when the run kept an EMA")]
Seed = Annotated[int, typer.Option("--seed", help="noise seed: the same seed gives the same images")]
ClassName = Annotated[
    Optional[str], typer.Option("--class", help="a conditional run's class to draw, by name (e.g. --class 7)")
]
Attributes = Annotated[
    Optional[list[str]],
    typer.Option(
        "--attribute",
        help="a conditional run's attribute, set: NAME=true or NAME=false (repeatable; the others as in the data)",
    ),
]


def eval_command(
    target: Annotated[Path, typer.Argument(help="run folder, checkpoint file, or a folder of images (with --against)")],
    metric: Annotated[
        Optional[list[str]],
        typer.Option("--metric", "-m", help="metric to run (repeatable); default: the recipe's [eval] metrics"),
    ] = None,
    samples: Annotated[Optional[int], typer.Option("--samples", min=1, help="generated images per metric")] = None,
    reference_samples: Annotated[
        Optional[int], typer.Option("--reference-samples", min=1, help="real images per metric")
    ] = None,
    features: Annotated[
        Optional[str],
        typer.Option(
            "--features",
            help="feature network: NAME or NAME:key=value, e.g. digits, fid_inception:weights=PATH "
            "(default: the recipe's, else auto: digits for grey images, fid_inception for colour)",
        ),
    ] = None,
    against: Annotated[
        Optional[Path],
        typer.Option("--against", help="a folder of real images to compare with, instead of the recipe's dataset"),
    ] = None,
    reference_set: Annotated[
        Optional[list[str]],
        typer.Option(
            "--reference-set",
            help="change a parameter of the recipe's dataset for the reference, e.g. split=test (repeatable)",
        ),
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", help="folder against folder: also write the results to this new JSON file"),
    ] = None,
    best: Best = False,
    raw: Raw = False,
    seed: Seed = 0,
) -> None:
    """Measure a trained generator (FID, KID, ...), or one folder of images against another."""
    from ganforge.errors import DataError
    from ganforge.runs.folder import is_run
    from ganforge.trained import evaluate

    options = evaluate.Options(metric or [], samples, reference_samples, features, seed, tuple(reference_set or ()))
    show = console()
    if target.is_dir() and not is_run(target):
        if against is None:
            raise DataError(f"{target}: not a run folder; to compare two folders of images, add --against REAL_FOLDER")
        records = evaluate.evaluate_folders(target, against, options, out)
        where = f" (saved to {out})" if out else ""
    else:
        run_dir, records = evaluate.evaluate_run(target, options, against=against, best=best, raw=raw)
        where = f" (appended to {run_dir / 'evaluations.jsonl'})"
    for record in records:
        values = "  ".join(f"{key} {value:.6g}" for key, value in record["results"].items())
        show.print(f"[bold]{record['metric']}[/]  {values}")
        details = [
            f"{key}: {record[key]}" for key in ("features", "resize", "samples", "reference_samples") if key in record
        ]
        if details:
            show.print("  " + "; ".join(details))
    show.print(f"{len(records)} metric(s) measured{where}")


def sample_command(
    target: Target,
    out: Annotated[Path, typer.Option("--out", "-o", help="a new PNG file (grid) or a new folder (--separate)")],
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="how many images")] = 64,
    separate: Annotated[
        bool, typer.Option("--separate", help="one PNG per image in the folder --out, not a grid")
    ] = False,
    seed: Seed = 0,
    class_name: ClassName = None,
    attribute: Attributes = None,
    best: Best = False,
    raw: Raw = False,
) -> None:
    """Draw images from a trained generator: one grid, or N separate PNGs."""
    import ganforge.trained as trained_runs
    from ganforge.trained import generating

    trained = trained_runs.load(target, best=best, raw=raw)
    written = generating.sample(trained, out, count, seed, separate, class_name, attribute or ())
    console().print(
        f"{count} samples from {trained.describe()}, seed {seed}: "
        f"{out if not separate else f'{len(written)} files in {out}'}"
    )


def interpolate_command(
    target: Target,
    out: Annotated[Path, typer.Option("--out", "-o", help="new grid PNG; the GIF goes beside it with .gif")],
    seeds: Annotated[
        list[int], typer.Option("--seed", help="seeds to walk through, in order (at least 2; repeatable)")
    ] = None,
    frames: Annotated[int, typer.Option("--frames", min=2, help="images per leg of the walk")] = 8,
    frame_ms: Annotated[int, typer.Option("--frame-ms", min=10, help="milliseconds per GIF frame")] = 120,
    class_name: ClassName = None,
    attribute: Attributes = None,
    best: Best = False,
    raw: Raw = False,
) -> None:
    """A latent walk between seeds' noise vectors: a grid PNG and an animated GIF."""
    import ganforge.trained as trained_runs
    from ganforge.trained import generating

    seeds = seeds or [0, 1, 2, 0]
    trained = trained_runs.load(target, best=best, raw=raw)
    gif = out.with_suffix(".gif")
    generating.interpolate(trained, out, gif, seeds, frames, frame_ms, class_name, attribute or ())
    console().print(f"walk through seeds {seeds} from {trained.describe()}: {out} and {gif}")


def export_command(
    target: Target,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="a new folder for generator.keras, saved_model/ and generator.json")
    ],
    best: Best = False,
    raw: Raw = False,
) -> None:
    """Save the generator as a .keras file and a TensorFlow SavedModel, usable without ganforge."""
    import ganforge.trained as trained_runs
    from ganforge.trained import generating

    trained = trained_runs.load(target, best=best, raw=raw)
    about = generating.export(trained, out)
    show = console()
    show.print(f"exported {trained.describe()} to {out}/")
    labels = about.get("labels")
    if about["saved_model"]:
        call = "model.serve(\\[noise, labels])" if labels else "model.serve(noise)"  # rich would read [...] as markup
        show.print(
            f"  SavedModel: model = tf.saved_model.load('{out}/saved_model'); {call}  "
            f"with noise float32 (batch, {about['latent_dim']}) -> images in [-1, 1]"
        )
    if labels:
        show.print(f"  labels: {labels['input']} ({', '.join(labels['names'][:10])}; generator.json lists them)")
    else:
        show.print(
            "  no SavedModel: writing one needs TensorFlow, which is not installed here (pip install tensorflow)"
        )
    if about["keras_file_needs_modules"]:
        show.print(
            f"  generator.keras uses custom layers from {', '.join(about['keras_file_needs_modules'])}: import them before keras.saving.load_model"
        )


def report(
    run: Annotated[Path, typer.Argument(help="run folder")],
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="where to write the page (default RUN/report.html)")
    ] = None,
) -> None:
    """Write one self-contained HTML page for a run: curves, samples over time, evaluations, recipe."""
    from ganforge.trained import report as run_report

    written = run_report.write(run, out)
    console().print(f"report: {written} ({written.stat().st_size / 1024:.0f} KiB; opens in any browser, offline)")


def compare(
    runs: Annotated[list[Path], typer.Argument(help="two or more run folders")],
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the page")] = Path("compare.html"),
) -> None:
    """Write one self-contained HTML page setting runs side by side: curves, samples, evaluations, recipe keys."""
    from ganforge.trained import compare as run_compare

    written = run_compare.write(runs, out)
    console().print(f"compare: {written} ({written.stat().st_size / 1024:.0f} KiB; opens in any browser, offline)")


def add_commands(app: typer.Typer) -> None:
    app.command("eval")(user_errors(eval_command))
    app.command("sample")(user_errors(sample_command))
    app.command("interpolate")(user_errors(interpolate_command))
    app.command("export")(user_errors(export_command))
    app.command("report")(user_errors(report))
    app.command("compare")(user_errors(compare))
