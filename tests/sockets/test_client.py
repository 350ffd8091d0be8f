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
