"""Typed errors. Both are ValueError subclasses so `except ValueError` keeps working."""


class EncodeError(ValueError):
    """A value cannot be encoded. `path` names where it sits, e.g. ``$.args[2]['x']``."""

    def __init__(self, message, path="$"):
        super().__init__(f"{message} (at {path})")
        self.path = path


class DecodeError(ValueError):
    """Input cannot be decoded. `offset` is the byte offset where the problem was found."""

    def __init__(self, message, offset=None):
        where = "" if offset is None else f" (at byte {offset})"
        super().__init__(f"{message}{where}")
        self.offset = offset


class RemoteError(Exception):
    """A decoded `{_rtype: "error"}`: the peer's message and its formatted traceback."""

    def __init__(self, message, trace=""):
        super().__init__(message)
        self.message = message
        self.trace = trace or ""
