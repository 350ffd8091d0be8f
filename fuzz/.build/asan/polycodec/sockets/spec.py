"""The one source of truth for Syncano custom-socket facts (shared/spec/socket-payloads.md).

Models, validation, client, emulator and tests all read these tables; change a fact here only.
"""
from __future__ import annotations

import re

API_VERSION = "v1.1"

# --- methods -------------------------------------------------------------------------------
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")  # uppercase, matched case-sensitively
WILDCARD = "*"  # only as the whole list: ["*"] means all of METHODS
BODY_METHODS = ("POST", "PUT", "PATCH")  # send `data` as the JSON body; GET/DELETE send none

# --- runtimes (RuntimeChoices attribute -> wire name) -----------------------------------------
RUNTIMES = {
    "PYTHON": "python",
    "PYTHON_V4_2": "python_library_v4.2",
    "PYTHON_V5_0": "python_library_v5.0",
    "NODEJS": "nodejs",
    "NODEJS_V0_4": "nodejs_library_v0.4",
    "NODEJS_V1_0": "nodejs_library_v1.0",
    "GOLANG": "golang",
    "SWIFT": "swift",
    "PHP": "php",
    "RUBY": "ruby",
}
RUNTIME_NAMES = tuple(RUNTIMES.values())
# Runtimes the local emulator can execute (with the current Python); others answer
# "runtime not available here".
PYTHON_RUNTIMES = ("python", "python_library_v4.2", "python_library_v5.0")

# --- call and dependency types ---------------------------------------------------------------
CALL_TYPES = ("script",)
DEPENDENCY_TYPES = ("script", "class")
# Wire key order, as the library emits it for objects built with the models.
CALL_KEYS = ("type", "name", "methods")
SCRIPT_DEPENDENCY_KEYS = ("type", "name", "runtime_name", "source")
CLASS_DEPENDENCY_KEYS = ("type", "name", "schema")
CLASS_FIELD_KEYS = ("name", "type")

# --- socket body ----------------------------------------------------------------------------
# Fields sent on create, in the library's order. STRING_ENCODED ones travel as JSON strings
# inside the JSON body; the others are plain. None values are left out.
WRITE_FIELDS = ("name", "description", "endpoints", "dependencies", "metadata", "config")
STRING_ENCODED = ("endpoints", "dependencies", "metadata", "config")
UPDATE_FIELDS = ("name", "endpoints", "dependencies")  # PATCH sends these, full
READ_ONLY_FIELDS = ("status", "status_info", "created_at", "updated_at", "links")

# --- status ---------------------------------------------------------------------------------
STATUS_PROCESSING = "processing"
STATUS_ERROR = "error"
STATUS_CHECKING = "checking"
STATUS_OK = "ok"
STATUS_PROMPT = "prompt"
STATUSES = (STATUS_PROCESSING, STATUS_ERROR, STATUS_CHECKING, STATUS_OK, STATUS_PROMPT)

# --- name rules -----------------------------------------------------------------------------
SOCKET_NAME_MAX = 64  # library
SOCKET_NAME_RE = re.compile(r"^[a-z][a-z0-9_\-/]*[a-z0-9]$")  # platform (2018)
SOCKET_NAME_RESERVED = ("install",)  # collides with the install route
ENDPOINT_NAME_MAX = 256
ENDPOINT_NAME_FORBIDDEN_SUFFIXES = ("/history", "/traces")

# --- routes (relative to host; format with i=instance, s=socket, e=endpoint) -----------------
_I = f"/{API_VERSION}/instances/{{i}}"
ROUTES = {
    "sockets": _I + "/sockets/",  # POST create, GET list
    "socket": _I + "/sockets/{s}/",  # GET, PUT, PATCH, DELETE
    "recheck": _I + "/sockets/{s}/recheck/",  # POST, no body
    "install": _I + "/sockets/install/",  # POST {name, install_url, config}
    "socket_endpoints": _I + "/sockets/{s}/endpoints/",  # GET list
    "socket_endpoint": _I + "/sockets/{s}/endpoints/{e}/",  # GET details
    "all_endpoints": _I + "/endpoints/sockets/",  # GET list, every socket
    "run": _I + "/endpoints/sockets/{s}/{e}/",  # any METHODS
}
# The methods each route answers (the emulator's router reads this; others get 405).
ROUTE_METHODS = {
    "sockets": ("POST", "GET"),
    "socket": ("GET", "PUT", "PATCH", "DELETE"),
    "recheck": ("POST",),
    "install": ("POST",),
    "socket_endpoints": ("GET",),
    "socket_endpoint": ("GET",),
    "all_endpoints": ("GET",),
    "run": METHODS,
}

# --- auth headers ---------------------------------------------------------------------------
AUTH_HEADER = "Authorization"  # "token <api_key>"
AUTH_SCHEME = "token"
API_KEY_HEADER = "X-API-KEY"  # user auth: with X-USER-KEY
USER_KEY_HEADER = "X-USER-KEY"

# --- limits and defaults (polycodec's own; all configurable) ---------------------------------
DEFAULT_MAX_BODY = 1 << 20  # emulator: request bodies above this get 413
DEFAULT_SCRIPT_TIMEOUT = 10.0  # emulator: seconds per script run
DEFAULT_MAX_SCRIPT_OUTPUT = 1 << 20  # emulator: stdout/stderr kept per run
DEFAULT_PAGE_SIZE = 100  # emulator list pages
MAX_PAGE_SIZE = 1000
