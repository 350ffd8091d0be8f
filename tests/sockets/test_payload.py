"""Wire form: round trips model -> payload -> model, strings or native values, the documented forms."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from polycodec.sockets import (ClassDependency, CustomSocket, Endpoint, RuntimeChoices, Script, ScriptCall,
                               ScriptDependency, ScriptEndpoint, SocketValidationError,
                               from_payload, spec, to_body, to_payload, update_payload)

from .strategies import sockets, text_problems_only


@settings(max_examples=150, deadline=None)
@given(sockets())
def test_round_trip_payload_dict(socket):
    payload = to_payload(socket)
    for key in spec.STRING_ENCODED:  # double-encoded fields are strings on the wire
        if key in payload:
            assert isinstance(payload[key], str)
    back = from_payload(payload)
    assert back == socket
    assert back.problems() == socket.problems() and text_problems_only(back.problems())


@settings(max_examples=100, deadline=None)
@given(sockets())
def test_round_trip_wire_bytes_and_native(socket):
    assert from_payload(to_body(socket)) == socket
    assert from_payload(to_body(socket).decode()) == socket
    assert from_payload(socket.to_dict()) == socket  # native values, not strings
    assert to_body(from_payload(to_body(socket))) == to_body(socket)  # byte-stable


@settings(max_examples=50, deadline=None)
@given(sockets())
def test_update_payload_has_full_fields(socket):
    body = update_payload(socket)
    assert list(body) == list(spec.UPDATE_FIELDS)
    assert json.loads(body["endpoints"]) == socket.endpoints_data
    assert json.loads(body["dependencies"]) == socket.dependencies_data


def test_none_fields_left_out_and_description_plain():
    s = CustomSocket("a1", endpoints={"e": {"calls": [{"type": "script", "name": "d", "methods": ["GET"]}]}},
                     dependencies=[{"type": "script", "name": "d", "runtime_name": "python", "source": ""}])
    assert list(to_payload(s)) == ["name", "endpoints", "dependencies"]
    s.description = "plain text"
    assert to_payload(s)["description"] == "plain text"


def test_seed_object_vocabulary():
    """The steps of the Syncano documentation: endpoints with calls per method, three kinds of script dependency."""
    socket = CustomSocket(name="my_custom_socket")
    ep = Endpoint(name="my_endpoint")
    ep.add_call(ScriptCall(name="custom_script"), methods=["GET"])
    ep.add_call(ScriptCall(name="another_custom_script"), methods=["POST"])
    socket.add_endpoint(ep)
    socket.add_dependency(ScriptDependency(
        name="custom_script",
        script=Script(runtime_name=RuntimeChoices.PYTHON_V5_0, source='print("custom_script")')))
    existing = Script(id=2, runtime_name=RuntimeChoices.PYTHON, source="print(2)")
    socket.add_dependency(ScriptDependency(name="another_custom_script", script=existing))
    se = ScriptEndpoint(name="script_endpoint_name",
                        script=Script(id=7, runtime_name=RuntimeChoices.NODEJS, source="x"))
    socket.add_dependency(script_endpoint=se)
    assert socket.problems() == []
    deps = json.loads(to_payload(socket)["dependencies"])
    # all three shapes are the same script shape; no id travels
    assert [list(d) for d in deps] == [list(spec.SCRIPT_DEPENDENCY_KEYS)] * 3
    assert deps[1] == {"type": "script", "name": "another_custom_script",
                       "runtime_name": "python", "source": "print(2)"}
    assert deps[2]["name"] == "script_endpoint_name" and deps[2]["runtime_name"] == "nodejs"
    assert json.loads(to_payload(socket)["endpoints"]) == {"my_endpoint": {"calls": [
        {"type": "script", "name": "custom_script", "methods": ["GET"]},
        {"type": "script", "name": "another_custom_script", "methods": ["POST"]}]}}
    calls = json.loads(to_payload(socket)["endpoints"])["my_endpoint"]["calls"]
    assert [list(c) for c in calls] == [list(spec.CALL_KEYS)] * 2  # wire key order
    klass = ClassDependency("books", schema=[{"type": "string", "name": "title"}]).to_dict()
    assert list(klass) == list(spec.CLASS_DEPENDENCY_KEYS)
    assert [list(f) for f in klass["schema"]] == [list(spec.CLASS_FIELD_KEYS)]
    socket.remove_endpoint(endpoint_name="my_endpoint")
    socket.remove_dependency(dependency_name="custom_script")
    assert socket.endpoints == [] and [d.name for d in socket.dependencies] == [
        "another_custom_script", "script_endpoint_name"]
    with pytest.raises(KeyError):
        socket.remove_dependency(dependency_name="custom_script")


SEED_RAW = dict(
    name="my_custom_socket_3",
    endpoints={"my_endpoint_3": {"calls": [{"type": "script", "name": "my_script_3", "methods": ["POST"]}]}},
    dependencies=[{"type": "script", "runtime_name": "python_library_v5.0", "name": "my_script_3",
                   "source": "print(3)"}],
)


def test_seed_raw_constructor():
    s = CustomSocket(**SEED_RAW)
    assert s.problems() == []
    assert s.endpoints_data == SEED_RAW["endpoints"]
    assert s.dependencies_data == SEED_RAW["dependencies"]
    # the same from JSON strings
    s2 = CustomSocket(SEED_RAW["name"], endpoints=json.dumps(SEED_RAW["endpoints"]),
                      dependencies=json.dumps(SEED_RAW["dependencies"]))
    assert s2 == s


def test_spec_page_example_body_reads_back():
    body = ('{"name": "my_custom_socket", "endpoints": "{\\"my_endpoint\\": {\\"calls\\": [{\\"type\\": '
            '\\"script\\", \\"name\\": \\"script_one\\", \\"methods\\": [\\"GET\\", \\"POST\\"]}]}}", '
            '"dependencies": "[{\\"type\\": \\"script\\", \\"runtime_name\\": \\"python_library_v5.0\\", '
            '\\"name\\": \\"script_one\\", \\"source\\": \\"print(1)\\"}]"}')
    s = from_payload(body)
    assert s.get_endpoint("my_endpoint").allowed_methods() == ["GET", "POST"]
    assert s.dependencies[0].source == "print(1)"
    assert json.loads(to_body(s)) | {} == json.loads(body) | {
        "dependencies": to_payload(s)["dependencies"]}  # same fields; dependency keys reordered
    assert json.loads(json.loads(body)["dependencies"]) == s.dependencies_data


@pytest.mark.parametrize("body, path", [
    (b"{not json", "$"),
    (b"[1, 2]", "$"),
    ({"name": 5}, "$.name"),
    ({"name": "a1", "endpoints": "{oops"}, "$.endpoints"),
    ({"name": "a1", "endpoints": '{"e": {}, "e": {}}'}, "$.endpoints"),
    ({"name": "a1", "endpoints": []}, "$.endpoints"),
    ({"name": "a1", "endpoints": {"e": {"calls": "x"}}}, "$.endpoints['e'].calls"),
    ({"name": "a1", "endpoints": {"e": {"calls": [{"type": "class", "name": "x", "methods": []}]}}},
     "$.endpoints['e'].calls[0].type"),
    ({"name": "a1", "endpoints": {"e": {"calls": [{"type": "script", "name": 1, "methods": []}]}}},
     "$.endpoints['e'].calls[0].name"),
    ({"name": "a1", "dependencies": {"a": 1}}, "$.dependencies"),
    ({"name": "a1", "dependencies": [{"type": "zip"}]}, "$.dependencies[0].type"),
    ({"name": "a1", "dependencies": [{"type": "script", "name": "a", "runtime_name": "python",
                                      "source": 3}]}, "$.dependencies[0].source"),
    ({"name": "a1", "dependencies": [{"type": "class", "name": "c", "schema": [{"name": "f"}]}]},
     "$.dependencies[0].schema[0].type"),
])
def test_shape_problems_name_their_path(body, path):
    with pytest.raises(SocketValidationError) as err:
        from_payload(body)
    assert path in [p.path for p in err.value.problems], err.value.problems
