"""``ganforge compare RUN RUN ...``: one HTML page that sets runs side by side.

Like the report page it is self-contained (matplotlib PNGs and the runs' own
grids embedded as base64, no scripts, no links) and reads only the run
folders. It overlays each curve of every run in one plot, shows each run's
newest sample grid, tabulates the last result of every evaluation, and lists
the recipe keys in which the runs differ: what a reader needs to tell why
one run did better. Runs of different datasets are allowed; the page says so
above the evaluations, since their numbers were measured against different
real images.
"""

from __future__ import annotations

import html
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ganforge.errors import DataError
from ganforge.evaluation.measure import NOT_ABOUT_THE_IMAGES
from ganforge.recipe import tomllib
from ganforge.runs import folder as run_folder
from ganforge.trained.report import STYLE, file_png, grids_by_step, img, png, read_jsonl

# keys that differ between any two runs and say nothing about how they trained
UNCOMPARED = {"name", "output_dir", "sinks"}
# how a result was measured: runs that differ here did not measure the same thing
MEASURED_WITH = ("network", "features", "resize", "samples", "reference_samples", "reference")


@dataclass
class Run:
    folder: Path
    label: str
    recipe_text: str
    recipe: dict
    records: list[dict]  # metrics.jsonl's lines that are JSON objects with a step
    evaluations: list[dict]  # evaluations.jsonl's lines that are JSON objects


def _flatten(table: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _labels(folders: list[Path]) -> list[str]:
    """Each run's folder name, with as many parent folders in front as it takes to tell the runs apart."""
    parts = [folder.resolve().parts for folder in folders]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(folder.resolve()) for folder in folders]


def read_runs(folders: list[Path]) -> list[Run]:
    """Every folder read as a run; a folder that is not one, or a run given twice, is a DataError."""
    if len(folders) < 2:
        raise DataError("compare needs at least two run folders")
    seen = {}
    for folder in folders:
        if not run_folder.is_run(folder):
            raise DataError(f"{folder}: not a run folder (it has no {run_folder.RECIPE_FILE})")
        if folder.resolve() in seen:
            raise DataError(f"{folder}: the same run as {seen[folder.resolve()]}, given twice")
        seen[folder.resolve()] = folder
    runs = []
    for folder, label in zip(folders, _labels(folders)):
        path = folder / run_folder.RECIPE_FILE
        try:
            text = path.read_text(encoding="utf-8")
            recipe = tomllib.loads(text)
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise DataError(f"{path}: not a readable recipe ({error})") from None
        records = [r for r in _objects(folder / run_folder.METRICS) if isinstance(r.get("step"), int)]
        runs.append(Run(folder, label, text, recipe, records, _objects(folder / run_folder.EVALUATIONS)))
    return runs


def _objects(path: Path) -> list[dict]:
    try:
        return [row for row in read_jsonl(path) if isinstance(row, dict)]
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error})") from None


def differing_keys(runs: list[Run]) -> dict[str, list[object]]:
    """Recipe keys whose values are not the same in every run (a key one run lacks shows as missing)."""
    flat = [_flatten(run.recipe) for run in runs]
    keys = sorted({key for table in flat for key in table} - UNCOMPARED)
    missing = object()
    differ = {}
    for key in keys:
        values = [table.get(key, missing) for table in flat]
        if any(value != values[0] for value in values):
            differ[key] = [None if value is missing else value for value in values]
    return differ


def datasets_differ(runs: list[Run]) -> bool:
    """Different images, not only another ``limit`` (metrics use the whole dataset) or another cache folder."""
    tables = [{k: v for k, v in run.recipe.get("dataset", {}).items() if k not in NOT_ABOUT_THE_IMAGES} for run in runs]
    return any(table != tables[0] for table in tables)


def final_evaluations(run: Run) -> dict[str, dict]:
    """The newest record of each metric: from evaluations.jsonl, else from metrics.jsonl's eval/ keys."""
    final = {}
    for record in run.evaluations:
        if isinstance(record.get("metric"), str) and isinstance(record.get("results"), dict):
            final[record["metric"]] = record
    if not final:  # a run whose evaluations.jsonl is gone: metrics.jsonl holds the numbers, not how they were taken
        for record in run.records:
            for key, value in record.items():
                metric, _, name = key.removeprefix("eval/").partition("/")
                if key.startswith("eval/") and name:
                    final.setdefault(metric, {"metric": metric, "results": {}})
                    final[metric]["results"][name] = value
                    final[metric]["step"] = record["step"]
    return final


