"""RunCell / RunResult payloads and the JSON-safe conversion of numpy values."""
from __future__ import annotations

import datetime
import math

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from polycodec.backends import PayloadError, RunCell, RunResult, to_json_safe
from polycodec.backends.errors import CellError
from polycodec.backends.spec import MAX_DEPTH, RUN_REQUEST_KEYS, RUN_RESPONSE_KEYS

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                              max_size=4),
    max_leaves=20)
cells = st.builds(RunCell, st.text(max_size=20), st.text(max_size=200),
                  st.dictionaries(identifiers, json_values, max_size=5),
                  st.lists(identifiers | st.just(""), max_size=5))


@settings(max_examples=200, deadline=None)
@given(cells)
def test_run_cell_round_trip(cell):
    payload = cell.to_payload()
    assert list(payload) == list(RUN_REQUEST_KEYS)
    assert RunCell.from_payload(payload) == cell
    assert RunCell.from_payload(orjson.loads(orjson.dumps(payload))) == cell


@settings(max_examples=200, deadline=None)
@given(st.builds(RunResult, st.text(max_size=50), st.text(max_size=50),
                 st.dictionaries(identifiers, json_values, max_size=5)))
def test_run_result_round_trip(result):
    payload = result.to_payload()
    assert list(payload) == list(RUN_RESPONSE_KEYS)
    assert RunResult.from_payload(orjson.loads(orjson.dumps(payload))) == result


finite_arrays = hnp.arrays(
    st.sampled_from([np.int8, np.int32, np.int64, np.uint64, np.float16, np.float32,
                     np.float64, np.bool_]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5),
    elements={"allow_nan": False, "allow_infinity": False})


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(identifiers, finite_arrays, min_size=1, max_size=3))
def test_numpy_captured_in_becomes_nested_lists(arrays):
    payload = RunCell("c", "", arrays, []).to_payload()
    wire = orjson.loads(orjson.dumps(payload))  # nested lists survive plain JSON
    back = RunCell.from_payload(wire)
    for name, arr in arrays.items():
        got = np.asarray(back.captured_in[name], dtype=arr.dtype)
        assert got.shape == arr.shape
        assert np.array_equal(got, arr)
        assert not isinstance(back.captured_in[name], np.ndarray)


def test_numpy_scalars_and_object_arrays():
    out = to_json_safe({"i": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True),
                        "s": np.str_("x"), "o": np.array([1, "a", None, np.arange(2)],
                                                         dtype=object),
                        "t": (1, 2), "u": np.array(["a", "bc"])})
    assert out == {"i": 3, "f": 0.5, "b": True, "s": "x", "o": [1, "a", None, [0, 1]],
                   "t": [1, 2], "u": ["a", "bc"]}
    assert type(out["i"]) is int and type(out["b"]) is bool and type(out["f"]) is float


# --- NaN / inf: explicit ---------------------------------------------------------------------
@pytest.mark.parametrize("value,path", [
    (np.array([[1.0, 2.0], [3.0, np.nan]]), "$['v'][1][1]"),
    (np.array([np.inf]), "$['v'][0]"),
    (np.float64(-np.inf), "$['v']"),
    (float("nan"), "$['v']"),
    ([1.0, [float("inf")]], "$['v'][1][0]"),
])
def test_nonfinite_is_an_error_naming_the_index(value, path):
    with pytest.raises(PayloadError) as e:
        to_json_safe({"v": value})
    (where, msg), = e.value.problems
    assert where == path and "nonfinite='null'" in msg


def test_nonfinite_null_policy():
    a = np.array([[1.5, np.nan], [-np.inf, 2.0]])
    assert to_json_safe(a, nonfinite="null") == [[1.5, None], [None, 2.0]]
    assert to_json_safe([math.inf, 1.0], nonfinite="null") == [None, 1.0]
    cell = RunCell("c", "", {"a": a}, [])
    assert cell.to_payload(nonfinite="null")["capturedIn"]["a"] == [[1.5, None], [None, 2.0]]
    with pytest.raises(PayloadError):
        cell.to_payload()
    with pytest.raises(ValueError):
        to_json_safe(1.0, nonfinite="zero")


@pytest.mark.parametrize("value,words", [
    (np.array([1 + 2j]), "complex"),
    (np.array([b"x"]), "bytes"),
    (np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime64"),
    (np.zeros(2, dtype=[("a", "i4")]), "structured"),
    (b"raw", "bytes"),
    ({1: "a"}, "not a string"),
    (2**64, "64-bit"),
    (-(2**63) - 1, "64-bit"),
    ({"x"}, "set"),
    (datetime.date(2020, 1, 1), "date"),
    (object(), "object"),
])
def test_values_without_json_form(value, words):
    with pytest.raises(PayloadError) as e:
        to_json_safe(value)
    assert words in str(e.value)


def test_depth_limit():
    deep = current = []
    for _ in range(MAX_DEPTH + 5):
        current.append([])
        current = current[0]
    with pytest.raises(PayloadError, match="max_depth"):
        to_json_safe(deep)
    assert to_json_safe(deep, max_depth=MAX_DEPTH + 10) == deep


# --- validation ------------------------------------------------------------------------------
def problems(payload):
    with pytest.raises(PayloadError) as e:
        RunCell.from_payload(payload)
    return e.value.problems


GOOD = {"cellId": "c1", "code": "x = a*2", "capturedIn": {"a": 21}, "capturedOut": ["x"]}


@pytest.mark.parametrize("key", list(RUN_REQUEST_KEYS))
def test_missing_field(key):
    payload = {k: v for k, v in GOOD.items() if k != key}
    assert problems(payload) == [(f"$.{key}", "required field is missing")]


@pytest.mark.parametrize("key,bad", [("cellId", 1), ("code", None), ("capturedIn", []),
                                     ("capturedOut", "x"), ("cellId", True),
                                     ("capturedOut", {"x": 1})])
def test_wrong_type(key, bad):
    ((path, msg),) = problems({**GOOD, key: bad})
    assert path == f"$.{key}" and msg.startswith("must be")


@pytest.mark.parametrize("payload,path", [
    ({**GOOD, "capturedOut": ["x", 3]}, "$.capturedOut[1]"),
    ({**GOOD, "capturedOut": ["not valid"]}, "$.capturedOut[0]"),
    ({**GOOD, "capturedIn": {"1a": 1}}, "$.capturedIn['1a']"),
    ({**GOOD, "captured_in": {}}, "$.captured_in"),
])
def test_names_and_unknown_fields(payload, path):
    assert path in [p for p, _ in problems(payload)]


def test_not_an_object_and_all_problems_at_once():
    assert problems([1])[0][0] == "$"
    assert len(problems({"cellId": 1, "code": 2, "capturedIn": 3, "capturedOut": 4})) == 4


def test_empty_captured_out_names_are_allowed():
    # pyrun_backend skips empty names (interpreter cells split attributes on spaces)
    assert RunCell.from_payload({**GOOD, "capturedOut": ["", "x"]}).captured_out == ["", "x"]


def test_result_parsing():
    r = RunResult.from_payload({"output": "o", "error": "", "capturedOut": {"x": 1},
                                "newField": 1})  # a newer server may add fields
    assert r.ok and r.raise_for_error() is r
    bad = RunResult("o", "boom\n", {})
    with pytest.raises(CellError, match="boom"):
        bad.raise_for_error()
    with pytest.raises(PayloadError) as e:
        RunResult.from_payload({"output": 1, "capturedOut": []})
    assert [p for p, _ in e.value.problems] == ["$.output", "$.error", "$.capturedOut"]
