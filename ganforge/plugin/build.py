"""One way to build any component from its recipe table.

Every kind goes through :func:`build`: generators, discriminators, datasets,
losses, penalties, metrics, feature networks and sinks. It validates the
table against the component's parameters, imports a lazily registered
factory, calls it, checks what came back against the contract, and turns
the factory's ``ValueError`` (its way of saying "these parameters or files
cannot work") or a lack of memory into a RecipeError naming the table.
"""

from __future__ import annotations

import inspect
from typing import Any

from ganforge.backend import out_of_memory
from ganforge.errors import DataError, Location, ParameterError, PluginError
from ganforge.plugin import params
from ganforge.plugin.contract import check_returned
from ganforge.plugin.registry import Component, Registry


def takes_keyword(factory, keyword: str) -> bool:
    """Whether ``factory`` accepts ``keyword=`` (by name, or through ``**kwargs``)."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: let the call say
        return True
    return any(p.name == keyword or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def find(registry: Registry, kind: str, name: str, where: Location) -> Component:
    """The component a table names; an unknown name is an error at the table's ``name`` key."""
    try:
        return registry.get(kind, name)
    except PluginError as error:
        raise where.error(str(error), "name") from None


def build(
    registry: Registry, kind: str, table: dict[str, Any], *args: Any, where: Location, given: dict | None = None
) -> Any:
    """``table`` = ``{"name": ..., **parameters}``; ``args`` are what ganforge passes (``spec``, ``run_dir``...),
    ``given`` what it passes by keyword (a conditional model's ``condition``)."""
    values = dict(table)
    name = values.pop("name")
    component = find(registry, kind, name, where)
    params.validate(component.params, values, where)
    factory = component.load_factory()
    for keyword in given or {}:
        if not takes_keyword(factory, keyword):
            raise where.error(
                f"{registry.who(component)} cannot take a {keyword}: its factory has no {keyword!r} argument",
                file_key=where.key("name"),
            )
    try:
        made = factory(*args, **values, **(given or {}))
    except ParameterError as error:
        raise where.error(f"{kind} {name!r}: {error}", error.key) from None
    except (ValueError, DataError) as error:
        raise where.error(f"{kind} {name!r}: {error}", file_key=where.key("name")) from None
    except Exception as error:
        if (memory := out_of_memory(error)) is None:
            raise
        message = f"{kind} {name!r}: does not fit in memory with these parameters ({memory})"
        raise where.error(message, file_key=where.key("name")) from None
    return check_returned(kind, registry.who(component), made)
