"""Errors a user can fix, and where in a recipe they are.

Everything raised as a `GanforgeError` is printed by the CLI as one clear
message (no traceback) and ends the process with exit code 2 (or the
error's own ``exit_code``). Anything else
is a bug in ganforge or a plugin and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


class GanforgeError(Exception):
    """An error caused by input the user controls: a recipe, a file, an argument.

    ``exit_at_once``: the CLI ends the process without the interpreter's shutdown, whose hooks
    would wait for something that cannot answer (a lost peer of a JAX cluster; see cli.support.fail).
    It is known where the error is made, so it is given there, like ``exit_code``.
    """

    exit_code = 2

    def __init__(self, *args: object, exit_at_once: bool = False):
        super().__init__(*args)
        self.exit_at_once = exit_at_once


class RecipeError(GanforgeError):
    """A recipe problem, located by file and dotted key."""

    def __init__(self, message: str, file: str | None = None, key: str | None = None):
        self.message = message
        self.file = file
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.key) if part)
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class Location:
    """Where a table sits in a recipe, so an error names the file and the key a user must edit.

    ``section`` is the table's dotted key (``generator``, ``eval.metrics[0]``,
    ``sinks[1]``; empty for the recipe itself). ``origins`` maps each dotted
    key to the file it came from (a recipe's ``extends`` chain spreads keys
    over several files, ``--set`` adds its own); ``file`` is named for keys
    with no recorded origin.
    """

    section: str = ""
    origins: Mapping[str, str] = field(default_factory=dict)
    file: str | None = None

    def key(self, *parts: str) -> str:
        return ".".join(part for part in (self.section, *parts) if part)

    def file_of(self, dotted: str) -> str | None:
        while dotted:
            if dotted in self.origins:
                return self.origins[dotted]
            # "a.b[2].c" -> "a.b[2]" -> "a.b" -> "a"
            dotted = dotted[: dotted.rindex("[")] if dotted.endswith("]") else dotted.rpartition(".")[0]
        return self.file

    def within(self, *parts: str) -> Location:
        return Location(self.key(*parts), self.origins, self.file)

    def error(self, message: str, *parts: str, file_key: str | None = None) -> RecipeError:
        """A RecipeError at this table (or at ``parts`` inside it)."""
        key = self.key(*parts)
        return RecipeError(message, file=self.file_of(file_key or key), key=key or None)


class ParameterError(ValueError):
    """A component's parameter that cannot work, raised by its factory: ganforge reports it at that key of
    the component's table (a plain ``ValueError`` is reported at the table's ``name``)."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


class PluginError(GanforgeError):
    """A component that no plugin provides, or a plugin that is broken."""


class CheckpointError(GanforgeError):
    """A run folder or checkpoint that cannot be resumed from."""


class DataError(GanforgeError):
    """A dataset that cannot be read: missing files, unreadable images, a bad archive."""


class TrainingStopped(GanforgeError):
    """Training ended early on purpose: a signal, or numbers that stopped being numbers.

    ``exit_code``: 130 for SIGINT, 143 for SIGTERM (the shell's 128 + signal),
    3 for a NaN or infinite loss or weight, 74 for a checkpoint the disk would not take.
    """

    def __init__(self, message: str, exit_code: int, *, exit_at_once: bool = False):
        self.exit_code = exit_code
        super().__init__(message, exit_at_once=exit_at_once)

    @property
    def asked_for(self) -> bool:
        """True when a signal asked for the stop: the user's wish, not an error."""
        return self.exit_code in (130, 143)
