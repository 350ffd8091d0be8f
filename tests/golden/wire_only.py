"""Wire-only vectors: msgpack forms that neither polycodec nor hypha-rpc's Python client writes,
but other encoders may (float32, wider-than-needed ints and lengths, str8 keys, `_rtype` first,
keys in another order). Each is hex with its expected value written out by hand, so a decoder
is checked against the msgpack spec rather than against the encoder of the same project.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from polycodec import RemoteError


def _ro(a):
    a.flags.writeable = False
    return a


# (name, hex, expected decoded value, unpackb options)
VECTORS = [
    # float32 (big-endian on the wire)
    ("float32_1.5", "ca3fc00000", 1.5, {}),
    ("float32_-2", "cac0000000", -2.0, {}),
    ("float32_0.1", "ca3dcccccd", 0.10000000149011612, {}),
    ("float32_inf", "ca7f800000", float("inf"), {}),
    ("float32_in_array", "92ca3fc00000cb3ff8000000000000", [1.5, 1.5], {}),
    ("float64_-0", "cb8000000000000000", -0.0, {}),
    # ints in wider forms than needed
    ("uint8_5", "cc05", 5, {}),
    ("uint16_5", "cd0005", 5, {}),
    ("uint32_5", "ce00000005", 5, {}),
    ("uint64_5", "cf0000000000000005", 5, {}),
    ("int8_5", "d005", 5, {}),
    ("int16_-1", "d1ffff", -1, {}),
    ("int32_-2", "d2fffffffe", -2, {}),
    ("int64_-3", "d3fffffffffffffffd", -3, {}),
    ("int64_min", "d38000000000000000", -(2**63), {}),
    ("uint64_max", "cfffffffffffffffff", 2**64 - 1, {}),
    ("uint32_max", "ceffffffff", 2**32 - 1, {}),
    ("int8_min", "d080", -128, {}),
    # lengths in wider forms than needed
    ("str8_a", "d90161", "a", {}),
    ("str16_a", "da000161", "a", {}),
    ("str32_a", "db0000000161", "a", {}),
    ("str8_empty", "d900", "", {}),
    ("bin16_ab", "c500026162", b"ab", {}),
    ("bin32_ab", "c6000000026162", b"ab", {}),
    ("array16_1", "dc000101", [1], {}),
    ("array32_1", "dd0000000101", [1], {}),
    ("array16_empty", "dc0000", [], {}),
    ("map16_1", "de0001a16101", {"a": 1}, {}),
    ("map32_1", "df00000001a16101", {"a": 1}, {}),
    ("str_utf8", "a3e282ac", "\u20ac", {}),
    # keys: str8 forms, bin keys, int keys
    ("str8_key", "81d90161c3", {"a": True}, {}),
    ("bin_key", "81c4016bc2", {b"k": False}, {}),
    ("bin_key_views", "81c4016bc2", {b"k": False}, {"bin_views": True}),
    ("int_keys", "8201a16102a162", {1: "a", 2: "b"}, {"strict_map_key": False}),
    ("array_key", "819201a16102", {(1, "a"): 2}, {"strict_map_key": False}),
    # `_rtype` maps as other encoders write them
    ("custom_rtype_first", "82a65f7274797065a6637573746f6da161c0",
     {"a": None, "_rtype": "custom"}, {}),
    ("custom_rtype_str8_key", "82d9065f7274797065a178a16201", {"b": 1, "_rtype": "x"}, {}),
    ("ndarray_keys_reordered",
     "84a75f726474797065a575696e7438a75f72736861706592cd0001cf0000000000000002"
     "a65f7274797065a76e646172726179a75f7276616c7565c4020102",
     _ro(np.array([[1, 2]], np.uint8)), {}),
    ("ndarray_str8_keys",
     "84d9065f7274797065d9076e646172726179d9075f7276616c7565c5000400000000"
     "d9075f7273686170659101d9075f726474797065d907666c6f61743332",
     _ro(np.zeros(1, np.float32)), {}),
    ("ndarray_big_endian_dtype",
     "84a65f7274797065a76e646172726179a75f7276616c7565c4020102a75f7273686170659101"
     "a75f726474797065a33e6932", _ro(np.array([258], ">i2")), {}),
    ("typedarray_float32",
     "83a65f7274797065aa74797065646172726179a75f7276616c7565c4040000c03f"
     "a75f726474797065a7666c6f61743332", _ro(np.array([1.5], np.float32)), {}),
    ("memoryview_pieces",
     "82a65f7274797065aa6d656d6f727976696577a75f7276616c756592c40161c40162",
     memoryview(b"ab"), {}),
    ("set_ints", "82a65f7274797065a3736574a75f7276616c7565930102cc03", {1, 2, 3}, {}),
    ("orderedmap_wide",
     "82a65f7274797065aa6f7264657265646d6170a75f7276616c756591"
     "92d90161cd0002", OrderedDict([("a", 2)]), {}),
    ("error_no_trace", "82a65f7274797065a56572726f72a75f7276616c7565a26e6f",
     RemoteError("no"), {}),
]
