"""Reading a PyTorch weights file (``.pth``, a saved ``state_dict``) without PyTorch and without running it.

A ``.pth`` file is a pickle, and a pickle can name any Python function for the reader to call. This
reader calls none of them: the pickle's references to globals are answered only for the handful a state
dict of plain tensors uses (an ``OrderedDict``, the tensor rebuild function, the storage types), and any
other — a pickled model class, a function — stops the reading with :class:`WeightsFileError`. Tensor bytes
are never unpickled; they are read as raw little-endian arrays.

Both of PyTorch's layouts are read: the zip archive ``torch.save`` writes since PyTorch 1.6
(``archive/data.pkl`` and one member per storage) and the older single stream (magic number, protocol,
system info, the pickle, the storage keys, then each storage as an int64 element count and its bytes).
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ZIP_OPENING = b"PK\x03\x04"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
REBUILD_FUNCTIONS = {("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")}


class WeightsFileError(ValueError):
    """The file is not a state dict of plain tensors that can be read safely and whole."""


@dataclass(frozen=True)
class _StorageType:
    dtype: type


@dataclass
class _Storage:
    key: str
    dtype: type
    count: int
    data: np.ndarray | None = None


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]

    def array(self) -> np.ndarray:
        data = self.storage.data
        if not self.shape:
            return np.array(data[self.offset])
        extent = self.offset + sum((size - 1) * stride for size, stride in zip(self.shape, self.strides)) + 1
        if min(self.shape) > 0 and extent > len(data):
            raise ValueError(f"a tensor of shape {self.shape} reaches past its storage of {len(data)} elements")
        strided = np.lib.stride_tricks.as_strided(
            data[self.offset :], self.shape, [stride * data.itemsize for stride in self.strides], writeable=False
        )
        return np.array(strided)  # a contiguous copy, independent of the file's buffer


def _rebuild_tensor(storage, offset, shape, strides, *_ignored) -> _TensorRef:
    """Stands in for ``torch._utils._rebuild_tensor_v2``: records where the tensor's numbers are."""
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor without a storage")
    return _TensorRef(storage, int(offset), tuple(int(s) for s in shape), tuple(int(s) for s in strides))


class _PlainTensors(pickle.Unpickler):
    """An unpickler that resolves only the globals of a state dict, and never to PyTorch's own code."""

    def __init__(self, file, storages: dict[str, _Storage]):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) in REBUILD_FUNCTIONS:
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        raise pickle.UnpicklingError(f"it asks for {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, element count[, view metadata in the old layout])
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and _text(pid[0]) == "storage"):
            raise pickle.UnpicklingError(f"unknown persistent reference {pid!r:.80}")
        storage_type, key, count = pid[1], _text(pid[2]), pid[4]
        if not isinstance(storage_type, _StorageType) or not isinstance(count, int):
            raise pickle.UnpicklingError(f"unknown storage {pid!r:.80}")
        if len(pid) == 6 and pid[5] is not None:
            raise pickle.UnpicklingError("it uses storage views (PyTorch before 1.0)")
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type.dtype, count)
        return self.storages[key]


def _text(value) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """The named arrays of a ``.pth`` state dict, in file order. Raises :class:`WeightsFileError`."""
    try:
        with open(path, "rb") as file:
            opening = file.read(4)
        if opening == ZIP_OPENING:  # read as a zip even when cut short: its end is where zipfile looks first
            state, storages = _read_archive(path)
        else:
            state, storages = _read_stream(path)
        return _arrays(state)
    except WeightsFileError:
        raise
    except pickle.UnpicklingError as error:
        raise WeightsFileError(
            f"{path}: not a state dict of plain tensors ({error}); ganforge reads weights without running code "
            "from the file: save model.state_dict(), not the model"
        ) from None
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, struct.error, zipfile.BadZipFile) as error:
        raise WeightsFileError(f"{path}: damaged or cut short ({type(error).__name__}: {error})") from None


def _read_archive(path: Path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [name for name in names if name.endswith("/data.pkl") or name == "data.pkl"]
        if len(pickles) != 1:
            raise WeightsFileError(f"{path}: a zip file, but not one written by torch.save (no data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        if f"{prefix}byteorder" in names and archive.read(f"{prefix}byteorder").strip() != b"little":
            raise WeightsFileError(f"{path}: saved on a big-endian machine; re-save it on a little-endian one")
        storages: dict[str, _Storage] = {}
        state = _PlainTensors(io.BytesIO(archive.read(pickles[0])), storages).load()
        for key, storage in storages.items():
            raw = archive.read(f"{prefix}data/{key}")
            storage.data = _exact(raw, storage)
    return state, storages


def _read_stream(path: Path):
    with open(path, "rb") as file:
        try:
            magic, protocol, system = [_PlainTensors(file, {}).load() for _ in range(3)]
        except pickle.UnpicklingError:
            magic = protocol = system = None
        if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL or not isinstance(system, dict):
            raise WeightsFileError(
                f"{path}: not a PyTorch weights file (neither torch.save's zip nor its older layout)"
            )
        if not system.get("little_endian", True):
            raise WeightsFileError(f"{path}: saved on a big-endian machine; re-save it on a little-endian one")
        storages: dict[str, _Storage] = {}
        state = _PlainTensors(file, storages).load()
        keys = _PlainTensors(file, {}).load()
        if not isinstance(keys, list) or sorted(map(_text, keys)) != sorted(storages):
            raise ValueError("the list of storages does not match the tensors")
        for key in map(_text, keys):
            storage = storages[key]
            (count,) = struct.unpack("<q", file.read(8))
            if count != storage.count:
                raise ValueError(f"storage {key} holds {count} elements, the tensors expect {storage.count}")
            storage.data = _exact(file.read(count * np.dtype(storage.dtype).itemsize), storage)
    return state, storages


def _exact(raw: bytes, storage: _Storage) -> np.ndarray:
    dtype = np.dtype(storage.dtype).newbyteorder("<")
    if len(raw) != storage.count * dtype.itemsize:
        raise ValueError(f"storage {storage.key}: {len(raw)} bytes where {storage.count * dtype.itemsize} belong")
    return np.frombuffer(raw, dtype)


def _arrays(state) -> dict[str, np.ndarray]:
    if not isinstance(state, dict) or not state:
        raise pickle.UnpicklingError(f"it holds a {type(state).__name__}, not a state dict (names to tensors)")
    arrays = {}
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, _TensorRef):
            raise pickle.UnpicklingError(f"entry {name!r} is a {type(value).__name__}, not a tensor")
        arrays[name] = value.array()
    return arrays
