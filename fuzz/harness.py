"""What the fuzz targets share: reading choices from the input, exact comparison, outcomes.

Targets do not import atheris, so the same `one_input` runs guided (fuzz/run.py) and replayed
under AddressSanitizer (fuzz/replay.py), where atheris' coverage would not reach libFuzzer.
"""
from __future__ import annotations

import math
import struct

import numpy as np

from polycodec import DecodeError, RemoteError


# True in guided runs (fuzz/run.py): atheris' instrumentation allocates as the code runs, so
# checks of memory are left to the replays (fuzz/replay.py), which are not instrumented.
GUIDED = False


class Finding(AssertionError):
    """A contract broken: the implementations disagree, or an outcome is not allowed."""


class Choices:
    """Reads decisions from the front of the fuzz input; the rest is the payload."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def pick(self, options):
        return options[self.byte() % len(options)]

    def int(self, limit: int) -> int:
        """0 <= n < limit from two bytes."""
        return ((self.byte() << 8) | self.byte()) % limit if limit > 0 else 0

    def take(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def rest(self) -> bytes:
        out = self.data[self.pos:]
        self.pos = len(self.data)
        return out


def as_kind(payload: bytes, kind: str):
    """The payload as the buffer type a caller might pass (each gets its own copy)."""
    if kind == "bytes":
        return bytes(payload)
    if kind == "bytearray":
        return bytearray(payload)
    if kind == "ndarray":
        return np.frombuffer(bytearray(payload), np.uint8)
    if kind == "memoryview":
        return memoryview(bytes(payload))
    raise ValueError(kind)


INPUT_KINDS = ("bytes", "bytearray", "ndarray", "memoryview")


def outcome(fn, *args, **kwargs):
    """("ok", result) or ("DecodeError", its message, which ends with the offset); any other
    exception is a finding."""
    try:
        return ("ok", fn(*args, **kwargs))
    except DecodeError as e:
        return ("DecodeError", str(e))


def same(a, b, path="$"):
    """Raise Finding unless a and b are the same decoded value: exact types, key order,
    arrays by dtype/shape/bytes/writeability, views by bytes/readonly, floats by bits (any NaN
    equals any NaN)."""
    where = f"at {path}: "
    if type(a) is not type(b):
        raise Finding(where + f"{type(a).__name__} {a!r:.80} vs {type(b).__name__} {b!r:.80}")
    if isinstance(a, np.ndarray):
        if str(a.dtype) != str(b.dtype) or a.dtype != b.dtype or a.shape != b.shape:
            raise Finding(where + f"array {a.dtype}{a.shape} vs {b.dtype}{b.shape}")
        if a.tobytes() != b.tobytes():
            raise Finding(where + "array bytes differ")
        if a.flags.writeable != b.flags.writeable:
            raise Finding(where + f"writeable {a.flags.writeable} vs {b.flags.writeable}")
    elif isinstance(a, memoryview):
        if (a.format, a.ndim, a.shape, a.readonly) != (b.format, b.ndim, b.shape, b.readonly):
            raise Finding(where + f"view {a.format} {a.shape} readonly={a.readonly} vs "
                          f"{b.format} {b.shape} readonly={b.readonly}")
        if a.tobytes() != b.tobytes():
            raise Finding(where + "view bytes differ")
    elif isinstance(a, float):
        if not (math.isnan(a) and math.isnan(b)) and struct.pack("<d", a) != struct.pack("<d", b):
            raise Finding(where + f"{a!r} vs {b!r}")
    elif isinstance(a, dict):
        ka, kb = list(a), list(b)
        if len(ka) != len(kb):
            raise Finding(where + f"{len(ka)} keys vs {len(kb)}")
        for i, (x, y) in enumerate(zip(ka, kb)):
            same(x, y, f"{path}<key {i}>")
            same(a[x], b[y], f"{path}[{x!r:.40}]")
    elif isinstance(a, (list, tuple)):
        if len(a) != len(b):
            raise Finding(where + f"length {len(a)} vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, (set, frozenset)):
        if a != b or sorted(map(repr, a)) != sorted(map(repr, b)):
            raise Finding(where + f"{a!r:.200} vs {b!r:.200}")
    elif isinstance(a, BaseException):
        if isinstance(a, RemoteError) and (a.message, a.trace) != (b.message, b.trace):
            raise Finding(where + f"error {a.message!r:.80} vs {b.message!r:.80}")
        if str(a) != str(b) or a.args != b.args:
            raise Finding(where + f"{a!r:.80} vs {b!r:.80}")
    elif a != b:
        raise Finding(where + f"{a!r:.200} vs {b!r:.200}")


def same_outcome(a, b, what):
    """Both ok with the same value, or both DecodeError with the same message and offset."""
    if a[0] == b[0] == "DecodeError" and a[1] != b[1]:
        raise Finding(f"{what}: compiled says {a[1]!r}, fallback {b[1]!r}")
    if a[0] != b[0]:
        raise Finding(f"{what}: compiled {a[0]} vs fallback {b[0]}: "
                      f"{a[1] if a[0] == 'ok' else ''!r:.200}{b[1] if b[0] == 'ok' else ''!r:.200}")
    if a[0] == "ok":
        try:
            same(a[1], b[1])
        except Finding as e:
            raise Finding(f"{what}: {e}") from None
