"""Sinks as dashboards: W&B offline runs and TensorBoard event files, read back; failures never stop training."""

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import wandb_records
from conftest import invoke_cli, run_cli

# real W&B offline runs (ganforge run as a real process: W&B starts its own), TensorBoard event files, training
pytestmark = pytest.mark.slow

TOY_OVERRIDES = [
    "train.steps=4",
    "train.batch_size=64",
    "train.log_every=1",
    "train.sample_every=2",
    "train.checkpoint_every=2",
    "eval.every=2",
    'output_dir="runs"',
]
FAKE_KEY = "0123456789abcdef0123456789abcdef01234567"  # 40 characters, like a real key


def toy_run(
    tmp_path: Path, sinks: str, *extra: str, env: dict | None = None, resume: str | None = None, command=run_cli
):
    """The ring8 recipe, cut to 4 steps, run as a user would (a process of its own unless ``command`` is
    conftest.invoke_cli), with these sinks."""
    args = ["run", resume] if resume else ["run", "ring8"]
    if resume:
        args.append("--resume")
    overrides = [*TOY_OVERRIDES, f"sinks={sinks}", *extra]
    for override in overrides:
        args += ["--set", override]
    isolated = {"HOME": str(tmp_path), "WANDB_API_KEY": None, "WANDB_MODE": None, "WANDB_BASE_URL": None, **(env or {})}
    return command(*args, cwd=tmp_path, env=isolated)


def only_run(tmp_path: Path) -> Path:
    (folder,) = (tmp_path / "runs").iterdir()
    return folder


def wandb_files(run: Path) -> list[Path]:
    return sorted(run.glob("wandb/offline-run-*/run-*.wandb"))


@pytest.fixture(scope="module")
def local_sinks_run(tmp_path_factory) -> Path:
    """One toy run, in this process, through the sinks that write only into the run folder: read by the
    tests of each (copy it to write into it)."""
    tmp_path = tmp_path_factory.mktemp("local_sinks")
    done = toy_run(
        tmp_path, '["jsonl", "png", "tensorboard", { name = "wandb", mode = "disabled" }]', command=invoke_cli
    )
    assert done.returncode == 0, done.stderr
    return only_run(tmp_path)


OFFLINE_WANDB = '["jsonl", { name = "wandb", project = "toys", tags = ["ring"], log_checkpoints = true }]'


@pytest.fixture(scope="module")
def offline_wandb_run(tmp_path_factory):
    """A toy run with an offline W&B run, as a real process, and what it printed (copy it to write into it)."""
    tmp_path = tmp_path_factory.mktemp("offline_wandb")
    done = toy_run(tmp_path, OFFLINE_WANDB)
    assert done.returncode == 0, done.stderr
    return done, only_run(tmp_path)


def test_an_offline_wandb_run_holds_the_config_scalars_images_and_evaluations(offline_wandb_run):
    done, run = offline_wandb_run
    # offline without a key, and it says how to upload: a plugin's INFO record, shown by the command
    assert "ganforge: W&B: saved offline; to upload: wandb sync" in done.stderr
    (file,) = wandb_files(run)
    config = wandb_records.config(file)
    assert config["train"]["steps"] == 4 and config["dataset"]["name"] == "ring"
    rows = wandb_records.history(file)
    assert sorted({row["_step"] for row in rows}) == [1, 2, 3, 4]
    by_step = {}
    for row in rows:
        by_step.setdefault(row["_step"], {}).update(row)
    assert {"loss/discriminator", "loss/generator", "speed/images_per_s", "lr/generator"} <= set(by_step[1])
    assert "eval/mode_coverage/modes" in by_step[2] and "eval/mode_coverage/reverse_kl" in by_step[4]
    for step in (2, 4):
        for image in ("samples", "mode_coverage"):
            path = by_step[step][f"images/{image}/path"]
            assert (file.parent / "files" / path).is_file(), path
            assert by_step[step][f"images/{image}/caption"] == f"step {step}"
    assert by_step[4]["tables/evaluation/_type"] == "table-file"
    assert (file.parent / "files" / "recipe.toml").is_file()
    models = [entry for entry in wandb_records.artifacts(file) if entry[0] == "model"]
    assert models == [
        ("model", ["latest", "step-2"], ["step_00000002.npz"]),
        ("model", ["latest", "step-4"], ["step_00000004.npz"]),
    ]
    # the scalars W&B holds are the ones metrics.jsonl holds
    jsonl = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for record in jsonl:
        for key, value in record.items():
            if key != "step":
                assert by_step[record["step"]][key] == pytest.approx(value), key


