"""Inputs a fuzzer found that the two implementations handled wrongly or differently, each
with its exact bytes, run against both (the `impl` fixture) and compared between them
(`both_agree`: same value, or DecodeError at the same offset).

Note: `encode`, `decode`, `chunks` and most of `Reassembler` are the fallback's code in both
namespaces, so the tests of those below run the same code twice; they are parametrized anyway
so that a future compiled version is held to the same rules.
"""
from __future__ import annotations

import sys
import threading
import tracemalloc
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import msgpack
import numpy as np
import pytest

from polycodec import CodecRegistry, DecodeError, EncodeError, fallback, spec
from tests.core.agree import both_agree

CAP = spec.MAX_DEPTH_LIMIT


def h(s: str) -> bytes:
    return bytes.fromhex(s)


def decode_error(impl, data, **options) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        impl.unpackb(data, **options)
    return info.value


OPTION_SETS = [{}, {"strict_map_key": False}, {"bin_views": True},
               {"bin_views": True, "strict_map_key": False}]


# --- 1. invalid UTF-8 `_rdtype` on the in-place ndarray path --------------------------------
def test_invalid_utf8_rdtype_is_a_decode_error_with_offset(impl):
    data = h("84a65f7274797065a76e646172726179a75f7276616c7565c40100a75f7273686170659101"
             "a75f726474797065a1ff")
    for options in OPTION_SETS:
        err = decode_error(impl, data, **options)
        assert err.offset == 46 and "UTF-8" in str(err)    # the 0xff byte itself
        assert both_agree("unpackb", data, **options) == ("DecodeError", 46)


# --- 2. shape products that overflow 64 bits, dims >= 2**63 ----------------------------------
@pytest.mark.parametrize("data", [
    h("84a65f7274797065a76e646172726179a75f7276616c7565c40100a75f72736861706592ce00042f01"
      "cf00003d30f19cd101a75f726474797065a4696e7438"),      # [274177, 67280421310721]: 2**64+1
    msgpack.packb({"_rtype": "ndarray", "_rvalue": b"\x00", "_rshape": [2**64 - 1],
                   "_rdtype": "int8"}),
    msgpack.packb({"_rtype": "ndarray", "_rvalue": b"\x00" * 8, "_rshape": [2**40, 2**40],
                   "_rdtype": "float32"}),
    msgpack.packb({"_rtype": "ndarray", "_rvalue": b"\x00" * 8, "_rshape": [2**32, 2**32, 2],
                   "_rdtype": "int8"}),
    msgpack.packb({"_rtype": "ndarray", "_rvalue": b"\x00" * 8, "_rshape": [2**63, 2],
                   "_rdtype": "int8"}),
], ids=["wraps-to-1", "dim-2**64-1", "2**40-squared", "three-dims-2**65", "dim-2**63"])
def test_shape_products_are_checked_without_overflow(impl, data):
    err = decode_error(impl, data)
    assert err.offset == 0 and "shape" in str(err)
    assert both_agree("unpackb", data) == ("DecodeError", 0)
    assert both_agree("unpackb", b"\x92\xc0" + data) == ("DecodeError", 2)


def test_large_dims_that_do_fit_still_decode(impl):
    data = msgpack.packb({"_rtype": "ndarray", "_rvalue": b"\x01" * 6, "_rshape": [3, 1, 2],
                          "_rdtype": "uint8"})
    assert impl.unpackb(data).shape == (3, 1, 2)
    data = msgpack.packb({"_rtype": "ndarray", "_rvalue": b"", "_rshape": [2**40, 0],
                          "_rdtype": "uint8"})
    assert impl.unpackb(data).shape == (2**40, 0)
    both_agree("unpackb", data)


# --- 3. numpy's own limits: dims >= 2**63 in an empty array, more than 64 dims -----------------
@pytest.mark.parametrize("shape", [[2**63, 0], [2**64 - 1, 0], [2**62, 4, 0], [0] * 65,
                                   [1] * 65, [2] * 70],
                         ids=["2**63x0", "2**64-1x0", "too-big-empty", "65-zeros", "65-ones",
                              "70-dims"])
