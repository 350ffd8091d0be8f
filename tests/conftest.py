"""Shared fixtures. Every core test runs against both implementations via the `impl` fixture."""
from __future__ import annotations

import os

import pytest

import polycodec

REQUIRE_ALL = os.environ.get("POLYCODEC_REQUIRE_ALL") == "1"
REQUIRE_EXT = REQUIRE_ALL or os.environ.get("POLYCODEC_REQUIRE_EXT") == "1"


def missing(what: str):
    """A peer or tool is not installed: fail under CI (POLYCODEC_REQUIRE_ALL=1), else skip."""
    if REQUIRE_ALL:
        pytest.fail(f"required for this run but missing: {what}")
    pytest.skip(f"missing: {what}")


IMPL_NAMES = ["cython", "python"]


@pytest.fixture(params=IMPL_NAMES)
def impl(request):
    """The implementation module under test (polycodec.compiled or polycodec.fallback)."""
    impls = polycodec.implementations()
    if request.param not in impls:
        if REQUIRE_EXT:
            pytest.fail("the compiled core is not built (POLYCODEC_REQUIRE_EXT=1)")
        pytest.skip("compiled core not built")
    return impls[request.param]
