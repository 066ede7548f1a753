"""docs/examples/ganforge-shapes, the plugin the docs point to: pip-installed, its tests pass, its recipe trains."""

from pathlib import Path

import numpy as np
import pytest
from conftest import pip_install, run_cli, run_pytest
from PIL import Image

pytestmark = pytest.mark.slow  # pip-installs the example plugin and trains it

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "ganforge-shapes"


def test_the_example_plugin_installs_passes_its_tests_and_trains_through_its_recipe(tmp_path):
    site = tmp_path / "site"
    pip_install(EXAMPLE, target=site)
    env = {"PYTHONPATH": str(site)}
    own_tests = run_pytest(EXAMPLE / "tests", cwd=tmp_path, env=env)
    assert own_tests.returncode == 0, own_tests.stdout + own_tests.stderr

    listed = run_cli("plugins", cwd=tmp_path, env={**env, "COLUMNS": "400"})
    line = next(line for line in listed.stdout.splitlines() if "ganforge-shapes" in line)
    assert "dataset shapes" in line and "generator upsampler" in line and "ok" in line

    run = run_cli(
        "run",
        str(EXAMPLE / "recipes" / "shapes.toml"),
        "--set",
        "train.steps=4",
        "--set",
        "dataset.size=256",
        "--set",
        "train.sample_every=4",
        "--set",
        'sinks=["jsonl", "png"]',
        cwd=tmp_path,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    grid = np.asarray(Image.open(folder / "samples" / "step_00000004.png"))
    assert grid.shape[-1] == 3 and grid.std() > 0  # colour images, not a blank
    assert (folder / "checkpoints" / "step_00000004.npz").is_file()
