"""The Hypha RPC frame: two msgpack objects back to back, `main` (routing) + `extra` (payload).

Building returns segments (the payload's large buffers stay views: no copy); parsing reads
`main`, then `extra` key by key so each value can be decoded with its own options (the Hypha
layer decodes `args` in one pass with hypha-rpc's hooks and leaves the rest plain).

Trust: the server overwrites `from`, `to`, `ws` and `user` in `main` with values it vouches for
and forwards `extra` untouched. hypha-rpc merges `extra` over `main`, so a caller could put
its own `from` in `extra` and pass permission checks. `merge` never lets `extra` set a key
that `main` has, a trusted key, or `ctx`: such keys are refused (dropped and reported).
"""
from __future__ import annotations

import struct
import weakref

import numpy as np

import polycodec

from ..errors import DecodeError

TRUSTED_KEYS = ("from", "to", "ws", "user")
RESERVED_KEYS = TRUSTED_KEYS + ("ctx",)


# --- msgpack headers written by hand (values too small or too raw to go through packb) -------
def map_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x80 | n,))
    if n < 2**16:
        return b"\xde" + struct.pack(">H", n)
    return b"\xdf" + struct.pack(">I", n)


def array_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    if n < 2**16:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


# --- building -------------------------------------------------------------------------------
def pack_map(items, *, pack_value) -> list:
    """Segments of a msgpack map from (key, value) pairs; `pack_value(key, value)` returns the
    value's segments (so each value can use its own encoder options)."""
    items = list(items)
    segs = [map_header(len(items))]
    for key, value in items:
        segs.append(polycodec.packb(key))
        segs.extend(pack_value(key, value))
    return segs


def pack_frame(main: dict, extra=None, *, default=None, codecs=None, zero_copy=False,
               strict_map_key=False) -> list:
    """Segments of `packb(main) + packb(extra)` (extra omitted when empty).

    `extra` may be a dict (encoded here) or a list of already packed segments. With
    zero_copy=False the payload is packed into one fresh buffer (the caller may mutate its
    arrays afterwards); with zero_copy=True large buffers are views of the caller's memory.
    """
    segs = [polycodec.packb(main, strict_map_key=strict_map_key)]
    if not extra:
        return segs
    if isinstance(extra, dict):
        segs.extend(pack_value(extra, default=default, codecs=codecs, zero_copy=zero_copy,
                               strict_map_key=strict_map_key))
    else:
        segs.extend(extra)
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


def parse_extra(buf, offset, *, options_for=None, max_size=polycodec.spec.DEFAULT_MAX_SIZE):
    """Decode `extra` starting at `offset` (None when the frame ends there).

    `options_for(key)` returns the unpack options for that key's value (default: plain
    values). A value whose decoding raises is stored as the exception itself under the key
    when `options_for` says so with `capture=True`, so the RPC layer can report it to the
    caller instead of dropping the message.
    """
    mv = memoryview(buf).cast("B") if not isinstance(buf, (bytes, bytearray)) else memoryview(buf)
    if offset >= len(mv):
        return None
    n, pos = _read_map_header(mv, offset)
    out = {}
    for _ in range(n):
        key, pos = polycodec.unpack_from(mv, pos, max_size=max_size)
        if not isinstance(key, str):
            raise DecodeError(f"frame: extra key {key!r} is not str", pos)
        opts = dict(options_for(key)) if options_for else {}
        capture = opts.pop("capture", False)
        try:
            value, pos = polycodec.unpack_from(mv, pos, max_size=max_size, **opts)
        except Exception as exc:
            if not capture:
                raise
            out[key] = CapturedError(exc)
            try:   # decoding failed (a hook, a codec, a bad dtype): step over the value
                pos = polycodec.skip(mv, pos, max_size=max_size)
            except Exception:
                return out   # its structure is bad: nothing after this value can be read
            continue
        out[key] = value
    if pos != len(mv):
        raise DecodeError(f"frame: {len(mv) - pos} bytes after extra", pos)
    return out


class CapturedError:
    """A value that failed to decode; re-raised where the RPC layer would decode it."""

    __slots__ = ("error",)

    def __init__(self, error):
        self.error = error


def merge(main: dict, extra: dict | None, trusted: dict | None = None, default_context=None):
    """The message hypha-rpc dispatches: `main` with its trusted keys (from `trusted`, the
    server's context for chunked messages, else from `main`), `ctx` (a copy of that plus
    `default_context`; a `ctx` sent inside `main` is refused too), then the keys of `extra`
    that collide with none of those. Returns (message, refused_keys)."""
    msg = dict(main)
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
        for key, value in extra.items():
            if key in msg or key in RESERVED_KEYS:
                refused.append(key)
            else:
                msg[key] = value
    return msg, refused


def parse_frame(buf, *, trusted=None, default_context=None, options_for=None,
                max_size=polycodec.spec.DEFAULT_MAX_SIZE):
    """(message, refused_keys) of a whole frame, `extra` merged under the trust rule."""
    main, offset = parse_main(buf, max_size=max_size)
    extra = parse_extra(buf, offset, options_for=options_for, max_size=max_size)
    return merge(main, extra, trusted, default_context)
