"""Reading an offline W&B run back: wandb 0.31 has no Python reader for its ``.wandb`` files any more.

The file is a 7-byte header (``:W&B``, a magic number, a version) followed by
LevelDB-log framing: 32 KiB blocks of chunks, each with a 7-byte header
(CRC32C, length, type: 1 full, 2 first, 3 middle, 4 last). Each reassembled
payload is a ``wandb_internal_pb2.Record``.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def payloads(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    position, found, pending = 7, [], b""
    while position + 7 <= len(data):
        left_in_block = BLOCK - position % BLOCK
        if left_in_block < 7:  # too small for a chunk header: the writer padded it
            position += left_in_block
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        body = data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind == FULL:
            found.append(body)
        elif kind == FIRST:
            pending = body
        elif kind == MIDDLE:
            pending += body
        elif kind == LAST:
            found.append(pending + body)
        else:  # zeros: the rest of the block is padding
            position += BLOCK - position % BLOCK if position % BLOCK else 0
    return found


def records(path: Path):
    from wandb.proto import wandb_internal_pb2

    return [wandb_internal_pb2.Record.FromString(payload) for payload in payloads(path)]


def history(path: Path) -> list[dict]:
    """Each logged row as ``{"_step": N, key: value}``, values decoded from JSON."""
    rows = []
    for record in records(path):
        if record.WhichOneof("record_type") != "history":
            continue
        row = {}
        for item in record.history.item:
            key = item.key or "/".join(item.nested_key)
            row[key] = json.loads(item.value_json)
        row["_step"] = record.history.step.num
        rows.append(row)
    return rows


def config(path: Path) -> dict:
    """The run's config: set with the run record, updated by config records."""
    merged = {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        updates = record.run.config.update if kind == "run" else record.config.update if kind == "config" else []
        for item in updates:
            merged[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return merged


def run_id(path: Path) -> str:
    for record in records(path):
        if record.WhichOneof("record_type") == "run":
            return record.run.run_id
    raise AssertionError(f"{path} holds no run record")


def artifacts(path: Path) -> list[tuple[str, list[str], list[str]]]:
    """(type, aliases, file paths) of each artifact the run logged."""
    return [
        (
            record.artifact.type,
            sorted(record.artifact.aliases),
            [entry.path for entry in record.artifact.manifest.contents],
        )
        for record in records(path)
        if record.WhichOneof("record_type") == "artifact"
    ]
