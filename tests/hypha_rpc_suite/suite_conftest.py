"""Becomes `tests/conftest.py` of hypha-rpc's suite: the fixtures its test files use.

- `websocket_server`: one Hypha server for the whole run, on `WS_PORT`;
- `restartable_server`: a server of the test's own on `WS_PORT` (`.port`; some tests reach
  it through `WS_SERVER_URL`), with `restart(stop_delay)`. The shared server is stopped for
  such a test and started again before the next test that is not one. (Upstream starts a
  second server on the same port: it cannot bind while the shared one runs, so a "restart"
  restarts nothing the client is connected to.)

Servers run `python -m hypha.server` of this environment from a temporary folder, bound to
127.0.0.1, all with one JWT secret (as upstream): a client's token stays valid across a
restart. Their output goes to `hypha-server-PORT.log` beside the tests.
"""
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from . import WS_PORT

START_TIMEOUT = 60.0    # seconds; the server takes a few on a loaded machine
STOP_TIMEOUT = 5.0
LOG_DIR = Path(__file__).resolve().parent
SERVER_ENV = dict(os.environ, JWT_SECRET=uuid.uuid4().hex)

# Tests that need a server outside this machine: skipped, with the reason.
OUTSIDE_SERVER = {
    "test_server_compatibility.py": "connects to https://hypha.aicell.io (an outside server)",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        reason = OUTSIDE_SERVER.get(item.path.name)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def _alive(port) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/liveness",
                                    timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class HyphaServer:
    """One `hypha.server` process on a fixed port; restartable on the same port."""

    def __init__(self, port):
        self.port = port
        self.proc = None
        self._cwd = tempfile.TemporaryDirectory(prefix="hypha-server-")
        self._log_path = LOG_DIR / f"hypha-server-{port}.log"

    def start(self, timeout=START_TIMEOUT):
        if self.proc is not None:
            self.stop()
        with open(self._log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hypha.server", "--host=127.0.0.1",
                 f"--port={self.port}"],
                cwd=self._cwd.name, env=SERVER_ENV, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if _alive(self.port):
                return
            time.sleep(0.1)
        code = self.proc.poll()
        self.stop()
        tail = self._log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"hypha server on port {self.port} did not start "
                           f"(exit code {code}); end of {self._log_path.name}:\n{tail}")

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self, stop_delay=0.1, start_timeout=START_TIMEOUT):
        self.stop()
        if stop_delay > 0:
            time.sleep(stop_delay)
        self.start(start_timeout)

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and _alive(self.port)

    def close(self):
        self.stop()
        self._cwd.cleanup()


_shared = []   # the websocket_server, once started


@pytest.fixture(scope="session")
def websocket_server():
    server = HyphaServer(WS_PORT)
    server.start()
    _shared.append(server)
    try:
        yield server
    finally:
        _shared.clear()
        server.close()


@pytest.fixture(autouse=True)
def _shared_server_is_up(request):
    """After a restartable_server test took WS_PORT over, the shared server comes back."""
    if _shared and _shared[0].proc is None and "restartable_server" not in request.fixturenames:
        _shared[0].start()


@pytest.fixture
def restartable_server():
    if _shared:
        _shared[0].stop()
    server = HyphaServer(WS_PORT)
    server.start()
    try:
        yield server
    finally:
        server.close()
