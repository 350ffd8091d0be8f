"""Byte equality with the real hypha-rpc 0.21.47: packb(v) == msgpack.packb(RPC._encode(v)) for
generated values of every Python spec row; and the compiled core gives the fallback's bytes."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import polycodec
from polycodec import spec
from tests.conftest import REQUIRE_EXT, missing
from tests.core.expected import assert_same
from tests.golden.reference import reference_packb, reference_problem
from tests.strategies import ROW_STRATEGIES, property_settings, values

PY_ROWS = [row.name for row in spec.ROWS if row.from_python]


@pytest.fixture(scope="module")
def reference():
    problem = reference_problem()
    if problem:
        missing(problem)
    return reference_packb


@pytest.fixture(scope="module")
def both():
    impls = polycodec.implementations()
    if "cython" not in impls:
        if REQUIRE_EXT:
            pytest.fail("the compiled core is not built (POLYCODEC_REQUIRE_EXT=1)")
        pytest.skip("compiled core not built")
    return impls["cython"], impls["python"]


@pytest.mark.parametrize("row", PY_ROWS)
@property_settings(60)
@given(data=st.data())
def test_row_matches_reference(impl, reference, row, data):
    v = data.draw(ROW_STRATEGIES[row], label=row)
    assert impl.packb(v) == reference(v)


@property_settings(100)
@given(v=values())
def test_nested_matches_reference(impl, reference, v):
    assert impl.packb(v) == reference(v)


@property_settings(100)
@given(v=values())
def test_compiled_equals_fallback(both, v):
    compiled, fallback = both
    data = fallback.packb(v)
    assert compiled.packb(v) == data
    assert b"".join(bytes(s) for s in compiled.pack_segments(v, min_oob=1)) == data
    assert_same(compiled.unpackb(data), fallback.unpackb(data))
