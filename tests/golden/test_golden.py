"""Golden vectors made by the real hypha-rpc 0.21.47 (make_golden.py), checked byte for byte
both ways against both implementations:  packb(value) == golden  and  unpackb(golden) == the
value's decoded form (tests/core/expected.py)."""
from __future__ import annotations

import json
import os

import msgpack
import numpy as np
import pytest

from polycodec import spec
from tests.conftest import missing
from tests.core.expected import assert_same, decoded_form
from tests.golden.cases import CASE_BY_NAME, CASES
from tests.golden.reference import reference_problem

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "python")


def _index():
    with open(os.path.join(GOLDEN, "index.json")) as f:
        return json.load(f)


def golden(name: str) -> bytes:
    with open(os.path.join(GOLDEN, f"{name}.msgpack"), "rb") as f:
        return f.read()


def expected_of(case):
    return case.expected() if case.expected else decoded_form(case.build())


def test_index_matches_cases():
    index = _index()
    assert index["hypha_rpc"] == "0.21.47"
    assert list(index["cases"]) == [c.name for c in CASES], "rerun tests/golden/make_golden.py"
    on_disk = sorted(n[: -len(".msgpack")] for n in os.listdir(GOLDEN) if n.endswith(".msgpack"))
    assert on_disk == sorted(CASE_BY_NAME)


def test_every_python_row_has_a_golden_case():
    rows = {c.row for c in CASES}
    for row in spec.ROWS:
        if row.from_python:
            assert row.name in rows, f"no golden case for spec row {row.name!r}"
    assert {c.row for c in CASES} <= {row.name for row in spec.ROWS}


def test_every_ndarray_dtype_has_cases():
    """Each dtype of spec.NDARRAY_DTYPES: 1-D, 2-D, 0-d and empty."""
    shapes = {}
    for case in CASES:
        if case.row == "ndarray" and case.name.startswith("ndarray_"):
            a = case.build()
            shapes.setdefault(str(a.dtype), set()).add(a.shape)
    for dtype in spec.NDARRAY_DTYPES:
        assert {(5,), (2, 3), (), (0,)} <= shapes.get(str(np.dtype(dtype)), set()), dtype


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_pack_matches_golden(impl, name):
    case = CASE_BY_NAME[name]
    assert impl.packb(case.build(), **case.options) == golden(name)


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_unpack_golden(impl, name):
    case = CASE_BY_NAME[name]
    data = golden(name)
    assert_same(impl.unpackb(data, **case.options), expected_of(case))
    obj, end = impl.unpack_from(data, **case.options)
    assert end == len(data)
    assert_same(obj, expected_of(case))


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_segments_and_trees_match_golden(impl, name):
    case = CASE_BY_NAME[name]
    data = golden(name)
    segments = impl.pack_segments(case.build(), min_oob=16, **case.options)
    assert b"".join(bytes(s) for s in segments) == data
    # encode/decode: the same mapping at the level of plain trees (user brings msgpack)
    assert msgpack.packb(impl.encode(case.build(), **case.options)) == data
    tree = msgpack.unpackb(data, strict_map_key=case.options.get("strict_map_key", True))
    assert_same(impl.decode(tree, **case.options), expected_of(case), readonly=False)


def test_regenerating_gives_the_committed_vectors(tmp_path):
    """make_golden.py with the installed reference reproduces every committed byte."""
    problem = reference_problem()
    if problem:
        missing(problem)
    from tests.golden.make_golden import generate

    index = generate(str(tmp_path))
    committed = _index()
    # msgpack's own version may differ between machines; its bytes for these values do not
    index.pop("msgpack"), committed.pop("msgpack")
    assert index == committed
    for name in index["cases"]:
        assert (tmp_path / f"{name}.msgpack").read_bytes() == golden(name), name
