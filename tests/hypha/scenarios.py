"""What the Hypha peers send each other in the tests, and what must come out.

One sample per row of polycodec.spec.ROWS (rows the Python client never produces, typedarray
and orderedmap, are sent as dicts that already carry their `_rtype`: the bytes a JS peer
sends). The same module runs in the pytest process and in the peer subprocess.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from polycodec.spec import ROWS

BIG_BYTES = 64 * 1024 * 1024   # the chunked array: 256 message_cache chunks


class Point:
    """A user type sent with a custom codec registered on both peers."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


POINT_CODEC = {
    "name": "point",
    "type": Point,
    "encoder": lambda p: {"x": p.x, "y": p.y},
    "decoder": lambda d: Point(d["x"], d["y"]),
}


def row_value(name):
    """A sample value of one spec row (as a Python caller passes it)."""
    samples = {
        "none": None,
        "bool": True,
        "int": -(2**40),
        "float": np.float64(2.5),
        "str": "héllo",
        "bytes": b"\x00\x01\xff",
        "tuple": (1, "two", 3.0),
        "list": [1, [2, [3]], "x"],
        "dict": {"a": 1, "b": {"c": [1, 2]}},
        "ndarray": np.arange(12, dtype=">i4").reshape(3, 4),
        "memoryview": memoryview(b"abcdef"),
        "error": ValueError("boom-row"),
        "set": {1, 2, 3},
        "typedarray": {"_rvalue": np.arange(5, dtype=np.float32).tobytes(),
                       "_rdtype": "float32", "_rtype": "typedarray"},
        "orderedmap": {"_rvalue": [["z", 1], ["a", 2]], "_rtype": "orderedmap"},
        "rtype_dict": {"x": 1, "_rtype": "custom_unknown"},
    }
    return samples[name]


ROW_NAMES = [row.name for row in ROWS]

# what the provider sees (type name after decoding) -- hypha-rpc's own decoded forms
DECODED_TYPE = {
    "none": "NoneType", "bool": "bool", "int": "int", "float": "float", "str": "str",
    "bytes": "bytes", "tuple": "list", "list": "list", "dict": "ObjectProxy",
    "ndarray": "ndarray", "memoryview": "memoryview", "error": "RemoteException",
    "set": "set", "typedarray": "ndarray", "orderedmap": "OrderedDict",
    "rtype_dict": "ObjectProxy",
}


def nested_value():
    return {
        "meta": {"name": "n", "tags": ["a", "b"], "n": None},
        "arrays": [np.ones((2, 3), np.float32), {"deep": np.arange(4, dtype=np.uint8)}],
        "mixed": [1, 2.5, "s", b"b", {"set": {4, 5}}],
        "big": np.arange(100_000, dtype=np.float64),   # > 64 KiB: sent out of band
    }


def big_array():
    return np.arange(BIG_BYTES // 4, dtype=np.float32)


def describe(x):
    """Type names of a decoded value, recursively (computed by the receiving peer)."""
    if isinstance(x, dict):
        # keys prefixed: a described `_rtype` key must not look like an `_rtype` itself
        return [type(x).__name__, {f"k:{k}": describe(v) for k, v in x.items()}]
    if isinstance(x, list):
        return ["list", [describe(v) for v in x]]
    if isinstance(x, np.ndarray):
        return ["ndarray", str(x.dtype), list(x.shape)]
    return [type(x).__name__]


def plain(x):
    """Echoed values made picklable and comparable (attribute dicts -> dicts)."""
    if isinstance(x, OrderedDict):
        return OrderedDict((k, plain(v)) for k, v in x.items())
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [plain(v) for v in x]
    if isinstance(x, set):
        return set(x)
    if isinstance(x, memoryview):
        return ("memoryview", x.tobytes())
    if isinstance(x, BaseException):
        return ("error", type(x).__name__, str(x))
    return x


def check_echo(name, sent, got):
    """Assert the echoed value of row `name` is hypha-rpc's round-tripped form."""
    got = plain(got)
    if name == "none":
        assert got is None
    elif name in ("bool", "int", "str", "bytes"):
        assert got == sent and type(got) is type(sent)
    elif name == "float":
        assert got == 2.5 and type(got) is float
    elif name == "tuple":
        assert got == list(sent)
    elif name in ("list", "dict"):
        assert got == sent
    elif name == "ndarray":
        # kind and size only: pickling (peer process -> pytest) turns a read-only '>i4'
        # frombuffer view into native int32 with the same values
        assert isinstance(got, np.ndarray) and got.dtype.str[1:] == sent.dtype.str[1:]
        np.testing.assert_array_equal(got, sent)
    elif name == "memoryview":
        assert got == ("memoryview", sent.tobytes())
    elif name == "error":
        assert got[0] == "error" and got[1] == "RemoteException" and "boom-row" in got[2]
    elif name == "set":
        assert got == sent
    elif name == "typedarray":
        np.testing.assert_array_equal(got, np.arange(5, dtype=np.float32))
        assert got.dtype == np.float32
    elif name == "orderedmap":   # provider decodes OrderedDict, returns it as a plain map
        assert got == {"z": 1, "a": 2} and list(got) == ["z", "a"]
    elif name == "rtype_dict":
        assert got == sent
    else:
        raise AssertionError(f"no check for row {name}")


def check_nested(sent, got):
    got = plain(got)
    assert got["meta"] == sent["meta"]
    np.testing.assert_array_equal(got["arrays"][0], sent["arrays"][0])
    np.testing.assert_array_equal(got["arrays"][1]["deep"], sent["arrays"][1]["deep"])
    assert got["mixed"] == sent["mixed"]
    np.testing.assert_array_equal(got["big"], sent["big"])
