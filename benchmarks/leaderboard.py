"""The leaderboard: every recipe in recipes/leaderboard/, 3 seeds each, on the embedded digits at 32x32.

Each run is the real command a user types (``ganforge run RECIPE --set seed=N``,
one process per run) at the recipes' budget of 3,000 generator updates of
64 images, every DCGAN at half the DCGAN paper's width; its final
evaluation (5,000 samples against the 5,000 digits, on the ``digits``
network) gives FID, KID and precision/recall, and its own speed records
give images per second. Writes the table with mean ± std
over seeds, the goals and how long everything took to ``--out``.

Finished runs are kept under ``--workdir`` and found again by a later call,
so an interrupted rebuild goes on where it stopped and a row whose recipe changed is trained again
(``--fresh`` starts over);
``ganforge compare`` draws any of them side by side.

    python benchmarks/leaderboard.py --out docs/leaderboard.md     # 108 minutes on 2 CPU cores (docs/leaderboard.md)
    python benchmarks/leaderboard.py --rows dcgan dcgan_sn --seeds 1 --steps 200   # a quick look, not the table
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ganforge.recipe import load_recipe, tomllib

from runs import RECIPES, mean_std

LEADERBOARD = RECIPES / "leaderboard"


@dataclass(frozen=True)
class Row:
    key: str  # recipe file stem under recipes/leaderboard/
    label: str
    block: str  # "models" or "data" (the 500-digit block)


ROWS = [
    Row("dcgan", "DCGAN (non-saturating), the quickstart's recipe at half width", "models"),
    Row("dcgan_sn", "DCGAN + spectral norm", "models"),
    Row("sngan", "SNGAN-ResNet, hinge (1 D step, not the paper's 5)", "models"),
    Row("relativistic", "DCGAN, relativistic average loss", "models"),
    Row("wgan_gp", "WGAN-GP (1 critic step, not the paper's 5)", "models"),
    Row("dcgan_diffaugment", "DCGAN + DiffAugment", "models"),
    Row("r3gan", "R3GAN (RpGAN + R1 + R2, small preset at width 32)", "models"),
    Row("digits500", "DCGAN, 500 digits", "data"),
    Row("digits500_diffaugment", "DCGAN + DiffAugment, 500 digits", "data"),
    Row("digits500_ada", "DCGAN + ADA (bgc, adaptive p), 500 digits", "data"),
]
AUGMENTED_BASE = "dcgan"  # the row the DiffAugment rows build on: the best of the others in the pilot runs
# The rows the goals compare are trained first, so an interrupted rebuild has measured them.
GOAL_ROWS = ("dcgan", "dcgan_diffaugment", "digits500", "digits500_diffaugment", "digits500_ada")


def train_row(row: Row, seed: int, steps: int | None, workdir: Path) -> dict:
    """Run one seed of a row as its own ``ganforge run`` process; its final results, img/s and seconds."""
    folder = workdir / f"{row.key}-seed{seed}"
    done = folder / "leaderboard.json"
    recipe = LEADERBOARD / f"{row.key}.toml"
    wanted = steps or load_recipe(recipe).data["train"]["steps"]
    overrides = [f"seed={seed}", f"output_dir={json.dumps(str(folder))}", 'sinks=["jsonl", "png"]']
    overrides.append(f"train.steps={wanted}")
    earlier = json.loads(done.read_text()) if done.is_file() else {}
    if earlier and trained_as(Path(earlier["run"]), load_recipe(recipe, overrides).data):
        return earlier  # trained by an earlier call, from the same recipe at the same budget
    shutil.rmtree(folder, ignore_errors=True)
    command = [sys.executable, "-m", "ganforge", "run", str(recipe)]
    for override in overrides:
        command += ["--set", override]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    (run,) = [path for path in folder.iterdir() if path.is_dir()]
    result = {"run": str(run), "seconds": seconds, **read_run(run)}
    done.write_text(json.dumps(result))
    return result


def trained_as(run: Path, recipe: dict) -> bool:
    """Whether an earlier run was trained from this recipe (with these overrides): a changed row is rerun.
    The saved recipe is read again, so keys added to ganforge since then take their defaults on both sides."""
    saved = run / "recipe.toml"
    return saved.is_file() and load_recipe(saved).data == recipe


def read_run(run: Path) -> dict:
    steps = tomllib.loads((run / "recipe.toml").read_text())["train"]["steps"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    final = {}
    for record in records:
        final.update({key[len("eval/") :]: value for key, value in record.items() if key.startswith("eval/")})
    # the first window holds the step's tracing, which is not training speed
    speeds = [r["speed/images_per_s"] for r in records if "speed/images_per_s" in r]
    return {"results": final, "images_per_s": statistics.median(speeds[1:] or speeds), "steps": steps}


def row_line(row: Row, runs: list[dict]) -> str:
    def column(key: str, scale: float = 1.0, digits: int = 1) -> str:
        return mean_std([scale * r["results"][key] for r in runs], digits)

    recipe = f"[`{row.key}.toml`](../recipes/leaderboard/{row.key}.toml)"
    speed = statistics.mean(r["images_per_s"] for r in runs)
    minutes = statistics.mean(r["seconds"] for r in runs) / 60
    steps = "/".join(sorted({f"{r['steps']:,}" for r in runs}))
    return (
        f"| {row.label} | {recipe} | {steps} | {column('fid/fid')} | {column('kid/kid', digits=2)} | "
        f"{column('precision_recall/precision', digits=3)} | {column('precision_recall/recall', digits=3)} | "
        f"{speed:.0f} | {minutes:.1f} |"
    )


def mean_fid(runs: list[dict]) -> float:
    return statistics.mean(r["results"]["fid/fid"] for r in runs)


def change(after: float, before: float) -> str:
    """FID change in words, to a tenth of a percent so that it never rounds onto the goal: "29.8% lower"."""
    drop = 1 - after / before
    return f"{100 * abs(drop):.1f}% {'lower' if drop >= 0 else 'higher'}"


def goals(results: dict[str, list[dict]]) -> list[str]:
    """The issue's two goals, measured: best row against the DCGAN row, DiffAugment on 500 digits."""
    lines = []
    models = [row for row in ROWS if row.block == "models" and row.key in results]
    if "dcgan" in results and len(models) > 1:
        best = min(models, key=lambda row: mean_fid(results[row.key]))
        others = [row for row in models if row.key != "dcgan"]
        runner_up = min(others, key=lambda row: mean_fid(results[row.key]))
        if best.key == "dcgan":
            lines.append(
                f"- Best row: the DCGAN row itself; the next best, {runner_up.label}, has an FID "
                f"{change(mean_fid(results[runner_up.key]), mean_fid(results['dcgan']))} (goal: another row at "
                "least 30% lower: not met)."
            )
        else:
            gain = 1 - mean_fid(results[best.key]) / mean_fid(results["dcgan"])
            lines.append(
                f"- Best row: **{best.label}**, FID {change(mean_fid(results[best.key]), mean_fid(results['dcgan']))} "
                f"than the DCGAN row at the same budget (goal: at least 30% lower: "
                f"{'met' if gain >= 0.3 else 'not met'})."
            )
        plain = [row for row in models if "diffaugment" not in row.key]
        best_plain = min(plain, key=lambda row: mean_fid(results[row.key]))
        if best_plain.key != AUGMENTED_BASE:
            lines.append(
                f"- The DiffAugment rows build on `{AUGMENTED_BASE}`, but in this rebuild `{best_plain.key}` "
                "scored the lowest FID without augmentation."
            )
    if "digits500" in results and "digits500_diffaugment" in results:
        after, before = mean_fid(results["digits500_diffaugment"]), mean_fid(results["digits500"])
        lines.append(
            f"- DiffAugment on 500 digits: FID {change(after, before)} than the same recipe without it "
            f"(goal: at least 30% lower: {'met' if 1 - after / before >= 0.3 else 'not met'})."
        )
    if "digits500" in results and "digits500_ada" in results:
        lines.append(ada_goal(results))
    return lines


