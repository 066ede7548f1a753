"""Fanning the loop's records out to every sink.

A dashboard that breaks must never lose a run: a sink that raises is
reported once (a warning, logged) and dropped, and training goes on. Which of the
(all optional) sink methods each sink has is looked up once, when it is
built.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ganforge.plugin.contract import supports
from ganforge.plugin.registry import Registry

logger = logging.getLogger(__name__)


class SinkSet:
    def __init__(self, sinks: list[tuple[str, dict[str, Any]]]):
        self._sinks = sinks  # (name, {method: bound method or None})

    @classmethod
    def open(cls, recipe, run_dir: Path, registry: Registry) -> SinkSet:
        """Build each sink the recipe lists: a bare name, or a table of its name and parameters.

        A sink that cannot even be built is reported and left out, like one that fails later.
        """
        sinks = []
        for position in range(len(recipe.data["sinks"])):
            section = f"sinks[{position}]"
            name = recipe.table(section)["name"]
            try:
                sink = recipe.build(section, registry, run_dir)
            except Exception as error:
                logger.warning(f"sink {name!r} could not start and is left out: {type(error).__name__}: {error}")
                continue
            sinks.append((name, supports("sink", sink)))
        return cls(sinks)

    def _each(self, method: str, *args: Any) -> None:
        for entry in list(self._sinks):
            name, handlers = entry
            if handlers[method] is None:
                continue
            try:
                handlers[method](*args)
            except Exception as error:
                logger.warning(
                    f"sink {name!r} failed in {method}() and is switched off: {type(error).__name__}: {error}"
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
