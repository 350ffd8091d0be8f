"""Helpers both implementations share: dtype rules, `_rtype` value builders, path formatting.

Kept in plain Python because they run once per array or per error, not per byte.
"""
from __future__ import annotations

import traceback
from collections import OrderedDict

import numpy as np

from .errors import DecodeError, RemoteError
from .spec import RDTYPE, RSHAPE, RTRACE, RVALUE

class _Fail(Exception):
    """An EncodeError on its way up; containers add their key to `parts`."""

    def __init__(self, reason):
        self.reason = reason
        self.parts = []


class Bin:
    """Pack `data` (any contiguous buffer) as a plain msgpack bin, not as `{_rtype:
    memoryview}`; in pack_segments a large one stays a view. Decodes to bytes (or a view with
    `bin_views=True`)."""

    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data


_DTYPE_STR: dict = {}      # np.dtype -> str(dtype), for dtypes allowed on the wire
_DTYPE_PARSED: dict = {}   # wire string -> np.dtype


def dtype_str(dtype) -> str:
    """`_rdtype` for an array's dtype; refuses dtypes whose bytes or name do not round-trip."""
    s = _DTYPE_STR.get(dtype)
    if s is not None:
        return s
    if dtype.hasobject:
        raise _Fail(f"numpy dtype {dtype} holds Python objects and cannot be sent")
    if dtype.fields is not None or dtype.subdtype is not None:
        raise _Fail(f"structured/subarray numpy dtype {dtype} is not supported")
    s = str(dtype)
    _DTYPE_STR[dtype] = s
    return s


def parse_dtype(s, offset=None):
    dt = _DTYPE_PARSED.get(s) if isinstance(s, str) else None
    if dt is not None:
        return dt
    if not isinstance(s, str):
        raise DecodeError(f"_rdtype must be a str, got {type(s).__name__}", offset)
    try:
        dt = np.dtype(s)
    except (TypeError, ValueError, SyntaxError):
        raise DecodeError(f"unknown dtype {s!r}", offset) from None
    if dt.hasobject or dt.fields is not None or dt.subdtype is not None or dt.itemsize == 0:
        raise DecodeError(f"dtype {s!r} is not a fixed-size plain dtype", offset)
    if len(_DTYPE_PARSED) < 1024:  # bounded: the strings come from the peer
        _DTYPE_PARSED[s] = dt
    return dt


def format_trace(exc) -> str:
    return "".join(traceback.format_exception(type(exc), value=exc, tb=exc.__traceback__))


def format_path(parts) -> str:
    """parts are innermost-first keys/indices collected while an EncodeError unwinds."""
    out = "$"
    for p in reversed(parts):
        out += f"[{p}]" if isinstance(p, int) else f"[{p!r}]"
    return out


def as_input(buf):
    """A read-only 1-D byte view of `buf` (bytes, bytearray, memoryview, numpy array)."""
    if type(buf) is bytes:
        return memoryview(buf)   # already read-only, contiguous, format "B"
    try:
        mv = memoryview(buf)
    except TypeError:
        raise DecodeError(f"cannot read a {type(buf).__name__}: not a buffer") from None
    if not mv.c_contiguous:
        raise DecodeError("input buffer is not contiguous")
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    return mv.toreadonly()


def _as_view(value, offset, what):
    """The `_rvalue` of a binary rtype as a 1-D uint8 memoryview (joining a list of pieces)."""
    if isinstance(value, memoryview):
        return value if (value.format == "B" and value.ndim == 1) else value.cast("B")
    if isinstance(value, (bytes, bytearray)):
        return memoryview(value)
    if isinstance(value, (list, tuple)):
        try:
            return memoryview(b"".join(value))
        except TypeError:
            raise DecodeError(f"{what} _rvalue pieces must be binary", offset) from None
    raise DecodeError(f"{what} _rvalue must be binary, got {type(value).__name__}", offset)


def build_ndarray(d, offset, copy, typed=False):
    what = "typedarray" if typed else "ndarray"
    if RVALUE not in d or RDTYPE not in d or (not typed and RSHAPE not in d):
        raise DecodeError(f"{what} map lacks {RVALUE}, {RDTYPE} or {RSHAPE}", offset)
    view = _as_view(d[RVALUE], offset, what)
    dt = parse_dtype(d[RDTYPE], offset)
    nbytes = view.nbytes
    if typed:
        if nbytes % dt.itemsize:
            raise DecodeError(f"typedarray of {nbytes} bytes is not a multiple of {dt}", offset)
        shape = (nbytes // dt.itemsize,)
    else:
        shape = d[RSHAPE]
        if not isinstance(shape, (list, tuple)) or not all(
            type(n) is int and n >= 0 for n in shape
        ):
            raise DecodeError(f"_rshape must be a list of non-negative ints, got {shape!r}", offset)
        count = 1
        for n in shape:
            count *= n
        if count * dt.itemsize != nbytes:
            raise DecodeError(
                f"ndarray shape {list(shape)} of {dt} needs {count * dt.itemsize} bytes, "
                f"got {nbytes}", offset)
        shape = tuple(shape)
    arr = np.frombuffer(view, dtype=dt).reshape(shape) if nbytes else np.empty(shape, dt)
    if copy:
        return arr.copy()
    arr.flags.writeable = False
    return arr


def build_memoryview(d, offset, copy):
    if RVALUE not in d:
        raise DecodeError(f"memoryview map lacks {RVALUE}", offset)
    view = _as_view(d[RVALUE], offset, "memoryview")
    return memoryview(bytes(view)) if copy else view.toreadonly()


def build_set(d, offset):
    items = d.get(RVALUE)
    if not isinstance(items, list):
        raise DecodeError("set _rvalue must be an array", offset)
    try:
        return set(items)
    except TypeError:
        raise DecodeError("set item is not hashable", offset) from None


def build_orderedmap(d, offset):
    pairs = d.get(RVALUE)
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 for p in pairs
    ):
        raise DecodeError("orderedmap _rvalue must be an array of [key, value] pairs", offset)
    try:
        return OrderedDict(pairs)
    except TypeError:
        raise DecodeError("orderedmap key is not hashable", offset) from None


def build_error(d, offset):
    msg = d.get(RVALUE)
    if not isinstance(msg, str):
        raise DecodeError("error _rvalue must be a str", offset)
    trace = d.get(RTRACE) or ""
    return RemoteError(msg, trace if isinstance(trace, str) else str(trace))
