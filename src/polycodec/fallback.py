"""Pure-Python implementation: the reference semantics, same API and bytes as the compiled core.

Two passes where the compiled core does one: `encode` builds the `_rtype` tree (large buffers
stay views), `_Writer` serializes it to msgpack segments; `_Reader` parses msgpack with bins as
views of the input, `decode` turns `_rtype` maps into values.
"""
from __future__ import annotations

import struct
import sys
import threading

import numpy as np

from . import _common
from ._common import Bin, _Fail
from .codecs import default_registry
from .errors import DecodeError, EncodeError
from .spec import (
    CHUNK_SIZE, DEFAULT_MAX_CHUNKS, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS, DEFAULT_MAX_SIZE,
    DEFAULT_MIN_OOB, INT_MAX, INT_MIN, MAX_DEPTH_LIMIT, RINTF, RSHAPE, RTRACE, RTYPE, RDTYPE,
    RVALUE,
)

_ndarray = np.ndarray
_generic = np.generic

# The walkers below recurse, at most 3 Python frames per nesting level, so max_depth up to
# MAX_DEPTH_LIMIT needs a recursion limit above Python's default 1000. It is raised once to a
# fixed bound and never lowered: the limit is per interpreter and the change is made under
# the GIL and a lock, so threads never see it shrink. (Since Python 3.11 these frames are not
# on the C stack, so a higher limit costs no thread stack.)
_RECURSION_FLOOR = 4 * MAX_DEPTH_LIMIT + 1000
_recursion_lock = threading.Lock()


def _deep_enough():
    if sys.getrecursionlimit() < _RECURSION_FLOOR:
        with _recursion_lock:
            if sys.getrecursionlimit() < _RECURSION_FLOOR:
                sys.setrecursionlimit(_RECURSION_FLOOR)


_deep_enough()   # at import too, so it is not raised under a caller that saves and restores it


# ---------------------------------------------------------------------------------- encode
class _Encoder:
    __slots__ = ("default", "strict", "encoders", "max_depth", "min_oob")

    def __init__(self, default, strict_map_key, codecs, max_depth, min_oob):
        self.default = default
        self.strict = strict_map_key
        self.encoders = (codecs if codecs is not None else default_registry).encoders
        self.max_depth = max_depth
        self.min_oob = min_oob

    def enc(self, obj, depth):
        if obj is None or obj is True or obj is False:
            return obj
        if isinstance(obj, int):
            if not INT_MIN <= obj <= INT_MAX:
                raise _Fail(f"int {obj} does not fit in 64 bits")
            return obj
        if isinstance(obj, (float, str)):
            return obj
        if isinstance(obj, bytes):
            return memoryview(obj) if len(obj) >= self.min_oob else obj
        if depth >= self.max_depth:
            raise _Fail(f"nesting deeper than max_depth={self.max_depth}")
        if isinstance(obj, tuple):
            return self.enc_seq(obj, depth)
        if type(obj) is Bin:
            return self.bin_of(obj.data)
        if isinstance(obj, list):   # the reference tries codecs before its list branch
            done, out = self.enc_codec(obj, depth)
            return out if done else self.enc_seq(obj, depth)
        if isinstance(obj, dict):
            return self.enc_dict(obj, depth)
        default = self.default
        if default is not None and callable(obj):
            return self.enc_default(obj, depth)
        done, out = self.enc_codec(obj, depth)
        if done:
            return out
        if isinstance(obj, (_ndarray, _generic)):
            return self.enc_ndarray(obj)
        if isinstance(obj, Exception):
            return {RTYPE: "error", RVALUE: str(obj), RTRACE: _common.format_trace(obj)}
        if isinstance(obj, memoryview):
            return {RTYPE: "memoryview", RVALUE: self.bin_of(obj)}
        if isinstance(obj, set):
            try:
                return {RTYPE: "set", RVALUE: self.enc_seq(list(obj), depth)}
            except _Fail as e:
                e.parts.append(RVALUE)
                raise
        if default is not None:
            return self.enc_default(obj, depth)
        raise _Fail(f"unsupported type {type(obj).__module__}.{type(obj).__qualname__}")

    def enc_seq(self, obj, depth):
        out = []
        for i, item in enumerate(obj):
            try:
                out.append(self.enc(item, depth + 1))
            except _Fail as e:
                e.parts.append(i)
                raise
        return out

    def enc_codec(self, obj, depth):
        """(True, encoded) if a registered codec takes `obj`, else (False, None)."""
        for typ, name, encoder in self.encoders:
            if isinstance(obj, typ):
                encoded = encoder(obj)
                if isinstance(encoded, dict):
                    encoded = dict(encoded)
                    encoded[RTYPE] = encoded.pop(RTYPE, name)  # _rtype added if missing, last
                    return True, self.enc_dict(encoded, depth)
                return True, self.enc(encoded, depth + 1)   # a replacement counts one level
        return False, None

    def enc_default(self, obj, depth):
        out = self.default(obj)
        if out is obj:
            raise _Fail(f"default returned the {type(obj).__name__} unchanged")
        return self.enc(out, depth + 1)

    def enc_dict(self, obj, depth):
        if type(obj) is not dict:
            obj = dict(obj)   # subclasses in their own order; attribute dicts may shadow .items
        if RINTF in obj and self.default is not None:
            out = self.default(obj)
            if out is not obj:
                return self.enc(out, depth + 1)
        strict = self.strict
        out = {}
        rtype = obj.get(RTYPE, _MISSING)
        for key, value in obj.items():
            if strict and not isinstance(key, (str, bytes)):
                f = _Fail(f"map key {key!r} of type {type(key).__name__} is not str "
                          "(strict_map_key=False allows it)")
                f.parts.append(key)
                raise f
            if rtype is not _MISSING and key == RTYPE and type(key) is str:
                continue
            try:
                wire = key
                if not strict and not isinstance(key, (str, bytes)):
                    wire = _Key(self.enc(key, depth + 1), key)
                out[wire] = self.enc(value, depth + 1)
            except _Fail as e:
                e.parts.append(key)   # the caller's key, never the internal _Key
                raise
        if rtype is not _MISSING:
            try:
                out[RTYPE] = self.enc(rtype, depth + 1)
            except _Fail as e:
                e.parts.append(RTYPE)
                raise
        return out

    def bin_of(self, buf):
        """C-contiguous buffers of at least min_oob bytes stay views; others are copied once."""
        mv = memoryview(buf)
        if mv.c_contiguous and mv.nbytes >= self.min_oob:
            return mv.cast("B") if (mv.format != "B" or mv.ndim != 1) else mv
        return mv.tobytes()

    def enc_ndarray(self, arr):
        dtype = _common.dtype_str(arr.dtype)
        if isinstance(arr, _generic) or not arr.flags.c_contiguous or arr.nbytes < self.min_oob:
            data = arr.tobytes()
        else:
            data = memoryview(arr.reshape(-1).view(np.uint8))
        return {RTYPE: "ndarray", RVALUE: data, RSHAPE: list(arr.shape), RDTYPE: dtype}


