"""The client against the emulator process, end to end; bad input always gets a 4xx."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from polycodec.sockets import (CustomSocket, Endpoint, MethodNotAllowedError, ScriptCall,
                               ScriptDependency, SocketsClient, SocketsHTTPError,
                               SocketValidationError, spec)
from polycodec.sockets.emulator import Config, Emulator, make_server
from polycodec.sockets.emulator.scripts import max_file_size
from polycodec.sockets.emulator.store import Store
from polycodec.sockets.emulator.testing import API_KEY, emulator_process

from .strategies import sockets, text_problems_only, texts

pytestmark = pytest.mark.slow

ECHO = "import json\nprint(json.dumps({'args': ARGS, 'method': META['method']}))"
RESPOND = ("set_response(HttpResponse(status_code=201, content=json.dumps({'sum': ARGS['a'] + ARGS['b']}),"
           " content_type='application/json'))")


def make_socket(name="calc", runtime="python_library_v5.0"):
    s = CustomSocket(name=name)
    s.add_endpoint(Endpoint("echo").add_call(ScriptCall("echo"), methods=["GET", "POST"])
                   .add_call(ScriptCall("add"), methods=["PUT"]))
    s.add_endpoint(Endpoint("any").add_call(ScriptCall("echo"), methods=["*"]))
    s.add_dependency(ScriptDependency(name="echo", runtime_name=runtime, source=ECHO))
    s.add_dependency(ScriptDependency(name="add", runtime_name=runtime, source="import json\n" + RESPOND))
    return s


def test_create_get_list_update_delete(client):
    created = client.create(make_socket())
    assert created.status == spec.STATUS_OK and created.name == "calc"
    assert created.endpoints_data == make_socket().endpoints_data
    assert client.get("calc") == created
    for i in range(5):  # more than a page (the fixture's page size is 3)
        client.create(make_socket(f"more{i}"))
    names = [s.name for s in client.list()]
    assert sorted(names) == sorted(["calc"] + [f"more{i}" for i in range(5)])
    s = client.get("calc")
    s.remove_endpoint("any")
    s.add_endpoint(Endpoint("new").add_call(ScriptCall("echo"), methods=["DELETE"]))
    updated = client.update(s)
    assert [e.name for e in updated.endpoints] == ["echo", "new"]
    assert [e.name for e in client.list_endpoints("calc")] == ["calc/echo", "calc/new"]
    assert client.recheck("calc").status == spec.STATUS_OK
    client.delete("calc")
    with pytest.raises(SocketsHTTPError) as err:
        client.get("calc")
    assert err.value.status_code == 404
    assert all(e.socket != "calc" for e in client.list_endpoints())


def test_raw_format_create_and_user_auth(sockets_emulator, instance):
    with SocketsClient(sockets_emulator, instance, api_key=API_KEY, user_key="u1") as c:
        s = c.create(name="raw3", endpoints={"e3": {"calls": [{"type": "script", "name": "s3", "methods": ["POST"]}]}},
                     dependencies=[{"type": "script", "runtime_name": "python", "name": "s3", "source": ECHO}])
        assert s.status == spec.STATUS_OK
        assert c.run("raw3", "e3", "POST", {"x": 1})["result"]["stdout"].strip() == json.dumps(
            {"args": {"x": 1}, "method": "POST"})
    with SocketsClient(sockets_emulator, instance, api_key="wrong") as c:
        with pytest.raises(SocketsHTTPError) as err:
            c.list()
    assert err.value.status_code == 403


def test_run_paths(client):
    client.create(make_socket())
    out = client.run("calc", "echo", "GET")
    assert out["status"] == "success" and json.loads(out["result"]["stdout"]) == {"args": {}, "method": "GET"}
    out = client.run("calc", "echo", "POST", {"k": [1, 2]})
    assert json.loads(out["result"]["stdout"]) == {"args": {"k": [1, 2]}, "method": "POST"}
    assert client.run("calc", "echo", "PUT", {"a": 2, "b": 3}) == {"sum": 5}  # set_response, as is
    for m in spec.METHODS:  # ["*"] accepts every method
        assert client.run("calc", "any", m)["status"] == "success"
    with pytest.raises(MethodNotAllowedError):  # checked before running anything
        client.run("calc", "echo", "DELETE")
    with pytest.raises(MethodNotAllowedError):
        client.run("calc", "echo", "get")
    # the server checks too
    with pytest.raises(SocketsHTTPError) as err:
        client.run("calc", "echo", "DELETE", allowed_methods=["DELETE"])
    assert err.value.status_code == 405


def test_script_failure_timeout_and_other_runtime(client):
    s = CustomSocket("edge")
    for name, src in [("boom", "raise ValueError('nope')"), ("slow", "import time\ntime.sleep(30)"),
                      ("loud", "print('x' * 5_000_000)")]:
        s.add_endpoint(Endpoint(name).add_call(ScriptCall(name), methods=["GET"]))
        s.add_dependency(ScriptDependency(name=name, runtime_name="python", source=src))
    s.add_endpoint(Endpoint("js").add_call(ScriptCall("js"), methods=["GET"]))
    s.add_dependency(ScriptDependency(name="js", runtime_name="nodejs_library_v1.0", source="1"))
    client.create(s)
    with pytest.raises(SocketsHTTPError) as err:
        client.run("edge", "boom", "GET")
    assert err.value.status_code == 400 and "ValueError: nope" in err.value.detail
    with pytest.raises(SocketsHTTPError) as err:
        client.run("edge", "slow", "GET")
    assert err.value.status_code == 408 and "time limit" in err.value.detail
    out = client.run("edge", "loud", "GET")["result"]["stdout"]
    assert len(out) < spec.DEFAULT_MAX_SCRIPT_OUTPUT + 100 and out.endswith("[output truncated]")
    with pytest.raises(SocketsHTTPError) as err:
        client.run("edge", "js", "GET")
    assert err.value.status_code == 501 and "not available here" in err.value.detail


def test_raw_fd_writes_are_capped_on_disk(client):
    big = 4 * max_file_size(spec.DEFAULT_MAX_SCRIPT_OUTPUT)
    s = CustomSocket("disk")
    s.add_endpoint(Endpoint("w").add_call(ScriptCall("w"), methods=["GET"]))
    s.add_dependency(ScriptDependency(name="w", runtime_name="python", source=(
        f"import os\nfor _ in range({big // 2**20}):\n    os.write(1, b'x' * 2**20)")))
    client.create(s)
    with pytest.raises(SocketsHTTPError) as err:
        client.run("disk", "w", "GET")
    assert err.value.status_code == 400 and "File too large" in err.value.detail


def test_status_error_when_endpoint_name_taken(client):
    a = CustomSocket("aa", endpoints={"bb/cc": {"calls": [{"type": "script", "name": "d", "methods": ["GET"]}]}},
                     dependencies=[{"type": "script", "name": "d", "runtime_name": "python", "source": ""}])
    b = CustomSocket("aa/bb", endpoints={"cc": {"calls": [{"type": "script", "name": "d", "methods": ["GET"]}]}},
                     dependencies=[{"type": "script", "name": "d", "runtime_name": "python", "source": ""}])
    assert client.create(a).status == spec.STATUS_OK
    made = client.create(b)
    assert made.status == spec.STATUS_ERROR and "already taken" in json.dumps(made.status_info)
    client.delete("aa")
    assert client.recheck("aa/bb").status == spec.STATUS_OK  # conditions met now
    assert client.get_endpoint("aa/bb", "cc").allowed_methods == ["GET"]


def test_concurrent_creates_with_colliding_endpoints_are_atomic():
    class SlowStore(Store):  # widens the window between the collision check and the writes
        def taken(self, instance):
            found = super().taken(instance)
            time.sleep(0.3)
            return found

    app = Emulator(SlowStore(), Config())
    bodies = [CustomSocket(name, endpoints={ep: {"calls": [{"type": "script", "name": "d",
                                                            "methods": ["GET"]}]}},
                           dependencies=[{"type": "script", "name": "d", "runtime_name": "python",
                                          "source": ""}]).to_payload()
              for name, ep in (("aa", "bb/cc"), ("aa/bb", "cc"))]  # both "aa/bb/cc"
    results, errors = [], []

    def create(body):
        try:
            results.append(app.create("i", body))
        except Exception as e:  # noqa: BLE001 - recorded: the test fails on any
            errors.append(e)

    threads = [threading.Thread(target=create, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    app.store.close()
    assert errors == []
    assert sorted(obj["status"] for _, obj in results) == [spec.STATUS_ERROR, spec.STATUS_OK]


def test_validation_errors_come_back_with_paths(client):
    bad = make_socket(name="Bad")
    bad.endpoints[0].calls[0].methods = ["get"]
    with pytest.raises(SocketValidationError):
        client.create(bad)  # local check first
    raw = SocketsClient(client.host, client.instance, api_key=API_KEY, check=False)
    with pytest.raises(SocketsHTTPError) as err:
        raw.create(bad)
    assert err.value.status_code == 400
    paths = {e["path"] for e in err.value.body["errors"]}
    assert {"$.name", "$.endpoints['echo'].calls[0].methods[0]"} <= paths
    client.create(make_socket())
    with pytest.raises(SocketsHTTPError) as err:
        raw.create(make_socket())
    assert err.value.status_code == 400 and "already exists" in err.value.detail


class _Doc(BaseHTTPRequestHandler):
    doc = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.doc)))
        self.end_headers()
        self.wfile.write(self.doc)

    def log_message(self, *a):
        pass


def test_install_from_url(client):
    doc = make_socket().to_dict()
    doc["config"] = {"token": {"required": True}}
    _Doc.doc = json.dumps(doc).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Doc)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = "http://127.0.0.1:%d/socket.json" % server.server_address[1]
        assert client.install_from_url("inst1", url).status == spec.STATUS_PROMPT
        ok = client.install_from_url("inst2", url, config={"token": "t"})
        assert ok.status == spec.STATUS_OK and ok.config == {"token": "t"}
        assert client.run("inst2", "echo", "GET")["status"] == "success"
    finally:
        server.shutdown()
        server.server_close()
        t.join()
    gone = client.install_from_url("inst4", url)  # server stopped: kept with status error
    assert gone.status == spec.STATUS_ERROR and "could not fetch" in str(gone.status_info)
    with pytest.raises(SocketsHTTPError) as err:
        client.install_from_url("inst5", "http://example.invalid/x.json")
    assert err.value.status_code == 400 and "not allowed" in err.value.detail


def test_statuses_answered_are_documented(client):
    client.create(make_socket())
    # "error": an endpoint name another socket already registered
    for name, ep in (("aa", "bb/cc"), ("aa/bb", "cc")):  # both "aa/bb/cc"
        client.create(name=name, endpoints={ep: {"calls": [{"type": "script", "name": "d",
                                                            "methods": ["GET"]}]}},
                      dependencies=[{"type": "script", "name": "d", "runtime_name": "python",
                                     "source": ""}])
    # "prompt": an installed socket whose required config was not given
    doc = make_socket().to_dict()
    doc["config"] = {"token": {"required": True}}
    _Doc.doc = json.dumps(doc).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Doc)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        client.install_from_url("inst", "http://127.0.0.1:%d/s.json" % server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        t.join()
    seen = {s.status for s in client.list()} | {client.recheck(n).status
                                                for n in ("calc", "aa/bb", "inst")}
    assert {spec.STATUS_OK, spec.STATUS_ERROR, spec.STATUS_PROMPT} <= seen <= set(spec.STATUSES)


@pytest.mark.parametrize("route", sorted(spec.ROUTE_METHODS))
def test_router_answers_the_methods_of_the_table(client, sockets_emulator, instance, route):
    client.create(make_socket())
    path = spec.ROUTES[route].format(i=instance, s="calc", e="echo")
    auth = {"Authorization": f"token {API_KEY}"}
    allowed = spec.ROUTE_METHODS[route]
    for method in sorted(set(spec.METHODS) - set(allowed)):
        r = httpx.request(method, sockets_emulator + path, headers=auth)
        assert r.status_code == 405, (method, r.text)
        assert r.headers["allow"] == ", ".join(allowed)
    if route == "run":
        return  # the run route checks methods against the endpoint's calls instead
    safe = "GET" if "GET" in allowed else allowed[0]
    r = httpx.request(safe, sockets_emulator + path, headers=auth)
    assert r.status_code != 405, (safe, r.text)


# --- bad input: always a 4xx with a message, never a 500 or a dropped connection ------------
@pytest.fixture
def raw(sockets_emulator, instance):
    with httpx.Client(base_url=sockets_emulator,
                      headers={"Authorization": f"token {API_KEY}"}) as c:
        yield c, spec.ROUTES["sockets"].format(i=instance)


def _raw_request(base_url, text):
    """Send bytes httpx would refuse to send; return (status, response text)."""
    import socket
    with socket.create_connection((base_url.host, base_url.port), timeout=10) as sock:
        sock.sendall(text.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head = data.decode("utf-8", "replace")
    return int(head.split(" ", 2)[1]), head


def _assert_4xx(resp):
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
    assert resp.json()["detail"]


@pytest.mark.parametrize("body", [
    b"{not json", b"", b"null", b"[]", b"\xff\xfe", b'{"name": 1}', b'{"name": "a1", "endpoints": 5}',
    b'{"name": "a1", "endpoints": "{\\"e\\": 1}", "dependencies": "[1]"}', b"[" * 100000,
    b'{"name": "a1", "description": ["x"]}', b'{"name": "a1", "metadata": "{bad"}',
])
def test_bad_bodies(raw, body):
    c, path = raw
    _assert_4xx(c.post(path, content=body, headers={"Content-Type": "application/json"}))


@pytest.mark.parametrize("field,value,path", [
    ("description", "\ud800", "$.description"),
    ("endpoints", {"\ud800": {"calls": [{"type": "script", "name": "d", "methods": ["GET"]}]}},
     "$.endpoints['\\ud800']"),
    ("dependencies", [{"type": "script", "name": "d", "runtime_name": "python",
                       "source": "x = '\udfff'"}], "$.dependencies[0].source"),
    ("metadata", {"k": ["\udc00"]}, "$.metadata['k'][0]"),
])
def test_lone_surrogates_are_a_400_with_the_path(raw, field, value, path):
    c, route = raw
    body = {"name": "sur", "endpoints": {"e": {"calls": [{"type": "script", "name": "d",
                                                          "methods": ["GET"]}]}},
            "dependencies": [{"type": "script", "name": "d", "runtime_name": "python",
                              "source": ""}]}
    body[field] = value
    for encoded in (False, True):  # native, and string-encoded as the library sends it
        sent = {k: json.dumps(v) if encoded and k in spec.STRING_ENCODED else v
                for k, v in body.items()}
        r = c.post(route, content=json.dumps(sent).encode())  # ASCII escapes: valid JSON
        assert r.status_code == 400, r.text
        assert path in [e["path"] for e in r.json()["errors"]], r.text
        assert "no UTF-8 form" in r.text
    assert c.get(route).status_code == 200


def test_oversized_and_odd_requests(raw, instance):
    c, path = raw
    r = c.post(path, content=b"{" + b" " * (spec.DEFAULT_MAX_BODY + 10) + b"}")
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    r = c.post(path, content=iter([b'{"name"', b': "x"}']))  # chunked
    assert r.status_code == 411
    status, text = _raw_request(c.base_url, f"POST {path} HTTP/1.1\r\nHost: x\r\n"
                                f"Authorization: token {API_KEY}\r\nContent-Length: abc\r\n\r\n{{}}")
    assert status == 400 and "Content-Length" in text
    _assert_4xx(c.get("/v1.1/nothing"))
    _assert_4xx(c.put(path, content=b"{}"))
    _assert_4xx(c.get(path + "?page_size=x"))
    _assert_4xx(c.get(path + "?page_size=0"))
    _assert_4xx(c.get(path + "missing/"))
    _assert_4xx(c.patch(path + "missing/", content=b"{}"))
    _assert_4xx(c.post(path.replace("sockets/", "sockets/install/"), content=b'{"name": 3, "config": "x"}'))
    _assert_4xx(c.get(path.replace("sockets/", "endpoints/sockets/nope/e/")))
    _assert_4xx(httpx.get(c.base_url.join(path)))  # no credentials: 401
    assert c.get(path).status_code == 200  # the server is still fine


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                              texts(max_size=10)),
                    lambda c: st.one_of(st.lists(c, max_size=3),
                                        st.dictionaries(st.sampled_from(
                                            ["name", "endpoints", "dependencies", "calls", "type",
                                             "methods", "runtime_name", "source", "schema", "e"]),
                                            c, max_size=4)), max_leaves=12))
def test_fuzzed_bodies_never_500(raw, body):
    c, path = raw
    r = c.post(path, content=json.dumps(body).encode())
    assert r.status_code < 500, r.text
    assert r.status_code in (201, 400) and (r.status_code == 201 or r.json()["detail"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sockets())
def test_generated_sockets_round_trip_through_emulator(client, socket):
    found = socket.problems()
    if found:  # text with no UTF-8 form: refused by the server too, with the same paths
        assert text_problems_only(found)
        with SocketsClient(client.host, client.instance, api_key=API_KEY, check=False) as raw:
            with pytest.raises(SocketsHTTPError) as err:
                raw.create(socket)
        assert err.value.status_code == 400
        assert {e["path"] for e in err.value.body["errors"]} == {p.path for p in found}
        return
    made = client.create(socket)
    try:
        assert made.to_dict() == socket.to_dict()
        assert client.get(socket.name).to_dict() == socket.to_dict()
    finally:
        client.delete(socket.name)


def test_emulator_binds_loopback_by_default():
    with emulator_process(host=None) as url:  # the CLI without --host
        assert url.startswith("http://127.0.0.1:")
    assert make_server.__defaults__[0] == "127.0.0.1"


# --- HTTP plumbing (polycodec._jsonhttp) ---------------------------------------------------------
def _raw_exchange(url, data, *, shut=True, timeout=15):
    """Send raw bytes; return everything the server answers until it closes."""
    import socket
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _status_and_json(answer):
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), (json.loads(body) if body else None)


# headers are read as latin-1: "\u00b2" (sent as the byte b"\xb2") is a digit to str.isdigit()
@pytest.mark.parametrize("length", ["\u00b2", "1\u00b9", "+5", "5 5", "0x10", "-1", "2_0"])
def test_content_length_is_ascii_digits_only(sockets_emulator, instance, length):
    path = spec.ROUTES["sockets"].format(i=instance)
    answer = _raw_exchange(sockets_emulator, (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: token {API_KEY}\r\n"
        f"Content-Length: {length}\r\n\r\n{{}}").encode("latin-1"))
    status, body = _status_and_json(answer)
    assert status == 400 and "Content-Length" in body["detail"], answer


def test_garbled_requests_and_other_methods_get_json_4xx(sockets_emulator, instance):
    status, body = _status_and_json(_raw_exchange(sockets_emulator, b"GARBAGE\r\n\r\n"))
    assert status == 400 and body["detail"]
    path = sockets_emulator + spec.ROUTES["sockets"].format(i=instance)
    auth = {"Authorization": f"token {API_KEY}"}
    for method in ("OPTIONS", "BREW"):
        r = httpx.request(method, path, headers=auth)
        assert r.status_code == 405 and r.json()["detail"], (method, r.text)
    r = httpx.head(path, headers=auth)
    assert r.status_code == 405 and r.headers["content-type"] == "application/json"


def test_short_body_is_a_400_not_parsed(sockets_emulator, instance):
    path = spec.ROUTES["sockets"].format(i=instance)
    answer = _raw_exchange(sockets_emulator, (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: token {API_KEY}\r\n"
        f"Content-Length: 100\r\n\r\n{{}}").encode())
    status, body = _status_and_json(answer)
    assert status == 400 and "ended after 2 of 100 bytes" in body["detail"], answer


def test_silent_client_is_timed_out():
    with emulator_process("--read-timeout", "1") as url:
        path = spec.ROUTES["sockets"].format(i="t")
        t0 = time.monotonic()
        answer = _raw_exchange(url, (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: token {API_KEY}\r\n"
            f"Content-Length: 10\r\n\r\n").encode(), shut=False, timeout=10)
        assert time.monotonic() - t0 < 8
        status, body = _status_and_json(answer)
        assert status == 408 and "did not arrive" in body["detail"]
        assert httpx.get(url + path, headers={"Authorization": f"token {API_KEY}"}).status_code == 200


@pytest.mark.parametrize("response,words", [
    ("status_code=200, headers={'X-Note': 'caf\\u00e9 \\u20ac'}", "latin-1"),
    ("status_code=1000", "100..599"),
    ("status_code=42", "100..599"),
    ("status_code=200, headers={'X-Bad': 'a\\r\\nSet-Cookie: x=1'}", "cannot be sent"),
])
def test_bad_script_response_is_one_clean_answer(client, sockets_emulator, instance, response,
                                                 words):
    s = CustomSocket("resp")
    s.add_endpoint(Endpoint("r").add_call(ScriptCall("r"), methods=["GET"]))
    s.add_dependency(ScriptDependency(name="r", runtime_name="python",
                                      source=f"set_response(HttpResponse({response}, content='x'))"))
    client.create(s)
    answer = _raw_exchange(sockets_emulator, (
        f"GET {spec.ROUTES['run'].format(i=instance, s='resp', e='r')} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: token {API_KEY}\r\nConnection: close\r\n\r\n").encode())
    assert answer.count(b"HTTP/1.1 ") == 1, answer  # one status line, never a second one
    status, body = _status_and_json(answer)
    assert status == 400 and body["status"] == "failure" and words in body["detail"], answer
