"""A local Hybrid Runner emulator, for tests, benchmarks and offline development.

    python -m polycodec.hybrid.emulator --port 3000 [--latency 0.05] [--rate-500 0.1] ...

Serves the endpoints of polycodec.hybrid.tables (healthcheck, version, status, upload, v3 and
v4 execute, validation, metadata) plus `/_emulator/*` control endpoints (faults, stats,
recorded requests). Built on the stdlib ThreadingHTTPServer (HTTP/1.1 keep-alive): no
dependency, one thread per connection, enough for batches of thousands of records, and raw
socket access for fault injection (dropped connections, slow bodies).

SECURITY: uploaded service code (output expressions, service.py) runs unsandboxed with the
emulator's rights. It binds 127.0.0.1 unless told otherwise; never expose it to a network.

Request validation (documented 400s, body `{"status": "Error", "error": {"status", "code",
"message"}}`): body not JSON (400 INVALID_JSON), body not an object (400 INVALID_BODY),
inputs missing or of the wrong type (400 INVALID_INPUTS), table rows of the wrong length
(400 INVALID_INPUTS), no service locator (400 MISSING_LOCATOR), bad upload (400
INVALID_PACKAGE); unknown service 404 NOT_FOUND; auth required 401; body too large 413;
unknown Content-Encoding 415; no Content-Length 411; more records than --max-records 413.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import os
import email.parser
import email.policy
import random
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
import zlib
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from operator import itemgetter
from urllib.parse import unquote, urlsplit

import orjson

from . import emulated, gcpause, tables

EMULATOR_VERSION = "1.31.2"
H_WORKER = "x-emulator-worker"          # response header: index of the worker that answered
DEFAULT_MAX_BODY = 256 << 20


class HttpError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Faults:
    """Fault injection for execute requests (or all requests with scope='all').

    latency: seconds added to every matching request; rate_429 / rate_500 / rate_drop /
    rate_slow: probabilities; slow_seconds: how long a slow response takes to trickle out;
    retry_after: Retry-After header value on 429s (None: no header); seed: RNG seed.
    """

    FIELDS = ("latency", "rate_429", "rate_500", "rate_drop", "rate_slow", "slow_seconds",
              "retry_after", "scope", "seed")

    def __init__(self, **kw):
        self.lock = threading.Lock()
        self.set(latency=0.0, rate_429=0.0, rate_500=0.0, rate_drop=0.0, rate_slow=0.0,
                 slow_seconds=1.0, retry_after=None, scope="execute", seed=None)
        self.set(**kw)

    def set(self, **kw):
        unknown = set(kw) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {self.FIELDS}")
        with self.lock:
            for k, v in kw.items():
                if k.startswith("rate_") and not (0.0 <= float(v) <= 1.0):
                    raise ValueError(f"{k} must be within 0..1")
                setattr(self, k, v)
            if "seed" in kw:
                self.rng = random.Random(kw["seed"])

    def as_dict(self):
        return {k: getattr(self, k) for k in self.FIELDS}

    def draw(self):
        """The fault for one request: None, '429', '500', 'drop' or 'slow'."""
        with self.lock:
            r = self.rng.random()
            for name, rate in (("drop", self.rate_drop), ("429", self.rate_429),
                               ("500", self.rate_500), ("slow", self.rate_slow)):
                if r < rate:
                    return name
                r -= rate
        return None


class Registry:
    """Services per tenant, findable by id, version id, or folder/service[version]."""

    def __init__(self):
        self.lock = threading.Lock()
        self.services: list = []

    def add(self, svc):
        with self.lock:
            self.services.append(svc)
        return svc

    def find(self, tenant, *, service_id=None, version_id=None, folder=None, service=None,
             version=None):
        with self.lock:
            cands = [s for s in self.services if s.tenant == tenant]
        if version_id:
            cands = [s for s in cands if s.version_id == version_id]
        elif service_id:
            cands = [s for s in cands if s.service_id == service_id]
        elif folder and service:
            cands = [s for s in cands if s.folder == folder and s.service == service]
            if version:
                cands = [s for s in cands if s.version == version]
        else:
            raise HttpError(400, "MISSING_LOCATOR", "no service locator (service, service_id "
                            "or version_id) in the request")
        if not cands:
            raise HttpError(404, "NOT_FOUND", "service not found in tenant "
                            f"{tenant!r}: {version_id or service_id or f'{folder}/{service}'}")
        return cands[-1]                               # latest upload wins

    def find_v4(self, tenant, body):
        locator, version_id = body.get("service"), body.get("version_id")
        if version_id:
            return self.find(tenant, version_id=version_id)
        if isinstance(locator, str) and locator:
            m = re.match(r"^([^/]+)/([^[]+)(?:\[(.*?)\])?$", locator)
            if m:
                folder, service, version = m.groups()
                return self.find(tenant, folder=folder, service=service, version=version or None)
            return self.find(tenant, service_id=locator)
        raise HttpError(400, "MISSING_LOCATOR", "a v4 body needs 'service' or 'version_id'")


# ---- execution ----------------------------------------------------------------------------
def _rows_from_table(svc, table):
    header = table[0]
    if not isinstance(header, list) or not all(isinstance(h, str) for h in header):
        raise HttpError(400, "INVALID_INPUTS", "the first row of table inputs must be the "
                        "header (a list of input names)")
    rows = table[1:]
    width = len(header)
    # whole-batch checks at C speed; the loop below only runs to name a bad row
    if set(map(type, rows)) - {list} or set(map(len, rows)) - {width}:
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                raise HttpError(400, "INVALID_INPUTS", f"inputs row {i + 1} must be a list of "
                                f"{width} values")
    names = svc.input_names
    if header == names:
        return rows
    index = {h: i for i, h in enumerate(header)}
    if all(n in index for n in names):
        if not names:
            return [()] * len(rows)
        get = itemgetter(*[index[n] for n in names])
        return list(map(get, rows)) if len(names) > 1 else [(get(r),) for r in rows]
    picks = [index.get(n) for n in names]
    return [tuple(emulated.MISSING if p is None else r[p] for p in picks) for r in rows]


def _rows_from_records(svc, records):
    if set(map(type, records)) - {dict}:
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise HttpError(400, "INVALID_INPUTS", f"inputs[{i}] must be an object")
    names = svc.input_names
    if len(names) > 1 and set(map(len, records)) == {len(names)}:
        try:                                   # records holding exactly the inputs: one C pass
            return list(map(itemgetter(*names), records))
        except KeyError:
            pass
    return list(map(svc.extractor(), records))


def _filter(names_csv, regex):
    keep = None
    if names_csv:
        wanted = {n.strip() for n in str(names_csv).split(",") if n.strip()}
        keep = lambda k: k in wanted                    # noqa: E731
    if regex:
        try:
            pat = re.compile(regex)
        except re.error as exc:
            raise HttpError(400, "INVALID_BODY", f"requested_output_regex: {exc}") from exc
        prev = keep
        keep = (lambda k: pat.search(k) is not None) if prev is None else (
            lambda k: prev(k) and pat.search(k) is not None)
    return keep


def _run(svc, rows, keep):
    t0 = time.perf_counter()
    outs, errs = svc.run_rows(rows)
    if keep is not None:
        outs = [None if o is None else {k: v for k, v in o.items() if keep(k)} for o in outs]
    if errs.count(None) == len(errs):                  # the common case: no record failed
        errors = [[]] * len(errs)
    else:
        errors = [[] if e is None else [emulated.error_entry(e)] for e in errs]
    ms = (time.perf_counter() - t0) * 1000
    return outs, errors, ms


def _meta(svc, correlation_id=None):
    return {"service_id": svc.service_id, "version_id": svc.version_id, "version": svc.version,
            "call_id": str(uuid.uuid4()), "compiler_type": "Neuron",
            "compiler_version": "polycodec-emulator", "correlation_id": correlation_id,
            "request_timestamp": datetime.now(timezone.utc).isoformat()}


# ---- the server ---------------------------------------------------------------------------
class Emulator:
    """In-process emulator: `with Emulator() as emu: emu.url ...`; or `python -m ...`."""

    def __init__(self, host="127.0.0.1", port=0, *, token=None, api_key=None, faults=None,
                 record=0, max_body=DEFAULT_MAX_BODY, max_records=None, shared=None, worker=0,
                 sock=None):
        """shared/worker/sock: set by the `--workers N` runner (polycodec.hybrid.workers) for
        each worker process: a SharedStore and the listening socket all workers accept on."""
        self.registry = Registry()
        self.faults = Faults(**(faults or {}))
        self.token, self.api_key = token, api_key
        self.max_body, self.max_records = max_body, max_records
        self.record_limit = record
        self.requests: list = []
        self.stats = {"requests": 0, "by_status": {}, "records": 0, "faults": {}}
        self._stats_lock = threading.Lock()
        self.shared, self.worker = shared, worker
        self._seen_services, self._seen_faults = 0, None
        self._sync_lock = threading.Lock()
        if sock is None:
            self.httpd = _Server((host, port), _Handler)
        else:
            self.httpd = _Server(sock.getsockname()[:2], _Handler, bind_and_activate=False)
            self.httpd.socket.close()
            self.httpd.socket = sock
            self.httpd.server_address = sock.getsockname()
        self.httpd.emulator = self
        self._thread = None
        if shared is not None:
            self.sync()

    # lifecycle
    @property
    def port(self):
        return self.httpd.server_address[1]

    @property
    def url(self):
        host = self.httpd.server_address[0]
        return f"http://{host}:{self.port}"

    def start(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="hybrid-emulator",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop accepting, close open keep-alive connections, release the port. Safe to call
        when never started (shutdown() would wait forever for a serve loop) and twice."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self.httpd.close_connections()
        self.httpd.server_close()
        if self.shared is not None:
            self.shared.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # services
    def register(self, tenant, folder, service, fn=None, *, inputs=(), outputs=None,
                 version="1.0.0", metadata=None):
        """Add a service: fn(record) -> outputs dict, or outputs={name: expression}."""
        if self.shared is not None:
            if fn is not None:
                raise ValueError("a Python callable cannot be shared between worker processes; "
                                 "register outputs={name: expression} or upload a package")
            return self.upload_zip(tenant, emulated.make_zip(
                {"folder": folder, "service": service, "version": version,
                 "inputs": list(inputs), "outputs": outputs, "metadata": metadata}))
        if fn is not None:
            svc = emulated.from_callable(fn, tenant, folder, service, list(inputs), version,
                                         metadata=metadata)
        else:
            svc = emulated.from_definition({"folder": folder, "service": service,
                                            "version": version, "inputs": list(inputs),
                                            "outputs": outputs, "metadata": metadata}, tenant)
        return self.registry.add(svc)

    def upload_zip(self, tenant, data: bytes):
        svc = emulated.from_zip(data, tenant)              # validates before anything is stored
        if self.shared is None:
            return self.registry.add(svc)
        self.shared.add_service(tenant, data, svc.service_id, svc.version_id, svc.uploaded)
        self.sync()
        return next(s for s in reversed(self.registry.services)
                    if s.version_id == svc.version_id)

    def set_faults(self, **kw):
        if self.shared is None:
            self.faults.set(**kw)
            return
        self.sync()
        merged = Faults(**{**self.faults.as_dict(), **kw})     # validates
        self.shared.set_faults(merged.as_dict())
        self.sync()

    def reset(self):
        if self.shared is not None:
            self.shared.reset(Faults().as_dict())
            self.sync()
            return
        self.faults = Faults()
        with self._stats_lock:
            self.requests.clear()
            self.stats = {"requests": 0, "by_status": {}, "records": 0, "faults": {}}

    # shared state of --workers N (no-op for a single-process emulator)
    def sync(self):
        """Load the uploads and fault settings other workers stored since the last call."""
        if self.shared is None:
            return
        seq, fver = self.shared.versions()
        if seq == self._seen_services and fver == self._seen_faults:
            return
        with self._sync_lock:
            for row_seq, tenant, package, sid, vid, uploaded in self.shared.services_after(
                    self._seen_services):
                svc = emulated.from_zip(bytes(package), tenant)
                svc.service_id, svc.version_id, svc.uploaded = sid, vid, uploaded
                self.registry.add(svc)
                self._seen_services = row_seq
            if fver != self._seen_faults:
                version, settings = self.shared.faults()
                faults = Faults(**settings)
                if settings.get("seed") is not None and self.worker:
                    faults.rng = random.Random(f"{settings['seed']}/{self.worker}")
                self.faults, self._seen_faults = faults, version

    def get_stats(self):
        return self.shared.stats() if self.shared is not None else self.stats

    def get_requests(self):
        return self.shared.requests() if self.shared is not None else list(self.requests)

    def _count(self, status=None, records=0, fault=None):
        if self.shared is not None:
            items = [("records", records)] if records else []
            if status is not None:
                items += [("requests", 1), (f"status:{status}", 1)]
            if fault:
                items.append((f"fault:{fault}", 1))
            self.shared.count(items)
            return
        with self._stats_lock:
            if status is not None:
                self.stats["requests"] += 1
                key = str(status)
                self.stats["by_status"][key] = self.stats["by_status"].get(key, 0) + 1
            self.stats["records"] += records
            if fault:
                self.stats["faults"][fault] = self.stats["faults"].get(fault, 0) + 1

    def _record(self, handler, body):
        if not self.record_limit:
            return
        if self.shared is not None:
            self.shared.record(self.record_limit, self.worker, handler.command, handler.path,
                               list(handler.headers.items()), body)
            return
        with self._stats_lock:
            self.requests.append({"method": handler.command, "path": handler.path,
                                  "headers": list(handler.headers.items()), "body": body})
            del self.requests[:-self.record_limit]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    allow_reuse_address = True
    open_connections = 0
    connection_counts = None      # --workers: shared array the accept loops compare

    def __init__(self, *args, **kwargs):
        self.connections = set()          # accepted sockets not yet shut down
        super().__init__(*args, **kwargs)

    def _opened(self, delta):
        with _CONN_LOCK:
            self.open_connections += delta
            if self.connection_counts is not None:
                self.connection_counts[self.emulator.worker] = self.open_connections

    def process_request(self, request, client_address):
        self._opened(1)                   # shutdown_request() takes it back, on every path
        with _CONN_LOCK:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with _CONN_LOCK:
            self.connections.discard(request)
        self._opened(-1)
        super().shutdown_request(request)

    def close_connections(self, wait=2.0):
        """Wake every keep-alive handler (its next read sees EOF) so none answers after
        stop(); wait up to `wait` seconds for the handlers to finish."""
        with _CONN_LOCK:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)     # the handler thread closes it
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while self.connections and time.monotonic() < deadline:
            time.sleep(0.01)


_CONN_LOCK = threading.Lock()


_ROUTES = [
    ("GET", re.compile(r"^/healthcheck$"), "health"),
    ("GET", re.compile(r"^/version$"), "version"),
    ("GET", re.compile(r"^/status$"), "status"),
    ("POST", re.compile(r"^/api/v3/upload$"), "upload"),
    ("POST", re.compile(r"^/(?P<tenant>[^/]+)/api/v4(?:/public)?/execute$"), "v4"),
    ("POST", re.compile(r"^/(?P<tenant>[^/]+)/api/v3(?:/public)?/folders/(?P<folder>[^/]+)"
                        r"/services/(?P<service>[^/]+)/execute$"), "v3"),
    ("POST", re.compile(r"^/(?P<tenant>[^/]+)/api/v3(?:/public)?/version/(?P<version_id>[^/]+)$"),
     "v3"),
    ("POST", re.compile(r"^/(?P<tenant>[^/]+)/api/v3(?:/public)?/service/(?P<service_id>[^/]+)$"),
     "v3"),
    ("POST", re.compile(r"^/(?P<tenant>[^/]+)/api/v3/validation$"), "validation"),
    ("POST", re.compile(r"^/(?P<tenant>[^/]+)/api/v3/metadata$"), "metadata"),
    ("GET", re.compile(r"^/_emulator/(?P<what>faults|stats|requests)$"), "control"),
    ("POST", re.compile(r"^/_emulator/(?P<what>faults|reset)$"), "control"),
]
_EXECUTE = {"v3", "v4"}
_OPEN = {"health", "version", "status", "control"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "polycodec-hybrid-emulator"
    timeout = 120
    _records, _fault = 0, None

    def log_message(self, *args):  # quiet
        pass

    @property
    def emu(self) -> Emulator:
        return self.server.emulator

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    # plumbing
    def _dispatch(self):
        self._records, self._fault = 0, None      # counted with the status, in one write
        self.emu.sync()
        path = urlsplit(self.path).path
        route, groups = None, {}
        for method, pattern, name in _ROUTES:
            m = pattern.match(path)
            if m:
                if method == self.command:
                    route, groups = name, {k: unquote(v) for k, v in m.groupdict().items()}
                    break
                route = "method"
        try:
            body = self._read_body() if self.command == "POST" else b""
        except HttpError as err:
            self.close_connection = True
            return self._error(err)
        self.emu._record(self, body)
        if route is None:
            return self._error(HttpError(404, "NOT_FOUND", f"no route for {self.command} {path}"))
        if route == "method":
            return self._error(HttpError(405, "METHOD_NOT_ALLOWED", f"{self.command} {path}"))
        fault = None
        faults = self.emu.faults
        if route != "control" and (route in _EXECUTE or faults.scope == "all"):
            fault = faults.draw()
            if faults.latency:
                time.sleep(float(faults.latency))
            self._fault = fault
            if fault == "drop":
                self.emu._count(fault=fault)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault == "429":
                extra = {} if faults.retry_after is None else {"Retry-After": str(faults.retry_after)}
                return self._error(HttpError(429, "TOO_MANY_REQUESTS", "injected 429"), extra)
            if fault == "500":
                return self._error(HttpError(500, "INTERNAL", "injected 500"))
        # execute: the JSON trees of 100,000s of records hold no cycles; collecting while
        # they are built costs more than evaluating them (gcpause.py)
        with gcpause.paused() if route in _EXECUTE else contextlib.nullcontext():
            try:
                if route not in _OPEN:
                    self._check_auth()
                status, payload = getattr(self, "_" + route)(body, **groups)
            except HttpError as err:
                status, payload = None, err
            except Exception as exc:  # a bug or a failing service module: 500 with the reason
                status, payload = None, HttpError(500, "INTERNAL", f"{type(exc).__name__}: {exc}")
        if status is None:
            return self._error(payload)
        self._send(status, payload, slow=fault == "slow")   # dumps makes no containers

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = self._read_chunked()
        else:
            length = self.headers.get("Content-Length")
            if length is None:
                raise HttpError(411, "LENGTH_REQUIRED", "POST needs Content-Length")
            try:
                n = int(length)
            except ValueError as exc:
                raise HttpError(400, "INVALID_BODY", "bad Content-Length") from exc
            if n < 0 or n > self.emu.max_body:
                raise HttpError(413, "TOO_LARGE", f"body of {n} bytes exceeds "
                                f"{self.emu.max_body}")
            data = self.rfile.read(n)
        enc = self.headers.get("Content-Encoding", "").lower().strip()
        if enc in ("", "identity"):
            return data
        if enc not in ("gzip", "deflate"):
            raise HttpError(415, "UNSUPPORTED_ENCODING", f"Content-Encoding {enc!r}")
        d = zlib.decompressobj(16 + zlib.MAX_WBITS if enc == "gzip" else zlib.MAX_WBITS)
        try:
            out = d.decompress(data, self.emu.max_body)
        except zlib.error as exc:
            raise HttpError(400, "INVALID_BODY", f"cannot decompress body: {exc}") from exc
        if d.unconsumed_tail:
            raise HttpError(413, "TOO_LARGE", "decompressed body too large")
        return out

    def _read_chunked(self):
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError as exc:
                raise HttpError(400, "INVALID_BODY", "bad chunk size") from exc
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > self.emu.max_body:
                raise HttpError(413, "TOO_LARGE", "chunked body too large")
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _check_auth(self):
        emu = self.emu
        if emu.token and self.headers.get(tables.H_AUTH) != f"Bearer {emu.token}":
            raise HttpError(401, "UNAUTHORIZED", "a valid bearer token is required")
        if emu.api_key and self.headers.get(tables.H_API_KEY) != emu.api_key:
            raise HttpError(401, "UNAUTHORIZED", "a valid x-synthetic-key is required")

    def _send(self, status, payload, extra_headers=None, slow=False):
        data = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
        self.emu._count(status, records=self._records, fault=self._fault)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header(H_WORKER, str(self.emu.worker))
            for k, v in (extra_headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if slow and data:
                pieces = 10
                step = max(1, len(data) // pieces)
                pause = float(self.emu.faults.slow_seconds) / pieces
                for i in range(0, len(data), step):
                    self.wfile.write(data[i:i + step])
                    self.wfile.flush()
                    time.sleep(pause)
            else:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _error(self, err: HttpError, extra_headers=None):
        self._send(err.status, {"status": "Error", "error": {"status": err.status,
                                                              "code": err.code,
                                                              "message": err.message}},
                   extra_headers)

    @staticmethod
    def _json(body):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HttpError(400, "INVALID_JSON", f"body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise HttpError(400, "INVALID_BODY", "the body must be a JSON object")
        return data

    def _tenant_header(self):
        return self.headers.get(tables.H_TENANT, "")

    # endpoints
    def _health(self, body):
        return 200, {"msg": "ok"}

    def _version(self, body):
        return 200, {"lastPullDate": "2024-05-07T03:43:46.333Z",
                     "filehash": "polycodec-emulator", "version": EMULATOR_VERSION}

    def _status(self, body):
        services = self.emu.registry.services
        tenants = sorted({s.tenant for s in services})
        return 200, {"status": "ok", "emulator": True, "services": len(services),
                     "tenants": tenants}

    def _upload(self, body):
        tenant = self._tenant_header()
        if not tenant:
            raise HttpError(400, "MISSING_TENANT", "the x-tenant-name header is required")
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            raise HttpError(400, "INVALID_PACKAGE", "upload must be multipart/form-data")
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + body)
        files = [p for p in msg.iter_parts() if p.get_param("name", header="content-disposition")
                 == "file"] if msg.is_multipart() else []
        if not files:
            raise HttpError(400, "INVALID_PACKAGE", "no multipart part named 'file'")
        try:
            svc = self.emu.upload_zip(tenant, files[0].get_payload(decode=True) or b"")
        except emulated.DefinitionError as exc:
            raise HttpError(400, "INVALID_PACKAGE", str(exc)) from exc
        return 200, {"status": "Success", "response_data": [
            {"tenant": tenant, "services": [emulated.upload_entry(svc)]}]}

    def _v3(self, body, tenant, folder=None, service=None, version_id=None, service_id=None):
        data = self._json(body)
        req, meta = data.get("request_data"), data.get("request_meta") or {}
        if not isinstance(req, dict) or not isinstance(req.get("inputs"), dict):
            raise HttpError(400, "INVALID_INPUTS", "request_data.inputs must be an object")
        if not isinstance(meta, dict):
            raise HttpError(400, "INVALID_BODY", "request_meta must be an object")
        svc = self.emu.registry.find(
            tenant, version_id=version_id or meta.get("version_id"),
            service_id=service_id or meta.get("service_id"), folder=folder, service=service,
            version=meta.get("version"))
        inputs = req["inputs"]
        keep = _filter(meta.get("requested_output"), meta.get("requested_output_regex"))
        outs, errors, ms = _run(svc, [svc.extractor()(inputs)], keep)
        self._records = 1
        response_data = {"outputs": outs[0] if outs[0] is not None else {},
                         "warnings": [], "errors": errors[0], "service_chain": []}
        if meta.get("response_data_inputs"):
            response_data["inputs"] = inputs
        return 200, {"status": "Success", "response_data": response_data,
                     "response_meta": {**_meta(svc, meta.get("correlation_id")),
                                       "process_time": round(ms, 3),
                                       "call_purpose": meta.get("call_purpose")},
                     "error": None}

    def _v4(self, body, tenant):
        data = self._json(body)
        inputs = data.get("inputs")
        if not isinstance(inputs, list):
            raise HttpError(400, "INVALID_INPUTS", "inputs must be a list of records or a "
                            "table (header row, then rows)")
        svc = self.emu.registry.find_v4(tenant, data)
        if inputs and isinstance(inputs[0], list):
            rows = _rows_from_table(svc, inputs)
        else:
            rows = _rows_from_records(svc, inputs)
        n = len(rows)
        if self.emu.max_records and n > self.emu.max_records:
            raise HttpError(413, "TOO_MANY_RECORDS", f"{n} records exceed the limit of "
                            f"{self.emu.max_records} per request")
        outs, errors, ms = _run(svc, rows, _filter(data.get("output"), None))
        self._records = n
        per = round(ms / n, 4) if n else 0
        return 200, {"outputs": outs, "process_time": [per] * n, "warnings": [[]] * n,
                     "errors": errors, "service_chain": [[]] * n,
                     **_meta(svc, data.get("correlation_id"))}

    def _service_from_meta(self, tenant, data):
        meta = data.get("request_meta")
        if not isinstance(meta, dict):
            raise HttpError(400, "INVALID_BODY", "request_meta must be an object")
        if not meta.get("service_id") and not meta.get("version_id"):
            raise HttpError(400, "MISSING_LOCATOR", "request_meta needs service_id or version_id")
        return self.emu.registry.find(tenant, service_id=meta.get("service_id"),
                                      version_id=meta.get("version_id")), meta

    def _validation(self, body, tenant):
        data = self._json(body)
        svc, meta = self._service_from_meta(tenant, data)
        kind = "dynamic" if meta.get("validation_type") == "dynamic" else "static"
        outputs = {}
        for inp in svc.inputs:
            allow = "List" if inp["options"] else {"number": "Decimal", "integer": "WholeNumber",
                                                   "string": "Text", "boolean": "List"}.get(
                inp["type"], "Any")
            outputs[inp["name"]] = {"validation_allow": allow, "validation_type": kind,
                                    "dependent_inputs": None, "min": inp["min"],
                                    "max": inp["max"], "options": inp["options"]}
        return 200, {"status": "Success", "response_data": {
            "outputs": outputs, "warnings": None, "errors": None, "service_chain": None},
            "response_meta": _meta(svc), "error": None}

    def _metadata(self, body, tenant):
        data = self._json(body)
        svc, _ = self._service_from_meta(tenant, data)
        outputs = {f"Metadata.{k}": v for k, v in svc.metadata.items()}
        outputs.update({"Metadata.Inputs": svc.input_names, "Metadata.Outputs": svc.outputs})
        return 200, {"status": "Success", "response_data": {
            "outputs": outputs, "warnings": [], "errors": [], "service_chain": []},
            "response_meta": _meta(svc), "error": None}

    def _control(self, body, what):
        emu = self.emu
        if what == "faults":
            if self.command == "POST":
                try:
                    emu.set_faults(**self._json(body))
                except (TypeError, ValueError) as exc:
                    raise HttpError(400, "INVALID_BODY", str(exc)) from exc
            return 200, emu.faults.as_dict()
        if what == "reset":
            emu.reset()
            return 200, {"reset": True}
        if what == "stats":
            return 200, emu.get_stats()
        return 200, [{**r, "body": base64.b64encode(r["body"]).decode()}
                     for r in emu.get_requests()]


@contextlib.contextmanager
def spawn_emulator(*args, workers=1, timeout=20.0):
    """Run `python -m polycodec.hybrid.emulator --port 0 [--workers N] ...` in a subprocess;
    yields (url, process, startup lines). The process (and its workers) is stopped on exit."""
    cmd = [sys.executable, "-u", "-m", "polycodec.hybrid.emulator", "--port", "0", *args]
    if workers != 1:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines, url = [], None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if "listening on " in line:
                url = line.rsplit("listening on ", 1)[1].strip()
                break
        if url is None:
            raise RuntimeError(f"emulator did not start: {lines} {proc.stderr.read()[:2000]}")
        yield url, proc, lines
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


# ---- CLI ----------------------------------------------------------------------------------
def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m polycodec.hybrid.emulator",
                                description="Local Hybrid Runner emulator. Uploaded service code "
                                "runs UNSANDBOXED: keep it on 127.0.0.1.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000, help="0 picks a free port")
    p.add_argument("--token", help="require this bearer token")
    p.add_argument("--api-key", help="require this x-synthetic-key")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added per execute")
    p.add_argument("--rate-429", type=float, default=0.0)
    p.add_argument("--rate-500", type=float, default=0.0)
    p.add_argument("--rate-drop", type=float, default=0.0, help="close without answering")
    p.add_argument("--rate-slow", type=float, default=0.0, help="trickle the response")
    p.add_argument("--slow-seconds", type=float, default=1.0)
    p.add_argument("--retry-after", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--max-records", type=int, default=None)
    p.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY)
    p.add_argument("--record", type=int, default=0, help="keep the last N requests")
    p.add_argument("--preload", action="append", default=[], metavar="TENANT=ZIP",
                   help="upload a package at start")
    p.add_argument("--demo", metavar="TENANT", help="preload the 10-input numeric demo service "
                   "(bench/score) for TENANT")
    p.add_argument("--workers", type=int, default=1, help="worker processes answering on the "
                   "port (uploads, faults, stats and recordings shared; POSIX only)")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers must be >= 1")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("WARNING: binding a non-loopback address; uploaded service code runs unsandboxed",
              file=sys.stderr)
    kwargs = dict(token=args.token, api_key=args.api_key, record=args.record,
                  max_body=args.max_body, max_records=args.max_records,
                  faults=dict(latency=args.latency, rate_429=args.rate_429,
                              rate_500=args.rate_500, rate_drop=args.rate_drop,
                              rate_slow=args.rate_slow, slow_seconds=args.slow_seconds,
                              retry_after=args.retry_after, seed=args.seed))
    if args.workers > 1:
        from . import workers
        packages = []
        for item in args.preload:
            tenant, _, path = item.partition("=")
            with open(path, "rb") as f:
                packages.append((tenant, f.read()))
        if args.demo:
            packages.append((args.demo, emulated.make_zip(emulated.numeric_definition())))
        return workers.run(args.workers, args.host, args.port, kwargs, packages)
    emu = Emulator(args.host, args.port, **kwargs)
    for item in args.preload:
        tenant, _, path = item.partition("=")
        with open(path, "rb") as f:
            svc = emu.upload_zip(tenant, f.read())
        print(f"loaded {tenant}/{svc.folder}/{svc.service}[{svc.version}] "
              f"version_id={svc.version_id}", flush=True)
    if args.demo:
        svc = emu.registry.add(emulated.from_definition(emulated.numeric_definition(), args.demo))
        print(f"loaded {args.demo}/{svc.folder}/{svc.service}[{svc.version}] "
              f"version_id={svc.version_id}", flush=True)
    print(f"polycodec hybrid emulator listening on {emu.url}", flush=True)
    try:
        emu.httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        emu.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
