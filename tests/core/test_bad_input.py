"""Bad input gives a typed error naming the byte offset or the value's path; never a crash, a
hang, a stray exception type or an allocation sized from a declared length."""
from __future__ import annotations

import datetime
import re
import tracemalloc
from collections import OrderedDict

import msgpack
import numpy as np
import pytest

import polycodec
from hypothesis import given
from hypothesis import strategies as st

from polycodec import DecodeError, EncodeError, spec
from tests.core.agree import both_agree
from tests.strategies import property_settings, values

FRAMES = {
    "nested": {"a": [1, -2, 3.5, None, True], "s": "x" * 40, "b": b"\x00" * 300,
               "t": (1, (2,)), "set": {1, 2}, "e": ValueError("no")},
    "ndarray": np.arange(12, dtype=np.float32).reshape(3, 4),
    "str16_bin16_array16": ["é" * 200, b"\x01" * 700, list(range(20))],
    "envelope_main": {"type": "method", "from": "ws/client", "to": "ws/svc:built-in",
                      "method": "services.svc.echo", "session": "abc"},
    "deep": [[[[{"k": [memoryview(b"mv")]}]]]],
}


def _frames(impl):
    return {name: impl.packb(v) for name, v in FRAMES.items()}


def decode_error(impl, data, **options) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        impl.unpackb(data, **options)
    err = info.value
    assert isinstance(err, ValueError)
    return err


def encode_error(impl, value, **options) -> EncodeError:
    with pytest.raises(EncodeError) as info:
        impl.packb(value, **options)
    err = info.value
    assert isinstance(err, ValueError) and err.path.startswith("$")
    with pytest.raises(EncodeError):   # every encode route refuses it the same way
        impl.pack_segments(value, **options)
    with pytest.raises(EncodeError):
        impl.encode(value, **options)
    return err


# --- truncation -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FRAMES))
def test_truncated_at_every_cut_point(impl, name):
    data = _frames(impl)[name]
    for cut in range(len(data)):
        err = decode_error(impl, data[:cut])
        assert isinstance(err.offset, int) and 0 <= err.offset <= cut, (cut, err.offset)
        with pytest.raises(DecodeError):
            impl.unpack_from(data[:cut])
        assert both_agree("unpackb", data[:cut]) == ("DecodeError", err.offset)


@pytest.mark.parametrize("name", list(FRAMES))
def test_trailing_data_is_refused_by_unpackb_not_unpack_from(impl, name):
    data = _frames(impl)[name]
    err = decode_error(impl, data + b"\xc0")
    assert err.offset == len(data)
    _, end = impl.unpack_from(data + b"\xc0")
    assert end == len(data)


# --- declared lengths beyond the input ---------------------------------------------------
HUGE_HEADERS = {   # header, offset of the error: where the missing bytes would start
    "bin32_4GiB": (b"\xc6\xff\xff\xff\xff", 5),
    "str32_4GiB": (b"\xdb\xff\xff\xff\xff", 5),
    "array32_4G_items": (b"\xdd\xff\xff\xff\xff", 5),
    "map32_4G_items": (b"\xdf\xff\xff\xff\xff", 5),
    "bin16": (b"\xc5\xff\xff", 3),
    "array16": (b"\xdc\xff\xff", 3),
    "ext32": (b"\xc9\xff\xff\xff\xff\x01", 0),   # refused at its type byte
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(HUGE_HEADERS))
def test_declared_length_beyond_input_allocates_nothing(impl, name):
    header, offset = HUGE_HEADERS[name]
    data = header + b"\x00" * 5
    tracemalloc.start()
    try:
        err = decode_error(impl, data)
        wrapped = decode_error(impl, b"\x92\x01" + data)   # also inside a container
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"{peak} bytes allocated for a {len(data)}-byte input"
    assert (err.offset, wrapped.offset) == (offset, offset + 2)


def test_huge_shape_on_tiny_bytes(impl):
    for shape in ([2**40, 2**40], [2**62, 4], [-1], [1.5], "3", [True, 2]):
        data = msgpack.packb({"_rtype": "ndarray", "_rvalue": b"\x00" * 8, "_rshape": shape,
                              "_rdtype": "float32"})
        assert decode_error(impl, data).offset == 0


# --- depth -------------------------------------------------------------------------------
def nest(n, leaf=None):
    v = leaf
    for _ in range(n):
        v = [v]
    return v


