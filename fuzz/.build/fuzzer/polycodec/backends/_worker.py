"""One partition's interpreter: a subprocess that keeps the partition's scope between cells.

The local pyrun backend (pyrun.py) starts one per partition and kills it when a cell runs past
its time limit, so a runaway cell really stops. Protocol on the original stdin/stdout pipes:
8-byte big-endian length + orjson message, one request then one reply. Fds 0/1 are pointed at
/dev/null before any cell runs, so cell code cannot read or corrupt the protocol.

Code runs unsandboxed, with the rights of the server's user.
"""
from __future__ import annotations

import ast
import asyncio
import builtins
import inspect
import io
import os
import re
import struct
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout

import orjson

from polycodec.backends.errors import PayloadError
from polycodec.backends.jsonsafe import to_json_safe
from polycodec.backends.spec import CELL_BANNER, VALUE_MAX_DEPTH

HEADER = struct.Struct(">Q")
_SURROGATE = re.compile("[\ud800-\udfff]")


def read_msg(f):
    """One message, or None at end of stream."""
    head = _read_exact(f, HEADER.size)
    if head is None:
        return None
    body = _read_exact(f, HEADER.unpack(head)[0])
    if body is None:
        return None
    return orjson.loads(body)


def _read_exact(f, n):
    chunks, got = [], 0
    while got < n:
        chunk = f.read(n - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def encode_msg(obj) -> bytes:
    """Length-prefixed orjson; raises orjson.JSONEncodeError (a TypeError) for a value with
    no JSON form (too deep, a lone surrogate, ...)."""
    body = orjson.dumps(obj)
    return HEADER.pack(len(body)) + body


def _utf8_safe(text, what, cell_id, problems):
    """`text` with characters that have no UTF-8 form (lone surrogates) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        problems.append(f"UnicodeEncodeError: the {what} of cell {cell_id} held characters with "
                        "no UTF-8 form (lone surrogates); they were replaced by U+FFFD\n")
        return _SURROGATE.sub("\ufffd", text)


class CappedText(io.TextIOBase):
    """A stdout/stderr stand-in that keeps at most `limit` characters."""

    def __init__(self, limit):
        self.limit, self.parts, self.kept, self.dropped = limit, [], 0, 0

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(s[:room])
            self.kept += min(room, len(s))
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def getvalue(self):
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[{self.dropped} characters dropped: output limit {self.limit}]\n"
        return text


def _cell_frames(e):
    """The traceback from the first frame of cell code on (worker/asyncio frames dropped)."""
    tb = e.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<cell "):
        tb = tb.tb_next
    return tb if tb is not None else e.__traceback__


def run_cell(req, scope):
    """Run one cell in `scope`; the reply has the /run response shape."""
    limits = req["limits"]
    out, err = CappedText(limits["max_output"]), CappedText(limits["max_output"])
    scope.update(req["capturedIn"])
    cell_id = req["cellId"]
    with redirect_stdout(out), redirect_stderr(err):
        print(CELL_BANNER.format(cell_id=cell_id), end="")
        try:
            code = compile(req["code"], f"<cell {cell_id}>", "exec",
                           flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
            result = eval(code, scope)
            if code.co_flags & inspect.CO_COROUTINE:  # the cell uses top-level await
                asyncio.run(result)
        except BaseException as e:  # noqa: BLE001 - SystemExit in a cell must not end the worker
            err.write("".join(traceback.format_exception(type(e), e, _cell_frames(e))))
    captured, problems = {}, []
    for name in req["capturedOut"]:
        if not name:  # pyrun skips empty names
            continue
        if name not in scope:
            problems.append(f"NameError: captured-out name {name!r} is not defined after "
                            f"cell {cell_id}\n")
            continue
        try:
            captured[name] = to_json_safe(scope[name], nonfinite=limits["nonfinite"],
                                          max_depth=VALUE_MAX_DEPTH, path=name)
        except PayloadError as e:
            problems.append(f"TypeError: captured-out {e}\n")
    output = _utf8_safe(out.getvalue(), "output", cell_id, problems)
    error = _utf8_safe(err.getvalue(), "error output", cell_id, problems)
    try:
        msg = encode_msg({"output": output, "error": error + "".join(problems),
                          "capturedOut": captured})
    except (orjson.JSONEncodeError, TypeError):
        # a captured value with no JSON form after all (e.g. a string with a lone surrogate):
        # find it and report it, instead of losing the worker and the partition's scope
        for name in list(captured):
            try:
                orjson.dumps(captured[name])
            except (orjson.JSONEncodeError, TypeError) as e:
                del captured[name]
                problems.append(f"TypeError: captured-out {name!r} has no JSON form: {e}\n")
        msg = encode_msg({"output": output, "error": error + "".join(problems),
                          "capturedOut": captured})
    reply = {"output": output, "error": error + "".join(problems), "capturedOut": captured}
    if len(msg) > limits["max_result"]:
        reply["capturedOut"] = {}
        reply["error"] += (f"ValueError: the answer of cell {cell_id} is {len(msg)} bytes, "
                           f"above the backend's max_result={limits['max_result']}; captured "
                           "values dropped\n")
        msg = encode_msg(reply)
    return msg


def main():
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the worker
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    scope = {"__name__": "__main__", "__builtins__": builtins}
    proto_out.write(encode_msg({"ready": os.getpid()}))  # the cell clock starts after this
    while True:
        req = read_msg(proto_in)
        if req is None:  # the server closed the pipe: it is gone or dropped this partition
            return 0
        try:
            msg = run_cell(req, scope)
        except Exception as e:  # noqa: BLE001 - a bug here must not cost the partition's scope
            msg = encode_msg({"output": "", "capturedOut": {},
                              "error": f"RuntimeError: the worker could not answer cell "
                                       f"{req.get('cellId')!r}: {type(e).__name__}: {e!r}\n"})
        proto_out.write(msg)


if __name__ == "__main__":
    sys.exit(main())
