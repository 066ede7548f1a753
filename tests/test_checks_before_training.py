"""`recipe check` makes every check `run` makes before its first step, and `run` writes nothing until they pass.

Each case below breaks one check; both commands must refuse it with the same message (exit 2), and `run`
must leave its output folder empty — no run folder, no recipe.toml, no lock.
"""

import pytest
from conftest import TINY_RECIPE, write
from typer.testing import CliRunner

from ganforge.cli import app

RING = ['dataset={ name = "ring" }', 'generator={ name = "mlp" }', 'discriminator={ name = "mlp" }']

# the check, the overrides that break it, and a fragment of the message both commands give
CHECKS = [
    ("every recipe key is known", ["train.stepz=3"], "train.stepz: unknown key"),
    ("every value has its type", ["train.batch_size=1.5"], "train.batch_size"),
    ("every component exists", ['loss={ name = "hingee" }'], "did you mean 'hinge'"),
    ("a component's parameters can work", ["generator.filters=[8]"], "filters must list 3 positive numbers"),
    ("the data is there", ['dataset={ name = "celeba", root = "/nowhere/celeba" }'], "/nowhere/celeba"),
    ("the models fit the data", RING[:1], "needs images"),
    ("the loss takes the penalty", ['loss={ name = "wgan" }', 'penalty={ name = "r1" }'], "cannot take penalty"),
    ("the loss has labels to smooth", ['loss={ name = "hinge" }', "train.label_smoothing=0.1"], "no labels to smooth"),
    ("each metric can measure the data", [*RING, 'eval.metrics=[{ name = "fid" }]'], "needs images"),
    ("the dataset holds one batch", ["train.batch_size=6000"], "fewer than one batch of 6000"),
    ("the output folder can be written", ['output_dir="a-file/runs"'], "a-file is a file, not a folder"),
]


@pytest.mark.parametrize("overrides, fragment", [case[1:] for case in CHECKS], ids=[case[0] for case in CHECKS])
def test_recipe_check_and_run_refuse_the_same_recipe_alike_and_run_writes_nothing(
    tmp_path, monkeypatch, overrides, fragment
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    recipe = write(
        tmp_path / "tiny.toml", TINY_RECIPE.replace('output_dir = "runs"', f'output_dir = "{tmp_path / "runs"}"')
    )
    settings = [item for override in overrides for item in ("--set", override)]
    runner = CliRunner()
    checked = runner.invoke(app, ["recipe", "check", str(recipe), *settings])
    ran = runner.invoke(app, ["run", str(recipe), *settings])
    assert checked.exit_code == ran.exit_code == 2, checked.output + ran.output
    assert fragment in checked.stderr, checked.stderr
    assert ran.stderr == checked.stderr
    assert "Traceback" not in checked.output + ran.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_recipe_that_passes_the_checks_is_ok_for_both(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE)
    runner = CliRunner()
    checked = runner.invoke(app, ["recipe", "check", str(recipe)])
    ran = runner.invoke(app, ["run", str(recipe), "--set", "train.steps=1", "--set", 'sinks=["jsonl"]'])
    assert checked.exit_code == 0 and ran.exit_code == 0, checked.output + ran.output
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "checkpoints" / "step_00000001.npz").is_file()
