"""Syncano custom sockets: models, exact wire payloads, validation, a client and an emulator.

See docs/sockets.md. The facts (methods, runtimes, statuses, routes, name rules) live in
`polycodec.sockets.spec`.
"""
from . import spec
from .client import SocketsClient
from .errors import (MethodNotAllowedError, Problem, SocketsError, SocketsHTTPError,
                     SocketValidationError)
from .models import (ClassDependency, CustomSocket, Endpoint, RuntimeChoices, Script, ScriptCall,
                     ScriptDependency, ScriptEndpoint, SocketEndpoint, from_payload)
from .payload import to_body, to_payload, update_payload
from .validate import problems, validate

__all__ = [
    "spec", "SocketsClient", "MethodNotAllowedError", "Problem", "SocketsError",
    "SocketsHTTPError", "SocketValidationError", "ClassDependency", "CustomSocket", "Endpoint",
    "RuntimeChoices", "Script", "ScriptCall", "ScriptDependency", "ScriptEndpoint",
    "SocketEndpoint",
    "from_payload", "to_body", "to_payload", "update_payload", "problems", "validate",
]
