"""Exact outcomes of less travelled paths of the codec, in both implementations.

Mutation testing (fuzz/mutation.py, on fallback.py and _common.py) showed these were not
pinned down: input views of other formats and shapes, error messages and offsets of rarer
errors, `decode(tree)` options and depth, the `_rintf` default hook's depth, segment formats,
and the Reassembler's option errors, growth and state after a failed chunk 0.
"""
from __future__ import annotations

import random
import string

import msgpack
import numpy as np
import pytest

from polycodec import DecodeError, EncodeError

R, V, S, D = "_rtype", "_rvalue", "_rshape", "_rdtype"


def _raises(exc, fn, *args, **kw):
    with pytest.raises(exc) as e:
        fn(*args, **kw)
    return e.value


# ------------------------------------------------------------------------------- input
def test_input_of_other_formats_and_shapes_is_read_as_bytes(impl):
    data = msgpack.packb([1, "ab", b"c"])            # 8 bytes
    assert len(data) == 8
    for buf in (np.frombuffer(data, np.uint16), np.frombuffer(data, np.uint8).reshape(2, 4),
                memoryview(data).cast("B", (4, 2))):
        assert impl.unpackb(buf) == [1, "ab", b"c"]


def test_non_contiguous_input_is_refused(impl):
    e = _raises(DecodeError, impl.unpackb, memoryview(b"\x91\x01\x91\x01")[::2])
    assert str(e) == "input buffer is not contiguous" and e.offset is None


@pytest.mark.parametrize("data, message, offset", [
    (b"\xc4\x05ab", "truncated input: a bin needs 5 bytes, 2 remain", 2),
    (b"\xc7\x01\x05x", "msgpack ext type 0xc7 is not supported", 0),
    (b"\x91\xc7\x01\x05x", "msgpack ext type 0xc7 is not supported", 1),
    (b"\x91\x81\xa1a\x81\xa1b\xc0", "nesting deeper than max_depth=2", 4),
])
def test_rarer_decode_errors_message_and_offset(impl, data, message, offset):
    e = _raises(DecodeError, impl.unpackb, data, max_depth=2)
    assert str(e) == f"{message} (at byte {offset})" and e.offset == offset


def test_unpack_from_is_strict_about_map_keys_by_default(impl):
    data = b"\x00" + msgpack.packb({1: 2})
    e = _raises(DecodeError, impl.unpack_from, data, 1)
    assert e.offset == 2
    assert impl.unpack_from(data, 1, strict_map_key=False) == ({1: 2}, 4)


# ----------------------------------------------------------------------- decode(tree)
def test_decode_tree_checks_rtype_hook_and_dict_type(impl):
    e = _raises(TypeError, impl.decode, {"a": 1}, rtype_hook=5)
    assert str(e) == "rtype_hook must be callable or None, got int"
    e = _raises(TypeError, impl.decode, {"a": 1}, dict_type=None)   # None is no default here
    assert str(e) == "dict_type must be callable, got NoneType"


def test_decode_tree_keeps_or_copies_binary_values(impl):
    ba = bytearray(b"ab")
    view = impl.decode({R: "memoryview", V: memoryview(ba)})
    copied = impl.decode({R: "memoryview", V: memoryview(ba)}, copy=True)
    ba[0] = ord("z")
    assert bytes(view) == b"zb" and bytes(copied) == b"ab"   # a view unless copy=True
    wide = impl.decode({R: "memoryview", V: memoryview(np.arange(3, dtype="<u2"))})
    assert (wide.format, wide.ndim, bytes(wide)) == ("B", 1, b"\x00\x00\x01\x00\x02\x00")


def test_decode_tree_depth_of_maps_and_nested_binary_values(impl):
    nested = {"a": {"a": {"a": 1}}}
    assert impl.decode(nested, max_depth=3) == nested
    assert str(_raises(DecodeError, impl.decode, nested, max_depth=2)) == \
        "nesting deeper than max_depth=2"
    # a memoryview map as the _rvalue of another: one level each
    inner = {"m": {R: "memoryview", V: {R: "memoryview", V: b"ab"}}}
    assert bytes(impl.decode(inner, max_depth=3)["m"]) == b"ab"
    assert str(_raises(DecodeError, impl.decode, inner, max_depth=2)) == \
        "nesting deeper than max_depth=2"


def test_decode_tree_reports_bad_binary_pieces(impl):
    e = _raises(DecodeError, impl.decode, {R: "memoryview", V: [b"a", 5]})
    assert str(e) == "_rvalue pieces must be bins"
    assert bytes(impl.decode({R: "memoryview", V: [b"a", memoryview(b"b")]})) == b"ab"


