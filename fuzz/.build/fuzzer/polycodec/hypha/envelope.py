"""The Hypha RPC frame: two msgpack objects back to back, `main` (routing) + `extra` (payload).

Building returns segments (the payload's large buffers stay views: no copy); parsing reads
`main`, then `extra` key by key: small values plain, and `args` left undecoded (`Raw`) for the
Hypha layer to decode after hypha-rpc's permission checks.

Trust: the server overwrites `from`, `to`, `ws` and `user` in `main` with values it vouches for
and forwards `extra` untouched. hypha-rpc merges `extra` over `main`, so a caller could put
its own `from` in `extra` and pass permission checks. `admit` (used by `merge`, and by the
`Message.update` through which hypha-rpc merges a decrypted `_enc` payload) never lets
`extra` set a key that `main` has, a trusted key, or `ctx`: such keys are refused (dropped
and reported).
"""
from __future__ import annotations

import logging
import struct
import weakref

import numpy as np

import polycodec

from ..errors import DecodeError

TRUSTED_KEYS = ("from", "to", "ws", "user")
RESERVED_KEYS = TRUSTED_KEYS + ("ctx",)

log = logging.getLogger("polycodec.hypha")


# --- a msgpack header written by hand (the map's values are packed separately) --------------
def map_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x80 | n,))
    if n < 2**16:
        return b"\xde" + struct.pack(">H", n)
    return b"\xdf" + struct.pack(">I", n)


# --- building -------------------------------------------------------------------------------
def pack_frame(main: dict, extra=(), *, strict_map_key=False) -> list:
    """Segments of a frame: `packb(main)`, then `extra` (omitted when empty).

    `extra` is a list of (key, value segments) pairs, in order: each value is packed by the
    caller with its own options (`args` with `pack_value`, small values with `packb`), so
    large buffers stay views and nothing is packed twice."""
    segs = [polycodec.packb(main, strict_map_key=strict_map_key)]
    if extra:
        segs.extend(pack_extra(extra))
    return segs


def pack_extra(pairs) -> list:
    """Segments of the `extra` map from (key, value segments) pairs (also the plaintext of an
    end-to-end encrypted call)."""
    segs = [map_header(len(pairs))]
    for key, value_segs in pairs:
        segs.append(polycodec.packb(key))
        segs.extend(value_segs)
    return segs


def pack_value(value, *, default=None, codecs=None, zero_copy=False, strict_map_key=False):
    """Segments of one packed value. zero_copy=False copies, at call time, every large buffer
    that someone could still change (so mutating it after the call cannot change what is
    sent); a buffer that cannot change (bytes, or a read-only array over a received message
    buffer) is sent as a view either way, so a received array handed back (an echo) is not
    copied again."""
    segs = polycodec.pack_segments(value, default=default, codecs=codecs,
                                   strict_map_key=strict_map_key)
    if zero_copy:
        return segs
    return [s if isinstance(s, bytes) or immutable(s) else bytes(s) for s in segs]


# Buffers this process received and decoded from (made read-only before decoding): id -> array.
_RECEIVED = weakref.WeakValueDictionary()


def mark_received(buffer):
    """Make a reassembled message buffer read-only at its root and remember it, so arrays
    decoded from it count as immutable for `pack_value`."""
    root = buffer
    while isinstance(root, memoryview):
        root = root.obj
    if isinstance(root, np.ndarray) and root.base is None:
        root.flags.writeable = False
        _RECEIVED[id(root)] = root
    return buffer


def immutable(buf) -> bool:
    """True when nobody can change the memory behind `buf`: it is read-only down to bytes or
    to a buffer `mark_received` registered (and that is still read-only)."""
    obj = buf
    for _ in range(64):
        if isinstance(obj, bytes):
            return True
        if isinstance(obj, memoryview):
            if not obj.readonly:
                return False
            obj = obj.obj
        elif isinstance(obj, np.ndarray):
            if obj.flags.writeable:
                return False
            if obj.base is None:
                return _RECEIVED.get(id(obj)) is obj
            obj = obj.base
        else:
            return False
    return False


def frame_size(segments) -> int:
    return sum(memoryview(s).nbytes for s in segments)


def join(segments) -> bytes:
    """One bytes object (for frames that go out whole: at most a chunk's size)."""
    if len(segments) == 1 and isinstance(segments[0], bytes):
        return segments[0]
    return b"".join(segments)


# --- parsing --------------------------------------------------------------------------------
def parse_main(buf, *, max_size=polycodec.spec.DEFAULT_MAX_SIZE):
    """(main, offset of extra). `main` is a plain dict of plain values."""
    main, end = polycodec.unpack_from(buf, 0, max_size=max_size)
    if not isinstance(main, dict):
        raise DecodeError(f"frame: main must be a map, got {type(main).__name__}", 0)
    return main, end


