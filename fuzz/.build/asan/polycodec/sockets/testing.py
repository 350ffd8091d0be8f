"""Test helpers: run the emulator as a real process, and a pytest fixture for it.

Use the fixture from a conftest.py: ``from polycodec.sockets.testing import sockets_emulator``.
"""
from __future__ import annotations

from contextlib import contextmanager

from .._jsonhttp import spawn_cli

API_KEY = "test-key"


@contextmanager
def emulator_process(*extra_args, api_key=API_KEY, startup_timeout=20.0, host="127.0.0.1"):
    """Start ``python -m polycodec.sockets.emulator --port 0`` and yield its URL; the process
    is stopped (and waited for) on exit. ``host=None`` leaves ``--host`` out (the default)."""
    args = ["-m", "polycodec.sockets.emulator", "--port", "0", "--api-key", api_key]
    if host is not None:
        args += ["--host", host]
    with spawn_cli([*args, *extra_args], startup_timeout=startup_timeout) as (_proc, url):
        yield url


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
