"""Hypha's `message_cache` protocol for messages larger than one chunk, both ends.

Sender: `create(key, heartbeat)`, then `set(key, index, chunk, heartbeat)` for every 256 KiB
slice of the frame (at most 30 and MAX_IN_FLIGHT_BYTES in flight; peers with api_version < 3
get sequential `append(key, chunk, heartbeat)`), then `process(key, heartbeat)`; `remove(key)`
on failure.
Slices are views of the frame's segments (`polycodec.chunks`) written as plain msgpack bins.

Receiver: every chunk is copied once into a `polycodec.Reassembler` buffer (chunks that arrive
before chunk 0 wait as views of their frames until it comes); `process` hands that buffer to
the RPC layer, which decodes it without further copies.

Fixes over hypha-rpc 0.21.47:
- uploads are keyed by (sender, key): a peer can neither complete nor remove another's;
- the key of a message sent under a parent session IS that session id (a stock receiver looks
  it up to reset the caller's timer), so two concurrent chunked messages of one session
  collided; the sender now sends such messages one at a time per (target, key);
- bounds: bytes per message, chunks per message, uploads and bytes per sender, bytes over all
  senders, reassembly time; a partial upload is removed on failure, on timeout, on a chunk
  that would break a bound, and on a new `create` with overwrite.
"""
from __future__ import annotations

import asyncio
import logging
import os
import uuid
import warnings
from dataclasses import dataclass, fields

import polycodec
from polycodec.spec import CHUNK_SIZE, DEFAULT_MAX_ITEMS, DEFAULT_MAX_SIZE, MAX_IN_FLIGHT

# The largest chunk an accelerated receiver accepts by default (advertised in its built-in
# service); stock receivers get CHUNK_SIZE (they refuse frames > 524,288 B).
BIG_CHUNK_SIZE = 2 * 1024 * 1024
# The chunk size an accelerated sender uses toward such a peer (at most what it advertises):
# 4x fewer messages through the server than 256 KiB; measured on the 16 MiB echo, 1 MiB
# costs the server less CPU per byte than 2 MiB (~80 vs ~100 ms per echo).
SEND_CHUNK_SIZE = 1024 * 1024
ADVERTISE_KEY = "polycodec"
# Bytes of chunks in flight at once (besides at most MAX_IN_FLIGHT chunks): about what stock
# hypha-rpc has in flight (30 x 256 KiB). 30 big chunks (30-60 MiB) only queue up in the
# websocket write buffers and in the server: measured on the 16 MiB echo, bounding the bytes
# cut it from ~135 to ~110 ms and clients' CPU from ~55 to ~35 ms each, and it bounds the
# memory those buffers take. 256 KiB chunks to stock peers stay bound by the count.
MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024


log = logging.getLogger("polycodec.hypha")

GiB = 2**30
# The Hypha server's own websocket frame limit (uvicorn's ws_max_size, 16 MiB): a chunk bigger
# than this (plus its envelope) cannot pass through it.
SERVER_WS_MAX_SIZE = 16 * 2**20
CHUNK_FRAME_MARGIN = 2**16   # the call envelope around a chunk in its websocket frame


@dataclass
class Limits:
    """Receiver bounds (all configurable through `accelerate(...)`; checked on construction).

    Bytes held by partial uploads are counted as chunks arrive (a chunk that waits for chunk 0
    counts too: it keeps its websocket frame alive). Defaults: one message may be 2 GiB
    (hypha-rpc's own msgpack limit); one sender may hold 2 such messages at once (4 GiB,
    e.g. two concurrent calls with big arguments) and all senders together 4 (8 GiB), instead
    of 64 x 2 GiB per sender and no overall bound. Lower them on small machines."""

    max_message_size: int = DEFAULT_MAX_SIZE          # bytes of one reassembled message
    max_chunks: int = DEFAULT_MAX_SIZE // CHUNK_SIZE  # chunks of one message
    max_uploads_per_peer: int = 64                    # partial uploads one sender may hold
    max_bytes_per_peer: int = 4 * GiB                 # bytes all of one sender's uploads hold
    max_total_bytes: int = 8 * GiB                    # bytes all partial uploads hold
    reassembly_timeout: float = 600.0                 # seconds from create to process
    max_chunk_size: int = BIG_CHUNK_SIZE              # largest chunk accepted (advertised)
    max_items: int = DEFAULT_MAX_ITEMS                # values in one decoded message (max_items)

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{f.name} must be a positive number, got {value!r}")
        if self.max_chunk_size < CHUNK_SIZE:
            raise ValueError(f"max_chunk_size must be at least {CHUNK_SIZE} (the chunk size "
                             f"stock hypha-rpc peers send), got {self.max_chunk_size}")
        if self.max_chunk_size + CHUNK_FRAME_MARGIN > SERVER_WS_MAX_SIZE:
            warnings.warn(f"max_chunk_size={self.max_chunk_size}: accelerated peers will send "
                          f"chunks that big, but the Hypha server refuses websocket frames over "
                          f"{SERVER_WS_MAX_SIZE} bytes (its ws_max_size)", stacklevel=3)


