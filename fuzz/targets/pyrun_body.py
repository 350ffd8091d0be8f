"""YouWol/pyrun request bodies: the HTTP body reader (Content-Length, `max_body`) and
`RunCell.from_payload` / `RunResult.from_payload`.

Byte 0 picks the declared length (exact, shorter, longer, absent, not digits, chunked) and
byte 1 the body cap; the rest is the body. Reading must answer with an HTTPProblem (400, 408,
411, 413) or the body, never read more than the cap, and refuse with 413 exactly when the
declared length is above it. A parsed JSON body gives a cell or PayloadError.
"""
from __future__ import annotations

import io

import orjson

from harness import Choices, Finding

from polycodec._jsonhttp import HTTPProblem
from polycodec.backends.cells import RunCell, RunResult
from polycodec.backends.errors import PayloadError
from polycodec.backends.pyrun import Handler

CAPS = (16, 64, 1024, 1 << 20)


class _Reader(io.BytesIO):
    def __init__(self, data, cap):
        super().__init__(data)
        self.cap, self.asked = cap, 0

    def read(self, n=-1):
        self.asked += n if n >= 0 else 1 << 62
        if self.asked > self.cap:
            raise Finding(f"body reader asked for {self.asked} bytes, cap {self.cap}")
        return super().read(n)


def _handler(headers, body, cap):
    h = Handler.__new__(Handler)   # no socket: only the body-reading methods are used
    h.headers, h.rfile, h.timeout, h.close_connection = headers, _Reader(body, cap), 1.0, False
    return h


def one_input(data: bytes):
    ch = Choices(data)
    mode, cap = ch.byte(), CAPS[ch.byte() % len(CAPS)]
    body = ch.rest()
    n = len(body)
    declared = {0: str(n), 1: str(max(n - 1, 0)), 2: str(n + 5), 3: None, 4: f" {n}x",
                5: "-1", 6: "0" * 30 + str(n), 7: "１２"}[mode % 8]
    headers = {} if declared is None else {"Content-Length": declared}
    if mode & 8:
        headers["Transfer-Encoding"] = "chunked"
    try:
        payload = _handler(headers, body, cap).read_json_body(cap, length_required=True,
                                                             loads=orjson.loads)
    except HTTPProblem as e:
        if e.status not in (400, 408, 411, 413):
            raise Finding(f"status {e.status}") from None
        big = declared is not None and declared.strip().isascii() and declared.strip().isdigit() \
            and int(declared) > cap and not mode & 8
        if (e.status == 413) != big:
            raise Finding(f"413={e.status == 413} for Content-Length {declared!r}, cap {cap}")
        return
    for cls in (RunCell, RunResult):
        try:
            cls.from_payload(payload)
        except PayloadError as e:
            if not e.problems:
                raise Finding(f"{cls.__name__}: PayloadError without problems") from None
