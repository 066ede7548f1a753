"""Crash safety on real processes: kill -9 at random steps and mid-checkpoint, a full disk, a diverging run.

The promise under test: however a run stops, ``--resume`` ends with the same
bits as the run left alone.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import TINY_RECIPE, invoke_cli, run_cli, trained_run, with_test_loss, write

from ganforge.errors import RecipeError
from ganforge.recipe import load_recipe
from ganforge.runs import checkpoint
from ganforge.runs import folder as run_folder
from ganforge.training.stopping import first_bad_variable
from ganforge.training.trainer import train

STEPS = 30
# EMA on, so the averaged generator is part of what must come back exactly; ADA's adaptive p on (moving
# fast: a step's images move it by 16/2,000), so p and its heuristic's sums must come back exactly too
# (ADA's colour group: what is tested is p's bookkeeping, which every pipeline shares; "c" costs least)
CRASH_ARGS = [
    "--set",
    'augment.pipeline="c"',
    "--set",
    "augment.adaptive=true",
    "--set",
    "augment.interval=2",
    "--set",
    "augment.speed_images=2000",
    "--set",
    f"train.steps={STEPS}",
    "--set",
    "train.checkpoint_every=4",
    "--set",
    "train.sample_every=100",
    "--set",
    "train.ema_decay=0.9",
    "--set",
    'sinks=["jsonl"]',
]

# The real CLI with fsync slowed down: a checkpoint stays a ".partial" file long enough to be killed in
# (1 s), or the run cannot race past the step the test waits for before the test sees it (0.2 s).
SLOW_FSYNC_CLI = (
    "import os, sys, time\n"
    "real_fsync = os.fsync\n"
    "def slow_fsync(fd):\n"
    "    time.sleep(float(os.environ['SLOW_FSYNC_S']))\n"
    "    real_fsync(fd)\n"
    "os.fsync = slow_fsync\n"
    "from ganforge.cli import main\n"
    "main()\n"
)


def start(tmp_path, *args, slow_fsync_s=0.0):
    env = {**os.environ, "SLOW_FSYNC_S": str(slow_fsync_s)}
    return subprocess.Popen(
        [sys.executable, "-c", SLOW_FSYNC_CLI, *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def logged_steps(run):
    path = run / "metrics.jsonl"
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if line.endswith("}"))


def wait_for(condition, process, what, timeout=240):
    deadline = time.time() + timeout
    while not condition():
        assert process.poll() is None, f"the run ended before {what}: {process.communicate()}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def kill(process):
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL


def arrays_of(path):
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files if key != checkpoint.HEADER_KEY}


def losses_by_step(run):
    """Each record's step, losses and ADA's p."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(row["step"], row["loss/discriminator"], row["loss/generator"], row["augment/p"]) for row in rows]


@pytest.mark.slow
def test_kill_9_anywhere_then_resume_ends_bit_for_bit_where_the_run_left_alone_ends(tmp_path):
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE)
    killed_dir = tmp_path / "killed"
    killed_dir.mkdir()
    # the run left alone, trained in this process: the same recipe and overrides, the same bits
    alone = trained_run(tmp_path / "alone", *(value for value in CRASH_ARGS if value != "--set"))

    seed = int(os.environ.get("GANFORGE_KILL_SEED", random.randrange(10**6)))
    chooser = random.Random(seed)
    # a kill between checkpoints at a random step, then one inside the resumed run's next checkpoint write
    targets = [chooser.choice(range(5, STEPS - 8))]
    process = start(killed_dir, "run", str(recipe), *CRASH_ARGS, slow_fsync_s=0.2)
    kills = []
    for index, target in enumerate(targets):
        runs = killed_dir / "runs"
        wait_for(
            lambda runs=runs, target=target: runs.exists() and any(logged_steps(r) >= target for r in runs.iterdir()),
            process,
            f"step {target}",
        )
        kill(process)
        (run,) = runs.iterdir()
        kills.append(("at a random step", logged_steps(run)))
        last = index == len(targets) - 1
        process = start(killed_dir, "run", str(run), "--resume", *CRASH_ARGS, slow_fsync_s=1.0 if last else 0.2)

    # the resumed run's next checkpoint write: kill it while the file is still ".partial"
    wait_for(lambda: list((run / "checkpoints").glob(".*.partial")), process, "a checkpoint write")
    kill(process)
    (partial,) = (run / "checkpoints").glob(".*.partial")
    kills.append(("during the write of " + partial.name, logged_steps(run)))
    for _, path in checkpoint.list_checkpoints(run / "checkpoints"):
        checkpoint.verify(path)  # every finished checkpoint is whole

    finished = invoke_cli("run", str(run), "--resume", *CRASH_ARGS, cwd=killed_dir)  # after the kills, here
    assert finished.returncode == 0, finished.stderr
    assert not list((run / "checkpoints").glob(".*.partial"))  # the leftover was cleared
    name = f"step_{STEPS:08d}.npz"
    alone_arrays, killed_arrays = arrays_of(alone / "checkpoints" / name), arrays_of(run / "checkpoints" / name)
    assert {key.partition("/")[0] for key in alone_arrays} == {
        "generator",
        "discriminator",
        "ema_generator",
        "generator_optimizer",
        "discriminator_optimizer",
        "objective",  # ADA's p, r_t and sums
    }
    assert alone_arrays.keys() == killed_arrays.keys()
    for key in alone_arrays:
        np.testing.assert_array_equal(
            killed_arrays[key], alone_arrays[key], err_msg=f"{key}; kill seed {seed}: {kills}"
        )
    # every step logged once, with the same losses and p as the run left alone
    assert losses_by_step(run) == losses_by_step(alone), f"kill seed {seed}: {kills}"
    assert losses_by_step(alone)[-1][-1] > 0.05  # p moved: what came back was not its start
    print(f"kill seed {seed}: {kills}")


