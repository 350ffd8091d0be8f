"""Test helpers: an in-process emulator fixture and a subprocess runner.

Use the fixture from your own tests with `pytest_plugins = ["polycodec.hybrid.testing"]`:

    def test_it(hybrid_emulator):
        client = Client(base_url=hybrid_emulator.url, tenant="t", token="open")
"""
from __future__ import annotations

import pytest

from .emulator import Emulator, spawn_emulator  # noqa: F401 - re-exported for tests


@pytest.fixture
def hybrid_emulator():
    """A fresh emulator on 127.0.0.1 and a free port, recording its last 50 requests."""
    with Emulator(record=50) as emu:
        yield emu