class _Key:
    """A non-str map key, already encoded (lists are unhashable as dict keys)."""

    __slots__ = ("value", "key")

    def __init__(self, value, key):
        self.value = value
        self.key = key          # the caller's key, for error paths


_MISSING = object()


def _encoder(default, strict_map_key, codecs, max_depth, min_oob):
    max_depth, min_oob = _common.encode_options(default, codecs, max_depth, min_oob)
    _deep_enough()
    return _Encoder(default, strict_map_key, codecs, max_depth, min_oob)


def _run(enc, obj):
    try:
        return enc.enc(obj, 0)
    except _Fail as e:
        raise EncodeError(e.reason, _common.format_path(e.parts)) from None


def encode(obj, *, default=None, strict_map_key=True, codecs=None,
           max_depth=DEFAULT_MAX_DEPTH):
    """Python value -> plain `_rtype` tree of None/bool/int/float/str/bytes/list/dict."""
    tree = _run(_encoder(default, strict_map_key, codecs, max_depth, 2**62), obj)
    return _plain_keys(tree) if not strict_map_key else tree


def _plain_keys(tree):
    if isinstance(tree, list):
        return [_plain_keys(v) for v in tree]
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            if isinstance(k, _Key):
                k = k.value if not isinstance(k.value, list) else tuple(k.value)
            out[k] = _plain_keys(v)
        return out
    return tree


# ----------------------------------------------------------------------------------- write
_pack_B = struct.Struct(">B").pack
_pack_BB = struct.Struct(">BB").pack
_pack_Bb = struct.Struct(">Bb").pack
_pack_BH = struct.Struct(">BH").pack
_pack_Bh = struct.Struct(">Bh").pack
_pack_BI = struct.Struct(">BI").pack
_pack_Bi = struct.Struct(">Bi").pack
_pack_BQ = struct.Struct(">BQ").pack
_pack_Bq = struct.Struct(">Bq").pack
_pack_Bd = struct.Struct(">Bd").pack


def _header(fix, fix_limit, code8, code16, code32, n):
    """A msgpack length header: the fix form below fix_limit, the 8-bit form where the type
    has one (code8: str, bin), else 16 or 32 bits."""
    if n < fix_limit:
        return _pack_B(fix | n)
    if code8 and n <= 0xFF:
        return _pack_BB(code8, n)
    if n <= 0xFFFF:
        return _pack_BH(code16, n)
    if n <= 0xFFFFFFFF:
        return _pack_BI(code32, n)
    raise _Fail(f"{n} bytes or items do not fit a msgpack length (2**32-1)")


