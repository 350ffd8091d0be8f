"""Encoder / Decoder: the same bytes and values as packb / unpackb, options fixed and validated
at construction, one instance shared across threads (and re-entered from a hook)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import polycodec
from polycodec import CodecRegistry, DecodeError, EncodeError

VALUES = [
    None, True, 0, -33, 2**64 - 1, 1.5, "", "x" * 40, "é" * 3, b"\x00" * 300,
    [1, [2, [3]]], (1, 2), {"a": 1, "b": {"c": [None, False]}},
    {"_rtype": "custom", "v": 1}, {1, 2}, np.arange(12, dtype=np.float32).reshape(3, 4),
    [np.arange(100_000, dtype=np.uint8), "tail"], ValueError("boom"), memoryview(b"abc"),
]


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return type(a) is type(b) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, Exception):
        return type(a) is type(b) and str(a) == str(b)
    if isinstance(a, memoryview):
        return isinstance(b, memoryview) and a.tobytes() == b.tobytes()
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_encoder_bytes_equal_packb(impl, value):
    enc = impl.Encoder()
    data = impl.packb(value)
    assert enc.encode(value) == data
    assert enc.encode(value) == data          # the reused buffer starts clean
    segs = enc.pack_segments(value)
    assert b"".join(bytes(s) for s in segs) == data
    assert [bytes(s) for s in segs] == [bytes(s) for s in impl.pack_segments(value)]


def test_encoder_options_match_packb(impl):
    reg = CodecRegistry()
    reg.register(name="cplx", type=complex, encoder=lambda c: {"re": c.real, "im": c.imag})
    value = {"f": len, "c": 1j, 3: "int key", "deep": [[[]]]}
    opts = dict(default=lambda o: f"fn:{o.__name__}", strict_map_key=False, codecs=reg)
    assert impl.Encoder(**opts).encode(value) == impl.packb(value, **opts)
    with pytest.raises(EncodeError):
        impl.Encoder().encode({3: 1})
    with pytest.raises(EncodeError, match="max_depth=2"):
        impl.Encoder(max_depth=2).encode([[[1]]])
    arr = np.zeros(1000, dtype=np.uint8)
    segs = impl.Encoder(min_oob=1000).pack_segments([arr])
    assert any(isinstance(s, memoryview) and len(s) == 1000 for s in segs)


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_decoder_values_equal_unpackb(impl, value):
    data = impl.packb(value)
    dec = impl.Decoder()
    assert _same(dec.decode(data), impl.unpackb(data))
    assert _same(dec.decode(bytearray(data)), impl.unpackb(data))
    obj, end = dec.decode_from(data + data, len(data))
    assert end == 2 * len(data) and _same(obj, impl.unpackb(data))


def test_decoder_options_match_unpackb(impl):
    data = impl.packb({"x": b"abc", "s": {1}, "r": {"_rtype": "odd", "v": 1}, "a": np.ones(3)})
    hook = lambda d: ("hook", d["v"])  # noqa: E731
    for opts in [dict(bin_views=True), dict(copy=True), dict(rtype_hook=hook),
                 dict(dict_type=dict), dict(max_depth=3)]:
        assert _same(impl.Decoder(**opts).decode(data), impl.unpackb(data, **opts))
    assert isinstance(impl.Decoder(bin_views=True).decode(data)["x"], memoryview)
    assert impl.Decoder(copy=True).decode(data)["a"].flags.writeable
    with pytest.raises(DecodeError, match="max_depth=1"):
        impl.Decoder(max_depth=1).decode(impl.packb([[1]]))
    with pytest.raises(DecodeError, match="max_size=4"):
        impl.Decoder(max_size=4).decode(data)
    with pytest.raises(DecodeError, match="extra data: 1 bytes"):
        impl.Decoder().decode(data + b"\xc0")
    with pytest.raises(DecodeError, match="not str"):
        impl.Decoder().decode(b"\x81\x01\x02")
    assert impl.Decoder(strict_map_key=False).decode(b"\x81\x01\x02") == {1: 2}


BAD_ENCODER = [
    (dict(default=3), TypeError), (dict(codecs={}), TypeError), (dict(max_depth=-1), ValueError),
    (dict(max_depth=2**40), ValueError), (dict(max_depth="3"), TypeError),
    (dict(min_oob=0), ValueError), (dict(min_oob=1.5), TypeError),
]
BAD_DECODER = [
    (dict(dict_type=3), TypeError), (dict(max_size=-1), ValueError),
    (dict(max_size=None), TypeError), (dict(max_depth=True), TypeError),
    (dict(max_items=-1), ValueError),
    (dict(codecs=[]), TypeError), (dict(rtype_hook="x"), TypeError),
]


@pytest.mark.parametrize("opts, error", BAD_ENCODER, ids=repr)
def test_encoder_options_validated_at_construction(impl, opts, error):
    with pytest.raises(error):
        impl.Encoder(**opts)
    with pytest.raises(error):
        impl.pack_segments(1, **opts)
    if "min_oob" not in opts:
        with pytest.raises(error):
            impl.packb(1, **opts)


@pytest.mark.parametrize("opts, error", BAD_DECODER, ids=repr)
def test_decoder_options_validated_at_construction(impl, opts, error):
    with pytest.raises(error):
        impl.Decoder(**opts)
    with pytest.raises(error):
        impl.unpackb(b"\xc0", **opts)


def test_options_are_read_only(impl):
    enc = impl.Encoder(max_depth=7, min_oob=9)
    dec = impl.Decoder(max_size=10, bin_views=True)
    assert (enc.max_depth, enc.min_oob, enc.default, enc.codecs, enc.strict_map_key) == \
        (7, 9, None, None, True)
    assert (dec.max_size, dec.bin_views, dec.copy, dec.dict_type, dec.rtype_hook) == \
        (10, True, False, dict, None)
    with pytest.raises(AttributeError):
        enc.max_depth = 3
    with pytest.raises(AttributeError):
        dec.max_size = 3


def test_codecs_registered_later_apply(impl):
    reg = CodecRegistry()
    enc, dec = impl.Encoder(codecs=reg), impl.Decoder(codecs=reg)
    with pytest.raises(EncodeError):
        enc.encode(1j)
    reg.register(name="cplx", type=complex, encoder=lambda c: {"re": c.real},
                 decoder=lambda d: complex(d["re"]))
    assert dec.decode(enc.encode(2j + 3)) == 3


def test_encoder_reentered_from_default(impl):
    """A default hook that encodes with the same Encoder gets its own buffer."""
    holder = {}

    def default(obj):
        return holder["enc"].encode(["inner", obj.__name__])

    enc = holder["enc"] = impl.Encoder(default=default)
    value = ["outer" * 10, len, "after"]
    assert enc.encode(value) == impl.packb(value, default=default)
    assert impl.unpackb(enc.encode(value))[1] == impl.packb(["inner", "len"])


def test_one_encoder_and_decoder_shared_across_threads(impl):
    """Eight threads on one Encoder and one Decoder give the single-threaded results; the
    arrays are large enough that the compiled core releases the GIL while copying them."""
    enc = impl.Encoder(default=lambda o: f"fn:{o.__name__}")
    dec = impl.Decoder()

    def value(k):
        return {"k": k, "name": f"r{k}" * (k % 5), "arr": np.full(1_100_000 + k, k % 251,
                                                                  dtype=np.uint8),
                "rows": [{"id": i, "v": i * 0.5} for i in range(k % 40)], "f": len}

    expected = [impl.packb(value(k), default=lambda o: f"fn:{o.__name__}") for k in range(48)]
    barrier = threading.Barrier(8)

    def run(k):
        if k < 8:
            barrier.wait()
        data = enc.encode(value(k))
        segs = b"".join(bytes(s) for s in enc.pack_segments(value(k)))
        out = dec.decode(data)
        return data, segs, int(out["arr"][-1]), len(out["arr"]), out["rows"]

    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            for k, (data, segs, last, n, rows) in enumerate(pool.map(run, range(48))):
                assert data == segs == expected[k]
                assert (last, n) == (k % 251, 1_100_000 + k)
                assert rows == [{"id": i, "v": i * 0.5} for i in range(k % 40)]


def test_exported():
    assert {"Encoder", "Decoder"} <= set(polycodec.__all__)
    impl = polycodec.implementations()[polycodec.IMPLEMENTATION]
    assert polycodec.Encoder is impl.Encoder and polycodec.Decoder is impl.Decoder


def test_decoder_keys_that_share_a_cache_slot(impl):
    """Keys alike in length and in the bytes the compiled key cache hashes stay distinct."""
    dec = impl.Decoder()
    rows = [{"abcd": 1, "aqcd": 2, "azcd": 3}, {"aqcd": 4, "abcd": 5}, {"é": 1, "e": 2},
            {"": 0, "x" * 16: 1, "x" * 17: 2}]
    for row in rows * 3:
        out = dec.decode(impl.packb(row))
        assert out == row and list(out) == list(row)


def test_one_decoder_key_cache_shared_across_threads(impl):
    """Threads decoding records with different key sets through one Decoder (one key cache)
    each get their own keys back."""
    dec = impl.Decoder()
    frames = [impl.packb([{f"k{t}_{j}": j for j in range(12)} for _ in range(50)])
              for t in range(16)]
    expected = [impl.unpackb(f) for f in frames]

    def run(t):
        return [dec.decode(frames[t % 16]) == expected[t % 16] for _ in range(20)]

    with ThreadPoolExecutor(8) as pool:
        assert all(all(r) for r in pool.map(run, range(64)))
