"""Zero copy, asserted with np.shares_memory: decoded arrays/memoryviews are read-only views of
the input buffer, pack_segments hands out the caller's memory for large C-contiguous buffers,
chunks() pieces inside one segment are views, and a Reassembler result decodes to views of it."""
from __future__ import annotations

import random

import numpy as np
import pytest

from polycodec import spec

MIN_OOB = spec.DEFAULT_MIN_OOB


def u8(buf) -> np.ndarray:
    """A uint8 array over a buffer's memory (no copy) for np.shares_memory."""
    mv = memoryview(buf)
    return np.frombuffer(mv if (mv.ndim == 1 and mv.format == "B") else mv.cast("B"), np.uint8)


def big(dtype="float32", n=MIN_OOB):
    return np.arange(n, dtype=np.float64).astype(dtype)


INPUTS = {
    "bytes": bytes,
    "bytearray": bytearray,
    "memoryview": lambda b: memoryview(bytearray(b)),
    "ndarray": lambda b: np.frombuffer(bytearray(b), np.uint8),
}


@pytest.mark.parametrize("kind", list(INPUTS))
@pytest.mark.parametrize("n", [1, 7, 1000, MIN_OOB])
def test_decoded_array_is_readonly_view_of_input(impl, kind, n):
    arr = big("float32", n)
    buf = INPUTS[kind](impl.packb({"a": [arr]}))
    out = impl.unpackb(buf)["a"][0]
    assert np.array_equal(out, arr)
    assert np.shares_memory(out, u8(buf))
    assert not out.flags.writeable
    with pytest.raises(ValueError):
        out[0] = 1


def test_decoded_array_follows_a_writable_input(impl):
    """A view, not a snapshot: the bytes under it are the caller's (documented behaviour)."""
    arr = np.arange(4, dtype=np.int32)
    buf = bytearray(impl.packb(arr))
    out = impl.unpackb(buf)
    at = bytes(buf).index(arr.tobytes())
    buf[at] = 99
    assert out[0] == 99


@pytest.mark.parametrize("dtype", ["int8", "int16", ">f8", "complex64", "datetime64[ns]", "<U3", "|V4"])
def test_every_kind_of_dtype_is_a_view(impl, dtype):
    arr = np.frombuffer(bytes(range(48)) * 2, dtype=np.uint8).view(dtype)
    if np.dtype(dtype).kind == "U":
        arr = np.array(["ab", "c", "", "xyz"], dtype=dtype)
    data = impl.packb(arr)
    out = impl.unpackb(data)
    assert out.tobytes() == arr.tobytes() and out.dtype == arr.dtype
    assert np.shares_memory(out, u8(data)) and not out.flags.writeable


def test_unaligned_view_at_odd_offset(impl):
    arr = np.arange(5, dtype=np.float64)
    buf = b"\x01" + impl.packb(arr)       # padding byte: the payload lands unaligned
    out, end = impl.unpack_from(buf, 1)
    assert end == len(buf)
    assert np.array_equal(out, arr)
    assert np.shares_memory(out, u8(buf))


def test_typedarray_and_memoryview_rtypes_are_views(impl):
    import msgpack

    raw = bytes(range(16))
    data = msgpack.packb([{"_rtype": "typedarray", "_rvalue": raw, "_rdtype": "int16"},
                          {"_rtype": "memoryview", "_rvalue": raw},
                          {"_rvalue": {"_rtype": "memoryview", "_rvalue": raw},
                           "_rshape": [2, 2], "_rdtype": "float32", "_rtype": "ndarray"}])
    typed, mv, nested = impl.unpackb(data)
    for out in (typed, nested, np.frombuffer(mv, np.uint8)):
        assert np.shares_memory(out, u8(data))
    assert not typed.flags.writeable and not nested.flags.writeable and mv.readonly
    assert mv.tobytes() == raw


def test_view_keeps_the_buffer_alive(impl):
    import gc

    arr = big("int32", 1000)
    buf = bytearray(impl.packb(arr))
    out = impl.unpackb(buf)
    del buf
    gc.collect()
    assert np.array_equal(out, arr)


@pytest.mark.parametrize("n", [1, 1000, MIN_OOB])
def test_copy_true_gives_owned_arrays(impl, n):
    arr = big("float32", n)
    data = bytearray(impl.packb({"a": arr, "m": memoryview(arr), "t": [arr]}))
    out = impl.unpackb(data, copy=True)
    for a in (out["a"], out["t"][0], np.frombuffer(out["m"], np.uint8)):
        assert not np.shares_memory(a, u8(data))
    assert out["a"].flags.writeable and out["a"].flags.owndata
    assert np.array_equal(out["a"], arr)
    data[-1] ^= 0xFF                       # the copy does not follow the input
    assert np.array_equal(out["t"][0], arr)


# --- pack_segments --------------------------------------------------------------------------
def _views_of(segments, buf):
    return [s for s in segments if np.shares_memory(u8(s), u8(buf))]


