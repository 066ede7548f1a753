"""The plugin contract: discovery, name clashes, broken plugins, parameters."""

import subprocess
import sys
import types

import pytest
from pydantic import BaseModel

from ganforge import hookimpl
from ganforge.errors import PluginError
from ganforge.plugin.registry import Registry, get_registry


def plugin_module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def make_generator(spec, latent_dim, width: int = 8, depth: int = 2):
    """a toy factory: its typed signature is its parameter list"""


def test_builtins_come_through_entry_points():
    registry = get_registry()
    assert "dcgan" in registry.names("generator") and "dcgan" in registry.names("discriminator")
    assert {"minimax", "nonsaturating"} <= set(registry.names("loss"))
    assert "digits" in registry.names("dataset")
    assert {"console", "jsonl", "png"} <= set(registry.names("sink"))
    assert all(plugin.package == "ganforge" for plugin in registry.plugins.values() if not plugin.error)


def test_loading_plugins_imports_no_tensorflow():
    code = (
        "import sys; from ganforge.plugin.registry import get_registry; r = get_registry(); "
        "assert r.names('generator'); "
        "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_cli_lists_plugins_without_tensorflow():
    code = (
        "import sys; sys.argv = ['ganforge', 'plugins']; from ganforge.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'tensorflow' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "dcgan" in result.stdout


def test_two_plugins_with_one_name_must_be_qualified():
    registry = Registry()
    for name in ("alpha", "beta"):
        registry.add_plugin(
            name,
            lambda name=name: plugin_module(name, register_generators=lambda register: register("net", make_generator)),
            package=f"pkg-{name}",
        )
    with pytest.raises(PluginError, match="'alpha:net' or 'beta:net'"):
        registry.get("generator", "net")
    assert registry.get("generator", "beta:net").plugin == "beta"


def test_a_plugin_that_fails_to_import_is_listed_and_the_rest_work():
    registry = Registry()

    def broken():
        raise ImportError("No module named 'missing_dependency'")

    registry.add_plugin("broken", broken, package="ganforge-broken", version="0.3")
    registry.add_plugin(
        "fine",
        lambda: plugin_module("fine", register_generators=lambda register: register("net", make_generator)),
        package="ganforge-fine",
    )
    assert registry.get("generator", "net").plugin == "fine"
    [failed] = registry.failed()
    assert failed.package == "ganforge-broken" and "missing_dependency" in failed.error
    with pytest.raises(PluginError) as error:
        registry.get("generator", "other")
    assert "ganforge-broken" in str(error.value) and "missing_dependency" in str(error.value)
    with pytest.raises(PluginError, match="failed to load"):
        registry.get("generator", "broken:net")


def test_a_hook_that_raises_marks_its_plugin_failed_and_registers_nothing():
    def hook(register):
        register("half", make_generator)
        raise RuntimeError("boom")

    registry = Registry()
    plugin = registry.add_plugin("flaky", lambda: plugin_module("flaky", register_generators=hook), package="flaky")
    assert "boom" in plugin.error
    assert registry.names("generator") == []


def test_parameters_are_read_from_the_signature():
    registry = Registry()
    registry.add_plugin(
        "p",
        lambda: plugin_module("p", register_generators=lambda register: register("net", make_generator)),
        package="p",
    )
    rows = {row.name: row for row in registry.get("generator", "net").describe_params()}
    assert set(rows) == {"width", "depth"}  # spec and latent_dim are the contract, not parameters
    assert (rows["width"].type, rows["width"].default) == ("int", "8")


def test_a_pydantic_model_declares_parameters_with_help():
    class Params(BaseModel):
        size: int = 3

    registry = Registry()
    registry.add_plugin(
        "p",
        lambda: plugin_module(
            "p", register_losses=lambda register: register("l", "somewhere:Loss", params=Params, help="a loss")
        ),
        package="p",
    )
    component = registry.get("loss", "l")
    assert [row.name for row in component.describe_params()] == ["size"]
    with pytest.raises(PluginError, match="cannot load loss 'l'"):
        component.load_factory()