def _curves(runs: list[Run]) -> list[tuple[str, str]]:
    """(key, base64 PNG): both losses, images/s and each evaluation value logged more than once, one plot each,
    a line per run in the same colour in every plot."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    from matplotlib import pyplot

    keys = ["loss/discriminator", "loss/generator", "speed/images_per_s"]
    keys += sorted({key for run in runs for record in run.records for key in record if key.startswith("eval/")})
    colours = pyplot.rcParams["axes.prop_cycle"].by_key()["color"]
    plots = []
    for key in keys:
        series = [(run, [(r["step"], r[key]) for r in run.records if _number(r.get(key))]) for run in runs]
        if max(len(points) for _, points in series) < 2 or key.endswith("_std"):
            continue  # a single evaluation per run is in the table; a spread is no curve of its own
        figure, axes = pyplot.subplots(figsize=(6.4, 3.4))
        lines, labels = [], []
        for index, (run, points) in enumerate(series):
            if points:
                steps, values = zip(*points)
                marker = "o" if len(points) < 30 else None
                lines += axes.plot(steps, values, color=colours[index % len(colours)], marker=marker)
                labels.append(run.label.replace("$", r"\$"))  # a label is not mathtext, nor hidden by a leading _
        axes.set_title(key.removeprefix("eval/").replace("$", r"\$"))
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        axes.legend(lines, labels, fontsize="small")
        plots.append((key, png(figure)))
        pyplot.close(figure)
    return plots


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _latest_grids(runs: list[Run]) -> list[str]:
    figures = []
    for run in runs:
        steps = grids_by_step(run.folder / run_folder.SAMPLES)
        if steps:
            step, path = steps[-1]
            caption = f"{html.escape(run.label)}<br>step {step}"
            figures.append(
                f"<figure>{img(file_png(path), f'{run.label} step {step}')}<figcaption>{caption}</figcaption></figure>"
            )
        else:
            figures.append(
                f"<figure><p>no sample grid yet</p><figcaption>{html.escape(run.label)}</figcaption></figure>"
            )
    return figures


def _result(value: object) -> str:
    if value is None:
        return "<i>—</i>"
    return f"{value:.4g}" if isinstance(value, float) else html.escape(str(value))


def _recipe_value(value: object) -> str:
    """A recipe value as TOML writes it: two values that differ never look the same."""
    if value is None:
        return "<i>not set</i>"
    return html.escape(value if isinstance(value, str) else json.dumps(value))


def _evaluations_table(runs: list[Run], finals: list[dict[str, dict]]) -> list[str]:
    columns = sorted({(metric, name) for final in finals for metric, r in final.items() for name in r["results"]})
    if not columns:
        return ["<p>None of these runs has been evaluated yet.</p>"]
    head = "".join(f"<th>{html.escape(f'{metric}/{name}')}</th>" for metric, name in columns)
    parts = [f"<table><tr><th>run</th><th>step</th>{head}</tr>"]
    for run, final in zip(runs, finals):
        steps = sorted({record["step"] for record in final.values() if isinstance(record.get("step"), int)})
        cells = "".join(f"<td>{_result(final.get(m, {}).get('results', {}).get(n))}</td>" for m, n in columns)
        parts.append(f"<tr><td>{html.escape(run.label)}</td><td>{', '.join(map(str, steps))}</td>{cells}</tr>")
    return parts + ["</table>"]


def _measured_differently(finals: list[dict[str, dict]]) -> list[str]:
    """A warning for each metric whose runs say they measured it differently (records that say nothing are
    left out: a run read from metrics.jsonl alone cannot tell)."""
    warnings = []
    for metric in sorted({metric for final in finals for metric in final}):
        how = [{k: final[metric].get(k) for k in MEASURED_WITH} for final in finals if metric in final]
        how = [h for h in how if any(v is not None for v in h.values())]
        if any(h != how[0] for h in how):
            warnings.append(
                f"<p class='warn'>{html.escape(metric)} was not measured the same way in every run "
                "(feature network, sample counts or reference differ): its numbers do not compare.</p>"
            )
    return warnings


def _differences_table(runs: list[Run]) -> list[str]:
    differ = differing_keys(runs)
    if not differ:
        return ["<p>The recipes are the same but for their names: the runs differ only by chance.</p>"]
    head = "".join(f"<th>{html.escape(run.label)}</th>" for run in runs)
    parts = [f"<table><tr><th>recipe key</th>{head}</tr>"]
    for key, values in differ.items():
        cells = "".join(f"<td>{_recipe_value(v)}</td>" for v in values)
        parts.append(f"<tr><td>{html.escape(key)}</td>{cells}</tr>")
    return parts + ["</table>"]


def build(folders: list[Path]) -> str:
    runs = read_runs(folders)
    title = " · ".join(run.label for run in runs)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)} — ganforge compare</title>",
        f"<style>{STYLE} .warn {{ background: #fff4d6; border-left: 4px solid #e0a000; padding: 0.5em 1em; }}</style>",
        "</head><body>",
        f"<h1>{len(runs)} runs compared</h1>",
        "<p class='meta'>" + "<br>".join(html.escape(str(run.folder.resolve())) for run in runs) + "</p>",
        f"<p class='meta'>page made {time.strftime('%Y-%m-%d %H:%M')}</p>",
    ]
    if datasets_differ(runs):
        names = ", ".join(f"{run.label}: {run.recipe.get('dataset', {}).get('name', '?')}" for run in runs)
        parts.append(
            f"<p class='warn'><b>These runs trained on different datasets</b> ({html.escape(names)}): "
            "each evaluation measured its run against its own real images, so the numbers below do not compare.</p>"
        )
    finals = [final_evaluations(run) for run in runs]
    parts.append("<h2>Final evaluations</h2>")
    parts += _evaluations_table(runs, finals) + _measured_differently(finals)
    parts.append("<h2>Where the recipes differ</h2>")
    parts += _differences_table(runs)
    parts.append("<h2>Curves</h2><div class='plots'>")
    parts += [img(data, key) for key, data in _curves(runs)] or ["<p>No records yet.</p>"]
    parts.append("</div><h2>Latest samples</h2><div class='grids'>")
    parts += _latest_grids(runs)
    parts.append("</div><h2>Recipes</h2>")
    parts += [
        f"<details><summary>{html.escape(run.label)}</summary><pre>{html.escape(run.recipe_text)}</pre></details>"
        for run in runs
    ]
    parts.append("</body></html>")
    return "\n".join(parts)


def write(folders: list[Path], out: Path) -> Path:
    """Write the page atomically to ``out``: every run is read before anything is written."""
    page = build(folders)
    if out.is_dir():
        raise DataError(f"{out}: is a folder; --out names the page's file")
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, out)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise DataError(f"{out}: cannot write the page ({error.strerror or error})") from None
    return out
