"""Configuration and the HTTP layer: headers, retries with backoff, responses.

httpx is used because it offers the same API sync and async, pooled keep-alive connections
(HTTP/1.1), per-request timeouts, and is what the reference SDK uses, so requests built here
carry the same default headers as the reference's.
"""
from __future__ import annotations

import asyncio
import atexit
import datetime as _dt
import email.utils
import gzip
import math
import os
import random
import re
import threading
import time
import uuid
import weakref
import zlib
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlparse

import httpx

from . import gcpause, tables
from .bodies import check_nan_policy, loads
from .errors import HybridApiError, HybridSdkError

try:
    from importlib.metadata import version as _pkg_version
    POLYCODEC_VERSION = _pkg_version("polycodec")
except Exception:  # pragma: no cover
    POLYCODEC_VERSION = "0"

USER_AGENT = f"polycodec/{POLYCODEC_VERSION} ({tables.PY_VERSION})"
SPARK_UA = f"agent=polycodec-hybrid/{POLYCODEC_VERSION}; env={tables.PY_VERSION}"
LOST_OPTION_POLICIES = ("warn", "raise", "ignore")


def _number(name, value, default, *, integer=False, minimum=0.0, allow_equal=True):
    """A configuration number: None -> default; anything invalid is refused, never replaced."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HybridSdkError(f"{name} must be a number, not {type(value).__name__}", value)
    if integer and not float(value).is_integer():
        raise HybridSdkError(f"{name} must be a whole number, got {value!r}", value)
    if not math.isfinite(value) or value < minimum or (value == minimum and not allow_equal):
        bound = ">=" if allow_equal else ">"
        raise HybridSdkError(f"{name} must be finite and {bound} {minimum}, got {value!r}", value)
    return int(value) if integer else float(value)


def encode_body(body_bytes: bytes, encoding: Optional[str], level: int):
    """(content, headers) of a JSON body sent as is, gzip- or deflate-compressed."""
    if not encoding:
        return body_bytes, {"Content-Type": "application/json"}
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding,
               "Accept-Encoding": encoding}
    if encoding == "gzip":
        return gzip.compress(body_bytes, compresslevel=level), headers
    if encoding == "deflate":
        return zlib.compress(body_bytes, level), headers
    raise HybridSdkError(f'encoding "{encoding}" is not supported (use "gzip" or "deflate")',
                         {"encoding": encoding})


class Config:
    """Runner address, tenant, auth and the retry/timeout policy (all validated)."""

    def __init__(self, *, base_url=None, tenant=None, api_key=None, token=None, timeout=None,
                 max_retries=None, retry_interval=None, nan="raise", lost_options="warn",
                 require_tenant=True, compress_level=6,
                 max_connections=None, pause_gc=False):
        url = base_url if isinstance(base_url, str) and base_url.strip() else None
        if base_url is not None and not isinstance(base_url, str):
            url = getattr(base_url, "full", None) or str(base_url)     # a cspark BaseUrl
        given = url is not None
        url = url or os.getenv(tables.ENV_RUNNER_URL) or tables.DEFAULT_RUNNER_URL
        parsed = urlparse(url.strip().rstrip("/"))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise HybridSdkError(f"base_url must be an http(s) URL, got {url!r}", url)
        segments = [s for s in parsed.path.split("/") if s]
        self.base_url = f"{parsed.scheme}://{parsed.netloc}"
        self.url = self.base_url + parsed.path        # as given, path kept (static calls)
        has_tenant = tenant is not None and str(tenant).strip() != ""
        if segments:                                   # the URL's tenant wins, as in the reference
            self.tenant = segments[0]
        elif not has_tenant:
            self.tenant = ""
        elif given:                                    # the reference keeps it as written...
            self.tenant = str(tenant)
        else:                                          # ...and lowercases it without a URL
            self.tenant = str(tenant).strip().lower()
        if require_tenant and not self.tenant:
            raise HybridSdkError("tenant name is required", {"url": url, "tenant": tenant})

        api_key = os.getenv(tables.ENV_API_KEY) if api_key is None else api_key
        token = os.getenv(tables.ENV_BEARER_TOKEN) if token is None else token
        self.api_key = api_key or None
        self.token = re.sub(r"(?i)\bBearer\b", "", token).strip() if token else None
        if not self.api_key and not self.token:
            raise HybridSdkError("user authentication is required; pass token=..., api_key=... "
                                 "or token='open' for a runner without authentication")
        self.timeout = _number("timeout (milliseconds)", timeout, tables.DEFAULT_TIMEOUT_MS,
                               allow_equal=False)
        self.max_retries = _number("max_retries", max_retries, tables.DEFAULT_MAX_RETRIES,
                                   integer=True)
        self.retry_interval = _number("retry_interval (seconds)", retry_interval,
                                      tables.DEFAULT_RETRY_INTERVAL)
        self.nan = check_nan_policy(nan)
        if lost_options not in LOST_OPTION_POLICIES:
            raise HybridSdkError(f"lost_options must be one of {LOST_OPTION_POLICIES}")
        self.lost_options = lost_options
        self.compress_level = _number("compress_level", compress_level, 6, integer=True)
        if self.compress_level > 9:
            raise HybridSdkError("compress_level must be 0..9")
        self.max_connections = _number("max_connections", max_connections, 16, integer=True,
                                       minimum=1)
        if not isinstance(pause_gc, bool):
            raise HybridSdkError(f"pause_gc must be True or False, not {pause_gc!r}")
        self.pause_gc = pause_gc                 # opt-in: see gcpause.py

    @property
    def full(self) -> str:
        return f"{self.base_url}/{self.tenant}"

    @property
    def timeout_in_sec(self) -> float:
        return self.timeout / 1000

    @property
    def is_open(self) -> bool:
        return self.api_key == "open" or self.token == "open"

    @property
    def auth_headers(self) -> dict:
        if self.api_key and not self.is_open:
            return {tables.H_API_KEY: self.api_key}
        if self.token and not self.is_open:
            return {tables.H_AUTH: f"Bearer {self.token}"}
        return {}

    def default_headers(self) -> dict:
        return {tables.H_USER_AGENT: USER_AGENT, tables.H_SPARK_UA: SPARK_UA,
                tables.H_REQUEST_ID: str(uuid.uuid4()), tables.H_TENANT: self.tenant}

    def key(self) -> tuple:
        """Identity of the settings that shape requests (worker-side client cache key)."""
        return (self.base_url, self.tenant, self.api_key, self.token, self.timeout,
                self.max_retries, self.retry_interval, self.max_connections, self.pause_gc)

    def __repr__(self):
        return (f"Config(base_url={self.base_url!r}, tenant={self.tenant!r}, "
                f"timeout={self.timeout}, max_retries={self.max_retries})")


@dataclass
class HybridResponse:
    """Same fields as the reference's HttpResponse, plus `attempts`."""

    status: int
    data: Any
    buffer: bytes
    headers: httpx.Headers
    raw_request: httpx.Request
    raw_response: httpx.Response
    attempts: int = 1

    def copy_with(self, **kwargs) -> "HybridResponse":
        fields = dict(self.__dict__)
        fields.update(kwargs)
        return HybridResponse(**fields)