def test_numpy_limits_are_decode_errors(impl, shape):
    nbytes = 1 if 0 not in shape and max(shape) == 1 else 0
    data = msgpack.packb({"_rtype": "ndarray", "_rvalue": b"\x00" * nbytes, "_rshape": shape,
                          "_rdtype": "int8"})
    err = decode_error(impl, data)   # never numpy's ValueError
    assert type(err) is DecodeError and err.offset == 0
    assert both_agree("unpackb", data) == ("DecodeError", 0)


def test_numpy_max_dims_decode(impl):
    from polycodec._common import MAX_NDIM
    data = msgpack.packb({"_rtype": "ndarray", "_rvalue": b"\x07", "_rshape": [1] * MAX_NDIM,
                          "_rdtype": "int8"})
    assert impl.unpackb(data).shape == (1,) * MAX_NDIM
    both_agree("unpackb", data)


# --- 4. bin map keys are bytes, never views; strict_map_key allows str and bytes ---------------
@pytest.mark.parametrize("options", OPTION_SETS, ids=str)
@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bin_map_key_is_bytes(impl, options, kind):
    data = kind(h("81c4016b01"))                         # {b"k": 1}
    out = impl.unpackb(data, **options)
    assert out == {b"k": 1} and type(next(iter(out))) is bytes
    both_agree("unpackb", data, **options)


def test_strict_map_key_allows_str_and_bytes_only(impl):
    assert impl.unpackb(h("82a16101c4016202")) == {"a": 1, b"b": 2}   # str, bin8 keys
    for data, offset in ((h("810101"), 1), (h("81c001"), 1), (h("8191a16101"), 1)):
        err = decode_error(impl, data)
        assert err.offset == offset and "strict_map_key=False" in str(err)
        assert both_agree("unpackb", data) == ("DecodeError", offset)


# --- 5. array keys hold bytes, never the fallback's internal bin object ------------------------
@pytest.mark.parametrize("options", [{"strict_map_key": False},
                                     {"strict_map_key": False, "bin_views": True}], ids=str)
def test_array_key_with_a_bin_is_a_tuple_of_bytes(impl, options):
    out = impl.unpackb(h("8191c4016101"), **options)
    assert out == {(b"a",): 1}
    (key,) = out
    assert type(key) is tuple and type(key[0]) is bytes
    both_agree("unpackb", h("8191c4016101"), **options)
    nested = h("8192c40161" "91c4016202")               # {(b"a", (b"b",)): 2}
    assert impl.unpackb(nested, **options) == {(b"a", (b"b",)): 2}
    both_agree("unpackb", nested, **options)


# --- 6. one hard cap on max_depth, reachable in threads and in the fallback --------------------
def nest(n):
    v = None
    for _ in range(n):
        v = [v]
    return v


def nest_dicts(n):
    v = None
    for _ in range(n):
        v = {"k": v}
    return v


def _run_everything_at_the_cap(impl):
    """Every entry point that takes max_depth, at exactly the cap, on arrays and maps."""
    for tree, data in ((nest(CAP), b"\x91" * CAP + b"\xc0"),
                       (nest_dicts(CAP), b"\x81\xa1k" * CAP + b"\xc0")):
        assert impl.packb(tree, max_depth=CAP) == data
        assert b"".join(impl.pack_segments(tree, max_depth=CAP)) == data
        assert impl.encode(tree, max_depth=CAP) == tree
        assert impl.decode(tree, max_depth=CAP) == tree
        assert impl.unpackb(data, max_depth=CAP) == tree
        assert impl.unpack_from(data, max_depth=CAP) == (tree, len(data))
        assert impl.skip(data, max_depth=CAP) == len(data)
        # one more level is a typed error, not a crash or a RecursionError
        step = (len(data) - 1) // CAP                  # bytes per level
        for fn in (impl.unpackb, impl.skip):
            with pytest.raises(DecodeError) as info:
                fn(b"\x91" + data, max_depth=CAP)
            assert info.value.offset == 1 + step * (CAP - 1)   # the container at depth CAP
        with pytest.raises(EncodeError):
            impl.packb([tree], max_depth=CAP)
    # array keys nest too (strict_map_key=False): {[[...[None]...]]: 1}
    key = b"\x81" + b"\x91" * (CAP - 1) + b"\xc0\x01"
    out = impl.unpackb(key, max_depth=CAP, strict_map_key=False)
    assert len(out) == 1
    # the deepest C recursion per level: codec results that hold codec values
    v = None
    for _ in range(CAP - 1):
        v = Wrapped(v)
    data = impl.packb(v, codecs=WRAP, max_depth=CAP)
    assert impl.unpackb(data, codecs=WRAP, max_depth=CAP).depth() == CAP - 1
    return True