class _Writer:
    """msgpack writer with msgpack-python's choices (smallest int form, str8, bin types)."""

    def __init__(self):
        self.segments = []
        self.buf = bytearray()

    def take(self):
        if self.buf:
            self.segments.append(bytes(self.buf))
            self.buf = bytearray()
        return self.segments

    def write(self, obj):
        buf = self.buf
        if obj is None:
            buf += b"\xc0"
        elif obj is True:
            buf += b"\xc3"
        elif obj is False:
            buf += b"\xc2"
        elif isinstance(obj, int):
            self.write_int(obj)
        elif isinstance(obj, float):
            buf += _pack_Bd(0xCB, obj)
        elif isinstance(obj, str):
            try:
                data = obj.encode("utf-8")
            except UnicodeEncodeError as e:
                raise _Fail(f"str is not valid UTF-8: {e.reason}") from None
            buf += _header(0xA0, 32, 0xD9, 0xDA, 0xDB, len(data))
            buf += data
        elif isinstance(obj, (bytes, memoryview)):
            buf += _header(0, 0, 0xC4, 0xC5, 0xC6,
                           len(obj) if isinstance(obj, bytes) else obj.nbytes)
            if isinstance(obj, memoryview):   # a large buffer: its own segment, not copied
                self.take()
                self.segments.append(obj)
            else:
                buf += obj
        elif isinstance(obj, list):
            buf += _header(0x90, 16, 0, 0xDC, 0xDD, len(obj))
            for i, item in enumerate(obj):
                try:
                    self.write(item)
                except _Fail as e:
                    e.parts.append(i)
                    raise
        elif isinstance(obj, dict):
            buf += _header(0x80, 16, 0, 0xDE, 0xDF, len(obj))
            for key, value in obj.items():
                try:
                    self.write(key.value if isinstance(key, _Key) else key)
                    self.write(value)
                except _Fail as e:
                    e.parts.append(key.key if isinstance(key, _Key) else key)
                    raise
        else:  # pragma: no cover - encode() only produces the types above
            raise _Fail(f"internal: cannot write {type(obj).__name__}")

    def write_int(self, n):
        buf = self.buf
        if 0 <= n < 0x80:
            buf += _pack_B(n)
        elif -0x20 <= n < 0:
            buf += _pack_B(n & 0xFF)
        elif 0 < n <= 0xFF:
            buf += _pack_BB(0xCC, n)
        elif -0x80 <= n < 0:
            buf += _pack_Bb(0xD0, n)
        elif 0 < n <= 0xFFFF:
            buf += _pack_BH(0xCD, n)
        elif -0x8000 <= n < 0:
            buf += _pack_Bh(0xD1, n)
        elif 0 < n <= 0xFFFFFFFF:
            buf += _pack_BI(0xCE, n)
        elif -0x80000000 <= n < 0:
            buf += _pack_Bi(0xD2, n)
        elif 0 < n <= INT_MAX:
            buf += _pack_BQ(0xCF, n)
        elif INT_MIN <= n < 0:
            buf += _pack_Bq(0xD3, n)
        else:
            raise _Fail(f"int {n} does not fit in 64 bits")


def pack_segments(obj, *, default=None, min_oob=DEFAULT_MIN_OOB, strict_map_key=True,
                  codecs=None, max_depth=DEFAULT_MAX_DEPTH):
    """msgpack of the `_rtype` form as a list of pieces; buffers >= min_oob are views."""
    return Encoder(default=default, strict_map_key=strict_map_key, codecs=codecs,
                   max_depth=max_depth, min_oob=min_oob).pack_segments(obj)


def packb(obj, *, default=None, strict_map_key=True, codecs=None, max_depth=DEFAULT_MAX_DEPTH):
    """msgpack bytes of the `_rtype` form (equal to msgpack.packb(RPC._encode(obj)))."""
    return Encoder(default=default, strict_map_key=strict_map_key, codecs=codecs,
                   max_depth=max_depth).encode(obj)


# ------------------------------------------------------------------------------------ read
_unpack_H = struct.Struct(">H").unpack_from
_unpack_I = struct.Struct(">I").unpack_from
_unpack_Q = struct.Struct(">Q").unpack_from
_unpack_b = struct.Struct(">b").unpack_from
_unpack_h = struct.Struct(">h").unpack_from
_unpack_i = struct.Struct(">i").unpack_from
_unpack_q = struct.Struct(">q").unpack_from
_unpack_f = struct.Struct(">f").unpack_from
_unpack_d = struct.Struct(">d").unpack_from

_FIXED = {  # type byte -> (payload length, unpacker, name in a truncation error)
    0xCA: (4, _unpack_f, "a float32"), 0xCB: (8, _unpack_d, "a float64"),
    0xCC: (1, None, "an int"), 0xCD: (2, _unpack_H, "an int"), 0xCE: (4, _unpack_I, "an int"),
    0xCF: (8, _unpack_Q, "an int"), 0xD0: (1, _unpack_b, "an int"),
    0xD1: (2, _unpack_h, "an int"), 0xD2: (4, _unpack_i, "an int"),
    0xD3: (8, _unpack_q, "an int"),
}


