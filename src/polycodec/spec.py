"""The one source of truth for the Hypha wire tables (described in docs/wire-hypha.md).

Both implementations and the Hypha layer read the keys, limits and chunk constants from here.
`ROWS` is the value table itself: the tests generate their strategies and golden vectors from
it and check docs/wire-hypha.md against it, so adding an `_rtype` means adding a row here, a
branch in both implementations and a strategy in tests/strategies.py.
"""
from __future__ import annotations

from dataclasses import dataclass

# --- keys ----------------------------------------------------------------------------------
RTYPE = "_rtype"
RVALUE = "_rvalue"
RSHAPE = "_rshape"
RDTYPE = "_rdtype"
RTRACE = "_rtrace"
RINTF = "_rintf"


@dataclass(frozen=True)
class RtypeRow:
    """One row of the value table.

    name:        row id (also the `_rtype` string when `rtype` is set)
    rtype:       the `_rtype` emitted, or None for plain msgpack values
    python:      which Python values produce it (prose, as in docs/wire-hypha.md)
    keys:        emitted key order of the encoded map
    decoded_as:  what `unpackb` returns for it (prose; tests use `decoded_form`)
    from_python: True when the Python reference client emits it (byte-equality is checked),
                 False when only other peers (the JS client) send it
    """

    name: str
    rtype: str | None
    python: str
    keys: tuple[str, ...]
    decoded_as: str
    from_python: bool = True


ROWS: tuple[RtypeRow, ...] = (
    RtypeRow("none", None, "None", (), "None"),
    RtypeRow("bool", None, "bool", (), "bool"),
    RtypeRow("int", None, "int and subclasses, -2**63 <= v < 2**64", (), "int"),
    RtypeRow("float", None, "float and subclasses (np.float64), always float64", (), "float"),
    RtypeRow("str", None, "str and subclasses", (), "str"),
    RtypeRow("bytes", None, "bytes and subclasses", (), "bytes"),
    RtypeRow("tuple", None, "tuple", (), "list"),
    RtypeRow("list", None, "list", (), "list"),
    RtypeRow("dict", None, "dict, OrderedDict (keys in order)", (), "dict_type"),
    RtypeRow("ndarray", "ndarray", "numpy ndarray or numpy scalar (not float64)",
             (RTYPE, RVALUE, RSHAPE, RDTYPE), "read-only ndarray view; scalar -> 0-d array"),
    RtypeRow("memoryview", "memoryview", "memoryview (format and shape dropped)",
             (RTYPE, RVALUE), "read-only memoryview of format 'B'"),
    RtypeRow("error", "error", "Exception", (RTYPE, RVALUE, RTRACE), "polycodec.RemoteError"),
    RtypeRow("set", "set", "set", (RTYPE, RVALUE), "set"),
    RtypeRow("typedarray", "typedarray", "JS TypedArray (not sent by Python)",
             (RTYPE, RVALUE, RDTYPE), "1-D read-only ndarray view", from_python=False),
    RtypeRow("orderedmap", "orderedmap", "JS Map (not sent by Python)",
             (RTYPE, RVALUE), "collections.OrderedDict", from_python=False),
    RtypeRow("rtype_dict", "<any>", "dict that already has _rtype (moved last)",
             ("...", RTYPE), "dict_type with _rtype kept (unknown _rtype)"),
)

# `_rtype` values the core turns into Python values; any other `_rtype` stays a dict (or goes
# to a registered codec / `rtype_hook`).
CORE_RTYPES = ("ndarray", "typedarray", "memoryview", "set", "orderedmap", "error")

# dtypes the JS client sends as `typedarray` (64-bit ints are never sent; "array" = plain Array)
TYPEDARRAY_DTYPES = ("int8", "int16", "int32", "uint8", "uint16", "uint32", "float32", "float64")

# Fixed-size numpy dtypes that round-trip through `str(dtype)` (the ndarray `_rdtype`).
# Object, structured and subarray dtypes are refused on encode (hypha-rpc sends pointer bytes
# for the first and a dtype string numpy cannot parse back for the others).
NDARRAY_DTYPES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
    ">i2", ">i4", ">i8", ">u4", ">f4", ">f8", ">c8",
    "<U1", "<U3", ">U2", "|S1", "|S4", "|V4",
    "datetime64[D]", "datetime64[ns]", "timedelta64[s]",
)

# --- msgpack ------------------------------------------------------------------------------
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1

# --- chunking (hypha_rpc.rpc CHUNK_SIZE and friends) -------------------------------------
CHUNK_SIZE = 262144
CHUNK_MARGIN = 1024                      # a frame is chunked when longer than chunk size + this
MAX_IN_FLIGHT = 30                       # HYPHA_CONCURRENCY_LIMIT

# --- limits (documented in README; every one is a keyword argument) -----------------------
DEFAULT_MAX_SIZE = 2**31                 # bytes in one message (unpackb, Reassembler)
DEFAULT_MAX_DEPTH = 256                  # nesting of arrays/maps (encode and decode)
MAX_DEPTH_LIMIT = 512                    # hard cap on any max_depth: fits a 512 KiB thread stack
DEFAULT_MAX_ITEMS = 2**24                # values in one decoded message (array items, map keys
                                         # and values)
DECODED_BYTES_PER_ITEM = 200             # at most this many bytes of decoded objects per
                                         # counted value (README; tests and fuzz check it)
DEFAULT_MAX_CHUNKS = DEFAULT_MAX_SIZE // CHUNK_SIZE
DEFAULT_MIN_OOB = 65536                  # pack_segments: buffers this large are not copied
DEFAULT_MAX_BUFFER_SIZE = 100 * 2**20    # Unpacker: bytes one streamed value may take
