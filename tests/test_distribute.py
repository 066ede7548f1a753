"""Training under tf.distribute: the same run on one device and on two (the CPU split into two
logical devices, each run in a fresh process since the split must come before TensorFlow starts),
exact resume under a strategy, and the recipe and TF_CONFIG checks."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_RECIPE, assert_user_error, invoke_cli, write

from ganforge.errors import RecipeError
from ganforge.recipe import load_recipe
from ganforge.runs.checkpoint import HEADER_KEY, checkpoint_path, list_checkpoints, read_header
from ganforge.training.cluster import PEER_EXIT_CODE, ClusterError, Plan, read_tf_config
from ganforge.training.engines.tensorflow import Distribution
from ganforge.training.trainer import train

# Trains each named recipe variant in one fresh process whose CPU is split in two.
TRAIN_VARIANTS = textwrap.dedent(
    """
    import json, shutil, sys
    from pathlib import Path
    from ganforge.recipe import load_recipe
    from ganforge.runs.checkpoint import list_checkpoints
    from ganforge.training.trainer import train

    recipe, out = sys.argv[1], Path(sys.argv[2])
    for name, overrides, resume_at, then, *source in json.loads(sys.argv[3]):
        settings = ["distribute.cpu_devices=2", 'sinks=["jsonl"]', *overrides]
        if source:  # a copy of an earlier variant's run as it was at step resume_at, continued to the end
            shutil.copytree(out / source[0], out / name)
            for step, path in list_checkpoints(out / name / "checkpoints"):
                if step > resume_at:
                    path.unlink()
            resume_from = out / name / "checkpoints" / f"step_{resume_at:08d}.npz"
            train(load_recipe(recipe, [*settings, *then]), out / name, resume_from=resume_from)
            continue
        (out / name).mkdir(parents=True)
        if resume_at:  # stop after resume_at steps, then continue to the end (with `then` set) in a new Trainer
            train(load_recipe(recipe, [*settings, f"train.steps={resume_at}"]), out / name)
            resume_from = out / name / "checkpoints" / f"step_{resume_at:08d}.npz"
            train(load_recipe(recipe, [*settings, *then]), out / name, resume_from=resume_from)
        else:
            train(load_recipe(recipe, settings), out / name)
    """
)

POINTS_RECIPE = """
name = "points"
seed = 3

[dataset]
name = "grid"
size = 512

[generator]
name = "mlp"
hidden = 32
layers = 2

[discriminator]
name = "mlp"
hidden = 32
layers = 2