class _Reader:
    """msgpack -> Python values in one pass, like the compiled core: each map becomes its
    value as soon as it ends, so both report the first problem in byte order. A bin under an
    `_rvalue` key stays a `_Bin` until its map is complete."""

    __slots__ = ("mv", "pos", "end", "strict", "max_depth", "skip_only", "items", "max_items",
                 "in_key", "views", "copy", "dict_type", "decoders", "rtype_hook")

    def __init__(self, mv, pos, strict, max_depth, max_items, skip_only=False, copy=False,
                 dict_type=dict, codecs=None, rtype_hook=None, bin_views=False):
        self.skip_only = skip_only
        self.mv = mv
        self.pos = pos
        self.end = len(mv)
        self.strict = strict
        self.max_depth = max_depth
        self.items = self.max_items = max_items   # budget left; skip() does not count
        self.in_key = 0                           # > 0 while a map key is read
        self.views = bin_views                    # plain bins as views (never in keys)
        self.copy = copy
        self.dict_type = dict_type
        self.decoders = (codecs if codecs is not None else default_registry).decoders
        self.rtype_hook = rtype_hook

    def charge(self, n, start):
        """n more values (array items, map keys and values) against max_items."""
        self.items -= n
        if self.items < 0 and not self.skip_only:
            raise DecodeError(f"more than max_items={self.max_items} values", start)

    def need(self, n, what, least=""):
        if n > self.end - self.pos:
            raise DecodeError(f"truncated input: {what} needs {least}{n} bytes, "
                              f"{self.end - self.pos} remain", self.pos)

    def read(self, depth, as_ref=False):
        start = self.pos
        self.need(1, "a value")
        b = self.mv[start]
        self.pos = start + 1
        if b <= 0x7F:
            return b
        if b >= 0xE0:
            return b - 0x100
        if b <= 0x8F:
            return self.read_map(b & 0x0F, depth, start)
        if b <= 0x9F:
            return self.read_array(b & 0x0F, depth, start, as_ref)
        if b <= 0xBF:
            return self.read_str(b & 0x1F)
        if b == 0xC0:
            return None
        if b == 0xC2:
            return False
        if b == 0xC3:
            return True
        if b in _FIXED:
            n, unpack, name = _FIXED[b]
            self.need(n, "a number" if self.skip_only else name)   # as the compiled skip says
            pos = self.pos
            self.pos = pos + n
            return self.mv[pos] if unpack is None else unpack(self.mv, pos)[0]
        if 0xC4 <= b <= 0xC6:
            return self.read_bin(self.read_len(1 << (b - 0xC4)), as_ref)
        if 0xD9 <= b <= 0xDB:
            return self.read_str(self.read_len(1 << (b - 0xD9)))
        if b in (0xDC, 0xDD):
            return self.read_array(self.read_len(2 if b == 0xDC else 4), depth, start, as_ref)
        if b in (0xDE, 0xDF):
            return self.read_map(self.read_len(2 if b == 0xDE else 4), depth, start)
        if 0xC7 <= b <= 0xC9 or 0xD4 <= b <= 0xD8:
            raise DecodeError(f"msgpack ext type 0x{b:02x} is not supported", start)
        raise DecodeError(f"invalid msgpack type byte 0x{b:02x}", start)

    def read_len(self, size):
        self.need(size, "a length")
        pos = self.pos
        self.pos = pos + size
        if size == 1:
            return self.mv[pos]
        return (_unpack_H if size == 2 else _unpack_I)(self.mv, pos)[0]

    def read_str(self, n):
        self.need(n, "a str")
        pos = self.pos
        self.pos = pos + n
        if self.skip_only:
            return None
        try:
            return str(self.mv[pos:pos + n], "utf-8")
        except UnicodeDecodeError as e:
            raise DecodeError(f"invalid UTF-8 in str: {e.reason}", pos + e.start) from None

    def read_bin(self, n, as_ref):
        self.need(n, "a bin")
        pos = self.pos
        self.pos = pos + n
        if self.skip_only:
            return None
        view = self.mv[pos:pos + n]
        if as_ref:
            return _Bin(view, pos)
        return view if self.views else view.tobytes()

    def read_array(self, n, depth, start, as_ref):
        if depth >= self.max_depth:
            raise DecodeError(f"nesting deeper than max_depth={self.max_depth}", start)
        self.need(n, f"an array of {n} items", "at least ")  # each item takes one byte or more
        self.charge(n, start)
        out = []
        for _ in range(n):
            out.append(self.read(depth + 1, as_ref))
        return out

    def read_map(self, n, depth, start):
        if depth >= self.max_depth:
            raise DecodeError(f"nesting deeper than max_depth={self.max_depth}", start)
        self.need(2 * n, f"a map of {n} entries", "at least ")
        if self.skip_only:
            for _ in range(2 * n):
                self.read(depth + 1)
            return None
        if self.in_key:
            raise DecodeError("a map cannot be a map key or part of one", start)
        self.charge(2 * n, start)
        d = {}
        for _ in range(n):
            kpos = self.pos
            if kpos >= self.end:
                self.need(1, "a map key")
            views, self.views = self.views, False   # bins in keys are bytes (hashable)
            self.in_key += 1
            key = self.read(depth + 1)
            self.in_key -= 1
            self.views = views
            if self.strict and not isinstance(key, (str, bytes)):
                raise DecodeError(
                    f"map key of type {type(key).__name__} is not str "
                    "(strict_map_key=False allows it)", kpos)
            if isinstance(key, list):
                key = _hashable(key)
            d[key] = self.read(depth + 1, type(key) is str and key == RVALUE)
        return self.finish_map(d, start)

    def finish_map(self, d, start):
        """The value of a complete map (the compiled core's `_map` tail and `_rtype_map`)."""
        rtype = d[RTYPE] if RTYPE in d else None
        if type(rtype) is not str:
            if RVALUE in d:
                d[RVALUE] = self.plain(d[RVALUE], self.views)
            return d if self.dict_type is dict else self.wrap(d)
        decoder = self.decoders.get(rtype) if self.decoders else None
        if RVALUE in d:
            if decoder is None and rtype in _BINARY_RTYPES:
                d[RVALUE] = self.buffer(d[RVALUE], start)
            else:   # set items and orderedmap keys must hash: their bins are bytes
                d[RVALUE] = self.plain(d[RVALUE], self.views and (
                    decoder is not None or rtype not in ("set", "orderedmap")))
        return _built(d, rtype, decoder, start, self.copy, self.rtype_hook,
                      None if self.dict_type is dict else self.wrap)

    def wrap(self, d):
        out = self.dict_type()
        for key, value in d.items():
            out[key] = value
        return out

    def plain(self, value, views):
        """An `_rvalue` not consumed as a buffer: bins become bytes (views if `views`)."""
        if isinstance(value, _Bin):
            return value.view if views else value.view.tobytes()
        if isinstance(value, list):
            return [self.plain(v, views) for v in value]
        return value

    def buffer(self, value, start):
        """An `_rvalue` consumed as a buffer: a bin, a list of bins (pieces), or what a nested
        map decoded to (the build refuses anything but a buffer)."""
        if isinstance(value, _Bin):
            return value.view
        if isinstance(value, list):
            for v in value:
                if not isinstance(v, _Bin):
                    raise DecodeError("_rvalue pieces must be bins", start)
            return [v.view for v in value]
        return value


