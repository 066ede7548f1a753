"""Fetching published weights: once, verified, never a partial or wrong file in the cache, never a hang.
Served by a real HTTP server on 127.0.0.1 (the real URLs are out of reach here)."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ganforge.errors import DataError
from ganforge.evaluation.download import fetch

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
FIX = "give a local copy with --features"


class Server:
    """Serves PAYLOAD at /weights, the first half of it at /cut (then hangs up), nothing at /silent."""

    def __init__(self):
        self.requests = 0
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the standard library's name)
                served.requests += 1
                if self.path == "/silent":
                    time.sleep(5)  # longer than the tests' timeout
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(PAYLOAD)))
                self.end_headers()
                self.wfile.write(PAYLOAD if self.path == "/weights" else PAYLOAD[: len(PAYLOAD) // 2])

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server():
    running = Server()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


def only(folder):
    return sorted(path.name for path in folder.iterdir())


def test_a_file_is_downloaded_once_checked_and_then_read_from_the_cache(server, tmp_path):
    target = tmp_path / "cache" / "weights.pth"
    assert fetch(server.url("/weights"), target, DIGEST, fix=FIX) == target
    assert target.read_bytes() == PAYLOAD
    fetch(server.url("/weights"), target, DIGEST, fix=FIX)
    assert server.requests == 1
    assert only(target.parent) == ["weights.pth"]


def test_a_wrong_checksum_keeps_nothing_and_names_url_and_fix(server, tmp_path):
    target = tmp_path / "weights.pth"
    with pytest.raises(DataError) as raised:
        fetch(server.url("/weights"), target, "0" * 64, fix=FIX)
    message = str(raised.value)
    assert server.url("/weights") in message and DIGEST in message and FIX in message
    assert only(tmp_path) == []


def test_a_damaged_cached_file_is_refused_by_name(server, tmp_path):
    target = tmp_path / "weights.pth"
    target.write_bytes(PAYLOAD[:-1] + b"x")
    with pytest.raises(DataError, match="weights.pth: SHA-256") as raised:
        fetch(server.url("/weights"), target, DIGEST, fix=FIX)
    assert FIX in str(raised.value) and server.requests == 0


def test_a_download_cut_short_leaves_no_partial_file(server, tmp_path):
    with pytest.raises(DataError, match="cannot download") as raised:
        fetch(server.url("/cut"), tmp_path / "weights.pth", DIGEST, fix=FIX)
    assert f"sent {len(PAYLOAD) // 2} of {len(PAYLOAD)} bytes" in str(raised.value)
    assert only(tmp_path) == []


def test_a_server_that_never_answers_times_out(server, tmp_path):
    started = time.monotonic()
    with pytest.raises(DataError, match="cannot download"):
        fetch(server.url("/silent"), tmp_path / "weights.pth", DIGEST, fix=FIX, timeout=1.0)
    assert time.monotonic() - started < 4  # the server would hold it for 5 s
    assert only(tmp_path) == []


def test_offline_is_a_clear_error(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DataError, match="cannot download") as raised:
        fetch(f"http://127.0.0.1:{port}/weights", tmp_path / "weights.pth", DIGEST, fix=FIX, timeout=2.0)
    assert "refused" in str(raised.value).lower() and FIX in str(raised.value)
    assert only(tmp_path) == []
