"""JSON-lines records in a run folder (``metrics.jsonl``, ``evaluations.jsonl``): appended one per line,
and cut back to a step when a run resumes or rolls back."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path


def append(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(record) + "\n")


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
