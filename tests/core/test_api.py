"""Public API semantics beyond the byte format: codecs (hypha-rpc's register_codec), the
default= hook, rtype_hook, dict_type, unpack_from on a two-object frame, the tree API,
implementation selection and a thread-safety smoke test."""
from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import msgpack
import numpy as np
import pytest

import polycodec
from polycodec import CodecRegistry, DecodeError, EncodeError, RemoteError, spec
from tests.conftest import missing
from tests.core.expected import assert_same, decoded_form
from tests.golden.reference import new_rpc, reference_encode, reference_packb, reference_problem

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def ref_rpc():
    """A fresh reference RPC (its own codec table)."""
    problem = reference_problem()
    if problem:
        missing(problem)
    return new_rpc()


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


class Point3(Point):
    pass


class Gadget:
    """Callable: the reference encodes callables (as methods) before looking at codecs."""

    def __call__(self):
        return 1


def point_codec(name="point", typ=Point):
    return {
        "name": name,
        "type": typ,
        "encoder": lambda p: {"x": p.x, "y": (p.y, np.float32(p.y))},
        "decoder": lambda d: Point(d["x"], d["y"][0]),
    }


def both_registries(ref_rpc, *configs):
    reg = CodecRegistry()
    for config in configs:
        reg.register(config)
        ref_rpc.register_codec(config)
    return reg


# --- codecs ----------------------------------------------------------------------------------
def test_codec_dict_form_matches_reference(impl, ref_rpc):
    reg = both_registries(ref_rpc, point_codec())
    v = {"p": Point(1, 2.5), "l": [Point(3, 4)]}
    data = impl.packb(v, codecs=reg)
    assert data == reference_packb(v, ref_rpc)
    tree = msgpack.unpackb(data)
    assert list(tree["p"]) == ["x", "y", "_rtype"] and tree["p"]["_rtype"] == "point"
    out = impl.unpackb(data, codecs=reg)
    assert out == {"p": Point(1, 2.5), "l": [Point(3, 4)]}


def test_codec_keyword_form(impl):
    reg = CodecRegistry()
    reg.register(**point_codec())
    by_dict = CodecRegistry()
    by_dict.register(point_codec())
    assert impl.packb(Point(1, 2), codecs=reg) == impl.packb(Point(1, 2), codecs=by_dict)
    assert impl.unpackb(impl.packb(Point(1, 2), codecs=reg), codecs=reg) == Point(1, 2)


@pytest.mark.parametrize("value", [
    np.arange(3, dtype=np.int16), np.int32(4), ValueError("e"), memoryview(b"mv"), {1, 2},
], ids=["ndarray", "npscalar", "exception", "memoryview", "set"])
def test_codecs_come_before_builtin_forms(impl, ref_rpc, value):
    config = {"name": "wrapped", "type": type(value),
              "encoder": lambda o: {"kind": type(o).__name__}}
    reg = both_registries(ref_rpc, config)
    data = impl.packb([value], codecs=reg)
    assert data == reference_packb([value], ref_rpc)
    assert msgpack.unpackb(data)[0]["_rtype"] == "wrapped"


def test_codec_for_list_subclass_like_reference(impl, ref_rpc):
    """The reference tries codecs before its list branch (spec order (7) before (8))."""
    class MyList(list):
        pass

    reg = both_registries(ref_rpc, {"name": "mylist", "type": MyList,
                                    "encoder": lambda o: {"items": list(o)}})
    v = {"a": MyList([1, 2])}
    assert impl.packb(v, codecs=reg) == reference_packb(v, ref_rpc)


def test_codecs_never_see_primitives_tuples_or_dicts(impl, ref_rpc):
    """Primitives, tuples (turned into lists) and dicts (copied) are handled before codecs."""
    Pair = collections.namedtuple("Pair", "a b")

    class MyDict(dict):
        pass

    reg = both_registries(
        ref_rpc,
        {"name": "int", "type": int, "encoder": lambda o: {"never": 1}},
        {"name": "pair", "type": Pair, "encoder": lambda o: {"never": 2}},
        {"name": "mydict", "type": MyDict, "encoder": lambda o: {"never": 3}},
    )
    v = [1, Pair(1, 2), MyDict(k=1)]
    data = impl.packb(v, codecs=reg)
    assert data == reference_packb(v, ref_rpc) == msgpack.packb([1, [1, 2], {"k": 1}])