class Wrapped:
    def __init__(self, inner):
        self.inner = inner

    def depth(self):
        n, v = 0, self
        while isinstance(v, Wrapped):
            n, v = n + 1, v.inner
        return n


WRAP = CodecRegistry()
WRAP.register(name="wrapped", type=Wrapped, encoder=lambda o: {"v": o.inner},
              decoder=lambda d: Wrapped(d["v"]))


def test_max_depth_cap_in_the_calling_thread(impl):
    assert _run_everything_at_the_cap(impl)


@pytest.mark.parametrize("stack", [None, 512 * 1024], ids=["default-stack", "512KiB-stack"])
def test_max_depth_cap_in_other_threads(impl, stack):
    """A plain threading.Thread and an executor thread with a 512 KiB stack (macOS's default
    for secondary threads) reach the cap; the compiled core needs up to about 400 KiB there
    (nested codec values). The fallback's frames are on the C stack only before Python 3.11:
    there it needs 1 MiB at the cap (between 512 KiB and 1 MiB, measured on 3.10)."""
    if stack and impl is fallback and sys.version_info < (3, 11):
        stack = 1024 * 1024
    old = threading.stack_size(stack or 0)
    try:
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("ok", _run_everything_at_the_cap(impl)))
        t.start()
        t.join()
        assert result.get("ok")
        with ThreadPoolExecutor(2) as pool:
            assert all(pool.map(lambda _: _run_everything_at_the_cap(impl), range(2)))
    finally:
        threading.stack_size(old)


