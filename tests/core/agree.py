"""Differential checks: the compiled core and the fallback give the same outcome for an input.

"The same" is strict: exact types, dict key order and key types, float bits (NaN-aware), array
dtype/shape/bytes, and the same writeable flags on arrays and views; or both raise DecodeError
with the same message at the same offset.
"""
from __future__ import annotations

import math
import struct

import numpy as np
import polycodec
from polycodec import DecodeError, RemoteError


def assert_agree(a, b, path="$"):
    where = f"at {path}: "
    assert type(a) is type(b), where + f"{type(a).__name__} {a!r:.80} vs {type(b).__name__} {b!r:.80}"
    if isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where + f"{a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        assert a.tobytes() == b.tobytes(), where + "array bytes differ"
        assert a.flags.writeable == b.flags.writeable, where + "writeable flags differ"
    elif isinstance(a, memoryview):
        assert (a.format, a.ndim, a.tobytes()) == (b.format, b.ndim, b.tobytes()), where + "views differ"
        assert a.readonly == b.readonly, where + "readonly flags differ"
    elif isinstance(a, RemoteError):
        assert (a.message, a.trace) == (b.message, b.trace), where + "errors differ"
    elif isinstance(a, dict):   # dict, OrderedDict, dict_type
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b], \
            where + f"keys {list(a)!r:.120} vs {list(b)!r:.120}"
        for k in a:
            assert_agree(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where + f"length {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_agree(x, y, f"{path}[{i}]")
    elif isinstance(a, (set, frozenset)):   # NaN-aware: a decoded NaN is a new object each time
        assert {set_item_key(x) for x in a} == {set_item_key(x) for x in b}, where + f"{a!r:.120} vs {b!r:.120}"
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b)), \
            where + f"{a!r} vs {b!r}"
    else:
        assert a == b, where + f"{a!r:.120} vs {b!r:.120}"


def set_item_key(x):
    """A comparable stand-in for a set item: floats by their bits (every NaN alike)."""
    if isinstance(x, float):
        return ("float", "nan" if math.isnan(x) else struct.pack("<d", x))
    if isinstance(x, tuple):
        return ("tuple",) + tuple(set_item_key(v) for v in x)
    return (type(x).__name__, x)


def outcome(fn, *args, **options):
    """("ok", value, None) or ("DecodeError", offset, message); any other exception propagates
    (a bug)."""
    try:
        return "ok", fn(*args, **options), None
    except DecodeError as e:
        return "DecodeError", e.offset, str(e)


def both_agree(name, *args, **options):
    """Run `name` (unpackb, unpack_from, skip, decode) of both implementations; they must give
    the same value or both DecodeError with the same message (and offset). Returns the compiled
    outcome."""
    impls = polycodec.implementations()
    results = [outcome(getattr(m, name), *args, **options) for m in impls.values()]
    if len(results) == 2:
        (ka, va, ma), (kb, vb, mb) = results
        assert ka == kb, f"{name}: {results!r:.300}"
        if ka == "ok":
            assert_agree(va, vb)
        else:
            assert (va, ma) == (vb, mb), f"{name}: DecodeError {ma!r} vs {mb!r}"
    return results[-1][:2]


