"""Writing PyTorch ``.pth`` files without PyTorch, for tests of ganforge's reader on many small or broken files.

The bytes are those ``torch.save`` writes — its zip archive, or the older single stream — with the
pickle naming ``torch._utils._rebuild_tensor_v2`` and ``torch.FloatStorage``. Pickle checks that a
name it writes can be imported, so while writing, stand-ins under those names sit in ``sys.modules``
(and are removed after). test_fid_inception.py checks that real PyTorch loads what this writes.
"""

from __future__ import annotations

import collections
import contextlib
import io
import pickle
import struct
import sys
import types
import zipfile
from pathlib import Path

import numpy as np

STORAGES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage"}


@contextlib.contextmanager
def _torch_names():
    assert "torch" not in sys.modules, "a real PyTorch is imported here: use torch.save"
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only ever pickled by name")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in STORAGES.values():
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = utils
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield torch, utils
    finally:
        del sys.modules["torch"], sys.modules["torch._utils"]


class _Storage:
    def __init__(self, key: str, array: np.ndarray):
        self.key, self.array = key, np.ascontiguousarray(array).reshape(-1)


class _Tensor:
    def __init__(self, storage: _Storage, shape, rebuild):
        self.storage, self.shape, self.rebuild = storage, tuple(shape), rebuild

    def __reduce__(self):
        strides = tuple(int(np.prod(self.shape[i + 1 :])) for i in range(len(self.shape)))
        return self.rebuild, (self.storage, 0, self.shape, strides, False, collections.OrderedDict())


def _pickled(state: dict, legacy: bool, torch) -> bytes:
    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            if not isinstance(obj, _Storage):
                return None
            kind = getattr(torch, STORAGES[obj.array.dtype])
            reference = ("storage", kind, obj.key, "cpu", obj.array.size)
            return (*reference, None) if legacy else reference

    buffer = io.BytesIO()
    Writer(buffer, protocol=2).dump(state)
    return buffer.getvalue()


def save_state_dict(path: Path, arrays: dict[str, np.ndarray], *, legacy: bool = False, extra: bytes = b"") -> Path:
    """``arrays`` as ``torch.save(state_dict)`` would write them; ``extra`` replaces the main pickle
    when given (a file that smuggles in something other than tensors)."""
    with _torch_names() as (torch, utils):
        storages = {name: _Storage(str(index), array) for index, (name, array) in enumerate(arrays.items())}
        state = collections.OrderedDict(
            (name, _Tensor(storages[name], np.shape(array), utils._rebuild_tensor_v2)) for name, array in arrays.items()
        )
        main = extra or _pickled(state, legacy, torch)
    if legacy:
        with open(path, "wb") as file:
            for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
                pickle.dump(header, file, protocol=2)
            file.write(main)
            pickle.dump([storage.key for storage in storages.values()], file, protocol=2)
            for storage in storages.values():
                file.write(
                    struct.pack("<q", storage.array.size)
                    + storage.array.astype(storage.array.dtype.newbyteorder("<")).tobytes()
                )
    else:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("archive/data.pkl", main)
            archive.writestr("archive/byteorder", "little")
            archive.writestr("archive/version", "3\n")
            for storage in storages.values():
                archive.writestr(f"archive/data/{storage.key}", storage.array.tobytes())
    return path
