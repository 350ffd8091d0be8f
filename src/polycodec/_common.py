"""Helpers both implementations share: dtype rules, `_rtype` value builders, path formatting.

Kept in plain Python because they run once per array or per error, not per byte.
"""
from __future__ import annotations

import operator
import traceback
from collections import OrderedDict

import numpy as np

from .codecs import CodecRegistry
from .errors import DecodeError, RemoteError
from .spec import MAX_DEPTH_LIMIT, RDTYPE, RSHAPE, RTRACE, RVALUE

# numpy's NPY_MAXDIMS (64 since numpy 2, 32 before) and largest byte count (npy_intp)
try:
    np.empty((1,) * 64)
    MAX_NDIM = 64
except ValueError:
    MAX_NDIM = 32
_MAX_NBYTES = 2**63 - 1

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


_PATH_ENDS = 8        # a long path shows this many parts at each end
_PART_CHARS = 40      # and each key at most this many characters


def _path_part(p) -> str:
    s = str(p) if type(p) is int else repr(p)
    return f"[{s if len(s) <= _PART_CHARS else s[:_PART_CHARS - 3] + '...'}]"


def format_path(parts) -> str:
    """parts are innermost-first keys/indices collected while an EncodeError unwinds; the
    middle of a long path (a self-referencing dict) is elided."""
    outer = list(reversed(parts))
    if len(outer) > 2 * _PATH_ENDS:
        hidden = len(outer) - 2 * _PATH_ENDS
        return ("$" + "".join(map(_path_part, outer[:_PATH_ENDS])) + f"[...{hidden} more...]"
                + "".join(map(_path_part, outer[-_PATH_ENDS:])))
    return "$" + "".join(map(_path_part, outer))


# ---- options: checked at call time; a bad option is a TypeError/ValueError naming it
def int_option(name, value, lo, hi=None):
    """`value` as an int in lo..hi (None: no bound that side)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got bool")
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        bound = f"at least {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValueError(f"{name} must be {bound}, got {n}")
    return n


def depth_option(value):
    return int_option("max_depth", value, 0, MAX_DEPTH_LIMIT)


def callable_option(name, value, allow_none=True):
    if (value is None and allow_none) or (value is not None and callable(value)):
        return value
    raise TypeError(f"{name} must be callable{' or None' if allow_none else ''}, "
                    f"got {type(value).__name__}")


def codecs_option(value):
    if value is not None and not isinstance(value, CodecRegistry):
        raise TypeError(f"codecs must be a polycodec.CodecRegistry or None, "
                        f"got {type(value).__name__}")
    return value


def decode_options(dict_type, max_size, max_depth, max_items, codecs, rtype_hook):
    """The checked (max_size, max_depth, max_items) of a decode call."""
    callable_option("dict_type", dict_type, allow_none=False)
    callable_option("rtype_hook", rtype_hook)
    codecs_option(codecs)
    return (int_option("max_size", max_size, 0), depth_option(max_depth),
            int_option("max_items", max_items, 0))


def encode_options(default, codecs, max_depth, min_oob):
    """The checked (max_depth, min_oob) of an encode call."""
    callable_option("default", default)
    codecs_option(codecs)
    return depth_option(max_depth), int_option("min_oob", min_oob, 1)


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
        for piece in value:
            if not isinstance(piece, (bytes, bytearray, memoryview)):
                raise DecodeError(f"{what} _rvalue pieces must be bins, got "
                                  f"{type(piece).__name__}", offset)
        return memoryview(b"".join(value))
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
        shape = check_shape(d[RSHAPE], dt, nbytes, offset)
    arr = np.frombuffer(view, dtype=dt).reshape(shape) if nbytes else np.empty(shape, dt)
    if copy:
        return arr.copy()
    arr.flags.writeable = False
    return arr


def check_shape(shape, dt, nbytes, offset):
    """`_rshape` as a tuple numpy accepts for `nbytes` bytes of `dt`, or DecodeError."""
    if not isinstance(shape, (list, tuple)) or not all(type(n) is int and n >= 0 for n in shape):
        raise DecodeError(f"_rshape must be a list of non-negative ints, got {shape!r}", offset)
    if len(shape) > MAX_NDIM:
        raise DecodeError(f"_rshape has {len(shape)} dimensions; numpy allows {MAX_NDIM}",
                          offset)
    count = nonzero = 1
    for n in shape:
        count *= n
        if n:
            nonzero *= n
    if count * dt.itemsize != nbytes:
        raise DecodeError(f"ndarray shape {list(shape)} of {dt} needs {count * dt.itemsize} "
                          f"bytes, got {nbytes}", offset)
    if nonzero * dt.itemsize > _MAX_NBYTES:   # an empty array numpy cannot describe
        raise DecodeError(f"ndarray shape {list(shape)} is too large for numpy", offset)
    return tuple(shape)


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
