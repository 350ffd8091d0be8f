"""The decoded form of every spec row, in one place, and a strict deep comparison.

`decoded_form(value)` says what `unpackb(packb(value))` must return, row by row of
polycodec.spec.ROWS (tuple -> list, numpy scalar -> 0-d array, OrderedDict -> dict,
memoryview -> bytes-format memoryview, Exception -> RemoteError, ...). `row_of(value)` classifies
a Python value the way the reference's `_encode` does (first match wins). `from_js(expect)`
turns a JS vector's `expect` description (tests/js/make_vectors.js) into the same kind of value.
"""
from __future__ import annotations

import math
import struct
import traceback
from collections import OrderedDict

import numpy as np

from polycodec import spec
from polycodec.errors import RemoteError
from tests.core.agree import set_item_key


def row_of(value) -> str:
    """The spec row hypha-rpc's `_encode` uses for `value` (its order: primitives, tuple,
    dict [with `_rtype`], ..., numpy, Exception, memoryview, set, list/dict)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, tuple):
        return "tuple"
    if isinstance(value, dict):
        return "rtype_dict" if spec.RTYPE in value else "dict"
    if callable(value):
        raise TypeError("callables have no core decoded form (the Hypha layer encodes them)")
    if isinstance(value, (np.ndarray, np.generic)):
        return "ndarray"
    if isinstance(value, Exception):
        return "error"
    if isinstance(value, memoryview):
        return "memoryview"
    if isinstance(value, set):
        return "set"
    if isinstance(value, list):
        return "list"
    raise TypeError(f"no spec row for {type(value).__name__}")


def _array(value):
    a = np.asarray(value)
    out = np.frombuffer(a.tobytes(), dtype=np.dtype(str(a.dtype))).reshape(a.shape)
    return out  # frombuffer of bytes: read-only, like the decoded view


def _error(value):
    trace = "".join(traceback.format_exception(type(value), value=value, tb=value.__traceback__))
    return RemoteError(str(value), trace)


def _rtype_dict(value, dict_type):
    rtype = value[spec.RTYPE]
    if rtype in spec.CORE_RTYPES:
        raise ValueError(f"a dict carrying core _rtype {rtype!r} decodes by that rtype: "
                         "give the case an explicit expected value")
    out = dict_type((k, decoded_form(v, dict_type)) for k, v in value.items() if k != spec.RTYPE)
    out[spec.RTYPE] = rtype
    return out


# row name -> decoded form of a Python value of that row. Rows that only other peers send
# (from_python=False) decode wire trees: their expected values come from `from_js`.
DECODED = {
    "none": lambda v, dt: None,
    "bool": lambda v, dt: bool(v),
    "int": lambda v, dt: int(v),
    "float": lambda v, dt: float(v),
    "str": lambda v, dt: "".join([v]),       # not str(v): np.str_.__str__ drops "\x00"
    "bytes": lambda v, dt: b"".join([v]),
    "tuple": lambda v, dt: [decoded_form(x, dt) for x in v],
    "list": lambda v, dt: [decoded_form(x, dt) for x in v],
    "dict": lambda v, dt: dt((k, decoded_form(x, dt)) for k, x in v.items()),
    "ndarray": lambda v, dt: _array(v),
    "memoryview": lambda v, dt: memoryview(v.tobytes()),
    "error": lambda v, dt: _error(v),
    "set": lambda v, dt: {decoded_form(x, dt) for x in v},
    "rtype_dict": _rtype_dict,
    "typedarray": None,
    "orderedmap": None,
}
assert set(DECODED) == {row.name for row in spec.ROWS}, "expected.DECODED must follow spec.ROWS"
assert all((DECODED[row.name] is None) == (not row.from_python) for row in spec.ROWS)


def decoded_form(value, dict_type=dict):
    """What the core must decode `packb(value)` to."""
    return DECODED[row_of(value)](value, dict_type)


# --- JS vectors ----------------------------------------------------------------------------
def _js_num(x):
    return float(x) if isinstance(x, str) else x


def from_js(e):
    """The expected decoded value of a JS vector from its JSON `expect` description."""
    if isinstance(e, list):
        return [from_js(x) for x in e]
    if not isinstance(e, dict):
        return e
    if "$bytes" in e:
        return bytes.fromhex(e["$bytes"])
    if "$memoryview" in e:
        return memoryview(bytes.fromhex(e["$memoryview"]))
    if "$typedarray" in e:
        return _ro(np.array([_js_num(x) for x in e["values"]], dtype=e["$typedarray"]))
    if "$ndarray" in e:
        values = np.array([_js_num(x) for x in e["values"]], dtype=e["$ndarray"])
        return _ro(values.reshape(e["shape"]))
    if "$error" in e:
        return RemoteError(e["$error"], e["trace"])
    if "$set" in e:
        return {from_js(x) for x in e["$set"]}
    if "$orderedmap" in e:
        return OrderedDict((from_js(k), from_js(v)) for k, v in e["$orderedmap"])
    if "$dict" in e:
        return {k: from_js(v) for k, v in e["$dict"]}
    raise ValueError(f"unknown expectation {e!r}")


def _ro(a):
    a.flags.writeable = False
    return a


# --- comparison ------------------------------------------------------------------------------
def _same_float(a, b):
    return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))


def assert_same(actual, expected, path="$", dict_type=dict, readonly=True):
    """Strict deep equality: exact types, dict key order, array dtype/shape/bytes, float bits."""
    where = f"at {path}: "
    if isinstance(expected, RemoteError):
        assert isinstance(actual, RemoteError), where + f"{type(actual).__name__} is not RemoteError"
        assert actual.message == expected.message, where + f"{actual.message!r} != {expected.message!r}"
        assert actual.trace == expected.trace, where + f"trace {actual.trace!r} != {expected.trace!r}"
        assert str(actual) == str(expected), where + f"{str(actual)!r} != {str(expected)!r}"
        return
    if isinstance(expected, np.ndarray):
        assert type(actual) is np.ndarray, where + f"{type(actual).__name__} is not ndarray"
        assert actual.dtype == expected.dtype and str(actual.dtype) == str(expected.dtype), \
            where + f"dtype {actual.dtype} != {expected.dtype}"
        assert actual.shape == expected.shape, where + f"shape {actual.shape} != {expected.shape}"
        assert actual.tobytes() == expected.tobytes(), where + "array bytes differ"
        if readonly:
            assert not actual.flags.writeable, where + "decoded array is writeable"
        return
    if isinstance(expected, memoryview):
        assert type(actual) is memoryview, where + f"{type(actual).__name__} is not memoryview"
        assert actual.format == "B" and actual.ndim == 1, where + f"format {actual.format!r} ndim {actual.ndim}"
        assert actual.tobytes() == expected.tobytes(), where + "memoryview bytes differ"
        if readonly:
            assert actual.readonly, where + "decoded memoryview is writeable"
        return
    if isinstance(expected, OrderedDict):
        assert type(actual) is OrderedDict, where + f"{type(actual).__name__} is not OrderedDict"
        _same_items(actual, expected, path, dict_type, readonly)
        return
    if isinstance(expected, dict):
        assert type(actual) is dict_type, where + f"{type(actual).__name__} is not {dict_type.__name__}"
        _same_items(actual, expected, path, dict_type, readonly)
        return
    assert type(actual) is type(expected), \
        where + f"{type(actual).__name__} {actual!r:.80} is not {type(expected).__name__} {expected!r:.80}"
    if isinstance(expected, list):
        assert len(actual) == len(expected), where + f"length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{path}[{i}]", dict_type, readonly)
    elif isinstance(expected, float):
        assert _same_float(actual, expected), where + f"{actual!r} != {expected!r}"
    elif isinstance(expected, set):
        # by a stand-in per item: a decoded NaN is another object, never equal to the first
        assert len(actual) == len(expected) and \
            {set_item_key(x) for x in actual} == {set_item_key(x) for x in expected}, \
            where + f"{actual!r:.200} != {expected!r:.200}"
    else:
        assert actual == expected, where + f"{actual!r:.200} != {expected!r:.200}"


def _same_items(actual, expected, path, dict_type, readonly):
    assert list(actual.keys()) == list(expected.keys()), \
        f"at {path}: keys {list(actual.keys())!r:.200} != {list(expected.keys())!r:.200}"
    assert [type(k) for k in actual] == [type(k) for k in expected], f"at {path}: key types differ"
    for k in expected:
        assert_same(actual[k], expected[k], f"{path}[{k!r}]", dict_type, readonly)
