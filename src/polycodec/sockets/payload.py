"""The wire form of a custom socket, exactly as the `syncano` 5.4.6 library sends it.

`endpoints`, `dependencies`, `metadata` and `config` travel as JSON *strings* inside the JSON
body, written with ``json.dumps`` defaults (", " and ": " separators, ASCII escapes) so the
bytes match the library's. Reading accepts a string or a native value for each of them.
This module knows only the text: the models (parts.py, models.py) read and build on it.
"""
from __future__ import annotations

import json

from . import spec
from .errors import Problem


def dumps(value):
    """JSON text the way the library writes it (json.dumps defaults)."""
    return json.dumps(value)


def to_payload(socket):
    """The create body as a dict: string-encoded fields already JSON strings, None left out."""
    native = socket.to_dict()
    return {k: dumps(v) if k in spec.STRING_ENCODED else v for k, v in native.items()}


def update_payload(socket):
    """The PATCH body of update(): the full name, endpoints and dependencies (strings)."""
    native = socket.to_dict()
    return {k: dumps(native[k]) if k in spec.STRING_ENCODED else native[k]
            for k in spec.UPDATE_FIELDS if k in native}


def to_body(socket):
    """The create body as bytes (what goes on the wire)."""
    return dumps(to_payload(socket)).encode()


# --- reading ---------------------------------------------------------------------------------
class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise _DuplicateKey(k)
        seen[k] = v
    return seen


def loads(text, path, problems):
    """Parse JSON text; a syntax error or duplicate key becomes a Problem (returns None)."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as e:
        problems.append(Problem(path, f"duplicate key {e.args[0]!r} in JSON"))
    except (ValueError, RecursionError) as e:
        problems.append(Problem(path, f"not valid JSON: {e}"))
    return None


def decoded(value, path, problems):
    """A field that may be string-encoded: decode strings, pass native values through."""
    if isinstance(value, (str, bytes, bytearray)):
        return loads(value, path, problems)
    return value


def type_name(value):
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
            int: "number", float: "number"}.get(type(value), type(value).__name__)


def expect(value, kind, path, problems, what):
    if not isinstance(value, kind):
        problems.append(Problem(path, f"{what} must be {_KINDS[kind]}, got {type_name(value)}"))
        return False
    return True


_KINDS = {dict: "an object", list: "an array", str: "a string"}


