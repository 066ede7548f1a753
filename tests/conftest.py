"""Shared fixtures: tiny recipes, a way to run the real CLI in a subprocess, and a test session
that leaves the machine as it found it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

# -- one folder for everything a test session writes outside its tmp_paths ----
# Caches (ganforge's, Keras', matplotlib's, pip's, W&B's, JAX's compiled programs), TensorFlow's
# autograph files and pytest's own tmp_path folders all go to ganforge-tests-<pid> in the
# system temp folder; it is removed when the session ends, interrupted or not.
# A session killed outright leaves it, and the next session removes it.
SESSION = "GANFORGE_TEST_SESSION"
REDIRECTED = {
    "TMPDIR": "tmp",
    "GANFORGE_CACHE": "cache/ganforge",
    "KERAS_HOME": "keras",
    "MPLCONFIGDIR": "matplotlib",
    "XDG_CACHE_HOME": "cache",
    "XDG_CONFIG_HOME": "config",
    "WANDB_CACHE_DIR": "cache/wandb",
    "WANDB_CONFIG_DIR": "config/wandb",
    "WANDB_DATA_DIR": "cache/wandb-data",
    "HYPOTHESIS_STORAGE_DIRECTORY": "hypothesis",
    # each JAX process (and Trainer) that compiles a step compiled before in this session loads it instead
    "JAX_COMPILATION_CACHE_DIR": "cache/jax",
}
_saved: dict = {}


def pytest_configure(config):
    if os.environ.get(SESSION):  # a worker, or a nested run: the session that started it owns the folder
        return
    system_temp = Path(tempfile.gettempdir())
    _remove_abandoned_sessions(system_temp)
    root = system_temp / f"ganforge-tests-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    _saved.update(root=root, environ={key: os.environ.get(key) for key in [SESSION, *REDIRECTED]})
    _saved["tempdir"] = tempfile.tempdir
    os.environ[SESSION] = str(root)
    for key, folder in REDIRECTED.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        os.environ[key] = str(root / folder)
    tempfile.tempdir = str(root / "tmp")
    # no test downloads the FID Inception weights: a missing file fails at once, here as offline
    _saved["environ"]["GANFORGE_FID_WEIGHTS_URL"] = os.environ.get("GANFORGE_FID_WEIGHTS_URL")
    os.environ["GANFORGE_FID_WEIGHTS_URL"] = "http://127.0.0.1:9/pt_inception-2015-12-05-6726825d.pth"


def pytest_unconfigure(config):
    if "root" not in _saved:
        return
    for key, value in _saved["environ"].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    tempfile.tempdir = _saved["tempdir"]
    shutil.rmtree(_saved.pop("root"), ignore_errors=True)


def _remove_abandoned_sessions(system_temp: Path) -> None:
    from ganforge.data.cache import process_alive

    for folder in system_temp.glob("ganforge-tests-*"):
        pid = folder.name.rpartition("-")[2]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def no_hypothesis_database():
    """Hypothesis keeps no example database in the checkout."""
    from hypothesis import settings

    settings.register_profile("ganforge-tests", database=None)
    settings.load_profile("ganforge-tests")


TINY_RECIPE = """
name = "tiny"
seed = 7
output_dir = "runs"

[dataset]
name = "digits"
classes = [0, 1]

[generator]
name = "dcgan"
preset = "radford"
filters = [32, 16, 8]

[discriminator]
name = "dcgan"
preset = "radford"
filters = [8, 16, 32]

[train]
steps = 6
batch_size = 16
latent_dim = 16
samples = 4
log_every = 1
sample_every = 3
checkpoint_every = 3
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def tiny_recipe(tmp_path: Path) -> Path:
    return write(tmp_path / "tiny.toml", TINY_RECIPE)


