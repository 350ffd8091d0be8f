"""The "polycodec" Dask family in one process: frames, views, refusals, serializer lists."""
from __future__ import annotations

from collections import OrderedDict
from fractions import Fraction

import numpy as np
import pytest

from tests.conftest import missing

try:
    import distributed  # noqa: F401
except ImportError:
    missing("distributed")

from distributed.protocol import deserialize, serialize  # noqa: E402
from hypothesis import given  # noqa: E402

import polycodec  # noqa: E402
from polycodec import dask as pdask  # noqa: E402
from tests.core.expected import assert_same, decoded_form  # noqa: E402
from tests.strategies import property_settings, values  # noqa: E402


def received(frames):
    """Frames as a TCP receiver holds them: each in its own new buffer."""
    return [bytearray(f) for f in frames]


@pytest.fixture
def strict():
    pdask._strict = True
    yield
    pdask._strict = True


def test_large_buffers_are_frames_and_views_on_both_sides(strict):
    arr = np.arange(1 << 18, dtype=np.float32)          # 1 MiB
    mv = memoryview(np.arange(100_000, dtype=np.uint8))
    value = {"a": arr, "m": mv, "b": b"\x07" * 70_000, "small": np.arange(3), "n": [1, "x"]}
    header, frames = pdask.dumps(value)
    assert len(frames) == 4 and len(frames[0]) < 400      # header + a, m, b
    assert np.shares_memory(np.frombuffer(frames[1], np.uint8), arr)   # sender: views
    assert np.shares_memory(np.frombuffer(frames[2], np.uint8), np.asarray(mv))
    got = received(frames)
    out = pdask.loads(header, got)
    assert np.array_equal(out["a"], arr) and not out["a"].flags.writeable
    assert np.shares_memory(out["a"], np.frombuffer(got[1], np.uint8))  # receiver: views
    assert type(out["m"]) is memoryview and out["m"].readonly and out["m"] == mv
    assert np.shares_memory(np.asarray(out["m"]), np.frombuffer(got[2], np.uint8))
    assert type(out["b"]) is bytes and out["b"] == value["b"]
    assert_same(out["small"], decoded_form(value["small"]))
    assert out["n"] == [1, "x"]


@property_settings(60)
@given(v=values(max_leaves=8))
def test_any_spec_value_round_trips(v):
    header, frames = pdask.dumps(v)
    assert_same(pdask.loads(header, received(frames)), decoded_form(v))


def test_through_dask_serialize_with_both_lists(strict):
    w3 = [{"id": i, "data": np.full(256, i, np.float32)} for i in range(50)]
    for names in (pdask.STRICT, pdask.FALLBACK):
        header, frames = serialize(w3, serializers=names)
        assert header["serializer"] == "polycodec"
        out = deserialize(header, frames, deserializers=names)
        assert all(o["id"] == i and np.array_equal(o["data"], w["data"])
                   for i, (o, w) in enumerate(zip(out, w3)))


def test_strict_refusal_names_type_and_path_and_never_pickles(strict):
    header, frames = serialize({"x": [1, Fraction(1, 3)]}, serializers=pdask.STRICT)
    assert header["serializer"] == "error"
    text = b"".join(bytes(f) for f in frames).decode()
    assert "fractions.Fraction" in text and "$['x'][1]" in text
    with pytest.raises(TypeError) as e:
        serialize({"x": Fraction(1, 3)}, serializers=pdask.STRICT, on_error="raise")
    assert isinstance(e.value.__cause__, pdask.StrictRefused)
    assert "fractions.Fraction" in str(e.value.__cause__)
    # a receiver that opted in to polycodec only refuses other families' data
    header, frames = serialize({"x": Fraction(1, 3)}, serializers=["pickle"])
    with pytest.raises(TypeError, match="pickle"):
        deserialize(header, frames, deserializers=pdask.STRICT)


def test_fallback_list_hands_other_values_to_dask_then_pickle(strict):
    pdask._strict = False
    header, frames = serialize(Fraction(1, 3), serializers=pdask.FALLBACK)
    assert header["serializer"] == "pickle"
    assert deserialize(header, frames) == Fraction(1, 3)
    with pytest.raises(pdask.Refused, match="Fraction"):
        pdask.dumps(Fraction(1, 3))


def test_reserved_marker_and_bad_frames(strict):
    with pytest.raises(pdask.StrictRefused, match="reserved"):
        pdask.dumps({"_rtype": "polycodec.dask:ndarray", "_rvalue": 1})
    header, frames = pdask.dumps(np.zeros(1 << 17))
    with pytest.raises(polycodec.DecodeError, match="frame"):
        pdask.loads(header, frames[:1])
    with pytest.raises(polycodec.DecodeError):
        pdask.loads(header, [frames[0], b"\0" * 10])    # shape needs more bytes


def test_ordered_and_rtype_dicts_keep_their_form(strict):
    v = {"o": OrderedDict([("b", 1), ("a", 2)]), "r": {"_rtype": "custom", "_rvalue": b"y" * 90_000}}
    header, frames = pdask.dumps(v)
    assert len(frames) == 2
    assert_same(pdask.loads(header, received(frames)), decoded_form(v))
