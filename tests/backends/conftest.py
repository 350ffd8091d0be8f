"""Fixtures: the local pyrun backend started through its CLI, and a header-recording server."""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from polycodec._jsonhttp import spawn_cli
from polycodec.backends import BackendClient
from polycodec.backends.spec import PYRUN_DEFAULTS

CELL_TIMEOUT = 2.0
MAX_BODY = 2**20
MAX_OUTPUT = 2000


class CliServer:
    """`python -m polycodec.backends.pyrun --port 0 ...` as a child process."""

    def __init__(self, *args):
        self._cm = spawn_cli(["-m", "polycodec.backends.pyrun", "--port", "0", *args])
        self.proc, self.url = self._cm.__enter__()

    def stop(self):
        self._cm.__exit__(None, None, None)


@pytest.fixture(scope="module")
def pyrun():
    server = CliServer("--cell-timeout", str(CELL_TIMEOUT), "--max-body", str(MAX_BODY),
                       "--max-output", str(MAX_OUTPUT), "--max-partitions", "64")
    yield server
    server.stop()


@pytest.fixture
def partition():
    """A fresh partition id per test, so tests never share a scope."""
    return f"test~{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(pyrun, partition):
    with BackendClient(pyrun.url, PYRUN_DEFAULTS["name"], PYRUN_DEFAULTS["version"],
                       partition) as c:
        yield c


def pid_alive(pid):
    """True if `pid` runs (a zombie waiting to be reaped counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def wait_dead(pid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not pid_alive(pid)


class Recorder(ThreadingHTTPServer):
    """Answers every method on every path and records (method, path, headers, body)."""

    daemon_threads = True

    def __init__(self):
        self.seen = []
        self.big = b""
        super().__init__(("127.0.0.1", 0), _RecordHandler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RecordHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _any(self):
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else b""
        self.server.seen.append((self.command, self.path, dict(self.headers.items()), body))
        if self.path.endswith("/stream"):
            # chunked transfer: the client can only read it as a stream
            self.send_response(200)
            self.send_header("transfer-encoding", "chunked")
            self.send_header("content-type", "text/plain")
            self.end_headers()
            for i in range(5):
                data = f"line {i}\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path.endswith("/big"):
            data = self.server.big
            ctype = "application/octet-stream"
        elif self.path.endswith("/fail"):
            self.send_response(418)
            data = b'{"detail": "teapot says no"}'
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        else:
            data = json.dumps({"method": self.command, "path": self.path,
                               "partition": self.headers.get("x-backends-partition")}).encode()
            ctype = "application/json"
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any


@pytest.fixture
def recorder():
    server = Recorder()
    t = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    t.start()
    yield server
    server.shutdown()
    server.server_close()
