"""Test helpers: an in-process emulator fixture, a subprocess fixture and runner.

Use the fixtures from your own tests with `pytest_plugins = ["polycodec.hybrid.testing"]`:

    def test_it(hybrid_emulator):
        client = Client(base_url=hybrid_emulator.url, tenant="t", token="open")

    @pytest.mark.parametrize("hybrid_emulator_process", [2], indirect=True)   # 2 workers
    def test_on_workers(hybrid_emulator_process):
        client = Client(base_url=hybrid_emulator_process, tenant="t", token="open")
"""
from __future__ import annotations

import pytest

from .emulator import Emulator, spawn_emulator  # noqa: F401 - re-exported for tests


@pytest.fixture
def hybrid_emulator():
    """A fresh emulator on 127.0.0.1 and a free port, recording its last 50 requests."""
    with Emulator(record=50) as emu:
        yield emu


@pytest.fixture
def hybrid_emulator_process(request):
    """`python -m polycodec.hybrid.emulator --record 50 [--workers N]` in a subprocess on a free
    port; yields its URL. N comes from indirect parametrization (default 1). Uploads, faults,
    stats and recordings are shared by the workers; control it over HTTP (/_emulator/*)."""
    workers = getattr(request, "param", 1)
    with spawn_emulator("--record", "50", workers=workers) as (url, _proc, _lines):
        yield url
