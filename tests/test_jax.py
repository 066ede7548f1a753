"""The JAX backend: the same step as on TensorFlow (every loss, penalty and option, from the same weights),
checkpoints that move between backends both ways, exact resume, data parallel over two CPU devices, and
the checks. Keras takes its backend once per process, and these tests' own process runs TensorFlow:
every JAX run here is a process of its own."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_RECIPE, assert_user_error, invoke_cli, write
from test_distribute import (
    DIVERGES,
    POINTS_RECIPE,
    VARIANTS,
    WORKERS_BN_RECIPE,
    fingerprints,
    finish,
    free_ports,
    losses,
    start_workers,
    the_run,
    weights,
)

from ganforge.recipe import load_recipe
from ganforge.runs.checkpoint import checkpoint_path, list_checkpoints, read_header
from ganforge.training.cluster import PEER_EXIT_CODE
from ganforge.training.trainer import train

pytest.importorskip("jax")

# Resumes each named run folder on JAX to the step its overrides say; no TensorFlow may be imported.
# A run named with a source is first a copy of that run folder, without its checkpoints past resume_at.
RESUME_ON_JAX = textwrap.dedent(
    """
    import json, shutil, sys
    sys.modules["tensorflow"] = None  # as on a machine without TensorFlow: importing it fails
    from pathlib import Path
    from ganforge.recipe import load_recipe
    from ganforge.runs.checkpoint import list_checkpoints
    from ganforge.training.trainer import train

    recipe, out = sys.argv[1], Path(sys.argv[2])
    for name, overrides, resume_at, *source in json.loads(sys.argv[3]):
        settings = ["backend=jax", 'sinks=["jsonl"]', *overrides]
        if source:
            shutil.copytree(out / source[0], out / name)
            for step, path in list_checkpoints(out / name / "checkpoints"):
                if step > resume_at:
                    path.unlink()
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


def tensorflow_then_jax(
    tmp_path: Path, variants: dict, then: dict, first: int = 2, last: int = 4, recipe_text: str = POINTS_RECIPE
) -> Path:
    """Each variant trained to ``last`` on TensorFlow (``<name>``), and continued from its step-``first``
    checkpoint to ``last`` on JAX (``<name>-jax``). A variant with ``then`` overrides trains ``first`` steps,
    then resumes with them added, on both backends; the others train straight through on TensorFlow (a
    resume there is exact, as tests/test_engine.py proves), one training run instead of two."""
    recipe = write(tmp_path / "recipe.toml", recipe_text)
    out = tmp_path / "runs"
    continued = {}
    for name, overrides in variants.items():
        settings = ['sinks=["jsonl"]', "train.checkpoint_every=1", *overrides]
        continued[name] = [*settings, *then.get(name, []), f"train.steps={last}"]
        (out / name).mkdir(parents=True)
        if name not in then:
            train(load_recipe(recipe, continued[name]), out / name)
            continue
        train(load_recipe(recipe, [*settings, f"train.steps={first}"]), out / name)
        resume_from = out / name / "checkpoints" / f"step_{first:08d}.npz"
        train(load_recipe(recipe, continued[name]), out / name, resume_from=resume_from)
    for name in variants:  # JAX starts from the step-``first`` checkpoint and writes every later one itself
        shutil.copytree(out / name, out / f"{name}-jax")
        for step, path in list_checkpoints(out / f"{name}-jax" / "checkpoints"):
            if step > first:
                path.unlink()
    on_jax(recipe, out, [(f"{name}-jax", continued[name], first) for name in variants])
    return out


@pytest.mark.slow
def test_every_option_of_the_step_computes_the_same_on_jax_as_on_tensorflow(tmp_path):
    """From the same checkpoint, two more steps on each backend: the same losses and weights, for each loss,
    penalty (D's input gradients through jax.grad), EMA, label option, d_steps, clipping and schedule — and
    a step that diverges, rolled back with lower rates (a rate the jitted step must not keep from before)."""
    out = tensorflow_then_jax(tmp_path, {**VARIANTS, "rollback": []}, then={"rollback": DIVERGES})
    for name in [*VARIANTS, "rollback"]:
        tensorflow_losses, jax_losses = losses(out / name)[-2:], losses(out / f"{name}-jax")[-2:]
        np.testing.assert_allclose(jax_losses, tensorflow_losses, rtol=2e-4, atol=1e-5, err_msg=name)
        expected, found = weights(out / name, 4), weights(out / f"{name}-jax", 4)
        assert expected.keys() == found.keys()
        for key in expected:
            np.testing.assert_allclose(found[key], expected[key], rtol=1e-3, atol=1e-5, err_msg=f"{name}: {key}")


