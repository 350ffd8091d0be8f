"""Typed errors of the sockets layer (ValueError subclasses where the input is at fault)."""
from __future__ import annotations

from ..errors import PolycodecError, Problem

__all__ = ["Problem", "SocketsError", "SocketValidationError", "MethodNotAllowedError",
           "SocketsHTTPError"]


class SocketsError(PolycodecError):
    """Base class of every error raised by polycodec.sockets."""


class SocketValidationError(SocketsError, ValueError):
    """Every problem found at once (structure and rules), each with its path."""

    def __init__(self, problems, what="custom socket"):
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid {what}: {len(self.problems)} problem(s)\n{lines}")


class MethodNotAllowedError(SocketsError, ValueError):
    """run() with a method no call of the endpoint accepts (checked before any request)."""

    def __init__(self, endpoint, method, allowed):
        self.endpoint = endpoint
        self.method = method
        self.allowed = list(allowed)
        super().__init__(
            f"method {method!r} is not accepted by endpoint {endpoint!r} "
            f"(its calls accept {', '.join(self.allowed) or 'nothing'})"
        )


class SocketsHTTPError(SocketsError):
    """The server answered with an error status `status`. `detail` is its message, `body` the
    parsed body."""

    def __init__(self, status_code, method, url, body):
        self.status = status_code
        self.method = method
        self.url = url
        self.body = body
        detail = body.get("detail") if isinstance(body, dict) else None
        self.detail = detail if detail is not None else body
        super().__init__(f"{method} {url} -> {status_code}: {self.detail}")

    @property
    def status_code(self):
        """The HTTP status (older name of `status`)."""
        return self.status
