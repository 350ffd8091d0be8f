"""pytest-benchmark cases for the core workloads W1-W4 (they come from polycodec.bench.core).

With the default `--benchmark-disable` each case runs once as a plain test and asserts its
result, so a fast wrong answer fails. Compare with:
    pytest benchmarks/bench_core.py --benchmark-enable --benchmark-group-by=group
Speed targets are checked by `polycodec bench`, not here (no timed assertions).
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from polycodec.bench import core as w
from polycodec.spec import CHUNK_SIZE
from tests.conftest import missing  # benchmarks/conftest.py puts the repo root on sys.path

MiB = 1 << 20


def _msgpack():
    try:
        import msgpack
    except ImportError:
        missing("msgpack")
    return msgpack


def _hypha():
    """hypha-rpc's real encoder/decoder (no server)."""
    peers = w.Peers()
    if peers.rpc is None:
        missing(f"hypha-rpc ({peers.missing.get('hypha-rpc')})")
    return peers


@pytest.fixture(scope="module")
def w1():
    arr = w.w1_array(16 * MiB)
    # The wire frame as hypha-rpc writes it (same bytes as its msgpack.packb(RPC._encode(arr))).
    return arr, _msgpack().packb(w._ndarray_tree(arr))


@pytest.fixture(scope="module")
def w2():
    return w.w2_dict()


@pytest.fixture(scope="module")
def w3():
    return w.w3_list()


@pytest.fixture(scope="module")
def w4():
    arr = w.w4_array(64 * MiB)
    frame = _msgpack().packb(w._ndarray_tree(arr))
    received = [frame[i:i + CHUNK_SIZE] for i in range(0, len(frame), CHUNK_SIZE)]
    return arr, frame, received


def _is_view_of(out, buf):
    return np.shares_memory(np.asarray(out).view(np.uint8).reshape(-1), np.frombuffer(buf, np.uint8))


# --- W1: one 16 MiB float32 array ----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.benchmark(group="W1 pack_segments")
def test_w1_pack_segments(benchmark, impl, w1):
    arr, frame = w1
    segs = benchmark(impl.pack_segments, arr)
    assert b"".join(segs) == frame
    assert any(_is_view_of(np.frombuffer(s, np.uint8), arr) for s in segs)  # zero copy


@pytest.mark.slow
@pytest.mark.benchmark(group="W1 unpackb")
def test_w1_unpackb(benchmark, impl, w1):
    arr, frame = w1
    out = benchmark(impl.unpackb, frame)
    assert out.dtype == arr.dtype and np.array_equal(out, arr)
    assert _is_view_of(out, frame)


@pytest.mark.slow
@pytest.mark.benchmark(group="W1 round trip")
def test_w1_roundtrip(benchmark, impl, w1):
    arr, _ = w1
    out = benchmark(lambda: impl.unpackb(impl.packb(arr)))
    assert np.array_equal(out, arr)


@pytest.mark.slow
@pytest.mark.benchmark(group="W1 round trip")
def test_w1_memcpy(benchmark, w1):
    arr, _ = w1
    dst = np.empty_like(arr)
    benchmark(np.copyto, dst, arr)
    assert np.array_equal(dst, arr)


@pytest.mark.slow
@pytest.mark.benchmark(group="W1 round trip")
def test_w1_roundtrip_hypha(benchmark, w1):
    arr, _ = w1
    peers = _hypha()
    out = benchmark(lambda: peers.hypha_unpackb(peers.hypha_packb(arr)))
    assert np.array_equal(out, arr)


@pytest.mark.slow
@pytest.mark.benchmark(group="W1 packb")
def test_w1_packb(benchmark, impl, w1):
    arr, frame = w1
    assert benchmark(impl.packb, arr) == frame


@pytest.mark.slow
@pytest.mark.benchmark(group="W1 packb")
def test_w1_tobytes(benchmark, w1):
    arr, frame = w1
    out = benchmark(arr.tobytes)
    assert np.array_equal(np.frombuffer(out, arr.dtype), arr)


# --- W2: dict of 10,000 mixed small items --------------------------------------------------
@pytest.mark.benchmark(group="W2 round trip")
def test_w2_roundtrip(benchmark, impl, w2):
    assert benchmark(lambda: impl.unpackb(impl.packb(w2))) == w2


@pytest.mark.benchmark(group="W2 round trip")
def test_w2_msgspec(benchmark, w2):
    try:
        import msgspec.msgpack
    except ImportError:
        missing("msgspec")
    assert benchmark(lambda: msgspec.msgpack.decode(msgspec.msgpack.encode(w2))) == w2


@pytest.mark.benchmark(group="W2 round trip")
def test_w2_hypha(benchmark, w2):
    peers = _hypha()
    assert benchmark(lambda: peers.hypha_unpackb(peers.hypha_packb(w2))) == w2


@pytest.mark.benchmark(group="W2 round trip")
def test_w2_packb_matches_hypha(impl, w2):
    peers = _hypha()
    assert impl.packb(w2) == peers.hypha_packb(w2)


# --- W3: 1,000 dicts each with a 1 KiB float32 array ---------------------------------------
@pytest.mark.benchmark(group="W3 round trip")
def test_w3_roundtrip(benchmark, impl, w3):
    assert w.w3_equal(w3, benchmark(lambda: impl.unpackb(impl.packb(w3))))


@pytest.mark.benchmark(group="W3 round trip")
def test_w3_pickle5_oob(benchmark, w3):
    def rt():
        bufs = []
        return pickle.loads(pickle.dumps(w3, protocol=5, buffer_callback=bufs.append), buffers=bufs)
    assert w.w3_equal(w3, benchmark(rt))


@pytest.mark.benchmark(group="W3 round trip")
def test_w3_hypha(benchmark, w3):
    peers = _hypha()
    assert w.w3_equal(w3, benchmark(lambda: peers.hypha_unpackb(peers.hypha_packb(w3))))


# --- W4: 64 MiB array in 256 KiB chunks ----------------------------------------------------
@pytest.mark.slow
@pytest.mark.benchmark(group="W4 split")
def test_w4_chunks(benchmark, impl, w4):
    arr, _, received = w4
    segs = impl.pack_segments(arr)
    out = benchmark(impl.chunks, segs)
    assert [bytes(c) for c in out] == received  # the reference's slices of the joined frame


@pytest.mark.slow
@pytest.mark.benchmark(group="W4 reassemble + decode")
def test_w4_reassemble(benchmark, impl, w4):
    arr, frame, received = w4
    order = w.arrival_order(len(received))

    def reassemble():
        ra = impl.Reassembler(max_size=len(frame) + CHUNK_SIZE, chunk_size=CHUNK_SIZE)
        for i in order:
            ra.add(i, received[i])
        return impl.unpackb(ra.result(len(received)))
    out = benchmark(reassemble)
    assert np.array_equal(out, arr)


@pytest.mark.slow
@pytest.mark.benchmark(group="W4 reassemble + decode")
def test_w4_alloc_copy(benchmark, w4):
    _, frame, received = w4
    order = w.arrival_order(len(received))

    def alloc_copy():
        buf = np.empty(len(frame), np.uint8)
        for i in order:
            buf[i * CHUNK_SIZE:i * CHUNK_SIZE + len(received[i])] = np.frombuffer(received[i], np.uint8)
        return buf
    assert benchmark(alloc_copy).tobytes() == frame