@pytest.mark.slow
def test_on_jax_two_cpu_devices_train_as_one_resume_exactly_and_16_bit_precisions_train(tmp_path):
    """DataParallel over two devices runs the one-device step on a sharded batch: batch norm sees the global
    batch, so even the batch-norm DCGAN matches one device (TensorFlow's per-replica statistics do not).
    A run resumed from its step-3 checkpoint ends bit-identical; bfloat16 and float16 (loss-scaled) train."""
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE)
    out = tmp_path / "runs"
    options = ["distribute.cpu_devices=2", "penalty.name=r1", "train.ema_decay=0.9"]
    two = [*options, "distribute.strategy=mirrored"]
    on_jax(
        recipe,
        out,
        [
            ("one", options, 0),
            ("two", two, 0),
            ("two-resumed", two, 3, "two"),  # a copy of "two" as it was at step 3, resumed there
            ("bfloat16", ["train.precision=mixed_bfloat16", "penalty.name=r1", "train.steps=3"], 0),
            ("float16", ["train.precision=mixed_float16", "penalty.name=r1", "train.steps=3"], 0),
        ],
    )
    np.testing.assert_allclose(losses(out / "two"), losses(out / "one"), rtol=1e-4, atol=1e-5)
    one, two_devices, resumed = (weights(out / name, 6) for name in ("one", "two", "two-resumed"))
    assert one.keys() == two_devices.keys() == resumed.keys()
    for key in one:
        np.testing.assert_allclose(two_devices[key], one[key], rtol=1e-3, atol=1e-5, err_msg=key)
        np.testing.assert_array_equal(resumed[key], two_devices[key], err_msg=key)
    np.testing.assert_array_equal(losses(out / "two-resumed"), losses(out / "two"))
    for name in ("bfloat16", "float16"):
        assert np.all(np.isfinite(losses(out / name))), name
        saved = weights(out / name, 3)
        assert all(np.all(np.isfinite(value)) for value in saved.values() if value.dtype.kind == "f"), name
    # float16 trains through a loss-scale optimizer per model: each holds its scale and growth counter
    layout = read_header(checkpoint_path(out / "float16" / "checkpoints", 3))["layout"]
    for group in ("generator_optimizer", "discriminator_optimizer"):
        assert any(path.endswith("dynamic_scale") for path, _ in layout[group]), layout[group][:3]