[train]
steps = 4
batch_size = 32
latent_dim = 8
log_every = 1
sample_every = 4
checkpoint_every = 2
samples = 4
"""

MIRRORED = ["distribute.strategy=mirrored"]
# each variant exercises what a step draws or changes besides the plain update
VARIANTS = {
    "r1_ema": ["penalty.name=r1", "train.ema_decay=0.9"],
    "labels_dsteps": [
        "loss.name=minimax",
        "train.label_noise=0.2",
        "train.label_smoothing=0.1",
        "train.d_steps=2",
    ],
    "gradient_penalty": ["loss.name=hinge", "penalty.name=gradient_penalty", "train.d_steps=2"],
    "own_penalty": ["loss.name=wgan_gp"],
    "clipping": ["loss.name=wgan"],
    "pairing": ["loss.name=rpgan"],
    "schedule": ["loss.name=lsgan", "generator_optimizer.schedule=linear", "discriminator_optimizer.schedule=cosine"],
    # R1 and R2 in one recipe, R2 lazy (its own update every 2nd D update, the optimizer corrected), R1's
    # scale on a schedule; schedules of a beta and a learning rate; the EMA as a half-life in images
    "r1_lazy_r2_schedules": [
        'penalty=[{ name = "r1", gamma = 1.0, scale = { shape = "linear", initial = 1.0, final = 0.0, end_images = 100 } }, '
        '{ name = "r2", gamma = 2.0, every = 2 }]',
        'generator_optimizer.beta_2={ shape = "linear", initial = 0.99, final = 0.9, end_images = 100 }',
        'discriminator_optimizer.learning_rate={ shape = "cosine", initial = 2e-4, final = 1e-5, end_images = 100 }',
        "train.ema_images=50",
    ],
}
# runs that train under a strategy but not to one device's float tolerance: the losses that compare
# each logit with its batch's mean (per replica, like batch norm), and 16-bit compute
NOT_AS_ONE_DEVICE = {
    "relativistic": ["loss.name=relativistic"],
    "relativistic_hinge": ["loss.name=relativistic_hinge"],
    "float16": ["train.precision=mixed_float16", "penalty.name=r1"],
}


# resumed at step 2 with absurd rates, so step 3 diverges and the run rolls back to step 2
DIVERGES = [
    "generator_optimizer.learning_rate=1e30",
    "discriminator_optimizer.learning_rate=1e30",
    "train.on_divergence=rollback",
    "train.rollback_lr_factor=1e-33",
]


def train_variants(tmp_path: Path, variants: list) -> tuple[Path, str]:
    recipe = write(tmp_path / "points.toml", POINTS_RECIPE)
    out = tmp_path / "runs"
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_VARIANTS, str(recipe), str(out), json.dumps(variants)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stderr


def weights(run: Path, step: int) -> dict[str, np.ndarray]:
    with np.load(checkpoint_path(run / "checkpoints", step)) as archive:
        return {key: archive[key] for key in archive.files if key != HEADER_KEY}


def losses(run: Path) -> np.ndarray:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return np.array([[r["loss/discriminator"], r["loss/generator"]] for r in records if "loss/generator" in r])


@pytest.mark.slow
def test_two_replicas_train_as_one_device_does(tmp_path):
    """Same global batch on one device and on two replicas: same losses and weights, to float tolerance."""
    variants = []
    for name, overrides in VARIANTS.items():
        variants += [[f"{name}-one", overrides, 0, []], [f"{name}-two", [*overrides, *MIRRORED], 0, []]]
    variants += [["rollback-one", [], 2, DIVERGES], ["rollback-two", MIRRORED, 2, DIVERGES]]
    variants += [[name, [*overrides, *MIRRORED], 0, []] for name, overrides in NOT_AS_ONE_DEVICE.items()]
    out, log = train_variants(tmp_path, variants)
    assert log.count("rolled back to") >= 2, log  # both runs diverged and came back
    for name in NOT_AS_ONE_DEVICE:
        assert losses(out / name).shape == (4, 2) and np.isfinite(losses(out / name)).all(), name
    for name in [*VARIANTS, "rollback"]:
        one, two = out / f"{name}-one", out / f"{name}-two"
        assert len(losses(one)) == 4
        np.testing.assert_allclose(losses(two), losses(one), rtol=1e-4, atol=1e-5, err_msg=name)
        single, mirrored = weights(one, 4), weights(two, 4)
        assert single.keys() == mirrored.keys()
        for key in single:
            np.testing.assert_allclose(mirrored[key], single[key], rtol=1e-4, atol=1e-5, err_msg=f"{name} {key}")
        # and the run really moved: the weights are not those it started from
        assert any(not np.array_equal(single[key], weights(one, 2)[key]) for key in single if "generator/" in key)


@pytest.mark.slow
def test_a_mirrored_run_stopped_and_resumed_ends_bit_identical(tmp_path):
    overrides = [*MIRRORED, "train.ema_decay=0.9", "train.label_noise=0.1", "loss.name=minimax", "penalty.name=none"]
    # resumed from the straight run's own step-2 checkpoint, in a copy of its folder
    out, _ = train_variants(tmp_path, [["straight", overrides, 0, []], ["resumed", overrides, 2, [], "straight"]])
    straight, resumed = weights(out / "straight", 4), weights(out / "resumed", 4)
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert np.array_equal(straight[key], resumed[key]), key
    np.testing.assert_array_equal(losses(out / "resumed"), losses(out / "straight"))  # steps 3, 4 logged again


# -- the recipe and TF_CONFIG ----------------------------------------------------
def plan(tmp_path: Path, *overrides: str, tf_config: str | None = None) -> Plan:
    recipe = load_recipe(write(tmp_path / "points.toml", POINTS_RECIPE), list(overrides))
    return Plan(recipe, environ={} if tf_config is None else {"TF_CONFIG": tf_config})


def cluster_config(workers: int = 2, index: int = 0, chief: bool = False) -> str:
    cluster = {"worker": [f"localhost:{20000 + n}" for n in range(workers)]}
    if chief:
        cluster["chief"] = ["localhost:19999"]
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def test_the_global_batch_must_split_evenly_among_the_replicas(tmp_path):
    with pytest.raises(RecipeError) as raised:
        plan(tmp_path, *MIRRORED, "distribute.cpu_devices=3").check_batch()
    error = raised.value
    assert error.key == "train.batch_size" and "3 replicas" in error.message and "multiple of 3" in error.message
    with pytest.raises(RecipeError, match="2 workers x 1 devices"):
        plan(
            tmp_path, "distribute.strategy=multi_worker", "train.batch_size=5", tf_config=cluster_config()
        ).check_batch()
    plan(tmp_path, *MIRRORED, "distribute.cpu_devices=4").check_batch()  # 32 = 4 x 8


def test_each_worker_knows_its_place_and_the_chief_writes(tmp_path):
    workers = [
        plan(tmp_path, "distribute.strategy=multi_worker", tf_config=cluster_config(3, index)) for index in range(3)
    ]
    assert [p.is_chief for p in workers] == [True, False, False]
    assert [p.cluster.rank for p in workers] == [0, 1, 2] and workers[0].workers == 3
    with_chief = read_tf_config(cluster_config(2, 0, chief=True))
    assert with_chief.rank == 1 and not with_chief.is_chief and with_chief.workers == 3
    assert plan(tmp_path).is_chief and plan(tmp_path).workers == 1


@pytest.mark.parametrize(
    ("tf_config", "fragment"),
    [
        (None, "TF_CONFIG is not set"),
        ("{not json", "not valid JSON"),
        ('["worker"]', "must be a JSON object"),
        ('{"task": {"type": "worker", "index": 0}}', "cluster: must list the workers"),
        ('{"cluster": {"ps": ["h:1"]}, "task": {"type": "ps", "index": 0}}', "cluster.ps: MultiWorkerMirroredStrategy"),
        ('{"cluster": {"worker": ["nohost"]}, "task": {"type": "worker", "index": 0}}', "'nohost' is not a"),
        ('{"cluster": {"worker": ["h:1"]}}', "task: must say which task"),
        ('{"cluster": {"worker": ["h:1"]}, "task": {"type": "chief", "index": 0}}', "task.type: 'chief'"),
        ('{"cluster": {"worker": ["h:1", "h:2"]}, "task": {"type": "worker", "index": 2}}', "task.index: 2"),
    ],
)
def test_a_missing_or_wrong_tf_config_is_named(tf_config, fragment):
    with pytest.raises(ClusterError, match="TF_CONFIG") as raised:
        read_tf_config(tf_config)
    assert fragment in str(raised.value)


def test_devices_are_checked_against_the_machine(tmp_path):
    assert plan(tmp_path, *MIRRORED, "distribute.cpu_devices=2").devices() == ["/device:CPU:0", "/device:CPU:1"]
    assert plan(tmp_path, *MIRRORED, 'distribute.devices=["cpu:1"]', "distribute.cpu_devices=2").devices() == [
        "/device:CPU:1"
    ]
    with pytest.raises(RecipeError, match="'GPU:7' does not exist") as raised:
        plan(tmp_path, *MIRRORED, 'distribute.devices=["GPU:7"]').devices()
    assert raised.value.key == "distribute.devices"
    with pytest.raises(RecipeError, match="not a device name"):
        plan(tmp_path, *MIRRORED, 'distribute.devices=["TPU-ish"]').devices()
    with pytest.raises(RecipeError, match="CUDA_VISIBLE_DEVICES"):
        plan(tmp_path, "distribute.strategy=multi_worker", 'distribute.devices=["GPU:0"]', tf_config=cluster_config())


def test_recipe_check_says_where_the_global_batch_goes(tmp_path):
    """In this process: the check counts the devices the recipe asks for, and splits no CPU."""
    recipe = write(tmp_path / "points.toml", POINTS_RECIPE)
    sets = ["--set", "distribute.strategy=mirrored", "--set", "distribute.cpu_devices=2"]
    result = invoke_cli("recipe", "check", str(recipe), *sets, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    words = " ".join(result.stdout.split())  # the console wraps long lines
    assert "global batch 32 on 2 replicas (mirrored: CPU:0, CPU:1), 16 each, float32" in words


@pytest.mark.parametrize(
    ("overrides", "env", "fragments"),
    [
        (["distribute.strategy=ring"], {}, ["distribute.strategy", "'mirrored'"]),
        ([*MIRRORED, "distribute.cpu_devices=3"], {}, ["train.batch_size", "3 replicas"]),
        ([*MIRRORED, "distribute.cpu_devices=2", "train.jit_compile=true"], {}, ["train.jit_compile", "XLA"]),
        (["distribute.strategy=multi_worker"], {"TF_CONFIG": None}, ["TF_CONFIG is not set"]),
        (["distribute.strategy=multi_worker"], {"TF_CONFIG": "{oops"}, ["TF_CONFIG: not valid JSON"]),
    ],
)
def test_run_refuses_a_bad_distribute_table_before_writing(tmp_path, overrides, env, fragments):
    recipe = write(tmp_path / "points.toml", POINTS_RECIPE)
    sets = [arg for override in overrides for arg in ("--set", override)]
    result = invoke_cli("run", str(recipe), *sets, cwd=tmp_path, env=env)  # refused here, before any split
    assert_user_error(result, *fragments)
    assert not (tmp_path / "runs").exists()


# -- several workers: real processes on localhost ports ------------------------
MULTI_WORKER = '\n[distribute]\nstrategy = "multi_worker"\n'
WORKERS_RECIPE = 'sinks = ["jsonl", "console"]\n' + POINTS_RECIPE + MULTI_WORKER
# the tiny DCGAN has batch norm: each replica updates its own moving statistics, which ganforge averages
WORKERS_BN_RECIPE = 'sinks = ["jsonl", "console"]\n' + TINY_RECIPE + MULTI_WORKER


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for each in sockets:
        each.bind(("127.0.0.1", 0))
    ports = [each.getsockname()[1] for each in sockets]
    for each in sockets:
        each.close()
    return ports


def start_workers(tmp_path: Path, ports: list[int], *args: str, only: int | None = None) -> list[subprocess.Popen]:
    """``ganforge run ARGS`` on every worker of a localhost cluster (or only on worker ``only``)."""
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    workers = []
    for index in range(len(ports)) if only is None else [only]:
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        log = open(tmp_path / f"worker{index}.log", "w")  # a file, not a pipe: a full pipe would stall a worker
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "ganforge", "run", *args],
                cwd=tmp_path,
                env={**os.environ, "TF_CONFIG": tf_config},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log.close()
    return workers


def finish(workers: list[subprocess.Popen], timeout: float = 180) -> list[int]:
    try:
        return [worker.wait(timeout=timeout) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()


def fingerprints(tmp_path: Path, count: int) -> list[str]:
    logs = [(tmp_path / f"worker{index}.log").read_text() for index in range(count)]
    return [re.search(r"weights sha256 ([0-9a-f]{64})", log).group(1) for log in logs]


def the_run(tmp_path: Path) -> Path:
    (folder,) = (tmp_path / "runs").iterdir()
    return folder


@pytest.mark.slow
def test_two_worker_processes_train_one_run_that_only_the_chief_writes(tmp_path):
    recipe = write(tmp_path / "workers.toml", WORKERS_RECIPE)
    codes = finish(start_workers(tmp_path, free_ports(2), str(recipe)))
    logs = [(tmp_path / f"worker{index}.log").read_text() for index in range(2)]
    assert codes == [0, 0], "\n".join(logs)
    run = the_run(tmp_path)  # one run folder, made by the chief
    assert f"the chief wrote the run's files in {run.relative_to(tmp_path)}" in logs[1]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss/generator" in r] == [1, 2, 3, 4]  # one writer: each step once
    # both workers end with the same weights, those of the chief's last checkpoint
    chief, other = fingerprints(tmp_path, 2)
    assert chief == other == read_header(checkpoint_path(run / "checkpoints", 4))["sha256"]
    # and with what one device makes of the same global batch: each worker read its own rows of it
    alone = tmp_path / "alone"
    alone.mkdir()
    train(load_recipe(recipe, ["distribute.strategy=none", 'sinks=["jsonl"]']), alone)
    np.testing.assert_allclose(losses(run), losses(alone), rtol=1e-4, atol=1e-5)
    single, together = weights(alone, 4), weights(run, 4)
    for key in single:
        np.testing.assert_allclose(together[key], single[key], rtol=1e-4, atol=1e-5, err_msg=key)


@pytest.mark.slow
def test_a_killed_worker_stops_the_other_and_both_resume(tmp_path):
    recipe = write(tmp_path / "workers.toml", WORKERS_BN_RECIPE)
    ports = free_ports(2)
    workers = start_workers(
        tmp_path, ports, str(recipe), "--set", "train.steps=100000", "--set", "train.checkpoint_every=5"
    )
    try:
        deadline = time.monotonic() + 120
        while not list((tmp_path / "runs").glob("*/checkpoints/step_00000010.npz")) and time.monotonic() < deadline:
            assert workers[0].poll() is None and workers[1].poll() is None, (tmp_path / "worker0.log").read_text()
            time.sleep(0.2)
        workers[1].send_signal(signal.SIGKILL)
        code = workers[0].wait(timeout=120)  # a hang fails here
    finally:
        finish(workers, timeout=0)
    log = (tmp_path / "worker0.log").read_text()
    assert code == PEER_EXIT_CODE and "Traceback" not in log, log
    assert "another worker of the cluster stopped answering" in log and "--resume" in log
    run = the_run(tmp_path)
    last = max(step for step, _ in list_checkpoints(run / "checkpoints"))
    # both start again from the last checkpoint, and train 3 more steps together
    again = start_workers(tmp_path, ports, str(run), "--resume", "--set", f"train.steps={last + 3}")
    codes = finish(again)
    logs = [(tmp_path / f"worker{index}.log").read_text() for index in range(2)]
    assert codes == [0, 0], "\n".join(logs)
    assert all(f"from step {last}" in " ".join(log.split()) for log in logs)  # the console wraps long lines
    chief, other = fingerprints(tmp_path, 2)  # batch-norm statistics included
    assert chief == other == read_header(checkpoint_path(run / "checkpoints", last + 3))["sha256"]


@pytest.mark.slow
def test_sigterm_to_every_worker_stops_them_after_the_same_step(tmp_path):
    """What Kubernetes and Slurm do to a job they stop: both finish one step, the chief checkpoints it."""
    recipe = write(tmp_path / "workers.toml", WORKERS_RECIPE)
    workers = start_workers(tmp_path, free_ports(2), str(recipe), "--set", "train.steps=100000")
    try:
        deadline = time.monotonic() + 120
        while "step 3/" not in (tmp_path / "worker0.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(timeout=120) for worker in workers]
    finally:
        finish(workers, timeout=0)
    logs = [(tmp_path / f"worker{index}.log").read_text() for index in range(2)]
    assert codes == [143, 143], "\n".join(logs)
    steps = [int(re.search(r"stopped after step (\d+)", log).group(1)) for log in logs]
    assert steps[0] == steps[1]
    assert [step for step, _ in list_checkpoints(the_run(tmp_path) / "checkpoints")][-1] == steps[0]


@pytest.mark.slow
def test_a_worker_whose_peers_never_answer_stops_with_exit_code_2(tmp_path):
    recipe = write(tmp_path / "workers.toml", WORKERS_RECIPE)
    ports = free_ports(2)
    (worker,) = start_workers(tmp_path, ports, str(recipe), "--set", "distribute.connect_timeout=2", only=0)
    code = finish([worker], timeout=120)[0]
    log = (tmp_path / "worker0.log").read_text()
    assert code == 2 and "Traceback" not in log, log
    assert f"no answer from localhost:{ports[1]}" in log and "distribute.connect_timeout" in log
    assert not (tmp_path / "runs").exists()


def test_peers_are_probed_over_ipv4_and_ipv6():
    from ganforge.training.cluster import _answers

    with socket.create_server(("127.0.0.1", 0)) as server:
        assert _answers(f"localhost:{server.getsockname()[1]}")
    if socket.has_ipv6:
        try:
            server = socket.create_server(("::1", 0), family=socket.AF_INET6)
        except OSError:
            pytest.skip("no IPv6 loopback here")
        with server:
            assert _answers(f"[::1]:{server.getsockname()[1]}")
    assert not _answers(f"localhost:{free_ports(1)[0]}")


def test_each_worker_reads_only_its_rows_of_the_global_batch():
    from types import SimpleNamespace

    four_replicas = SimpleNamespace(num_replicas_in_sync=4)  # 2 workers x 2 devices: only the count matters here
    rows = [Distribution(four_replicas, workers=2, rank=rank).rows(32) for rank in range(2)]
    assert rows == [slice(0, 16), slice(16, 32)]


def test_every_engine_offers_the_same_distribution_and_what_a_plan_asks():
    """The seam between the neutral code and the engines, written as Protocols, kept by both engines."""
    from types import SimpleNamespace

    from ganforge.training import cluster
    from ganforge.training.engines import ENGINES, engine

    one_device = SimpleNamespace(num_replicas_in_sync=1)  # a strategy, as far as the constructor looks
    made = [engine("tensorflow").Distribution(one_device, 1, 0), engine("jax").Distribution(None, 1, 0)]
    assert all(isinstance(distribution, cluster.Distribution) for distribution in made)
    assert all(isinstance(engine(name), cluster.Engine) for name in ENGINES)
    with pytest.raises(ValueError, match="tensorflow, jax"):
        engine("torch")


def test_a_tf_config_the_recipe_does_not_use_is_warned_of(tmp_path, caplog):
    plan(tmp_path, tf_config=cluster_config())
    assert 'TF_CONFIG is set but distribute.strategy is "none"' in caplog.text
