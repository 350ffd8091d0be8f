"""A local pyrun_backend-compatible server: `python -m polycodec.backends.pyrun --port P`.

Routes (spec.ROUTES): `GET /`, `POST /run`, the same under `/backends/{name}/{version}/`, and
`DELETE /partitions/{partition}` (emulator only: drop a partition's scope and worker).
Each partition (header `x-backends-partition`, default `Default`) gets its own worker
subprocess (`_worker.py`) holding its scope; a cell past `--cell-timeout` has its worker
killed (the partition's scope is then empty again). Bad requests get a 4xx JSON
`{"detail": ..., "problems": [...]}`.

SECURITY: cells run unsandboxed with the rights of the user running the server. It binds
127.0.0.1 by default; do not expose it.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import orjson

from .._jsonhttp import DEFAULT_READ_TIMEOUT, HTTPProblem, JSONHandler
from . import _worker
from .cells import RunCell
from .errors import PayloadError
from .rules import partition_problems
from .spec import DEFAULT_PARTITION, PARTITION_HEADER, PYRUN_DEFAULTS, ROUTES, route

PARTITIONS_PREFIX = "/partitions/"  # emulator-only admin route


class WorkerGone(Exception):
    """The worker died or was killed; `reason` says why."""


class Worker:
    """A partition's interpreter process (see _worker.py), leader of its own process group so
    that a timeout stops the processes a cell started too."""

    def __init__(self, start_timeout):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "polycodec.backends._worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
            start_new_session=True)
        # wait for the worker's "ready" so its start-up time is not counted against a cell
        self._exchange(None, start_timeout, "start-up timeout")

    @property
    def pid(self):
        return self.proc.pid

    def call(self, request, timeout):
        """The worker's reply (bytes of a /run JSON body) within `timeout` seconds.
        Raises TypeError (orjson.JSONEncodeError) if `request` has no JSON form; the worker
        is then untouched."""
        return self._exchange(_worker.encode_msg(request), timeout, "timeout")

    def _exchange(self, msg, timeout, timeout_reason):
        box = {}

        def exchange():
            try:
                if msg is not None:
                    self.proc.stdin.write(msg)
                    self.proc.stdin.flush()
                head = _worker._read_exact(self.proc.stdout, _worker.HEADER.size)
                if head is not None:
                    box["reply"] = _worker._read_exact(self.proc.stdout,
                                                       _worker.HEADER.unpack(head)[0])
            except Exception as e:  # noqa: BLE001 - reported below, never lost in the thread
                box["error"] = e

        t = threading.Thread(target=exchange, daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            self.kill()
            t.join()
            raise WorkerGone(timeout_reason)
        if box.get("reply") is None:
            code = self.kill()
            why = f"the worker exited (code {code})"
            if "error" in box:
                why += f": {type(box['error']).__name__}: {box['error']}"
            raise WorkerGone(why)
        return box["reply"]

    def kill(self):
        """Kill the worker and every process of its group (a cell's children included)."""
        if self.proc.returncode is None:  # not reaped yet: the group id is still ours
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        code = self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        return code


class Partitions:
    """partition id -> Worker, at most `max_partitions` alive; cells of one partition in order."""

    def __init__(self, limits):
        self.limits = limits
        self._workers = {}
        self._locks = {}
        self._guard = threading.Lock()
        self._closed = False

    def _lock_for(self, partition):
        with self._guard:
            if self._closed:
                raise WorkerGone("the server is shutting down")
            lock = self._locks.get(partition)
            if lock is None:
                if len(self._locks) >= self.limits["max_partitions"]:
                    return None
                lock = self._locks[partition] = threading.Lock()
            return lock

    def run(self, partition, cell: RunCell):
        """(status, JSON body bytes) of running `cell` in `partition`."""
        lock = self._lock_for(partition)
        if lock is None:
            return 429, _detail(f"{self.limits['max_partitions']} partitions are live, the limit "
                                f"(--max-partitions); DELETE {PARTITIONS_PREFIX}<id> to drop one")
        request = {"cellId": cell.cell_id, "code": cell.code, "capturedIn": cell.captured_in,
                   "capturedOut": cell.captured_out,
                   "limits": {k: self.limits[k] for k in ("max_output", "max_result",
                                                          "nonfinite")}}
        with lock:
            try:
                worker = self._workers.get(partition)
                if worker is None:
                    worker = self._workers[partition] = Worker(self.limits["start_timeout"])
                return 200, worker.call(request, self.limits["cell_timeout"])
            except (orjson.JSONEncodeError, TypeError) as e:  # RunCell checks make this rare
                return 422, _detail(f"the cell cannot be sent to its interpreter: {e}")
            except WorkerGone as e:
                self._workers.pop(partition, None)
                if str(e) == "timeout":
                    why = (f"TimeoutError: cell {cell.cell_id} ran past the "
                           f"{self.limits['cell_timeout']:g} s limit and was stopped")
                else:
                    why = f"RuntimeError: the interpreter running cell {cell.cell_id} was lost ({e})"
                error = (f"{why}; partition {partition!r} starts again from an empty scope\n")
                return 200, orjson.dumps({"output": "", "error": error, "capturedOut": {}})

    def pids(self):
        with self._guard:
            return {p: w.pid for p, w in self._workers.items()}

    def drop(self, partition):
        with self._guard:
            lock = self._locks.pop(partition, None)
        if lock is None:
            return False
        with lock:
            worker = self._workers.pop(partition, None)
            if worker is not None:
                worker.kill()
        return True

    def close(self):
        with self._guard:
            self._closed = True
            workers, self._workers = list(self._workers.values()), {}
        for w in workers:
            w.kill()


def _detail(message, problems=None):
    body = {"detail": message}
    if problems is not None:
        body["problems"] = [{"path": p, "message": m} for p, m in problems]
    return orjson.dumps(body)


class Handler(JSONHandler):
    server_version = "polycodec-pyrun/0.1"
    problems_key = "problems"

    def handle_json(self):
        srv = self.server
        path = unquote(urlsplit(self.path).path)
        if path.startswith("/backends/"):
            prefix = route("backend", name=srv.backend_name, version=srv.backend_version,
                           path="")
            if not path.startswith(prefix) and path + "/" != prefix:
                raise HTTPProblem(404, f"no backend at {path!r}: this server is "
                                       f"{srv.backend_name} {srv.backend_version} "
                                       f"(routes under {prefix})")
            path = "/" + path[len(prefix):]
        partition = self.headers.get(PARTITION_HEADER, DEFAULT_PARTITION)
        problems = partition_problems(partition, f"header {PARTITION_HEADER}")
        if problems:
            raise HTTPProblem(400, "bad partition header", problems)
        home_method, home = ROUTES["pyrun_home"]
        run_method, run = ROUTES["pyrun_run"]
        if path == home:
            if self.command not in (home_method, "HEAD"):
                raise HTTPProblem(405, f"{home} accepts {home_method}",
                                  headers={"Allow": home_method})
            return self.send_json(200, b"{}")
        if path == run:
            if self.command != run_method:
                raise HTTPProblem(405, f"{run} accepts {run_method}",
                                  headers={"Allow": run_method})
            return self._run(partition)
        if path.startswith(PARTITIONS_PREFIX):
            if self.command != "DELETE":
                raise HTTPProblem(405, f"{PARTITIONS_PREFIX}<id> accepts DELETE",
                                  headers={"Allow": "DELETE"})
            dropped = srv.partitions.drop(path[len(PARTITIONS_PREFIX):])
            return self.send_json(200 if dropped else 404, {"dropped": dropped})
        raise HTTPProblem(404, f"no route {path!r} (routes: {home}, {run})")

    def _run(self, partition):
        srv = self.server
        try:
            payload = self.read_json_body(srv.limits["max_body"], length_required=True,
                                          loads=orjson.loads)
        except HTTPProblem as e:
            if e.status == 413:
                e.detail += " (--max-body)"
            raise
        try:
            cell = RunCell.from_payload(payload)
        except PayloadError as e:
            raise HTTPProblem(422, f"invalid /run body: {e}", e.problems) from None
        status, body = srv.partitions.run(partition, cell)
        self.send_json(status, body)


class PyrunServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host=PYRUN_DEFAULTS["host"], port=0, *, name=PYRUN_DEFAULTS["name"],
                 version=PYRUN_DEFAULTS["version"], verbose=False, nonfinite="error",
                 read_timeout=DEFAULT_READ_TIMEOUT, **limits):
        unknown = set(limits) - set(PYRUN_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown limits: {', '.join(sorted(unknown))}")
        self.limits = {**PYRUN_DEFAULTS, **limits, "nonfinite": nonfinite}
        self.backend_name, self.backend_version = name, version
        self.verbose = verbose
        self.read_timeout = read_timeout
        self.partitions = Partitions(self.limits)
        super().__init__((host, port), Handler)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        """Serve in a background thread (for tests and embedding)."""
        self._thread = threading.Thread(target=self.serve_forever, args=(0.1,), daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()
        self.partitions.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    d = PYRUN_DEFAULTS
    ap = argparse.ArgumentParser(
        prog="python -m polycodec.backends.pyrun",
        description="Local pyrun_backend-compatible server. Cells run UNSANDBOXED with your "
                    "rights: keep it on 127.0.0.1.")
    ap.add_argument("--host", default=d["host"])
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    ap.add_argument("--name", default=d["name"], help="backend name for /backends/... routes")
    ap.add_argument("--version", default=d["version"], help="backend version for the routes")
    ap.add_argument("--cell-timeout", type=float, default=d["cell_timeout"])
    ap.add_argument("--start-timeout", type=float, default=d["start_timeout"])
    ap.add_argument("--max-body", type=int, default=d["max_body"])
    ap.add_argument("--max-output", type=int, default=d["max_output"])
    ap.add_argument("--max-result", type=int, default=d["max_result"])
    ap.add_argument("--max-partitions", type=int, default=d["max_partitions"])
    ap.add_argument("--nonfinite", choices=("error", "null"), default="error",
                    help="NaN/inf in captured values: an error, or sent as null")
    ap.add_argument("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT,
                    help="seconds a client may take to send its request")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    server = PyrunServer(a.host, a.port, name=a.name, version=a.version, verbose=a.verbose,
                         read_timeout=a.read_timeout,
                         nonfinite=a.nonfinite, cell_timeout=a.cell_timeout,
                         start_timeout=a.start_timeout,
                         max_body=a.max_body, max_output=a.max_output,
                         max_result=a.max_result, max_partitions=a.max_partitions)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"pyrun listening on {server.url} (pid {os.getpid()})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.partitions.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
