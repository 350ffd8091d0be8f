"""Exact outcomes of the chunk receiver's and sender's less travelled paths
(hypha/chunking.py).

Mutation testing (fuzz/mutation.py) showed these were not pinned down: the errors' messages,
the byte bounds at equality, `append`'s accounting per sender, the uploads local code made
(`rx.local`, as hypha-rpc's own tests read them), the timeout warning, and how the sender reads
a peer's built-in service (its `config`, the lookup cache's size, a failed `remove`).
"""
from __future__ import annotations

import asyncio
import logging

import pytest

import polycodec
from polycodec.hypha import chunking, envelope
from polycodec.hypha.chunking import ChunkReceiver, ChunkSender, Limits
from polycodec.spec import CHUNK_SIZE
from tests.hypha.test_units import CTX_A, FakeCache, frame_segs

ALICE = CTX_A["from"]


def receiver(**limits):
    got = []
    return ChunkReceiver(Limits(**limits), lambda key: None, lambda buf, ctx: got.append(buf)), got


def test_chunk_index_and_key_errors_say_what_is_wrong():
    rx, _ = receiver(max_chunks=4)
    for key in ("", 5):
        with pytest.raises(ValueError) as e:
            rx.create(key, context=CTX_A)
        assert str(e.value) == "message_cache key must be a non-empty str"
    rx.create("k", context=CTX_A)
    with pytest.raises(polycodec.DecodeError) as e:
        rx.set("k", 4, b"x", context=CTX_A)
    assert str(e.value) == "message_cache chunk index 4 outside 0..3 (max_chunks)"
    with pytest.raises(KeyError) as e:
        rx.set("k", 0, b"x", context=CTX_A)       # the bad chunk removed the upload
    assert e.value.args == ("Message with key k does not exist.",)


def test_byte_bounds_admit_exactly_the_limit():
    """max_bytes_per_peer and max_total_bytes are the most an upload may hold, inclusive."""
    rx, got = receiver(max_bytes_per_peer=20, max_total_bytes=30)
    rx.create("a", context=CTX_A)
    rx.set("a", 0, bytes(10), context=CTX_A)
    rx.set("a", 1, bytes(10), context=CTX_A)      # 20: the per-peer limit itself
    with pytest.raises(OverflowError) as e:
        rx.set("a", 2, bytes(1), context=CTX_A)
    assert str(e.value) == (f"message_cache: partial uploads from {ALICE} would hold 21 bytes "
                            "(max_bytes_per_peer=20); upload dropped")
    ctx_b, ctx_c = dict(CTX_A, **{"from": "b"}), dict(CTX_A, **{"from": "c"})
    rx.create("b", context=ctx_b)
    rx.set("b", 0, bytes(10), context=ctx_b)
    rx.set("b", 1, bytes(10), context=ctx_b)
    rx.create("c", context=ctx_c)
    rx.set("c", 0, bytes(10), context=ctx_c)      # 30: the total limit itself
    assert rx.total_bytes == 30
    with pytest.raises(OverflowError) as e:
        rx.set("c", 1, bytes(1), context=ctx_c)
    assert str(e.value) == ("message_cache: partial uploads would hold 31 bytes in total "
                            "(max_total_bytes=30); upload from c dropped")
    assert rx.total_bytes == 20 and len(rx) == 1


def test_append_counts_the_bytes_of_its_sender():
    rx, _ = receiver(max_bytes_per_peer=15)
    rx.create("k", context=CTX_A)
    rx.append("k", bytes(10), context=CTX_A)
    assert rx.peer_bytes(ALICE) == 10
    with pytest.raises(OverflowError, match=f"from {ALICE} would hold 20 bytes"):
        rx.append("k", bytes(10), context=CTX_A)
    assert len(rx) == 0 and rx.total_bytes == 0   # the sender's upload is the one dropped


def test_local_uploads_are_readable_as_hypha_rpc_keeps_them():
    rx, got = receiver()
    assert list(rx.local) == [] and len(rx.local) == 0
    rx.create("k")                                # no context: local code
    rx.set("k", 1, b"def")
    rx.set("k", 0, b"abc")
    rx.create("j", context=CTX_A)                 # a peer's upload is not among them
    assert list(rx.local) == ["k"] and len(rx.local) == 1
    assert dict(rx.local["k"]) == {1: b"def", 0: b"abc"}
    with pytest.raises(TypeError):
        rx.local["k"][2] = b"x"                   # read-only
    with pytest.raises(KeyError):
        rx.local["j"]
    rx.process("k", context={"from": chunking.LOCAL})
    assert bytes(got[0]) == b"abcdef" and list(rx.local) == []