def in_flight_limit() -> int:
    """hypha-rpc's HYPHA_CONCURRENCY_LIMIT (30 unless the environment says otherwise)."""
    try:
        return max(1, int(os.environ.get("HYPHA_CONCURRENCY_LIMIT", MAX_IN_FLIGHT)))
    except ValueError:
        return MAX_IN_FLIGHT


# ------------------------------------------------------------------------------- receiver
class _Upload:
    """Each chunk is copied into the message's buffer as it arrives, so its websocket frame is
    freed at once (chunks that arrive before chunk 0 wait as views of their frames). The chunk
    size is the length of chunk 0 (stock senders use 256 KiB, accelerated ones up to 2 MiB);
    the Reassembler reserves address space for the largest message and trims it in
    `process`, so nothing is grown or copied twice."""

    __slots__ = ("asm", "appended", "nbytes", "timer")

    def __init__(self, limits):
        self.asm = polycodec.Reassembler(max_size=limits.max_message_size, chunk_size=None,
                                         max_chunks=limits.max_chunks)
        self.appended = 0
        self.nbytes = 0     # bytes of the chunks received so far
        self.timer = None


class ChunkReceiver:
    """The receiving half of `message_cache` for one RPC. Methods return nothing (as stock);
    errors raise, which hypha-rpc turns into a rejected call at the sender."""

    def __init__(self, limits: Limits, reset_heartbeat, dispatch):
        self.limits = limits
        self._reset_heartbeat = reset_heartbeat   # (key) -> None; raises if no such session
        self._dispatch = dispatch                 # (buffer, context) -> None
        self._uploads: dict = {}                  # sender -> {key: _Upload}
        # bytes held by all uploads: a running sum (summing every upload on every chunk would
        # cost O(uploads) per chunk); kept right by _add and _drop, the only writers
        self._total_bytes = 0

    def __len__(self):
        return sum(len(ups) for ups in self._uploads.values())

    @property
    def total_bytes(self) -> int:
        return self._total_bytes

    def peer_bytes(self, sender) -> int:
        return sum(up.nbytes for up in self._uploads.get(sender, {}).values())

    @staticmethod
    def _owner(context):
        if not context or not context.get("from"):
            raise PermissionError("message_cache needs the caller's context")
        return context["from"]

    def _get(self, key, context):
        up = self._uploads.get(self._owner(context), {}).get(key)
        if up is None:
            raise KeyError(f"Message with key {key} does not exist.")
        return up

    def _drop(self, owner, key):
        ups = self._uploads.get(owner)
        up = ups.pop(key, None) if ups else None
        if up is None:
            return
        if not ups:
            del self._uploads[owner]
        if up.timer is not None:
            up.timer.cancel()
        self._total_bytes -= up.nbytes
        up.asm = None   # frees the buffer now, not when the slot object goes

    def _expire(self, owner, key):
        if key in self._uploads.get(owner, {}):
            log.warning("message_cache: upload %s from %s timed out after %.0f s; removed",
                        key, owner, self.limits.reassembly_timeout)
            self._drop(owner, key)

    def create(self, key, heartbeat=False, overwrite=False, context=None):
        if heartbeat:
            self._reset_heartbeat(key)
        if not isinstance(key, str) or not key:
            raise ValueError("message_cache key must be a non-empty str")
        owner = self._owner(context)
        if key in self._uploads.get(owner, {}):
            if not overwrite:
                raise KeyError(f"Message with the same key ({key}) already exists in the cache "
                               "store, please use overwrite=True or remove it first.")
            self._drop(owner, key)
        if len(self._uploads.get(owner, {})) >= self.limits.max_uploads_per_peer:
            raise OverflowError(f"{owner} already has {self.limits.max_uploads_per_peer} "
                                "partial uploads (max_uploads_per_peer)")
        up = _Upload(self.limits)
        try:
            loop = asyncio.get_running_loop()
            up.timer = loop.call_later(self.limits.reassembly_timeout, self._expire, owner, key)
        except RuntimeError:
            up.timer = None
        self._uploads.setdefault(owner, {})[key] = up

    def set(self, key, index, data, heartbeat=False, context=None):
        if heartbeat:
            self._reset_heartbeat(key)
        up = self._get(key, context)
        self._add(up, self._owner(context), key, index, data)

    def append(self, key, data, heartbeat=False, context=None):
        if heartbeat:
            self._reset_heartbeat(key)
        up = self._get(key, context)
        self._add(up, self._owner(context), key, up.appended, data)
        up.appended += 1

    def _add(self, up, owner, key, index, data):
        try:
            n = self._check(owner, index, data)
            up.asm.add(index, memoryview(data))   # duplicates, sizes, max_size: Reassembler's
        except Exception:
            self._drop(owner, key)   # a bad chunk poisons the message: free it now
            raise
        up.nbytes += n
        self._total_bytes += n

    def _check(self, owner, index, data) -> int:
        lim = self.limits
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"message_cache chunk {index!r} must be bytes, "
                            f"got {type(data).__name__}")
        if type(index) is not int or not 0 <= index < lim.max_chunks:
            raise polycodec.DecodeError(f"message_cache chunk index {index!r} outside "
                                        f"0..{lim.max_chunks - 1} (max_chunks)")
        n = memoryview(data).nbytes
        if not 0 < n <= lim.max_chunk_size:
            raise polycodec.DecodeError(f"message_cache chunk {index} has {n} bytes; expected "
                                        f"1..{lim.max_chunk_size} (max_chunk_size)")
        held = self.peer_bytes(owner) + n
        if held > lim.max_bytes_per_peer:
            raise OverflowError(f"message_cache: partial uploads from {owner} would hold {held} "
                                f"bytes (max_bytes_per_peer={lim.max_bytes_per_peer}); "
                                "upload dropped")
        if self._total_bytes + n > lim.max_total_bytes:
            raise OverflowError(f"message_cache: partial uploads would hold "
                                f"{self._total_bytes + n} bytes in total "
                                f"(max_total_bytes={lim.max_total_bytes}); upload from "
                                f"{owner} dropped")
        return n

    def remove(self, key, context=None):
        owner = self._owner(context)
        if key not in self._uploads.get(owner, {}):
            raise KeyError(f"Message with key {key} does not exist.")
        self._drop(owner, key)

    def process(self, key, heartbeat=False, context=None):
        if heartbeat:
            self._reset_heartbeat(key)
        assert context is not None, "Context is required"
        up = self._get(key, context)
        try:
            buffer = self._assemble(key, up)
        finally:
            self._drop(self._owner(context), key)
        self._dispatch(buffer, context)

    def _assemble(self, key, up):
        count = len(up.asm)
        if not count:
            raise polycodec.DecodeError(f"message_cache: no chunks received for {key}")
        return up.asm.result(count)   # a gap or a missing chunk 0 is reported here