def _hashable(key):
    """An array key as a tuple (a loop, not a generator: no C recursion)."""
    out = []
    for k in key:
        out.append(_hashable(k) if isinstance(k, list) else k)
    return tuple(out)


class _Bin:
    __slots__ = ("view", "offset")

    def __init__(self, view, offset):
        self.view = view
        self.offset = offset


# ----------------------------------------------------------------------------------- decode
class _Decoder:
    """`_rtype` maps of a caller's tree (`decode()`) -> values, by the reader's rules."""

    __slots__ = ("copy", "dict_type", "decoders", "rtype_hook", "strict", "max_depth")

    def __init__(self, copy, dict_type, codecs, rtype_hook, strict_map_key, max_depth):
        self.copy = copy
        self.dict_type = dict_type
        self.decoders = (codecs if codecs is not None else default_registry).decoders
        self.rtype_hook = rtype_hook
        self.strict = strict_map_key
        self.max_depth = max_depth

    def dec(self, obj, depth=0):
        if isinstance(obj, (bytearray, memoryview)):
            return bytes(obj)
        if isinstance(obj, (list, tuple, dict)) and depth >= self.max_depth:
            raise DecodeError(f"nesting deeper than max_depth={self.max_depth}")
        if isinstance(obj, (list, tuple)):
            return [self.dec(v, depth + 1) for v in obj]
        if isinstance(obj, dict):
            return self.dec_map(obj, depth)
        return obj

    def dec_map(self, obj, depth):
        rtype = obj.get(RTYPE) if RTYPE in obj else None
        binary = type(rtype) is str and rtype in _BINARY_RTYPES and rtype not in self.decoders
        out = {} if binary else self.dict_type()
        for key, value in obj.items():   # every value is decoded, also keys a build drops
            if self.strict and not isinstance(key, (str, bytes)):
                raise DecodeError(f"map key {key!r} of type {type(key).__name__} is not str "
                                  "(strict_map_key=False allows it)")
            if binary and key == RVALUE and type(key) is str:
                out[key] = self.dec_binary(value, depth)
            else:
                out[key] = self.dec(value, depth + 1)
        if type(rtype) is not str:
            return out
        return _built(out, rtype, self.decoders.get(rtype), None, self.copy, self.rtype_hook)

    def dec_binary(self, value, depth):
        """`_rvalue` of a binary rtype: bytes, a list of bytes (pieces), or a map that decodes
        to a buffer (a nested memoryview map)."""
        if isinstance(value, (bytes, bytearray, memoryview)):
            return value
        if isinstance(value, (list, tuple)):
            if depth + 1 >= self.max_depth:
                raise DecodeError(f"nesting deeper than max_depth={self.max_depth}")
            for v in value:
                if not isinstance(v, (bytes, bytearray, memoryview)):
                    raise DecodeError("_rvalue pieces must be bins")
            return list(value)
        if isinstance(value, dict):
            return self.dec(value, depth + 1)   # the build refuses anything but a buffer
        return value


_BINARY_RTYPES = ("ndarray", "typedarray", "memoryview")


def _built(d, rtype, decoder, offset, copy, rtype_hook, wrap=None):
    """The value of a complete map with a str `_rtype` whose `_rvalue` is ready (a buffer for
    the binary rtypes); `wrap` turns the plain dict into the caller's dict_type."""
    if decoder is None:
        if rtype == "memoryview":
            return _common.build_memoryview(d, offset, copy)
        if rtype == "ndarray" or rtype == "typedarray":
            return _common.build_ndarray(d, offset, copy, typed=rtype == "typedarray")
        if rtype == "set":
            return _common.build_set(d, offset)
        if rtype == "orderedmap":
            return _common.build_orderedmap(d, offset)
        if rtype == "error":
            return _common.build_error(d, offset)
    d[RTYPE] = d.pop(RTYPE)   # last, as hypha-rpc hands it on
    out = d if wrap is None else wrap(d)
    if decoder is not None:
        return decoder(out)
    if rtype_hook is not None:
        return rtype_hook(out)
    return out


def decode(tree, *, copy=False, dict_type=dict, strict_map_key=True, max_size=None,
           max_depth=DEFAULT_MAX_DEPTH, codecs=None, rtype_hook=None,
           max_items=DEFAULT_MAX_ITEMS):
    """Plain `_rtype` tree (e.g. from your own msgpack) -> Python values.

    Takes unpackb's options; `max_size` and `max_items` bound input that a tree has already
    been built from, so they are checked but have no effect here."""
    _, max_depth, _ = _common.decode_options(dict_type, max_size or 0, max_depth, max_items,
                                             codecs, rtype_hook)
    _deep_enough()
    return _Decoder(copy, dict_type, codecs, rtype_hook, strict_map_key, max_depth).dec(tree)