def test_codec_result_rtype_placement(impl, ref_rpc):
    reg = both_registries(
        ref_rpc,
        {"name": "a", "type": Point, "encoder": lambda o: {"_rtype": "given", "x": (o.x,)}},
        {"name": "b", "type": complex,
         "encoder": lambda o: {"re": o.real, "im": o.imag}},
        {"name": "c", "type": range, "encoder": lambda o: f"range({o.start},{o.stop})"},
    )
    v = [Point(1, 2), 1 + 2j, range(2, 5)]
    data = impl.packb(v, codecs=reg)
    assert data == reference_packb(v, ref_rpc)
    tree = msgpack.unpackb(data)
    assert list(tree[0]) == ["x", "_rtype"] and tree[0]["_rtype"] == "given"
    assert list(tree[1]) == ["re", "im", "_rtype"] and tree[1]["_rtype"] == "b"
    assert tree[2] == "range(2,5)"


def test_codec_registration_order_decides(impl, ref_rpc):
    """Both codecs match a Point3: the first registered wins (hypha-rpc's dict order)."""
    reg = both_registries(ref_rpc, point_codec("base", Point), point_codec("sub", Point3))
    v = Point3(1, 2)
    data = impl.packb(v, codecs=reg)
    assert data == reference_packb(v, ref_rpc)
    assert msgpack.unpackb(data)["_rtype"] == "base"


def test_codec_replacement_by_name_and_type(impl):
    reg = CodecRegistry()
    reg.register(point_codec("one", Point))
    reg.register(point_codec("one", Point3))          # same name: replaces
    assert [c.name for c in reg] == ["one"] and len(reg) == 1
    with pytest.raises(EncodeError):
        impl.packb(Point(1, 2), codecs=reg)           # only Point3 is known now
    reg.register(point_codec("two", Point3))          # same type: replaces "one"
    assert [c.name for c in reg] == ["two"]
    assert msgpack.unpackb(impl.packb(Point3(1, 2), codecs=reg))["_rtype"] == "two"
    reg.unregister("two")
    assert len(reg) == 0


def test_codec_decoder_wins_over_builtins(impl):
    seen = []

    def decoder(d):
        seen.append(d)
        return ("mine", d["_rshape"])

    reg = CodecRegistry()
    reg.register(name="ndarray", decoder=decoder)
    data = impl.packb({"a": np.arange(6, dtype=np.int8).reshape(2, 3)})
    assert impl.unpackb(data, codecs=reg) == {"a": ("mine", [2, 3])}
    assert seen[0]["_rtype"] == "ndarray" and seen[0]["_rdtype"] == "int8"


def test_codec_decoder_gets_decoded_values(impl):
    got = {}
    reg = CodecRegistry()
    reg.register(name="box", type=Point,
                 encoder=lambda p: {"arr": np.arange(3), "s": {1}, "t": (p.x,)},
                 decoder=lambda d: got.setdefault("d", d))
    out = impl.unpackb(impl.packb(Point(7, 0), codecs=reg), codecs=reg)
    assert out is got["d"]
    assert isinstance(out["arr"], np.ndarray) and out["s"] == {1} and out["t"] == [7]
    assert list(out) == ["arr", "s", "t", "_rtype"]


def test_default_registry(impl):
    polycodec.register_codec(point_codec("default_point"))
    try:
        data = impl.packb(Point(1, 2))
        assert msgpack.unpackb(data)["_rtype"] == "default_point"
        assert impl.unpackb(data) == Point(1, 2)
        raw = impl.unpackb(data, codecs=CodecRegistry())   # another registry: a plain dict
        assert type(raw) is dict and raw["_rtype"] == "default_point"
    finally:
        polycodec.unregister_codec("default_point")
    with pytest.raises(EncodeError):
        impl.packb(Point(1, 2))