@pytest.mark.parametrize("max_depth", [1, 5, spec.DEFAULT_MAX_DEPTH])
def test_max_depth_on_encode_and_decode(impl, max_depth):
    options = {} if max_depth == spec.DEFAULT_MAX_DEPTH else {"max_depth": max_depth}
    ok = nest(max_depth)              # max_depth containers deep: allowed
    data = impl.packb(ok, **options)
    assert data == msgpack.packb(ok)
    assert impl.unpackb(data, **options) == ok
    too_deep = nest(max_depth + 1)
    encode_error(impl, too_deep, **options)
    err = decode_error(impl, msgpack.packb(too_deep), **options)
    assert err.offset == max_depth    # the first container past the limit (1 byte each)


def test_depth_counts_maps_and_rtype_values(impl):
    v = {"a": {"b": [{"c": {1, 2}}]}}
    encode_error(impl, v, max_depth=4)
    assert impl.packb(v, max_depth=5)
    decode_error(impl, impl.packb(v), max_depth=3)


def test_pathological_nesting_is_a_typed_error(impl):
    decode_error(impl, b"\x91" * 100_000 + b"\xc0")
    decode_error(impl, b"\x81\xa1k" * 100_000 + b"\xc0")
    encode_error(impl, nest(100_000))


# --- map keys ------------------------------------------------------------------------------
def test_non_str_keys_refused_on_encode_by_default(impl):
    err = encode_error(impl, {"a": [{"b": {2: "x"}}]})
    assert re.search(r"a.*\[0\].*b.*2", err.path), err.path
    for key in (1, None, 1.5, True, (1, 2)):
        encode_error(impl, {key: 1})


@pytest.mark.parametrize("value", [{1: "a", -2: "b", "s": 3}, {None: 0, True: 1, 1.5: 2},
                                   {"n": {2**40: [1]}}])
def test_non_str_keys_allowed_with_strict_map_key_false(impl, value):
    data = impl.packb(value, strict_map_key=False)
    assert data == msgpack.packb(value)
    decode_error(impl, data)                       # the receiver's default refuses them
    assert impl.unpackb(data, strict_map_key=False) == value


def test_bytes_keys_pass_like_msgpack_strict_map_key(impl):
    """msgpack's strict_map_key accepts str and bytes keys: so do both sides here."""
    data = impl.packb({b"k": 1})
    assert data == msgpack.packb({b"k": 1})
    assert impl.unpackb(data) == {b"k": 1}


def test_array_and_map_keys(impl):
    """An array key becomes a (hashable) tuple, as the encoder's tuple keys round-trip; a map
    key cannot be hashed: DecodeError, not msgpack's TypeError."""
    assert impl.unpackb(b"\x81\x92\x01\x92\x02\x03\x03", strict_map_key=False) == {(1, (2, 3)): 3}
    assert impl.unpackb(impl.packb({(1, 2): "a"}, strict_map_key=False),
                        strict_map_key=False) == {(1, 2): "a"}
    decode_error(impl, b"\x81\x80\x03", strict_map_key=False)           # {{}: 3}
    decode_error(impl, b"\x81\x91\x80\x03", strict_map_key=False)       # {[{}]: 3}


# --- dtypes --------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: np.array([1, "a", None], dtype=object),
    lambda: np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),
    lambda: np.zeros(2, dtype=[("a", "<i4")])[0],
    lambda: np.array(None, dtype=object),
], ids=["object", "structured", "structured-scalar", "object-0d"])
def test_object_and_structured_dtypes_refused(impl, make):
    err = encode_error(impl, {"k": [make()]})
    assert re.search(r"k.*\[0\]", err.path), err.path


@pytest.mark.parametrize("dtype", ["float99", "", "O", "object", "i4,i4", "[('a', '<i4')]",
                                   "U", "S0", "V0", "(2,)i4", "np.float32", 5, None, ["f4"]])
def test_unknown_or_refused_dtype_strings(impl, dtype):
    for rtype, extra in (("ndarray", {"_rshape": [1]}), ("typedarray", {})):
        data = msgpack.packb({"_rtype": rtype, "_rvalue": b"\x00" * 8, "_rdtype": dtype, **extra})
        err = decode_error(impl, data)
        assert err.offset == 0   # the map that holds the dtype


