"""Fetching a published file (a feature network's weights) once, verified, into a cache.

A file is trusted by its SHA-256 alone: one already in the cache is checked before use, a
download is written under a temporary name beside its target, checked, and only then renamed,
so the cache never holds a partial or a wrong file. Every failure — offline, a server that stops
answering, a file cut short, a checksum that does not match — is a :class:`DataError` (exit 2)
naming the file, the URL and how to point ganforge at a copy fetched by hand.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from ganforge.errors import DataError

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, target: Path, sha256: str, *, fix: str, timeout: float = 60.0) -> Path:
    """``target``, holding ``url``'s bytes whose SHA-256 is ``sha256``: the cached file when it is
    there, else downloaded now. ``fix``: what the user can do instead (an option, a variable);
    ``timeout``: seconds the whole download may take, and any wait for the server."""
    if target.is_file():
        found = sha256_of(target)
        if found != sha256:
            raise DataError(
                f"{target}: SHA-256 {found}, but the file from {url} has {sha256} (damaged or another file): "
                f"delete it to download it again, or {fix}"
            )
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        found = _download(url, partial, timeout)
        if found != sha256:
            raise DataError(f"{url}: the download's SHA-256 is {found}, not the published {sha256}: {fix}")
        os.replace(partial, target)
    except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as error:
        raise DataError(f"cannot download {url} to {target} ({_reason(error)}): {fix}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return target


def _download(url: str, partial: Path, timeout: float) -> str:
    """Stream ``url`` into ``partial``; returns the bytes' SHA-256. Stops after ``timeout`` seconds in all."""
    deadline = time.monotonic() + timeout
    digest = hashlib.sha256()
    received = 0
    with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as file:
        announced = int(response.headers.get("Content-Length") or -1)
        while block := response.read(CHUNK):
            if time.monotonic() > deadline:
                raise TimeoutError(f"still downloading after {timeout:g} s")
            digest.update(block)
            file.write(block)
            received += len(block)
        if 0 <= announced != received:  # the server hung up early: read(n) just ends
            raise ValueError(f"the server sent {received} of {announced} bytes")
        file.flush()
        os.fsync(file.fileno())
    return digest.hexdigest()


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or error
    return f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
