"""The HTTP side of the emulator: routing, auth, fault injection and the runner's error body,
on the shared JSON server (polycodec._jsonhttp). The endpoints are in endpoints.py."""
from __future__ import annotations

import contextlib
import re
import socket
import time
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

import orjson

from ..._jsonhttp import HTTPProblem, JSONHandler
from .. import gcpause, tables
from .endpoints import Endpoints
from .errors import refused

H_WORKER = "x-emulator-worker"          # response header: index of the process that answered
READ_TIMEOUT = 120.0

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


class Handler(Endpoints, JSONHandler):
    server_version = "polycodec-hybrid-emulator"
    timeout = READ_TIMEOUT
    _records, _fault = 0, None

    @property
    def emu(self):
        return self.server.emulator

    def error_body(self, problem: HTTPProblem):
        code = problem.code or HTTPStatus(problem.status).name
        return {"status": "Error", "error": {"status": problem.status, "code": code,
                                             "message": problem.detail}}

    def send_reply(self, status, body=b"", content_type="application/json", headers=None, *,
                   trickle=0.0):
        # every answer is counted (with its records and fault) and names its process
        self.emu._count(status, records=self._records, fault=self._fault)
        super().send_reply(status, body, content_type,
                           {H_WORKER: str(self.emu.worker), **(headers or {})}, trickle=trickle)

    def handle_json(self):
        self._records, self._fault = 0, None      # counted with the status, in one write
        emu = self.emu
        emu.sync()
        path = urlsplit(self.path).path
        route, groups = None, {}
        for method, pattern, name in _ROUTES:
            m = pattern.match(path)
            if m:
                if method == self.command:
                    route, groups = name, {k: unquote(v) for k, v in m.groupdict().items()}
                    break
                route = "method"
        # a GET's body (rare) is read too, so it is never taken for the next request
        body = self.read_body(emu.max_body, length_required=self.command == "POST",
                              chunked=True, encodings=("gzip", "deflate"))
        emu._record(self, body)
        if route is None:
            raise refused(404, "NOT_FOUND", f"no route for {self.command} {path}")
        if route == "method":
            raise refused(405, "METHOD_NOT_ALLOWED", f"{self.command} {path}")
        fault = self._inject(route)
        if fault == "drop":
            return
        # execute: the JSON trees of 100,000s of records hold no cycles; collecting while
        # they are built costs more than evaluating them (gcpause.py)
        with gcpause.paused() if route in _EXECUTE else contextlib.nullcontext():
            try:
                if route not in _OPEN:
                    self._check_auth()
                status, payload = getattr(self, "_" + route)(body, **groups)
                data = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
            except HTTPProblem:
                raise
            except Exception as exc:  # a bug or a failing service module: 500 with the reason
                raise refused(500, "INTERNAL", f"{type(exc).__name__}: {exc}") from exc
        self.send_json(status, data,
                       trickle=float(emu.faults.slow_seconds) if fault == "slow" else 0.0)

    def _inject(self, route):
        """Draw this request's fault: sleep, drop the connection, or refuse with 429/500."""
        faults = self.emu.faults
        if route == "control" or (route not in _EXECUTE and faults.scope != "all"):
            return None
        fault = self._fault = faults.draw()
        if faults.latency:
            time.sleep(float(faults.latency))
        if fault == "drop":
            self.emu._count(fault=fault)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif fault == "429":
            raise HTTPProblem(429, "injected 429", code="TOO_MANY_REQUESTS", headers={} if
                              faults.retry_after is None else {"Retry-After": str(faults.retry_after)})
        elif fault == "500":
            raise refused(500, "INTERNAL", "injected 500")
        return fault

    def _check_auth(self):
        emu = self.emu
        if emu.token and self.headers.get(tables.H_AUTH) != f"Bearer {emu.token}":
            raise refused(401, "UNAUTHORIZED", "a valid bearer token is required")
        if emu.api_key and self.headers.get(tables.H_API_KEY) != emu.api_key:
            raise refused(401, "UNAUTHORIZED", "a valid x-synthetic-key is required")

    @staticmethod
    def _json(body):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise refused(400, "INVALID_JSON", f"body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise refused(400, "INVALID_BODY", "the body must be a JSON object")
        return data

    def _tenant_header(self):
        return self.headers.get(tables.H_TENANT, "")