@pytest.mark.parametrize("tree", [
    {"_rtype": "ndarray", "_rvalue": b"\x00" * 8, "_rshape": [3], "_rdtype": "float32"},
    {"_rtype": "ndarray", "_rvalue": b"\x00" * 8, "_rshape": [], "_rdtype": "float32"},
    {"_rtype": "ndarray", "_rvalue": b"", "_rshape": [1], "_rdtype": "int8"},
    {"_rtype": "ndarray", "_rvalue": [b"\x00" * 4, b"\x00"], "_rshape": [1], "_rdtype": "int32"},
    {"_rtype": "typedarray", "_rvalue": b"\x00" * 7, "_rdtype": "int16"},
    {"_rtype": "ndarray", "_rvalue": "text", "_rshape": [4], "_rdtype": "uint8"},
    {"_rtype": "ndarray", "_rvalue": [1, 2], "_rshape": [2], "_rdtype": "uint8"},
    {"_rtype": "ndarray", "_rshape": [1], "_rdtype": "uint8"},
    {"_rtype": "ndarray", "_rvalue": b"\x00", "_rdtype": "uint8"},
    {"_rtype": "ndarray", "_rvalue": b"\x00", "_rshape": [1]},
    {"_rtype": "typedarray", "_rvalue": b"\x00\x00"},
    {"_rtype": "memoryview", "_rvalue": 5},
    {"_rtype": "memoryview"},
    {"_rtype": "set", "_rvalue": [[1]]},
    {"_rtype": "set", "_rvalue": 3},
    {"_rtype": "orderedmap", "_rvalue": [[[1], 2]]},
    {"_rtype": "orderedmap", "_rvalue": [[1, 2, 3]]},
    {"_rtype": "orderedmap", "_rvalue": {"a": 1}},
    {"_rtype": "error", "_rvalue": 5},
], ids=lambda t: t["_rtype"])
def test_malformed_core_rtypes(impl, tree):
    err = decode_error(impl, msgpack.packb([0, tree]))
    assert err.offset == 2   # the `_rtype` map itself
    with pytest.raises(DecodeError):
        impl.decode(msgpack.unpackb(msgpack.packb(tree)))


# --- msgpack features hypha never sends ------------------------------------------------------
@pytest.mark.parametrize("data,offset", [
    (b"\xd4\x01\x00", 0), (b"\xd5\x01\x00\x00", 0), (b"\xc7\x01\x05\x00", 0),
    (b"\xd6\xff\x00\x00\x00\x00", 0), (b"\xc1", 0), (b"\x91\xc1", 1), (b"\xa2\xff\xfe", 1),
    (b"\x81\xa2\xff\xfe\x01", 2), (b"\x92\xa3ab\xff", 4),
], ids=["fixext1", "fixext2", "ext8", "timestamp32", "reserved", "reserved-in-array",
        "bad-utf8", "bad-utf8-key", "bad-utf8-third-byte"])
def test_ext_reserved_and_invalid_utf8(impl, data, offset):
    err = decode_error(impl, data)
    assert err.offset == offset   # the type byte, or the first invalid UTF-8 byte


def test_max_size(impl):
    data = impl.packb({"a": b"\x00" * 1000})
    assert impl.unpackb(data, max_size=len(data))
    decode_error(impl, data, max_size=len(data) - 1)
    with pytest.raises(DecodeError):
        impl.unpack_from(data, max_size=100)


def test_unpack_from_offset_outside(impl):
    for offset in (-1, 3, 100):
        with pytest.raises(DecodeError):
            impl.unpack_from(b"\x01\x02", offset)


# --- unsupported values ---------------------------------------------------------------------
class Plain:
    pass


@pytest.mark.parametrize("value", [
    bytearray(b"x"), frozenset({1}), 1 + 2j, datetime.datetime(2020, 1, 1), range(3), object(),
    Plain(), KeyboardInterrupt(), 2**64, -(2**63) - 1, np.int64, type,
], ids=lambda v: type(v).__name__)
def test_unsupported_types_name_the_path(impl, value):
    err = encode_error(impl, {"outer": [0, {"inner": value}]})
    assert re.search(r"outer.*\[1\].*inner", err.path), err.path
    assert err.path in str(err)
    encode_error(impl, value)


def test_callable_without_default_is_refused(impl):
    err = encode_error(impl, {"f": [len]})
    assert re.search(r"f.*\[0\]", err.path)


