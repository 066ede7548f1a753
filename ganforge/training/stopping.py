"""Stopping a run cleanly: on SIGINT or SIGTERM, and when the losses stop being numbers.

A signal does not interrupt a step: the handler only notes it, the loop
finishes the step it is in, writes a checkpoint, and then stops. A second
signal of the same kind while that happens is noted again and ignored, so an
impatient Ctrl-C cannot leave a half-written checkpoint (they are atomic
anyway).
"""
from __future__ import annotations

import signal
import threading

import numpy as np

NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


class StopRequests:
    """While active, SIGINT and SIGTERM set ``received`` instead of killing the process."""

    def __init__(self):
        self.received: int | None = None
        self._previous = {}

    def __enter__(self) -> "StopRequests":
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
