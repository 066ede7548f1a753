"""Prepared image caches: decode, crop and resize once, train from a memory map.

Decoding JPEGs at every step is what makes a naive training loop slow.
ganforge decodes a dataset's images once, in parallel on every core, into
one uint8 array on disk (``images.npy``), and training reads batches from
it through a memory map: memory stays flat whatever the dataset's size.

A cache folder is trusted only when its ``manifest.json`` exists and matches
the sources (every file's name, size and modification time, or a zip
member's size and CRC), the preprocessing options and the format version.
The manifest is written last, into a temporary folder that is renamed into
place only when complete; an interrupted build leaves at most a
``.partial`` folder, which is never read and is removed by the next build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.data import DataSpec
from ganforge.data.imagefiles import Preprocess, decode
from ganforge.data.labels import LabelSpec, require_pair
from ganforge.errors import DataError

logger = logging.getLogger(__name__)
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
IMAGES = "images.npy"
CHUNK = 256  # images per worker task
IN_PROCESS_BELOW = 512  # smaller sources decode in this process: no pool start-up


def default_cache_root() -> Path:
    """``$GANFORGE_CACHE``, else ``$XDG_CACHE_HOME/ganforge``, else ``~/.cache/ganforge``."""
    if os.environ.get("GANFORGE_CACHE"):
        return Path(os.environ["GANFORGE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ganforge"


# -- sources ------------------------------------------------------------
@dataclass(frozen=True)
class FolderSource:
    """Image files under ``root``, named by their path relative to it."""

    root: Path

    def identity(self) -> dict[str, str]:
        return {"kind": "folder", "root": str(self.root.resolve())}

    def fingerprint(self, names: list[str]) -> list[list[Any]]:
        rows = []
        for name in names:
            try:
                stat = (self.root / name).stat()
            except OSError as error:
                raise DataError(f"{self.root / name}: cannot read ({error.strerror})") from None
            rows.append([name, stat.st_size, stat.st_mtime_ns])
        return rows


@dataclass(frozen=True)
class ZipSource:
    """Members of a zip file, named by their path inside it."""

    path: Path

    def identity(self) -> dict[str, str]:
        return {"kind": "zip", "root": str(self.path.resolve())}

    def fingerprint(self, names: list[str]) -> list[list[Any]]:
        with open_zip(self.path) as archive:
            infos = {info.filename: info for info in archive.infolist()}
        return [[name, infos[name].file_size, infos[name].CRC] for name in names]


def open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise DataError(f"{path}: not a zip file (is the download complete?)") from None
    except OSError as error:
        raise DataError(f"{path}: cannot open ({error.strerror or error})") from None


def _decode_chunk(
    identity: dict[str, str], names: list[str], start: int, images_path: str, preprocess: dict
) -> list[tuple[int, str, str]]:
    """Worker: decode ``names`` into rows ``start...`` of the cache; returns the failures."""
    options = Preprocess(**preprocess)
    images = np.load(images_path, mmap_mode="r+", allow_pickle=False)
    failures = []
    archive = zipfile.ZipFile(identity["root"]) if identity["kind"] == "zip" else None
    try:
        for offset, name in enumerate(names):
            try:
                if archive is not None:
                    data = archive.read(name)
                else:
                    data = (Path(identity["root"]) / name).read_bytes()
                images[start + offset] = decode(data, options)
            except (ValueError, OSError, KeyError, zipfile.BadZipFile) as error:
                failures.append((start + offset, name, str(error)))
    finally:
        if archive is not None:
            archive.close()
        images.flush()
        del images
    return failures


# -- the cache ----------------------------------------------------------
@dataclass
class ImageCache:
    folder: Path
    images: np.ndarray  # read-only memory map, (N, H, W, C) uint8
    names: list[str]
    skipped: list[dict[str, str]]

    def rows(self) -> dict[str, int]:
        """Row of each image that decoded (skipped ones are absent)."""
        bad = {entry["name"] for entry in self.skipped}
        return {name: row for row, name in enumerate(self.names) if name not in bad}


def cache_folder(cache_root: Path, label: str, source, preprocess: Preprocess) -> Path:
    key = json.dumps(
        {"format": FORMAT_VERSION, "source": source.identity(), "preprocess": preprocess.as_dict()}, sort_keys=True
    )
    return cache_root / f"{label}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def prepare_cache(
    source,
    names: list[str],
    preprocess: Preprocess,
    cache_root: Path,
    *,
    label: str,
    on_error: str = "skip",
    workers: int | None = None,
) -> ImageCache:
    """The cache for ``names`` of ``source``: reused when the manifest matches, else built."""
    if not names:
        raise DataError(f"{source.identity()['root']}: no images to prepare")
    folder = cache_folder(cache_root, label, source, preprocess)
    manifest = {
        "format": FORMAT_VERSION,
        "source": source.identity(),
        "preprocess": preprocess.as_dict(),
        "files": source.fingerprint(names),
    }
    existing = _read_manifest(folder)
    if existing is not None and {k: existing.get(k) for k in manifest} == manifest:
        return _open(folder, existing)
    return _build(source, names, preprocess, folder, manifest, on_error=on_error, workers=workers, label=label)


def _read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _open(folder: Path, manifest: dict) -> ImageCache:
    try:
        images = np.load(folder / IMAGES, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DataError(f"{folder / IMAGES}: damaged cache ({error}); delete {folder} to rebuild it") from None
    names = [row[0] for row in manifest["files"]]
    if images.shape[0] != len(names):
        raise DataError(
            f"{folder}: damaged cache ({images.shape[0]} rows for {len(names)} files); delete it to rebuild"
        )
    return ImageCache(folder, images, names, manifest.get("skipped", []))


def _remove_abandoned_builds(folder: Path) -> None:
    for partial in folder.parent.glob(f".{folder.name}.partial-*"):
        pid = partial.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether a process of this machine still runs (a build folder named by its pid is abandoned otherwise)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _build(source, names, preprocess, folder, manifest, *, on_error, workers, label) -> ImageCache:
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"{folder.parent}: cannot create the cache folder ({error.strerror or error})") from None
    _remove_abandoned_builds(folder)
    partial = folder.parent / f".{folder.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        shape = (len(names), preprocess.resolution, preprocess.resolution, preprocess.channels)
        images = np.lib.format.open_memmap(partial / IMAGES, mode="w+", dtype=np.uint8, shape=shape)
        del images  # workers write through their own maps
        failures = _decode_all(
            source, names, preprocess, partial / IMAGES, on_error=on_error, workers=workers, label=label
        )
        if len(failures) == len(names):
            raise DataError(
                f"{source.identity()['root']}: none of the {len(names)} files is a readable image "
                f"(first: {failures[0][1]}: {failures[0][2]})"
            )
        manifest = {**manifest, "skipped": [{"name": name, "error": error} for _, name, error in failures]}
        with open(partial / MANIFEST, "w") as file:
            json.dump(manifest, file)
            file.flush()
            os.fsync(file.fileno())
        _swap_into_place(partial, folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if failures:
        shown = "; ".join(f"{name}: {error}" for _, name, error in failures[:5])
        more = f" and {len(failures) - 5} more (listed in {folder / MANIFEST})" if len(failures) > 5 else ""
        logger.warning(f"skipped {len(failures)} unreadable image(s) of {len(names)}: {shown}{more}")
    return _open(folder, manifest)


def _swap_into_place(partial: Path, folder: Path) -> None:
    old = None
    if folder.exists():
        old = folder.parent / f".{folder.name}.old-{os.getpid()}"
        os.replace(folder, old)
    os.replace(partial, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _decode_all(
    source, names, preprocess, images_path: Path, *, on_error, workers, label
) -> list[tuple[int, str, str]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    identity, options = source.identity(), preprocess.as_dict()
    chunks = [(start, names[start : start + CHUNK]) for start in range(0, len(names), CHUNK)]
    failures: list[tuple[int, str, str]] = []
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    progress = Progress(
        TextColumn(f"preparing {label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("images"),
        TimeRemainingColumn(),
        transient=True,
        disable=not sys.stderr.isatty(),
    )

    def collect(found: list[tuple[int, str, str]]) -> None:
        failures.extend(found)
        if found and on_error == "fail":
            _, name, error = found[0]
            raise DataError(f'{name}: {error} (set on_error = "skip" to leave unreadable images out)')

    if progress.disable:  # a log, not a terminal: a line before and after instead of a bar
        logger.info(f"preparing {label}: decoding {len(names)} images into a cache in {images_path.parent.parent}")
    with progress:
        task = progress.add_task(label, total=len(names))
        if len(names) < IN_PROCESS_BELOW or workers <= 1:
            for start, chunk in chunks:
                collect(_decode_chunk(identity, chunk, start, str(images_path), options))
                progress.advance(task, len(chunk))
        else:
            # spawn, not fork: the parent may already run TensorFlow's threads
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                futures = {
                    pool.submit(_decode_chunk, identity, chunk, start, str(images_path), options): len(chunk)
                    for start, chunk in chunks
                }
                try:
                    for future in as_completed(futures):
                        collect(future.result())
                        progress.advance(task, futures[future])
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
    if progress.disable:
        logger.info(f"prepared {label}: {len(names) - len(failures)} images")
    return sorted(failures)


# -- a dataset backed by a cache ----------------------------------------
class CachedImageDataset:
    """Image files decoded into a cache the first time the dataset is used.

    ``names`` lists every file the cache holds; ``selection`` (optional) the
    subset this dataset serves, e.g. one CelebA split, so switching splits
    or attribute filters never decodes again. ``labels`` (optional, with
    ``label_spec``) gives each served file's label, by file name, so that a
    skipped unreadable file takes its label with it.
    """

    def __init__(
        self,
        label: str,
        source,
        names: list[str],
        preprocess: Preprocess,
        *,
        cache_root: Path | None = None,
        on_error: str = "skip",
        selection: list[str] | None = None,
        labels: dict[str, Any] | None = None,
        label_spec: LabelSpec | None = None,
    ):
        self.label = label
        self.source = source
        self.names = names
        self.preprocess = preprocess
        self.cache_root = cache_root or default_cache_root()
        self.on_error = on_error
        self.selection = selection
        self.spec = DataSpec(preprocess.resolution, preprocess.resolution, preprocess.channels)
        self.cache: ImageCache | None = None
        self._rows: np.ndarray | None = None
        require_pair(labels, label_spec)
        self._labels_by_name = labels
        self._labels: np.ndarray | None = None
        if label_spec is not None:  # only labelled data has the member: its absence says "unlabelled"
            self.label_spec = label_spec

    @property
    def listed(self) -> int:
        """How many images, without decoding: the files listed, or the exact count once prepared."""
        if self._rows is not None:
            return len(self._rows)
        return len(self.selection if self.selection is not None else self.names)

    def prepare(self) -> ImageCache:
        if self.cache is None:
            self.cache = prepare_cache(
                self.source, self.names, self.preprocess, self.cache_root, label=self.label, on_error=self.on_error
            )
            rows = self.cache.rows()
            wanted = self.selection if self.selection is not None else self.names
            self._rows = np.array(sorted(rows[name] for name in wanted if name in rows), dtype=np.int64)
            if len(self._rows) == 0:
                raise DataError(f"{self.label}: no readable images left to train on")
            if self._labels_by_name is not None:
                served = [self._labels_by_name[self.cache.names[row]] for row in self._rows]
                self._labels = self.label_spec.check(np.array(served), len(served))
        return self.cache

    def __len__(self) -> int:
        self.prepare()
        return len(self._rows)

    def read(self, indices: np.ndarray) -> np.ndarray:
        self.prepare()
        return self.cache.images[self._rows[indices]]

    def labels(self, indices: np.ndarray) -> np.ndarray:
        if self._labels_by_name is None:
            raise TypeError(f"{self.label} has no labels")
        self.prepare()
        return self._labels[indices]