def _reader(buf, offset, strict_map_key, max_size, max_depth, max_items, **options):
    mv = _common.as_input(buf)
    if type(offset) is not int:
        offset = _common.int_option("offset", offset, None)
    if not 0 <= offset <= len(mv):
        raise DecodeError(f"offset {offset} outside a buffer of {len(mv)} bytes")
    if len(mv) - offset > max_size:
        raise DecodeError(f"message of {len(mv) - offset} bytes exceeds max_size={max_size}",
                          offset)
    _deep_enough()
    return _Reader(mv, offset, strict_map_key, max_depth, max_items, **options)


def unpack_from(buf, offset=0, *, copy=False, dict_type=dict, strict_map_key=True,
                max_size=DEFAULT_MAX_SIZE, max_depth=DEFAULT_MAX_DEPTH, codecs=None,
                rtype_hook=None, bin_views=False, max_items=DEFAULT_MAX_ITEMS):
    """Decode the object starting at `offset`; returns (value, end_offset)."""
    return Decoder(copy=copy, dict_type=dict_type, strict_map_key=strict_map_key,
                   max_size=max_size, max_depth=max_depth, codecs=codecs,
                   rtype_hook=rtype_hook, bin_views=bin_views,
                   max_items=max_items).decode_from(buf, offset)


def unpackb(buf, *, copy=False, dict_type=dict, strict_map_key=True, max_size=DEFAULT_MAX_SIZE,
            max_depth=DEFAULT_MAX_DEPTH, codecs=None, rtype_hook=None, bin_views=False,
            max_items=DEFAULT_MAX_ITEMS):
    """Decode one msgpack object that fills `buf`; arrays are read-only views of `buf`."""
    return Decoder(copy=copy, dict_type=dict_type, strict_map_key=strict_map_key,
                   max_size=max_size, max_depth=max_depth, codecs=codecs,
                   rtype_hook=rtype_hook, bin_views=bin_views, max_items=max_items).decode(buf)


def skip(buf, offset=0, *, max_size=DEFAULT_MAX_SIZE, max_depth=DEFAULT_MAX_DEPTH):
    """End offset of the msgpack object at `offset`, checking only its structure (lengths,
    depth), not its strings, keys or `_rtype` maps."""
    max_size = _common.int_option("max_size", max_size, 0)
    reader = _reader(buf, offset, False, max_size, _common.depth_option(max_depth), 0,
                     skip_only=True)
    reader.read(0)
    return reader.pos


# ------------------------------------------------------------------------ reusable objects
class Encoder:
    """packb / pack_segments with options fixed (and validated) at construction.

    Holds no state between calls, so one instance may be shared by any number of threads.
    The codec registry is read at each call: codecs registered later apply."""

    __slots__ = ("_default", "_strict", "_codecs", "_max_depth", "_min_oob")

    def __init__(self, *, default=None, strict_map_key=True, codecs=None,
                 max_depth=DEFAULT_MAX_DEPTH, min_oob=DEFAULT_MIN_OOB):
        self._max_depth, self._min_oob = _common.encode_options(default, codecs, max_depth,
                                                                min_oob)
        self._default = default
        self._strict = bool(strict_map_key)
        self._codecs = codecs

    default = property(lambda self: self._default)
    strict_map_key = property(lambda self: self._strict)
    codecs = property(lambda self: self._codecs)
    max_depth = property(lambda self: self._max_depth)
    min_oob = property(lambda self: self._min_oob)

    def encode(self, obj):
        """msgpack bytes of `obj` (as packb)."""
        segments = self._segments(obj, DEFAULT_MIN_OOB)
        return segments[0] if len(segments) == 1 else b"".join(segments)

    def pack_segments(self, obj):
        """msgpack of `obj` as pieces; buffers >= min_oob are views (as pack_segments)."""
        return self._segments(obj, self._min_oob)

    def encode_into(self, obj, buffer, offset=0):
        """Write the msgpack bytes of `obj` into `buffer` at `offset` (-1: at its end) and
        end `buffer` there, as msgspec's encode_into: many values, one growing buffer."""
        if not isinstance(buffer, bytearray):
            raise TypeError(f"buffer must be a bytearray, got {type(buffer).__name__}")
        if offset == -1:
            offset = len(buffer)
        if not 0 <= offset <= len(buffer):
            raise ValueError(f"offset {offset} outside a buffer of {len(buffer)} bytes")
        segments = self._segments(obj, DEFAULT_MIN_OOB)
        del buffer[offset:]
        for segment in segments:
            buffer += segment

    def _segments(self, obj, min_oob):
        _deep_enough()
        enc = _Encoder(self._default, self._strict, self._codecs, self._max_depth, min_oob)
        tree = _run(enc, obj)
        writer = _Writer()
        try:
            writer.write(tree)
        except _Fail as e:
            raise EncodeError(e.reason, _common.format_path(e.parts)) from None
        return writer.take()


