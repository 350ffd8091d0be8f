"""One case per validation rule (each names its path), and all problems reported at once."""
from __future__ import annotations

import copy

import pytest

from polycodec.sockets import CustomSocket, Endpoint, ScriptCall, SocketValidationError, spec
from polycodec.sockets.validate import endpoint_collisions

GOOD = {
    "name": "good_socket",
    "endpoints": {"ep": {"calls": [{"type": "script", "name": "s1", "methods": ["GET", "POST"]},
                                   {"type": "script", "name": "s2", "methods": ["DELETE"]}]}},
    "dependencies": [
        {"type": "script", "name": "s1", "runtime_name": spec.RUNTIME_NAMES[0], "source": "print(1)"},
        {"type": "script", "name": "s2", "runtime_name": spec.RUNTIME_NAMES[-1], "source": "x"},
        {"type": "class", "name": "books", "schema": [{"name": "title", "type": "string"}]},
    ],
}


def build(**changes):
    raw = copy.deepcopy(GOOD)
    for key, value in changes.items():
        raw[key] = value
    return CustomSocket(**raw)


def call(name="s1", methods=("GET",)):
    return {"type": "script", "name": name, "methods": list(methods)}


def test_good_socket_has_no_problem():
    assert build().problems() == []
    build().validate()


def test_every_runtime_and_method_is_accepted():
    for rt in spec.RUNTIME_NAMES:
        deps = [dict(GOOD["dependencies"][0], runtime_name=rt), GOOD["dependencies"][1]]
        assert build(dependencies=deps).problems() == []
    for m in spec.METHODS:
        assert build(endpoints={"e": {"calls": [call(methods=[m])]}}).problems() == []
    assert build(endpoints={"e": {"calls": [call(methods=[spec.WILDCARD])]}}).problems() == []


LONG = "a" * (spec.SOCKET_NAME_MAX + 1)
CASES = [
    # (rule, changes, path, message fragment)
    ("name required", {"name": None}, "$.name", "required"),
    ("name empty", {"name": ""}, "$.name", "required"),
    ("name too long", {"name": LONG}, "$.name", f"at most {spec.SOCKET_NAME_MAX}"),
    ("name uppercase", {"name": "Bad"}, "$.name", "must match"),
    ("name starts with digit", {"name": "1abc"}, "$.name", "must match"),
    ("name ends with dash", {"name": "abc-"}, "$.name", "must match"),
    ("name one char", {"name": "a"}, "$.name", "must match"),
    ("name reserved", {"name": spec.SOCKET_NAME_RESERVED[0]}, "$.name", "reserved"),
    ("no endpoint", {"endpoints": {}}, "$.endpoints", "at least one endpoint"),
    ("no dependency", {"dependencies": [], "endpoints": {}}, "$.dependencies", "at least one dependency"),
    ("endpoint without calls", {"endpoints": {"e": {"calls": []}}}, "$.endpoints['e'].calls", "at least one call"),
    ("method lowercase", {"endpoints": {"e": {"calls": [call(methods=["get"])]}}},
     "$.endpoints['e'].calls[0].methods[0]", "case-sensitive"),
    ("method unknown", {"endpoints": {"e": {"calls": [call(methods=["HEAD"])]}}},
     "$.endpoints['e'].calls[0].methods[0]", "not one of"),
    ("wildcard not alone", {"endpoints": {"e": {"calls": [call(methods=["*", "GET"])]}}},
     "$.endpoints['e'].calls[0].methods", "only method"),
    ("methods empty", {"endpoints": {"e": {"calls": [call(methods=[])]}}},
     "$.endpoints['e'].calls[0].methods", "empty"),
    ("method twice in a call", {"endpoints": {"e": {"calls": [call(methods=["GET", "GET"])]}}},
     "$.endpoints['e'].calls[0].methods[1]", "twice"),
    ("method handled by two calls", {"endpoints": {"e": {"calls": [call(methods=["GET"]),
                                                                  call("s2", ["*"])]}}},
     "$.endpoints['e'].calls[1].methods", "already handled"),
    ("call names no dependency", {"endpoints": {"e": {"calls": [call("missing")]}}},
     "$.endpoints['e'].calls[0].name", "not a dependency"),
    ("call names a class", {"endpoints": {"e": {"calls": [call("books")]}}},
     "$.endpoints['e'].calls[0].name", "class dependency"),
    ("call name empty", {"endpoints": {"e": {"calls": [call("")]}}},
     "$.endpoints['e'].calls[0].name", "must name a dependency"),
    ("runtime unknown", {"dependencies": [dict(GOOD["dependencies"][0], runtime_name="cobol"),
                                          GOOD["dependencies"][1]]},
     "$.dependencies[0].runtime_name", "unknown runtime"),
    ("endpoint name empty", {"endpoints": {"": {"calls": [call()]}}}, "$.endpoints['']", "non-empty"),
    ("endpoint name too long", {"endpoints": {"e" * 257: {"calls": [call()]}}},
     f"$.endpoints[{'e' * 257!r}]", f"at most {spec.ENDPOINT_NAME_MAX}"),
    ("endpoint ends /history", {"endpoints": {"x/history": {"calls": [call()]}}},
     "$.endpoints['x/history']", "/history"),
    ("endpoint ends /traces", {"endpoints": {"x/traces": {"calls": [call()]}}},
     "$.endpoints['x/traces']", "/traces"),
    ("duplicate dependency", {"dependencies": GOOD["dependencies"] + [GOOD["dependencies"][0]]},
     "$.dependencies[3].name", "duplicate dependency"),
    ("class field duplicate", {"dependencies": GOOD["dependencies"][:2] + [
        {"type": "class", "name": "c", "schema": [{"name": "f", "type": "string"}] * 2}]},
     "$.dependencies[2].schema[1].name", "duplicate field"),
    ("class field type empty", {"dependencies": GOOD["dependencies"][:2] + [
        {"type": "class", "name": "c", "schema": [{"name": "f", "type": ""}]}]},
     "$.dependencies[2].schema[0].type", "non-empty"),
]


