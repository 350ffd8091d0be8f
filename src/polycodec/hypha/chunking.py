"""Hypha's `message_cache` protocol for messages larger than one chunk, both ends.

Sender: `create(key, heartbeat)`, then `set(key, index, chunk, heartbeat)` for every 256 KiB
slice of the frame (at most 30 in flight; peers with api_version < 3 get sequential
`append(key, chunk, heartbeat)`), then `process(key, heartbeat)`; `remove(key)` on failure.
Slices are views of the frame's segments (`polycodec.chunks`) written as plain msgpack bins.

Receiver: every chunk is copied once into a `polycodec.Reassembler` buffer; `process` hands
that buffer to the RPC layer, which decodes it without further copies.

Fixes over hypha-rpc 0.21.47:
- uploads are keyed by (sender, key): a peer can neither complete nor remove another's;
- the key of a message sent under a parent session IS that session id (a stock receiver looks
  it up to reset the caller's timer), so two concurrent chunked messages of one session
  collided; the sender now sends such messages one at a time per (target, key);
- bounds: bytes per message, chunks per message, uploads per sender, reassembly time; a
  partial upload is removed on failure, on timeout and on a new `create`.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from dataclasses import dataclass

import polycodec
from polycodec.spec import CHUNK_SIZE, DEFAULT_MAX_SIZE, MAX_IN_FLIGHT

from . import envelope

log = logging.getLogger("polycodec.hypha")


@dataclass
class Limits:
    """Receiver bounds (all configurable through `accelerate(...)`)."""

    max_message_size: int = DEFAULT_MAX_SIZE          # bytes of one reassembled message
    max_chunks: int = DEFAULT_MAX_SIZE // CHUNK_SIZE  # chunks of one message
    max_uploads_per_peer: int = 64                    # partial uploads one sender may hold
    reassembly_timeout: float = 600.0                 # seconds from create to process
    chunk_size: int = CHUNK_SIZE


def in_flight_limit() -> int:
    """hypha-rpc's HYPHA_CONCURRENCY_LIMIT (30 unless the environment says otherwise)."""
    try:
        return max(1, int(os.environ.get("HYPHA_CONCURRENCY_LIMIT", MAX_IN_FLIGHT)))
    except ValueError:
        return MAX_IN_FLIGHT


# ------------------------------------------------------------------------------- receiver
class _Upload:
    __slots__ = ("asm", "appended", "started", "timer")

    def __init__(self, limits: Limits):
        self.asm = polycodec.Reassembler(max_size=limits.max_message_size,
                                         chunk_size=limits.chunk_size,
                                         max_chunks=limits.max_chunks) \
            if _REASSEMBLER_TAKES_MAX_CHUNKS else \
            polycodec.Reassembler(max_size=limits.max_message_size, chunk_size=limits.chunk_size)
        self.appended = 0
        self.started = time.monotonic()
        self.timer = None


def _reassembler_takes_max_chunks() -> bool:
    import inspect
    try:
        return "max_chunks" in inspect.signature(polycodec.Reassembler).parameters
    except (TypeError, ValueError):
        return False


_REASSEMBLER_TAKES_MAX_CHUNKS = _reassembler_takes_max_chunks()


