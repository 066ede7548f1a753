"""``metrics.jsonl``: one JSON object per logged step, ``{"step": N, "loss/generator": ...}``."""
from __future__ import annotations

import json
import os
from pathlib import Path


class JsonlSink:
    FILE = "metrics.jsonl"

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / self.FILE
        self._file = None

    def start(self, total_steps: int, first_step: int) -> None:
        if first_step > 0 and self.path.exists():
            self._drop_records_after(first_step)
        self._file = open(self.path, "a", encoding="utf-8")

    def _drop_records_after(self, step: int) -> None:
        # A resumed run repeats the steps after its checkpoint; the records an
        # interrupted run wrote for them would otherwise appear twice.
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except json.JSONDecodeError:
                continue  # a line cut short by the interruption
        temporary = self.path.with_name(f".{self.FILE}.tmp")
        temporary.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(temporary, self.path)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        self._file.write(json.dumps({"step": step, **values}) + "\n")
        self._file.flush()

    def images(self, step, name, grid) -> None:
        pass

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None
