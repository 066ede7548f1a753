"""What ``ganforge plugins`` prints."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ganforge.errors import PluginError
from ganforge.plugin.registry import Registry, get_registry


def print_plugins(console: Console, registry: Registry | None = None) -> None:
    registry = registry or get_registry()
    table = Table(title="ganforge plugins", title_justify="left")
    for column in ("plugin", "package", "version", "contract", "components", "status"):
        table.add_column(column)
    for plugin in sorted(registry.plugins.values(), key=lambda p: p.name):
        components = ", ".join(f"{c.kind} {c.name}" for c in plugin.components)
        status = f"[red]failed:[/] {escape(plugin.error)}" if plugin.error else "[green]ok[/]"
        contract = "?" if plugin.contract is None else str(plugin.contract)  # "?": the plugin does not say
        table.add_row(plugin.name, plugin.package, plugin.version, contract, escape(components) or "-", status)
    console.print(table)
    if registry.failed():
        console.print(
            f"[red]{len(registry.failed())} plugin(s) failed to load[/]; recipes that do not use them still run."
        )


def print_component(console: Console, name: str, registry: Registry | None = None) -> None:
    registry = registry or get_registry()
    found = registry.find(name)
    if not found:
        candidates = sorted({c.name for c in registry.components()})
        raise PluginError(registry.unknown_message("component", name, candidates))
    for component in found:
        plugin = registry.plugins[component.plugin]
        console.print(
            f"[bold]{component.kind} {component.name}[/] from plugin {plugin.name} ({plugin.package} {plugin.version})"
        )
        if component.help:
            console.print(f"  {escape(component.help)}")
        rows = component.describe_params()
        if not rows:
            console.print("  no parameters")
            continue
        table = Table(show_edge=False, pad_edge=False)
        for column in ("parameter", "type", "default", "description"):
            table.add_column(column)
        for row in rows:
            table.add_row(row.name, escape(row.type), escape(row.default), escape(row.help))
        console.print(table)