def retry_after(response: Optional[httpx.Response]) -> Optional[float]:
    """Seconds the runner asked to wait (Retry-After: seconds or an HTTP date; a date without
    a zone is taken as UTC), or None when absent or unparsable ('soon')."""
    after = response.headers.get("retry-after") if response is not None else None
    if not after:
        return None
    try:
        seconds = float(after)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(after)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.timezone.utc)
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), tables.MAX_RETRY_DELAY)


def backoff(attempt: int, interval: float, response: Optional[httpx.Response] = None) -> float:
    """Delay before retry `attempt` (0-based): Retry-After if the runner sent a valid one, else
    the reference's randomised exponential backoff; capped at MAX_RETRY_DELAY."""
    after = retry_after(response)
    if after is not None:
        return after
    delay = (2 ** attempt) * interval * random.uniform(0, 1) * tables.RETRY_RANDOMIZATION
    return min(delay, tables.MAX_RETRY_DELAY)


def _decode(response: httpx.Response, pause_gc=False):
    if "application/json" not in response.headers.get("content-type", ""):
        return None
    try:
        content = response.content
        # a JSON tree has no cycles: see gcpause.py (opt-in, the collector is the host's)
        with gcpause.paused(pause_gc and len(content) >= gcpause.LARGE):
            return loads(content)
    except ValueError:
        return response.text


def _api_error(request, response=None, attempts=1, cause=None):
    rid = request.headers.get(tables.H_REQUEST_ID)
    if response is None:
        return HybridApiError(f"no response from <{request.url}> after {attempts} attempt(s): "
                              f"{type(cause).__name__}: {cause}", url=str(request.url),
                              request_id=rid, attempts=attempts, cause=cause)
    body = _decode(response)
    if body is None:
        body = response.text[:2000]
    return HybridApiError(f"{response.status_code} failed to fetch <{request.url}>",
                          status=response.status_code, body=body, url=str(request.url),
                          request_id=rid, attempts=attempts)


def _ok(request, response, attempts, pause_gc=False):
    return HybridResponse(status=response.status_code, data=_decode(response, pause_gc),
                          buffer=response.content, headers=response.headers,
                          raw_request=request, raw_response=response, attempts=attempts)


def _http_limits(config):
    return httpx.Limits(max_connections=config.max_connections,
                        max_keepalive_connections=config.max_connections)