def test_resuming_a_run_resumes_its_wandb_run(offline_wandb_run, tmp_path):
    first = offline_wandb_run[1]  # 4 steps: resumed here, on a copy, to 6
    run = shutil.copytree(first, tmp_path / "runs" / first.name, symlinks=True)
    saved = json.loads((run / "wandb-run.json").read_text())
    assert len(wandb_files(run)) == 1
    time.sleep(1.1)  # offline run folders are named to the second
    second = toy_run(tmp_path, OFFLINE_WANDB, "train.steps=6", resume=str(run))
    assert second.returncode == 0, second.stderr
    files = wandb_files(run)
    assert len(files) == 2
    assert [wandb_records.run_id(f) for f in files] == [saved["id"], saved["id"]]
    assert sorted({row["_step"] for row in wandb_records.history(files[1])}) == [5, 6]


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, "could not start online"),  # no key anywhere
        ({"WANDB_API_KEY": FAKE_KEY, "WANDB_BASE_URL": "http://127.0.0.1:9"}, "could not start online"),  # no server
    ],
)
def test_online_without_a_key_or_a_network_goes_on_offline_and_never_hangs(tmp_path, env, expected):
    started = time.perf_counter()
    done = toy_run(tmp_path, '["jsonl", { name = "wandb", mode = "online", init_timeout = 5 }]', env=env)
    assert done.returncode == 0, done.stderr
    assert time.perf_counter() - started < 240
    assert expected in done.stderr and "going on offline" in done.stderr
    run = only_run(tmp_path)
    assert len(wandb_files(run)) == 1
    assert len((run / "metrics.jsonl").read_text().splitlines()) >= 4
    # the key never reaches the run folder or the output
    for path in run.rglob("*"):
        if path.is_file():
            assert FAKE_KEY.encode() not in path.read_bytes(), path
    assert FAKE_KEY not in done.stdout + done.stderr


def test_disabled_wandb_writes_nothing(local_sinks_run):
    assert (local_sinks_run / "metrics.jsonl").is_file()  # the run went on
    assert not wandb_files(local_sinks_run)


def test_tensorboard_event_files_hold_scalars_images_and_the_recipe(local_sinks_run):
    import tensorflow as tf

    (events,) = (local_sinks_run / "tensorboard").glob("events.out.tfevents.*")
    seen = {}
    for event in tf.compat.v1.train.summary_iterator(str(events)):
        for value in event.summary.value:
            seen.setdefault(value.tag, []).append((event.step, value))
    assert [step for step, _ in seen["loss/discriminator"]] == [1, 2, 3, 4]
    assert [step for step, _ in seen["images/samples"]] == [2, 4]
    assert [step for step, _ in seen["eval/mode_coverage/modes"]] == [2, 4]
    ((_, recipe),) = seen["recipe"]
    text = tf.make_ndarray(recipe.tensor).item().decode()
    assert 'name = "ring8"' in text
    (_, table), *_ = seen["evaluation"]
    assert "| mode_coverage | modes |" in tf.make_ndarray(table.tensor).item().decode()
    loss = tf.make_ndarray(seen["loss/discriminator"][0][1].tensor)
    assert np.isfinite(loss)


def test_a_sink_that_cannot_write_is_reported_and_training_goes_on(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the sink wants a folder")
    done = toy_run(tmp_path, f'["jsonl", {{ name = "tensorboard", folder = "{blocked}/tb" }}]', command=invoke_cli)
    assert done.returncode == 0, done.stderr
    assert "ganforge: sink 'tensorboard'" in done.stderr  # a warning the library logged, shown by the command
    assert len((only_run(tmp_path) / "metrics.jsonl").read_text().splitlines()) >= 4


def test_an_unknown_sink_stops_the_run_before_it_starts(tmp_path):
    done = toy_run(tmp_path, '["jsonl", "wandbb"]', command=invoke_cli)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "sinks[1]" in done.stderr and "did you mean 'wandb'" in done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_the_report_is_one_self_contained_page(local_sinks_run, tmp_path):
    import re
    import subprocess

    run = shutil.copytree(local_sinks_run, tmp_path / "runs" / local_sinks_run.name)  # the report is written into it
    # metrics.jsonl's schema: ascending integer steps, every other value a finite number under "section/name"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == sorted(r["step"] for r in records) and all(
        type(r["step"]) is int for r in records
    )
    for record in records:
        for key, value in record.items():
            if key != "step":
                assert key.split("/")[0] in {"loss", "speed", "lr", "eval"} and np.isfinite(value), (key, value)
    report = invoke_cli("report", str(run), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    page = (run / "report.html").read_text()
    assert "<script" not in page and not re.search(r"(src|href)=\"(https?:|//)", page)  # nothing to fetch
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)
    assert {"Losses", "Throughput (images/s)", "mode_coverage/modes", "step 2", "step 4", "mode_coverage"} <= set(
        images
    )
    assert "<td>mode_coverage</td>" in page and "name = &quot;ring8&quot;" in page

    assert_unchanged = page
    bad = invoke_cli("report", str(tmp_path / "runs"), cwd=tmp_path)
    assert bad.returncode == 2 and "not a run folder" in bad.stderr
    assert (run / "report.html").read_text() == assert_unchanged

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser:  # scripts/screenshot_report.sh does the same by hand
        shot = tmp_path / "report.png"
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=1200,1600",
                f"--screenshot={shot}",
                (run / "report.html").as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        from PIL import Image

        pixels = np.asarray(Image.open(shot).convert("L"))
        assert pixels.shape == (1600, 1200) and pixels.std() > 10  # something was drawn, not a blank page
