"""Unpacker / aunpack on both implementations: any split of any stream decodes exactly as
unpack_from of the joined bytes (values, errors, offsets); buffering, views and limits."""
from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from polycodec import DecodeError
from polycodec.spec import DEFAULT_MAX_BUFFER_SIZE
from tests.core.expected import assert_same
from tests.strategies import property_settings, values


def failure(e):
    """What an error says (a DecodeError; any other error the core raises must match too)."""
    return str(e) if isinstance(e, DecodeError) else f"{type(e).__name__}: {e}"


def reference(impl, data, **options):
    """(values, error text or None) of unpack_from looped over the joined bytes."""
    out, pos = [], 0
    while pos < len(data):
        try:
            value, pos = impl.unpack_from(data, pos, **options)
        except Exception as e:
            return out, failure(e)
        out.append(value)
    return out, None


def streamed(impl, pieces, **options):
    """(values, error text or None) of an Unpacker fed `pieces`, iterating after each feed."""
    u = impl.Unpacker(**options)
    out = []
    try:
        for piece in pieces:
            u.feed(piece)
            out.extend(u)
        u.close()
        out.extend(u)
    except Exception as e:
        return out, failure(e), u
    return out, None, u


def owner(a):
    """The object that owns the memory behind a view (through array bases and memoryviews)."""
    while True:
        nxt = a.base if isinstance(a, np.ndarray) else a.obj if isinstance(a, memoryview) else None
        if nxt is None:
            return a
        a = nxt


def split(data, cuts, kinds):
    """`data` cut at `cuts`; piece i is bytes, bytearray or memoryview as `kinds` says."""
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    pieces = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        piece = data[a:b]
        kind = kinds[i % len(kinds)] if kinds else 0
        pieces.append(piece if kind == 0 else bytearray(piece) if kind == 1 else memoryview(piece))
    return pieces


def check_same(impl, data, pieces, max_buffer_size=DEFAULT_MAX_BUFFER_SIZE, **options):
    expected, error = reference(impl, data, **options)
    got, got_error, u = streamed(impl, pieces, max_buffer_size=max_buffer_size, **options)
    if got_error and "max_buffer_size" in got_error:
        # refused from its header: the joined bytes cannot hold a value that long
        assert error is not None and error.startswith("truncated input")
        expected = expected[:len(got)]
    else:
        assert got_error == error
    assert len(got) == len(expected)
    for a, e in zip(got, expected):
        assert_same(a, e, readonly=not options.get("copy"))
    if error is None:
        assert u.tell() == len(data)


@property_settings(80)
@given(vals=st.lists(values(max_leaves=8), min_size=1, max_size=6),
       cuts=st.lists(st.integers(0, 10**6), max_size=8), kinds=st.lists(st.integers(0, 2)))
def test_any_split_decodes_as_unpack_from(impl, vals, cuts, kinds):
    data = b"".join(impl.packb(v) for v in vals)
    check_same(impl, data, split(data, cuts, kinds))


@property_settings(150)
@given(vals=st.lists(values(max_leaves=6), min_size=1, max_size=4),
       edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                      max_size=3),
       cut_end=st.integers(0, 8), cuts=st.lists(st.integers(0, 10**6), max_size=6))
@example(vals=[{float("inf")}], edits=[(24, 1)], cut_end=0, cuts=[])   # the edit makes a NaN
def test_damaged_streams_fail_as_unpack_from(impl, vals, edits, cut_end, cuts):
    data = bytearray(b"".join(impl.packb(v) for v in vals))
    for at, byte in edits:
        data[at % len(data)] = byte
    data = bytes(data[:len(data) - cut_end])
    check_same(impl, data, split(data, cuts, []), max_buffer_size=1 << 26)


@property_settings(60)
@given(data=st.binary(max_size=200), cuts=st.lists(st.integers(0, 10**6), max_size=6))
def test_random_bytes_fail_as_unpack_from(impl, data, cuts):
    check_same(impl, data, split(data, cuts, []), strict_map_key=False, max_buffer_size=1 << 26)


