"""The JAX backend: the same step as on TensorFlow (every loss, penalty and option, from the same weights),
checkpoints that move between backends both ways, exact resume, data parallel over two CPU devices, and
the checks. Keras takes its backend once per process, and these tests' own process runs TensorFlow:
every JAX run here is a process of its own."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import write
from test_distribute import POINTS_RECIPE, VARIANTS, losses, weights

from ganforge.recipe import load_recipe
from ganforge.training.trainer import train

pytest.importorskip("jax")

# Resumes each named run folder on JAX to the step its overrides say; no TensorFlow may be imported.
RESUME_ON_JAX = textwrap.dedent(
    """
    import json, sys
    sys.modules["tensorflow"] = None  # as on a machine without TensorFlow: importing it fails
    from pathlib import Path
    from ganforge.recipe import load_recipe
    from ganforge.training.trainer import train

    recipe, out = sys.argv[1], Path(sys.argv[2])
    for name, overrides, resume_at in json.loads(sys.argv[3]):
        settings = ["backend=jax", 'sinks=["jsonl"]', *overrides]
        resume_from = out / name / "checkpoints" / f"step_{resume_at:08d}.npz" if resume_at else None
        (out / name).mkdir(parents=True, exist_ok=True)
        train(load_recipe(recipe, settings), out / name, resume_from=resume_from)
    """
)


def on_jax(recipe: Path, out: Path, runs: list, timeout: float = 600) -> str:
    """Each (name, overrides, resume_at) of ``runs`` trained on JAX in one new process; returns its stderr."""
    result = subprocess.run(
        [sys.executable, "-c", RESUME_ON_JAX, str(recipe), str(out), json.dumps(runs)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def tensorflow_then_jax(tmp_path: Path, variants: dict, first: int = 2, last: int = 4) -> Path:
    """Each variant trained ``first`` steps on TensorFlow, then continued to ``last`` from that checkpoint
    on TensorFlow (``<name>``) and on JAX (``<name>-jax``)."""
    recipe = write(tmp_path / "points.toml", POINTS_RECIPE)
    out = tmp_path / "runs"
    for name, overrides in variants.items():
        settings = ['sinks=["jsonl"]', "train.checkpoint_every=1", *overrides]
        (out / name).mkdir(parents=True)
        train(load_recipe(recipe, [*settings, f"train.steps={first}"]), out / name)
        shutil.copytree(out / name, out / f"{name}-jax")
        resume_from = out / name / "checkpoints" / f"step_{first:08d}.npz"
        train(load_recipe(recipe, settings + [f"train.steps={last}"]), out / name, resume_from=resume_from)
    on_jax(
        recipe,
        out,
        [
            (f"{name}-jax", ["train.checkpoint_every=1", *overrides, f"train.steps={last}"], first)
            for name, overrides in variants.items()
        ],
    )
    return out


@pytest.mark.slow
def test_every_option_of_the_step_computes_the_same_on_jax_as_on_tensorflow(tmp_path):
    """From the same checkpoint, two more steps on each backend: the same losses and weights, for each loss,
    penalty (D's input gradients through jax.grad), EMA, label option, d_steps, clipping and schedule."""
    out = tensorflow_then_jax(tmp_path, VARIANTS)
    for name in VARIANTS:
        tensorflow_losses, jax_losses = losses(out / name)[-2:], losses(out / f"{name}-jax")[-2:]
        np.testing.assert_allclose(jax_losses, tensorflow_losses, rtol=2e-4, atol=1e-5, err_msg=name)
        expected, found = weights(out / name, 4), weights(out / f"{name}-jax", 4)
        assert expected.keys() == found.keys()
        for key in expected:
            np.testing.assert_allclose(found[key], expected[key], rtol=1e-3, atol=1e-5, err_msg=f"{name}: {key}")