class Decoder:
    """unpackb / unpack_from with options fixed (and validated) at construction.

    Holds no state between calls, so one instance may be shared by any number of threads.
    The codec registry is read at each call: codecs registered later apply."""

    __slots__ = ("_copy", "_dict_type", "_strict", "_max_size", "_max_depth", "_codecs",
                 "_rtype_hook", "_bin_views", "_max_items")

    def __init__(self, *, copy=False, dict_type=dict, strict_map_key=True,
                 max_size=DEFAULT_MAX_SIZE, max_depth=DEFAULT_MAX_DEPTH, codecs=None,
                 rtype_hook=None, bin_views=False, max_items=DEFAULT_MAX_ITEMS):
        self._max_size, self._max_depth, self._max_items = _common.decode_options(
            dict_type, max_size, max_depth, max_items, codecs, rtype_hook)
        self._copy = bool(copy)
        self._dict_type = dict_type
        self._strict = bool(strict_map_key)
        self._codecs = codecs
        self._rtype_hook = rtype_hook
        self._bin_views = bool(bin_views)

    copy = property(lambda self: self._copy)
    dict_type = property(lambda self: self._dict_type)
    strict_map_key = property(lambda self: self._strict)
    max_size = property(lambda self: self._max_size)
    max_depth = property(lambda self: self._max_depth)
    codecs = property(lambda self: self._codecs)
    rtype_hook = property(lambda self: self._rtype_hook)
    bin_views = property(lambda self: self._bin_views)
    max_items = property(lambda self: self._max_items)

    def decode(self, buf):
        """The one msgpack object that fills `buf` (as unpackb)."""
        obj, end = self.decode_from(buf, 0)
        size = memoryview(buf).nbytes
        if end != size:
            raise DecodeError(f"extra data: {size - end} bytes after the object", end)
        return obj

    def decode_from(self, buf, offset=0):
        """(value, end_offset) of the object at `offset` (as unpack_from)."""
        reader = _reader(buf, offset, self._strict, self._max_size, self._max_depth,
                         self._max_items, copy=self._copy, dict_type=self._dict_type,
                         codecs=self._codecs, rtype_hook=self._rtype_hook,
                         bin_views=self._bin_views)
        value = reader.read(0)
        return value, reader.pos


# ---------------------------------------------------------------------------------- chunks
def _segment_views(data):
    segs = [data] if isinstance(data, (bytes, bytearray, memoryview, np.ndarray)) else data
    if not isinstance(segs, (list, tuple)):
        raise TypeError(f"chunks: data must be a buffer or a list of buffers, got "
                        f"{type(data).__name__}")
    views = []
    for seg in segs:
        try:
            mv = memoryview(seg)
        except TypeError:
            raise TypeError(f"chunks: a segment is a {type(seg).__name__}, not a buffer") \
                from None
        if not mv.c_contiguous:
            raise ValueError("chunks: a segment is not contiguous")
        if mv.format != "B" or mv.ndim != 1:
            mv = mv.cast("B")
        if len(mv):
            views.append(mv)
    return views


def chunks(data, size=CHUNK_SIZE):
    """`size`-byte pieces of the joined frame; a piece inside one segment is a view."""
    if not isinstance(size, int) or size <= 0:
        raise ValueError(f"chunk size must be a positive int, got {size!r}")
    out = []
    pending = []          # parts of a piece that straddles segment boundaries
    pending_len = 0
    for mv in _segment_views(data):
        pos, n = 0, len(mv)
        if pending_len:
            take = min(size - pending_len, n)
            pending.append(mv[:take])
            pending_len += take
            pos = take
            if pending_len == size:
                out.append(b"".join(pending))
                pending, pending_len = [], 0
        while pending_len == 0 and n - pos >= size:
            out.append(mv[pos:pos + size])
            pos += size
        if pos < n:
            pending.append(mv[pos:])
            pending_len += n - pos
    if pending_len:
        out.append(pending[0] if len(pending) == 1 else b"".join(pending))
    return out


_RESERVE = 64 << 20   # first block when max_size cannot be reserved


