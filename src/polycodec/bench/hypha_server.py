"""Start and stop a real local Hypha server (tests and `polycodec bench --hypha`).

The server lives in its own virtual environment (its pins conflict with ours), made as the
README says (`INSTALL` below); its python is named by `$POLYCODEC_HYPHA_PYTHON`, the only
place it is looked for. It binds 127.0.0.1 on a free port and runs from an empty temporary
folder (it writes its SQLite and logs there).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

READY_PATH = "/health/readiness"
START_TIMEOUT = 60.0
PYTHON_ENV = "POLYCODEC_HYPHA_PYTHON"
INSTALL = ('python3 -m venv .hypha-venv && .hypha-venv/bin/pip install "hypha[s3]==0.21.137" '
           '"sqlmodel==0.0.24"')
MISSING = (f"a local Hypha server needs its own environment: run `{INSTALL}`, then set "
           f"{PYTHON_ENV}=$PWD/.hypha-venv/bin/python")


class NoServerPython(FileNotFoundError):
    """POLYCODEC_HYPHA_PYTHON is not set, or names no file."""

    def __init__(self):
        super().__init__(MISSING)


def find_python() -> str | None:
    """The Hypha server's python (absolute: the server runs from a temporary folder), or None
    when $POLYCODEC_HYPHA_PYTHON is unset or names no file."""
    path = os.environ.get(PYTHON_ENV)
    if not path or not os.path.isfile(path):
        return None
    return os.path.abspath(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalHyphaServer:
    """`with LocalHyphaServer() as srv:` -> srv.url (http), srv.ws_url, srv.pid."""

    def __init__(self, python: str | None = None, port: int | None = None,
                 timeout: float = START_TIMEOUT):
        self.python = python or find_python()
        if not self.python:
            raise NoServerPython()
        self.port = port or free_port()
        self.timeout = timeout
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.proc = None
        self._dir = None
        self._log = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self):
        try:
            return self._start()
        except BaseException:   # a failed start (also Ctrl-C, a timeout) leaves nothing behind
            self.stop()
            raise

    def _start(self):
        self._dir = tempfile.mkdtemp(prefix="polycodec-hypha-")
        self._log = open(os.path.join(self._dir, "server.log"), "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen(
            [self.python, "-m", "hypha.server", "--host=127.0.0.1", f"--port={self.port}"],
            cwd=self._dir, stdout=self._log, stderr=subprocess.STDOUT, env=env,
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Hypha server exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            try:
                with urllib.request.urlopen(self.url + READY_PATH, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"Hypha server not ready after {self.timeout} s:\n" + self.log_tail())

    def log_tail(self, n=4000) -> str:
        try:
            with open(os.path.join(self._dir, "server.log"), "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._log:
            self._log.close()
            self._log = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
