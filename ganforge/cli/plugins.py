"""``ganforge plugins`` (what is installed), ``ganforge plugin new`` (a package to start from), and the
commands plugins add."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ganforge.cli.support import console as _console
from ganforge.cli.support import user_errors
from ganforge.errors import GanforgeError, PluginError
from ganforge.plugin.registry import Registry, get_registry
from ganforge.plugin.scaffold import KINDS


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
    failed = registry.failed()
    if failed:
        # a failure, not a footnote: scripts and CI see a broken install by the exit code (2)
        reasons = "; ".join(f"plugin {p.name!r} (package {p.package}): {p.error}" for p in failed)
        raise PluginError(f"{len(failed)} plugin(s) failed to load (recipes that do not use them still run): {reasons}")


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


def plugins(
    show: Annotated[
        Optional[str], typer.Option("--show", help="print a component's parameters (NAME or plugin:NAME)")
    ] = None,
) -> None:
    """List installed plugins and their components."""
    if show:
        print_component(_console(), show)
    else:
        print_plugins(_console())


def plugin_new(
    name: Annotated[str, typer.Argument(help="plugin name: the package is ganforge-NAME, the module ganforge_NAME")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            "-k",
            help="component to start from; its first code: "
            + "; ".join(f"{kind}: {spec.summary}" for kind, spec in KINDS.items()),
        ),
    ] = "generator",
    directory: Annotated[Path, typer.Option("--dir", help="where to create ganforge-NAME/")] = Path("."),
) -> None:
    """Create a plugin package: pyproject with its entry point, one component, a recipe, a README and tests."""
    from ganforge.plugin.scaffold import create

    target = create(name, kind, directory)
    console = _console()
    component = name.replace("-", "_")
    console.print(
        f"[green]created[/] {target}/ with the {kind} {component!r}: {KINDS[kind].summary}, "
        f"a working start to change into yours (ganforge_{component}/{kind}.py). Next:"
    )
    steps = [
        f"cd {target}",
        'pip install -e ".[test]"',
        "pytest",
        "ganforge plugins",
        f"ganforge run recipes/{name}.toml",
    ]
    console.print("\n".join(f"  {step}" for step in steps), markup=False)


def add_plugin_commands(app: typer.Typer) -> None:
    """``ganforge NAME`` for each command a plugin registers."""
    for component in get_registry().components("command"):
        try:
            callback = component.load_factory()
        except GanforgeError as error:
            print(f"ganforge: {error}", file=sys.stderr)
            continue
        app.command(component.name, help=component.help or None)(user_errors(callback))


def add_commands(app: typer.Typer) -> None:
    app.command("plugins")(user_errors(plugins))
    plugin_app = typer.Typer(help="Write your own plugin.", no_args_is_help=True)
    plugin_app.command("new")(user_errors(plugin_new))
    app.add_typer(plugin_app, name="plugin")
