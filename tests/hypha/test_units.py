"""Envelope, chunk receiver/sender and accelerate() switches, without a server."""
from __future__ import annotations

import asyncio
import importlib

import msgpack
import numpy as np
import pytest

import polycodec
from polycodec.hypha import envelope
from polycodec.hypha.chunking import ChunkReceiver, ChunkSender, Limits
from polycodec.spec import CHUNK_SIZE

CTX_A = {"from": "ws-a/alice", "to": "ws-b/bob", "ws": "ws-a", "user": {"id": "alice"}}
CTX_B = dict(CTX_A, **{"from": "ws-c/carol"})


# ------------------------------------------------------------------------------ accelerate
def test_unknown_version_refused(monkeypatch):
    import hypha_rpc

    import polycodec.hypha
    from hypha_rpc.rpc import RemoteFunction

    original = RemoteFunction.__dict__["__call__"]
    monkeypatch.setattr(hypha_rpc, "__version__", "0.0.1")
    with pytest.raises(RuntimeError, match="0.0.1"):
        polycodec.hypha.accelerate()
    assert RemoteFunction.__dict__["__call__"] is original
    with polycodec.hypha.accelerated(force=True):
        assert RemoteFunction.__dict__["__call__"] is not original
        assert polycodec.hypha.is_accelerated()
    assert RemoteFunction.__dict__["__call__"] is original
    assert not polycodec.hypha.is_accelerated()
    with pytest.raises(ValueError, match="compression"):
        polycodec.hypha.accelerate(compression="gzip", force=True)


# ------------------------------------------------------------------------------- envelope
def frame_segs(main, extra=None, zero_copy=False):
    """A frame as the accelerated `_invoke` builds it: (key, packed value) pairs, `args`
    through `pack_value`, then `envelope.pack_frame`."""
    pairs = [(k, envelope.pack_value(v, zero_copy=zero_copy) if k == "args"
              else [polycodec.packb(v)]) for k, v in (extra or {}).items()]
    return envelope.pack_frame(main, pairs)


@pytest.mark.parametrize("zero_copy", [False, True])
def test_frame_is_two_msgpack_objects(zero_copy):
    arr = np.arange(200_000, dtype=np.float32)
    main = {"type": "method", "from": "w/a", "to": "w/b", "method": "services.s.f"}
    extra = {"args": [arr, {"k": [1, 2]}], "with_kwargs": True, "promise": "*", "t": 15.0}
    segs = frame_segs(main, extra, zero_copy=zero_copy)
    frame = envelope.join(segs)
    assert envelope.frame_size(segs) == len(frame)
    # the stock client's reader sees the same two objects
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=len(frame))
    unpacker.feed(frame)
    got_main, got_extra = list(unpacker)
    assert got_main == main
    assert got_extra["args"][0]["_rtype"] == "ndarray" and got_extra["t"] == 15.0
    if zero_copy:   # the array is one of the segments, not a copy
        assert any(isinstance(s, memoryview) and np.shares_memory(np.asarray(s), arr)
                   for s in segs)
    msg, refused = envelope.parse_frame(frame)
    assert refused == [] and type(msg) is envelope.Message
    np.testing.assert_array_equal(msg["args"][0], arr)


def test_main_only_frame():
    frame = envelope.join(frame_segs({"type": "x", "to": "a"}))
    msg, refused = envelope.parse_frame(frame)
    assert msg == {"type": "x", "to": "a"} and refused == []


def test_extra_cannot_override_trusted_or_main_keys():
    main = {"type": "method", "from": "ws-a/alice", "to": "ws-b/bob", "ws": "ws-a",
            "user": {"id": "alice"}, "method": "services.s.f"}
    extra = {"from": "ws-b/admin", "ws": "ws-b", "user": {"id": "root"}, "method": "other",
             "ctx": {"user": {"id": "root"}}, "args": [1]}
    frame = msgpack.packb(main) + msgpack.packb(extra)
    msg, refused = envelope.parse_frame(frame, default_context={"extra_ctx": 1})
    assert msg["from"] == "ws-a/alice" and msg["ws"] == "ws-a" and msg["user"] == {"id": "alice"}
    assert msg["method"] == "services.s.f" and msg["args"] == [1]
    assert msg["ctx"]["user"] == {"id": "alice"} and msg["ctx"]["extra_ctx"] == 1
    assert sorted(refused) == ["ctx", "from", "method", "user", "ws"]