def test_options_apply_to_streamed_values(impl):
    vals = [{"a": np.arange(5, dtype=np.int16), "b": b"xyz"}, {"c": [1, 2]}]
    data = b"".join(impl.packb(v) for v in vals)
    for options in ({"copy": True}, {"bin_views": True}, {"dict_type": dict}):
        check_same(impl, data, split(data, [7, 19], [0, 1]), **options)


def test_records_file_with_readinto_and_with_read(impl):
    records = [{"id": i, "x": i * 0.5, "name": f"r{i}", "ok": bool(i & 1)} for i in range(3000)]
    data = b"".join(impl.packb(r) for r in records)

    class ReadOnly:        # no readinto: read() bytes are used as they are
        def __init__(self, data):
            self.f = io.BytesIO(data)

        def read(self, n):
            return self.f.read(min(n, 777))

    class Trickle(io.RawIOBase):   # readinto returning short reads
        def __init__(self, data):
            self.f = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self.f.readinto(memoryview(b)[:301])

    for f in (io.BytesIO(data), ReadOnly(data), Trickle(data)):
        u = impl.Unpacker(f, read_size=1000)
        assert list(u) == records
        assert u.tell() == len(data)
        assert list(u) == []


def test_take_skip_tell(impl):
    data = b"".join(impl.packb(v) for v in ["a", [1, 2], {"k": None}, 7, b"zz"])
    u = impl.Unpacker()
    u.feed(data[:5])
    assert u.take(3) == ["a", [1, 2]]
    assert u.tell() == len(impl.packb("a")) + len(impl.packb([1, 2]))
    u.feed(data[5:])
    assert u.skip() is True
    assert u.tell() == len(data) - len(impl.packb(7)) - len(impl.packb(b"zz"))
    assert u.take(5) == [7, b"zz"]
    assert u.tell() == len(data)
    assert u.skip() is False and u.take(2) == []
    f = impl.Unpacker(io.BytesIO(data))
    assert f.take(2) == ["a", [1, 2]] and f.skip() and next(f) == 7
    assert f.tell() == len(data) - len(impl.packb(b"zz"))


def test_tell_while_iterating_a_batch(impl):
    vals = list(range(0, 100000, 997))
    data = b"".join(impl.packb(v) for v in vals)
    u = impl.Unpacker()
    u.feed(data)
    ends, pos = [], 0
    for v in vals:
        pos += len(impl.packb(v))
        ends.append(pos)
    for v, end in zip(u, ends):
        assert u.tell() == end


def test_truncated_stream_at_eof_names_the_offset(impl):
    frame = impl.packb({"a": "x" * 100})
    data = impl.packb(1) + frame[:-10]
    expected, error = reference(impl, data)
    assert error is not None and "truncated" in error
    for source in ("feed", "file", "read"):
        if source == "feed":
            u = impl.Unpacker()
            u.feed(data)
            u.close()
        elif source == "file":
            u = impl.Unpacker(io.BytesIO(data))
        else:
            u = impl.Unpacker(type("R", (), {"read": io.BytesIO(data).read})())
        assert next(u) == 1
        with pytest.raises(DecodeError) as e:
            next(u)
        assert str(e.value) == error and e.value.offset == 6   # where the str begins
        with pytest.raises(DecodeError):   # it stays broken
            next(u)


def test_incomplete_value_waits_for_more_bytes(impl):
    data = impl.packb([1, "abc", {"x": 2.5}])
    u = impl.Unpacker()
    for i in range(len(data)):
        u.feed(data[i:i + 1])
        got = list(u)
        assert got == ([] if i < len(data) - 1 else [[1, "abc", {"x": 2.5}]])


def test_large_value_refused_from_its_header(impl):
    header = b"\xc6" + (10 << 20).to_bytes(4, "big")   # bin32 declaring 10 MiB
    u = impl.Unpacker(max_buffer_size=1 << 20)
    u.feed(impl.packb("ok") + header)
    assert next(u) == "ok"
    with pytest.raises(DecodeError, match="declaring 10485760 bytes.*max_buffer_size=1048576") as e:
        next(u)
    assert e.value.offset == len(impl.packb("ok"))
    u = impl.Unpacker(max_buffer_size=1000)   # a container of too many items, before its items
    u.feed(b"\xdd" + (5000).to_bytes(4, "big"))
    with pytest.raises(DecodeError, match="array declaring 5000 items"):
        next(u)
    u = impl.Unpacker(max_size=100)           # max_size applies to each value
    u.feed(impl.packb("x" * 50) + impl.packb("y" * 200))
    assert next(u) == "x" * 50
    with pytest.raises(DecodeError, match="max_size=100"):
        next(u)
    assert DEFAULT_MAX_BUFFER_SIZE == 100 << 20


