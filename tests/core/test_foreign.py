"""Foreign msgpack: the decoders are fed bytes that polycodec did not write, in every form the
msgpack spec allows (msgpack-python with use_single_float, ints and lengths wider than needed,
str8 keys, `_rtype` first), as bytes, bytearray and memoryview, with and without bin_views.
Both implementations must give the same value with the same read-only flags.
"""
from __future__ import annotations

import random
import struct

import msgpack
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import polycodec
from tests.core.agree import assert_agree, both_agree
from tests.strategies import property_settings, values


def rtype_first(tree):
    """The same tree with every `_rtype` key moved first (as other encoders may write it)."""
    if isinstance(tree, list):
        return [rtype_first(v) for v in tree]
    if isinstance(tree, dict):
        items = [(k, rtype_first(v)) for k, v in tree.items()]
        items.sort(key=lambda kv: kv[0] != "_rtype")
        return dict(items)
    return tree


def wide_pack(tree, rng: random.Random) -> bytes:
    """msgpack of `tree` with a random valid form for each value: any int form that holds it,
    any length form (str8 even for keys), float32 where exact."""
    out = bytearray()

    def length(n, forms):
        fits = [(code, size) for code, size in forms if n < (1 << (8 * size)) or size == 0]
        code, size = rng.choice(fits)
        if size == 0:
            out.append(code | n)
        else:
            out.append(code)
            out.extend(n.to_bytes(size, "big"))

    def write(v):
        if v is None or v is True or v is False:
            out.append({None: 0xC0, True: 0xC3, False: 0xC2}[v])
        elif isinstance(v, int):
            forms = [(0xCF, ">Q")] if v >= 0 else []
            forms += [(0xD3, ">q")] if -(2**63) <= v < 2**63 else []
            for code, fmt, lo, hi in ((0xCC, ">B", 0, 255), (0xCD, ">H", 0, 65535),
                                      (0xCE, ">I", 0, 2**32 - 1), (0xD0, ">b", -128, 127),
                                      (0xD1, ">h", -(2**15), 2**15 - 1),
                                      (0xD2, ">i", -(2**31), 2**31 - 1)):
                if lo <= v <= hi:
                    forms.append((code, fmt))
            code, fmt = rng.choice(forms)
            out.append(code)
            out.extend(struct.pack(fmt, v))
        elif isinstance(v, float):
            try:
                exact = struct.unpack(">f", struct.pack(">f", v))[0] == v or v != v
            except OverflowError:
                exact = False
            if exact:
                if rng.random() < 0.5:
                    out.append(0xCA)
                    out.extend(struct.pack(">f", v))
                    return
            out.append(0xCB)
            out.extend(struct.pack(">d", v))
        elif isinstance(v, str):
            data = v.encode()
            forms = [(0xD9, 1), (0xDA, 2), (0xDB, 4)] + ([(0xA0, 0)] if len(data) < 32 else [])
            length(len(data), forms)
            out.extend(data)
        elif isinstance(v, (bytes, bytearray, memoryview)):
            data = bytes(v)
            length(len(data), [(0xC4, 1), (0xC5, 2), (0xC6, 4)])
            out.extend(data)
        elif isinstance(v, (list, tuple)):
            length(len(v), [(0xDC, 2), (0xDD, 4)] + ([(0x90, 0)] if len(v) < 16 else []))
            for item in v:
                write(item)
        elif isinstance(v, dict):
            length(len(v), [(0xDE, 2), (0xDF, 4)] + ([(0x80, 0)] if len(v) < 16 else []))
            for key, item in v.items():
                write(key)
                write(item)
        else:
            raise TypeError(type(v))

    write(tree)
    return bytes(out)


INPUTS = [bytes, bytearray, memoryview]


def _check_all_inputs(data, expected_from=None):
    """Both implementations agree on `data` as bytes, bytearray and memoryview, with and
    without bin_views; with `expected_from`, the value equals unpackb(expected_from)."""
    for kind in INPUTS:
        for bin_views in (False, True):
            status, value = both_agree("unpackb", kind(data), bin_views=bin_views)
            assert status == "ok", value
            if expected_from is not None:
                for impl in polycodec.implementations().values():
                    assert_agree(impl.unpackb(kind(data), bin_views=bin_views),
                                 impl.unpackb(kind(expected_from), bin_views=bin_views))


@property_settings(60)
@given(v=values(), seed=st.integers(0, 2**32 - 1))
def test_wide_forms_decode_like_the_smallest(v, seed):
    tree = polycodec.fallback.encode(v)
    normal = msgpack.packb(tree)
    _check_all_inputs(wide_pack(tree, random.Random(seed)), expected_from=normal)


@property_settings(60)
@given(v=values())
def test_msgpack_python_single_float_and_rtype_first(v):
    tree = rtype_first(polycodec.fallback.encode(v))
    try:
        single = msgpack.packb(tree, use_single_float=True)
    except OverflowError:   # msgpack-python refuses floats beyond float32's range
        single = None
    if single is not None:
        _check_all_inputs(single)
    _check_all_inputs(msgpack.packb(tree), expected_from=msgpack.packb(polycodec.fallback.encode(v)))


def test_single_float_values(impl):
    data = msgpack.packb([1.5, 0.1, -2.0, 3.4e38], use_single_float=True)
    assert data[1] == 0xCA
    assert impl.unpackb(data) == [1.5, float(np.float32(0.1)), -2.0, float(np.float32(3.4e38))]


def test_custom_rtype_first_comes_out_last(impl):
    data = msgpack.packb({"_rtype": "custom", "a": 1, "b": [2]})
    assert list(impl.unpackb(data)) == ["a", "b", "_rtype"]
    nested = msgpack.packb([{"x": {"_rtype": "inner", "v": b"z"}}])
    out = impl.unpackb(nested)
    assert list(out[0]["x"]) == ["v", "_rtype"] and out[0]["x"]["v"] == b"z"


@pytest.mark.parametrize("kind", INPUTS)
def test_views_of_any_input_are_read_only(impl, kind):
    """bin_views, ndarray and memoryview results are read-only even when the input is a
    writable bytearray (a writable view would let the caller corrupt shared input)."""
    arr = np.arange(6, dtype=np.int16)
    data = impl.packb({"b": b"xyz", "a": arr, "m": memoryview(b"mv"), "_rvalue": b"r",
                       "l": [b"q"]})
    out = impl.unpackb(kind(bytearray(data)), bin_views=True)
    for view in (out["b"], out["m"], out["_rvalue"], out["l"][0]):
        assert type(view) is memoryview and view.readonly
    assert not out["a"].flags.writeable
    with pytest.raises(TypeError):
        out["b"][0] = 1
    both_agree("unpackb", kind(bytearray(data)), bin_views=True)
