"""A third party adds a component without touching ganforge: a real package,
installed with pip, found through its entry point, trained through a recipe."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import TINY_RECIPE, pip_install, write

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


# Runs each command as `ganforge` would (plugin commands added, as main() does), one after the other in
# this one new process, which finds the plugins through their entry points on PYTHONPATH. What a
# command did not turn into an exit code is printed as a traceback, as a process of its own would.
COMMANDS = textwrap.dedent(
    """
    import json, sys, traceback
    from typer.testing import CliRunner
    from ganforge.cli import app, plugins

    plugins.add_plugin_commands(app)
    answers = {}
    for name, (args, env) in json.loads(sys.argv[1]).items():
        result = CliRunner().invoke(app, args, env=env)
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            stderr += "".join(traceback.format_exception(result.exception))
        answers[name] = [result.exit_code, result.stdout, stderr]
    with open(sys.argv[2], "w") as file:
        json.dump(answers, file)
    """
)

TINYGEN_RECIPE = TINY_RECIPE.replace(
    'name = "dcgan"\npreset = "radford"\nfilters = [32, 16, 8]', 'name = "tinygen"\nhidden = 8'
)


@pytest.fixture(scope="module")
def answered(site, tmp_path_factory):
    """What each command the tests ask about answers, all run in one ganforge process that has the plugins:
    the name of each, and the folder they ran in."""
    here = tmp_path_factory.mktemp("commands")
    tiny = write(here / "tiny.toml", TINY_RECIPE)
    faces = write(here / "faces.toml", TINY_RECIPE.replace('name = "digits"', 'name = "faces"'))
    tinygen = write(here / "tinygen.toml", TINYGEN_RECIPE)
    wide = {"COLUMNS": "400"}
    commands = {
        "plugins": (["plugins"], wide),
        "show tinygen": (["plugins", "--show", "tinygen"], {}),
        "run tinygen": (["run", str(tinygen), "--set", "train.steps=3"], {}),
        "check faces": (["recipe", "check", str(faces)], {}),
        "check tiny": (["recipe", "check", str(tiny)], {}),
        "check future loss": (["recipe", "check", str(tiny), "--set", 'loss.name="from_the_future"'], {}),
        "check listgen": (["recipe", "check", str(tiny), "--set", 'generator={ name = "listgen" }'], {}),
    }
    answers = here / "answers.json"
    done = subprocess.run(
        [sys.executable, "-c", COMMANDS, json.dumps(commands), str(answers)],
        cwd=here,
        env={**os.environ, **site},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = {
        name: subprocess.CompletedProcess(["ganforge", *commands[name][0]], *answer)
        for name, answer in json.loads(answers.read_text()).items()
    }
    return results, here


def test_installed_plugins_are_listed_and_a_broken_one_is_reported(answered):
    answers, _ = answered
    result = answers["plugins"]
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
    shown = answers["show tinygen"]
    assert "hidden" in shown.stdout and "32" in shown.stdout


def test_a_recipe_trains_with_the_third_party_generator(answered):
    answers, here = answered
    assert 'name = "tinygen"' in TINYGEN_RECIPE  # the recipe names the plugin's generator
    result = answers["run tinygen"]
    assert result.returncode == 0, result.stderr
    [folder] = (here / "runs").iterdir()
    assert (folder / "checkpoints" / "step_00000003.npz").is_file()
    assert 'name = "tinygen"' in (folder / "recipe.toml").read_text()


def test_a_recipe_needing_a_missing_component_names_the_broken_package(answered):
    result = answered[0]["check faces"]
    assert result.returncode == 2
    assert "dataset.name" in result.stderr and "ganforge-broken" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_plugin_for_another_contract_is_refused_by_name_and_the_rest_work(answered):
    answers, _ = answered
    listed = answers["plugins"]
    assert listed.returncode == 2 and "Traceback" not in listed.stderr, listed.stderr
    future = next(line for line in listed.stdout.splitlines() if "ganforge-future" in line)
    assert "failed" in future and "written for plugin contract 2" in future and "supports contract 1" in future
    assert answers["check tiny"].returncode == 0
    asked = answers["check future loss"]
    assert asked.returncode == 2 and "ganforge-future" in asked.stderr and "contract 2" in asked.stderr


def test_a_factory_returning_the_wrong_object_is_named_with_what_it_returned(answered):
    result = answered[0]["check listgen"]
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "generator 'listgen' of plugin 'wrong' (ganforge-wrong) returned builtins.list" in result.stderr
    assert "must return a keras.Model" in result.stderr
