"""Hand-written wire vectors (tests/golden/wire_only.py) decode to their written-out values in
both implementations, from bytes, bytearray and memoryview inputs."""
from __future__ import annotations

import msgpack
import pytest

from tests.core.agree import both_agree
from tests.core.expected import assert_same
from tests.golden.wire_only import VECTORS

IDS = [v[0] for v in VECTORS]


def test_names_are_unique():
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
@pytest.mark.parametrize("name,hexdata,expected,options", VECTORS, ids=IDS)
def test_wire_vector_decodes(impl, name, hexdata, expected, options, kind):
    data = kind(bytes.fromhex(hexdata))
    assert_same(impl.unpackb(data, **options), expected)
    assert impl.skip(data) == len(data)
    both_agree("unpackb", data, **options)


@pytest.mark.parametrize("name,hexdata,expected,options", VECTORS, ids=IDS)
def test_wire_vector_through_msgpack_python_and_decode(impl, name, hexdata, expected, options):
    """msgpack-python reads the same vector (a check on the vector itself), and decode() of its
    tree gives the same value."""
    data = bytes.fromhex(hexdata)
    try:
        tree = msgpack.unpackb(data, strict_map_key=False)
    except TypeError:   # a list key: msgpack-python needs tuples for it
        tree = msgpack.unpackb(data, strict_map_key=False, use_list=False)
    assert_same(impl.decode(tree, strict_map_key=options.get("strict_map_key", True)),
                expected, readonly=False)
