"""The one source of truth for the YouWol backend facts (shared/spec/socket-payloads.md).

Code (install body, client, local pyrun backend) and tests read these tables; nothing else
repeats a route, the header name, the method list, the apiKey rule or a default.
"""
from __future__ import annotations

import re

# --- partition ------------------------------------------------------------------------------
PARTITION_HEADER = "x-backends-partition"
# Python has no browser tab to derive a partition from: the client and the install body both
# use the server-side default partition name.
DEFAULT_PARTITION = "Default"
# A partition travels in an HTTP header: visible ASCII and inner spaces only, bounded.
PARTITION_PATTERN = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$")
PARTITION_MAX_LEN = 256

# --- routes ---------------------------------------------------------------------------------
# name -> (HTTP method, path template).  `{path}` is the backend-relative rest of the URL.
ROUTES = {
    "install": ("POST", "/admin/system/backends/install"),
    "backend": (None, "/backends/{name}/{version}/{path}"),
    "pyrun_home": ("GET", "/"),
    "pyrun_run": ("POST", "/run"),
}
# Methods the py-youwol dispatcher forwards to a backend.
ALLOWED_METHODS = ("GET", "POST", "PUT", "DELETE")

# --- install body ---------------------------------------------------------------------------
GRAPH_TYPE = "sequential-v2"
MODULE_TYPE = "backend"
LOCK_KEYS = ("name", "version", "id", "namespace", "type", "fingerprint", "exportedSymbol",
             "aliases", "apiKey")
INSTALL_KEYS = ("graphType", "lock", "definition", "backendsConfig", "partitionId")
RESPONSE_KEYS = ("baseUrl", "partitionId", "name", "version", "exportedClientSymbol",
                 "clientBundle", "config")
# Configuration keys the server reads (values: {option: string} passed as build arguments).
CONFIG_KEYS = ("build",)
# Keys the server accepts without error but never reads: refused here, with the reason.
IGNORED_CONFIG_KEYS = {
    "buildArgs": "the server reads build options from 'build'; a 'buildArgs' key is silently "
                 "ignored by py-youwol, so the backend would be built without these options "
                 "(rename it to 'build')",
}
# A backend name sits in a URL path segment and in the base64url id.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
NAME_MAX_LEN = 214  # npm's package-name limit (backends are published like npm packages)
# Exact semantic version (the lock and the client URL both need an exact one).
VERSION_PATTERN = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")

# apiKey rule, first matching row wins: (version part, prefix). The key is the prefix followed
# by that part, for the first part that is > 0; the last row applies otherwise.
API_KEY_RULE = (("major", ""), ("minor", "0"), ("patch", "00"))
SPEC_API_KEY_EXAMPLES = {"0.1.1": "01"}  # quoted by the spec page

# --- pyrun /run -----------------------------------------------------------------------------
RUN_REQUEST_KEYS = {"cellId": str, "code": str, "capturedIn": dict, "capturedOut": list}
RUN_RESPONSE_KEYS = {"output": str, "error": str, "capturedOut": dict}
# First line printed by pyrun_backend into every cell's output.
CELL_BANNER = "Execute cell {cell_id}\n"

# --- local pyrun backend defaults (all configurable on the command line) --------------------
PYRUN_DEFAULTS = {
    "host": "127.0.0.1",
    "name": "pyrun_backend",
    "version": "0.1.0",
    "cell_timeout": 30.0,          # seconds per cell; the worker is killed past it
    "start_timeout": 60.0,         # seconds for a new partition's worker to start
    "max_body": 16 * 2**20,        # bytes of request body
    "max_output": 2**20,           # characters kept of a cell's stdout and of its stderr
    "max_result": 64 * 2**20,      # bytes of a worker's serialised answer
    "max_partitions": 16,          # live worker processes
}

# --- JSON-safe conversion -------------------------------------------------------------------
NONFINITE_POLICIES = ("error", "null")
MAX_DEPTH = 256
# orjson.dumps refuses more than 254 nested containers, so no /run body or answer may be
# deeper. A captured value sits two levels down ({"capturedIn": {name: value}}).
WIRE_MAX_DEPTH = 254
VALUE_MAX_DEPTH = WIRE_MAX_DEPTH - 2


def api_key(version: str) -> str:
    """apiKey of an exact version, by API_KEY_RULE ('0.1.1' -> '01', '2.0.0' -> '2')."""
    m = VERSION_PATTERN.fullmatch(version) if isinstance(version, str) else None
    if not m:
        raise ValueError(f"not an exact semantic version: {version!r}")
    parts = dict(zip(("major", "minor", "patch"), (int(g) for g in m.groups())))
    for part, prefix in API_KEY_RULE:
        if parts[part] > 0:
            return f"{prefix}{parts[part]}"
    part, prefix = API_KEY_RULE[-1]
    return f"{prefix}{parts[part]}"


def route(route_name: str, **params) -> str:
    """Path of a ROUTES row with its parameters filled in."""
    return ROUTES[route_name][1].format(**params)
