"""Checkpoints: every variable needed to continue a run, in one .npz file.

A checkpoint holds groups of variables (generator, discriminator and both
optimizers' slots and step counters) plus a JSON header with the step, the
seed, each variable's path and shape, and a SHA-256 of all the arrays.
Plain arrays, no pickle: loading a checkpoint cannot run code. Files are
written under a temporary name, flushed to disk and renamed, so a crash
mid-write never leaves a file that looks complete; the checksum catches
what a bad disk or a copy cut short does to one later.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.errors import CheckpointError

FORMAT_VERSION = 1
HEADER_KEY = "__header__"
NAME_PATTERN = re.compile(r"^step_(\d{8})\.npz$")
BEST = "best.npz"  # beside the step files; never pruned by ``keep``

# What reading a damaged file can raise, found by fuzzing: besides the zip and I/O errors, a flipped
# byte in an array's header reaches NumPy's header parser (SyntaxError, tokenize.TokenError), a
# flipped shape can ask for more memory than exists, a flipped length breaks decompression.
UNREADABLE = (
    KeyError,
    ValueError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    SyntaxError,
    tokenize.TokenError,
    MemoryError,
    UnicodeDecodeError,
    struct.error,
    OverflowError,
)


def checkpoint_path(folder: Path, step: int) -> Path:
    return folder / f"step_{step:08d}.npz"


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(step, path) of every finished checkpoint in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), path) for path in folder.iterdir() if (m := NAME_PATTERN.match(path.name))]
    return sorted(found)


def remove_partial_files(folder: Path) -> list[Path]:
    """Delete what a process killed mid-write left behind (never a finished checkpoint); returns them.

    Only regular files, as ``_write`` makes them: anything else under such a
    name was put there by someone else, on purpose.
    """
    found = sorted(folder.glob(".*.partial")) if folder.is_dir() else []
    partial = [path for path in found if path.is_file() and not path.is_symlink()]
    for path in partial:
        path.unlink(missing_ok=True)
    return partial


def save(folder: Path, step: int, groups: dict[str, list[Any]], extra: dict[str, Any], keep: int) -> Path:
    """Write ``groups`` (name -> Keras variables) at ``step``; keep the newest ``keep`` files."""
    target = _write(checkpoint_path(folder, step), step, groups, extra)
    for _, old in list_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return target


def save_best(folder: Path, step: int, groups: dict[str, list[Any]], extra: dict[str, Any]) -> Path:
    """Replace ``best.npz`` (``extra`` says by which measure it is best)."""
    return _write(folder / BEST, step, groups, extra)


def _arrays(groups: dict[str, list[Any]]) -> tuple[dict[str, np.ndarray], dict[str, list[list[Any]]]]:
    """Every variable's value under its name in the file, and the layout (each one's path and shape)."""
    arrays: dict[str, np.ndarray] = {}
    layout: dict[str, list[list[Any]]] = {}
    for group, variables in groups.items():
        layout[group] = []
        for index, variable in enumerate(variables):
            value = np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)
            arrays[f"{group}/{index:05d}"] = value
            layout[group].append([variable.path, list(value.shape)])
    return arrays, layout


def fingerprint(groups: dict[str, list[Any]]) -> str:
    """The SHA-256 a checkpoint of ``groups`` would carry: equal on every worker of a distributed run."""
    return _digest(_arrays(groups)[0])


def _write(target: Path, step: int, groups: dict[str, list[Any]], extra: dict[str, Any]) -> Path:
    """Write to a temporary name, flush to disk, then rename: a crash leaves the old file or the new one."""
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    arrays, layout = _arrays(groups)
    header = {"format": FORMAT_VERSION, "step": step, "layout": layout, "sha256": _digest(arrays), **extra}
    header["header_sha256"] = _header_digest(header)
    arrays[HEADER_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)

    temporary = folder / f".{target.name}.partial"
    try:
        with open(temporary, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except OSError as error:
        # a full disk: drop the partial file (freeing its space), keep every finished one
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        if error.filename is None:
            error.filename = str(target)
        raise
    _fsync_folder(folder)
    return target


def _digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over every array's name, shape, dtype and bytes, in name order."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        value = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}|{value.shape}|{value.dtype.str}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _header_digest(header: dict[str, Any]) -> str:
    """SHA-256 of the header itself (step, seed, layout, ...), so an edited step cannot pass as the real one."""
    covered = {key: value for key, value in header.items() if key != "header_sha256"}
    return hashlib.sha256(json.dumps(covered, sort_keys=True).encode()).hexdigest()


def verify(path: Path) -> dict[str, Any]:
    """The header, after checking it and every array against the checksums it holds.

    Catches what a crash or a bad disk leaves behind: a truncated file, a
    flipped byte, a missing array. Checkpoints from before checksums pass.
    """
    with _open(path) as archive:
        header = _header(archive, path)
        expected = header.get("sha256")
        if expected is None:
            return header
        try:
            arrays = {key: archive[key] for key in archive.files if key != HEADER_KEY}
        except UNREADABLE as error:
            raise CheckpointError(f"{path}: damaged ({error})") from None
    # checkpoints from before header checksums carry only the arrays' one
    header_changed = "header_sha256" in header and _header_digest(header) != header["header_sha256"]
    if header_changed or _digest(arrays) != expected:
        raise CheckpointError(f"{path}: damaged (its contents do not match the checksum written with it)")
    return header


def newest_good(folder: Path, warn) -> tuple[int, Path] | None:
    """The newest checkpoint that verifies; ``warn(message)`` is told of each damaged one skipped."""
    for step, path in reversed(list_checkpoints(folder)):
        try:
            verify(path)
            return step, path
        except CheckpointError as error:
            warn(f"{error}; trying the checkpoint before it")
    return None


def read_header(path: Path) -> dict[str, Any]:
    with _open(path) as archive:
        return _header(archive, path)


def restore(path: Path, groups: dict[str, list[Any]]) -> dict[str, Any]:
    """Assign the saved values to ``groups``' variables; returns the header.

    Everything is checked before anything is assigned, so a mismatched
    checkpoint leaves the models untouched.
    """
    verify(path)
    with _open(path) as archive:
        header = _header(archive, path)
        layout = header["layout"]
        if set(layout) != set(groups):
            raise CheckpointError(f"{path}: holds {sorted(layout)}, expected {sorted(groups)}")
        values = _read_checked(archive, path, layout, groups)
    for (group, index), value in values.items():
        groups[group][index].assign(value)
    return header


def restore_group(path: Path, group: str, variables: list[Any]) -> dict[str, Any]:
    """Assign one saved group (say, the generator) to ``variables``; returns the header."""
    verify(path)
    with _open(path) as archive:
        header = _header(archive, path)
        if group not in header["layout"]:
            raise CheckpointError(f"{path}: holds no {group} (it has {', '.join(sorted(header['layout']))})")
        values = _read_checked(archive, path, header["layout"], {group: variables})
    for (_, index), value in values.items():
        variables[index].assign(value)
    return header


def _read_checked(archive, path: Path, layout: dict, groups: dict[str, list[Any]]) -> dict:
    """The saved arrays for ``groups``, after checking every count and shape against the models."""
    values = {}
    for group, variables in groups.items():
        saved = list(enumerate(layout[group]))  # (index in the file, [path, shape])
        if group.endswith("_optimizer") and len(saved) == len(variables) + 1:
            # written before learning rates were scaled schedules: a constant rate was then an optimizer
            # variable of its own; it holds the recipe's rate, which the schedule now computes
            saved = [(stored, entry) for stored, entry in saved if not entry[0].endswith("/learning_rate")]
        if len(saved) != len(variables):
            raise CheckpointError(
                f"{path}: {group} has {len(layout[group])} variables, the model built from the recipe has {len(variables)} "
                "(was the recipe's model changed since the run started?)"
            )
        for index, (variable, (stored, (saved_path, saved_shape))) in enumerate(zip(variables, saved)):
            if list(variable.shape) != saved_shape:
                raise CheckpointError(
                    f"{path}: {group} variable {saved_path} has shape {saved_shape}, the model's "
                    f"{variable.path} has {list(variable.shape)}"
                )
            try:
                values[group, index] = archive[f"{group}/{stored:05d}"]
            except UNREADABLE as error:
                raise CheckpointError(f"{path}: damaged ({group} variable {stored}: {error})") from None
    return values


def _open(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except UNREADABLE as error:
        raise CheckpointError(f"{path}: not a readable checkpoint ({error})") from None


def _header(archive, path: Path) -> dict[str, Any]:
    try:
        header = json.loads(bytes(archive[HEADER_KEY]).decode())
    except UNREADABLE as error:
        raise CheckpointError(f"{path}: not a ganforge checkpoint ({error})") from None
    if header.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {header.get('format')}, this ganforge reads {FORMAT_VERSION}")
    return header


def _fsync_folder(folder: Path) -> None:
    # the rename itself must reach the disk, or a power cut can undo it
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
