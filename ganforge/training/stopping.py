"""Stopping a run cleanly: on SIGINT or SIGTERM, when the numbers stop being numbers, when the disk fills.

A signal does not interrupt a step: the handler only notes it, the loop
finishes the step it is in, writes a checkpoint, and then stops. A second
signal of the same kind while that happens is noted again and ignored, so an
impatient Ctrl-C cannot leave a half-written checkpoint (they are atomic
anyway).
"""

from __future__ import annotations

import errno
import logging
import shutil
import signal
import threading
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)
NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


class StopRequests:
    """While active, SIGINT and SIGTERM set ``received`` instead of killing the process."""

    def __init__(self):
        self.received: int | None = None
        self._previous = {}

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():  # Python lets only the main thread handle signals
            for number in NAMES:
                self._previous[number] = signal.signal(number, self._note)
        return self

    def _note(self, number, frame) -> None:
        self.received = self.received or number

    def __exit__(self, *exc) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def first_bad_loss(losses: list) -> tuple[int, str, float] | None:
    """(index, which loss, value) of the first non-finite loss, or None when all are finite."""
    values = np.asarray(losses, dtype=np.float64)
    if values.size == 0 or np.isfinite(values).all():
        return None
    index, column = np.argwhere(~np.isfinite(values))[0]
    return int(index), ("discriminator", "generator")[column], float(values[index, column])


def first_bad_variable(groups: dict[str, list]) -> str | None:
    """``"<group> variable <path>"`` of the first variable holding a NaN or an infinity, or None."""
    for group, variables in groups.items():
        for variable in variables:
            if not np.isfinite(np.asarray(variable.numpy())).all():
                return f"{group} variable {variable.path}"
    return None


# A disk that is full, over quota, read-only or failing: the run stops with its last checkpoint
# intact and exit code 74 (EX_IOERR in sysexits.h), so a job script can tell it from a bug.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG}
STORAGE_EXIT_CODE = 74


def warn_if_disk_is_short(folder: Path, groups: dict[str, list], keep: int) -> None:
    """Say at the start, not hours later, when the disk cannot hold ``keep`` checkpoints plus one being written."""
    size = sum(
        int(np.prod(variable.shape)) * np.dtype(variable.dtype).itemsize
        for variables in groups.values()
        for variable in variables
    )
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    free = shutil.disk_usage(existing).free
    needed = (keep + 1) * size
    if free < needed:
        logger.warning(
            f"warning: {existing} has {free / 2**20:.0f} MiB free; {keep} checkpoints of "
            f"{size / 2**20:.0f} MiB plus one being written need {needed / 2**20:.0f} MiB"
        )
