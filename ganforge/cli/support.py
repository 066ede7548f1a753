"""What every ganforge command shares: one-line errors with exit code 2, the console, common arguments."""

from __future__ import annotations

import functools
import os
import sys
from typing import Annotated, Optional

import typer

from ganforge.errors import GanforgeError


def fail(message: str, code: int = 2, at_once: bool = False) -> None:
    """Print ``message`` and exit with ``code``; ``at_once``: skip the interpreter's shutdown, whose
    hooks would wait for something that cannot answer (JAX's cluster waiting for a lost peer)."""
    print(f"error: {message}", file=sys.stderr)
    if at_once:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise typer.Exit(code)


def user_errors(command):
    """Report GanforgeError as one line and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except GanforgeError as error:
            fail(str(error), error.exit_code, error.exit_at_once)

    return wrapper


def console():
    from rich.console import Console

    return Console(highlight=False)


SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", "-s", help="override a recipe key, e.g. --set train.steps=200 (value read as TOML)"),
]
RecipeArgument = Annotated[str, typer.Argument(help="recipe file, or the name of a bundled recipe (quickstart)")]