# --- Reassembler --------------------------------------------------------------------------
# Reassembler is the fallback's code in both namespaces (the compiled one only copies in C).
def test_reassembler_duplicates_gaps_range_and_size(impl):
    r = impl.Reassembler(3, max_size=1000, chunk_size=4)
    r.add(0, b"abcd")
    with pytest.raises(DecodeError):
        r.add(0, b"abcd")                         # duplicate
    for bad in (3, 10, -1):
        with pytest.raises(DecodeError):
            r.add(bad, b"abcd")                   # out of range
    with pytest.raises(DecodeError):
        r.add(1, b"abcdefgh")                     # longer than chunk_size
    with pytest.raises(DecodeError):
        r.result()                                # gap: 1 and 2 missing
    r.add(2, b"ef")
    with pytest.raises(DecodeError):
        r.result()
    r.add(1, b"wxyz")
    assert bytes(r.result()) == b"abcdwxyzef"


def test_reassembler_bad_index_types(impl):
    r = impl.Reassembler(2, max_size=100, chunk_size=4)
    for bad in ("0", 1.0, None):
        with pytest.raises((DecodeError, TypeError)):
            r.add(bad, b"abcd")


def test_reassembler_unknown_count(impl):
    r = impl.Reassembler(max_size=100, chunk_size=4)
    r.add(1, b"efgh")
    r.add(0, b"abcd")
    with pytest.raises(DecodeError):
        r.result()                                # count not known yet
    with pytest.raises(DecodeError):
        r.result(3)                               # chunk 2 missing
    assert bytes(r.result(2)) == b"abcdefgh"


def test_reassembler_oversize(impl):
    with pytest.raises(DecodeError):
        impl.Reassembler(100, max_size=64, chunk_size=4)   # announced count too large
    r = impl.Reassembler(max_size=10, chunk_size=4)
    r.add(0, b"abcd")
    r.add(1, b"efgh")
    with pytest.raises(DecodeError):
        r.add(2, b"ijkl")                         # 12 > max_size
    with pytest.raises(DecodeError):
        impl.Reassembler(max_size=2**40, chunk_size=4).add(2**38, b"abcd")  # beyond max_chunks


def test_reassembler_short_chunk_must_be_last(impl):
    r = impl.Reassembler(3, max_size=100, chunk_size=4)
    r.add(1, b"ab")
    r.add(0, b"abcd")
    with pytest.raises(DecodeError):
        r.add(2, b"abcd")
    with pytest.raises(DecodeError):
        r.result()


# --- fuzz (hypothesis, no atheris): both implementations give the same value, or both a
# DecodeError at the same offset; any other exception fails the test -------------------------
def _agree(data, **options):
    both_agree("unpackb", data, **options)
    both_agree("unpack_from", data, **options)
    both_agree("skip", data, max_depth=options.get("max_depth", spec.DEFAULT_MAX_DEPTH))


@property_settings(300)
@given(data=st.binary(max_size=64), lax=st.booleans(), views=st.booleans(),
       items=st.sampled_from([spec.DEFAULT_MAX_ITEMS, 3]))
def test_fuzz_random_bytes(data, lax, views, items):
    _agree(data, strict_map_key=not lax, max_depth=32, bin_views=views, max_items=items)


@property_settings(200)
@given(v=values(), edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                  min_size=1, max_size=4), cut=st.integers(0, 10**6),
       views=st.booleans())
def test_fuzz_mutated_frames(v, edits, cut, views):
    data = bytearray(polycodec.fallback.packb(v))
    for pos, byte in edits:
        data[pos % len(data)] = byte
    _agree(bytes(data), bin_views=views)
    _agree(bytes(data[: cut % (len(data) + 1)]), strict_map_key=False)


@property_settings(100)
@given(tree=st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3) | st.binary(max_size=9)
    | st.sampled_from(["ndarray", "typedarray", "memoryview", "set", "orderedmap", "error",
                       "float32", "<U2", "|V4", "int16"]),
    lambda ch: st.lists(ch, max_size=3) | st.dictionaries(
        st.sampled_from(["_rtype", "_rvalue", "_rshape", "_rdtype", "_rtrace", "x"]), ch, max_size=4),
    max_leaves=12))
def test_fuzz_rtype_shaped_trees(tree):
    """Random maps made of `_rtype` keys and values: the same value or the same DecodeError."""
    data = msgpack.packb(tree)
    _agree(data)
    _agree(data, bin_views=True, strict_map_key=False)
    for impl in polycodec.implementations().values():   # decode() is shared code
        try:
            impl.decode(msgpack.unpackb(data))
        except DecodeError:
            pass


def test_ordered_dict_is_not_an_error(impl):
    assert impl.unpackb(impl.packb(OrderedDict(a=1))) == {"a": 1}
