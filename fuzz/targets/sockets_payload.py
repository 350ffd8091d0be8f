"""Syncano custom-socket bodies: `polycodec.sockets.models.from_payload` on any bytes (JSON or
not) must give a socket or raise SocketValidationError, the same for bytes, bytearray and the
parsed JSON; a socket read must come back equal through `to_body`."""
from __future__ import annotations

import json
import re

from harness import Finding

from polycodec.sockets.errors import SocketValidationError
from polycodec.sockets.models import from_payload
from polycodec.sockets.payload import to_body


def _read(data):
    try:
        return ("ok", from_payload(data))
    except SocketValidationError as e:
        if not e.problems:
            raise Finding("SocketValidationError without problems") from None
        return ("invalid", None)


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _unique(pairs):
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate key")
    return out


def one_input(data: bytes):
    a = _read(data)
    # Known and reported: escaped lone surrogates in the double-encoded fields can pair up
    # into one character on the way back; such inputs skip the round trip.
    if a[0] == "ok" and not _SURROGATE.search(data) and from_payload(to_body(a[1])) != a[1]:
        raise Finding("socket changed through to_body/from_payload")
    b = _read(bytearray(data))
    if a[0] != b[0]:
        raise Finding(f"bytes gives {a[0]}, bytearray gives {b[0]}")
    try:   # a body with a duplicate key is refused as bytes; a dict cannot carry one
        parsed = json.loads(data, object_pairs_hook=_unique)
    except (ValueError, RecursionError):
        return
    if not isinstance(parsed, dict):    # a str would be read as JSON text again
        return
    c = _read(parsed)
    if c[0] != a[0]:
        raise Finding(f"bytes gives {a[0]}, the parsed JSON gives {c[0]}")
