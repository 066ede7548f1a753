import os
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from pydantic import Field

from ganforge.data.cache import CachedImageDataset, FolderSource, ZipSource, open_zip
from ganforge.data.imagefiles import IMAGE_SUFFIXES, Preprocess
from ganforge.data.labels import LabelSpec
from ganforge.data.params import CacheDir, OnError, Resolution
from ganforge.errors import DataError


def list_folder(root: Path) -> list[str]:
    """Image files under ``root`` (hidden folders skipped), relative and sorted."""
    names = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        names.extend(
            str((Path(folder) / name).relative_to(root))
            for name in files
            if Path(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith(".")
        )
    return sorted(names)


def list_zip(path: Path) -> list[str]:
    with open_zip(path) as archive:
        return sorted(
            info.filename
            for info in archive.infolist()
            if not info.is_dir()
            and Path(info.filename).suffix.lower() in IMAGE_SUFFIXES
            and not Path(info.filename).name.startswith(".")
            and "__MACOSX" not in info.filename
        )


def folder_classes(path: Path, names: list[str], labels: str) -> tuple[dict[str, int], LabelSpec] | tuple[None, None]:
    """Each file's class, its first-level folder (``cat/1.jpg``: ``cat``), when ``labels`` asks for them."""
    parts = [PurePosixPath(name.replace(os.sep, "/")).parts for name in names]  # zip names use / everywhere
    folders = [p[0] if len(p) > 1 else None for p in parts]
    classes = sorted({folder for folder in folders if folder is not None})
    loose = [name for name, folder in zip(names, folders) if folder is None]
    if labels == "none" or (labels == "auto" and (loose or len(classes) < 2)):
        return None, None
    if loose:
        raise DataError(f'{path / loose[0]}: labels = "folders" needs every image in a class subfolder')
    if len(classes) < 2:
        raise DataError(f'{path}: labels = "folders" needs two or more class subfolders, found {classes}')
    number = {name: index for index, name in enumerate(classes)}
    return {name: number[folder] for name, folder in zip(names, folders)}, LabelSpec("classes", tuple(classes))


Crop = Annotated[
    Literal["none", "center", "center178", "center160", "center140"],
    Field(
        description="none: squash the frame to a square; center: the largest centred square; centerN: a centred NxN box"
    ),
]
Labels = Annotated[
    Literal["auto", "folders", "none"],
    Field(
        description="folders: each first-level subfolder is a class (root/cat/1.jpg is a cat); "
        "auto: so when every image sits in one of two or more subfolders, else no labels; none: no labels"
    ),
]


def images_dataset(
    root: Annotated[str, Field(description="folder of images (searched recursively) or a .zip of them")],
    crop: Crop = "center",
    resolution: Resolution = 64,
    channels: Annotated[Literal[1, 3], Field(description="3: RGB, 1: grayscale")] = 3,
    on_error: OnError = "skip",
    cache_dir: CacheDir = None,
    labels: Labels = "auto",
):
    path = Path(root).expanduser()
    if path.is_file() and path.suffix.lower() == ".zip":
        source, names = ZipSource(path), list_zip(path)
    elif path.is_dir():
        source, names = FolderSource(path), list_folder(path)
    elif path.exists():
        raise DataError(f"{path}: expected a folder of images or a .zip of them")
    else:
        raise DataError(f"{path}: no such folder")
    if not names:
        raise DataError(f"{path}: no image files ({', '.join(s[1:] for s in IMAGE_SUFFIXES)}) found")
    classes, label_spec = folder_classes(path, names, labels)
    return CachedImageDataset(
        f"images-{path.name}",
        source,
        names,
        Preprocess(crop, resolution, channels),
        cache_root=Path(cache_dir).expanduser() if cache_dir else None,
        on_error=on_error,
        labels=classes,
        label_spec=label_spec,
    )
