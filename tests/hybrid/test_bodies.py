"""Body encoding: same JSON as the stdlib/reference, numpy without tolist, the NaN policy."""
from __future__ import annotations

import decimal
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polycodec.errors import EncodeError
from polycodec.hybrid import bodies
from polycodec.hybrid.sources import make_source

from .conftest import require

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=12)


def stdlib(obj):
    """What the reference's httpx (0.28) puts on the wire for json=obj."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def ordered(data):
    return json.loads(data, object_pairs_hook=list)


@settings(max_examples=200, deadline=None)
@given(values)
def test_same_json_as_reference(obj):
    assert ordered(bodies.dumps(obj)) == ordered(stdlib(obj))


def test_big_int_and_non_str_keys_fall_back_to_stdlib():
    obj = {"big": 2**80, 1: "one", "nested": [{"k": -(2**70)}]}
    assert bodies.dumps(obj) == json.dumps(obj, separators=(",", ":")).encode()


@pytest.mark.parametrize("bad, where", [
    ({"a": 1, "b": float("nan")}, "$.b"),
    ([1, [2, float("inf")]], "$[1][1]"),
    ({"arr": np.array([[1.0, 2.0], [3.0, -np.inf]])}, "$.arr[1][1]"),
    ({"s": np.float32("nan")}, "$.s"),
    ({"d": decimal.Decimal("NaN")}, "$.d"),
])
def test_nan_refused_with_path(bad, where):
    with pytest.raises(EncodeError) as info:
        bodies.dumps(bad)
    assert info.value.path == where
    assert "nan='null'" in str(info.value)


def test_nan_policies():
    obj = {"a": float("nan"), "b": [float("inf"), -math.inf, 1.5], "c": None}
    assert json.loads(bodies.dumps(obj, nan="null")) == {"a": None, "b": [None, None, 1.5],
                                                        "c": None}
    assert json.loads(bodies.dumps(obj, nan="string")) == {
        "a": "NaN", "b": ["Infinity", "-Infinity", 1.5], "c": None}
    # a null that is a real None, or the text "null", is not mistaken for NaN
    assert bodies.dumps({"a": None, "t": "null"}) == b'{"a":null,"t":"null"}'


def test_numpy_values_without_tolist():
    arr = np.arange(12, dtype=np.int32).reshape(3, 4)
    obj = {"i": np.int64(7), "f": np.float32(0.1), "u": np.uint8(255), "b": np.bool_(True),
           "arr": arr, "view": arr[:, 1], "f64": np.linspace(0, 1, 3)}
    got = json.loads(bodies.dumps(obj))
    assert got == {"i": 7, "f": 0.1, "u": 255, "b": True, "arr": arr.tolist(),
                   "view": [1, 5, 9], "f64": [0.0, 0.5, 1.0]}


def test_decimal_is_exact():
    assert bodies.dumps({"d": decimal.Decimal("1.10")}) == b'{"d":1.10}'


def test_unknown_types_are_named():
    with pytest.raises(EncodeError, match="sets have no JSON form"):
        bodies.dumps({"s": {1, 2}})
    with pytest.raises(EncodeError, match="object is not JSON serializable"):
        bodies.dumps({"o": object()})


def _all_inputs(source):
    """Decoded inputs of every batch of a source, as records."""
    out = []
    for _, count, data in source:
        inputs = json.loads(data)
        if inputs and isinstance(inputs[0], list):
            head = inputs[0]
            inputs = [dict(zip(head, r)) for r in inputs[1:]]
        assert len(inputs) == count
        out.extend(inputs)
    return out


@pytest.mark.parametrize("form", ["table", "records"])
def test_every_input_form_encodes_the_same_records(form):
    pd = require("pandas")
    n = 23
    rng = np.random.default_rng(1)
    cols = {"a": rng.integers(-5, 5, n), "b": rng.random(n), "c": [f"s{i}," for i in range(n)],
            "d": rng.random(n).astype(np.float32)}
    records = [{"a": int(a), "b": float(b), "c": c, "d": float(np.float32(d).item())}
               for a, b, c, d in zip(cols["a"], cols["b"], cols["c"], cols["d"])]
    # float32 values travel as their shortest float32 text: compare through float32
    def norm(recs):
        return [{**r, "d": float(np.float32(r["d"]))} for r in recs]
    structured = np.zeros(n, dtype=[("a", "i8"), ("b", "f8"), ("c", "U8"), ("d", "f4")])
    for k in cols:
        structured[k] = cols[k]
    forms = {
        "records": records,
        "table": [list(records[0])] + [list(r.values()) for r in records],
        "columns": cols,
        "list columns": {k: list(v.tolist()) if hasattr(v, "tolist") else v
                         for k, v in cols.items()},
        "structured": structured,
        "dataframe": pd.DataFrame(cols),
        "iterator": iter(records),
    }
    for name, inputs in forms.items():
        total, source = make_source(inputs, 5, form)
        got = _all_inputs(source)
        assert norm(got) == norm(records), name
        assert total in (n, None)


def test_two_d_array_needs_columns_and_nan_in_columns_is_refused():
    from polycodec.hybrid.errors import HybridSdkError
    arr = np.arange(6.0).reshape(3, 2)
    with pytest.raises(HybridSdkError, match="columns="):
        make_source(arr, 2)
    _, src = make_source(arr, 2, columns=["p", "q"])
    assert _all_inputs(src) == [{"p": 0.0, "q": 1.0}, {"p": 2.0, "q": 3.0}, {"p": 4.0, "q": 5.0}]
    bad = {"p": np.array([1.0, np.nan]), "q": [1, 2]}
    with pytest.raises(EncodeError) as info:
        list(make_source(bad, 10)[1])
    assert info.value.path == "$.p[1]"
    _, src = make_source(bad, 10, nan="string")
    assert _all_inputs(src)[1]["p"] == "NaN"
    records = [{"a": 1.0}, {"a": float("inf")}]
    with pytest.raises(EncodeError) as info:
        list(make_source(records, 10)[1])
    assert info.value.path == "$.inputs[1].a"


def test_ragged_records_fall_back_to_records_form_and_bad_rows_are_named():
    from polycodec.hybrid.errors import HybridSdkError
    _, src = make_source([{"a": 1, "b": 2}, {"b": 3, "a": 4}], 10)
    (_, _, data), = list(src)
    assert json.loads(data) == [["a", "b"], [1, 2], [4, 3]]       # values put in header order
    for ragged in ([{"a": 1, "b": 2}, {"a": 3, "c": 4}], [{"a": 1}, {"a": 2, "b": 3}]):
        (_, _, data), = list(make_source(ragged, 10)[1])
        assert json.loads(data) == ragged                          # sent as records instead
    with pytest.raises(HybridSdkError, match="table row 2 has 1 values"):
        list(make_source([["a", "b"], [1, 2], [3]], 10)[1])
    with pytest.raises(HybridSdkError, match=r"inputs\[1\] is a int"):
        list(make_source([{"a": 1}, 5], 10)[1])
    with pytest.raises(HybridSdkError, match="different lengths"):
        make_source({"a": [1, 2], "b": [1]}, 10)


def test_v3_v4_meta_keys_follow_tables():
    from polycodec.hybrid import tables
    from polycodec.hybrid.uri import decode
    options = {k: "x" for _, k in tables.V3_META if not k.startswith("uri.")}
    options.update(compiler_type="type1", subservices=["a", "b"])
    meta = bodies.v3_meta(decode("f/s[1.0]"), options)
    assert list(meta) == [k for k, src in tables.V3_META if src != "uri.service_id"
                          and src != "uri.version_id"]
    assert meta["service_category"] == "a,b" and meta["compiler_type"] == "Type1"
    meta4 = bodies.v4_meta(decode("f/s[1.0]"), options)
    assert list(meta4) == [k for k, src in tables.V4_META if src != "uri.version_id"]
    assert meta4["service"] == "f/s[1.0]"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80) | st.text(alphabet="nul l,x", max_size=120).map(str.encode))
def test_has_null_agrees_with_a_plain_search(data):
    assert bodies.has_null(data) == (b"null" in data)
    # past the memchr hit limit the numpy search takes over; it must agree too
    busy = b"l" * 40 + data
    assert bodies.has_null(busy) == (b"null" in busy)


def test_null_from_nan_is_found_among_many_l_characters():
    recs = [{"label": "all", "level": 1.5} for _ in range(200)]
    recs[150]["level"] = float("nan")
    with pytest.raises(EncodeError) as info:
        list(make_source(recs, 1000)[1])
    assert info.value.path == "$.inputs[150].level"


@pytest.mark.parametrize("form", ["table", "records"])
def test_numeric_columns_stacked_or_zipped_give_the_reference_json(form):
    rng = np.random.default_rng(7)
    same = {f"f{i}": rng.random(9) * 10.0 ** rng.integers(-20, 20, 9) for i in range(3)}
    mixed = {"i": rng.integers(-2**62, 2**62, 9), **same, "b": rng.random(9) > 0.5}
    for cols in (same, mixed):
        records = [dict(zip(cols, row)) for row in zip(*(c.tolist() for c in cols.values()))]
        _, src = make_source(cols, 4, form)
        got = [ordered(data) for _, _, data in src]
        want = [ordered(stdlib([list(cols)] + [list(r.values()) for r in records[s:s + 4]]
                               if form == "table" else records[s:s + 4]))
                for s in range(0, 9, 4)]
        assert got == want                             # JSON-equal: same values, same types


def test_nan_in_a_later_column_batch_names_the_record_index():
    cols = {"a": np.arange(10.0), "b": [1.0] * 7 + [float("inf")] + [1.0] * 2}
    cols["a"][6] = np.nan
    with pytest.raises(EncodeError) as info:
        list(make_source(cols, 4)[1])
    assert info.value.path == "$.a[6]"                 # index in the input, not in the batch
    cols["a"][6] = 0.0
    with pytest.raises(EncodeError) as info:
        list(make_source(cols, 4)[1])
    assert info.value.path == "$.b[7]"
