"""Round trips, for both implementations: unpackb(packb(v)) is the decoded form of v (spec row
by row), pack_segments joins to packb, and encode/decode agree with packb/unpackb."""
from __future__ import annotations

from collections import OrderedDict

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polycodec import spec
from tests.core.expected import assert_same, decoded_form
from tests.strategies import ROW_STRATEGIES, WIRE_ONLY, property_settings, values

PY_ROWS = [row.name for row in spec.ROWS if row.from_python]
JS_ROWS = [row.name for row in spec.ROWS if not row.from_python]


def test_every_row_has_a_strategy():
    assert set(ROW_STRATEGIES) == {row.name for row in spec.ROWS}
    assert set(WIRE_ONLY) == set(JS_ROWS)


def check_roundtrip(impl, v, **options):
    data = impl.packb(v, **options)
    expected = decoded_form(v)
    assert_same(impl.unpackb(data, **options), expected)
    obj, end = impl.unpack_from(data, **options)
    assert end == len(data)
    assert_same(obj, expected)
    return data


@pytest.mark.parametrize("row", PY_ROWS)
@property_settings(60)
@given(data=st.data())
def test_row_roundtrip(impl, row, data):
    v = data.draw(ROW_STRATEGIES[row], label=row)
    check_roundtrip(impl, v)


@pytest.mark.parametrize("row", JS_ROWS)
@property_settings(60)
@given(data=st.data())
def test_wire_only_row_decodes(impl, row, data):
    case = data.draw(ROW_STRATEGIES[row], label=row)
    wire = msgpack.packb(case.tree)
    assert_same(impl.unpackb(wire), case.expected)
    assert_same(impl.decode(msgpack.unpackb(wire)), case.expected, readonly=False)


@property_settings(100)
@given(v=values())
def test_nested_roundtrip(impl, v):
    data = check_roundtrip(impl, v)
    # every other route gives the same bytes / values
    assert b"".join(bytes(s) for s in impl.pack_segments(v, min_oob=1)) == data
    assert b"".join(bytes(s) for s in impl.pack_segments(v)) == data
    assert msgpack.packb(impl.encode(v)) == data
    assert_same(impl.decode(msgpack.unpackb(data)), decoded_form(v), readonly=False)


@property_settings(50)
@given(v=values())
def test_dict_type_builds_every_map(impl, v):
    class AttrDict(dict):
        pass

    data = impl.packb({"v": v, "w": [{"x": v}]})
    expected = decoded_form({"v": v, "w": [{"x": v}]}, dict_type=AttrDict)
    assert_same(impl.unpackb(data, dict_type=AttrDict), expected, dict_type=AttrDict)


@property_settings(50)
@given(v=values(), copy=st.booleans())
def test_copy_option_keeps_values(impl, v, copy):
    data = impl.packb(v)
    assert_same(impl.unpackb(data, copy=copy), decoded_form(v), readonly=not copy)


def test_ordereddict_decodes_as_plain_dict(impl):
    v = OrderedDict([("b", 1), ("a", 2)])
    out = impl.unpackb(impl.packb(v))
    assert type(out) is dict and list(out) == ["b", "a"]
