"""message_cache calls made in-process without a context (local code, as hypha-rpc's own
white-box tests make them): accepted under a local owner that no peer can reach."""
from __future__ import annotations

import pytest

from polycodec.hypha.chunking import LOCAL, ChunkReceiver, Limits

CTX_A = {"from": "ws-a/alice", "to": "ws-b/bob", "ws": "ws-a"}
CTX_B = dict(CTX_A, **{"from": "ws-c/carol"})


def make_receiver(**limits):
    got, beats = [], []
    rx = ChunkReceiver(Limits(**limits), beats.append, lambda buf, ctx: got.append((buf, ctx)))
    return rx, got, beats


def test_local_upload_is_kept_apart_from_peers_uploads():
    rx, _, beats = make_receiver()
    rx.create("k", True)                       # local code, no context
    rx.create("k", context=CTX_A)              # a peer, same key: no collision
    rx.set("k", 0, b"local", True)
    rx.set("k", 0, b"alice", context=CTX_A)
    assert beats == ["k", "k"]
    assert dict(rx.local["k"]) == {0: b"local"}   # only local code's chunks are shown
    assert rx.peer_bytes(LOCAL) == 5 and rx.peer_bytes("ws-a/alice") == 5
    with pytest.raises(KeyError):
        rx.remove("k", context=CTX_B)          # carol has no such upload
    rx.remove("k", context=CTX_A)              # alice removes hers only
    assert list(rx.local) == ["k"] and len(rx) == 1
    rx.remove("k")
    assert len(rx.local) == 0 and len(rx) == 0


def test_a_peer_cannot_reach_a_local_upload():
    rx, got, _ = make_receiver()
    rx.create("k")
    rx.set("k", 0, b"\x01")
    for call in (lambda: rx.set("k", 1, b"\x02", context=CTX_A),
                 lambda: rx.append("k", b"\x02", context=CTX_A),
                 lambda: rx.process("k", context=CTX_A),
                 lambda: rx.remove("k", context=CTX_A)):
        with pytest.raises(KeyError, match="does not exist"):
            call()
    assert dict(rx.local["k"]) == {0: b"\x01"} and got == []


def test_append_numbers_local_chunks_and_the_view_is_read_only():
    rx, _, _ = make_receiver()
    rx.create("k")
    rx.append("k", b"\x01\x02")
    rx.append("k", b"\x03")
    assert dict(rx.local["k"]) == {0: b"\x01\x02", 1: b"\x03"}
    with pytest.raises(TypeError):
        rx.local["k"][2] = b"x"
    with pytest.raises(TypeError):
        rx.local["x"] = {}


def test_a_context_without_sender_is_still_refused():
    rx, _, _ = make_receiver()
    for ctx in ({}, {"ws": "w"}, {"from": ""}):
        with pytest.raises(PermissionError, match="caller's context"):
            rx.create("k", context=ctx)
    rx.create("k")
    rx.set("k", 0, b"\x01")
    with pytest.raises(AssertionError, match="Context is required"):   # as hypha-rpc
        rx.process("k")
    with pytest.raises(PermissionError):
        rx.process("k", context={"ws": "w"})


def test_local_uploads_have_the_same_bounds():
    rx, _, _ = make_receiver(max_uploads_per_peer=1, max_bytes_per_peer=4)
    rx.create("a")
    rx.create("a", context=CTX_A)              # the bound is per owner
    with pytest.raises(OverflowError, match="local code already has 1"):
        rx.create("b")
    with pytest.raises(OverflowError, match="max_bytes_per_peer"):
        rx.set("a", 0, b"12345")
    assert "a" not in rx.local                 # the upload over the bound was dropped


# ------------------------------------------------------------- through hypha-rpc's own RPC
class StubConnection:
    """Just what `RPC.__init__` needs of a connection; nothing is sent."""

    manager_id = None

    def on_message(self, handler):
        pass

    def on_connected(self, handler):
        pass

    def on_disconnected(self, handler):
        pass

    async def emit_message(self, data):
        pass


class CountingTimer:
    def __init__(self):
        self.resets = 0

    def reset(self):
        self.resets += 1


@pytest.fixture
def rpc(accel):
    from hypha_rpc.rpc import RPC
    return RPC(StubConnection(), client_id="local", workspace="ws-l", silent=True)


def test_hypha_rpc_in_process_calls_work_accelerated(rpc):
    timer = CountingTimer()
    rpc._object_store["s"] = {"timer": timer}
    rpc._object_store["t"] = {}                # a session without a timer
    rpc._create_message("s", heartbeat=True)
    rpc._create_message("t", heartbeat=True)
    rpc._set_message("s", 0, b"\x04\x05", heartbeat=True)
    rpc._append_message("t", b"\x06", heartbeat=True)
    assert timer.resets == 2
    cache = rpc._object_store["message_cache"]   # where hypha-rpc keeps it
    assert cache["s"][0] == b"\x04\x05" and len(cache["t"]) == 1
    with pytest.raises(Exception, match="session does not exist anymore: gone"):
        rpc._create_message("gone", heartbeat=True)
    # a peer's upload under the same key is not local code's and does not show
    rpc._create_message("s", context=CTX_A, overwrite=True)
    rpc._set_message("s", 0, b"\x07", context=CTX_A)
    assert dict(cache["s"]) == {0: b"\x04\x05"}
    rpc._remove_message("s")
    rpc._remove_message("t")
    assert len(cache) == 0
    with pytest.raises(KeyError):   # alice's is still there, only she can reach it
        rpc._remove_message("s")
    rpc._remove_message("s", context=CTX_A)
