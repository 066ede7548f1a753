"""Reading CelebA's files: the images, the official partition, the attributes.

Both distributions are understood: the original text files
(``list_eval_partition.txt``, ``list_attr_celeba.txt``) and the CSV files of
the widely used Kaggle copy (``list_eval_partition.csv``,
``list_attr_celeba.csv``).
"""

from __future__ import annotations

import csv
import difflib
import os
from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import Field

from ganforge.data.cache import CachedImageDataset, FolderSource, ZipSource, open_zip
from ganforge.data.imagefiles import Preprocess
from ganforge.data.labels import LabelSpec
from ganforge.data.params import CacheDir, OnError, Resolution
from ganforge.errors import DataError

IMAGE_FOLDER = "img_align_celeba"
IMAGE_ZIP = "img_align_celeba.zip"
PARTITION = "list_eval_partition"
ATTRIBUTES = "list_attr_celeba"
SPLITS = {"train": "0", "val": "1", "test": "2"}

LAYOUT = f"""expected layout:
  <root>/{IMAGE_FOLDER}/000001.jpg ... 202599.jpg   (or <root>/{IMAGE_ZIP})
  <root>/{PARTITION}.txt   (needed for split = train, val or test)
  <root>/{ATTRIBUTES}.txt     (needed for attribute filters)
CelebA comes from its authors' page (search "CelebA dataset", mmlab.ie.cuhk.edu.hk)
or the Kaggle copy "celeba-dataset"; point ganforge at it with --set dataset.root=PATH
or GANFORGE_CELEBA=PATH (docs/datasets.md)."""


def candidate_roots(root: str | None) -> list[Path]:
    if root is not None:
        return [Path(root).expanduser()]
    found = [Path(os.environ["GANFORGE_CELEBA"]).expanduser()] if os.environ.get("GANFORGE_CELEBA") else []
    return found + [Path.home() / "datasets" / "celeba", Path("data") / "celeba"]


def find_root(root: str | None) -> Path:
    candidates = candidate_roots(root)
    for candidate in candidates:
        if (candidate / IMAGE_FOLDER).is_dir() or (candidate / IMAGE_ZIP).is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise DataError(f"CelebA not found: looked for {IMAGE_FOLDER}/ or {IMAGE_ZIP} in {looked}\n{LAYOUT}")


def image_source(root: Path):
    """The source and the names of its JPEGs, keyed by file name (000001.jpg)."""
    folder = root / IMAGE_FOLDER
    if folder.is_dir():
        names = sorted(name for name in os.listdir(folder) if name.lower().endswith(".jpg"))
        source, by_file = FolderSource(folder), {name: name for name in names}
    else:
        with open_zip(root / IMAGE_ZIP) as archive:
            members = sorted(n for n in archive.namelist() if n.lower().endswith(".jpg") and "__MACOSX" not in n)
        source, by_file = ZipSource(root / IMAGE_ZIP), {Path(n).name: n for n in members}
    if not by_file:
        where = folder if folder.is_dir() else root / IMAGE_ZIP
        raise DataError(f"{where}: no .jpg images in it\n{LAYOUT}")
    return source, by_file


def _table_file(root: Path, stem: str, needed_for: str) -> Path:
    for suffix in (".txt", ".csv"):
        if (root / f"{stem}{suffix}").is_file():
            return root / f"{stem}{suffix}"
    raise DataError(f"{root / (stem + '.txt')}: missing, and the recipe needs it for {needed_for}\n{LAYOUT}")


def read_partition(root: Path) -> dict[str, str]:
    """file name -> "0" (train), "1" (val) or "2" (test)."""
    path = _table_file(root, PARTITION, "its split")
    rows = _rows(path)
    partition = {}
    for number, row in rows:
        if len(row) != 2 or row[1] not in ("0", "1", "2"):
            raise DataError(f"{path}:{number}: expected '<file> <0|1|2>', got {' '.join(row)!r}")
        partition[row[0]] = row[1]
    return partition


FLAGS = {"1": True, "-1": False, "0": False}  # CelebA writes +1/-1; some copies write 1/0


def read_attributes(root: Path) -> tuple[list[str], dict[str, list[bool]]]:
    """(attribute names, file name -> whether each attribute is set)."""
    path = _table_file(root, ATTRIBUTES, "its attributes")
    rows = _rows(path)
    if path.suffix == ".csv":
        header, body = rows[0][1][1:], rows[1:]
    else:
        # line 1: the image count; line 2: the 40 names; then one row per image
        if len(rows) < 2:
            raise DataError(f"{path}: too short to be CelebA's attribute file")
        header, body = rows[1][1], rows[2:]
        count = rows[0][1][0] if rows[0][1] else ""
        if count != str(len(body)):
            raise DataError(f"{path}:{rows[0][0]}: says {count!r} images, but {len(body)} lines follow the names")
    values = {}
    for number, row in body:
        if len(row) != len(header) + 1:
            raise DataError(f"{path}:{number}: expected a file name and {len(header)} values, got {len(row)} fields")
        bad = [v for v in row[1:] if v not in FLAGS]
        if bad:
            raise DataError(f"{path}:{number}: attribute values must be 1 or -1 (or 1 or 0), found {bad[0]!r}")
        values[row[0]] = [FLAGS[v] for v in row[1:]]
    return header, values