class Reassembler:
    """Collects chunks (any order) into one buffer; each byte is copied once.

    All chunks but the last are `chunk_size` long, so chunk i lands at i*chunk_size as soon as
    it arrives. `chunk_size=None` takes the length of chunk 0 (a sender slices one frame into
    equal pieces); chunks that arrive before chunk 0 wait as views until it comes.
    """

    def __init__(self, count=None, *, max_size=DEFAULT_MAX_SIZE, chunk_size=CHUNK_SIZE,
                 max_chunks=DEFAULT_MAX_CHUNKS):
        if chunk_size is not None:
            chunk_size = _common.int_option("chunk_size", chunk_size, 1)
        if count is not None:
            count = _common.int_option("count", count, 0)
        self.max_size = _common.int_option("max_size", max_size, 0)
        self.chunk_size = chunk_size
        self.max_chunks = _common.int_option("max_chunks", max_chunks, 0)
        self.count = count
        if count is not None:
            self._check_count(count, chunk_size)
        self._got = set()
        self._early = {}            # index -> view, held until chunk 0 gives the chunk size
        self._early_bytes = 0
        self._short = None          # index of the one chunk shorter than chunk_size
        self._short_len = 0
        self._top = -1              # highest index received
        self._done = False
        # Unknown size: reserve address space for max_size, not memory. A block this large is
        # mmapped by malloc, so pages are only touched as chunks land, and result() trims it
        # with realloc (mremap: no bytes move). Growing instead would zero-fill every new page.
        known = count is not None and chunk_size is not None
        cap = min(count * chunk_size if known else max_size, max_size)
        try:
            self._buf = np.empty(cap, np.uint8)
        except MemoryError:   # strict overcommit: start small and grow
            self._buf = np.empty(min(cap, _RESERVE), np.uint8)

    def _check_count(self, count, chunk_size):
        if count > self.max_chunks:
            raise DecodeError(f"{count} chunks exceed max_chunks={self.max_chunks}")
        if chunk_size is not None and count and (count - 1) * chunk_size >= self.max_size:
            raise DecodeError(f"{count} chunks of {chunk_size} bytes exceed "
                              f"max_size={self.max_size}")

    def __len__(self):
        return len(self._got) + len(self._early)

    def add(self, index, chunk):
        if self._done:
            raise DecodeError("chunk added after result()")
        if type(index) is not int or index < 0:
            raise DecodeError(f"chunk index must be a non-negative int, got {index!r}")
        limit = self.count if self.count is not None else self.max_chunks
        if index >= limit:
            raise DecodeError(f"chunk index {index} out of range (limit {limit})")
        if index in self._got or index in self._early:
            raise DecodeError(f"duplicate chunk {index}")
        mv = memoryview(chunk)
        if mv.format != "B" or mv.ndim != 1:
            mv = mv.cast("B")
        if self.chunk_size is None:
            if index:
                if not len(mv) or self._early_bytes + len(mv) > self.max_size:
                    raise DecodeError(f"chunk {index} has {len(mv)} bytes; the chunks held "
                                      f"would exceed max_size={self.max_size}")
                self._early[index] = mv
                self._early_bytes += len(mv)
                return
            if not len(mv):
                raise DecodeError("chunk 0 is empty")
            size = len(mv)
            if self.count is not None:
                self._check_count(self.count, size)
            # every held chunk is checked against the new size before anything changes, so
            # a failed add(0) leaves the reassembler as it was
            placed = [(0, mv)] + sorted(self._early.items())
            short, top = self._short, self._top
            for i, piece in placed:
                short, top = self._check_place(i, len(piece), size, short, top)
            self.chunk_size = size
            self._early, self._early_bytes = {}, 0
            for i, piece in placed:
                self._place(i, piece)
            return
        self._place(index, mv)

    def _check_place(self, index, n, size, short, top):
        """(short, top) after chunk `index` of n bytes lands; DecodeError, changing nothing,
        if it cannot."""
        if n == 0 or n > size:
            raise DecodeError(f"chunk {index} has {n} bytes; expected 1..{size}")
        if n < size:
            if short is not None:
                raise DecodeError(f"chunk {index} is short but chunk {short} already was")
            if index < top:
                raise DecodeError(f"short chunk {index} is not the last (saw {top})")
            short = index
        elif short is not None and index > short:
            raise DecodeError(f"chunk {index} follows the short last chunk {short}")
        if index * size + n > self.max_size:
            raise DecodeError(f"message exceeds max_size={self.max_size} at chunk {index}")
        return short, max(top, index)

    def _place(self, index, mv):
        n = len(mv)
        size = self.chunk_size
        short, top = self._check_place(index, n, size, self._short, self._top)
        start = index * size
        end = start + n
        if end > len(self._buf):
            cap = min(max(end, 2 * len(self._buf)), self.max_size)
            self._buf.resize(cap, refcheck=False)   # realloc: what is written stays put
        self._write(start, mv)
        if short == index:
            self._short, self._short_len = index, n
        self._got.add(index)
        self._top = top

    def _write(self, start, mv):
        self._buf[start:start + len(mv)] = np.frombuffer(mv, np.uint8)

    def missing(self, count=None):
        count = self.count if count is None else count
        return [i for i in range(count) if i not in self._got]

    def result(self, count=None):
        """The joined message as a read-only byte view (decode it with unpackb: zero copy).
        Once: the buffer then belongs to the views of the message."""
        if self._done:
            raise DecodeError("result() was already taken")
        if count is None:
            count = self.count
        if count is None:
            raise DecodeError("result() needs the chunk count")
        if self.count is not None and count != self.count:
            raise DecodeError(f"count {count} differs from the announced {self.count}")
        self._check_count(count, self.chunk_size)
        if self.chunk_size is None and (count or self._early):
            if count:
                raise DecodeError(f"incomplete message: chunk 0 is missing"
                                  f" ({len(self._early)} later chunks held)")
            raise DecodeError(f"unexpected chunks {sorted(self._early)[:10]} in a message "
                              f"of 0 chunks")
        if len(self._got) != count or self._top != count - 1:
            miss = self.missing(count)
            extra = sorted(i for i in self._got if i >= count)
            raise DecodeError(f"incomplete message: missing chunks {miss[:10]}"
                              f"{'...' if len(miss) > 10 else ''}"
                              + (f", unexpected chunks {extra[:10]}" if extra else ""))
        if self._short is not None and self._short != count - 1:
            raise DecodeError(f"short chunk {self._short} is not the last of {count}")
        total = (count - 1) * self.chunk_size + (self._short_len or self.chunk_size) \
            if count else 0
        self._done = True
        if len(self._buf) > total:
            self._buf.resize(total, refcheck=False)   # give back the unused reservation
        return memoryview(self._buf).toreadonly()


# ---------------------------------------------------------------------------------- stream
from . import _scan, stream as _stream  # noqa: E402  (stream imports no implementation)

Unpacker, aunpack, dump, adump = _stream.bind(Decoder, Encoder, _scan.Scanner,
                                              _scan.decode_run, skip)
