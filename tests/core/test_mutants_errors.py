"""Exact messages and offsets of the `_rtype` map errors, in both implementations.

Mutation testing (fuzz/mutation.py) showed that these error paths were only checked for their
type: a message emptied or an offset dropped survived. Each map sits at index 0 of an array,
so its offset is 1, not the default 0.
"""
from __future__ import annotations

import msgpack
import numpy as np
import pytest

from polycodec import DecodeError, EncodeError

R, V, S, D = "_rtype", "_rvalue", "_rshape", "_rdtype"


def _numpy_max_ndim():
    """What this numpy allows (64 since numpy 2, 32 before), asked of numpy itself."""
    for n in (64, 32):
        try:
            np.empty((1,) * n)
            return n
        except ValueError:
            continue
    raise AssertionError("numpy allows fewer than 32 dimensions")


NDIM = _numpy_max_ndim()

CASES = [
    ({R: "memoryview"}, "memoryview map lacks _rvalue"),
    ({R: "memoryview", V: 5}, "memoryview _rvalue must be binary, got int"),
    ({R: "memoryview", V: [b"a", 5]}, "_rvalue pieces must be bins"),
    ({R: "set", V: 5}, "set _rvalue must be an array"),
    ({R: "set", V: [{"a": 1}]}, "set item is not hashable"),
    ({R: "orderedmap", V: [1]}, "orderedmap _rvalue must be an array of [key, value] pairs"),
    ({R: "orderedmap", V: [[{"a": 1}, 2]]}, "orderedmap key is not hashable"),
    ({R: "error", V: 5}, "error _rvalue must be a str"),
    ({R: "ndarray", V: b"ab"}, "ndarray map lacks _rvalue, _rdtype or _rshape"),
    ({R: "ndarray", V: b"ab", S: [2], D: 5}, "_rdtype must be a str, got int"),
    ({R: "ndarray", V: b"ab", S: [2], D: "zz"}, "unknown dtype 'zz'"),
    ({R: "ndarray", V: b"ab", S: [2], D: "O"}, "dtype 'O' is not a fixed-size plain dtype"),
    ({R: "ndarray", V: b"ab", S: [-1], D: "uint8"},
     "_rshape must be a list of non-negative ints, got [-1]"),
    ({R: "ndarray", V: b"a", S: [1] * (NDIM + 1), D: "uint8"},
     f"_rshape has {NDIM + 1} dimensions; numpy allows {NDIM}"),
    ({R: "ndarray", V: b"ab", S: [3], D: "uint8"}, "ndarray shape [3] of uint8 needs 3 bytes, got 2"),
    ({R: "typedarray", V: b"abc", D: "int16"}, "typedarray of 3 bytes is not a multiple of int16"),
]


@pytest.mark.parametrize("tree, message", CASES, ids=[m for _, m in CASES])
def test_rtype_map_error_message_and_offset(impl, tree, message):
    data = msgpack.packb([tree])
    with pytest.raises(DecodeError) as e:
        impl.unpackb(data)
    assert e.value.offset == 1
    assert str(e.value) == f"{message} (at byte 1)"


@pytest.mark.parametrize("array, message", [
    (np.array([1], dtype=object), "numpy dtype object holds Python objects and cannot be sent"),
    (np.zeros(2, dtype=[("a", "i4")]), "structured/subarray numpy dtype [('a', '<i4')] is not supported"),
])
def test_unsendable_dtype_reason_and_path(impl, array, message):
    with pytest.raises(EncodeError) as e:
        impl.packb({"x": [array]})
    assert str(e.value) == f"{message} (at $['x'][0])"


def test_long_keys_in_the_error_path_are_cut_at_40_characters(impl):
    """A key shown in full up to 40 characters of its repr, cut to 37 + '...' beyond."""
    with pytest.raises(EncodeError) as e:
        impl.packb({"k" * 38: object()})          # repr: 40 characters
    assert str(e.value).endswith("(at $['" + "k" * 38 + "'])")
    with pytest.raises(EncodeError) as e:
        impl.packb({"k" * 39: object()})          # repr: 41 characters
    assert str(e.value).endswith("(at $['" + "k" * 36 + "...])")