def test_bad_codec_configs():
    reg = CodecRegistry()
    for bad in ({}, {"name": ""}, {"name": "x"}, {"name": "x", "encoder": str}):
        with pytest.raises(ValueError):
            reg.register(bad)


# --- default= ----------------------------------------------------------------------------------
def test_default_called_for_callables_before_codecs(impl):
    calls = []

    def default(obj):
        calls.append(obj)
        return {"_rtype": "method", "_rname": getattr(obj, "__name__", "gadget"), "t": (1,)}

    reg = CodecRegistry()
    reg.register(name="gadget", type=Gadget, encoder=lambda g: {"codec": True})
    g = Gadget()
    data = impl.packb({"f": len, "g": g}, default=default, codecs=reg)
    assert calls == [len, g]
    expected = {"f": {"_rname": "len", "t": [1], "_rtype": "method"},
                "g": {"_rname": "gadget", "t": [1], "_rtype": "method"}}
    assert data == msgpack.packb(expected)
    # without default the codec is the only way to encode the callable object
    assert msgpack.unpackb(impl.packb(g, codecs=reg)) == {"codec": True, "_rtype": "gadget"}


def test_default_result_is_encoded_like_the_reference(impl, ref_rpc):
    result = {"_rtype": "generator", "a": (1, np.int8(2)), "s": {3}}
    data = impl.packb([iter([])], default=lambda o: result)
    assert data == reference_packb([result], ref_rpc)


def test_default_for_unknown_objects(impl):
    v = {"when": range(3), "c": 1 + 2j, "b": bytearray(b"ab")}
    data = impl.packb(v, default=lambda o: repr(o) if not isinstance(o, bytearray) else bytes(o))
    assert msgpack.unpackb(data) == {"when": "range(0, 3)", "c": "(1+2j)", "b": b"ab"}


def test_default_returning_the_same_object_is_refused(impl):
    with pytest.raises(EncodeError):
        impl.packb({"x": object()}, default=lambda o: o)


def test_rintf_dict_goes_through_default(impl, ref_rpc):
    svc = {"_rintf": True, "name": "svc", "run": len}
    seen = []

    def default(obj):
        seen.append(obj)
        if obj is svc:
            return {"_rintf_service_id": "s1", "run": {"_rtype": "method", "m": "s1.run"}}
        raise AssertionError("only the _rintf dict is expected")

    data = impl.packb([svc], default=default)
    assert seen == [svc]
    assert msgpack.unpackb(data) == [{"_rintf_service_id": "s1",
                                      "run": {"m": "s1.run", "_rtype": "method"}}]


def test_rintf_dict_returned_unchanged_is_a_plain_dict(impl, ref_rpc):
    svc = {"_rintf": True, "name": "svc", "f": len, "arr": (1,)}
    calls = []

    def default(obj):
        calls.append(obj)
        return obj if obj is svc else {"_rtype": "method", "n": obj.__name__}

    data = impl.packb(svc, default=default)
    assert calls == [svc, len]
    assert msgpack.unpackb(data) == {"_rintf": True, "name": "svc",
                                     "f": {"n": "len", "_rtype": "method"}, "arr": [1]}
    plain = {"_rintf": True, "a": 1}          # no default: a plain dict, as the reference
    assert impl.packb(plain) == reference_packb(plain, ref_rpc)


# --- decoding hooks ------------------------------------------------------------------------------
def test_rtype_hook(impl):
    seen = []

    def hook(d):
        seen.append(d)
        return ("hooked", d["_rtype"])

    reg = CodecRegistry()
    reg.register(name="known", decoder=lambda d: "codec")
    v = [{"_rtype": "method", "x": {"_rtype": "inner"}}, {"_rtype": "known"},
         np.arange(2), {1}, {"plain": 1}]
    out = impl.unpackb(impl.packb(v), rtype_hook=hook, codecs=reg)
    assert out[0] == ("hooked", "method") and out[1] == "codec"
    assert isinstance(out[2], np.ndarray) and out[3] == {1} and out[4] == {"plain": 1}
    assert [d["_rtype"] for d in seen] == ["inner", "method"]     # inner first: values decoded
    assert seen[1]["x"] == ("hooked", "inner")
    # without a hook an unknown _rtype stays a dict with _rtype kept (last)
    assert list(impl.unpackb(impl.packb(v[0]))) == ["x", "_rtype"]


