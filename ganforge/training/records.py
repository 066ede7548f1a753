"""Fanning the loop's records out to every sink.

A dashboard that breaks must never lose a run: a sink that raises is
reported once on stderr and dropped, and training goes on.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ganforge.registry import Registry


class SinkSet:
    def __init__(self, sinks: list[tuple[str, Any]]):
        self._sinks = sinks

    @classmethod
    def open(cls, names: list[str], run_dir: Path, registry: Registry) -> "SinkSet":
        return cls([(name, registry.get("sink", name).load_factory()(run_dir)) for name in names])

    def _each(self, method: str, *args: Any) -> None:
        for entry in list(self._sinks):
            name, sink = entry
            handler = getattr(sink, method, None)
            if handler is None:
                continue
            try:
                handler(*args)
            except Exception as error:
                print(f"ganforge: sink {name!r} failed in {method}() and is switched off: {type(error).__name__}: {error}", file=sys.stderr)
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

    def close(self) -> None:
        self._each("close")
