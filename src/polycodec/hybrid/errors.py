"""Typed errors of the Hybrid Runner client."""
from __future__ import annotations

from ..errors import PolycodecError


class HybridError(PolycodecError):
    """Base class of every error raised by polycodec.hybrid."""

    def __init__(self, message, cause=None):
        super().__init__(message)
        self.message = message
        self.cause = cause


class HybridSdkError(HybridError, ValueError):
    """A bad argument (URI, option, input) caught before anything is sent."""


class HybridApiError(HybridError):
    """The runner answered with an error status, or could not be reached (status None).

    `status` is the HTTP status (None for connection errors), `body` the decoded error body,
    `request_id` the x-request-id that was sent, `attempts` how many times it was tried.
    """

    def __init__(self, message, *, status=None, body=None, url=None, request_id=None,
                 attempts=1, cause=None):
        super().__init__(message, cause)
        self.status = status
        self.body = body
        self.url = url
        self.request_id = request_id
        self.attempts = attempts

    def to_dict(self):
        return {"status": self.status, "message": self.message, "body": self.body,
                "request_id": self.request_id, "attempts": self.attempts}


class BatchError(HybridError):
    """raise_on_error=True and a batch failed after its retries. `result` holds what was done."""

    def __init__(self, message, *, result=None, error=None):
        super().__init__(message, error)
        self.result = result
        self.error = error