def test_trusted_context_wins_over_main_for_chunked_messages():
    main = {"type": "method", "from": "forged/x", "to": "t", "ws": "forged", "user": None,
            "ctx": {"user": "forged"}}
    msg, refused = envelope.parse_frame(msgpack.packb(main), trusted=CTX_A, default_context={})
    for key in envelope.TRUSTED_KEYS:
        assert msg[key] == CTX_A[key] and msg["ctx"][key] == CTX_A[key]
    assert refused == ["ctx"]


@pytest.mark.parametrize("bad", [b"\x81", b"\x01", b"\x81\xa1a"])
def test_bad_extra_raises_typed_error(bad):
    frame = msgpack.packb({"type": "method"}) + bad
    with pytest.raises(polycodec.DecodeError):
        envelope.parse_frame(frame)


def test_lazy_value_is_not_decoded_until_asked_and_rest_still_read():
    frame = msgpack.packb({"type": "method"}) + msgpack.packb(
        {"args": [{"_rtype": "boom"}], "promise": "*"})
    seen = []

    def hook(d):
        seen.append(d)
        raise RuntimeError("hook failed")

    msg, _ = envelope.parse_frame(frame, lazy=("args",))
    assert isinstance(msg["args"], envelope.Raw) and msg["promise"] == "*" and seen == []
    with pytest.raises(RuntimeError, match="hook failed"):
        msg["args"].decode(rtype_hook=hook)
    assert msg["args"].decode() == [{"_rtype": "boom"}]


def test_headers_match_msgpack():
    for n in (0, 15, 16, 255, 256, 65535, 65536):
        assert envelope.map_header(n) == msgpack.packb({i: 0 for i in range(n)})[:len(
            envelope.map_header(n))]


# ------------------------------------------------------------------------- chunk receiver
def make_receiver(**limits):
    got, beats = [], []
    rx = ChunkReceiver(Limits(**limits), beats.append, lambda buf, ctx: got.append((buf, ctx)))
    return rx, got, beats