@pytest.mark.parametrize("dtype", ["float32", ">i4", "uint8", "complex128", "bool"])
def test_segments_hold_the_callers_array(impl, dtype):
    arr = big(dtype, MIN_OOB)
    segments = impl.pack_segments({"x": arr, "y": [1, 2]})
    views = _views_of(segments, arr)
    assert len(views) == 1
    view = views[0]
    assert memoryview(view).nbytes == arr.nbytes
    assert u8(view).ctypes.data == arr.ctypes.data  # the very same memory, not a copy
    assert b"".join(bytes(s) for s in segments) == impl.packb({"x": arr, "y": [1, 2]})


def test_segments_threshold_is_min_oob(impl):
    arr = big("uint8", 1000)
    assert _views_of(impl.pack_segments(arr, min_oob=1000), arr)
    joined = b"".join(bytes(s) for s in impl.pack_segments(arr, min_oob=1001))
    assert joined == impl.packb(arr)


@pytest.mark.parametrize("make", [
    lambda: memoryview(bytearray(MIN_OOB)),
    lambda: memoryview(big("float64", MIN_OOB // 8)),            # format 'd'
    lambda: memoryview(big("int16", MIN_OOB).reshape(256, -1)),  # 2-D
], ids=["bytes-format", "float-format", "2d"])
def test_segments_hold_the_callers_memoryview(impl, make):
    mv = make()
    segments = impl.pack_segments([mv])
    assert len(_views_of(segments, mv)) == 1
    assert b"".join(bytes(s) for s in segments) == impl.packb([mv])


@pytest.mark.parametrize("make", [
    lambda: np.asfortranarray(big("float32", MIN_OOB).reshape(256, -1)),
    lambda: big("float32", 2 * MIN_OOB)[::2],
    lambda: big("float32", MIN_OOB).reshape(256, -1).T,
], ids=["fortran", "strided", "transposed"])
def test_segments_of_noncontiguous_arrays_are_correct_copies(impl, make):
    arr = make()
    segments = impl.pack_segments(arr)
    assert b"".join(bytes(s) for s in segments) == impl.packb(arr)
    assert impl.unpackb(impl.packb(arr)).tobytes() == arr.tobytes()


def test_segments_do_not_copy_twice_for_many_arrays(impl):
    arrays = [big("float32", MIN_OOB // 4 + i) for i in range(5)]
    segments = impl.pack_segments(arrays)
    for arr in arrays:
        assert len(_views_of(segments, arr)) == 1
    assert b"".join(bytes(s) for s in segments) == impl.packb(arrays)


# --- chunks and Reassembler --------------------------------------------------------------------
# chunks and Reassembler are the fallback's code in both namespaces (the compiled Reassembler
# only copies in C): both params run the same code.
def _reference_slices(joined: bytes, size: int):
    return [joined[i:i + size] for i in range(0, len(joined), size)]


@pytest.mark.parametrize("size", [1000, 4096, spec.CHUNK_SIZE])
def test_chunks_of_one_buffer_are_views(impl, size):
    data = impl.packb(big("float32", 300_000))
    pieces = impl.chunks(data, size)
    assert [bytes(p) for p in pieces] == _reference_slices(data, size)
    for p in pieces:
        assert np.shares_memory(u8(p), u8(data))


@pytest.mark.parametrize("size", [1000, 65536, spec.CHUNK_SIZE])
def test_chunks_of_segments(impl, size):
    arr = big("float32", 300_000)
    obj = {"head": "x" * 10, "arr": arr, "tail": [arr[:10], "y"]}
    segments = impl.pack_segments(obj)
    joined = impl.packb(obj)
    pieces = impl.chunks(segments, size)
    assert [bytes(p) for p in pieces] == _reference_slices(joined, size)
    start = joined.index(arr.tobytes())
    base = arr.ctypes.data
    for i, p in enumerate(pieces):
        lo, hi = i * size, i * size + len(memoryview(p).cast("B"))
        if start <= lo and hi <= start + arr.nbytes:   # wholly inside the array segment
            assert u8(p).ctypes.data == base + lo - start, f"piece {i} is not a view"


def test_chunks_default_size_is_the_protocols(impl):
    data = bytes(spec.CHUNK_SIZE * 2 + 5)
    assert [len(memoryview(p)) for p in impl.chunks(data)] == [spec.CHUNK_SIZE] * 2 + [5]


@pytest.mark.parametrize("count_known", [True, False])
def test_reassembled_message_decodes_to_views(impl, count_known):
    arr = big("float64", 100_000)
    data = impl.packb({"arr": arr, "meta": {"k": 1}})
    size = 65536
    pieces = impl.chunks(data, size)
    order = list(range(len(pieces)))
    random.Random(7).shuffle(order)
    r = impl.Reassembler(len(pieces) if count_known else None, max_size=len(data) + 10,
                         chunk_size=size)
    for i in order:
        r.add(i, pieces[i])
    buf = r.result(None if count_known else len(pieces))
    assert bytes(buf) == data
    out = impl.unpackb(buf)
    assert np.array_equal(out["arr"], arr) and out["meta"] == {"k": 1}
    assert np.shares_memory(out["arr"], u8(buf))
    assert not out["arr"].flags.writeable