async def test_timed_out_upload_is_logged_with_its_sender(caplog):
    rx, _ = receiver(reassembly_timeout=0.01)
    with caplog.at_level("WARNING", logger="polycodec.hypha"):
        rx.create("k", context=CTX_A)
        await asyncio.sleep(0.1)
    assert len(rx) == 0
    assert caplog.records[-1].getMessage() == (
        f"message_cache: upload k from {ALICE} timed out after 0 s; removed")


class FakeRPC:
    """get_remote_service of the peers' built-in services, counting the lookups."""

    def __init__(self, services):
        self.services, self.asked = services, []

    async def get_remote_service(self, name):
        self.asked.append(name)
        return self.services[name.split(":")[0]]


def _service(cache, config):
    proxy = {n: cache.method(n) for n in ("create", "set", "append", "process", "remove")}
    return {"message_cache": proxy, "config": config}


@pytest.mark.parametrize("api, method", [(3, "set"), (2, "append")])
async def test_sender_reads_the_api_version_and_chunk_size_from_the_peer_config(api, method):
    rx, got = receiver()
    cache = FakeCache(rx, api)
    config = {"api_version": api, chunking.ADVERTISE_KEY: {"v": 1, "max_chunk_size": 2 * CHUNK_SIZE}}
    sender = ChunkSender(FakeRPC({"peer": _service(cache, config)}), cache.packed)
    segs = frame_segs({"type": "method"}, {"args": [bytes(5 * CHUNK_SIZE)]})
    await sender.send(segs, "peer", None)
    assert bytes(got[0]) == b"".join(bytes(s) for s in segs)
    other = {"set": "append", "append": "set"}[method]
    assert method in cache.calls and other not in cache.calls
    assert sender._builtin["peer"][0] == api and sender._builtin["peer"][2] == 2 * CHUNK_SIZE


async def test_sender_keeps_the_most_recent_peers_services():
    rx, _ = receiver()
    cache = FakeCache(rx)
    rpc = FakeRPC({p: _service(cache, {"api_version": 3}) for p in ("a", "b", "c")})
    sender = ChunkSender(rpc, cache.packed, cache_size=2)
    for peer in ("a", "b", "c", "b", "a"):
        await sender._message_cache(peer)
    assert rpc.asked == ["a:built-in", "b:built-in", "c:built-in", "a:built-in"]
    assert list(sender._builtin) == ["c", "a"]    # the oldest lookup goes first


async def test_a_failed_remove_is_logged_and_the_cause_raised(caplog):
    rx, _ = receiver()
    cache = FakeCache(rx, fail_at=1)

    async def remove(key):
        raise ConnectionError("gone")

    proxy = {n: cache.method(n) for n in ("create", "set", "append", "process")}
    sender = ChunkSender(None, cache.packed)
    sender._builtin["peer"] = (3, dict(proxy, remove=remove), CHUNK_SIZE)
    segs = frame_segs({"type": "method"}, {"args": [bytes(3 * CHUNK_SIZE)]})
    with caplog.at_level(logging.DEBUG, logger="polycodec.hypha"):
        with pytest.raises(RuntimeError, match="link down"):
            await sender.send(segs, "peer", "s1")   # a session: the key is its id
    assert [r.getMessage() for r in caplog.records] == ["message_cache.remove(s1) failed: gone"]
    assert "peer" not in sender._builtin


async def test_bytes_in_flight_fill_the_bound_exactly(monkeypatch):
    """MAX_IN_FLIGHT_BYTES of chunks may be in flight at once (not one byte less)."""
    monkeypatch.setattr(chunking, "MAX_IN_FLIGHT_BYTES", 3 * CHUNK_SIZE)
    rx, got = receiver()
    cache = FakeCache(rx)
    sender = ChunkSender(None, cache.packed)
    proxy = {n: cache.method(n) for n in ("create", "set", "append", "process", "remove")}
    sender._builtin["peer"] = (3, proxy, CHUNK_SIZE)
    def frame(n):
        return frame_segs({"type": "method"}, {"args": [bytes(n)]})

    # exactly 10 full chunks (a short last chunk would fit beside two full ones)
    overhead = envelope.frame_size(frame(CHUNK_SIZE)) - CHUNK_SIZE
    segs = frame(10 * CHUNK_SIZE - overhead)
    assert envelope.frame_size(segs) == 10 * CHUNK_SIZE
    await sender.send(segs, "peer", None)
    assert cache.max_in_flight == 3 and len(got) == 1
