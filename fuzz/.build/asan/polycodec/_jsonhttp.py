"""HTTP plumbing shared by the local emulators (sockets.emulator, backends.pyrun).

`JSONHandler` is a BaseHTTPRequestHandler that always answers JSON: a read timeout (no thread
held forever by a silent client), JSON refusals for garbled requests and any method name,
strict body reading (`read_json_body`) with typed 4xx errors, replies built and checked in full
before the status line goes out, a catch-all that never writes a second status line, and quiet
logging. `spawn_cli` starts an emulator's command line for tests and reads its address.
"""
from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

DEFAULT_READ_TIMEOUT = 60.0  # seconds a client may take to send its request
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() and int() accept '²' or '٣'
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name


class HTTPProblem(Exception):
    """A request refused with `status`; `problems` are (path, message) pairs or dicts."""

    def __init__(self, status, detail, problems=(), headers=None):
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.problems = [p if isinstance(p, dict) else
                         (p.to_dict() if hasattr(p, "to_dict") else
                          {"path": p[0], "message": p[1]}) for p in problems]
        self.headers = dict(headers or {})


class JSONHandler(BaseHTTPRequestHandler):
    """Subclasses implement `handle_json()` (the routing) and may set `problems_key` (the name
    of the list of {path, message} in error bodies). Server attributes read: `read_timeout`,
    `verbose`."""

    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.1"  # answer even a garbled request line with headers
    problems_key = "problems"
    timeout = DEFAULT_READ_TIMEOUT

    def setup(self):
        self.timeout = getattr(self.server, "read_timeout", None) or self.timeout
        super().setup()  # applies self.timeout to the socket
        # headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # quiet unless the server is verbose
        if getattr(self.server, "verbose", False):
            super().log_message(fmt, *args)

    # -- answers --------------------------------------------------------------------------
    def error_body(self, detail, problems=()):
        body = {"detail": detail}
        if problems:
            body[self.problems_key] = list(problems)
        return body

    def send_error(self, code, message=None, explain=None):
        # http.server's own refusals (bad request line, headers too long...): JSON too
        self.close_connection = True
        self._headers_buffer = []
        self.send_reply(int(code), json.dumps(self.error_body(
            message or explain or HTTPStatus(code).phrase)).encode())

    def send_json(self, status, body, headers=None):
        """`body`: bytes (already JSON), None (no body) or a JSON-able value."""
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
        self.send_reply(status, body, "application/json" if body is not None else None, headers)

    def send_reply(self, status, body=b"", content_type="application/json", headers=None):
        """Check the whole reply, then send it: a bad status or header raises ValueError
        before anything is written, so the caller can still answer something else."""
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ValueError(f"status {status!r} is not an HTTP status (100..599)")
        body = bytes(body or b"")
        lines = [] if content_type is None else [("Content-Type", content_type)]
        lines.append(("Content-Length", str(len(body))))
        for k, v in (headers or {}).items():
            k, v = str(k), str(v)
            if not _TOKEN.fullmatch(k) or "\r" in v or "\n" in v:
                raise ValueError(f"header {k!r}: {v!r} cannot be sent")
            try:
                v.encode("latin-1")
            except UnicodeEncodeError:
                raise ValueError(f"header {k!r} value {v!r} is not latin-1 text") from None
            lines.append((k, v))
        if self.close_connection:
            lines.append(("Connection", "close"))
        self.send_response(status)
        for k, v in lines:
            self.send_header(k, v)
        self._reply_started = True
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    # -- request body -----------------------------------------------------------------------
    def body_pending(self):
        """True if the client sent a body this handler has not read (it must not be taken for
        the next request: the connection is closed after the answer)."""
        return not getattr(self, "_body_read", False) and (
            self.headers.get("Content-Length", "0").strip() not in ("", "0")
            or bool(self.headers.get("Transfer-Encoding")))

    def read_body(self, max_body, *, length_required=False):
        """The raw body (b"" if none). 411 chunked (or no length when `length_required`),
        413 above `max_body` (checked before reading), 400 bad length or a short body,
        408 if the client stops sending."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise HTTPProblem(411, "send the body with a Content-Length (chunked bodies are "
                                   "not accepted)")
        raw = self.headers.get("Content-Length")
        if raw is None:
            if length_required:
                raise HTTPProblem(411, "a Content-Length header is required")
            self._body_read = True
            return b""
        if not _DIGITS.fullmatch(raw.strip()):
            self.close_connection = True
            raise HTTPProblem(400, f"invalid Content-Length {raw!r} (ASCII digits expected)")
        length = int(raw.strip())
        if length > max_body:
            self.close_connection = True
            raise HTTPProblem(413, f"body of {length} bytes is above the limit of {max_body} "
                                   "bytes")
        self._body_read = True
        try:
            data = self.rfile.read(length) if length else b""
        except TimeoutError:
            self.close_connection = True
            raise HTTPProblem(408, f"the body did not arrive within {self.timeout:g} s") from None
        if len(data) < length:
            self.close_connection = True
            raise HTTPProblem(400, f"the body ended after {len(data)} of {length} bytes "
                                   "(Content-Length)")
        return data

    def read_json_body(self, max_body, *, length_required=False, loads=json.loads):
        """The parsed JSON body: 400 for invalid JSON, plus every error of read_body. An
        empty body is None, unless `length_required` (then it is invalid JSON)."""
        data = self.read_body(max_body, length_required=length_required)
        if not length_required and not data.strip():
            return None
        try:
            return loads(data)
        except (ValueError, RecursionError) as e:  # orjson.JSONDecodeError is a ValueError
            raise HTTPProblem(400, f"malformed JSON body: {e}",
                              [("$", f"not valid JSON: {e}")]) from None

    # -- dispatch ---------------------------------------------------------------------------
    def handle_json(self):
        raise NotImplementedError

    def _dispatch(self):
        self._reply_started = self._body_read = False
        try:
            self.handle_json()
        except HTTPProblem as e:
            if self.body_pending():
                self.close_connection = True
            self._safe_send(e.status, self.error_body(e.detail, e.problems), e.headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - a bug of ours: still one clear answer
            self.close_connection = True
            self._safe_send(500, self.error_body(f"internal error: {type(e).__name__}: {e}"))

    def _safe_send(self, status, body, headers=None):
        if self._reply_started:  # part of a reply is out: a second status line would corrupt it
            self.close_connection = True
            return
        self._headers_buffer = []  # drop anything buffered by a reply that failed half way
        try:
            self.send_json(status, body, headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def __getattr__(self, name):
        # any other method reaches handle_json (which refuses it with a JSON 405), never
        # http.server's HTML 501
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)


@contextmanager
def spawn_cli(args, *, startup_timeout=30.0, marker="listening on "):
    """Run `python <args>` (an emulator's command line); yield (proc, url) once it printed
    `marker` + URL on stdout. stderr is drained in a thread (no pipe deadlock, kept for the
    error message); the process is stopped and waited for on exit."""
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    errors, line = [], []

    def drain_stderr():
        for chunk in proc.stderr:
            errors.append(chunk)
            del errors[:-200]

    drains = [threading.Thread(target=drain_stderr, daemon=True)]
    drains[0].start()
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    try:
        reader.join(startup_timeout)
        if not line or marker not in line[0]:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{' '.join(args)} did not start within {startup_timeout:g} s: "
                               f"{line!r} {''.join(errors)[-2000:]}")
        # stdout is not read after the first line: drain it too
        drains.append(threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True))
        drains[-1].start()
        yield proc, line[0].split(marker, 1)[1].split()[0]
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for t in drains:  # the pipes reach end of file once the process is gone
            t.join(5)
        for f in (proc.stdout, proc.stderr):
            try:
                f.close()
            except (OSError, ValueError):
                pass
