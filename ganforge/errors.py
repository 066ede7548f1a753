"""Errors a user can fix.

Everything raised as a `GanforgeError` is printed by the CLI as one clear
message (no traceback) and ends the process with exit code 2 (or the
error's own ``exit_code``). Anything else
is a bug in ganforge or a plugin and keeps its traceback.
"""


class GanforgeError(Exception):
    """An error caused by input the user controls: a recipe, a file, an argument."""


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

    def __init__(self, message: str, exit_code: int):
        self.exit_code = exit_code
        super().__init__(message)

    @property
    def asked_for(self) -> bool:
        """True when a signal asked for the stop: the user's wish, not an error."""
        return self.exit_code in (130, 143)
