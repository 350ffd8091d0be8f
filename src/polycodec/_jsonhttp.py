"""The one JSON-over-HTTP server the local emulators are built on (hybrid, sockets, pyrun).

- `JSONHandler`: a BaseHTTPRequestHandler that always answers JSON: a read timeout (no thread
  held forever by a silent client), JSON refusals for garbled requests and any method name,
  strict body reading (`read_body` / `read_json_body`: length, chunked and compressed bodies,
  size limits) with typed 4xx errors, replies built and checked in full before the status
  line goes out, a catch-all that never writes a second status line, and quiet logging.
  Subclasses implement `handle_json()` and may shape error bodies (`error_body`).
- `HTTPProblem`: a refusal (status, detail, problems, code) raised anywhere in a handler.
- `JSONServer`: a ThreadingHTTPServer that tracks its connections, so `stop()` closes the
  keep-alive ones and no handler answers after it.
- `serve_cli`: an emulator's command-line loop; `spawn_cli` runs that command line for tests
  and reads its address.

Bodies are written with orjson (numpy values natively); a value orjson cannot write (an int
beyond 64 bits) falls back to the stdlib encoder.
"""
from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

DEFAULT_READ_TIMEOUT = 60.0  # seconds a client may take to send its request
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() and int() accept '²' or '٣'
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def dumps(value) -> bytes:
    """JSON bytes of `value`: orjson, or the stdlib for what orjson refuses (big ints)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        return json.dumps(value).encode()


class HTTPProblem(Exception):
    """A request refused with `status`; `problems` are Problem/(path, message) pairs or dicts;
    `code` is a machine-readable reason for servers whose error bodies carry one."""

    def __init__(self, status, detail, problems=(), headers=None, *, code=None):
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code
        self.problems = [p if isinstance(p, dict) else
                         (p.to_dict() if hasattr(p, "to_dict") else
                          {"path": p[0], "message": p[1]}) for p in problems]
        self.headers = dict(headers or {})


class JSONHandler(BaseHTTPRequestHandler):
    """Subclasses implement `handle_json()` (the routing) and may set `problems_key` (the name
    of the list of {path, message} in error bodies) or override `error_body`. Server
    attributes read: `read_timeout`, `verbose`."""

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
    def error_body(self, problem: HTTPProblem):
        body = {"detail": problem.detail}
        if problem.problems:
            body[self.problems_key] = list(problem.problems)
        return body

    def send_error(self, code, message=None, explain=None):
        # http.server's own refusals (bad request line, headers too long...): JSON too
        self.close_connection = True
        self._headers_buffer = []
        problem = HTTPProblem(int(code), message or explain or HTTPStatus(code).phrase)
        self.send_reply(int(code), dumps(self.error_body(problem)))

    def send_json(self, status, body, headers=None, *, trickle=0.0):
        """`body`: bytes (already JSON), None (no body) or a JSON-able value."""
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = dumps(body)
        self.send_reply(status, body, "application/json" if body is not None else None, headers,
                        trickle=trickle)

    def send_reply(self, status, body=b"", content_type="application/json", headers=None, *,
                   trickle=0.0):
        """Check the whole reply, then send it: a bad status or header raises ValueError
        before anything is written, so the caller can still answer something else.
        `trickle`: seconds over which the body goes out in ten pieces (a slow server)."""
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
        if self.command == "HEAD" or not body:
            return
        if not trickle:
            self.wfile.write(body)
            return
        step = max(1, len(body) // 10)
        for i in range(0, len(body), step):
            self.wfile.write(body[i:i + step])
            self.wfile.flush()
            time.sleep(trickle / 10)

    # -- request body -----------------------------------------------------------------------
    def body_pending(self):
        """True if the client sent a body this handler has not read (it must not be taken for
        the next request: the connection is closed after the answer)."""
        return not getattr(self, "_body_read", False) and (
            self.headers.get("Content-Length", "0").strip() not in ("", "0")
            or bool(self.headers.get("Transfer-Encoding")))

    def read_body(self, max_body, *, length_required=False, chunked=False, encodings=()):
        """The raw body (b"" if none), at most `max_body` bytes, also after decompression.
        411 for a chunked body (unless `chunked`) or no length when `length_required`, 413
        above `max_body` (checked before reading), 400 bad length, bad chunks or a short
        body, 408 if the client stops sending; a `Content-Encoding` among `encodings`
        ("gzip", "deflate") is decompressed, any other is 415."""
        self._body_read = True
        if self.headers.get("Transfer-Encoding"):
            if not chunked or self.headers["Transfer-Encoding"].strip().lower() != "chunked":
                self.close_connection = True
                self._body_read = False
                raise HTTPProblem(411, "send the body with a Content-Length (chunked bodies "
                                       "are not accepted)", code="LENGTH_REQUIRED")
            data = self._read_chunked(max_body)
        else:
            data = self._read_sized(max_body, length_required)
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            return data
        if encoding not in encodings:
            raise HTTPProblem(415, f"Content-Encoding {encoding!r} is not accepted"
                              + (f" (accepted: {', '.join(encodings)})" if encodings else ""),
                              code="UNSUPPORTED_ENCODING")
        inflater = zlib.decompressobj(_WBITS[encoding])
        try:
            out = inflater.decompress(data, max_body)
        except zlib.error as e:
            raise HTTPProblem(400, f"cannot decompress the {encoding} body: {e}",
                              code="INVALID_BODY") from None
        if inflater.unconsumed_tail:
            raise HTTPProblem(413, f"the body is above the limit of {max_body} bytes once "
                                   "decompressed", code="TOO_LARGE")
        return out

    def _read_sized(self, max_body, length_required):
        raw = self.headers.get("Content-Length")
        if raw is None:
            if length_required:
                raise HTTPProblem(411, "a Content-Length header is required",
                                  code="LENGTH_REQUIRED")
            return b""
        if not _DIGITS.fullmatch(raw.strip()):
            self.close_connection = True
            raise HTTPProblem(400, f"invalid Content-Length {raw!r} (ASCII digits expected)",
                              code="INVALID_BODY")
        length = int(raw.strip())
        if length > max_body:
            self.close_connection = True
            raise HTTPProblem(413, f"body of {length} bytes is above the limit of {max_body} "
                                   "bytes", code="TOO_LARGE")
        data = self._read(length)
        if len(data) < length:
            self.close_connection = True
            raise HTTPProblem(400, f"the body ended after {len(data)} of {length} bytes "
                                   "(Content-Length)", code="INVALID_BODY")
        return data

    def _read_chunked(self, max_body):
        self.close_connection = True        # whatever goes wrong, nothing after it is a request
        parts, total = [], 0
        while True:
            line = self._read_line()
            size = line.split(b";")[0].strip()
            if not _HEX.fullmatch(size):
                raise HTTPProblem(400, f"bad chunk size line {line[:40]!r}", code="INVALID_BODY")
            size = int(size, 16)
            if size == 0:
                while self._read_line() not in (b"\r\n", b"\n", b""):    # trailers
                    pass
                self.close_connection = False
                return b"".join(parts)
            total += size
            if total > max_body:
                raise HTTPProblem(413, f"chunked body above the limit of {max_body} bytes",
                                  code="TOO_LARGE")
            chunk = self._read(size)
            if len(chunk) < size:
                raise HTTPProblem(400, "the chunked body ended inside a chunk",
                                  code="INVALID_BODY")
            parts.append(chunk)
            self._read_line()

    def _read(self, n):
        try:
            return self.rfile.read(n) if n else b""
        except TimeoutError:
            self.close_connection = True
            raise HTTPProblem(408, f"the body did not arrive within {self.timeout:g} s",
                              code="TIMEOUT") from None

    def _read_line(self):
        try:
            return self.rfile.readline(1024)
        except TimeoutError:
            raise HTTPProblem(408, f"the body did not arrive within {self.timeout:g} s",
                              code="TIMEOUT") from None

    def read_json_body(self, max_body, *, length_required=False, loads=orjson.loads, **read):
        """The parsed JSON body: 400 for invalid JSON, plus every error of read_body. An
        empty body is None, unless `length_required` (then it is invalid JSON)."""
        data = self.read_body(max_body, length_required=length_required, **read)
        if not length_required and not data.strip():
            return None
        try:
            return loads(data)
        except (ValueError, RecursionError) as e:  # orjson.JSONDecodeError is a ValueError
            raise HTTPProblem(400, f"malformed JSON body: {e}",
                              [("$", f"not valid JSON: {e}")], code="INVALID_JSON") from None

    # -- dispatch ---------------------------------------------------------------------------
    def handle_json(self):
        raise NotImplementedError

    def _dispatch(self):
        self._reply_started = self._body_read = False
        try:
            self.handle_json()
        except HTTPProblem as e:
            self.refuse(e)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - a bug of ours: still one clear answer
            self.close_connection = True
            self.refuse(HTTPProblem(500, f"internal error: {type(e).__name__}: {e}",
                                    code="INTERNAL"))

    def refuse(self, problem: HTTPProblem):
        """Answer `problem` (unless part of a reply is out already)."""
        if self.body_pending():
            self.close_connection = True
        if self._reply_started:  # part of a reply is out: a second status line would corrupt it
            self.close_connection = True
            return
        self._headers_buffer = []  # drop anything buffered by a reply that failed half way
        try:
            self.send_json(problem.status, self.error_body(problem), problem.headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def __getattr__(self, name):
        # any other method reaches handle_json (which refuses it with a JSON 405), never
        # http.server's HTML 501
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)


class JSONServer(ThreadingHTTPServer):
    """A threaded server that knows its open connections. `start()` serves in a thread;
    `stop()` stops accepting, wakes every keep-alive handler and releases the port (safe when
    never started, and twice). `connections_changed(n)` is called (under a lock) as the count
    changes."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    read_timeout = DEFAULT_READ_TIMEOUT
    verbose = False

    def __init__(self, address, handler, bind_and_activate=True):
        self.connections = set()             # accepted sockets not yet shut down
        self._connections_lock = threading.Lock()
        self._thread = None
        super().__init__(address, handler, bind_and_activate)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def connections_changed(self, count):
        pass

    def process_request(self, request, client_address):
        with self._connections_lock:         # shutdown_request() takes it back, on every path
            self.connections.add(request)
            self.connections_changed(len(self.connections))
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self.connections.discard(request)
            self.connections_changed(len(self.connections))
        super().shutdown_request(request)

    def close_connections(self, wait=2.0):
        """Wake every keep-alive handler (its next read sees EOF) so none answers after
        stop(); wait up to `wait` seconds for the handlers to finish."""
        with self._connections_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)  # the handler thread closes it
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while self.connections and time.monotonic() < deadline:
            time.sleep(0.01)

    def start(self, name="json-http-server"):
        self._thread = threading.Thread(target=self.serve_forever, name=name,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread is not None:
            self.shutdown()
            self._thread.join(5)
            self._thread = None
        self.close_connections()
        self.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _exit(signum, frame):
    raise SystemExit(0)


def serve_cli(server, banner) -> int:
    """Print `banner` (it names the URL: "... listening on http://..."), serve until Ctrl-C or
    SIGTERM, then stop the server (its connections, its port and what `stop()` adds)."""
    signal.signal(signal.SIGTERM, _exit)
    print(banner, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


@contextmanager
def spawn_cli(args, *, startup_timeout=30.0, marker="listening on ", lines=None):
    """Run `python <args>` (an emulator's command line); yield (proc, url) once it printed a
    line with `marker` + URL on stdout (the lines before it are appended to `lines` if given).
    stderr is drained in a thread (no pipe deadlock, kept for the error message); the process
    is stopped and waited for on exit."""
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    errors, seen, url = [], [], []

    def drain_stderr():
        for chunk in proc.stderr:
            errors.append(chunk)
            del errors[:-200]

    def read_startup():
        for line in proc.stdout:
            if marker in line:
                url.append(line.split(marker, 1)[1].split()[0])
                return
            seen.append(line.rstrip("\n"))

    drains = [threading.Thread(target=drain_stderr, daemon=True)]
    drains[0].start()
    reader = threading.Thread(target=read_startup, daemon=True)
    reader.start()
    try:
        reader.join(startup_timeout)
        if not url:
            proc.kill()
            proc.wait()
            drains[0].join(5)                # all of stderr, for the message
            raise RuntimeError(f"{' '.join(args)} did not start within {startup_timeout:g} s: "
                               f"{seen[-20:]!r} {''.join(errors)[-2000:]}")
        if lines is not None:
            lines.extend(seen)
        # stdout is not read after the address: drain it too
        drains.append(threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True))
        drains[-1].start()
        yield proc, url[0]
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