@pytest.mark.parametrize("rule, changes, path, fragment", CASES, ids=[c[0] for c in CASES])
def test_rule(rule, changes, path, fragment):
    socket = build(**changes)
    found = socket.problems()
    assert any(p.path == path and fragment in p.message for p in found), found
    with pytest.raises(SocketValidationError) as err:
        socket.validate()
    assert path in str(err.value)


def test_duplicate_endpoint_names_from_models():
    s = build()
    s.add_endpoint(Endpoint("ep").add_call(ScriptCall("s1"), methods=["PUT"]))
    assert any("duplicate endpoint" in p.message for p in s.problems())


def test_wrong_types_in_models_are_problems_not_crashes():
    s = CustomSocket(name=5, description=3)
    s.add_endpoint(Endpoint(None).add_call(ScriptCall(name=None), methods="GET"))
    s.add_dependency("not a dependency")
    paths = {p.path for p in s.problems()}
    assert {"$.name", "$.description", "$.dependencies[0]", "$.endpoints[None]",
            "$.endpoints[None].calls[0].name", "$.endpoints[None].calls[0].methods"} <= paths


def test_all_problems_reported_at_once():
    s = build(name="Bad!", endpoints={"x/traces": {"calls": [call("nope", ["get", "*"])]}},
              dependencies=[dict(GOOD["dependencies"][0], runtime_name="cobol")])
    with pytest.raises(SocketValidationError) as err:
        s.validate()
    paths = [p.path for p in err.value.problems]
    assert len(paths) >= 6
    for expected in ("$.name", "$.dependencies[0].runtime_name", "$.endpoints['x/traces']",
                     "$.endpoints['x/traces'].calls[0].name",
                     "$.endpoints['x/traces'].calls[0].methods",
                     "$.endpoints['x/traces'].calls[0].methods[0]"):
        assert expected in paths


def test_global_endpoint_uniqueness_rule():
    # socket "a" endpoint "b/c" and socket "a/b" endpoint "c" share the full name "a/b/c"
    found = endpoint_collisions("a/b", ["c", "d"], {"a/b/c": "a"})
    assert [p.path for p in found] == ["$.endpoints['c']"] and "taken by socket 'a'" in found[0].message
    assert endpoint_collisions("a", ["b/c"], {"a/b/c": "a"}) == []  # its own endpoint