def frame_chunks(nbytes):
    frame = envelope.join(frame_segs(
        {"type": "method", "to": "x"},
        {"args": [np.arange(nbytes // 8, dtype=np.float64)]}))
    return frame, [bytes(c) for c in polycodec.chunks([frame])]


def test_receiver_out_of_order_and_dispatch():
    rx, got, beats = make_receiver()
    frame, pieces = frame_chunks(3 * CHUNK_SIZE)
    rx.create("k", True, context=CTX_A)
    for i in reversed(range(len(pieces))):
        rx.set("k", i, pieces[i], True, context=CTX_A)
    rx.process("k", True, context=CTX_A)
    (buf, ctx), = got
    assert bytes(buf) == frame and ctx is CTX_A
    assert beats == ["k"] * (len(pieces) + 2)   # the caller's session timer is reset
    assert len(rx) == 0


def test_receiver_append_for_old_peers():
    rx, got, _ = make_receiver()
    frame, pieces = frame_chunks(2 * CHUNK_SIZE)
    rx.create("k", context=CTX_A)
    for p in pieces:
        rx.append("k", p, context=CTX_A)
    rx.process("k", context=CTX_A)
    assert bytes(got[0][0]) == frame


def test_uploads_are_scoped_to_their_sender():
    rx, got, _ = make_receiver()
    frame, pieces = frame_chunks(2 * CHUNK_SIZE)
    rx.create("k", context=CTX_A)
    rx.create("k", context=CTX_B)          # same key, other sender: no collision
    with pytest.raises(KeyError):
        rx.remove("nope", context=CTX_B)
    for i, p in enumerate(pieces):
        rx.set("k", i, p, context=CTX_A)
    with pytest.raises(polycodec.DecodeError):
        rx.process("k", context=CTX_B)     # carol's (empty) upload, not alice's
    rx.process("k", context=CTX_A)
    assert bytes(got[0][0]) == frame
    with pytest.raises(PermissionError):
        rx.create("z", context=None)


def test_receiver_bounds_and_cleanup():
    rx, got, _ = make_receiver(max_message_size=2 * CHUNK_SIZE, max_uploads_per_peer=2)
    _, pieces = frame_chunks(4 * CHUNK_SIZE)
    rx.create("k", context=CTX_A)
    rx.set("k", 0, pieces[0], context=CTX_A)
    rx.set("k", 1, pieces[1], context=CTX_A)
    with pytest.raises(polycodec.DecodeError, match="max_size"):
        rx.set("k", 2, pieces[2], context=CTX_A)
    assert len(rx) == 0                      # the oversize upload was removed
    with pytest.raises(KeyError):
        rx.set("k", 3, pieces[3], context=CTX_A)
    rx.create("a", context=CTX_A)
    rx.create("b", context=CTX_A)
    with pytest.raises(OverflowError):
        rx.create("c", context=CTX_A)
    with pytest.raises(KeyError, match="already exists"):
        rx.create("a", context=CTX_A)
    rx.create("a", overwrite=True, context=CTX_A)
    with pytest.raises(polycodec.DecodeError):
        rx.set("a", -1, pieces[0], context=CTX_A)
    with pytest.raises(TypeError):
        rx.set("b", 0, "text", context=CTX_A)
    assert got == []


async def test_receiver_times_out_partial_upload():
    rx, got, _ = make_receiver(reassembly_timeout=0.05)
    _, pieces = frame_chunks(2 * CHUNK_SIZE)
    rx.create("k", context=CTX_A)
    rx.set("k", 0, pieces[0], context=CTX_A)
    await asyncio.sleep(0.2)
    assert len(rx) == 0
    with pytest.raises(KeyError):
        rx.set("k", 1, pieces[1], context=CTX_A)


# --------------------------------------------------------------------------- chunk sender
class FakeCache:
    """A peer's message_cache behind a loopback: records calls, feeds a real receiver."""

    def __init__(self, rx, api=3, fail_at=None, config=None):
        self.rx, self.api, self.calls = rx, api, []
        self.fail_at = () if fail_at is None else \
            fail_at if isinstance(fail_at, range) else (fail_at,)
        self.config = config or {"api_version": api}
        self.in_flight = self.max_in_flight = 0

    def method(self, name):
        async def call(*args):
            self.calls.append(name)
            getattr(self.rx, name)(*args, context=CTX_A)
        return call

    async def packed(self, fn, segs):
        """What the RPC layer does with packed args: decode them like a receiver would."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001)
            args = polycodec.unpackb(envelope.join(segs))
            if len(args) == 4 and args[1] in self.fail_at:
                raise RuntimeError("link down")
            await fn(*args)
        finally:
            self.in_flight -= 1


def make_sender(cache):
    sender = ChunkSender(None, cache.packed)
    proxy = {n: cache.method(n) for n in ("create", "set", "append", "process", "remove")}
    sender._builtin["peer"] = (cache.api, proxy, sender._chunk_for(cache.config))
    return sender


@pytest.mark.parametrize("api", [3, 2])
async def test_sender_roundtrip_zero_copy_slices(api):
    rx, got, _ = make_receiver()
    cache = FakeCache(rx, api)
    arr = np.arange(40 * CHUNK_SIZE // 8, dtype=np.float64)
    segs = frame_segs({"type": "method", "to": "x"}, {"args": [arr]}, zero_copy=True)
    await make_sender(cache).send(segs, "peer", None)
    assert bytes(got[0][0]) == envelope.join(segs)
    if api >= 3:
        assert 1 < cache.max_in_flight <= 30
    else:
        assert "append" in cache.calls and cache.max_in_flight == 1
    # a slice of the array segment is a view of the array (sent without a copy)
    pieces = polycodec.chunks(segs)
    assert any(np.shares_memory(np.asarray(p), arr) for p in pieces)


async def test_sender_removes_partial_upload_on_failure():
    rx, got, _ = make_receiver()
    cache = FakeCache(rx, fail_at=5)
    segs = frame_segs({"type": "method"}, {"args": [bytes(12 * CHUNK_SIZE)]})
    with pytest.raises(RuntimeError, match="link down"):
        await make_sender(cache).send(segs, "peer", None)
    assert cache.calls[-1] == "remove" and len(rx) == 0 and got == []


async def test_sender_serializes_messages_of_one_session_key():
    rx, got, _ = make_receiver()
    cache = FakeCache(rx)
    sender = make_sender(cache)
    frames = [frame_segs({"type": "method", "n": i}, {"args": [bytes(3 * CHUNK_SIZE)]})
              for i in range(3)]
    await asyncio.gather(*(sender.send(f, "peer", "session1") for f in frames))
    assert sorted(envelope.parse_main(g[0])[0]["n"] for g in got) == [0, 1, 2]
    assert not sender._locks


# ------------------------------------------------------- big chunks, views, copies (speed)
def test_receiver_takes_views_and_any_chunk_size_up_to_the_limit():
    rx, got, _ = make_receiver(max_chunk_size=4 * CHUNK_SIZE)
    frame = envelope.join(frame_segs(
        {"type": "method", "to": "x"}, {"args": [np.arange(10 * CHUNK_SIZE // 8, dtype=float)]}))
    size = 4 * CHUNK_SIZE
    pieces = [memoryview(frame)[i:i + size] for i in range(0, len(frame), size)]
    rx.create("k", context=CTX_A)
    for i in (2, 0, 1):
        rx.set("k", i, pieces[i], context=CTX_A)   # memoryviews, as bin_views decodes them
    rx.process("k", context=CTX_A)
    assert bytes(got[0][0]) == frame
    rx.create("k", context=CTX_A)
    with pytest.raises(polycodec.DecodeError, match="max_chunk_size"):
        rx.set("k", 0, bytes(size + 1), context=CTX_A)
    assert len(rx) == 0


def test_receiver_refuses_gaps_and_unequal_chunks():
    rx, got, _ = make_receiver()
    frame, pieces = frame_chunks(3 * CHUNK_SIZE)
    rx.create("k", context=CTX_A)
    rx.set("k", 0, pieces[0], context=CTX_A)
    rx.set("k", 2, pieces[2], context=CTX_A)
    with pytest.raises(polycodec.DecodeError):
        rx.process("k", context=CTX_A)
    rx.create("k", context=CTX_A)
    rx.set("k", 0, pieces[0][:-1], context=CTX_A)  # chunk 0 sets the size: 1 byte short
    with pytest.raises(polycodec.DecodeError):     # caught as chunk 1 arrives, not at process
        rx.set("k", 1, pieces[1], context=CTX_A)
    assert len(rx) == 0                            # the poisoned upload is freed at once
    with pytest.raises(KeyError):
        rx.process("k", context=CTX_A)
    assert got == []


def test_pack_value_copies_only_what_can_change():
    writable = np.arange(100_000, dtype=np.float64)
    segs = envelope.pack_value([writable])
    assert not any(np.shares_memory(np.asarray(s), writable) for s in segs)
    # a received message buffer: decoded arrays are views of it and are sent as views
    buf = envelope.mark_received(_reassembled(envelope.join(segs)))
    got = polycodec.unpackb(buf)[0]
    assert not got.flags.writeable and envelope.immutable(memoryview(got))
    segs2 = envelope.pack_value([got])
    assert any(np.shares_memory(np.asarray(s), got) for s in segs2)
    assert envelope.join(segs2) == envelope.join(segs)
    # arrays over bytes are immutable too; read-only views of writable memory are not
    ro = np.frombuffer(bytes(80_000), np.uint8)
    assert any(np.shares_memory(np.asarray(s), ro) for s in envelope.pack_value([ro]))
    view = writable.view()
    view.flags.writeable = False
    assert not envelope.immutable(memoryview(view))
    assert not any(np.shares_memory(np.asarray(s), writable)
                   for s in envelope.pack_value([view]))
    # zero_copy=True: views of everything (the caller promised not to mutate)
    assert any(np.shares_memory(np.asarray(s), writable)
               for s in envelope.pack_value([writable], zero_copy=True))


def _reassembled(data):
    asm = polycodec.Reassembler(1, chunk_size=len(data))
    asm.add(0, data)
    return asm.result(1)


def test_unmarked_reassembly_buffer_is_not_trusted():
    data = polycodec.packb([np.arange(100_000, dtype=np.float64)])
    got = polycodec.unpackb(_reassembled(data))[0]   # root buffer writable: may change
    assert not envelope.immutable(memoryview(got))


@pytest.mark.parametrize("advertised, expected", [
    (None, CHUNK_SIZE), ({"v": 1, "max_chunk_size": 8 * CHUNK_SIZE}, 4 * CHUNK_SIZE),
    ({"v": 1, "max_chunk_size": 2 * CHUNK_SIZE}, 2 * CHUNK_SIZE),
    ({"v": 1, "max_chunk_size": 2**40}, 4 * CHUNK_SIZE), ({"v": 1, "max_chunk_size": "x"},
                                                          CHUNK_SIZE)])
async def test_sender_uses_big_chunks_only_toward_advertising_peers(advertised, expected):
    from polycodec.hypha.chunking import ADVERTISE_KEY, BIG_CHUNK_SIZE, SEND_CHUNK_SIZE
    assert BIG_CHUNK_SIZE == 8 * CHUNK_SIZE and SEND_CHUNK_SIZE == 4 * CHUNK_SIZE
    rx, got, _ = make_receiver(max_chunk_size=BIG_CHUNK_SIZE)
    config = {"api_version": 3}
    if advertised is not None:
        config[ADVERTISE_KEY] = advertised
    cache = FakeCache(rx, config=config)
    sizes = []
    orig = rx._check

    def spy(owner, index, data):
        sizes.append(memoryview(data).nbytes)
        return orig(owner, index, data)

    rx._check = spy
    segs = frame_segs({"type": "method"}, {"args": [bytes(3 * BIG_CHUNK_SIZE)]})
    await make_sender(cache).send(segs, "peer", None)
    assert max(sizes) == expected and bytes(got[0][0]) == envelope.join(segs)


async def test_sender_bounds_bytes_in_flight(monkeypatch):
    """Big chunks: the bytes in flight stay within MAX_IN_FLIGHT_BYTES (not 30 chunks);
    256 KiB chunks toward stock peers are still bound by the count alone."""
    from polycodec.hypha import chunking
    from polycodec.hypha.chunking import ADVERTISE_KEY, BIG_CHUNK_SIZE
    monkeypatch.setattr(chunking, "MAX_IN_FLIGHT_BYTES", 3 * BIG_CHUNK_SIZE)
    for advertised, most in ((BIG_CHUNK_SIZE, 3), (None, 30)):
        rx, got, _ = make_receiver(max_chunk_size=BIG_CHUNK_SIZE)
        config = {"api_version": 3}
        if advertised:
            config[ADVERTISE_KEY] = {"v": 1, "max_chunk_size": advertised}
        cache = FakeCache(rx, config=config)
        sender = make_sender(cache)
        sender.big_chunk_size = BIG_CHUNK_SIZE
        sender._builtin["peer"] = sender._builtin["peer"][:2] + (
            sender._chunk_for(config),)
        segs = frame_segs({"type": "method"}, {"args": [bytes(12 * BIG_CHUNK_SIZE)]})
        await sender.send(segs, "peer", None)
        assert 1 < cache.max_in_flight <= most and bytes(got[0][0]) == envelope.join(segs)
    assert cache.max_in_flight > 3   # the count, not the bytes, bounds small chunks


# ------------------------------------------------------- trust rule for decrypted payloads
def test_decrypted_payload_goes_through_the_trust_rule(caplog):
    """hypha-rpc merges the decrypted payload of an `_enc` call with `data.update(...)`: on
    the message polycodec dispatches, that update cannot set a vouched key, `ctx`, or a key
    of `main` (the same rule as for `extra`)."""
    main = {"type": "method", "from": "ws-a/alice", "to": "ws-b/bob", "ws": "ws-a",
            "user": {"id": "alice"}, "method": "services.s.f", "session": "s1"}
    frame = msgpack.packb(main) + msgpack.packb({"_enc": {"v": 2}, "data": b"ciphertext"})
    msg, refused = envelope.parse_frame(frame, default_context={})
    assert refused == []
    del msg["_enc"], msg["data"]              # what hypha-rpc does before merging
    with caplog.at_level("WARNING", logger="polycodec.hypha"):
        msg.update({"from": "ws-b/admin", "to": "x", "ws": "ws-b", "user": {"id": "root"},
                    "ctx": {"from": "ws-b/admin"}, "method": "services.other.g",
                    "session": "s2", "args": [1], "promise": "*"})
    assert {k: msg[k] for k in main} == main
    assert msg["ctx"]["from"] == "ws-a/alice" and msg["args"] == [1] and msg["promise"] == "*"
    assert "refused keys" in caplog.text and "'from'" in caplog.text


# --------------------------------------------------------------- bytes held by uploads
def test_receiver_bounds_bytes_per_peer_and_in_total():
    rx, got, _ = make_receiver(max_bytes_per_peer=3 * CHUNK_SIZE + 100,
                               max_total_bytes=4 * CHUNK_SIZE + 200)
    frame, pieces = frame_chunks(3 * CHUNK_SIZE)   # 4 chunks, the last one short
    rx.create("a", context=CTX_A)
    rx.create("b", context=CTX_A)
    rx.set("a", 0, pieces[0], context=CTX_A)
    rx.set("a", 1, pieces[1], context=CTX_A)
    rx.set("b", 1, pieces[1], context=CTX_A)       # before chunk 0: held as a view, counted
    assert rx.peer_bytes(CTX_A["from"]) == rx.total_bytes == 3 * CHUNK_SIZE
    with pytest.raises(OverflowError, match="max_bytes_per_peer"):
        rx.set("b", 0, pieces[0], context=CTX_A)
    assert len(rx) == 1 and rx.total_bytes == 2 * CHUNK_SIZE   # "b" dropped, "a" kept
    with pytest.raises(KeyError):
        rx.set("b", 2, pieces[2], context=CTX_A)
    # another sender fills the rest of the total
    rx.create("c", context=CTX_B)
    rx.set("c", 0, pieces[0], context=CTX_B)
    rx.set("c", 1, pieces[1], context=CTX_B)
    with pytest.raises(OverflowError, match="max_total_bytes"):
        rx.set("a", 2, pieces[2], context=CTX_A)   # the upload that would overflow goes
    assert len(rx) == 1 and rx.total_bytes == 2 * CHUNK_SIZE
    for i in (2, 3):
        rx.set("c", i, pieces[i], context=CTX_B)
    rx.process("c", context=CTX_B)                 # completed uploads free their bytes
    assert bytes(got[0][0]) == frame and rx.total_bytes == 0 and len(rx) == 0


def test_accelerate_passes_and_validates_limits():
    import polycodec.hypha
    from polycodec.hypha.chunking import SERVER_WS_MAX_SIZE

    with polycodec.hypha.accelerated(max_bytes_per_peer=2**20, max_total_bytes=2**21,
                                     max_chunk_size=CHUNK_SIZE) as opts:
        lim = opts.limits
        assert (lim.max_bytes_per_peer, lim.max_total_bytes, lim.max_chunk_size) == (
            2**20, 2**21, CHUNK_SIZE)
    assert Limits().max_bytes_per_peer == 4 * 2**30 and Limits().max_total_bytes == 8 * 2**30
    for bad in ({"max_chunk_size": CHUNK_SIZE - 1}, {"max_chunk_size": 1024},
                {"max_total_bytes": 0}, {"max_bytes_per_peer": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            polycodec.hypha.accelerate(**bad)
        assert not polycodec.hypha.is_accelerated()
    with pytest.raises(ValueError, match="max_chunk_size"):
        Limits(max_chunk_size=CHUNK_SIZE // 2)
    with pytest.warns(UserWarning, match="ws_max_size"):
        Limits(max_chunk_size=SERVER_WS_MAX_SIZE)


# --------------------------------------------------------------- frames the RPC receives
class FakeRpc:
    """What `_on_message` and `_decode` use of a hypha-rpc RPC; records dispatched frames."""

    def __init__(self, codecs=None):
        self._codecs = codecs or {}
        self.default_context = {}
        self._long_message_chunk_size = CHUNK_SIZE
        self._object_store = {}
        self.fired = []

    def _fire(self, event, data):
        self.fired.append((event, data))


MAIN = {"type": "method", "from": "ws-a/alice", "to": "ws-b/bob", "method": "services.s.f",
        "session": "s1"}
BROKEN_ARGS = b"\x93\xd9\xc8abc"   # an array whose str claims 200 bytes: no end can be found


def _extra(*pairs):
    return envelope.join(envelope.pack_extra([(k, [v]) for k, v in pairs]))


def test_structurally_broken_args_without_promise_are_dropped(accel, caplog):
    acc = importlib.import_module("polycodec.hypha.accelerate")   # the module, not the function

    rpc = FakeRpc()
    frame = msgpack.packb(MAIN) + _extra(("args", BROKEN_ARGS))
    with caplog.at_level("WARNING", logger="polycodec.hypha"):
        acc._on_message(rpc, frame)
    assert rpc.fired == []                           # not run: nobody to reply to
    assert "dropped a method frame from ws-a/alice" in caplog.text
    # an unreadable main is dropped the same way (not raised into hypha-rpc's loop)
    acc._on_message(rpc, b"\xd9\xff")
    assert rpc.fired == [] and "unreadable frame" in caplog.text


def test_structurally_broken_args_after_a_promise_are_rejected(accel):
    acc = importlib.import_module("polycodec.hypha.accelerate")   # the module, not the function

    rpc = FakeRpc()
    frame = msgpack.packb(MAIN) + _extra(("promise", msgpack.packb("*")),
                                         ("t", msgpack.packb(5)), ("args", BROKEN_ARGS))
    acc._on_message(rpc, frame)
    (event, msg), = rpc.fired
    assert event == "method" and msg["promise"] == "*" and msg["from"] == "ws-a/alice"
    with pytest.raises(polycodec.DecodeError, match="args"):   # hypha-rpc rejects with it
        acc._decode(rpc, msg["args"])


def test_args_are_decoded_only_when_hypha_rpc_asks(accel):
    """Codec decoders (and remote-function proxies) run when `_handle_method` decodes
    `args`, after its permission checks, not when the frame arrives."""
    acc = importlib.import_module("polycodec.hypha.accelerate")   # the module, not the function

    decoded = []
    rpc = FakeRpc({"probe": {"name": "probe", "type": None, "encoder": None,
                             "decoder": lambda d: decoded.append(d["n"]) or ("probe", d["n"])}})
    args = [{"_rtype": "probe", "n": 7}, np.arange(5.0)]
    frame = msgpack.packb(MAIN) + _extra(
        ("args", envelope.join(envelope.pack_value(args))), ("promise", msgpack.packb("*")))
    acc._on_message(rpc, frame)
    (_, msg), = rpc.fired
    assert decoded == [] and msg["promise"] == "*"
    assert bool(msg["args"]) is True
    value = acc._decode(rpc, msg["args"])
    assert decoded == [7] and value[0] == ("probe", 7)
    np.testing.assert_array_equal(value[1], np.arange(5.0))
    assert acc._decode(rpc, msg["args"]) is value and decoded == [7]   # decoded once
    # an undecodable (but well-formed) value still fails where hypha-rpc asks for it
    bad = [{"_rtype": "ndarray", "_rvalue": b"\0" * 3, "_rshape": [1], "_rdtype": "float32"}]
    rpc.fired.clear()
    acc._on_message(rpc, msgpack.packb(MAIN) + _extra(
        ("args", msgpack.packb(bad)), ("promise", msgpack.packb("*"))))
    (_, msg), = rpc.fired
    assert bool(msg["args"]) is True
    with pytest.raises(polycodec.DecodeError):
        acc._decode(rpc, msg["args"])


# ------------------------------------------------------------------ failed chunk uploads
async def test_failed_upload_leaves_no_unretrieved_task_exception():
    import gc

    loop = asyncio.get_running_loop()
    reported = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda lp, ctx: reported.append(ctx.get("message")))
    try:
        rx, got, _ = make_receiver()
        cache = FakeCache(rx, fail_at=range(3, 40))   # many chunks fail at once
        segs = frame_segs({"type": "method"}, {"args": [bytes(40 * CHUNK_SIZE)]})
        with pytest.raises(RuntimeError, match="link down"):
            await make_sender(cache).send(segs, "peer", None)
        await asyncio.sleep(0.05)
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert cache.calls[-1] == "remove" and len(rx) == 0 and got == []
    assert not [m for m in reported if "never retrieved" in (m or "")], reported


# ------------------------------------------------------------------------ local server
def _fake_server_python(tmp_path, body):
    exe = tmp_path / "python"
    exe.write_text(f"#!/bin/sh\n{body}\n")
    exe.chmod(0o755)
    return str(exe)


@pytest.mark.parametrize("how", ["exits", "interrupted"])
def test_failed_server_start_leaves_nothing_behind(tmp_path, monkeypatch, how):
    import os
    import urllib.request

    from polycodec.bench import hypha_server as server_mod
    from polycodec.bench.hypha_server import LocalHyphaServer

    if how == "exits":
        srv = LocalHyphaServer(python=_fake_server_python(tmp_path, "exit 3"), timeout=20)
        expected = RuntimeError
    else:   # still running when Ctrl-C arrives while it is being polled
        srv = LocalHyphaServer(python=_fake_server_python(tmp_path, "exec sleep 30"),
                               timeout=20)

        def interrupt(*a, **k):
            raise KeyboardInterrupt

        monkeypatch.setattr(urllib.request, "urlopen", interrupt)
        expected = KeyboardInterrupt
    made = []
    real_mkdtemp = server_mod.tempfile.mkdtemp
    monkeypatch.setattr(server_mod.tempfile, "mkdtemp",
                        lambda **k: made.append(real_mkdtemp(**k)) or made[-1])
    with pytest.raises(expected):
        srv.start()
    assert srv.proc is not None and srv.proc.poll() is not None   # no process left
    assert srv._log is None                                       # log closed
    assert len(made) == 1 and not os.path.exists(made[0])         # folder removed


@pytest.mark.parametrize("extra", [b"\xc1", b"\x82\xa1a"])
def test_unreadable_extra_header_is_a_broken_frame(extra, accel, caplog):
    acc = importlib.import_module("polycodec.hypha.accelerate")
    with pytest.raises(envelope.BrokenFrame):
        envelope.parse_frame(msgpack.packb(MAIN) + extra)
    rpc = FakeRpc()
    with caplog.at_level("WARNING", logger="polycodec.hypha"):
        acc._on_message(rpc, msgpack.packb(MAIN) + extra)   # dropped, not raised
    assert rpc.fired == [] and "dropped a method frame" in caplog.text
