"""Vectors made by the real JavaScript client (npm hypha-rpc 0.21.40, tests/js/make_vectors.js):
polycodec decodes what a JS peer sends as the spec says (typedarray, orderedmap, Uint8Array,
ArrayBuffer/DataView memoryview, Set, Error, nested objects, the `_ndarray()` nested memoryview).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import msgpack
import pytest

from polycodec import spec
from tests.conftest import missing
from tests.core.expected import assert_same, from_js

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "js")
JS_DIR = os.path.join(os.path.dirname(HERE), "js")
JS_VERSION = "0.21.40"


def _index(folder=VECTORS):
    with open(os.path.join(folder, "index.json")) as f:
        return json.load(f)


INDEX = _index()
NAMES = list(INDEX["cases"])


def vector(name: str, folder=VECTORS) -> bytes:
    with open(os.path.join(folder, f"{name}.msgpack"), "rb") as f:
        return f.read()


def test_index_is_from_the_pinned_client():
    assert INDEX["hypha-rpc"] == JS_VERSION
    with open(os.path.join(JS_DIR, "package.json")) as f:
        assert json.load(f)["dependencies"]["hypha-rpc"] == JS_VERSION
    on_disk = sorted(n[: -len(".msgpack")] for n in os.listdir(VECTORS) if n.endswith(".msgpack"))
    assert on_disk == sorted(NAMES)


def test_vectors_cover_the_js_rows():
    """Every row only other peers send has vectors, and each typedarray dtype is on the wire."""
    rtypes, dtypes = set(), set()

    def walk(tree):
        if isinstance(tree, dict):
            if "_rtype" in tree:
                rtypes.add(tree["_rtype"])
                if tree["_rtype"] == "typedarray":
                    dtypes.add(tree["_rdtype"])
            for v in tree.values():
                walk(v)
        elif isinstance(tree, list):
            for v in tree:
                walk(v)

    for name in NAMES:
        walk(msgpack.unpackb(vector(name)))
    for row in spec.ROWS:
        if not row.from_python:
            assert row.rtype in rtypes, row.name
    # uint8 travels as plain bin (Uint8Array), every other dtype as typedarray
    assert dtypes == set(spec.TYPEDARRAY_DTYPES) - {"uint8"}
    assert {"memoryview", "set", "error", "ndarray"} <= rtypes


@pytest.mark.parametrize("name", NAMES)
def test_decode_js_vector(impl, name):
    data = vector(name)
    expected = from_js(INDEX["cases"][name]["expect"])
    assert_same(impl.unpackb(data), expected)
    assert_same(impl.decode(msgpack.unpackb(data)), expected, readonly=False)


def test_subarray_defect_is_documented(impl):
    """A JS subarray(1, 3) arrives as the whole 4-element buffer: nothing can repair it."""
    arr = impl.unpackb(vector("typedarray_subarray"))
    assert arr.tolist() == [1, 2, 3, 4]
    assert impl.unpackb(vector("uint8array_subarray")) == bytes([8, 7])


def test_ndarray_helper_nested_memoryview_is_unwrapped(impl):
    tree = msgpack.unpackb(vector("ndarray_helper"))
    assert tree["_rvalue"]["_rtype"] == "memoryview"  # the JS form the Python client fails on
    arr = impl.unpackb(vector("ndarray_helper"))
    assert arr.dtype.name == "float32" and arr.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.slow
def test_regenerating_gives_the_committed_vectors(tmp_path):
    """Run the committed node script with the pinned npm package and compare every byte."""
    node = shutil.which("node")
    if node is None:
        missing("node (JavaScript-peer vectors)")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "hypha-rpc")):
        missing(f"npm hypha-rpc {JS_VERSION} (run `npm install` in tests/js)")
    out = tmp_path / "js"
    proc = subprocess.run([node, os.path.join(JS_DIR, "make_vectors.js"), str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    fresh = _index(str(out))
    assert fresh == INDEX
    for name in NAMES:
        assert vector(name, str(out)) == vector(name), name
