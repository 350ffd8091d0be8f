"""Fixtures for the Hybrid Runner tests: an in-process emulator with a numeric service."""
from __future__ import annotations

import importlib

import pytest

from polycodec.hybrid import Client
from polycodec.hybrid.emulator import services
from polycodec.hybrid.emulator import Emulator
from polycodec.hybrid.emulator.testing import hybrid_emulator, hybrid_emulator_process  # noqa: F401
from tests.conftest import missing

TENANT = "my-tenant"
N_INPUTS = 4


def expected(record):
    """What the numeric demo service computes (independent of the emulator's code path)."""
    xs = [record.get(f"x{i}", 0) for i in range(N_INPUTS)]
    return {"total": sum(xs), "weighted": sum((i + 1) * x for i, x in enumerate(xs))}


@pytest.fixture
def emu():
    with Emulator(record=200) as e:
        yield e


@pytest.fixture
def svc(emu):
    return emu.upload_zip(TENANT, services.make_zip(services.numeric_definition(N_INPUTS)))


@pytest.fixture
def client(emu, svc):
    with Client(base_url=emu.url, tenant=TENANT, token="open", retry_interval=0.01) as c:
        yield c


@pytest.fixture
def cspark_wasm():
    try:
        import cspark.wasm as wasm
    except ImportError:
        missing("cspark==0.3.3 (test extra)")
    return wasm


def require(module):
    """A required test peer: skipped locally if absent, a failure under CI
    (POLYCODEC_REQUIRE_ALL=1), never a silent skip there."""
    try:
        return importlib.import_module(module)
    except ImportError:
        missing(f"{module} (test extra)")
