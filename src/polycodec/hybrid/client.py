"""Hybrid Runner client, call-compatible with `cspark.wasm` (switching is an import change).

    import polycodec.hybrid as Hybrid
    hybrid = Hybrid.Client(base_url='http://localhost:3000', tenant='my-tenant', token='open')
    hybrid.services.execute('my-folder/my-service', inputs={'x': 1})
    hybrid.services.execute('my-folder/my-service', inputs=df, batch_size=1000, concurrency=8)

Differences from the reference are the fixes listed in docs/hybrid.md: NaN refused (or
encoded as asked), options a v4 body cannot carry warn or raise, invalid timeout/retry values
raise, max_retries=0 turns retries off, 5xx and connection errors are retried too, proxy URIs
with many inputs raise instead of sending a body without a service locator.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import IO, TYPE_CHECKING, Any, Optional, Union

import httpx

from . import bodies, tables
from . import uri as _uri
from ..errors import require_bool
from .errors import HybridSdkError
from .batching import aexecute_batches, aiter_batches, execute_batches, iter_batches
from .transport import (AsyncTransport, Config, HybridResponse, Transport,
                        close_executor_transports, encode_body)

if TYPE_CHECKING:
    from .results import BatchOutcome, BatchResult
    from .uri import UriParams

Uri = Union[str, "UriParams"]   # 'folder/service[version]', a service id URI, or UriParams
Upload = Union[IO[bytes], str, "os.PathLike[str]"]   # an open binary file, or a path

# execute() options of the reference (its documented table), with their reference defaults
EXECUTE_OPTIONS = {
    "active_since": None, "source_system": None, "correlation_id": None, "call_purpose": None,
    "compiler_type": None, "subservices": None, "debug_solve": None, "echo_inputs": False,
    "tables_as_array": None, "selected_outputs": None, "outputs_filter": None,
}
BOOL_OPTIONS = ("debug_solve", "echo_inputs", "downloadable")   # True, False or None (unset)
# options that switch execute() to batching (the reference has none of them)
BATCH_OPTIONS = ("batch_size", "concurrency", "executor", "form", "raise_on_error", "progress",
                 "window", "total", "columns")


class ServiceExecuted(HybridResponse):
    """The execute response; `response_format='alike'` reshapes a v3 answer like v4's."""

    @classmethod
    def of(cls, response: HybridResponse, is_batch: bool, response_format: str = "alike"):
        data = response.data
        if response_format != "original" and not is_batch:
            data = alike(data)
        return cls(**{**response.__dict__, "data": data})


def alike(data):
    """v3 response -> `{outputs:[...], process_time:[...], warnings, errors, ...}`."""
    sections = {
        "response_data": data.get("response_data", {}) if isinstance(data, dict) else {},
        "response_meta": data.get("response_meta", {}) if isinstance(data, dict) else {},
    }
    out = {}
    for key, section, field, wrap in tables.ALIKE_SHAPE:
        section_dict = sections[section] if isinstance(sections[section], dict) else {}
        value = section_dict.get(field)
        out[key] = [value] if wrap else value
    return out


def _parse_inputs(inputs):
    """The reference's routing: None/[] -> {} single; str -> JSON; dict -> v3; list -> v4."""
    if inputs is None or (isinstance(inputs, list) and not inputs):
        inputs = {}
    if isinstance(inputs, str):
        if not inputs.strip():
            raise HybridSdkError("inputs is an empty string; expected JSON, a dict or a list")
        try:
            inputs = bodies.loads(inputs)
        except ValueError as exc:
            raise HybridSdkError(f"inputs string is not valid JSON: {exc}") from exc
    if isinstance(inputs, dict):
        return inputs, False
    if isinstance(inputs, list):
        return inputs, True
    raise HybridSdkError("invalid data format: expected inputs as a JSON string, dict or list "
                         "(or pass batch_size=... for tables, columns, arrays and iterators)",
                         type(inputs).__name__)