def ada_goal(results: dict[str, list[dict]]) -> str:
    """Issue 30's goal: ADA on 500 digits at least 30% below the plain row, and no worse than DiffAugment."""
    after, before = mean_fid(results["digits500_ada"]), mean_fid(results["digits500"])
    line = (
        f"- ADA on 500 digits: FID {change(after, before)} than the same recipe without it (goal: at least 30% lower: "
    )
    line += f"{'met' if 1 - after / before >= 0.3 else 'not met'})"
    if "digits500_diffaugment" in results:
        diffaugment = mean_fid(results["digits500_diffaugment"])
        verdict = "met" if after <= diffaugment else "not met"
        line += f"; {after:.1f} against DiffAugment's {diffaugment:.1f} (goal: no worse: {verdict})"
    return line + "."


def machine() -> str:
    from ganforge.backend import tensorflow

    tf = tensorflow()  # imported quietly
    import keras

    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").is_file():
        names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return (
        f"{os.cpu_count()} × {cpu}, Python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}"
    )


def table(results: dict[str, list[dict]], block: str) -> list[str]:
    lines = [
        "| row | recipe | steps | FID ↓ | KID ↓ | precision ↑ | recall ↑ | img/s | minutes per run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    return lines + [row_line(row, results[row.key]) for row in ROWS if row.block == block and row.key in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="*", choices=[row.key for row in ROWS], help="default: every row")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, help="override train.steps (quicker, not the leaderboard)")
    parser.add_argument("--workdir", type=Path, default=Path("runs/leaderboard"), help="where the runs are kept")
    parser.add_argument("--fresh", action="store_true", help="train every run again, even those already in --workdir")
    parser.add_argument("--out", type=Path, help="write the tables to this markdown file")
    args = parser.parse_args()

    if args.fresh:
        shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = [row for row in ROWS if not args.rows or row.key in args.rows]
    rows.sort(key=lambda row: row.key not in GOAL_ROWS)  # stable: otherwise in table order
    start = time.perf_counter()
    results: dict[str, list[dict]] = {}
    for row in rows:
        for seed in range(args.seeds):
            run = train_row(row, seed, args.steps, args.workdir.resolve())
            results.setdefault(row.key, []).append(run)
            fid, speed = run["results"]["fid/fid"], run["images_per_s"]
            print(f"{row.key} seed {seed}: FID {fid:.1f}, {speed:.0f} img/s ({run['seconds']:.0f} s)", flush=True)
    hours = (time.perf_counter() - start) / 3600
    trained = sum(r["seconds"] for runs in results.values() for r in runs) / 3600
    report = [
        *table(results, "models"),
        "",
        "Data efficiency: the same recipes trained on a fixed 500 of the 5,000 digits (`[dataset] limit = 500`, "
        "the same 500 for every seed), evaluated against all 5,000.",
        "",
        *table(results, "data"),
        "",
        *goals(results),
        f"- {len(rows)} rows × {args.seeds} seeds; training and evaluating took {trained:.2f} h "
        f"(this call {hours:.2f} h); {machine()}.",
    ]
    print("\n" + "\n".join(report))
    if args.out:
        write_between_markers(args.out, "\n".join(report))


def write_between_markers(out: Path, text: str) -> None:
    """Replace what lies between the markers of an existing page (its prose stays), or write a new file."""
    begin, end = "<!-- leaderboard: begin -->", "<!-- leaderboard: end -->"
    page = out.read_text() if out.is_file() else ""
    if begin in page and end in page:
        head, rest = page.split(begin, 1)
        text = f"{head}{begin}\n{text}\n{end}{rest.split(end, 1)[1]}"
    out.write_text(text + ("" if text.endswith("\n") else "\n"))


if __name__ == "__main__":
    main()
