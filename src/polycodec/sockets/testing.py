"""Test helpers: run the emulator as a real process, and a pytest fixture for it.

Use the fixture from a conftest.py: ``from polycodec.sockets.testing import sockets_emulator``.
"""
from __future__ import annotations

import subprocess
import sys
import threading
from contextlib import contextmanager

API_KEY = "test-key"


@contextmanager
def emulator_process(*extra_args, api_key=API_KEY, startup_timeout=20.0):
    """Start ``python -m polycodec.sockets.emulator --port 0`` on 127.0.0.1; yield its URL.
    The process is stopped (and waited for) on exit.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "polycodec.sockets.emulator", "--host", "127.0.0.1", "--port", "0",
         "--api-key", api_key, *extra_args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(startup_timeout)
        if not line or "listening on " not in line[0]:
            proc.kill()
            err = proc.communicate(timeout=5)[1]
            raise RuntimeError(f"emulator did not start: {line!r} {err[-2000:]}")
        yield line[0].split("listening on ", 1)[1].strip()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


try:
    import pytest
except ImportError:  # pytest is only needed for the fixture
    pytest = None

if pytest is not None:
    @pytest.fixture(scope="session")
    def sockets_emulator():
        """URL of a session-wide emulator process (api key: ``testing.API_KEY``)."""
        with emulator_process("--page-size", "3", "--script-timeout", "5") as url:
            yield url