@pytest.mark.slow
def test_a_full_disk_at_a_checkpoint_keeps_the_previous_one_and_stops_with_exit_74(tmp_path):
    run = trained_run(tmp_path)
    folder = run / "checkpoints"
    before = {path.name: path.read_bytes() for _, path in checkpoint.list_checkpoints(folder)}
    # the next checkpoint's temporary file is /dev/full: the kernel answers every write with ENOSPC
    (folder / ".step_00000009.npz.partial").symlink_to("/dev/full")

    full = run_cli("run", str(run), "--resume", "--set", "train.steps=9", cwd=tmp_path)
    assert full.returncode == 74, full.stderr
    assert "Traceback" not in full.stderr
    assert "step_00000009.npz" in full.stderr and "No space left on device" in full.stderr
    assert "step_00000006.npz is intact" in full.stderr and "--resume" in full.stderr
    assert {path.name: path.read_bytes() for _, path in checkpoint.list_checkpoints(folder)} == before
    assert not list(folder.glob(".*"))  # the partial file is gone, its space given back

    again = invoke_cli("run", str(run), "--resume", "--set", "train.steps=9", cwd=tmp_path)  # space freed
    assert again.returncode == 0, again.stderr
    assert checkpoint.list_checkpoints(folder)[-1][0] == 9


class NanOnce:
    """A loss whose generator term is NaN on its fifth call only: one bad step in a healthy run."""

    def __init__(self):
        import keras

        self.calls = keras.Variable(0, dtype="int32", trainable=False)

    def discriminator_loss(self, real_logits, fake_logits):
        from keras import ops

        return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))

    def generator_loss(self, fake_logits):
        from keras import ops

        self.calls.assign_add(1)
        loss = ops.mean(ops.softplus(-fake_logits))
        return ops.where(ops.equal(self.calls, 5), float("nan"), loss)


def test_rollback_restores_the_last_checkpoint_lowers_the_rates_and_finishes(tmp_path, caplog):
    registry = with_test_loss("nan_once", NanOnce)
    overrides = ['loss.name="nan_once"', 'sinks=["jsonl"]', 'train.on_divergence="rollback"', "train.steps=8"]
    recipe = load_recipe(write(tmp_path / "tiny.toml", TINY_RECIPE), overrides, registry=registry)
    run = run_folder.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    result = train(recipe, run, registry=registry)

    assert "step 5: the generator loss is nan; rolled back to" in caplog.text
    header = checkpoint.read_header(result.checkpoint)
    assert header["step"] == 8 and header["lr_scale"] == 0.5
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == list(range(1, 9))  # steps 4 and 5 are logged once, after the rollback
    assert all(np.isfinite(row["loss/generator"]) for row in rows)
    assert rows[-1]["lr/generator"] == pytest.approx(2e-4 * 0.5)


def test_without_rollback_the_same_run_stops_with_exit_3(tmp_path):
    registry = with_test_loss("nan_once", NanOnce)
    recipe = load_recipe(
        write(tmp_path / "tiny.toml", TINY_RECIPE), ['loss.name="nan_once"', 'sinks=["jsonl"]'], registry=registry
    )
    run = run_folder.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    with pytest.raises(Exception) as stopped:
        train(recipe, run, registry=registry)
    assert stopped.value.exit_code == 3
    assert "step 5: the generator loss is nan" in str(stopped.value) and "step_00000003.npz is the last good" in str(
        stopped.value
    )


def test_first_bad_variable_names_the_group_and_the_variable():
    import keras

    good, bad = keras.Variable(np.ones(3), name="kernel"), keras.Variable(np.array([1.0, np.inf]), name="bias")
    assert first_bad_variable({"generator": [good]}) is None
    assert first_bad_variable({"generator": [good], "discriminator": [good, bad]}) == "discriminator variable bias"


class OutOfMemoryLoss(NanOnce):
    """A loss whose step runs out of memory, as a batch too large for a GPU does."""

    def generator_loss(self, fake_logits):
        from keras import ops, random

        too_big = random.uniform((1_100_000, 1_100_000), seed=1)  # 4.8 TB: TensorFlow's allocator says no
        return ops.mean(fake_logits) + ops.mean(too_big)


@pytest.mark.slow
def test_running_out_of_memory_in_a_step_names_the_batch_size(tmp_path):
    registry = with_test_loss("oom", OutOfMemoryLoss)
    recipe = load_recipe(
        write(tmp_path / "tiny.toml", TINY_RECIPE), ['loss.name="oom"', 'sinks=["jsonl"]'], registry=registry
    )
    run = run_folder.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    with pytest.raises(
        RecipeError,
        match=r"train.batch_size: step 1 does not fit in memory \(OOM when allocating tensor with shape\[1100000,1100000\]",
    ):
        train(recipe, run, registry=registry)
