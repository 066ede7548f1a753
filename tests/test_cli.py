"""The `ganforge` command as a user runs it: bad input gets one clear line and exit code 2.

What a command says and does is checked in this process (conftest.invoke_cli); the real entry point,
``python -m ganforge`` in a process of its own, is run where the process is the point: a refusal with
exit code 2 and no traceback, and a run folder written by a real ``ganforge run``.
"""

import json

import pytest
from conftest import TINY_RECIPE, assert_user_error, invoke_cli, run_cli, write

pytestmark = pytest.mark.slow  # builds models, trains, and starts ganforge as a real process


@pytest.mark.parametrize(
    "recipe_text, overrides, fragments",
    [
        (
            TINY_RECIPE.replace("[train]", "[train]\nstepz = 3"),
            [],
            ["tiny.toml", "train.stepz", "did you mean 'steps'"],
        ),
        (TINY_RECIPE.replace("batch_size = 16", "batch_size = 1.5"), [], ["tiny.toml", "train.batch_size"]),
        (
            TINY_RECIPE.replace('name = "digits"', 'name = "digitz"'),
            [],
            ["tiny.toml", "dataset.name", "did you mean 'digits'"],
        ),
        (TINY_RECIPE, ["train.steps=-4"], ["--set", "train.steps", "greater than 0"]),
        (TINY_RECIPE, ["train.steps"], ["expected section.key=value"]),
        ("[train\n", [], ["tiny.toml", "not valid TOML"]),
    ],
)
def test_bad_recipes(tmp_path, recipe_text, overrides, fragments):
    path = write(tmp_path / "tiny.toml", recipe_text)
    args = ["recipe", "show", str(path)]
    for override in overrides:
        args += ["--set", override]
    assert_user_error(invoke_cli(*args, cwd=tmp_path), *fragments)


def test_missing_recipe_file(tmp_path):  # the real entry point, in a process of its own
    assert_user_error(run_cli("run", "nowhere.toml", cwd=tmp_path), "nowhere.toml", "no such recipe file")


def test_resume_without_a_checkpoint(tmp_path):
    folder = tmp_path / "runs" / "tiny-20260101-000000"
    write(folder / "recipe.toml", TINY_RECIPE)
    assert_user_error(invoke_cli("run", str(folder), "--resume", cwd=tmp_path), str(folder), "no checkpoint")
    write(tmp_path / "tiny.toml", TINY_RECIPE)
    assert_user_error(invoke_cli("run", "tiny.toml", "--resume", cwd=tmp_path), "no run of recipe 'tiny'")


def test_plugins_show_prints_parameters(tmp_path):
    result = invoke_cli("plugins", "--show", "digits", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "classes" in result.stdout and "pad" in result.stdout and "2" in result.stdout
    assert_user_error(invoke_cli("plugins", "--show", "dcgann", cwd=tmp_path), "did you mean 'dcgan'")


def test_recipe_check_builds_models_and_rejects_impossible_ones(tmp_path):
    path = write(tmp_path / "tiny.toml", TINY_RECIPE)
    result = invoke_cli("recipe", "check", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "32x32x1" in result.stdout and "parameters" in result.stdout
    bad = invoke_cli("recipe", "check", str(path), "--set", "generator.filters=[8, 8]", cwd=tmp_path)
    assert_user_error(bad, "generator 'dcgan'", "filters must list 3")


def test_run_then_resume_to_train_longer(tmp_path):
    path = write(tmp_path / "tiny.toml", TINY_RECIPE)
    first = run_cli("run", str(path), cwd=tmp_path)  # a run folder from the real command
    assert first.returncode == 0, first.stderr
    # TensorFlow starts quietly: its oneDNN and CUDA-stub notices are noise to a user
    assert "oneDNN" not in first.stderr and "absl" not in first.stderr, first.stderr
    [folder] = (tmp_path / "runs").iterdir()
    assert (folder / "checkpoints" / "step_00000006.npz").is_file()

    again = invoke_cli("run", "tiny.toml", "--resume", "--set", "train.steps=9", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stdout and "from step 6" in again.stdout
    steps = [json.loads(line)["step"] for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 10))
    assert (folder / "checkpoints" / "step_00000009.npz").is_file()
    assert "steps = 9" in (folder / "recipe.toml").read_text()