def test_dict_type(impl):
    class Attr(dict):
        __getattr__ = dict.__getitem__

    v = {"a": {"b": [{"c": 1}]}, "m": collections.OrderedDict(z=1), "u": {"_rtype": "x"}}
    out = impl.unpackb(impl.packb(v), dict_type=Attr)
    assert out.a.b[0].c == 1 and type(out.m) is Attr and type(out.u) is Attr
    wire = msgpack.packb({"_rtype": "orderedmap", "_rvalue": [["k", {"d": 1}]]})
    om = impl.unpackb(wire, dict_type=Attr)
    assert type(om) is collections.OrderedDict and type(om["k"]) is Attr


def test_hand_built_core_rtypes_decode(impl):
    """A dict that already carries a core `_rtype` is sent as is and decodes by it."""
    v = [{"_rtype": "set", "_rvalue": [1, 2]},
         {"_rvalue": [b"\x01\x00", b"\x02\x00"], "_rshape": [2], "_rdtype": "<i2",
          "_rtype": "ndarray"}]
    out = impl.unpackb(impl.packb(v))
    assert out[0] == {1, 2}
    assert out[1].tolist() == [1, 2] and out[1].dtype == np.dtype("<i2")


def test_remote_error(impl):
    out = impl.unpackb(impl.packb(KeyError("k")))
    assert isinstance(out, RemoteError) and isinstance(out, Exception)
    assert out.message == "'k'" and out.trace == "KeyError: 'k'\n"
    with pytest.raises(RemoteError):
        raise out


def test_error_types():
    assert issubclass(DecodeError, ValueError) and issubclass(EncodeError, ValueError)
    assert DecodeError("x", 3).offset == 3 and EncodeError("x", "$[1]").path == "$[1]"


# --- frames and trees -------------------------------------------------------------------------------
def test_unpack_from_two_objects_back_to_back(impl):
    main = {"type": "method", "from": "ws/a", "to": "ws/b", "method": "svc.f", "session": "s"}
    extra = {"args": [np.arange(5, dtype=np.float32), "x"], "with_kwargs": False}
    frame = bytearray(impl.packb(main) + impl.packb(extra))
    got_main, end = impl.unpack_from(frame)
    assert got_main == main and end == len(impl.packb(main))
    got_extra, end2 = impl.unpack_from(frame, end)
    assert end2 == len(frame)
    assert got_extra["args"][0].tolist() == [0, 1, 2, 3, 4] and got_extra["args"][1] == "x"
    assert np.shares_memory(got_extra["args"][0], np.frombuffer(frame, np.uint8))
    with pytest.raises(DecodeError):
        impl.unpackb(frame)                     # two objects: unpackb wants exactly one


# encode/decode are the fallback's code in both namespaces: both params run the same code.
def test_encode_decode_trees(impl, ref_rpc):
    v = {"a": (1, 2), "arr": np.arange(4, dtype=">u2").reshape(2, 2), "s": {5}, "e": ValueError("v"),
         "m": memoryview(b"xy"), "n": [None, 1.5, "s", b"b"], "r": {"_rtype": "custom", "k": 1}}
    tree = impl.encode(v)
    # a plain tree: nothing msgpack cannot pack with its defaults
    assert msgpack.packb(tree) == impl.packb(v) == reference_packb(v, ref_rpc)
    ref_tree = msgpack.unpackb(msgpack.packb(reference_encode(v, ref_rpc)))
    assert msgpack.unpackb(msgpack.packb(tree)) == ref_tree
    assert_same(impl.decode(ref_tree), decoded_form(v), readonly=False)


def test_decode_accepts_unpack_options(impl):
    """TEAM.md: decode(tree, **unpack options)."""
    tree = {"a": [{"_rtype": "x"}]}
    assert impl.decode(tree, strict_map_key=True, max_depth=10, copy=True, dict_type=dict,
                       codecs=None, rtype_hook=None) == tree
    with pytest.raises(DecodeError):
        impl.decode({1: "a"}, strict_map_key=True)
    with pytest.raises(DecodeError):
        impl.decode([[[[1]]]], max_depth=2)


