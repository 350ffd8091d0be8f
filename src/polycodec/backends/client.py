"""BackendClient: the Python twin of webpm-client's backend client (fetch, fetchJson, fetchText).

Every request, streamed or not, sync or async, carries `x-backends-partition` (spec
PARTITION_HEADER): it is set on the underlying httpx client *and* on each request, and a
caller header naming another partition is refused rather than silently overridden.
"""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx
import orjson

from .._urls import http_url_problem
from ..errors import Problem
from .cells import RunCell, RunResult
from .errors import BackendHTTPError, PayloadError, ResponseTooLarge
from .jsonsafe import to_json_safe
from .rules import name_problems, partition_problems, version_problems
from .spec import ALLOWED_METHODS, DEFAULT_PARTITION, PARTITION_HEADER, ROUTES, route

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RESPONSE = 256 * 2**20


def _no_response(url, exc):
    return BackendHTTPError(None, f"{type(exc).__name__}: {exc or 'no detail'}", None, url)


def _complete(streamed, body):
    """A read response with `body` (read under the size limit) in place of the stream."""
    # body is already decoded: drop content-encoding so httpx does not decode it twice
    headers = [(k, v) for k, v in streamed.headers.multi_items()
               if k.lower() != "content-encoding"]
    return httpx.Response(streamed.status_code, headers=headers, content=body,
                          request=streamed.request, extensions=streamed.extensions)


