"""Finding plugins and the components they register.

Built-in plugins and third-party packages are found the same way: through
the ``ganforge`` entry-point group. A plugin that fails to import, or whose
hook raises, is recorded as failed and the others keep working; only a
recipe that needs one of its components stops, and the message names it.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import difflib
import importlib
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import Any

import pluggy
import pydantic

from ganforge import __version__
from ganforge.errors import PluginError
from ganforge.plugin import hookspecs
from ganforge.plugin.params import NoParams, from_signature

ENTRY_POINT_GROUP = "ganforge"

# kind -> hook that registers it
HOOKS = {
    "generator": "register_generators",
    "discriminator": "register_discriminators",
    "dataset": "register_datasets",
    "loss": "register_losses",
    "penalty": "register_penalties",
    "generator_penalty": "register_generator_penalties",
    "metric": "register_metrics",
    "features": "register_feature_networks",
    "sink": "register_sinks",
    "command": "register_commands",
}
KINDS = tuple(HOOKS)


@dataclass(frozen=True)
class ParamInfo:
    name: str
    type: str
    default: str
    help: str


@dataclass
class Component:
    kind: str
    name: str
    plugin: str
    factory: Callable[..., Any] | str
    params: type[pydantic.BaseModel]
    help: str = ""

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin}:{self.name}"

    def load_factory(self) -> Callable[..., Any]:
        """The factory itself, importing a lazy ``module:attribute`` string now."""
        if callable(self.factory):
            return self.factory
        module_name, _, attribute = self.factory.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise PluginError(
                f"plugin {self.plugin!r}: cannot load {self.kind} {self.name!r} "
                f"from {self.factory!r}: {type(error).__name__}: {error}"
            ) from error

    def describe_params(self) -> list[ParamInfo]:
        rows = []
        for name, info in self.params.model_fields.items():
            default = "(required)" if info.is_required() else repr(info.get_default(call_default_factory=True))
            rows.append(ParamInfo(name, _type_name(info.annotation), default, info.description or ""))
        return rows


@dataclass
class Plugin:
    """One entry point: the package behind it and what it registered or why it failed."""

    name: str
    package: str
    version: str
    module: str
    components: list[Component] = field(default_factory=list)
    error: str | None = None
    contract: int | None = None  # the GANFORGE_CONTRACT the module declares; None: not declared


def _nearest_hook(name: str) -> str:
    """A spelling suggestion among the hooks, or the list of them."""
    close = difflib.get_close_matches(name, HOOKS.values(), n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else f"the hooks are {', '.join(HOOKS.values())}"


def _type_name(annotation: Any) -> str:
    if annotation is None:
        return "None"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


class Registry:
    """Every plugin found and every component registered, by kind and name."""

    def __init__(self) -> None:
        self.plugins: dict[str, Plugin] = {}
        self._by_kind: dict[str, dict[str, list[Component]]] = {kind: {} for kind in KINDS}
        self._manager = pluggy.PluginManager("ganforge")
        self._manager.add_hookspecs(hookspecs)

    # -- loading ---------------------------------------------------------
    @classmethod
    def from_entry_points(cls) -> Registry:
        registry = cls()
        seen = set()
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            # The same distribution can be visible twice on sys.path (an
            # editable install plus a source tree); load it once.
            if (entry_point.name, entry_point.value) in seen:
                continue
            seen.add((entry_point.name, entry_point.value))
            dist = entry_point.dist
            registry.add_plugin(
                entry_point.name,
                entry_point.load,
                package=dist.name if dist else entry_point.name,
                version=dist.version if dist else "?",
                module=entry_point.value,
            )
        return registry

    def add_plugin(
        self, name: str, load: Callable[[], Any], *, package: str, version: str = "?", module: str = ""
    ) -> Plugin:
        """Import one plugin and collect what it registers; failures are recorded, not raised."""
        if name in self.plugins:
            name = f"{package}.{name}"
        plugin = Plugin(name=name, package=package, version=version, module=module)
        self.plugins[name] = plugin
        try:
            plugin_module = load()
        except Exception as error:  # a broken plugin must not take the others down
            plugin.error = f"{type(error).__name__}: {error}"
            return plugin
        plugin.contract = getattr(plugin_module, "GANFORGE_CONTRACT", None)
        if plugin.contract is not None and plugin.contract not in hookspecs.SUPPORTED_CONTRACTS:
            supported = " or ".join(str(version) for version in hookspecs.SUPPORTED_CONTRACTS)
            plugin.error = (
                f"written for plugin contract {plugin.contract!r}, but this ganforge ({__version__}) supports contract "
                f"{supported}; install a release of {package} made for contract {supported}"
            )
            return plugin
        try:
            self._manager.register(plugin_module, name=name)
        except Exception as error:
            plugin.error = f"{type(error).__name__}: {error}"
            return plugin
        wrong = self._wrong_hooks(plugin_module, name)
        if wrong:
            # refused whole, like a hook that raises: half a plugin would fail later, far from the cause
            self._manager.unregister(name=name)
            plugin.error = "; ".join(wrong)
            return plugin
        for kind, hook_name in HOOKS.items():
            for impl in getattr(self._manager.hook, hook_name).get_hookimpls():
                if impl.plugin_name != name:
                    continue
                try:
                    impl.function(register=self._registrar(kind, plugin))
                except Exception as error:
                    plugin.error = f"{hook_name} raised {type(error).__name__}: {error}"
                    self._forget(plugin)
                    return plugin
        return plugin

    def _wrong_hooks(self, plugin_module: Any, name: str) -> list[str]:
        """What in a plugin module looks meant as a hook but would never be called, each in a sentence.

        Only pluggy's hook implementations (marked ``@hookimpl``) are checked against the hook names, as
        pluggy's ``check_pending`` would; other functions are the plugin's own business, unless one is
        named exactly like a hook, which means its marker was forgotten.
        """
        problems = []
        implemented = set()
        for caller in self._manager.get_hookcallers(plugin_module) or []:
            implemented.add(caller.name)
            if caller.spec is None and any(
                impl.plugin_name == name and not impl.optionalhook for impl in caller.get_hookimpls()
            ):
                problems.append(f"{caller.name} is not a ganforge hook; {_nearest_hook(caller.name)}")
        for hook_name in HOOKS.values():
            if hook_name not in implemented and callable(getattr(plugin_module, hook_name, None)):
                problems.append(
                    f"{hook_name} is not marked @hookimpl (from ganforge import hookimpl), so it would never be called"
                )
        return problems

    def _registrar(self, kind: str, plugin: Plugin) -> Callable[..., None]:
        def register(
            name: str,
            factory: Callable[..., Any] | str,
            *,
            params: type[pydantic.BaseModel] | None = None,
            help: str = "",
        ) -> None:
            if not isinstance(name, str) or not name or ":" in name:
                raise ValueError(f"component names are non-empty strings without ':', got {name!r}")
            if params is None:
                # A lazy "module:attr" factory cannot be inspected without
                # importing it, so without a params model it takes none.
                usable = callable(factory) and kind != "command"
                params = from_signature(kind, name, factory) if usable else NoParams
            component = Component(kind, name, plugin.name, factory, params, help)
            plugin.components.append(component)
            self._by_kind[kind].setdefault(name, []).append(component)

        return register

    def _forget(self, plugin: Plugin) -> None:
        for component in plugin.components:
            self._by_kind[component.kind][component.name].remove(component)
            if not self._by_kind[component.kind][component.name]:
                del self._by_kind[component.kind][component.name]
        plugin.components.clear()

    # -- lookup ----------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        return sorted(self._by_kind[kind])

    def components(self, kind: str | None = None) -> list[Component]:
        kinds = [kind] if kind else KINDS
        return [c for k in kinds for providers in self._by_kind[k].values() for c in providers]

    def failed(self) -> list[Plugin]:
        return [plugin for plugin in self.plugins.values() if plugin.error]

    def get(self, kind: str, name: str) -> Component:
        """The component a recipe names: ``name`` or ``plugin:name``."""
        plugin_name, _, short_name = name.rpartition(":")
        providers = self._by_kind[kind].get(short_name, [])
        if plugin_name:
            plugin = self.plugins.get(plugin_name)
            if plugin is not None and plugin.error:
                raise PluginError(
                    f"{kind} {name!r} comes from plugin {plugin_name!r} ({plugin.package}), which failed to load: {plugin.error}"
                )
            providers = [c for c in providers if c.plugin == plugin_name]
        if len(providers) == 1:
            return providers[0]
        if len(providers) > 1:
            choices = " or ".join(repr(c.qualified_name) for c in providers)
            raise PluginError(f"{kind} {short_name!r} is registered by more than one plugin: write {choices}")
        raise PluginError(self._unknown_message(kind, name))

    def who(self, component: Component) -> str:
        """The component, its plugin and that plugin's package, for messages."""
        plugin = self.plugins.get(component.plugin)
        package = f" ({plugin.package})" if plugin is not None else ""
        return f"{component.kind} {component.name!r} of plugin {component.plugin!r}{package}"

    def find(self, name: str) -> list[Component]:
        """Components of any kind called ``name`` (or ``plugin:name``)."""
        plugin_name, _, short_name = name.rpartition(":")
        return [c for c in self.components() if c.name == short_name and (not plugin_name or c.plugin == plugin_name)]

    def _unknown_message(self, kind: str, name: str) -> str:
        return self.unknown_message(kind, name, self.names(kind))

    def unknown_message(self, what: str, name: str, candidates: list[str]) -> str:
        message = f"no installed plugin provides {what} {name!r}"
        close = difflib.get_close_matches(name.rpartition(":")[2], candidates, n=3, cutoff=0.5)
        if close:
            message += "; did you mean " + ", ".join(repr(c) for c in close) + "?"
        elif candidates:
            message += f" (available: {', '.join(candidates)})"
        failed = self.failed()
        if failed:
            message += "; plugins that failed to load and might provide it: " + "; ".join(
                f"{p.name} ({p.package}): {p.error}" for p in failed
            )
        return message


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry, loaded from entry points on first use."""
    return Registry.from_entry_points()
