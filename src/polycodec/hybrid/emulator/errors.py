"""The emulator's refusals: the shared HTTPProblem with the runner's error code."""
from __future__ import annotations

from ..._jsonhttp import HTTPProblem


def refused(status, code, message) -> HTTPProblem:
    """A refusal answered as the runner does: status, code (INVALID_INPUTS...) and message."""
    return HTTPProblem(status, message, code=code)