# --- implementation selection -----------------------------------------------------------------------
def test_implementations():
    impls = polycodec.implementations()
    assert impls["python"] is polycodec.fallback
    assert polycodec.IMPLEMENTATION in impls
    assert polycodec.packb is impls[polycodec.IMPLEMENTATION].packb
    for impl in impls.values():
        for name in ("packb", "pack_segments", "unpackb", "unpack_from", "encode", "decode",
                     "chunks", "Reassembler"):
            assert callable(getattr(impl, name)), name


def _implementation_in_subprocess(env_value):
    env = dict(os.environ)
    env.pop("POLYCODEC_PUREPYTHON", None)
    if env_value is not None:
        env["POLYCODEC_PUREPYTHON"] = env_value
    code = ("import polycodec; print(polycodec.IMPLEMENTATION, "
            "polycodec.packb is polycodec.fallback.packb)")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_purepython_env_selects_the_fallback():
    assert _implementation_in_subprocess("1") == ["python", "True"]
    default = _implementation_in_subprocess(None)
    if "cython" in polycodec.implementations():
        assert default == ["cython", "False"]
        assert _implementation_in_subprocess("0") == ["cython", "False"]
    else:
        assert default == ["python", "True"]


# --- threads ------------------------------------------------------------------------------------------
def test_thread_safety_smoke(impl):
    """Many threads packing and unpacking different values with different options at once
    give exactly the single-threaded results (no shared mutable state)."""
    regs = []
    for i in range(4):
        reg = CodecRegistry()
        reg.register(name=f"p{i}", type=Point, encoder=lambda p, i=i: {"i": i, "x": p.x},
                     decoder=lambda d: ("p", d["i"], d["x"]))
        regs.append(reg)

    def job(k):
        v = {"k": k, "arr": np.full(1000 + k, k, dtype=np.int32), "p": Point(k, 0),
             "t": tuple(range(k % 7)), "s": {k}, "e": ValueError(str(k)), "f": len}
        reg = regs[k % 4]
        data = impl.packb(v, codecs=reg, default=lambda o: f"fn:{o.__name__}")
        segs = b"".join(bytes(s) for s in impl.pack_segments(v, codecs=reg,
                                                             default=lambda o: f"fn:{o.__name__}",
                                                             min_oob=64))
        out = impl.unpackb(data, codecs=reg)
        return data, segs, out["arr"].sum(), out["p"], out["f"]

    expected = [job(k) for k in range(64)]
    barrier = threading.Barrier(8)

    def run(k):
        if k < 8:
            barrier.wait()
        return job(k)

    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            got = list(pool.map(run, range(64)))
            for (d, s, total, p, f), (ed, es, etotal, ep, ef) in zip(got, expected):
                assert d == ed and s == es == ed and total == etotal and p == ep and f == ef


# --- Bin, bin_views, skip, attribute dicts (requests of the Hypha layer) -------------------
def test_bin_packs_a_plain_bin_and_stays_a_view_in_segments(impl):
    data = np.arange(100_000, dtype=np.uint8)
    piece = memoryview(data)[10:70_000]
    segs = impl.pack_segments([1, polycodec.Bin(piece)], min_oob=1024)
    assert any(isinstance(s, memoryview) and np.shares_memory(np.asarray(s), data) for s in segs)
    joined = b"".join(bytes(s) for s in segs)
    assert joined == msgpack.packb([1, piece.tobytes()])
    assert impl.packb(polycodec.Bin(b"xy")) == msgpack.packb(b"xy")
    assert impl.unpackb(joined)[1] == piece.tobytes()


def test_bin_views_decodes_plain_bins_as_views(impl):
    frame = impl.packb({"x": b"abc", "y": [1, {"z": b"q" * 300}], "_rvalue": b"r"})
    out = impl.unpackb(frame, bin_views=True)
    assert isinstance(out["x"], memoryview) and out["x"].readonly and bytes(out["x"]) == b"abc"
    z = out["y"][1]["z"]
    assert isinstance(z, memoryview) and np.shares_memory(np.asarray(z), np.frombuffer(frame, np.uint8))
    assert impl.unpackb(frame) == {"x": b"abc", "y": [1, {"z": b"q" * 300}], "_rvalue": b"r"}


