"""The HTTP side of the emulator: routing, body reading, fault injection, answers.
The endpoints themselves are in endpoints.py."""
from __future__ import annotations

import contextlib
import re
import socket
import time
import zlib
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlsplit

import orjson

from .. import gcpause, tables
from .endpoints import Endpoints
from .errors import HttpError

H_WORKER = "x-emulator-worker"          # response header: index of the process that answered


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


class Handler(Endpoints, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "polycodec-hybrid-emulator"
    timeout = 120
    _records, _fault = 0, None

    def log_message(self, *args):  # quiet
        pass

    @property
    def emu(self):
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
