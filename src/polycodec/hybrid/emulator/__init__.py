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

Modules: server.py (Emulator: state and lifecycle), handler.py (HTTP: routing, bodies, faults)
and endpoints.py (the routes), execute.py (evaluating execute bodies), services.py (service
definitions and packages), registry.py, faults.py, processes.py and store.py (`--workers N`),
spawn.py (a subprocess for tests), __main__.py (the command line).
"""
from __future__ import annotations

from .endpoints import EMULATOR_VERSION
from .errors import HttpError
from .faults import Faults
from .handler import H_WORKER
from .registry import Registry
from .server import DEFAULT_MAX_BODY, Emulator
from .spawn import spawn_emulator

__all__ = ["Emulator", "Faults", "Registry", "HttpError", "spawn_emulator", "H_WORKER",
           "EMULATOR_VERSION", "DEFAULT_MAX_BODY"]