# --------------------------------------------------------------------------- ndarray
def test_empty_array_numpy_cannot_describe_is_refused(impl):
    data = msgpack.packb({R: "ndarray", V: b"", S: [0, 2**62], D: "float64"})
    e = _raises(DecodeError, impl.unpackb, data)
    assert str(e) == f"ndarray shape [0, {2**62}] is too large for numpy (at byte 0)"


# --------------------------------------------------------------------------- encode
def test_rintf_default_hook_counts_depth(impl):
    """A default hook that keeps returning `_rintf` maps stops at max_depth."""
    e = _raises(EncodeError, impl.packb, {"_rintf": 0}, default=lambda d: {"_rintf": 0},
                max_depth=5)
    assert "max_depth=5" in str(e)


def test_segments_of_wide_buffers_are_bytes_views(impl):
    arr = np.arange(100_000, dtype=np.float64)
    segs = impl.pack_segments([memoryview(arr)], min_oob=1024)
    views = [s for s in segs if isinstance(s, memoryview)]
    assert [(v.format, v.ndim, v.nbytes) for v in views] == [("B", 1, arr.nbytes)]
    assert b"".join(segs) == impl.packb([memoryview(arr)])


# --------------------------------------------------------------------------- chunks
def test_chunks_of_wide_and_strided_segments(impl):
    seg = np.arange(4, dtype="<u2")                # 8 bytes
    assert [bytes(c) for c in impl.chunks([seg, b"xy"], 3)] == \
        [b"\x00\x00\x01", b"\x00\x02\x00", b"\x03\x00x", b"y"]
    e = _raises(ValueError, impl.chunks, [memoryview(b"abcd")[::2]], 3)
    assert str(e) == "chunks: a segment is not contiguous"


@pytest.mark.parametrize("option, value, message", [
    ("count", -1, "count must be at least 0, got -1"),
    ("max_chunks", -1, "max_chunks must be at least 0, got -1"),
    ("max_size", -1, "max_size must be at least 0, got -1"),
])
def test_reassembler_option_errors(impl, option, value, message):
    assert str(_raises(ValueError, impl.Reassembler, **{option: value})) == message


def test_reassembler_with_max_size_0_takes_no_chunk(impl):
    asm = impl.Reassembler(max_size=0, chunk_size=None)
    assert len(asm) == 0
    with pytest.raises(DecodeError, match="max_size=0"):
        asm.add(0, b"a")


@pytest.mark.parametrize("index, chunk, message", [
    (-1, b"a", "chunk index must be a non-negative int, got -1"),
    ("1", b"a", "chunk index must be a non-negative int, got '1'"),
    (4, b"a", "chunk index 4 out of range (limit 4)"),
    (0, b"", "chunk 0 is empty"),
])
def test_reassembler_chunk_errors(impl, index, chunk, message):
    asm = impl.Reassembler(chunk_size=None, max_chunks=4)
    assert str(_raises(DecodeError, asm.add, index, chunk)) == message


def test_reassembler_failed_chunk_0_changes_nothing(impl):
    """Two held chunks shorter than chunk 0: refused as chunk 0 comes, leaving the held
    chunks as they were, so a chunk 0 of the right size still completes the message."""
    asm = impl.Reassembler(chunk_size=None)
    asm.add(1, b"x")
    asm.add(2, b"y")
    e = _raises(DecodeError, asm.add, 0, b"abc")
    assert str(e) == "chunk 2 is short but chunk 1 already was"
    asm.add(0, b"w")
    assert len(asm) == 3 and bytes(asm.result(3)) == b"wxy"


def test_reassembler_grows_past_its_first_block(impl):
    """A max_size no allocation can reserve: it starts with a smaller block and grows as a
    far chunk lands."""
    mib = 2**20
    asm = impl.Reassembler(max_size=2**62, chunk_size=mib)
    asm.add(70, b"z" * mib)
    asm.add(0, b"a" * mib)
    assert len(asm) == 2 and asm.missing(71)[:2] == [1, 2] and len(asm.missing(71)) == 69


# --------------------------------------------------------------------------- key cache
def test_decoder_key_cache_tells_a_latin1_key_from_the_utf8_key_of_its_bytes(impl):
    """A str's Latin-1 bytes can equal another key's UTF-8 bytes ('â\x82¬...' and '€...'):
    only keys whose bytes are their wire bytes (ASCII) may be kept for later hits. 4000
    pairs with varied suffixes: some pair shares one of the cache's 256 slots."""
    rng = random.Random(0)
    dec = impl.Decoder()
    for _ in range(4000):
        key = "€" + "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(1, 10)))
        lookalike = key.encode().decode("latin-1")
        assert dec.decode(msgpack.packb({lookalike: 1})) == {lookalike: 1}
        assert list(dec.decode(msgpack.packb({key: 2}))) == [key]
