"""Stopping cleanly: SIGTERM and SIGINT write a checkpoint and exit 143 / 130; a NaN loss stops the run."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import TINY_RECIPE, assert_user_error, invoke_cli, trained_run, with_test_loss, write

from ganforge.errors import TrainingStopped
from ganforge.recipe import load_recipe
from ganforge.runs import checkpoint
from ganforge.runs import folder as run_folder
from ganforge.training.stopping import first_bad_loss
from ganforge.training.trainer import train

pytestmark = pytest.mark.slow  # signals sent to real processes


def records(run):
    path = run / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("sent, exit_code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_finishes_the_step_writes_a_checkpoint_and_says_how_to_resume(tmp_path, sent, exit_code):
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE)
    args = [
        "run",
        str(recipe),
        "--set",
        "train.steps=100000",
        "--set",
        "train.checkpoint_every=100000",
        "--set",
        'sinks=["jsonl"]',
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "ganforge", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 240
    while time.time() < deadline and len(records(next((tmp_path / "runs").glob("*"), tmp_path))) < 3:
        time.sleep(0.2)
    before = next((tmp_path / "runs").iterdir()).joinpath("recipe.toml").read_text()
    if sent == signal.SIGTERM:  # while it trains, a second process (this one) may not train the same folder
        (running,) = (tmp_path / "runs").iterdir()
        second = invoke_cli("run", str(running), "--resume", cwd=tmp_path)
        assert_user_error(second, f"is being trained by process {process.pid} on")
        assert (running / "recipe.toml").read_text() == before  # not rewritten by the refused process
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=240)
    assert process.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    (run,) = (tmp_path / "runs").iterdir()
    [(step, path)] = checkpoint.list_checkpoints(run / "checkpoints")
    assert step >= 3 and f"stopped after step {step}" in stderr and "--resume" in stderr
    assert checkpoint.read_header(path)["step"] == step

    # resumed in this process: what the stop wrote is what a resume needs
    resumed = invoke_cli("run", str(run), "--resume", "--set", f"train.steps={step + 2}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert checkpoint.list_checkpoints(run / "checkpoints")[-1][0] == step + 2


class NanLoss:
    """Finite for D, NaN for G from the first step: a run that has diverged."""

    def discriminator_loss(self, real_logits, fake_logits):
        from keras import ops

        return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))

    def generator_loss(self, fake_logits):
        from keras import ops

        return ops.mean(fake_logits) * ops.log(-ops.ones(()))


def test_a_nan_loss_stops_the_run_naming_the_step_and_the_last_good_checkpoint(tmp_path):
    registry = with_test_loss("nan", NanLoss)
    recipe = load_recipe(
        write(tmp_path / "tiny.toml", TINY_RECIPE), ['loss.name="nan"', 'sinks=["jsonl"]'], registry=registry
    )
    run = run_folder.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    with pytest.raises(TrainingStopped) as stopped:
        train(recipe, run, registry=registry)
    assert stopped.value.exit_code == 3
    assert "step 1: the generator loss is nan" in str(stopped.value) and "no checkpoint was written" in str(
        stopped.value
    )
    assert records(run) == [] and not checkpoint.list_checkpoints(run / "checkpoints")  # no NaN written anywhere


def test_first_bad_loss_finds_the_first_non_finite_value():
    assert first_bad_loss([(1.0, 2.0), (0.5, 0.4)]) is None
    assert first_bad_loss([(1.0, 2.0), (0.5, np.inf), (np.nan, 1.0)]) == (1, "generator", np.inf)
    assert first_bad_loss([]) is None


def test_resume_skips_a_damaged_newest_checkpoint_and_says_so(tmp_path):
    run = trained_run(tmp_path)
    newest = run / "checkpoints" / "step_00000006.npz"
    newest.write_bytes(newest.read_bytes()[:-300])  # cut short, as by a full disk or an interrupted copy
    done = invoke_cli("run", str(run), "--resume", "--set", "train.steps=8", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "step_00000006.npz" in done.stderr and "trying the checkpoint before it" in done.stderr
    assert "from step 3" in done.stdout
    assert checkpoint.list_checkpoints(run / "checkpoints")[-1][0] == 8
    checkpoint.verify(run / "checkpoints" / "step_00000008.npz")


def test_the_checksum_catches_changed_contents_that_the_zip_format_would_not(tmp_path):
    recipe = load_recipe(write(tmp_path / "tiny.toml", TINY_RECIPE), ['sinks=["jsonl"]'])
    run = run_folder.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    path = train(recipe, run).checkpoint
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    first = next(key for key in arrays if key != checkpoint.HEADER_KEY)
    arrays[first] = arrays[first] + 1  # a well-formed file with other numbers in it
    with open(path, "wb") as file:
        np.savez(file, **arrays)
    with pytest.raises(Exception, match="do not match the checksum"):
        checkpoint.verify(path)
    assert_exit = invoke_cli("sample", str(path), "-o", str(tmp_path / "x.png"), cwd=tmp_path)
    assert assert_exit.returncode == 2 and "checksum" in assert_exit.stderr


def test_the_header_checksum_catches_an_edited_step(tmp_path):
    """A well-formed checkpoint whose header says another step would resume at the wrong place: refused."""
    path = trained_run(tmp_path) / "checkpoints" / "step_00000006.npz"
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    header = json.loads(bytes(arrays[checkpoint.HEADER_KEY]).decode())
    header["step"] = 5
    arrays[checkpoint.HEADER_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as file:
        np.savez(file, **arrays)
    with pytest.raises(Exception, match="do not match the checksum"):
        checkpoint.verify(path)
