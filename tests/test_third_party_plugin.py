"""A third party adds a component without touching ganforge: a real package,
installed with pip, found through its entry point, trained through a recipe."""

import pytest
from conftest import TINY_RECIPE, pip_install, run_cli, write

pytestmark = pytest.mark.slow  # pip-installs plugin packages and runs ganforge as a real process

PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "ganforge-{name}"
version = "{version}"

[project.entry-points.ganforge]
{name} = "ganforge_{name}"

[tool.hatch.build.targets.wheel]
packages = ["ganforge_{name}"]
"""

TINYGEN = '''
from ganforge import hookimpl


def build_tiny_generator(spec, latent_dim, hidden: int = 32):
    """Noise -> Dense -> image: about the smallest generator there is."""
    import keras

    noise = keras.Input((latent_dim,))
    x = keras.layers.Dense(hidden, activation="relu")(noise)
    x = keras.layers.Dense(spec.height * spec.width * spec.channels, activation="tanh")(x)
    return keras.Model(noise, keras.layers.Reshape(spec.shape)(x))


@hookimpl
def register_generators(register):
    register("tinygen", build_tiny_generator, help="a two-layer MLP generator")
'''

BROKEN = """
import a_dependency_nobody_installed  # noqa: F401
"""

# written for a contract this ganforge does not know, and a factory that returns the wrong thing
FUTURE = """
from ganforge import hookimpl

GANFORGE_CONTRACT = 2


@hookimpl
def register_losses(register):
    register("from_the_future", lambda: None)
"""

WRONG = """
from ganforge import hookimpl

GANFORGE_CONTRACT = 1


def not_a_model(spec, latent_dim):
    return [spec, latent_dim]


@hookimpl
def register_generators(register):
    register("listgen", not_a_model)
"""

# a hook name one letter short: refused at load, naming the hook meant
TYPO = """
from ganforge import hookimpl


def build(spec, latent_dim):
    raise AssertionError("never built")


@hookimpl
def register_generator(register):
    register("typogen", build)
"""


def make_package(root, name, version, source):
    write(root / name / "pyproject.toml", PYPROJECT.format(name=name, version=version))
    write(root / name / f"ganforge_{name}" / "__init__.py", source)
    return root / name


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Both packages pip-installed into a folder that goes on PYTHONPATH."""
    root = tmp_path_factory.mktemp("plugins")
    target = root / "site"
    packages = [
        make_package(root, "tinygen", "1.2.3", TINYGEN),
        make_package(root, "broken", "0.1.0", BROKEN),
        make_package(root, "future", "2.0.0", FUTURE),
        make_package(root, "wrong", "0.1.0", WRONG),
        make_package(root, "typo", "0.1.0", TYPO),
    ]
    pip_install(*packages, target=target)
    return {"PYTHONPATH": str(target)}


def test_installed_plugins_are_listed_and_a_broken_one_is_reported(site, tmp_path):
    result = run_cli("plugins", cwd=tmp_path, env={**site, "COLUMNS": "400"})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr  # listed, then failed
    assert "3 plugin(s) failed to load" in result.stderr
    lines = result.stdout.splitlines()
    tinygen = next(line for line in lines if "ganforge-tinygen" in line)
    assert "1.2.3" in tinygen and "generator tinygen" in tinygen and "ok" in tinygen
    broken = next(line for line in lines if "ganforge-broken" in line)
    assert "failed" in broken and "ModuleNotFoundError" in broken
    assert "a_dependency_nobody_installed" in result.stdout
    typo = next(line for line in lines if "ganforge-typo" in line)
    assert "failed" in typo and "register_generator is not a ganforge hook; did you mean register_generators?" in typo
    assert (
        "plugin 'typo' (package ganforge-typo): register_generator is not a ganforge hook; "
        "did you mean register_generators?" in result.stderr
    )
    shown = run_cli("plugins", "--show", "tinygen", cwd=tmp_path, env=site)
    assert "hidden" in shown.stdout and "32" in shown.stdout


def test_a_recipe_trains_with_the_third_party_generator(site, tmp_path):
    recipe = write(
        tmp_path / "tiny.toml",
        TINY_RECIPE.replace(
            'name = "dcgan"\npreset = "radford"\nfilters = [32, 16, 8]', 'name = "tinygen"\nhidden = 8'
        ),
    )
    result = run_cli("run", str(recipe), "--set", "train.steps=3", cwd=tmp_path, env=site)
    assert result.returncode == 0, result.stderr
    [folder] = (tmp_path / "runs").iterdir()
    assert (folder / "checkpoints" / "step_00000003.npz").is_file()
    assert 'name = "tinygen"' in (folder / "recipe.toml").read_text()


def test_a_recipe_needing_a_missing_component_names_the_broken_package(site, tmp_path):
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE.replace('name = "digits"', 'name = "faces"'))
    result = run_cli("recipe", "check", str(recipe), cwd=tmp_path, env=site)
    assert result.returncode == 2
    assert "dataset.name" in result.stderr and "ganforge-broken" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_plugin_for_another_contract_is_refused_by_name_and_the_rest_work(site, tmp_path):
    listed = run_cli("plugins", cwd=tmp_path, env={**site, "COLUMNS": "400"})
    assert listed.returncode == 2 and "Traceback" not in listed.stderr, listed.stderr
    future = next(line for line in listed.stdout.splitlines() if "ganforge-future" in line)
    assert "failed" in future and "written for plugin contract 2" in future and "supports contract 1" in future
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE)
    assert run_cli("recipe", "check", str(recipe), cwd=tmp_path, env=site).returncode == 0
    asked = run_cli("recipe", "check", str(recipe), "--set", 'loss.name="from_the_future"', cwd=tmp_path, env=site)
    assert asked.returncode == 2 and "ganforge-future" in asked.stderr and "contract 2" in asked.stderr


def test_a_factory_returning_the_wrong_object_is_named_with_what_it_returned(site, tmp_path):
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE)
    result = run_cli("recipe", "check", str(recipe), "--set", 'generator={ name = "listgen" }', cwd=tmp_path, env=site)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "generator 'listgen' of plugin 'wrong' (ganforge-wrong) returned builtins.list" in result.stderr
    assert "must return a keras.Model" in result.stderr