@pytest.mark.slow
def test_a_run_moves_from_jax_to_tensorflow_and_its_generator_works_on_both(tmp_path):
    """A batch-norm DCGAN checked, trained and sampled on JAX where importing TensorFlow fails (as on a GPU
    machine with JAX alone), then continued on TensorFlow."""
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE)
    script = (
        "import sys; sys.modules['tensorflow'] = None\n"
        "from pathlib import Path\n"
        "from ganforge.cli import main\n"
        "recipe, grid = sys.argv[1:]\n"
        "sets = ['--set', 'backend=jax', '--set', 'train.steps=3']\n"
        "for command in (['recipe', 'check', recipe, *sets], ['run', recipe, *sets], ['sample', '--out', grid]):\n"
        "    if command[0] == 'sample':  # the run's own recipe says jax: sampled here, on JAX\n"
        "        command.insert(1, str(next(Path('runs').iterdir())))\n"
        "    sys.argv = ['ganforge', *command]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as stop:\n"
        "        assert not stop.code, stop.code\n"
    )
    grid = tmp_path / "grid.png"
    started = subprocess.run(
        [sys.executable, "-c", script, str(recipe), str(grid)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert started.returncode == 0, started.stderr[-3000:]
    assert "float32, on jax" in " ".join(started.stdout.split())  # recipe check's training line
    assert "finished step 3" in started.stdout
    assert grid.stat().st_size > 0
    run = next((tmp_path / "runs").iterdir())
    # then on TensorFlow, in this process (Keras runs on TensorFlow here)
    continued = invoke_cli(
        "run", str(run), "--resume", "--set", "backend=tensorflow", "--set", "train.steps=6", cwd=tmp_path
    )
    assert continued.returncode == 0, continued.stderr
    assert "resuming" in continued.stdout and "finished step 6" in continued.stdout
    records = losses(run)
    assert len(records) == 6 and np.all(np.isfinite(records))
    assert 'backend = "tensorflow"' in (run / "recipe.toml").read_text()


def test_an_unknown_or_missing_backend_is_refused_before_anything_is_written(tmp_path):
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE.replace("seed = 7", 'seed = 7\nbackend = "jax"'))
    unknown = invoke_cli("run", str(recipe), "--set", "backend=torch", cwd=tmp_path)
    assert_user_error(unknown, "backend", "'tensorflow' or 'jax'")
    # jax made impossible to import, as where it is not installed
    script = (
        "import sys; sys.modules['jax'] = None\n"
        "from ganforge.cli import main\n"
        f"sys.argv = ['ganforge', 'run', {str(recipe)!r}]\n"
        "main()\n"
    )
    missing = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert_user_error(missing, str(recipe), "backend", "jax is not installed", 'pip install "ganforge[jax]"')
    assert not (tmp_path / "runs").exists()


def test_keras_cannot_change_backend_inside_a_process(tiny_recipe):
    """These tests' process runs Keras on TensorFlow: a recipe asking for JAX here is refused, by key."""
    from ganforge.backend import tensorflow
    from ganforge.errors import RecipeError
    from ganforge.training.trainer import Trainer

    tensorflow()  # Keras imported on TensorFlow, as every other test in this process has it
    with pytest.raises(RecipeError, match="already runs on tensorflow") as raised:
        Trainer(load_recipe(tiny_recipe, ["backend=jax"]))
    assert raised.value.key == "backend"


@pytest.mark.slow
def test_two_jax_processes_train_as_one_stop_at_once_when_a_peer_dies_and_resume(tmp_path):
    """jax.distributed over two localhost processes (the cluster from TF_CONFIG): the chief alone writes;
    a killed peer stops the other with exit code 69 at once (not at JAX's heartbeat timeout); both resume,
    end with the same weights, and those are the weights one process trains (batch norm included)."""
    recipe = write(tmp_path / "workers.toml", WORKERS_BN_RECIPE)
    ports = free_ports(2)
    jax_cluster = ("--set", "backend=jax", "--set", "train.checkpoint_every=2")
    workers = start_workers(tmp_path, ports, str(recipe), *jax_cluster, "--set", "train.steps=100000")
    try:
        deadline = time.monotonic() + 180
        while "step 4/" not in (tmp_path / "worker0.log").read_text():
            assert time.monotonic() < deadline and workers[0].poll() is None, (tmp_path / "worker0.log").read_text()
            time.sleep(0.2)
        workers[1].send_signal(signal.SIGKILL)
        code = workers[0].wait(timeout=60)  # JAX's own heartbeat would take 100 s, then abort
    finally:
        for worker in workers:
            worker.kill()
    log = (tmp_path / "worker0.log").read_text()
    assert code == PEER_EXIT_CODE and "Traceback" not in log, log
    assert "another worker of the cluster stopped answering" in log
    run = the_run(tmp_path)
    last = max(step for step, _ in list_checkpoints(run / "checkpoints"))
    codes = finish(start_workers(tmp_path, ports, str(run), "--resume", "--set", f"train.steps={last + 2}"))
    logs = [(tmp_path / f"worker{index}.log").read_text() for index in range(2)]
    assert codes == [0, 0], "\n".join(logs)
    assert "the chief wrote the run's files" in " ".join(logs[1].split())
    chief, other = fingerprints(tmp_path, 2)
    assert chief == other == read_header(checkpoint_path(run / "checkpoints", last + 2))["sha256"]
    alone = ["distribute.strategy=none", f"train.steps={last + 2}", "train.checkpoint_every=2"]
    on_jax(recipe, tmp_path / "alone", [("run", alone, 0)])
    expected, found = weights(tmp_path / "alone" / "run", last + 2), weights(run, last + 2)
    for key in expected:
        np.testing.assert_allclose(found[key], expected[key], rtol=1e-3, atol=1e-5, err_msg=key)


@pytest.mark.slow
def test_sigterm_to_every_jax_process_stops_them_after_the_same_step(tmp_path):
    """What Kubernetes and Slurm do to a job they stop: the processes agree on it through jax.distributed."""
    recipe = write(tmp_path / "workers.toml", WORKERS_BN_RECIPE)
    workers = start_workers(tmp_path, free_ports(2), str(recipe), "--set", "backend=jax", "--set", "train.steps=100000")
    try:
        deadline = time.monotonic() + 180
        while "step 3/" not in (tmp_path / "worker0.log").read_text():
            assert time.monotonic() < deadline and workers[0].poll() is None, (tmp_path / "worker0.log").read_text()
            time.sleep(0.2)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(timeout=120) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    logs = [(tmp_path / f"worker{index}.log").read_text() for index in range(2)]
    assert codes == [143, 143], "\n".join(logs)
    steps = [int(re.search(r"stopped after step (\d+)", log).group(1)) for log in logs]
    assert steps[0] == steps[1] == list_checkpoints(the_run(tmp_path) / "checkpoints")[-1][0]


@pytest.mark.slow
def test_a_conditional_step_computes_the_same_on_jax_as_on_tensorflow(tmp_path):
    """Projection and AC-GAN discriminators, with a penalty taken with the labels: one step from the same
    checkpoint gives the same losses. (The tiny digits DCGAN's convolutions and batch norm differ between
    the backends in the 4th digit, which Adam's normalised steps make grow over later steps: one step is
    compared, to the 3rd digit.)"""
    conditional = TINY_RECIPE + '\n[condition]\nlabels = true\n[penalty]\nname = "r1"\n'
    variants = {"projection": [], "classifier": ['condition.discriminator="classifier"']}
    out = tensorflow_then_jax(tmp_path, variants, then={}, first=2, last=3, recipe_text=conditional)
    for name in variants:
        np.testing.assert_allclose(losses(out / f"{name}-jax")[-1], losses(out / name)[-1], rtol=1e-3, err_msg=name)
    assert losses(out / "classifier")[-1][0] != pytest.approx(losses(out / "projection")[-1][0], rel=1e-3)