def test_a_value_at_the_limit_passes(impl):
    frame = impl.packb(b"\x01" * 5000)
    u = impl.Unpacker(max_buffer_size=len(frame))
    for i in range(0, len(frame), 999):
        u.feed(frame[i:i + 999])
    assert list(u) == [b"\x01" * 5000]


def test_depth_limit_in_a_stream(impl):
    deep = b"\x91" * 40 + b"\xc0"
    u = impl.Unpacker(max_depth=16)
    u.feed(deep[:20])
    with pytest.raises(DecodeError, match="max_depth=16") as e:
        next(u)
    assert e.value.offset == 16
    u = impl.Unpacker(max_depth=64)
    for i in range(len(deep)):
        u.feed(deep[i:i + 1])
    assert len(list(u)) == 1


def test_endless_nesting_and_garbage_never_hang(impl):
    u = impl.Unpacker()               # nesting without end: refused at max_depth, not buffered
    with pytest.raises(DecodeError, match="max_depth=256"):
        for _ in range(100):
            u.feed(b"\x91" * 1000)
            list(u)
    u = impl.Unpacker()               # a value that never completes: waits, then EOF says so
    u.feed(b"\xc5\xff\xff" + b"x" * 1000)
    for _ in range(3):
        assert list(u) == [] and u.take(5) == [] and u.skip() is False
    u.close()
    with pytest.raises(DecodeError, match="truncated"):
        next(u)
    u = impl.Unpacker()
    u.feed(b"\xc1")
    with pytest.raises(DecodeError, match="0xc1"):
        next(u)


def test_bytes_piece_is_viewed_and_mutable_piece_copied(impl):
    arr = np.arange(100_000, dtype=np.float32)
    frame = impl.packb(arr)
    u = impl.Unpacker()
    u.feed(frame)
    out = next(u)
    assert np.shares_memory(out, np.frombuffer(frame, np.uint8))
    ba = bytearray(frame)
    u.feed(ba)
    out2 = next(u)
    ba[:] = b"\0" * len(ba)
    assert np.array_equal(out2, arr) and not np.shares_memory(out2, np.frombuffer(ba, np.uint8))
    head = impl.packb("first")
    u.feed(head[:3])      # a value split across pieces: the next one in the piece is viewed
    u.feed(head[3:] + frame)
    piece = u._pieces[-1].obj
    assert next(u) == "first"
    third = next(u)
    assert np.array_equal(third, arr) and np.shares_memory(third, np.frombuffer(piece, np.uint8))


def test_split_array_lands_in_one_right_sized_buffer(impl):
    arr = np.arange(4 << 20, dtype=np.float32)    # 16 MiB
    frame = impl.packb(arr)
    u = impl.Unpacker()
    step = 1 << 20
    for i in range(0, len(frame), step):
        u.feed(frame[i:i + step])
    out = next(u)
    assert np.array_equal(out, arr) and not out.flags.writeable
    holder = owner(out)
    assert len(frame) <= holder.nbytes <= len(frame) + 8192
    f = impl.Unpacker(io.BytesIO(frame * 2), read_size=step)
    a, b = list(f)
    assert np.array_equal(a, arr) and np.array_equal(b, arr)
    assert owner(a).nbytes <= len(frame) + step + 8192


