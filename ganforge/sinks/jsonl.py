"""``metrics.jsonl``: one JSON object per logged step, ``{"step": N, "loss/generator": ...}``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path


def keep_records(path: Path, keep: Callable[[dict], bool]) -> None:
    """Rewrite a JSON-lines file with only the records ``keep`` accepts.

    A resumed run repeats the steps after its checkpoint; the records an
    interrupted run wrote for them would otherwise appear twice.
    """
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if keep(json.loads(line)):
                kept.append(line)
        except json.JSONDecodeError:
            continue  # a line cut short by the interruption
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    os.replace(temporary, path)


class JsonlSink:
    FILE = "metrics.jsonl"

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / self.FILE
        self._file = None

    def start(self, total_steps: int, first_step: int) -> None:
        if first_step > 0:  # a resumed or rolled-back run repeats the steps after first_step
            keep_records(self.path, lambda record: record.get("step", 0) <= first_step)
        self._file = open(self.path, "a", encoding="utf-8")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        self._file.write(json.dumps({"step": step, **values}) + "\n")
        self._file.flush()

    def images(self, step, name, grid) -> None:
        pass

    def rewind(self, step: int) -> None:
        self.close()
        self.start(0, step)

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None