# --------------------------------------------------------------------------------- sender
class ChunkSender:
    """The sending half for one RPC. `call(fn, args_segments)` performs one RPC call whose
    args array is given packed (the accelerated RemoteFunction path); it returns an awaitable.

    Chunk size: `chunk_size` (hypha-rpc's 256 KiB) toward stock peers; toward a peer whose
    built-in service advertises polycodec, `big_chunk_size` (1 MiB) or less if the peer
    advertises less: 4x fewer messages through the server. At most MAX_IN_FLIGHT chunks and
    MAX_IN_FLIGHT_BYTES are in flight."""

    def __init__(self, rpc, call, chunk_size=CHUNK_SIZE, cache_size=256,
                 big_chunk_size=SEND_CHUNK_SIZE):
        self.rpc = rpc
        self.call = call
        self.chunk_size = chunk_size
        self.big_chunk_size = max(chunk_size, big_chunk_size)
        self._builtin: dict = {}       # target -> (api_version, message_cache proxy, chunk)
        self._cache_size = cache_size
        self._locks: dict = {}         # (target, key) -> [asyncio.Lock, users]

    def _chunk_for(self, config) -> int:
        adv = config.get(ADVERTISE_KEY) if isinstance(config, dict) else None
        peer_max = adv.get("max_chunk_size") if isinstance(adv, dict) else None
        if type(peer_max) is int and peer_max > self.chunk_size:
            return min(self.big_chunk_size, peer_max)
        return self.chunk_size

    async def _message_cache(self, target_id):
        hit = self._builtin.get(target_id)
        if hit is not None:
            return hit
        svc = await self.rpc.get_remote_service(f"{target_id}:built-in")
        cache = svc.get("message_cache") if isinstance(svc, dict) else None
        if not cache:
            raise RuntimeError(f"{target_id} does not support message_cache for long messages")
        config = svc.get("config") or {}
        api = config.get("api_version", 0) if isinstance(config, dict) else 0
        hit = (api or 0, cache, self._chunk_for(config))
        if len(self._builtin) >= self._cache_size:
            self._builtin.pop(next(iter(self._builtin)))
        self._builtin[target_id] = hit
        return hit

    async def send(self, segments, target_id, session_id):
        key = session_id or uuid.uuid4().hex
        if not session_id:
            return await self._send(segments, target_id, key, False)
        # the key is the parent session (the receiver resets that session's timer with it):
        # one message at a time per (target, key), else the uploads collide
        slot = (target_id, key)
        entry = self._locks.get(slot)
        if entry is None:
            entry = self._locks[slot] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                return await self._send(segments, target_id, key, True)
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(slot, None)

    async def _send(self, segments, target_id, key, heartbeat):
        try:
            api, cache, chunk = await self._message_cache(target_id)
        except Exception:
            self._builtin.pop(target_id, None)
            raise
        pieces = polycodec.chunks(segments, chunk)
        await cache["create"](key, heartbeat)
        try:
            if api >= 3:
                await self._send_indexed(cache["set"], key, pieces, heartbeat)
            else:
                for piece in pieces:
                    await self.call(cache["append"], self._args(key, None, piece, heartbeat))
            await cache["process"](key, heartbeat)
        except BaseException:
            try:
                await cache["remove"](key)
            except Exception as exc:   # the receiver's timeout frees it anyway
                log.debug("message_cache.remove(%s) failed: %s", key, exc)
            self._builtin.pop(target_id, None)
            raise

    async def _send_indexed(self, set_fn, key, pieces, heartbeat):
        limit = in_flight_limit()
        pending = set()
        failures = []   # in the order the chunks failed: the first is the cause, later ones
                        # are mostly its echo ("Message with key ... does not exist")
        sizes = {}      # task -> bytes of its chunk, while in flight
        in_flight = 0

        def settled(task):   # retrieves every outcome, so none is reported as unretrieved
            nonlocal in_flight
            in_flight -= sizes.pop(task, 0)
            if not task.cancelled() and task.exception() is not None:
                failures.append(task.exception())

        try:
            for index, piece in enumerate(pieces):
                n = memoryview(piece).nbytes
                while pending and (len(pending) >= limit
                                   or in_flight + n > MAX_IN_FLIGHT_BYTES):
                    _, pending = await asyncio.wait(pending,
                                                    return_when=asyncio.FIRST_COMPLETED)
                if failures:
                    raise failures[0]
                task = asyncio.ensure_future(
                    self.call(set_fn, self._args(key, index, piece, heartbeat)))
                task.add_done_callback(settled)
                sizes[task] = n
                in_flight += n
                pending.add(task)
            if pending:
                _, pending = await asyncio.wait(pending)
            if failures:
                raise failures[0]
        finally:
            if pending:   # a chunk failed (or we were cancelled): stop the rest
                for t in pending:
                    t.cancel()
                await asyncio.wait(pending)

    @staticmethod
    def _args(key, index, piece, heartbeat):
        """Packed `[key, index, <bin>, heartbeat]` (or without index for `append`): the chunk
        goes out as a plain bin (stock receivers require bytes), a view of the frame."""
        args = [key, index, polycodec.Bin(piece), bool(heartbeat)] if index is not None \
            else [key, polycodec.Bin(piece), bool(heartbeat)]
        return polycodec.pack_segments(args)

