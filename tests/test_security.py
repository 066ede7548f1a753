"""Nothing ganforge loads runs code it was not told to run, and no secret reaches a run folder."""

import os

import numpy as np
import pytest
from conftest import TINY_RECIPE, assert_user_error, invoke_cli, run_cli, trained_run, write

from ganforge.evaluation.features import build_feature_network

pytestmark = pytest.mark.slow  # real processes and runs with every sink


class Payload:
    """Unpickling this creates a folder: the proof that a loader ran code from a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def test_a_checkpoint_carrying_a_pickle_is_refused_without_running_it(tmp_path):
    run = trained_run(tmp_path)
    newest = run / "checkpoints" / "step_00000006.npz"
    with np.load(newest) as archive:
        arrays = {key: archive[key] for key in archive.files}
    marker = tmp_path / "pickle-ran"
    arrays["generator/00000"] = np.array([Payload(marker)], dtype=object)  # np.savez pickles object arrays
    with open(newest, "wb") as file:
        np.savez(file, **arrays)

    # both commands in this process: a payload that ran would leave its folder all the same
    sample = invoke_cli("sample", str(newest), "-o", str(tmp_path / "x.png"), cwd=tmp_path)
    assert_user_error(sample, "step_00000006.npz")
    resumed = invoke_cli("run", str(run), "--resume", "--set", "train.steps=7", cwd=tmp_path)
    assert resumed.returncode == 0 and "step_00000006.npz: damaged" in resumed.stderr  # skipped for step 3
    assert not marker.exists()


def test_a_keras_file_with_code_in_it_is_refused_in_safe_mode(tmp_path):
    import keras

    marker = tmp_path / "lambda-ran"
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Flatten(name="hidden")(inputs)
    # the path as a constant in the function's code: Keras serializes a lambda's bytecode, not its closure
    code = eval(f"lambda x: (__import__('os').mkdir({str(marker)!r}), x)[1]")
    outputs = keras.layers.Lambda(code, name="code")(hidden)
    path = tmp_path / "model.keras"
    keras.Model(inputs, outputs).save(path)
    marker.rmdir()  # building the model ran the code once: it works, and leaves a mark when it runs
    with pytest.raises(ValueError, match="safe_mode"):
        build_feature_network({"name": "keras_file", "path": str(path), "layer": "hidden"})
    assert not marker.exists()


def test_no_secret_from_the_environment_reaches_the_run_folder_or_the_report(tmp_path):
    key = "0123456789abcdef0123456789abcdef01234567"  # the shape of a W&B key, for no server
    token = "s3cret-token-that-must-stay-in-the-environment"
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE)
    sinks = 'sinks=["console", "jsonl", "png", "tensorboard", { name = "wandb", mode = "offline" }]'
    env = {"HOME": str(tmp_path), "WANDB_API_KEY": key, "GANFORGE_TEST_TOKEN": token, "WANDB_MODE": None}
    done = run_cli("run", str(recipe), "--set", sinks, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert invoke_cli("report", str(run), cwd=tmp_path).returncode == 0  # the report reads only the folder
    files = [path for path in run.rglob("*") if path.is_file()]
    assert any(path.suffix == ".wandb" for path in files) and any(path.name == "report.html" for path in files)
    for path in files:
        content = path.read_bytes()
        assert key.encode() not in content and token.encode() not in content, path
    assert key not in done.stdout + done.stderr
