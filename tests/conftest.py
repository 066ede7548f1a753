"""Shared fixtures: tiny recipes and a way to run the real CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real `ganforge` command, as a user would run it; ``env`` values of None unset a variable."""
    full_env = {key: value for key, value in {**os.environ, **(env or {})}.items() if value is not None}
    return subprocess.run(
        [sys.executable, "-m", "ganforge", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_user_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, no traceback, and each fragment in the one-line message."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.fixture(scope="session")
def trained_features(tmp_path_factory) -> Path:
    """A cache folder whose features/ holds the digits classifier, trained once per test session."""
    from ganforge_mnist.classifier import ensure_trained

    root = tmp_path_factory.mktemp("cache")
    ensure_trained(root / "features")
    return root


@pytest.fixture
def feature_cache(trained_features, monkeypatch) -> Path:
    """GANFORGE_CACHE pointing at the trained classifier, for this test and the processes it starts."""
    monkeypatch.setenv("GANFORGE_CACHE", str(trained_features))
    return trained_features


def trained_run(tmp_path: Path, *overrides: str) -> Path:
    """A finished run of the tiny recipe (6 steps, checkpoints at 3 and 6) under tmp_path/runs, trained in this process."""
    from ganforge.recipe import load_recipe
    from ganforge.runs import folder as run_dir
    from ganforge.training.trainer import train

    recipe = load_recipe(write(tmp_path / "tiny.toml", TINY_RECIPE), ['sinks=["jsonl"]', *overrides])
    folder = run_dir.create(tmp_path / "runs", recipe.name, recipe.to_toml())
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
