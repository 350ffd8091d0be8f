"""The emulator's refusal: an HTTP status, the runner's error code and a message."""
from __future__ import annotations


class HttpError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