class _ServicesBase:
    """Request building shared by the sync and async services."""

    def __init__(self, config: Config, transport):
        self.config = config
        self._transport = transport

    # ---- upload --------------------------------------------------------------------------
    def _upload_request(self, file, file_name):
        if isinstance(file, (str, os.PathLike)):          # a path: read it, keep its name
            with open(file, "rb") as f:
                data = f.read()
            file_name = file_name or os.path.basename(os.fspath(file))
        elif isinstance(file, (bytes, bytearray, memoryview)):
            data = file
        elif callable(getattr(file, "read", None)):
            data = file.read()
        else:
            raise HybridSdkError(f"upload() takes an open file (open('package.zip', 'rb')), "
                                 f"a path or bytes, not {type(file).__name__}")
        url = f"{self.config.base_url}{tables.PATH_UPLOAD}"
        return url, {"file": (file_name or "package.zip", bytes(data))}

    # ---- execute -------------------------------------------------------------------------
    def _options(self, kwargs):
        unknown = set(kwargs) - set(EXECUTE_OPTIONS) - {"downloadable", "extras", "nan",
                                                         "lost_options"}
        if unknown:
            raise HybridSdkError(f"unknown execute option(s): {sorted(unknown)}")
        options = {k: kwargs.get(k, v) for k, v in EXECUTE_OPTIONS.items()}
        if "downloadable" in kwargs:
            options["downloadable"] = kwargs["downloadable"]
        for name in BOOL_OPTIONS:     # None = not set
            if options.get(name) is not None:
                require_bool(name, options[name], HybridSdkError)
        return options

    def check_lost(self, options, policy=None):
        """A v4 body cannot carry some v3 options: warn, raise or ignore (caller's choice)."""
        policy = policy or self.config.lost_options
        lost = bodies.v4_lost_options(options)
        if not lost or policy == "ignore":
            return
        msg = (f"options {lost} cannot be sent with many inputs (API v4 has no field for them); "
               "call with one record at a time to use them, or pass lost_options='ignore'")
        if policy == "raise":
            raise HybridSdkError(msg, lost)
        warnings.warn(msg, UserWarning, stacklevel=4)

    def _execute_request(self, uri, inputs, encoding, options, nan, lost_policy, extras=None):
        params = _uri.validate(uri)
        data, is_batch = _parse_inputs(inputs)
        if is_batch:
            if params.proxy:
                raise HybridSdkError("a proxy URI cannot carry many inputs (the v4 body has no "
                                     "locator for it); use folder/service, service/<id> or "
                                     "version/<id>", params.encode())
            self.check_lost(options, lost_policy)
            meta = bodies.v4_meta(params, options)
            url = self.config.base_url + _uri.v4_path(params, self.config.tenant)
            body = bodies.v4_body(data, {**meta, **(extras or {})})
        else:
            meta = {**bodies.v3_meta(params, options), **(extras or {})}
            url = self.config.base_url + _uri.v3_path(params, self.config.tenant)
            body = bodies.v3_body(data, meta)
        content, headers = encode_body(bodies.dumps(body, nan=nan or self.config.nan),
                                       encoding, self.config.compress_level)
        return url, content, headers, is_batch

    # ---- validation / metadata -------------------------------------------------------------
    def _validate_request(self, uri, service_id, version_id, inputs, validation_type, metadata,
                          nan):
        params = _uri.validate(uri or _uri.UriParams(service_id=service_id, version_id=version_id))
        body = {"request_data": {"inputs": inputs},
                "request_meta": {**(metadata or {}), "service_id": params.service_id,
                                 "version_id": params.version_id, "version": params.version,
                                 "validation_type": "dynamic" if validation_type == "dynamic"
                                 else "default_values"}}
        url = self.config.base_url + tables.PATH_VALIDATION.format(tenant=self.config.tenant)
        return url, bodies.dumps(body, nan=nan or self.config.nan)

    def _metadata_request(self, uri, inputs, service_id, version_id, metadata, nan):
        params = _uri.validate(uri or _uri.UriParams(service_id=service_id, version_id=version_id))
        body = {"request_data": {"inputs": inputs},
                "request_meta": {**(metadata or {}), "service_id": params.service_id,
                                 "version_id": params.version_id}}
        url = self.config.base_url + tables.PATH_METADATA.format(tenant=self.config.tenant)
        return url, bodies.dumps(body, nan=nan or self.config.nan)


def _wants_batching(inputs, kwargs):
    if any(kwargs.get(k) is not None for k in BATCH_OPTIONS):
        return True
    return inputs is not None and not isinstance(inputs, (str, dict, list))


def _check_batch_format(response_format):
    """A batched execute returns a BatchResult (its `.data` is the merged v4-like response):
    there is no v3 answer to reshape, so only the default shape is accepted."""
    if response_format not in (None, "alike"):
        raise HybridSdkError(f"response_format={response_format!r} does not apply to a batched "
                             "execute (it returns a BatchResult; use result.data or "
                             "result.batches)")


_JSON = {"Content-Type": "application/json"}


