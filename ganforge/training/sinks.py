"""Fanning the loop's records out to every sink.

A dashboard that breaks must never lose a run: a sink that raises is
reported once on stderr and dropped, and training goes on.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ganforge.plugin.registry import Registry


class SinkSet:
    def __init__(self, sinks: list[tuple[str, Any]]):
        self._sinks = sinks

    @classmethod
    def open(cls, entries: list[str | dict], run_dir: Path, registry: Registry) -> SinkSet:
        """Build each sink: a bare name, or a table of its name and parameters (as the recipe resolved it).

        A sink that cannot even be built is reported and left out, like one that fails later.
        """
        sinks = []
        for entry in entries:
            params = {"name": entry} if isinstance(entry, str) else dict(entry)
            name = params.pop("name")
            try:
                sinks.append((name, registry.get("sink", name).load_factory()(run_dir, **params)))
            except Exception as error:
                print(
                    f"ganforge: sink {name!r} could not start and is left out: {type(error).__name__}: {error}",
                    file=sys.stderr,
                )
        return cls(sinks)

    def _each(self, method: str, *args: Any) -> None:
        for entry in list(self._sinks):
            name, sink = entry
            handler = getattr(sink, method, None)
            if handler is None:
                continue
            try:
                handler(*args)
            except Exception as error:
                print(
                    f"ganforge: sink {name!r} failed in {method}() and is switched off: {type(error).__name__}: {error}",
                    file=sys.stderr,
                )
                self._sinks.remove(entry)

    def start(self, total_steps: int, first_step: int) -> None:
        self._each("start", total_steps, first_step)

    def progress(self, step: int) -> None:
        """Every step, for sinks that show progress between records (the console's bar)."""
        self._each("progress", step)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        self._each("scalars", step, values)

    def images(self, step: int, name: str, grid) -> None:
        self._each("images", step, name, grid)

    def table(self, step: int, name: str, columns: list[str], rows: list[list]) -> None:
        self._each("table", step, name, columns, rows)

    def text(self, step: int, name: str, text: str) -> None:
        self._each("text", step, name, text)

    def checkpoint(self, step: int, path: Path) -> None:
        self._each("checkpoint", step, path)

    def rewind(self, step: int) -> None:
        """Training went back to ``step`` (a rollback): sinks that can, forget what came after it."""
        self._each("rewind", step)

    def close(self) -> None:
        self._each("close")
