"""SocketsClient: the custom-socket routes (docs/wire-sockets.md) over httpx.

Unlike the `syncano` library it validates locally before sending, follows every page of a
listing, filters endpoint listings to one socket when asked, and checks a run's method against
the endpoint's calls before running it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, List
from urllib.parse import quote, urljoin, urlsplit

import httpx

from .._urls import http_url_problem
from ..errors import require_bool
from . import spec
from .errors import MethodNotAllowedError, SocketsHTTPError
from .models import CustomSocket, SocketEndpoint, from_payload
from .payload import dumps, dumps_body, loads_body, to_body, update_payload

DEFAULT_TIMEOUT = 30.0
MAX_PAGES = 10_000  # a guard against a server whose `next` never ends


def _seg(value):
    """One path segment; '/' is kept, since socket and endpoint names may contain it."""
    return quote(str(value), safe="/-_.~")


class SocketsClient:
    """``SocketsClient(host, instance, api_key=...)`` (admin or instance key: ``Authorization:
    token``) or ``SocketsClient(host, instance, api_key=..., user_key=...)`` (user auth:
    ``X-API-KEY`` + ``X-USER-KEY``). `transport`/`timeout` go to httpx.
    """

    def __init__(self, host: str, instance: str, api_key: str | None = None,
                 user_key: str | None = None, *,
                 timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None, check: bool = True) -> None:
        if not api_key:
            raise ValueError("api_key is required (with user_key for user auth)")
        problem = http_url_problem(host)
        if problem:
            raise ValueError(f"host {problem}")
        self.host = host.strip().rstrip("/") + "/"
        self.instance = instance
        self.check = require_bool("check", check)  # validate sockets locally before create/update
        if user_key:
            headers = {spec.API_KEY_HEADER: api_key, spec.USER_KEY_HEADER: user_key}
        else:
            headers = {spec.AUTH_HEADER: f"{spec.AUTH_SCHEME} {api_key}"}
        self._http = httpx.Client(base_url=self.host, headers=headers, timeout=timeout,
                                  transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SocketsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing
    def route(self, name: str, socket: str | None = None, endpoint: str | None = None) -> str:
        return spec.ROUTES[name].format(i=_seg(self.instance), s=_seg(socket), e=_seg(endpoint))

    def _request(self, method, path, *, content=None, json_body=None):
        kwargs = {}
        if content is not None:
            kwargs["content"] = content
            kwargs["headers"] = {"Content-Type": "application/json"}
        elif json_body is not None:
            kwargs["content"] = dumps_body(json_body)
            kwargs["headers"] = {"Content-Type": "application/json"}
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:   # refused, timed out, reset: no answer at all
            url = urljoin(self.host, path)
            raise SocketsHTTPError(None, method, url, {
                "detail": f"{type(exc).__name__}: {exc or 'no detail'}"}) from exc
        body = _parse(resp)
        if resp.status_code >= 400:
            raise SocketsHTTPError(resp.status_code, method, str(resp.url), body)
        return body

    def _pages(self, path):
        """Every object of a paginated listing (`objects` + `next`)."""
        items = []
        for _ in range(MAX_PAGES):
            page = self._request("GET", path)
            if not isinstance(page, dict) or not isinstance(page.get("objects"), list):
                raise SocketsHTTPError(200, "GET", path, {"detail": "not a listing page", "body": page})
            items.extend(page["objects"])
            nxt = page.get("next")
            if not nxt:
                return items
            path = urljoin(self.host, nxt)
            if _origin(path) != _origin(self.host):  # credentials go to `host` only
                raise SocketsHTTPError(200, "GET", path, {
                    "detail": f"the listing's next page {nxt!r} is not on {self.host!r}; "
                              "not followed (the credentials would go with it)"})
        raise SocketsHTTPError(200, "GET", path, {"detail": f"more than {MAX_PAGES} pages"})

    # -- sockets
    def create(self, socket: CustomSocket | None = None, **raw: Any) -> CustomSocket:
        """Create from a CustomSocket or the raw format (``name=, endpoints=, dependencies=``)."""
        socket = socket if socket is not None else CustomSocket(**raw)
        if self.check:
            socket.validate()
        return from_payload(self._request("POST", self.route("sockets"),
                                          content=to_body(socket)))

    def get(self, name: str) -> CustomSocket:
        return from_payload(self._request("GET", self.route("socket", name)))

    def list(self) -> List[CustomSocket]:   # (`list` is this method in here)
        return [from_payload(o) for o in self._pages(self.route("sockets"))]

    def update(self, socket: CustomSocket) -> CustomSocket:
        """PATCH the full name, endpoints and dependencies."""
        if self.check:
            socket.validate()
        body = dumps(update_payload(socket)).encode()    # the library's bytes
        return from_payload(self._request("PATCH", self.route("socket", socket.name), content=body))

    def delete(self, name: str) -> None:
        self._request("DELETE", self.route("socket", name))

    def recheck(self, name: str) -> CustomSocket:
        """POST recheck (no body); the answer replaces the object."""
        return from_payload(self._request("POST", self.route("recheck", name)))

    def install_from_url(self, name: str, url: str,
                         config: Mapping[str, Any] | None = None) -> CustomSocket:
        """POST ``{name, install_url, config}`` (config not string-encoded)."""
        body = {"name": name, "install_url": url, "config": config or {}}
        return from_payload(self._request("POST", self.route("install"), json_body=body))

    # -- endpoints
    def list_endpoints(self, socket: str | None = None) -> List[SocketEndpoint]:
        """Every socket endpoint of the instance (all pages), or only those of `socket`."""
        items = [_endpoint(o) for o in self._pages(self.route("all_endpoints"))]
        if socket is None:
            return items
        # The emulator names the owner; otherwise fall back to the name prefix (ambiguous only
        # when socket names themselves contain '/').
        return [e for e in items
                if (e.socket == socket if e.socket is not None else e.name.startswith(socket + "/"))]

    def get_endpoint(self, socket: str, endpoint: str) -> SocketEndpoint:
        return _endpoint(self._request("GET", self.route("socket_endpoint", socket, endpoint)))

    def run(self, socket: str, endpoint: str, method: str = "GET", data: Any = None, *,
            allowed_methods: Iterable[str] | None = None) -> Any:
        """Run ``socket/endpoint``. The method is checked against the endpoint's calls first
        (fetched unless `allowed_methods` is given); GET/DELETE send no body, POST/PUT/PATCH
        send `data` (default ``{}``). Returns the parsed JSON response, or its text.
        """
        if method not in spec.METHODS:
            raise MethodNotAllowedError(f"{socket}/{endpoint}", method, spec.METHODS)
        if allowed_methods is None:
            allowed_methods = self.get_endpoint(socket, endpoint).allowed_methods
        if spec.WILDCARD not in allowed_methods and method not in allowed_methods:
            raise MethodNotAllowedError(f"{socket}/{endpoint}", method, allowed_methods)
        path = self.route("run", socket, endpoint)
        if method in spec.BODY_METHODS:
            return self._request(method, path, json_body=data if data is not None else {})
        return self._request(method, path)


def _origin(url):
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # not a number: never equal to a real origin
        return (scheme, parts.hostname, "invalid")
    return (scheme, parts.hostname, port or {"http": 80, "https": 443}.get(scheme))


def _parse(resp):
    if not resp.content:
        return None
    if resp.headers.get("content-type", "").split(";")[0].strip() == "application/json":
        try:
            return loads_body(resp.content)
        except ValueError:
            pass
    return resp.text


def _endpoint(obj):
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise SocketsHTTPError(200, "GET", "", {"detail": "not an endpoint object", "body": obj})
    ep = SocketEndpoint(name=obj["name"], allowed_methods=list(obj.get("allowed_methods") or []),
                        calls=list(obj.get("calls") or []), links=dict(obj.get("links") or {}),
                        socket=obj.get("socket"))
    return ep