class Services(_ServicesBase):
    def upload(self, file: Upload, file_name: Optional[str] = None) -> HybridResponse:
        url, files = self._upload_request(file, file_name)
        return self._transport.request("POST", url, files=files)

    def execute(self, uri: Uri, *, inputs: Any = None, encoding: Optional[str] = None,
                response_format: Optional[str] = None,
                **options: Any) -> ServiceExecuted | BatchResult:
        """One call like the reference's; with batch_size/concurrency/executor/... (or a
        DataFrame, array, column dict or iterator as inputs) a batched run -> BatchResult."""
        if _wants_batching(inputs, options):
            _check_batch_format(response_format)
            return execute_batches(self, uri, inputs, encoding=encoding, **options)
        extras = options.pop("extras", None)
        nan, lost = options.pop("nan", None), options.pop("lost_options", None)
        url, content, headers, is_batch = self._execute_request(
            uri, inputs, encoding, self._options(options), nan, lost, extras)
        response = self._transport.request("POST", url, content=content, headers=headers)
        return ServiceExecuted.of(response, is_batch, response_format or "alike")

    def execute_batches(self, uri: Uri, inputs: Any, **options: Any) -> BatchResult:
        """Batched execute of many records -> BatchResult (see polycodec.hybrid.batching)."""
        return execute_batches(self, uri, inputs, **options)

    def iter_batches(self, uri: Uri, inputs: Any, **options: Any) -> Iterator[BatchOutcome]:
        """Like execute_batches, but yields each BatchOutcome in input order as it is ready."""
        return iter_batches(self, uri, inputs, **options)

    def validate(self, uri: Optional[Uri] = None, *, service_id: Optional[str] = None,
                 version_id: Optional[str] = None, inputs: Any = None,
                 validation_type: Optional[str] = None, metadata: Any = None,
                 nan: Optional[str] = None) -> HybridResponse:
        url, content = self._validate_request(uri, service_id, version_id, inputs,
                                              validation_type, metadata, nan)
        return self._transport.request("POST", url, content=content, headers=_JSON)

    def get_metadata(self, uri: Optional[Uri] = None, *, inputs: Any = None,
                     service_id: Optional[str] = None, version_id: Optional[str] = None,
                     metadata: Any = None, nan: Optional[str] = None) -> HybridResponse:
        url, content = self._metadata_request(uri, inputs, service_id, version_id, metadata, nan)
        return self._transport.request("POST", url, content=content, headers=_JSON)


class AsyncServices(_ServicesBase):
    async def upload(self, file: Upload, file_name: Optional[str] = None) -> HybridResponse:
        url, files = self._upload_request(file, file_name)
        return await self._transport.request("POST", url, files=files)

    async def execute(self, uri: Uri, *, inputs: Any = None, encoding: Optional[str] = None,
                      response_format: Optional[str] = None,
                      **options: Any) -> ServiceExecuted | BatchResult:
        if _wants_batching(inputs, options):
            _check_batch_format(response_format)
            return await aexecute_batches(self, uri, inputs, encoding=encoding, **options)
        extras = options.pop("extras", None)
        nan, lost = options.pop("nan", None), options.pop("lost_options", None)
        url, content, headers, is_batch = self._execute_request(
            uri, inputs, encoding, self._options(options), nan, lost, extras)
        response = await self._transport.request("POST", url, content=content, headers=headers)
        return ServiceExecuted.of(response, is_batch, response_format or "alike")

    async def execute_batches(self, uri: Uri, inputs: Any, **options: Any) -> BatchResult:
        return await aexecute_batches(self, uri, inputs, **options)

    def iter_batches(self, uri: Uri, inputs: Any,
                     **options: Any) -> AsyncIterator[BatchOutcome]:
        """Async generator of BatchOutcome in input order."""
        return aiter_batches(self, uri, inputs, **options)

    async def validate(self, uri: Optional[Uri] = None, *, service_id: Optional[str] = None,
                       version_id: Optional[str] = None, inputs: Any = None,
                       validation_type: Optional[str] = None, metadata: Any = None,
                       nan: Optional[str] = None) -> HybridResponse:
        url, content = self._validate_request(uri, service_id, version_id, inputs,
                                              validation_type, metadata, nan)
        return await self._transport.request("POST", url, content=content, headers=_JSON)

    async def get_metadata(self, uri: Optional[Uri] = None, *, inputs: Any = None,
                           service_id: Optional[str] = None,
                           version_id: Optional[str] = None, metadata: Any = None,
                           nan: Optional[str] = None) -> HybridResponse:
        url, content = self._metadata_request(uri, inputs, service_id, version_id, metadata, nan)
        return await self._transport.request("POST", url, content=content, headers=_JSON)


# ---- small resources (health, version, status) --------------------------------------------
class _Getter:
    def __init__(self, transport, path):
        self._transport, self._path = transport, path

    def _url(self):
        return self._transport.config.base_url + self._path


class Health(_Getter):
    def check(self) -> HybridResponse:
        return self._transport.request("GET", self._url())


class Version(_Getter):
    def get(self) -> HybridResponse:
        return self._transport.request("GET", self._url())


