"""Typed errors of polycodec.backends."""
from __future__ import annotations

from ..errors import PolycodecError, Problem


class BackendsError(PolycodecError):
    """Base class of every error raised by polycodec.backends."""


class PayloadError(BackendsError, ValueError):
    """A model or payload breaks one or more rules; `problems` lists every
    Problem(path, message)."""

    def __init__(self, problems):
        self.problems = [Problem(*p) for p in problems]
        text = "; ".join(f"{path}: {msg}" for path, msg in self.problems)
        super().__init__(f"{len(self.problems)} problem(s): {text}")


class BackendHTTPError(BackendsError):
    """A backend answered with a non-2xx status; `status`, `message` and `body` say what."""

    def __init__(self, status, message, body=None, url=""):
        super().__init__(f"HTTP {status} from {url}: {message}")
        self.status = status
        self.message = message
        self.body = body
        self.url = url


class CellError(BackendsError, RuntimeError):
    """A pyrun cell reported an error (`RunResult.raise_for_error`)."""

    def __init__(self, result):
        super().__init__(result.error.strip() or "cell failed")
        self.result = result


class ResponseTooLarge(BackendsError, ValueError):
    """A response body went past the client's `max_response` bytes (reading stopped there)."""
