"""SocketsClient without a server: pagination stays on the client's host."""
from __future__ import annotations

import httpx
import pytest

from polycodec.sockets import SocketsClient, SocketsHTTPError


def _client(next_url, seen):
    def handler(request):
        seen.append((str(request.url), request.headers.get("authorization")))
        if "page=2" in str(request.url):
            return httpx.Response(200, json={"objects": [], "next": None, "prev": None})
        return httpx.Response(200, json={"objects": [], "next": next_url, "prev": None})
    return SocketsClient("https://api.example.org", "inst", api_key="SECRET",
                         transport=httpx.MockTransport(handler))


@pytest.mark.parametrize("next_url", [
    "https://evil.example.net/v1.1/instances/inst/sockets/?page=2",
    "http://api.example.org/v1.1/instances/inst/sockets/?page=2",       # scheme differs
    "https://api.example.org:8443/v1.1/instances/inst/sockets/?page=2",  # port differs
    "//evil.example.net/v1.1/instances/inst/sockets/?page=2",           # scheme-relative
])
def test_next_on_another_origin_is_refused(next_url):
    seen = []
    with _client(next_url, seen) as c, pytest.raises(SocketsHTTPError) as err:
        c.list()
    assert "not followed" in err.value.detail
    assert all(url.startswith("https://api.example.org/") for url, _ in seen)


@pytest.mark.parametrize("next_url", [
    "/v1.1/instances/inst/sockets/?page=2",
    "https://api.example.org/v1.1/instances/inst/sockets/?page=2",
    "https://API.example.org:443/v1.1/instances/inst/sockets/?page=2",
])
def test_next_on_the_same_origin_is_followed(next_url):
    seen = []
    with _client(next_url, seen) as c:
        assert c.list() == []
    assert len(seen) == 2 and seen[1][1] == "token SECRET" and "page=2" in seen[1][0]


# --- JSON: orjson for the bodies, the stdlib where syncano's bytes must be kept -------------
def _recording(answer=b'{"ok": true}', content_type="application/json"):
    sent = []

    def handler(request):
        sent.append(request.content)
        return httpx.Response(200, content=answer, headers={"content-type": content_type})
    return sent, SocketsClient("https://api.example.org", "inst", api_key="K",
                               transport=httpx.MockTransport(handler), check=False)


def test_run_data_goes_out_through_orjson():
    import orjson

    sent, c = _recording()
    data = {"a": [1, 2.5, "é"], "b": {"c": None}}
    assert c.run("s", "e", "POST", data, allowed_methods=["POST"]) == {"ok": True}
    assert sent == [orjson.dumps(data)]          # compact, UTF-8: not json.dumps' bytes


@pytest.mark.parametrize("data, wire", [
    ({"x": float("nan")}, b'{"x": NaN}'),        # orjson would write null: the stdlib keeps it
    ({"x": 2 ** 70}, b'{"x": 1180591620717411303424}'),
    ({1: "a"}, b'{"1": "a"}'),
    ({"x": "\ud800"}, b'{"x": "\\ud800"}'),
])
def test_values_orjson_would_change_keep_the_stdlib_form(data, wire):
    sent, c = _recording()
    c.run("s", "e", "PUT", data, allowed_methods=["*"])
    assert sent == [wire]


def test_create_body_stays_the_library_bytes():
    from polycodec.sockets import CustomSocket, to_body

    socket = CustomSocket("s", description="café", endpoints={"e": {"calls": [
        {"type": "script", "name": "d", "methods": ["GET"]}]}},
        dependencies=[{"type": "script", "name": "d", "runtime_name": "python",
                       "source": "print('é')"}])
    sent, c = _recording(b'{"name": "s"}')
    c.create(socket)
    assert sent == [to_body(socket)] and b'"caf\\u00e9"' in sent[0] and b'", "' in sent[0]


def test_answers_orjson_cannot_read_fall_back_to_the_stdlib():
    _, c = _recording(b'{"x": NaN, "s": "\\ud800"}')
    got = c.run("s", "e", "GET", allowed_methods=["GET"])
    assert got["s"] == "\ud800" and got["x"] != got["x"]