class ChunkReceiver:
    """The receiving half of `message_cache` for one RPC. Methods return nothing (as stock);
    errors raise, which hypha-rpc turns into a rejected call at the sender."""

    def __init__(self, limits: Limits, reset_heartbeat, dispatch):
        self.limits = limits
        self._reset_heartbeat = reset_heartbeat   # (key) -> None; raises if no such session
        self._dispatch = dispatch                 # (buffer, context) -> None
        self._uploads: dict = {}                  # (sender, key) -> _Upload
        self._per_peer: dict = {}                 # sender -> count

    def __len__(self):
        return len(self._uploads)

    @staticmethod
    def _owner(context):
        if not context or not context.get("from"):
            raise PermissionError("message_cache needs the caller's context")
        return context["from"]

    def _get(self, key, context):
        up = self._uploads.get((self._owner(context), key))
        if up is None:
            raise KeyError(f"Message with key {key} does not exist.")
        return up

    def _drop(self, slot):
        up = self._uploads.pop(slot, None)
        if up is None:
            return
        if up.timer is not None:
            up.timer.cancel()
        left = self._per_peer.get(slot[0], 1) - 1
        if left > 0:
            self._per_peer[slot[0]] = left
        else:
            self._per_peer.pop(slot[0], None)

    def _expire(self, slot):
        if slot in self._uploads:
            log.warning("message_cache: upload %s from %s timed out after %.0f s; removed",
                        slot[1], slot[0], self.limits.reassembly_timeout)
            self._drop(slot)

    def create(self, key, heartbeat=False, overwrite=False, context=None):
        if heartbeat:
            self._reset_heartbeat(key)
        if not isinstance(key, str) or not key:
            raise ValueError("message_cache key must be a non-empty str")
        owner = self._owner(context)
        slot = (owner, key)
        if slot in self._uploads:
            if not overwrite:
                raise KeyError(f"Message with the same key ({key}) already exists in the cache "
                               "store, please use overwrite=True or remove it first.")
            self._drop(slot)
        if self._per_peer.get(owner, 0) >= self.limits.max_uploads_per_peer:
            raise OverflowError(f"{owner} already has {self.limits.max_uploads_per_peer} "
                                "partial uploads (max_uploads_per_peer)")
        up = _Upload(self.limits)
        try:
            loop = asyncio.get_running_loop()
            up.timer = loop.call_later(self.limits.reassembly_timeout, self._expire, slot)
        except RuntimeError:
            up.timer = None
        self._uploads[slot] = up
        self._per_peer[owner] = self._per_peer.get(owner, 0) + 1

    def set(self, key, index, data, heartbeat=False, context=None):
        if heartbeat:
            self._reset_heartbeat(key)
        up = self._get(key, context)
        self._add(up, (self._owner(context), key), index, data)

    def append(self, key, data, heartbeat=False, context=None):
        if heartbeat:
            self._reset_heartbeat(key)
        up = self._get(key, context)
        self._add(up, (self._owner(context), key), up.appended, data)
        up.appended += 1

    def _add(self, up, slot, index, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            self._drop(slot)
            raise TypeError(f"message_cache chunk {index!r} must be bytes, "
                            f"got {type(data).__name__}")
        try:
            up.asm.add(index, data)
        except Exception:
            self._drop(slot)   # a bad chunk poisons the message: free it now
            raise

    def remove(self, key, context=None):
        slot = (self._owner(context), key)
        if slot not in self._uploads:
            raise KeyError(f"Message with key {key} does not exist.")
        self._drop(slot)

    def process(self, key, heartbeat=False, context=None):
        if heartbeat:
            self._reset_heartbeat(key)
        assert context is not None, "Context is required"
        up = self._get(key, context)
        slot = (self._owner(context), key)
        self._drop(slot)
        if not len(up.asm):
            raise polycodec.DecodeError(f"message_cache: no chunks received for {key}")
        buffer = up.asm.result(len(up.asm))   # a gap makes this raise "incomplete"
        self._dispatch(buffer, context)


# --------------------------------------------------------------------------------- sender
class ChunkSender:
    """The sending half for one RPC. `call(fn, args_segments)` performs one RPC call whose
    args array is given packed (the accelerated RemoteFunction path); it returns an awaitable."""

    def __init__(self, rpc, call, chunk_size=CHUNK_SIZE, cache_size=256):
        self.rpc = rpc
        self.call = call
        self.chunk_size = chunk_size
        self._builtin: dict = {}       # target -> (api_version, message_cache proxy)
        self._cache_size = cache_size
        self._locks: dict = {}         # (target, key) -> [asyncio.Lock, users]

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
        hit = (api or 0, cache)
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
            api, cache = await self._message_cache(target_id)
        except Exception:
            self._builtin.pop(target_id, None)
            raise
        pieces = polycodec.chunks(segments, self.chunk_size)
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
        try:
            for index, piece in enumerate(pieces):
                if len(pending) >= limit:
                    done, pending = await asyncio.wait(pending,
                                                       return_when=asyncio.FIRST_COMPLETED)
                    for t in done:
                        t.result()   # raise the first failure
                pending.add(asyncio.ensure_future(
                    self.call(set_fn, self._args(key, index, piece, heartbeat))))
            if pending:
                done, pending = await asyncio.wait(pending)
                for t in done:
                    t.result()
        finally:
            for t in pending:
                t.cancel()

    @staticmethod
    def _args(key, index, piece, heartbeat):
        """Packed `[key, index, <bin>, heartbeat]` (or without index for `append`): the chunk
        goes out as a plain bin, a view of the frame (stock receivers require bytes)."""
        n = memoryview(piece).nbytes
        segs = [envelope.array_header(4 if index is not None else 3), polycodec.packb(key)]
        if index is not None:
            segs.append(polycodec.packb(index))
        segs += [envelope.bin_header(n), piece, polycodec.packb(bool(heartbeat))]
        return segs