def attribute_index(names: list[str], attribute: str, key: str) -> int:
    """Where ``attribute`` is in the file's names; ValueError naming the recipe key and the nearest name."""
    if attribute in names:
        return names.index(attribute)
    close = difflib.get_close_matches(attribute, names, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(names)})"
    raise ValueError(f"{key}: CelebA has no attribute {attribute!r}{hint}")


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    lines = text.splitlines()
    if path.suffix == ".csv":
        parsed = list(csv.reader(lines))
        # the Kaggle CSVs carry a header line (image_id, partition / attributes)
        body = parsed[1:] if path.stem == PARTITION else parsed
        start = 2 if path.stem == PARTITION else 1
        return [(start + i, row) for i, row in enumerate(body) if row]
    return [(i + 1, line.split()) for i, line in enumerate(lines) if line.strip()]


def select(root: Path, files: list[str], split: str, attributes: dict[str, bool], table=None) -> list[str]:
    """The file names of ``split`` whose attributes match; raises ValueError if none do.
    ``table``: the attribute file as ``read_attributes`` gives it (read here when needed and not given)."""
    selected = files
    if split != "all":
        partition = read_partition(root)
        selected = [f for f in selected if partition.get(f) == SPLITS[split]]
    if attributes:
        names, values = table or read_attributes(root)
        wanted = [(attribute_index(names, a, "attributes"), bool(v)) for a, v in attributes.items()]
        selected = [f for f in selected if f in values and all(values[f][i] == v for i, v in wanted)]
    if not selected:
        raise ValueError(f"no image matches split = {split!r} and attributes = {attributes}")
    return selected


def attribute_labels(root: Path, chosen: list[str], labels: list[str], table=None) -> tuple[dict, LabelSpec]:
    """Each chosen file's 0/1 flags for the attributes ``labels`` names, in that order."""
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels: an attribute is listed twice in {labels}")
    names, values = table or read_attributes(root)
    columns = [attribute_index(names, attribute, "labels") for attribute in labels]
    missing = [file for file in chosen if file not in values]
    if missing:
        path = _table_file(root, ATTRIBUTES, "its attributes")
        raise DataError(f"{path}: no line for {missing[0]} (and {len(missing) - 1} more images)")
    flags = {file: [int(values[file][column]) for column in columns] for file in chosen}
    return flags, LabelSpec("attributes", tuple(labels))


def celeba_dataset(
    root: Annotated[
        Optional[str], Field(description="CelebA folder (default: $GANFORGE_CELEBA, ~/datasets/celeba, ./data/celeba)")
    ] = None,
    split: Annotated[
        Literal["train", "val", "test", "all"], Field(description="official partition; all = the 202,599 images")
    ] = "all",
    attributes: Annotated[
        dict[str, bool], Field(description="keep images with these attribute values, e.g. { Smiling = true }")
    ] = {},  # noqa: B006 (never changed: a recipe's default, written out as {})
    crop: Annotated[
        Literal["none", "center178", "center160", "center140"],
        Field(description="none: squash 178x218 to a square (the article); centerN: centred NxN box first"),
    ] = "none",
    resolution: Resolution = 64,
    on_error: OnError = "skip",
    cache_dir: CacheDir = None,
    labels: Annotated[
        list[str],
        Field(
            description="attributes each face carries as 0/1 labels for conditional models, "
            'e.g. ["Smiling", "Eyeglasses"] (read from the same attribute file as the filters)'
        ),
    ] = [],  # noqa: B006 (never changed)
):
    found = find_root(root)
    source, by_file = image_source(found)
    table = read_attributes(found) if attributes or labels else None  # read once for filters and labels
    chosen = select(found, sorted(by_file), split, attributes or {}, table)
    flags, label_spec = attribute_labels(found, chosen, labels, table) if labels else (None, None)
    # the cache always holds every image, so splits and filters share it
    return CachedImageDataset(
        "celeba",
        source,
        [by_file[f] for f in sorted(by_file)],
        Preprocess(crop, resolution, 3),
        cache_root=Path(cache_dir).expanduser() if cache_dir else None,
        on_error=on_error,
        selection=[by_file[f] for f in chosen],
        labels=None if flags is None else {by_file[file]: value for file, value in flags.items()},
        label_spec=label_spec,
    )