def run_cli(
    *args: str, cwd: Path, env: dict | None = None, timeout: float = 300, python: str = sys.executable
) -> subprocess.CompletedProcess:
    """The real `ganforge` command, as a user would run it; ``env`` values of None unset a variable."""
    full_env = {key: value for key, value in {**os.environ, **(env or {})}.items() if value is not None}
    return subprocess.run(
        [python, "-m", "ganforge", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def invoke_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """The `ganforge` command run in this process (typer's CliRunner), returned as run_cli returns it: for tests
    of what a command does, without a process's ~5 s start. An exception the command does not turn into an
    exit code is raised here, where a real process would print a traceback; ``env`` values of None unset."""
    import contextlib

    from typer.testing import CliRunner

    from ganforge.cli import app

    with contextlib.chdir(cwd):
        result = CliRunner().invoke(app, [str(arg) for arg in args], env=env, catch_exceptions=False)
    return subprocess.CompletedProcess(["ganforge", *args], result.exit_code, result.stdout, result.stderr)


def assert_user_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, no traceback, and each fragment in the one-line message."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def trained_run(tmp_path: Path, *overrides: str) -> Path:
    """A finished run of the tiny recipe (6 steps, checkpoints at 3 and 6) under tmp_path/runs, trained in this process."""
    from ganforge.recipe import load_recipe
    from ganforge.runs import folder as run_dir
    from ganforge.training.trainer import train

    recipe = load_recipe(write(tmp_path / "tiny.toml", TINY_RECIPE), ['sinks=["jsonl"]', *overrides])
    folder = run_dir.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    train(recipe, folder)
    return folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """One finished run of the tiny recipe as written (6 steps, a record each step, samples and checkpoints
    at 3 and 6), trained once per test session (per worker) for the tests that only read it or compare with
    it; a test that changes a run's files copies it first."""
    from ganforge.recipe import load_recipe
    from ganforge.runs import folder as run_dir
    from ganforge.training.trainer import train

    root = tmp_path_factory.mktemp("tiny-run")
    recipe = load_recipe(write(root / "tiny.toml", TINY_RECIPE))
    folder = run_dir.create(root / "runs", recipe.name, recipe.to_toml())
    train(recipe, folder)
    return folder


def with_test_loss(name: str, loss_class):
    """The installed plugins plus one test plugin that registers ``loss_class`` as the loss ``name``."""
    import types

    from ganforge import hookimpl
    from ganforge.plugin.registry import Registry

    module = types.ModuleType(f"test_loss_{name}")
    module.register_losses = hookimpl(lambda register: register(name, loss_class))
    registry = Registry.from_entry_points()
    registry.add_plugin(f"test_loss_{name}", lambda: module, package=f"test-loss-{name}")
    return registry


def layered_venv(folder: Path) -> Path:
    """A new virtual environment that also sees the running one's packages; returns its python.

    ``pip install`` (editable too) into it installs nothing into the environment running the tests,
    and deleting ``folder`` undoes it.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parents = [path for path in sys.path if path.endswith("site-packages")]
    # an "import" line in a .pth file runs at start-up: addsitedir also reads the parents' own .pth files
    lines = "".join(f"import site; site.addsitedir({path!r})\n" for path in parents)
    (Path(site_packages) / "parent-environment.pth").write_text(lines)
    return python


def pip_install(*packages: Path, python: str | Path = sys.executable, target: Path | None = None, editable=False):
    """A real ``pip install`` of local packages, without their dependencies (they are all here already)."""
    where = ["--target", str(target)] if target is not None else []
    sources = [item for package in packages for item in (["-e", str(package)] if editable else [str(package)])]
    command = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", *where, *sources]
    subprocess.run(command, check=True)


def pytorch_site() -> Path:
    """A folder holding PyTorch (CPU), torchvision and pytorch-fid, installed once per test session
    with ``pip --target`` (nothing enters the running environment); put it on PYTHONPATH to use it.

    torchvision 0.15 is the newest whose import survives without its compiled operators (those on
    PyPI are built against PyTorch's CUDA build); the tests use only its pure-Python Inception blocks.
    """
    import fcntl

    folder = Path(os.environ[SESSION]) / "pytorch"
    with open(f"{folder}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one install, whichever test worker asks first
        if not (folder / ".installed").exists():
            pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            pip += ["--target", str(folder)]
            subprocess.run([*pip, "torch==2.13.0"], check=True, capture_output=True)
            subprocess.run(
                [*pip, "--no-deps", "torchvision==0.15.2", "pytorch-fid==0.3.0"], check=True, capture_output=True
            )
            (folder / ".installed").touch()
    return folder


@pytest.fixture(scope="session")
def pytorch() -> Path:
    return pytorch_site()


def run_pytest(*paths: Path, cwd: Path, env: dict, python: str | Path = sys.executable) -> subprocess.CompletedProcess:
    """A plugin package's own test suite, in a process of its own."""
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *(str(path) for path in paths)],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
