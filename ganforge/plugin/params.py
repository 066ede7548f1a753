"""A component's recipe parameters: read from its factory's signature, checked against a table.

Every table a recipe holds (and the recipe itself) is validated by pydantic
here, and every validation error becomes one RecipeError naming the file
and the dotted key, with a spelling suggestion for unknown keys.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable
from typing import Any

import pydantic

from ganforge.errors import Location, RecipeError

# Arguments ganforge itself passes to a factory of each kind (``condition`` and ``classifier`` in a
# conditional run only); everything else in a factory's signature is a recipe parameter.
CONTRACT_ARGS = {
    "generator": ("spec", "latent_dim", "condition"),
    "discriminator": ("spec", "condition", "classifier"),
    "sink": ("run_dir",),
}


class NoParams(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


def from_signature(kind: str, name: str, factory: Callable[..., Any]) -> type[pydantic.BaseModel]:
    """A pydantic model of a factory's keyword parameters, read from its typed signature.

    A class is read from its ``__init__``, like a function. A parameter without an annotation takes the type
    of its default (``hidden=32`` is an int), so a recipe's mistyped value is caught for it too.
    """
    skip = set(CONTRACT_ARGS.get(kind, ()))
    fields: dict[str, Any] = {}
    # a class's own annotations describe its attributes, not its parameters: read its __init__
    signed = factory.__init__ if isinstance(factory, type) else factory
    hints = typing.get_type_hints(signed, include_extras=True)  # keeps Annotated[..., Field(...)]: bounds, descriptions
    for parameter in inspect.signature(factory).parameters.values():
        if parameter.name in skip or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (hints.get(parameter.name, _type_of(default)), default)
    return pydantic.create_model(f"{name}_params", __config__=pydantic.ConfigDict(extra="forbid"), **fields)


def _type_of(default: Any) -> Any:
    """What an unannotated parameter accepts: its default's plain type, else anything."""
    return type(default) if type(default) in (bool, int, float, str) else Any


def validate(model: type[pydantic.BaseModel], values: dict[str, Any], where: Location) -> pydantic.BaseModel:
    """``values`` checked against ``model`` (strictly: no silent conversions), or a RecipeError at ``where``."""
    try:
        return model.model_validate(values, strict=True)
    except pydantic.ValidationError as error:
        raise recipe_error(error, model, where) from None


def recipe_error(error: pydantic.ValidationError, model: type[pydantic.BaseModel], where: Location) -> RecipeError:
    """The first problem pydantic found, as a RecipeError naming its file and key."""
    first = error.errors()[0]
    loc = [str(part) for part in first["loc"]]
    if first["type"] == "extra_forbidden":
        known = _fields_at(model, loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.5)
        message = "unknown key" + (
            f"; did you mean {close[0]!r}?" if close else (f" (known keys: {', '.join(known)})" if known else "")
        )
    elif first["type"] == "missing":
        message = "required key is missing"
    else:
        message = f"{first['msg']} (got {first.get('input')!r})"
    return where.error(message, *loc)


def _fields_at(model: type[pydantic.BaseModel], loc: list[str]) -> list[str]:
    for part in loc:
        info = model.model_fields.get(part)
        found = _table_model(info.annotation) if info else None
        if found is None:
            return []
        model = found
    return list(model.model_fields)


def _table_model(annotation: Any) -> type[pydantic.BaseModel] | None:
    """The model a table's annotation holds: itself, or the one in ``float | Schedule`` (a number or a table)."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    return next((found for arg in typing.get_args(annotation) if (found := _table_model(arg)) is not None), None)