def _read_map_header(mv, pos):
    if pos >= len(mv):
        raise DecodeError("frame: truncated extra map header", pos)
    b = mv[pos]
    if 0x80 <= b <= 0x8F:
        return b & 0x0F, pos + 1
    if b == 0xDE:
        if pos + 3 > len(mv):
            raise DecodeError("frame: truncated extra map header", pos)
        return struct.unpack_from(">H", mv, pos + 1)[0], pos + 3
    if b == 0xDF:
        if pos + 5 > len(mv):
            raise DecodeError("frame: truncated extra map header", pos)
        return struct.unpack_from(">I", mv, pos + 1)[0], pos + 5
    raise DecodeError(f"frame: extra must be a map (first byte 0x{b:02x})", pos)


def parse_extra(buf, offset, *, options=None, lazy=(), max_size=polycodec.spec.DEFAULT_MAX_SIZE):
    """Decode `extra` starting at `offset` (None when the frame ends there).

    `options`: unpack options for the values (default: plain values). The value of a key in
    `lazy` is not decoded: it becomes a `Raw` (a view of its bytes; only its structure is
    checked, with `polycodec.skip`), so the RPC layer decodes it only once the call has passed
    hypha-rpc's permission checks.

    Anything that cannot be read raises `BrokenFrame`, which keeps the keys read before it
    (the RPC layer still rejects the call when a `promise` was among them)."""
    mv = memoryview(buf).cast("B") if not isinstance(buf, (bytes, bytearray)) else memoryview(buf)
    if offset >= len(mv):
        return None
    options = options or {}
    out = {}
    key = None
    try:
        n, pos = _read_map_header(mv, offset)
        for _ in range(n):
            key = None
            key, pos = polycodec.unpack_from(mv, pos, max_size=max_size)
            if not isinstance(key, str):
                raise DecodeError(f"frame: extra key {key!r} is not str", pos)
            if key in lazy:
                end = polycodec.skip(mv, pos, max_size=max_size)
                out[key] = Raw(mv[pos:end])
                pos = end
                continue
            value, pos = polycodec.unpack_from(mv, pos, max_size=max_size, **options)
            out[key] = value
        if pos != len(mv):
            raise DecodeError(f"frame: {len(mv) - pos} bytes after extra", pos)
    except Exception as exc:
        raise BrokenFrame(exc, key, out) from exc
    return out


class BrokenFrame(DecodeError):
    """`extra` could not be read to its end. `key`: where it broke (None: a key, or after the
    map); `partial`: the keys read before; `error`: the underlying error."""

    def __init__(self, error, key, partial):
        where = f"value of {key!r}" if isinstance(key, str) else "extra"
        super().__init__(f"frame: cannot read the {where}: {error}",
                         getattr(error, "offset", None))
        self.error, self.key, self.partial = error, key, partial


class Raw:
    """The undecoded bytes of one value (a view of the frame); `decode(**options)` decodes."""

    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data

    def decode(self, **options):
        return polycodec.unpackb(self.data, **options)


def admit(msg: dict, extra) -> list:
    """THE trust rule: add the keys of `extra` to `msg` unless `msg` already has the key or it
    is a trusted key or `ctx`. Returns the refused keys."""
    refused = []
    for key, value in extra.items():
        if key in msg or key in RESERVED_KEYS:
            refused.append(key)
        else:
            msg[key] = value
    return refused


class Message(dict):
    """A message as dispatched to hypha-rpc. For an `_enc` call, `extra` is only `_enc` and
    `data`; hypha-rpc's `_handle_method` decrypts `data` and merges it with `data.update(...)`:
    that update goes through `admit` too, so an encrypted payload cannot set `from`, `to`,
    `ws`, `user`, `ctx` or any key of `main` either."""

    __slots__ = ()

    def update(self, *args, **kwargs):
        refused = admit(self, dict(*args, **kwargs))
        if refused:
            log.warning("refused keys %s in the decrypted payload of a message from %s (they "
                        "may only come from the server-vouched part of the frame)",
                        refused, self.get("from"))


def merge(main: dict, extra: dict | None, trusted: dict | None = None, default_context=None):
    """The message hypha-rpc dispatches: `main` with its trusted keys (from `trusted`, the
    server's context for chunked messages, else from `main`), `ctx` (a copy of that plus
    `default_context`; a `ctx` sent inside `main` is refused too), then the keys of `extra`
    that collide with none of those. Returns (message, refused_keys)."""
    msg = Message(main)
    refused = []
    if "ctx" in msg:
        del msg["ctx"]
        refused.append("ctx")
    if trusted is not None:
        for key in TRUSTED_KEYS:
            msg[key] = trusted.get(key)
    if default_context is not None:
        ctx = dict(msg)
        ctx.update(default_context)
        msg["ctx"] = ctx
    if extra:
        refused += admit(msg, extra)
    return msg, refused


def parse_frame(buf, *, head=None, trusted=None, default_context=None, options=None, lazy=(),
                max_size=polycodec.spec.DEFAULT_MAX_SIZE):
    """(message, refused_keys) of a whole frame, `extra` merged under the trust rule.
    `head`: `parse_main(buf)` when the caller already has it; `options`, `lazy`: as in
    `parse_extra`."""
    main, offset = head if head is not None else parse_main(buf, max_size=max_size)
    extra = parse_extra(buf, offset, options=options, lazy=lazy, max_size=max_size)
    return merge(main, extra, trusted, default_context)
