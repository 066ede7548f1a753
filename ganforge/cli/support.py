"""What every ganforge command shares: one-line errors with exit code 2, the library's messages, the console,
common arguments."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from collections.abc import Iterator
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


# The core logs under "ganforge.<module>", the built-in plugins under "ganforge.plugins.<name>": one logger to show.
LIBRARY_LOGGER = "ganforge"
MESSAGE_FORMAT = "ganforge: %(message)s"  # the library says what happened; the CLI says who is speaking


class _Stderr(logging.StreamHandler):
    """Writes to the ``sys.stderr`` of the moment, as ``print`` does: a test runner swaps it per command."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _):  # StreamHandler.__init__ sets it; the property decides
        pass


@contextlib.contextmanager
def library_messages() -> Iterator[None]:
    """While a command runs, the library's records of level INFO and above are lines on stderr.

    Only the CLI does this: a program that imports ganforge keeps Python's defaults (warnings
    through logging's last resort, INFO unseen) or its own configuration. The records stop here
    instead of reaching the root logger, so a handler another package put there cannot print
    them twice; everything is as it was once the command ends.
    """
    logger = logging.getLogger(LIBRARY_LOGGER)
    handler = _Stderr()
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(MESSAGE_FORMAT))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def console():
    from rich.console import Console

    return Console(highlight=False)


SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", "-s", help="override a recipe key, e.g. --set train.steps=200 (value read as TOML)"),
]
RecipeArgument = Annotated[str, typer.Argument(help="recipe file, or the name of a bundled recipe (quickstart)")]
