"""Run folders: ``<output_dir>/<name>-<YYYYmmdd-HHMMSS>/``, and the one home of the names inside.

Inside: ``recipe.toml`` (the resolved recipe), ``metrics.jsonl``,
``evaluations.jsonl``, ``samples/step_00000800.png``,
``checkpoints/step_00000800.npz`` and, once written, ``report.html``.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, runs are not guarded
    fcntl = None

from ganforge.errors import CheckpointError
from ganforge.runs.checkpoint import list_checkpoints

RECIPE_FILE = "recipe.toml"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
METRICS = "metrics.jsonl"  # one record per logged step
EVALUATIONS = "evaluations.jsonl"  # each evaluation, with what it depended on
REPORT = "report.html"  # `ganforge report`'s page
LOCK = ".lock"  # held by the process training in the folder; its text says which one


def create(output_dir: Path, name: str, recipe_toml: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CheckpointError(f"{output_dir}: cannot create the output folder ({error.strerror or error})") from None
    for attempt in range(100):
        folder = output_dir / (f"{name}-{stamp}" if attempt == 0 else f"{name}-{stamp}-{attempt}")
        try:
            folder.mkdir()
            break
        except FileExistsError:
            continue
        except OSError as error:
            raise CheckpointError(f"{folder}: cannot create the run folder ({error.strerror or error})") from None
    else:  # pragma: no cover - a hundred runs of one name in one second
        raise CheckpointError(f"{output_dir}: cannot create a new run folder for {name!r}")
    write_recipe(folder, recipe_toml)
    return folder


def write_recipe(folder: Path, recipe_toml: str) -> None:
    temporary = folder / f".{RECIPE_FILE}.tmp"
    temporary.write_text(recipe_toml, encoding="utf-8")
    os.replace(temporary, folder / RECIPE_FILE)


def is_run(folder: Path) -> bool:
    return (folder / RECIPE_FILE).is_file()


def latest_run(output_dir: Path, name: str) -> Path | None:
    """The newest run folder of recipe ``name`` that has a checkpoint."""
    if not output_dir.is_dir():
        return None
    pattern = re.compile(rf"^{re.escape(name)}-\d{{8}}-\d{{6}}(-\d+)?$")
    runs = [
        folder
        for folder in output_dir.iterdir()
        if pattern.match(folder.name) and is_run(folder) and list_checkpoints(folder / CHECKPOINTS)
    ]
    return max(runs, key=lambda folder: folder.name, default=None)


@contextlib.contextmanager
def held(folder: Path):
    """Hold ``folder`` for this process while it trains; a second process gets a CheckpointError naming the first.

    An flock on ``.lock``: the kernel drops it when the process ends, however
    it ends (kill -9 included), so a lock is never left stale. Advisory, and
    only as reliable as the filesystem's locks (fine locally; NFS varies).
    """
    if fcntl is None:
        yield
        return
    handle = open(folder / LOCK, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise CheckpointError(f"{folder} is being trained by {owner}; wait for it to finish or stop it first") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock
