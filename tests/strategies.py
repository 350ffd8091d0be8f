"""Hypothesis strategies generated from polycodec.spec.ROWS: one strategy per row.

`ROW_STRATEGIES[row.name]` draws values of that row. Rows the Python client emits
(`from_python=True`) draw Python values (compare with hypha-rpc, round-trip through
`decoded_form`); rows only other peers send draw `WireCase(tree, expected)`: a wire tree as a
JS peer sends it and the value it must decode to. `values()` mixes every Python row, nested.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from polycodec import spec


class WireCase(NamedTuple):
    tree: object        # what the peer's msgpack encoder is given
    expected: object    # what unpackb must return for it


class UserError(Exception):
    pass


# --- leaves --------------------------------------------------------------------------------
INT_BOUNDARIES = sorted({spec.INT_MIN, spec.INT_MAX, 0, -1, -32, -33, 127, 128, 255, 256,
                         -128, -129, 65535, 65536, -32768, -32769, 2**32 - 1, 2**32,
                         -2**31, -2**31 - 1, 2**63 - 1, 2**63})
LENGTH_BOUNDARIES = (31, 32, 255, 256, 65535, 65536)

ints = st.integers(spec.INT_MIN, spec.INT_MAX) | st.sampled_from(INT_BOUNDARIES)
floats = st.floats() | st.floats().map(np.float64)
texts = st.text(max_size=40) | st.sampled_from(LENGTH_BOUNDARIES).map(lambda n: "s" * n) \
    | st.text(max_size=5).map(np.str_)
blobs = st.binary(max_size=64) | st.sampled_from(LENGTH_BOUNDARIES).map(lambda n: b"\xa5" * n) \
    | st.binary(max_size=5).map(np.bytes_)

# dict keys: str, never `_rtype`/`_rintf` (those are the rtype_dict row and the Hypha layer)
keys = st.text(max_size=8).filter(lambda k: not k.startswith("_r"))
hashables = st.none() | st.booleans() | ints | st.floats(allow_nan=False) | st.text(max_size=8) \
    | st.binary(max_size=8)

_NDARRAY_DTYPES = tuple(np.dtype(d) for d in spec.NDARRAY_DTYPES)
_LAYOUTS = ("c", "fortran", "strided", "reversed", "transposed")


@st.composite
def raw_arrays(draw, dtypes=_NDARRAY_DTYPES, max_dims=3):
    """Arrays of any table dtype with arbitrary bit patterns (bool kept to 0/1), any layout."""
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=5))
    n = int(np.prod(shape, dtype=np.int64))
    layout = draw(st.sampled_from(_LAYOUTS))
    grow = 2 if layout == "strided" else 1
    raw = draw(st.binary(min_size=n * grow * dtype.itemsize, max_size=n * grow * dtype.itemsize))
    if dtype.kind == "b":
        raw = bytes(b & 1 for b in raw)
    elif dtype.kind == "U":  # valid code points only (below the surrogates)
        codes = np.frombuffer(raw, dtype=np.uint32) % 0xD800
        raw = codes.astype(np.dtype("u4").newbyteorder(dtype.byteorder)).tobytes()
    flat = np.frombuffer(raw, dtype=dtype).copy()
    if layout == "strided":
        return flat[::2].reshape(shape) if len(shape) == 0 else flat.reshape(shape[:-1] + (shape[-1] * 2,))[..., ::2]
    a = flat.reshape(shape)
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "reversed" and a.ndim:
        return a[::-1]
    if layout == "transposed":
        return a.T
    return a


# np.generic scalars of the ndarray row (np.float64, np.str_, np.bytes_ subclass float, str,
# bytes: they belong to those rows and are drawn there)
_SCALAR_DTYPES = tuple(d for d in _NDARRAY_DTYPES if d.kind not in "US" and d != np.float64)
numpy_scalars = raw_arrays(dtypes=_SCALAR_DTYPES, max_dims=0).map(lambda a: a[()])
ndarrays = raw_arrays() | numpy_scalars

_MV_DTYPES = tuple(d for d in _NDARRAY_DTYPES if d.kind not in "mM")   # no buffer protocol
memoryviews = st.binary(max_size=64).map(memoryview) \
    | st.binary(max_size=64).map(lambda b: memoryview(bytearray(b))) \
    | raw_arrays(dtypes=_MV_DTYPES).map(memoryview) \
    | st.tuples(st.binary(min_size=1, max_size=64), st.integers(1, 4)).map(lambda t: memoryview(t[0])[:: t[1]])


def _raised(exc):
    try:
        raise exc
    except Exception as caught:  # a real traceback (deterministic within one process)
        return caught


exceptions = st.builds(
    lambda cls, msg, raised: _raised(cls(msg)) if raised else cls(msg),
    st.sampled_from((Exception, ValueError, KeyError, RuntimeError, UserError)),
    st.text(max_size=20) | ints, st.booleans())


# --- containers ---------------------------------------------------------------------------
def tuples(children):
    return st.lists(children, max_size=5).map(tuple)


def lists(children):
    return st.lists(children, max_size=5) | st.sampled_from((15, 16)).map(lambda n: list(range(n)))


def dicts(children):
    plain = st.dictionaries(keys, children, max_size=5)
    return plain | plain.map(lambda d: OrderedDict(reversed(list(d.items())))) \
        | st.sampled_from((15, 16)).map(lambda n: {f"k{i}": i for i in range(n)})


def sets(children):
    return st.sets(hashables, max_size=6)


RTYPE_NAMES = ("method", "generator", "custom", "stop_iteration", "iostream", "pydantic_model!")


@st.composite
def rtype_dicts(draw, children):
    items = list(draw(st.dictionaries(keys, children, max_size=4)).items())
    at = draw(st.integers(0, len(items)))
    items.insert(at, (spec.RTYPE, draw(st.sampled_from(RTYPE_NAMES))))
    return dict(items)


# --- rows only other peers send: wire trees --------------------------------------------------
@st.composite
def typedarray_wire(draw):
    dtype = np.dtype(draw(st.sampled_from(spec.TYPEDARRAY_DTYPES)))
    n = draw(st.integers(0, 8))
    raw = draw(st.binary(min_size=n * dtype.itemsize, max_size=n * dtype.itemsize))
    tree = {spec.RTYPE: "typedarray", spec.RVALUE: raw, spec.RDTYPE: dtype.name}
    return WireCase(tree, np.frombuffer(raw, dtype=dtype))


@st.composite
def orderedmap_wire(draw):
    scalars = st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=8)
    pairs = draw(st.lists(st.tuples(st.text(max_size=6) | st.integers(-100, 100), scalars),
                          max_size=6, unique_by=lambda kv: kv[0]))
    tree = {spec.RTYPE: "orderedmap", spec.RVALUE: [list(p) for p in pairs]}
    return WireCase(tree, OrderedDict(pairs))


# --- one strategy per row ------------------------------------------------------------------------
LEAVES = {
    "none": st.none(),
    "bool": st.booleans(),
    "int": ints,
    "float": floats,
    "str": texts,
    "bytes": blobs,
    "ndarray": ndarrays,
    "memoryview": memoryviews,
    "error": exceptions,
}
CONTAINERS = {
    "tuple": tuples,
    "list": lists,
    "dict": dicts,
    "set": sets,
    "rtype_dict": rtype_dicts,
}
WIRE_ONLY = {
    "typedarray": typedarray_wire(),
    "orderedmap": orderedmap_wire(),
}

_leaf = st.one_of(*LEAVES.values())


def values(max_leaves: int = 12):
    """Any encodable Python value, nested, built from every from_python row."""
    return st.recursive(_leaf, lambda ch: st.one_of(*(make(ch) for make in CONTAINERS.values())),
                        max_leaves=max_leaves)


_children = values(max_leaves=6)
ROW_STRATEGIES = {
    **LEAVES,
    **{name: make(_children) for name, make in CONTAINERS.items()},
    **WIRE_ONLY,
}


def property_settings(max_examples: int = 100):
    """Modest, deterministic-enough settings for the core suite (keeps it well under 3 min)."""
    from hypothesis import HealthCheck, settings

    return settings(max_examples=max_examples, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])