def test_yielded_arrays_unchanged_by_later_feeds_and_reads(impl):
    rng = np.random.default_rng(1)
    vals = [rng.standard_normal(n).astype(np.float32) for n in (10, 3000, 70000, 5, 40000)] * 3
    data = b"".join(impl.packb({"i": i, "a": a}) for i, a in enumerate(vals))
    for source in ("feed", "file"):
        u = impl.Unpacker(io.BytesIO(data), read_size=5000) if source == "file" \
            else impl.Unpacker()
        kept = []
        if source == "file":
            kept = list(u)
        else:
            for i in range(0, len(data), 4999):
                u.feed(bytearray(data[i:i + 4999]))
                kept.extend(u)
        assert [k["i"] for k in kept] == list(range(len(vals)))
        for k, a in zip(kept, vals):
            assert np.array_equal(k["a"], a)


def test_feed_rules_and_option_checks(impl):
    u = impl.Unpacker()
    with pytest.raises(TypeError):
        u.feed(12)
    u.close()
    with pytest.raises(ValueError):
        u.feed(b"\x01")
    with pytest.raises(TypeError):
        impl.Unpacker(io.BytesIO(b"")).feed(b"\x01")
    with pytest.raises(TypeError):
        impl.Unpacker(object())
    with pytest.raises(ValueError):
        impl.Unpacker(max_buffer_size=0)
    with pytest.raises(ValueError):
        impl.Unpacker(max_depth=-1)
    with pytest.raises(TypeError):
        impl.Unpacker(codecs=3)
    with pytest.raises(ValueError):
        impl.Unpacker().take(-1)


def test_user_hook_errors_come_after_the_good_values(impl):
    def hook(d):
        if d.get("bad"):
            raise KeyError("bad one")
        return d
    vals = [{"_rtype": "x", "n": 1}, {"_rtype": "x", "bad": True}, {"_rtype": "x", "n": 3}]
    u = impl.Unpacker(rtype_hook=hook)
    u.feed(b"".join(impl.packb(v) for v in vals))
    assert next(u)["n"] == 1
    with pytest.raises(KeyError):
        next(u)


async def test_aunpack_over_a_stream_reader(impl):
    vals = [{"i": i, "a": np.full(i * 100, i, np.uint8)} for i in range(50)]
    data = b"".join(impl.packb(v) for v in vals)
    reader = asyncio.StreamReader()
    for i in range(0, len(data), 1234):
        reader.feed_data(data[i:i + 1234])
    reader.feed_eof()
    got = [v async for v in impl.aunpack(reader, read_size=4096)]
    assert [g["i"] for g in got] == list(range(50))
    assert all(np.array_equal(g["a"], v["a"]) for g, v in zip(got, vals))


async def test_aunpack_over_any_async_read_and_truncation(impl):
    data = impl.packb([1, 2]) + impl.packb("x" * 300)[:-1]

    class Source:
        def __init__(self):
            self.f = io.BytesIO(data)

        async def read(self, n):
            await asyncio.sleep(0)
            return self.f.read(min(n, 7))

    got = []
    with pytest.raises(DecodeError, match="truncated") as e:
        async for v in impl.aunpack(Source()):
            got.append(v)
    assert got == [[1, 2]] and str(e.value) == reference(impl, data)[1]


def test_a_buffer_with_a_live_view_is_never_reused(impl):
    arr = np.arange(1 << 18, dtype=np.float32)
    frame = impl.packb(arr)
    u = impl.Unpacker()

    def one():
        for i in range(0, len(frame), 65536):
            u.feed(frame[i:i + 65536])
        return next(u)

    a = one()
    keep = a[5:9]                  # only a slice of the array stays alive
    held = id(owner(a))
    del a
    for _ in range(4):             # later frames reuse buffers, never the one `keep` needs
        x = one()
        assert id(owner(x)) != held and np.array_equal(x, arr)
        del x
    assert np.array_equal(keep, arr[5:9])


def test_max_items_counts_each_value_on_its_own(impl):
    u = impl.Unpacker(max_items=10)
    u.feed(b"".join(impl.packb(list(range(8))) for _ in range(5)) + impl.packb(list(range(20))))
    assert u.take(5) == [list(range(8))] * 5        # 40 items in all, at most 8 per value
    with pytest.raises(DecodeError, match="max_items=10"):
        next(u)
    with pytest.raises(ValueError):
        impl.Unpacker(max_depth=10**9)               # the decoder's hard depth cap applies