class AsyncHealth(_Getter):
    async def check(self) -> HybridResponse:
        return await self._transport.request("GET", self._url())


class AsyncVersion(_Getter):
    async def get(self) -> HybridResponse:
        return await self._transport.request("GET", self._url())


class _either:
    """Callable on the class (the reference's static form, e.g. Client.health_check(url)) and
    on an instance (uses that client's runner, auth and connection pool)."""

    def __init__(self, path, is_async=False):
        self.path, self.is_async = path, is_async

    def __get__(self, obj, cls):
        path, is_async = self.path, self.is_async
        if obj is not None:
            if is_async:
                async def bound():
                    return await obj._transport.request("GET", obj.config.base_url + path)
                return bound
            return lambda: obj._transport.request("GET", obj.config.base_url + path)

        def static(base_url=None, token="open", http_client=None, **options):
            config = Config(base_url=base_url, token=token, require_tenant=False, **options)
            config.tenant = ""                      # the reference sends no tenant here
            url = config.url + path                 # and keeps the URL's path (no tenant split)
            if is_async:
                async def run():
                    transport = AsyncTransport(config, http_client)
                    try:
                        return await transport.request("GET", url)
                    finally:
                        await transport.close()
                return run()
            transport = Transport(config, http_client)
            try:
                return transport.request("GET", url)
            finally:
                transport.close()
        return static


class Client:
    """The Hybrid Runner client. `timeout` is in milliseconds, as in the reference.

    polycodec additions: `nan` ('raise' | 'null' | 'string'), `lost_options`
    ('warn' | 'raise' | 'ignore'), `compress_level` for encoding='gzip'/'deflate',
    `max_connections` for the pool used by batching.
    """

    health_check = _either(tables.PATH_HEALTH)
    get_version = _either(tables.PATH_VERSION)
    get_status = _either(tables.PATH_STATUS)

    def __init__(self, *, base_url: Optional[str] = None, tenant: Optional[str] = None,
                 api_key: Optional[str] = None, token: Optional[str] = None,
                 timeout: Optional[float] = None, max_retries: Optional[int] = None,
                 retry_interval: Optional[float] = None,
                 http_client: Optional[httpx.Client] = None, logger: Any = True,
                 **extra: Any) -> None:
        self._config = Config(base_url=base_url, tenant=tenant, api_key=api_key, token=token,
                              timeout=timeout, max_retries=max_retries,
                              retry_interval=retry_interval, **extra)
        self._transport = Transport(self._config, http_client)
        self.http_client = self._transport.http

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (if the client made it) and the pooled transports that
        executor= batches of this configuration created in this process."""
        close_executor_transports(self._config)
        self._transport.close()

    @property
    def config(self) -> Config:
        return self._config

    @property
    def services(self) -> Services:
        return Services(self._config, self._transport)

    @property
    def health(self) -> Health:
        return Health(self._transport, tables.PATH_HEALTH)

    @property
    def version(self) -> Version:
        return Version(self._transport, tables.PATH_VERSION)

    @property
    def status(self) -> Version:
        return Version(self._transport, tables.PATH_STATUS)


class AsyncClient:
    """The asyncio twin of Client."""

    health_check = _either(tables.PATH_HEALTH, is_async=True)
    get_version = _either(tables.PATH_VERSION, is_async=True)
    get_status = _either(tables.PATH_STATUS, is_async=True)

    def __init__(self, *, base_url: Optional[str] = None, tenant: Optional[str] = None,
                 api_key: Optional[str] = None, token: Optional[str] = None,
                 timeout: Optional[float] = None, max_retries: Optional[int] = None,
                 retry_interval: Optional[float] = None,
                 http_client: Optional[httpx.AsyncClient] = None, logger: Any = True,
                 **extra: Any) -> None:
        self._config = Config(base_url=base_url, tenant=tenant, api_key=api_key, token=token,
                              timeout=timeout, max_retries=max_retries,
                              retry_interval=retry_interval, **extra)
        self._transport = AsyncTransport(self._config, http_client)
        self.http_client = self._transport.http

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        close_executor_transports(self._config)
        await self._transport.close()

    @property
    def config(self) -> Config:
        return self._config

    @property
    def services(self) -> AsyncServices:
        return AsyncServices(self._config, self._transport)

    @property
    def health(self) -> AsyncHealth:
        return AsyncHealth(self._transport, tables.PATH_HEALTH)

    @property
    def version(self) -> AsyncVersion:
        return AsyncVersion(self._transport, tables.PATH_VERSION)

    @property
    def status(self) -> AsyncVersion:
        return AsyncVersion(self._transport, tables.PATH_STATUS)
