"""``metrics.jsonl``: one JSON object per logged step, ``{"step": N, "loss/generator": ...}``."""

from __future__ import annotations

import json
from pathlib import Path

from ganforge.runs.folder import METRICS
from ganforge.runs.records import keep_records


class JsonlSink:
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / METRICS
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
