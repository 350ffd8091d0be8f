"""Typed errors: one tree, rooted at `PolycodecError`.

    PolycodecError
    ├── EncodeError (ValueError)             .path    core: a value cannot be encoded
    ├── DecodeError (ValueError)             .offset  core: bytes cannot be decoded
    │   └── hypha.envelope.BrokenFrame                a Hypha frame's extra cannot be read
    ├── RemoteError                          a decoded {_rtype: "error"} from a peer
    ├── hybrid.HybridError                   .message .cause
    │   ├── HybridSdkError (ValueError)      a bad argument, caught before sending
    │   ├── HybridApiError                   .status (None: not reached) .body .attempts
    │   └── BatchError                       .result .error
    ├── sockets.SocketsError
    │   ├── SocketValidationError (ValueError)  .problems
    │   ├── MethodNotAllowedError (ValueError)
    │   └── SocketsHTTPError                 .status (alias .status_code) .detail .body
    └── backends.BackendsError
        ├── PayloadError (ValueError)        .problems
        ├── ResponseTooLarge (ValueError)
        ├── BackendHTTPError                 .status .message .body
        └── CellError (RuntimeError)         .result

Every class keeps the built-in base it had before the tree existed (in brackets), so
`except ValueError` and `except RuntimeError` clauses still catch. Errors that report several
problems at once hold a list of `Problem(path, message)`.
"""
from __future__ import annotations

from typing import NamedTuple


class PolycodecError(Exception):
    """Base class of every error polycodec raises to its callers."""


class Problem(NamedTuple):
    """One problem of a payload: `path` like ``$.endpoints['e'].calls[0]``, and what is wrong."""

    path: str
    message: str

    def __str__(self):
        return f"{self.path}: {self.message}"

    def to_dict(self):
        return {"path": self.path, "message": self.message}


class EncodeError(PolycodecError, ValueError):
    """A value cannot be encoded. `path` names where it sits, e.g. ``$.args[2]['x']``."""

    def __init__(self, message, path="$"):
        super().__init__(f"{message} (at {path})")
        self.path = path


class DecodeError(PolycodecError, ValueError):
    """Input cannot be decoded. `offset` is the byte offset where the problem was found."""

    def __init__(self, message, offset=None):
        where = "" if offset is None else f" (at byte {offset})"
        super().__init__(f"{message}{where}")
        self.offset = offset


class RemoteError(PolycodecError):
    """A decoded `{_rtype: "error"}`: the peer's message and its formatted traceback."""

    def __init__(self, message, trace=""):
        super().__init__(message)
        self.message = message
        self.trace = trace or ""