def retry_step(config: Config, request, attempt: int, response=None, exc=None):
    """The retry policy, without I/O (shared by the sync and async transports).

    After attempt `attempt` (0-based) ended with `response` or with the transport error `exc`:
    returns (HybridResponse, None) when done, (None, delay) to try again after `delay`
    seconds, or raises HybridApiError (an error status, or retries used up)."""
    if exc is not None:
        if attempt >= config.max_retries:
            raise _api_error(request, None, attempt + 1, exc) from exc
        return None, backoff(attempt, config.retry_interval)
    if response.status_code < 400:
        return _ok(request, response, attempt + 1, config.pause_gc), None
    if response.status_code in tables.RETRY_STATUSES and attempt < config.max_retries:
        return None, backoff(attempt, config.retry_interval, response)
    raise _api_error(request, response, attempt + 1)


class _TransportBase:
    def __init__(self, config: Config, http_client, http_class):
        self.config = config
        self.owned = http_client is None
        self.http = http_client or http_class(timeout=config.timeout_in_sec,
                                              limits=_http_limits(config))
        register_local(self)        # executor= batches in this process reuse this pool

    def build(self, method, url, *, headers=None, content=None, files=None):
        merged = {**(headers or {}), **self.config.default_headers()}
        request = self.http.build_request(method, url, headers=merged, content=content,
                                          files=files)
        request.headers.update(self.config.auth_headers)
        return request


class Transport(_TransportBase):
    """Sends requests with the retry policy (retry_step). Thread-safe (httpx.Client is)."""

    def __init__(self, config: Config, http_client: Optional[httpx.Client] = None):
        super().__init__(config, http_client, httpx.Client)

    def send(self, request):
        attempt = 0
        while True:
            response = exc = None
            try:
                response = self.http.send(request)
            except httpx.TransportError as err:
                exc = err
            done, delay = retry_step(self.config, request, attempt, response, exc)
            if done is not None:
                return done
            if response is not None:
                response.close()
            time.sleep(delay)
            attempt += 1

    def request(self, method, url, **kwargs):
        return self.send(self.build(method, url, **kwargs))

    def close(self):
        if self.owned and not self.http.is_closed:
            self.http.close()


class AsyncTransport(_TransportBase):
    """The asyncio shell around the same retry policy."""

    def __init__(self, config: Config, http_client: Optional[httpx.AsyncClient] = None):
        super().__init__(config, http_client, httpx.AsyncClient)

    async def send(self, request):
        attempt = 0
        while True:
            response = exc = None
            try:
                response = await self.http.send(request)
            except httpx.TransportError as err:
                exc = err
            done, delay = retry_step(self.config, request, attempt, response, exc)
            if done is not None:
                return done
            if response is not None:
                await response.aclose()
            await asyncio.sleep(delay)
            attempt += 1

    async def request(self, method, url, **kwargs):
        return await self.send(self.build(method, url, **kwargs))

    async def close(self):
        if self.owned and not self.http.is_closed:
            await self.http.aclose()


# ---- worker-side transports (executor= batching: threads, processes, dask workers) -------
# A batch run by an executor in the client's own process uses the client's transport (its
# pool, and the caller's http_client if one was given), found by id. In another process (a
# ProcessPoolExecutor, dask workers) one pooled Transport per process and config is made and
# reused; those close when their process exits (atexit). Client.close() closes the ones of
# its config in this process.
_WORKER_TRANSPORTS: dict = {}
_LOCAL_TRANSPORTS: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()
_WORKER_LOCK = threading.RLock()      # Transport() registers itself under it


def register_local(transport) -> tuple:
    """(pid, id) under which executor= batches in this process find `transport`."""
    ref = (os.getpid(), id(transport))
    with _WORKER_LOCK:
        _LOCAL_TRANSPORTS[ref] = transport
    return ref


def worker_transport(config: Config, local=None) -> Transport:
    """The client's own transport when the batch runs in the client's process, else one
    pooled Transport per process and config, reused by every batch that lands there."""
    with _WORKER_LOCK:
        if local is not None and local[0] == os.getpid():
            transport = _LOCAL_TRANSPORTS.get(local)
            if transport is not None and not transport.http.is_closed:
                return transport
        key = (os.getpid(), config.key())
        transport = _WORKER_TRANSPORTS.get(key)
        if transport is None or transport.http.is_closed:
            transport = _WORKER_TRANSPORTS[key] = Transport(config)
    return transport


def close_worker_transports(config: Optional[Config] = None):
    """Close the pooled transports of executor= workers in this process (those of `config`
    only, if given). Also run at exit, so no keep-alive socket outlives the interpreter."""
    with _WORKER_LOCK:
        keys = [k for k in _WORKER_TRANSPORTS
                if config is None or k[1] == config.key()]
        transports = [_WORKER_TRANSPORTS.pop(k) for k in keys]
    for transport in transports:
        transport.close()


atexit.register(close_worker_transports)
