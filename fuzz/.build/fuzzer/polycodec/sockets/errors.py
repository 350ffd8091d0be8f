"""Typed errors of the sockets layer (ValueError subclasses where the input is at fault)."""
from __future__ import annotations

from typing import NamedTuple


class Problem(NamedTuple):
    """One validation problem: `path` like ``$.endpoints['e'].calls[0].methods[1]``."""

    path: str
    message: str

    def __str__(self):
        return f"{self.path}: {self.message}"

    def to_dict(self):
        return {"path": self.path, "message": self.message}


class SocketValidationError(ValueError):
    """Every problem found at once (structure and rules), each with its path."""

    def __init__(self, problems, what="custom socket"):
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid {what}: {len(self.problems)} problem(s)\n{lines}")


class MethodNotAllowedError(ValueError):
    """run() with a method no call of the endpoint accepts (checked before any request)."""

    def __init__(self, endpoint, method, allowed):
        self.endpoint = endpoint
        self.method = method
        self.allowed = list(allowed)
        super().__init__(
            f"method {method!r} is not accepted by endpoint {endpoint!r} "
            f"(its calls accept {', '.join(self.allowed) or 'nothing'})"
        )


class SocketsHTTPError(Exception):
    """The server answered with an error status. `detail` is its message, `body` the parsed body."""

    def __init__(self, status_code, method, url, body):
        self.status_code = status_code
        self.method = method
        self.url = url
        self.body = body
        detail = body.get("detail") if isinstance(body, dict) else None
        self.detail = detail if detail is not None else body
        super().__init__(f"{method} {url} -> {status_code}: {self.detail}")
