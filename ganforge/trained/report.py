"""``ganforge report RUN``: one HTML page that shows a run with nothing but a browser.

Everything is inside the file: plots are matplotlib PNGs and sample grids
are the run's PNGs, all embedded as base64, with no scripts and no links to
fetch. It reads only the run folder (recipe.toml, metrics.jsonl,
evaluations.jsonl, samples/), so it works on a run in progress and on one
copied from another machine.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import time
from pathlib import Path

from ganforge.errors import DataError
from ganforge.runs import folder as run_folder

MAX_GRIDS = 12  # sample grids shown over time, evenly spaced, always with the last
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
.meta { color: #666; } .plots { display: flex; flex-wrap: wrap; gap: 8px; } .plots img { width: 49%; min-width: 420px; }
.grids { display: flex; flex-wrap: wrap; gap: 12px; }
.grids figure { margin: 0; text-align: center; font-size: 0.85em; color: #555; }
.grids img { width: 260px; image-rendering: pixelated; border: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ddd; padding: 4px 8px; text-align: left; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.85em; }
"""


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines):  # only the last line may be cut short, by a run killed mid-write
                raise DataError(f"{path}: line {number} is not JSON") from None
    return rows


def png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def img(data: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _curves(records: list[dict]) -> list[tuple[str, str]]:
    """(title, base64 PNG) for each group of scalars: losses, speed, learning rates, each evaluation value."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    from matplotlib import pyplot

    groups = {
        "Losses": ["loss/discriminator", "loss/generator"],
        "Throughput (images/s)": ["speed/images_per_s"],
        "Learning rates": ["lr/generator", "lr/discriminator"],
    }
    evaluated = sorted({key for record in records for key in record if key.startswith("eval/")})
    for key in evaluated:
        groups[key.removeprefix("eval/")] = [key]
    plots = []
    for title, keys in groups.items():
        series = {key: [(r["step"], r[key]) for r in records if key in r] for key in keys}
        series = {key: points for key, points in series.items() if points}
        if not series or (title == "Learning rates" and all(len({v for _, v in p}) == 1 for p in series.values())):
            continue  # nothing logged, or constant rates: a flat line says nothing
        figure, axes = pyplot.subplots(figsize=(6.4, 3.2))
        for key, points in series.items():
            steps, values = zip(*points)
            axes.plot(steps, values, label=key, marker="o" if len(points) < 30 else None, markersize=3)
        axes.set_title(title)
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        if len(series) > 1:
            axes.legend()
        plots.append((title, png(figure)))
        pyplot.close(figure)
    return plots


def _sample_pngs(samples: Path) -> list[tuple[str, int, Path]]:
    """(kind, step, path) of every ``KIND_STEP.png`` in a samples folder: ``step`` grids and metric plots."""
    found = []
    for path in sorted(samples.glob("*.png")) if samples.is_dir() else []:
        match = re.fullmatch(r"(.+)_(\d{8})\.png", path.name)
        if match:
            found.append((match.group(1), int(match.group(2)), path))
    return found


def grids_by_step(samples: Path) -> list[tuple[int, Path]]:
    """The sample grids in a samples folder, oldest first."""
    return sorted((step, path) for kind, step, path in _sample_pngs(samples) if kind == "step")


def _grids(samples: Path) -> tuple[list[tuple[int, Path]], dict[str, Path]]:
    """Sample grids by step (thinned to MAX_GRIDS), and the newest image of every other kind (metric plots)."""
    newest: dict[str, tuple[int, Path]] = {}
    for kind, step, path in _sample_pngs(samples):
        if kind != "step" and step >= newest.get(kind, (-1, path))[0]:
            newest[kind] = (step, path)
    steps = grids_by_step(samples)
    if len(steps) > MAX_GRIDS:
        chosen = {round(i * (len(steps) - 1) / (MAX_GRIDS - 1)) for i in range(MAX_GRIDS)}
        steps = [steps[i] for i in sorted(chosen)]
    return steps, {kind: path for kind, (_, path) in newest.items()}


def file_png(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def build(run: Path) -> str:
    if not run_folder.is_run(run):
        raise DataError(f"{run}: not a run folder (it has no {run_folder.RECIPE_FILE})")
    recipe_text = (run / run_folder.RECIPE_FILE).read_text(encoding="utf-8")
    records = read_jsonl(run / run_folder.METRICS)
    evaluations = read_jsonl(run / run_folder.EVALUATIONS)
    grids, others = _grids(run / run_folder.SAMPLES)
    last = records[-1] if records else {}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(run.name)} — ganforge report</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(run.name)}</h1>",
        f"<p class='meta'>{html.escape(str(run.resolve()))} · last record at step {last.get('step', '—')} · "
        f"report made {time.strftime('%Y-%m-%d %H:%M')}</p>",
    ]
    if last:
        shown = {k: v for k, v in last.items() if k.startswith(("loss/", "speed/"))}
        parts.append("<p>" + " · ".join(f"{html.escape(k)} <b>{v:.4g}</b>" for k, v in shown.items()) + "</p>")
    parts.append("<h2>Curves</h2><div class='plots'>")
    curves = _curves(records)
    parts += [img(data, title) for title, data in curves] or ["<p>No records yet (metrics.jsonl is empty).</p>"]
    parts.append(
        "</div><h2>Samples over time</h2><p class='meta'>The same fixed noise at every step shown.</p><div class='grids'>"
    )
    parts += [
        f"<figure>{img(file_png(path), f'step {step}')}<figcaption>step {step}</figcaption></figure>"
        for step, path in grids
    ]
    if not grids:
        parts.append("<p>No sample grids yet.</p>")
    parts.append("</div>")
    if evaluations:
        parts.append(
            "<h2>Evaluations</h2><table><tr><th>step</th><th>metric</th><th>results</th><th>measured with</th></tr>"
        )
        for record in evaluations:
            results = ", ".join(f"{k} {v:.4g}" for k, v in record.get("results", {}).items())
            details = "; ".join(
                f"{k}: {record[k]}"
                for k in ("features", "resize", "samples", "reference_samples", "checkpoint", "weights")
                if k in record
            )
            parts.append(
                f"<tr><td>{record.get('step', '')}</td><td>{html.escape(str(record.get('metric', '')))}</td>"
                f"<td>{html.escape(results)}</td><td>{html.escape(details)}</td></tr>"
            )
        parts.append("</table>")
    if others:
        parts.append("<h2>Metric plots (latest)</h2><div class='grids'>")
        parts += [
            f"<figure>{img(file_png(path), kind)}<figcaption>{html.escape(path.name)}</figcaption></figure>"
            for kind, path in sorted(others.items())
        ]
        parts.append("</div>")
    parts.append(f"<h2>Recipe</h2><pre>{html.escape(recipe_text)}</pre></body></html>")
    return "\n".join(parts)


def write(run: Path, out: Path | None = None) -> Path:
    """Write the page (atomically) to ``out``, default ``RUN/report.html``, replacing an older report."""
    page = build(run)
    out = out or run / run_folder.REPORT
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, out)
    return out
