"""Golden cases: how to build each input value. make_golden.py encodes them with the real
hypha-rpc 0.21.47 into python/<name>.msgpack; test_golden.py rebuilds the same values from here.

Every value is deterministic across processes and checkouts: exceptions are never raised (their
`_rtrace` is then just the "Type: message" line), sets hold only ints (str hashing is salted per
process, so a set of str would iterate in another order next run).
"""
from __future__ import annotations

import enum
from collections import OrderedDict
from typing import Callable, NamedTuple

import numpy as np

from polycodec import spec


class Case(NamedTuple):
    name: str
    row: str                       # spec.ROWS name this case exercises
    build: Callable[[], object]    # builds the input value
    options: dict = {}             # extra packb/unpackb keywords (e.g. strict_map_key=False)
    expected: Callable | None = None  # decoded form when it is not decoded_form(build())


class Color(enum.IntEnum):
    RED = 7


class MyStr(str):
    pass


class MyBytes(bytes):
    pass


class MyFloat(float):
    pass


class GoldenError(Exception):
    """A user-defined exception: its module path appears in `_rtrace`."""


def sample_array(dtype: str, shape=(5,)) -> np.ndarray:
    """A deterministic array of any fixed-size dtype (values vary per element)."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    base = np.arange(1, n + 1, dtype=np.int64)
    if dt.kind == "b":
        out = (base % 2 == 0)
    elif dt.kind in "iu":
        out = (base * 37) % 100 + (0 if dt.kind == "u" else -50)
    elif dt.kind == "f":
        out = base / 4 - 0.75
    elif dt.kind == "c":
        out = base / 2 - 1j * base
    elif dt.kind in "mM":
        out = base * 1000 + 17
    elif dt.kind == "U":
        out = np.array([chr(0x41 + i % 26) + "é€"[: i % 3] for i in range(n)])
    elif dt.kind == "S":
        out = np.array([bytes([0x61 + i % 26]) * (i % 5) for i in range(n)])
    elif dt.kind == "V":
        raw = np.arange(n * dt.itemsize, dtype=np.uint8) * 7
        return np.frombuffer(raw.tobytes(), dtype=dt).reshape(shape).copy()
    else:  # pragma: no cover - spec.NDARRAY_DTYPES lists only the kinds above
        raise ValueError(dtype)
    return np.asarray(out).astype(dt).reshape(shape)


def _dtype_id(dtype: str) -> str:
    return (dtype.replace("<", "le_").replace(">", "be_").replace("|", "na_")
            .replace("[", "_").replace("]", ""))


def _chained_error():
    outer = ValueError("outer")
    outer.__cause__ = KeyError("inner")
    return outer


def _js_style_ndarray():
    # the JS `_ndarray()` form, produced here by a dict that already has `_rtype`
    return {"_rtype": "ndarray", "_rvalue": memoryview(np.arange(3, dtype=np.float32)),
            "_rshape": [3], "_rdtype": "float32"}


def _cases():
    c = []
    add = lambda *a, **k: c.append(Case(*a, **k))  # noqa: E731

    # --- primitives -----------------------------------------------------------------
    add("none", "none", lambda: None)
    add("true", "bool", lambda: True)
    add("false", "bool", lambda: False)
    for v in (0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1, 2**63,
              spec.INT_MAX, -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1,
              spec.INT_MIN):
        add(f"int_{v}".replace("-", "m"), "int", lambda v=v: v)
    add("int_enum", "int", lambda: Color.RED)
    for name, v in (("zero", 0.0), ("negzero", -0.0), ("half", 1.5), ("big", 1e308),
                    ("tiny", 5e-324), ("inf", float("inf")), ("neginf", float("-inf")),
                    ("nan", float("nan")), ("third", 1 / 3)):
        add(f"float_{name}", "float", lambda v=v: v)
    add("float_np_float64", "float", lambda: np.float64(2.5))
    add("float_subclass", "float", lambda: MyFloat(0.25))
    for n in (0, 1, 31, 32, 255, 256, 65535, 65536):
        add(f"str_len{n}", "str", lambda n=n: "abcdefghij"[: n % 10] + "x" * (n - n % 10))
    add("str_utf8_32bytes", "str", lambda: "é" * 16)     # 16 chars, 32 bytes: str8
    add("str_emoji", "str", lambda: "a\U0001F600\u20ac\x00z")
    add("str_subclass", "str", lambda: MyStr("sub"))
    add("str_np_str", "str", lambda: np.str_("numpy"))
    for n in (0, 1, 255, 256, 65535, 65536):
        add(f"bytes_len{n}", "bytes", lambda n=n: bytes(range(256)) * (n // 256) + bytes(range(n % 256)))
    add("bytes_subclass", "bytes", lambda: MyBytes(b"\x00\xff"))
    add("bytes_np_bytes", "bytes", lambda: np.bytes_(b"nb"))

    # --- containers -----------------------------------------------------------------
    add("tuple_empty", "tuple", lambda: ())
    add("tuple_mixed", "tuple", lambda: (1, "a", None, 2.5, b"b"))
    add("tuple_nested", "tuple", lambda: (1, (2, (3, ())), [4, (5,)]))
    add("tuple_with_array", "tuple", lambda: (np.arange(3, dtype=np.int16), {"k": (1,)}))
    for n in (0, 1, 15, 16, 65535, 65536):
        add(f"list_len{n}", "list", lambda n=n: [i % 7 for i in range(n)])
    add("list_mixed", "list", lambda: [None, True, -1, 1.25, "s", b"b", [], {}])
    add("dict_empty", "dict", lambda: {})
    add("dict_order", "dict", lambda: {"b": 1, "a": 2, "c": {"z": 0, "y": 1}})
    for n in (15, 16, 300):
        add(f"dict_len{n}", "dict", lambda n=n: {f"k{(i * 7919) % n}": i for i in range(n)})
    add("dict_values_encoded", "dict", lambda: {"a": (1, 2), "arr": np.ones(2, ">i2"),
                                                "s": {3}, "m": memoryview(b"mv")})
    add("dict_rintf_no_callable", "dict", lambda: {"_rintf": True, "a": 1})
    add("ordereddict", "dict", lambda: OrderedDict([("b", 1), ("a", (2,)), ("c", None)]))
    add("ordereddict_nested", "dict", lambda: {"x": OrderedDict([("z", 1), ("y", 2)])})
    lax = {"strict_map_key": False}
    add("dict_int_keys", "dict", lambda: {1: "a", -2: "b", 2**40: "c", "s": 3}, lax)
    add("dict_bytes_keys", "dict", lambda: {b"k": 1, "k": 2}, lax)
    add("dict_misc_keys", "dict", lambda: {None: 0, True: 1, 1.5: 2}, lax)
    add("nested", "list", lambda: [{"a": [1, {"b": (2, 3)}, np.arange(3)],
                                    "c": {"d": {1, 2}, "e": ValueError("x")}},
                                   memoryview(b"q"), [[[[]]]]])
    add("nested_deep", "list", lambda: _deep(200))

    # --- ndarray --------------------------------------------------------------------
    for dtype in spec.NDARRAY_DTYPES:
        i = _dtype_id(dtype)
        add(f"ndarray_{i}", "ndarray", lambda d=dtype: sample_array(d, (5,)))
        add(f"ndarray_{i}_2d", "ndarray", lambda d=dtype: sample_array(d, (2, 3)))
        add(f"ndarray_{i}_0d", "ndarray", lambda d=dtype: sample_array(d, ()))
        add(f"ndarray_{i}_empty", "ndarray", lambda d=dtype: sample_array(d, (0,)))
    add("ndarray_empty_2x0", "ndarray", lambda: np.zeros((2, 0), np.float32))
    add("ndarray_3d", "ndarray", lambda: sample_array("int32", (2, 3, 4)))
    add("ndarray_noncontig", "ndarray", lambda: sample_array("int64", (3, 4))[:, ::2])
    add("ndarray_reversed", "ndarray", lambda: sample_array("float32", (6,))[::-1])
    add("ndarray_fortran", "ndarray", lambda: np.asfortranarray(sample_array("float64", (3, 4))))
    add("ndarray_transposed", "ndarray", lambda: sample_array("uint16", (2, 5)).T)
    add("ndarray_be_noncontig", "ndarray", lambda: sample_array(">f8", (4, 4))[1:3, ::3])
    add("ndarray_broadcast", "ndarray", lambda: np.broadcast_to(np.arange(3, dtype=np.int8), (2, 3)))
    add("ndarray_readonly", "ndarray", lambda: _readonly(sample_array("float32", (4,))))
    add("ndarray_offset_view", "ndarray", lambda: sample_array("int16", (10,))[3:7])
    add("ndarray_bin16", "ndarray", lambda: sample_array("float32", (100,)))
    add("ndarray_bin32", "ndarray", lambda: sample_array("uint8", (70000,)))
    add("ndarray_linspace_spec_example", "ndarray", lambda: np.linspace(0, 1, 5, dtype=np.float32))
    for name, build in (("int8", lambda: np.int8(-5)), ("uint64", lambda: np.uint64(spec.INT_MAX)),
                        ("int64_min", lambda: np.int64(spec.INT_MIN)),
                        ("float32", lambda: np.float32(1.5)), ("float16", lambda: np.float16(-2)),
                        ("complex128", lambda: np.complex128(1 + 2j)),
                        ("bool", lambda: np.bool_(True)),
                        ("datetime64", lambda: np.datetime64("2020-01-02")),
                        ("timedelta64", lambda: np.timedelta64(5, "s")),
                        ("void", lambda: sample_array("|V4", (1,))[0])):
        add(f"npscalar_{name}", "ndarray", build)

    # --- memoryview -----------------------------------------------------------------
    add("memoryview_bytes", "memoryview", lambda: memoryview(b"abc"))
    add("memoryview_empty", "memoryview", lambda: memoryview(b""))
    add("memoryview_bytearray", "memoryview", lambda: memoryview(bytearray(b"\x00\x01\x02")))
    add("memoryview_float32", "memoryview", lambda: memoryview(sample_array("float32", (4,))))
    add("memoryview_2d", "memoryview", lambda: memoryview(sample_array("int16", (2, 3))))
    add("memoryview_strided", "memoryview", lambda: memoryview(sample_array("int32", (8,)))[::3])
    add("memoryview_fortran", "memoryview",
        lambda: memoryview(np.asfortranarray(sample_array("uint8", (3, 2)))))
    add("memoryview_bin16", "memoryview", lambda: memoryview(bytes(range(256)) * 2))

    # --- error ------------------------------------------------------------------------
    add("error_value", "error", lambda: ValueError("boom"))
    add("error_noargs", "error", lambda: Exception())
    add("error_keyerror", "error", lambda: KeyError("k"))
    add("error_args", "error", lambda: ValueError(1, "two"))
    add("error_user_class", "error", lambda: GoldenError("mine"))
    add("error_chained", "error", _chained_error)
    add("error_unicode", "error", lambda: RuntimeError("é\U0001F600"))

    # --- set ----------------------------------------------------------------------------
    add("set_empty", "set", lambda: set())
    add("set_ints", "set", lambda: {3, 1, 2, -5, 2**40})
    add("set_in_list", "set", lambda: [{1}, {2, 3}])

    # --- dicts that already carry `_rtype` ------------------------------------------------
    add("rtype_first", "rtype_dict", lambda: {"_rtype": "custom", "a": 1, "b": "x"})
    add("rtype_middle", "rtype_dict", lambda: {"a": (1, 2), "_rtype": "method", "x": np.arange(2)})
    add("rtype_only", "rtype_dict", lambda: {"_rtype": "stop_iteration"})
    add("rtype_nested", "rtype_dict", lambda: {"k": {"_rtype": "thing", "v": {1}}, "_rtype": "outer"})
    add("rtype_js_ndarray", "rtype_dict", _js_style_ndarray,
        expected=lambda: _readonly(np.arange(3, dtype=np.float32)))
    return c


def _deep(n):
    v = []
    for _ in range(n):
        v = [v]
    return v


def _readonly(a):
    a.flags.writeable = False
    return a


CASES: tuple[Case, ...] = tuple(_cases())
CASE_BY_NAME = {case.name: case for case in CASES}
assert len(CASE_BY_NAME) == len(CASES), "duplicate case names"