@pytest.mark.parametrize("value", [
    0, -1, 2**64 - 1, 1.5, "s" * 40, b"b" * 300, [1, [2, [3]]], {"a": {"b": None}},
    {"x": np.zeros((3, 4), np.float32), "_rtype": "custom"}, {1: 2},
])
def test_skip_finds_the_end_without_decoding(impl, value):
    frame = impl.packb(value, strict_map_key=False)
    two = frame + impl.packb("next")
    assert impl.skip(two) == len(frame)
    assert impl.skip(two, len(frame)) == len(two)
    with pytest.raises(DecodeError):
        impl.skip(frame[:-1])


def test_skip_steps_over_values_decode_refuses(impl):
    bad = impl.packb({"_rtype": "ndarray", "_rvalue": b"\0" * 3, "_rshape": [1],
                      "_rdtype": "no-such-dtype"})
    with pytest.raises(DecodeError):
        impl.unpackb(bad)
    assert impl.skip(bad + b"\xc0") == len(bad)


def test_skip_limits(impl):
    deep = b"\x91" * 300 + b"\xc0"
    with pytest.raises(DecodeError, match="max_depth"):
        impl.skip(deep)
    assert impl.skip(deep, max_depth=400) == len(deep)
    with pytest.raises(DecodeError):
        impl.skip(b"\xdd\xff\xff\xff\xff")          # 4 G items declared, none present


def test_attribute_dicts_that_shadow_methods(impl):
    from hypha_rpc.utils import ObjectProxy

    value = {"a": ObjectProxy(items=1, get=2, keys=3)}
    assert impl.packb(value) == msgpack.packb({"a": {"items": 1, "get": 2, "keys": 3}})


# --- Reassembler(chunk_size=None): the size is chunk 0's length -----------------------------
# Reassembler is the fallback's code in both namespaces: both params run the same code.
@pytest.mark.parametrize("size", [1000, 262_144, 2 << 20])
def test_reassembler_learns_chunk_size_from_chunk_zero(impl, size):
    arr = np.arange(3 * size // 8 + 17, dtype=np.float64)
    frame = impl.packb(arr)
    pieces = impl.chunks(frame, size)
    order = list(enumerate(pieces))
    order = order[1::2] + order[0::2]          # later chunks first: they wait for chunk 0
    r = impl.Reassembler(chunk_size=None)
    for i, piece in order:
        r.add(i, piece)
    assert len(r) == len(pieces)
    out = impl.unpackb(r.result(len(pieces)))
    assert np.array_equal(out, arr)
    assert np.shares_memory(out, np.asarray(r.result.__self__._buf))


def test_reassembler_unknown_size_errors(impl):
    r = impl.Reassembler(chunk_size=None)
    r.add(2, b"x" * 10)
    with pytest.raises(DecodeError, match="chunk 0 is missing"):
        r.result(3)
    r = impl.Reassembler(chunk_size=None)
    r.add(0, b"x" * 10)
    with pytest.raises(DecodeError):
        r.add(1, b"x" * 11)                      # longer than chunk 0
    r = impl.Reassembler(chunk_size=None, max_size=15)
    r.add(1, b"x" * 10)
    with pytest.raises(DecodeError, match="max_size"):
        r.add(2, b"x" * 10)                      # held chunks are bounded too


def test_bin_views_applies_to_rvalue_of_plain_and_unknown_maps(impl):
    frame = impl.packb({"_rvalue": b"r" * 100, "u": {"_rtype": "other", "_rvalue": [b"a", b"b"]}})
    out = impl.unpackb(frame, bin_views=True)
    assert isinstance(out["_rvalue"], memoryview) and bytes(out["_rvalue"]) == b"r" * 100
    assert [type(v) for v in out["u"]["_rvalue"]] == [memoryview, memoryview]
    plain = impl.unpackb(frame)
    assert plain["_rvalue"] == b"r" * 100 and plain["u"]["_rvalue"] == [b"a", b"b"]