class BackendClient:
    """Requests `{base_url}/backends/{name}/{version}/{path}` in one partition.

    `fetch*` methods are synchronous (httpx.Client); `afetch*` are their async twins
    (httpx.AsyncClient). Both clients are created on first use; close with `close()` /
    `aclose()` or use the client as a (async) context manager.
    """

    def __init__(self, base_url: str, name: str, version: str,
                 partition: str = DEFAULT_PARTITION, *,
                 timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
                 max_response: int = DEFAULT_MAX_RESPONSE, nonfinite: str = "error") -> None:
        problems = (name_problems(name, "name") + version_problems(version, "version")
                    + partition_problems(partition, "partition"))
        url_problem = http_url_problem(base_url)
        if url_problem:
            problems.append(Problem("base_url", url_problem))
        if problems:
            raise PayloadError(problems)
        self.base_url = base_url.strip().rstrip("/")
        self.name, self.version, self.partition = name, version, partition
        self.url_base = self.base_url + route("backend", name=name, version=version, path="")
        self.timeout, self.max_response, self.nonfinite = timeout, max_response, nonfinite
        self._client = None
        self._aclient = None

    def __repr__(self):
        return (f"BackendClient({self.base_url!r}, {self.name!r}, {self.version!r}, "
                f"partition={self.partition!r})")

    # --- request building (shared by sync and async) ----------------------------------------
    def url(self, path: str) -> str:
        if not isinstance(path, str) or "://" in path or path.startswith("//"):
            raise ValueError(f"path must be a backend-relative path like '/run', not {path!r}")
        if any(seg == ".." for seg in path.split("?")[0].split("/")):
            raise ValueError(f"path {path!r} climbs out of the backend with '..'")
        return self.url_base + path.lstrip("/")

    def _request_args(self, method, path, json, content, headers, params):
        method = method.upper() if isinstance(method, str) else method
        if method not in ALLOWED_METHODS:
            raise ValueError(f"method {method!r} is not forwarded to backends; use one of "
                             f"{', '.join(ALLOWED_METHODS)}")
        merged = {}
        for key, value in (headers or {}).items():
            if key.lower() == PARTITION_HEADER and value != self.partition:
                raise ValueError(f"header {key}={value!r} contradicts this client's partition "
                                 f"{self.partition!r}; make another BackendClient instead")
            merged[key] = value
        merged[PARTITION_HEADER] = self.partition
        if json is not None and content is not None:
            raise ValueError("pass json= or content=, not both")
        if json is not None:
            content = orjson.dumps(to_json_safe(json, nonfinite=self.nonfinite, path="$.json"))
            if not any(k.lower() == "content-type" for k in merged):
                merged["content-type"] = "application/json"
        return dict(method=method, url=self.url(path), content=content, headers=merged,
                    params=params)

    def _cell_body(self, cell):
        # to_payload already made the values JSON-safe: serialise once, skip a second walk
        return {"content": orjson.dumps(cell.to_payload(nonfinite=self.nonfinite)),
                "headers": {"content-type": "application/json"}}

    def _new_client(self, cls):
        return cls(headers={PARTITION_HEADER: self.partition}, timeout=self.timeout)

    def _check_size(self, total):
        if total > self.max_response:
            raise ResponseTooLarge(f"response from {self.url_base} is larger than max_response="
                                   f"{self.max_response} bytes")

    @staticmethod
    def _error(resp, body):
        message = body[:500].decode("utf-8", "replace") if body else resp.reason_phrase
        try:
            data = orjson.loads(body)
            if isinstance(data, dict):
                message = str(data.get("detail") or data.get("message") or data.get("error")
                              or message)
        except orjson.JSONDecodeError:
            pass
        return BackendHTTPError(resp.status_code, message, body, str(resp.request.url))

    # --- sync -------------------------------------------------------------------------------
    @property
    def http(self) -> httpx.Client:
        if self._client is None:
            self._client = self._new_client(httpx.Client)
        return self._client

    def fetch(
        self, path: str, method: str = "GET", *, json: Any = None,
        content: bytes | str | None = None, headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """The response, body read (within max_response), whatever its status."""
        with self.stream(path, method, json=json, content=content, headers=headers,
                         params=params) as resp:
            return _complete(resp, self._read_body(resp))

    @contextlib.contextmanager
    def stream(
        self, path: str, method: str = "GET", *, json: Any = None,
        content: bytes | str | None = None, headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Iterator[httpx.Response]:
        """A streamed response (`iter_bytes()`, `iter_lines()`...), partition header sent."""
        args = self._request_args(method, path, json, content, headers, params)
        try:
            with self.http.stream(**args) as resp:
                yield resp
        except httpx.TransportError as exc:    # refused, timed out, reset: no (whole) answer
            raise _no_response(args["url"], exc) from exc

    def _read_body(self, resp):
        buf, total = [], 0
        for chunk in resp.iter_bytes():
            total += len(chunk)
            self._check_size(total)
            buf.append(chunk)
        return b"".join(buf)

    def fetch_text(self, path: str, method: str = "GET", **kw: Any) -> str:
        resp = self.fetch(path, method, **kw)
        if not resp.is_success:
            raise self._error(resp, resp.content)
        return resp.text

    def fetch_json(self, path: str, method: str = "GET", **kw: Any) -> Any:
        resp = self.fetch(path, method, **kw)
        if not resp.is_success:
            raise self._error(resp, resp.content)
        return orjson.loads(resp.content)

    def run_cell(self, cell: RunCell) -> RunResult:
        """POST the cell to pyrun's /run and parse the answer."""
        method, path = ROUTES["pyrun_run"]
        return RunResult.from_payload(self.fetch_json(path, method, **self._cell_body(cell)))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> BackendClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- async ------------------------------------------------------------------------------
    @property
    def ahttp(self) -> httpx.AsyncClient:
        if self._aclient is None:
            self._aclient = self._new_client(httpx.AsyncClient)
        return self._aclient

    async def afetch(
        self, path: str, method: str = "GET", *, json: Any = None,
        content: bytes | str | None = None, headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        async with self.astream(path, method, json=json, content=content, headers=headers,
                                params=params) as resp:
            return _complete(resp, await self._aread_body(resp))

    @contextlib.asynccontextmanager
    async def astream(
        self, path: str, method: str = "GET", *, json: Any = None,
        content: bytes | str | None = None, headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        args = self._request_args(method, path, json, content, headers, params)
        try:
            async with self.ahttp.stream(**args) as resp:
                yield resp
        except httpx.TransportError as exc:
            raise _no_response(args["url"], exc) from exc

    async def _aread_body(self, resp):
        buf, total = [], 0
        async for chunk in resp.aiter_bytes():
            total += len(chunk)
            self._check_size(total)
            buf.append(chunk)
        return b"".join(buf)

    async def afetch_text(self, path: str, method: str = "GET", **kw: Any) -> str:
        resp = await self.afetch(path, method, **kw)
        if not resp.is_success:
            raise self._error(resp, resp.content)
        return resp.text

    async def afetch_json(self, path: str, method: str = "GET", **kw: Any) -> Any:
        resp = await self.afetch(path, method, **kw)
        if not resp.is_success:
            raise self._error(resp, resp.content)
        return orjson.loads(resp.content)

    async def arun_cell(self, cell: RunCell) -> RunResult:
        method, path = ROUTES["pyrun_run"]
        return RunResult.from_payload(await self.afetch_json(path, method,
                                                             **self._cell_body(cell)))

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None

    async def __aenter__(self) -> BackendClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
        self.close()
