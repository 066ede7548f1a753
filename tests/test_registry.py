"""The plugin contract: discovery, name clashes, broken plugins, parameters."""

import io
import re
import subprocess
import sys
import types

import pytest
import typer
from conftest import TINY_RECIPE, write
from pydantic import BaseModel
from rich.console import Console

from ganforge import hookimpl
from ganforge.cli.plugins import print_plugins
from ganforge.cli.support import user_errors
from ganforge.errors import PluginError, RecipeError
from ganforge.plugin import hookspecs
from ganforge.plugin.contract import PROTOCOLS
from ganforge.plugin.params import CONTRACT_ARGS, NoParams, from_signature
from ganforge.plugin.registry import HOOKS, Registry, get_registry
from ganforge.recipe import load_recipe


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


def test_a_misspelled_hook_is_refused_naming_the_hook_meant():
    registry = Registry()
    module = plugin_module(
        "typo",
        register_losses=lambda register: register("fine", make_generator),
        register_generator=lambda register: register("net", make_generator),
    )
    plugin = registry.add_plugin("typo", lambda: module, package="ganforge-typo")
    assert plugin.error == "register_generator is not a ganforge hook; did you mean register_generators?"
    # refused whole: the correctly spelled hook registers nothing either
    assert registry.names("generator") == [] and registry.names("loss") == []
    with pytest.raises(PluginError) as error:
        registry.get("generator", "net")
    assert "typo (ganforge-typo): register_generator is not a ganforge hook" in str(error.value)
    later = registry.add_plugin(
        "later",
        lambda: plugin_module("later", register_generators=lambda register: register("net", make_generator)),
        package="ganforge-later",
    )
    assert later.error is None and registry.get("generator", "net").plugin == "later"


def test_a_name_far_from_every_hook_lists_the_hooks():
    registry = Registry()
    plugin = registry.add_plugin(
        "odd", lambda: plugin_module("odd", setup=lambda register: None), package="ganforge-odd"
    )
    assert plugin.error.startswith("setup is not a ganforge hook; the hooks are register_generators, ")


def test_unmarked_helpers_are_the_plugins_own_but_an_unmarked_hook_is_refused():
    module = plugin_module("helpers", register_generators=lambda register: register("net", make_generator))
    module.register_generator = lambda register: None  # a helper, not marked: pluggy never calls it
    module.make_generator = make_generator
    registry = Registry()
    assert registry.add_plugin("helpers", lambda: module, package="ganforge-helpers").error is None
    assert registry.names("generator") == ["net"]

    forgotten = types.ModuleType("forgotten")
    forgotten.register_losses = lambda register: register("l", make_generator)
    plugin = registry.add_plugin("forgotten", lambda: forgotten, package="ganforge-forgotten")
    assert plugin.error.startswith("register_losses is not marked @hookimpl")


def test_the_cli_lists_a_refused_plugin_and_fails_and_a_run_needing_it_stops(tmp_path):
    registry = Registry.from_entry_points()
    module = plugin_module("typo", register_generator=lambda register: register("net", make_generator))
    registry.add_plugin("typo", lambda: module, package="ganforge-typo")
    listing = Console(file=io.StringIO(), width=400)
    with pytest.raises(typer.Exit) as exited:
        user_errors(print_plugins)(listing, registry)
    assert exited.value.exit_code == 2
    row = next(line for line in listing.file.getvalue().splitlines() if "ganforge-typo" in line)
    assert "failed: register_generator is not a ganforge hook; did you mean register_generators?" in row
    # what `ganforge run` and `recipe check` meet before anything is written: a RecipeError (exit 2)
    with pytest.raises(RecipeError) as error:
        load_recipe(write(tmp_path / "tiny.toml", TINY_RECIPE), ['generator={ name = "net" }'], registry=registry)
    assert "generator.name" in str(error.value) and "did you mean register_generators?" in str(error.value)
    assert list(tmp_path.iterdir()) == [tmp_path / "tiny.toml"]


def test_each_hook_points_at_its_protocol_which_says_what_the_factory_is_called_with():
    """The contract is written once, in plugin/contract.py: the hooks' docstrings cannot drift from it."""
    assert set(HOOKS.values()) == {name for name in dir(hookspecs) if name.startswith("register_")}
    for kind, (protocol, _) in PROTOCOLS.items():
        hook_doc = getattr(hookspecs, HOOKS[kind]).__doc__.strip()
        assert hook_doc.endswith(f"see :class:`ganforge.plugin.contract.{protocol.__name__}`.") and "\n" not in hook_doc
        called = re.search(r"``factory\(([^)]*)\)``", protocol.__doc__)
        assert called, f"{protocol.__name__} does not say how its factory is called"
        positional = [arg for arg in called.group(1).split(", ") if arg != "**params"]
        keywords = re.findall(r"``(\w+)=``", protocol.__doc__)
        assert positional + keywords == list(CONTRACT_ARGS.get(kind, ())), protocol.__name__


def fields(model):
    return {name: (info.annotation, info.default) for name, info in model.model_fields.items()}


def test_builtin_plugins_declare_parameters_only_in_their_signatures():
    """One way: no pydantic model beside a built-in factory, repeating its defaults."""
    registry = get_registry()
    for component in registry.components():
        if component.kind == "command" or registry.plugins[component.plugin].package != "ganforge":
            continue
        lazy = not callable(component.factory)  # a "module:attribute" string: no signature read, no parameters
        declared = NoParams if lazy else from_signature(component.kind, component.name, component.factory)
        assert fields(component.params) == fields(declared), component.qualified_name