def test_fallback_reaches_the_cap_from_the_default_recursion_limit():
    import subprocess
    code = ("import sys; sys.setrecursionlimit(1000)\n"
            "from polycodec import fallback as f\n"
            f"d = b'\\x91' * {CAP} + b'\\xc0'\n"
            f"v = f.unpackb(d, max_depth={CAP}); assert f.packb(v, max_depth={CAP}) == d\n"
            "print(sys.getrecursionlimit())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={"PYTHONPATH": ":".join(sys.path)})
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == 4 * CAP + 1000   # raised once to a fixed bound, never lowered


@pytest.mark.parametrize("bad", [CAP + 1, 2**40, -1, 2**64])
def test_max_depth_beyond_the_cap_is_refused_naming_the_option(impl, bad):
    calls = [lambda: impl.packb([], max_depth=bad),
             lambda: impl.pack_segments([], max_depth=bad),
             lambda: impl.encode([], max_depth=bad),
             lambda: impl.decode([], max_depth=bad),
             lambda: impl.unpackb(b"\x90", max_depth=bad),
             lambda: impl.unpack_from(b"\x90", max_depth=bad),
             lambda: impl.skip(b"\x90", max_depth=bad)]
    for call in calls:
        with pytest.raises(ValueError, match="max_depth") as info:
            call()
        assert not isinstance(info.value, (DecodeError, EncodeError))


def test_max_depth_type_is_checked(impl):
    for call in (lambda: impl.packb([], max_depth="3"), lambda: impl.unpackb(b"\x90", max_depth=1.5),
                 lambda: impl.skip(b"\x90", max_depth=None)):
        with pytest.raises(TypeError, match="max_depth"):
            call()
    assert impl.unpackb(b"\x91\x90", max_depth=np.int64(2)) == [[]]   # any index-able int


def test_replacements_count_a_level_so_default_loops_end(impl):
    class Loop:
        pass
    with pytest.raises(EncodeError, match="max_depth"):
        impl.packb(Loop(), default=lambda o: Loop())
    reg = CodecRegistry()
    reg.register(name="loop", type=Loop, encoder=lambda o: Loop())
    with pytest.raises(EncodeError, match="max_depth"):
        impl.packb(Loop(), codecs=reg)


# --- 7. one rule where the implementations disagreed ------------------------------------------
@pytest.mark.parametrize("hexdata,offset", [
    ("8182a65f7274797065aa6d656d6f727976696577a75f7276616c7565c402616201", 1),
    ("8182a65f7274797065a56572726f72a75f7276616c7565a17801", 1),
    ("818191a16101a162", 1),        # {{[...]: 1}: ...}: any map in a key
    ("81918001", 2),                # {({},): 1}
], ids=["memoryview-map-key", "error-map-key", "map-key", "map-in-array-key"])
def test_maps_are_never_map_keys(impl, hexdata, offset):
    for options in OPTION_SETS:
        err = decode_error(impl, h(hexdata), **options)
        assert err.offset == offset
        assert both_agree("unpackb", h(hexdata), **options) == ("DecodeError", offset)


@pytest.mark.parametrize("hexdata", [
    "82a65f7274797065aa6d656d6f727976696577a75f7276616c75659182a65f7274797065aa6d656d6f7279"
    "76696577a75f7276616c756592c40161c40162",
    "82a65f7274797065aa6d656d6f727976696577a75f7276616c75659184a65f7274797065a76e6461727261"
    "79a75f7276616c7565c4026162a75f7273686170659102a75f726474797065a575696e7438",
    "82a65f7274797065aa6d656d6f727976696577a75f7276616c75659291c40161c40162",
    "82a65f7274797065aa6d656d6f727976696577a75f7276616c756592c4016101",
], ids=["list-of-memoryview-map", "list-of-ndarray-map", "list-of-list", "list-with-int"])
def test_rvalue_pieces_are_bins_only(impl, hexdata):
    err = decode_error(impl, h(hexdata))
    assert err.offset == 0 and "pieces must be bins" in str(err)
    assert both_agree("unpackb", h(hexdata)) == ("DecodeError", 0)


def test_rvalue_forms_that_decode(impl):
    pieces = {"_rtype": "memoryview", "_rvalue": [b"ab", b"c"]}
    nested = {"_rtype": "memoryview", "_rvalue": pieces}                 # the JS _ndarray() form
    arr = {"_rtype": "ndarray", "_rvalue": nested, "_rshape": [3], "_rdtype": "uint8"}
    assert impl.unpackb(msgpack.packb(pieces)).tobytes() == b"abc"
    assert impl.unpackb(msgpack.packb(nested)).tobytes() == b"abc"
    assert impl.unpackb(msgpack.packb(arr)).tolist() == [97, 98, 99]
    for tree in (pieces, nested, arr):
        both_agree("unpackb", msgpack.packb(tree))
    data = msgpack.packb({"_rtype": "ndarray", "_rvalue": {"_rtype": "ndarray", "_rvalue": b"ab",
                          "_rshape": [2], "_rdtype": "uint8"}, "_rshape": [2], "_rdtype": "uint8"})
    assert both_agree("unpackb", data) == ("DecodeError", 0)   # an ndarray is not a buffer


def test_extra_keys_of_binary_rtype_maps_are_decoded_and_checked(impl):
    data = h("83a65f7274797065aa6d656d6f727976696577a75f7276616c7565c4026162a17882a65f7274797065"
             "a3736574a75f7276616c756505")     # {_rtype: memoryview, _rvalue: b"ab", x: bad set}
    err = decode_error(impl, data)
    assert err.offset == 33
    assert both_agree("unpackb", data) == ("DecodeError", 33)
    # codecs run on those values in both, once each, bottom-up
    seen = []
    reg = CodecRegistry()
    reg.register(name="tag", decoder=lambda d: seen.append(d["v"]) or "tagged")
    tree = {"_rtype": "memoryview", "_rvalue": b"ab", "x": {"_rtype": "tag", "v": 1},
            "y": [{"_rtype": "tag", "v": 2}]}
    out = impl.unpackb(msgpack.packb(tree), codecs=reg)
    assert out.tobytes() == b"ab" and seen == [1, 2]


# --- 8. a failed Reassembler.add changes nothing ----------------------------------------------
def test_failed_add_of_chunk_zero_is_a_no_op(impl):
    r = impl.Reassembler(3, max_size=100, chunk_size=None)
    r.add(1, b"defgh")                     # longer than chunk 0 will be
    r.add(2, b"ij")
    with pytest.raises(DecodeError):
        r.add(0, b"abc")
    assert len(r) == 2 and r.chunk_size is None
    with pytest.raises(DecodeError):
        r.result(3)                        # nothing was kept from the failed add
    with pytest.raises(DecodeError):
        r.add(1, b"def")                   # chunk 1 is still held (duplicate)
    r2 = impl.Reassembler(3, max_size=100, chunk_size=None)
    r2.add(1, b"def")
    r2.add(2, b"gh")
    r2.add(0, b"abc")
    assert bytes(r2.result()) == b"abcdefgh"


@pytest.mark.parametrize("chunk_size", [None, 4])
def test_result_of_zero_chunks_refuses_held_chunks(impl, chunk_size):
    # found by the Reassembler fuzz target: with chunk_size=None, chunks held before chunk 0
    # were ignored by result(0), which returned b"" (shared fallback code in both)
    r = impl.Reassembler(chunk_size=chunk_size)
    r.add(1, b"abcd")
    r.add(2, b"c")
    with pytest.raises(DecodeError, match=r"unexpected chunks \[1, 2\]"):
        r.result(0)
    assert bytes(impl.Reassembler(chunk_size=chunk_size).result(0)) == b""


def test_result_is_taken_once(impl):
    # found by the Reassembler fuzz target: a second result() returned the message again
    r = impl.Reassembler(chunk_size=4)
    r.add(0, b"abcd")
    r.add(1, b"ef")
    assert bytes(r.result(2)) == b"abcdef"
    with pytest.raises(DecodeError, match="already taken"):
        r.result(2)


def test_failed_add_leaves_the_short_chunk_unset(impl):
    r = impl.Reassembler(max_size=10, chunk_size=4)
    with pytest.raises(DecodeError, match="max_size"):
        r.add(3, b"a")                     # short and beyond max_size
    r.add(0, b"abcd")
    r.add(1, b"efgh")
    r.add(2, b"ij")                        # would be "a second short chunk" if 3 had stuck
    assert bytes(r.result(3)) == b"abcdefghij"


def test_failed_add_of_chunk_zero_with_count_beyond_max_size(impl):
    r = impl.Reassembler(10, max_size=20, chunk_size=None)
    r.add(1, b"xyz")
    with pytest.raises(DecodeError, match="max_size"):
        r.add(0, b"abc")                   # 10 chunks of 3 > 20 bytes
    assert len(r) == 1 and r.chunk_size is None


# --- 9. max_items: a budget of values per decode ----------------------------------------------
@pytest.mark.parametrize("data,items", [
    (b"\x01", 0), (b"\x90", 0), (b"\x80", 0), (b"\x91\x90", 1), (b"\x92\x01\x02", 2),
    (b"\x81\xa1a\x92\x01\x02", 4), (b"\x82\xa1a\x80\xa1b\x90", 4),
    (msgpack.packb(np.zeros((2, 3), "f4").tolist()), 8),
])
def test_max_items_counts_array_items_and_map_keys_and_values(impl, data, items):
    assert impl.unpackb(data, max_items=items) is not None or data == b"\xc0"
    if items:
        err = decode_error(impl, data, max_items=items - 1)
        assert "max_items" in str(err)
        assert both_agree("unpackb", data, max_items=items - 1)[0] == "DecodeError"


def test_max_items_error_offset_is_the_container_that_overflows(impl):
    data = b"\x92\x91\x01\x92\x01\x02"          # [[1], [1, 2]]: 2 + 1 + 2 items
    assert impl.unpackb(data, max_items=5) == [[1], [1, 2]]
    assert decode_error(impl, data, max_items=4).offset == 3
    assert decode_error(impl, data, max_items=2).offset == 1
    assert decode_error(impl, data, max_items=1).offset == 0


def test_max_items_same_on_the_in_place_ndarray_path(impl):
    """The compiled core reads hypha-rpc's ndarray map in place; it must count the same values
    (4 keys, 4 values, the shape's dims) as the general path and the fallback."""
    data = impl.packb(np.zeros((2, 3), "f4"))
    assert impl.unpackb(data, max_items=10).shape == (2, 3)
    err = decode_error(impl, data, max_items=9)
    assert err.offset == data.index(b"\x92\x02\x03")    # the _rshape array
    assert decode_error(impl, data, max_items=7).offset == 0
    for n in range(12):
        both_agree("unpackb", data, max_items=n)


def test_max_items_default_and_skip(impl):
    assert spec.DEFAULT_MAX_ITEMS == 2**24
    data = b"\xdd" + (2**24 + 1).to_bytes(4, "big") + b"\xc0" * (2**24 + 1)
    assert decode_error(impl, data).offset == 0   # refused at the header, nothing built
    small = b"\x95" + b"\x90" * 5
    assert decode_error(impl, small, max_items=3).offset == 0
    assert impl.skip(small) == len(small)       # skip builds nothing and counts nothing
    with pytest.raises(ValueError, match="max_items"):
        impl.unpackb(b"\x90", max_items=-1)


ITEM_BYTES = spec.DECODED_BYTES_PER_ITEM
WORST = {
    "empty arrays": lambda n: b"\xdd" + n.to_bytes(4, "big") + b"\x90" * n,
    "empty maps": lambda n: b"\xdd" + n.to_bytes(4, "big") + b"\x80" * n,
    "one-entry maps": lambda n: b"\xdd" + (n // 3).to_bytes(4, "big") + b"\x81\x00\x80" * (n // 3),
    "empty bins": lambda n: b"\xdd" + n.to_bytes(4, "big") + b"\xc4\x00" * n,
    "empty strs": lambda n: b"\xdd" + n.to_bytes(4, "big") + b"\xa0" * n,
}


@pytest.mark.parametrize("shape", list(WORST))
def test_max_items_bounds_memory_on_the_worst_shapes(impl, shape):
    n = 20_000
    data = WORST[shape](n)
    for bin_views, dict_type in ((False, dict), (True, dict), (True, OrderedDict)):
        tracemalloc.start()
        try:
            out = impl.unpackb(data, max_items=n, strict_map_key=False, bin_views=bin_views,
                               dict_type=dict_type)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert len(out) in (n, n // 3)
        assert peak <= ITEM_BYTES * n, f"{peak / n:.0f} bytes per item"
        del out
        with pytest.raises(DecodeError, match="max_items"):
            impl.unpackb(WORST[shape](n + 3), max_items=n, strict_map_key=False,
                         bin_views=bin_views)


# --- 10. options are checked when the call is made ---------------------------------------------
def test_register_codec_validates_at_registration():
    reg = CodecRegistry()
    with pytest.raises(TypeError, match="'x'.*type must be a type"):
        reg.register({"name": "x", "type": 5, "encoder": lambda o: {}})
    with pytest.raises(TypeError, match="'x'.*type must be a type"):
        reg.register(name="x", type=(int, "str"), encoder=lambda o: {})
    with pytest.raises(TypeError, match="register_codec takes a dict"):
        reg.register("point")
    with pytest.raises(TypeError, match="'x'.*encoder must be callable"):
        reg.register(name="x", type=int, encoder=3)
    with pytest.raises(TypeError, match="'x'.*decoder must be callable"):
        reg.register(name="x", decoder="no")
    assert len(reg) == 0
    reg.register(name="ok", type=(int, (float, complex)), encoder=lambda o: {})
    assert len(reg) == 1


@pytest.mark.parametrize("call,exc,name", [
    (lambda m: m.Reassembler(max_size=-1), ValueError, "max_size"),
    (lambda m: m.Reassembler(max_size="big"), TypeError, "max_size"),
    (lambda m: m.Reassembler(chunk_size=0), ValueError, "chunk_size"),
    (lambda m: m.Reassembler(max_chunks=-2), ValueError, "max_chunks"),
    (lambda m: m.pack_segments([], min_oob=-5), ValueError, "min_oob"),
    (lambda m: m.pack_segments([], min_oob=0), ValueError, "min_oob"),
    (lambda m: m.pack_segments([], min_oob=1.5), TypeError, "min_oob"),
    (lambda m: m.chunks(None), TypeError, "data"),
    (lambda m: m.chunks([b"ab", 3]), TypeError, "segment"),
    (lambda m: m.packb(1, default=3), TypeError, "default"),
    (lambda m: m.packb(1, codecs={}), TypeError, "codecs"),
    (lambda m: m.unpackb(b"\x01", dict_type=3), TypeError, "dict_type"),
    (lambda m: m.unpackb(b"\x01", rtype_hook=3), TypeError, "rtype_hook"),
    (lambda m: m.unpackb(b"\x01", codecs=[]), TypeError, "codecs"),
    (lambda m: m.unpackb(b"\x01", max_size=-1), ValueError, "max_size"),
    (lambda m: m.skip(b"\x01", max_size=-1), ValueError, "max_size"),
    (lambda m: m.unpackb(b"\x01", max_items=None), TypeError, "max_items"),
    (lambda m: m.decode(1, dict_type=None), TypeError, "dict_type"),
    (lambda m: m.unpack_from(b"\x01", 1.0), TypeError, "offset"),
    (lambda m: m.skip(b"\x01", "0"), TypeError, "offset"),
])
def test_bad_options_name_the_option(impl, call, exc, name):
    with pytest.raises(exc, match=name) as info:
        call(impl)
    assert not isinstance(info.value, (DecodeError, EncodeError))


def test_offsets_outside_the_input_are_decode_errors(impl):
    for offset in (-1, 2, 2**70, -(2**70)):
        with pytest.raises(DecodeError, match="outside"):
            impl.unpack_from(b"\x01", offset)
        with pytest.raises(DecodeError, match="outside"):
            impl.skip(b"\x01", offset)


def test_self_referencing_dict_error_path_is_short(impl):
    d = {}
    d["self"] = d
    with pytest.raises(EncodeError) as info:
        impl.packb(d)
    path = info.value.path
    assert len(str(info.value)) < 400, len(str(info.value))
    assert path.startswith("$['self']['self']") and path.endswith("['self']")
    assert f"[...{spec.DEFAULT_MAX_DEPTH - 16} more...]" in path
    long_key = {"k" * 10_000: {1.5: 0}}
    with pytest.raises(EncodeError) as info:
        impl.packb(long_key)
    assert len(info.value.path) < 100 and info.value.path.startswith("$['kkk")


@pytest.mark.parametrize("value, options, path", [
    ({1: {b"k": {object()}}}, {"strict_map_key": False}, "$[1][b'k']['_rvalue'][0]"),
    ({1: [2**70]}, {"strict_map_key": False}, "$[1][0]"),
    ({("\ud800",): 1}, {"strict_map_key": False}, "$[('\\ud800',)][0]"),
    ({"x": 1, "_rtype": 2**70}, {}, "$['_rtype']"),
    ({"_rtype": "\ud800", "x": 1}, {}, "$['_rtype']"),
    ({"\ud800": 1}, {}, "$['\\ud800']"),
    ({"a": {"\ud800": 1}}, {}, "$['a']['\\ud800']"),
])
def test_error_paths_name_keys_as_given(impl, value, options, path):
    # the fallback once showed its internal wrapper of an encoded key, and stopped the path
    # short for a bad `_rtype` value or a key that is not valid UTF-8
    with pytest.raises(EncodeError) as e:
        impl.packb(value, **options)
    assert e.value.path == path
