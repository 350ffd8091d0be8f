# polycodec.sockets' public API (classes typed in their modules; functions typed here).
from collections.abc import Mapping
from typing import Any

from . import spec as spec
from .client import SocketsClient as SocketsClient
from .errors import (
    MethodNotAllowedError as MethodNotAllowedError,
    Problem as Problem,
    SocketsError as SocketsError,
    SocketsHTTPError as SocketsHTTPError,
    SocketValidationError as SocketValidationError,
)
from .models import (
    ClassDependency as ClassDependency,
    CustomSocket as CustomSocket,
    Endpoint as Endpoint,
    RuntimeChoices as RuntimeChoices,
    Script as Script,
    ScriptCall as ScriptCall,
    ScriptDependency as ScriptDependency,
    ScriptEndpoint as ScriptEndpoint,
    SocketEndpoint as SocketEndpoint,
)

def from_payload(data: bytes | str | Mapping[str, Any]) -> CustomSocket: ...
def to_body(socket: CustomSocket) -> bytes: ...
def to_payload(socket: CustomSocket) -> dict[str, Any]: ...
def update_payload(socket: CustomSocket) -> dict[str, Any]: ...
def problems(socket: CustomSocket) -> list[Problem]: ...
def validate(socket: CustomSocket) -> None: ...

__all__ = [
    "spec", "SocketsClient", "MethodNotAllowedError", "Problem", "SocketsError", "SocketsHTTPError",
    "SocketValidationError", "ClassDependency", "CustomSocket", "Endpoint", "RuntimeChoices",
    "Script", "ScriptCall", "ScriptDependency", "ScriptEndpoint", "SocketEndpoint",
    "from_payload", "to_body", "to_payload", "update_payload", "problems", "validate",
]
