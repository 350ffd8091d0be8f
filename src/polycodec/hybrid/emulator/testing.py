"""pytest fixtures for the Hybrid Runner emulator (pytest is imported only when they are used).

    pytest_plugins = ["polycodec.hybrid.emulator.testing"]     # or import them in a conftest

    def test_it(hybrid_emulator):
        client = Client(base_url=hybrid_emulator.url, tenant="t", token="open")

    @pytest.mark.parametrize("hybrid_emulator_process", [2], indirect=True)   # 2 processes
    def test_on_workers(hybrid_emulator_process):
        client = Client(base_url=hybrid_emulator_process, tenant="t", token="open")
"""
from __future__ import annotations

from ..._fixtures import lazy_fixtures
from .server import Emulator
from .spawn import spawn_emulator

__all__ = ["hybrid_emulator", "hybrid_emulator_process", "spawn_emulator", "Emulator"]


def _hybrid_emulator():
    """A fresh emulator on 127.0.0.1 and a free port, recording its last 50 requests."""
    with Emulator(record=50) as emu:
        yield emu


def _hybrid_emulator_process(request):
    """`python -m polycodec.hybrid.emulator --record 50 [--workers N]` in a subprocess on a free
    port; yields its URL. N comes from indirect parametrization (default 1). Uploads, faults,
    stats and recordings are shared by the workers; control it over HTTP (/_emulator/*)."""
    workers = getattr(request, "param", 1)
    with spawn_emulator("--record", "50", workers=workers) as (url, _proc, _lines):
        yield url


__getattr__, __dir__ = lazy_fixtures(globals(),
                                     hybrid_emulator=(_hybrid_emulator, {}),
                                     hybrid_emulator_process=(_hybrid_emulator_process, {}))
