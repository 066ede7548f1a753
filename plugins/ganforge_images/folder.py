import os
from pathlib import Path

from ganforge.data.cache import CachedImageDataset, FolderSource, ZipSource, open_zip
from ganforge.data.imagefiles import IMAGE_SUFFIXES, Preprocess
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


def images_dataset(root, crop="center", resolution=64, channels=3, on_error="skip", cache_dir=None):
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
    return CachedImageDataset(
        f"images-{path.name}",
        source,
        names,
        Preprocess(crop, resolution, channels),
        cache_root=Path(cache_dir).expanduser() if cache_dir else None,
        on_error=on_error,
    )
