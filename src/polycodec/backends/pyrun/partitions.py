"""The partitions of the local pyrun backend: one interpreter process per partition."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import orjson

from ..cells import RunCell
from . import interpreter

PARTITIONS_PREFIX = "/partitions/"  # emulator-only admin route



class InterpreterGone(Exception):
    """The interpreter process died or was killed; the message says why."""


class Interpreter:
    """A partition's interpreter process (interpreter.py), leader of its own process group so
    that a timeout stops the processes a cell started too."""

    def __init__(self, start_timeout):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "polycodec.backends.pyrun.interpreter"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
            start_new_session=True)
        # wait for the interpreter's "ready" so its start-up time is not counted against a cell
        self._exchange(None, start_timeout, "start-up timeout")

    @property
    def pid(self):
        return self.proc.pid

    def call(self, request, timeout):
        """The interpreter's reply (bytes of a /run JSON body) within `timeout` seconds.
        Raises TypeError (orjson.JSONEncodeError) if `request` has no JSON form; the process
        is then untouched."""
        return self._exchange(interpreter.encode_msg(request), timeout, "timeout")

    def _exchange(self, msg, timeout, timeout_reason):
        box = {}

        def exchange():
            try:
                if msg is not None:
                    self.proc.stdin.write(msg)
                    self.proc.stdin.flush()
                head = interpreter.read_exact(self.proc.stdout, interpreter.HEADER.size)
                if head is not None:
                    box["reply"] = interpreter.read_exact(self.proc.stdout,
                                                          interpreter.HEADER.unpack(head)[0])
            except Exception as e:  # noqa: BLE001 - reported below, never lost in the thread
                box["error"] = e

        t = threading.Thread(target=exchange, daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            self.kill()
            t.join()
            raise InterpreterGone(timeout_reason)
        if box.get("reply") is None:
            code = self.kill()
            why = f"the interpreter exited (code {code})"
            if "error" in box:
                why += f": {type(box['error']).__name__}: {box['error']}"
            raise InterpreterGone(why)
        return box["reply"]

    def kill(self):
        """Kill the interpreter and every process of its group (a cell's children included)."""
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
    """partition id -> Interpreter, at most `max_partitions` alive; cells of one partition in order."""

    def __init__(self, limits):
        self.limits = limits
        self._interpreters = {}
        self._locks = {}
        self._guard = threading.Lock()
        self._closed = False

    def _lock_for(self, partition):
        with self._guard:
            if self._closed:
                raise InterpreterGone("the server is shutting down")
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
                interp = self._interpreters.get(partition)
                if interp is None:
                    interp = self._interpreters[partition] = Interpreter(self.limits["start_timeout"])
                return 200, interp.call(request, self.limits["cell_timeout"])
            except (orjson.JSONEncodeError, TypeError) as e:  # RunCell checks make this rare
                return 422, _detail(f"the cell cannot be sent to its interpreter: {e}")
            except InterpreterGone as e:
                self._interpreters.pop(partition, None)
                if str(e) == "timeout":
                    why = (f"TimeoutError: cell {cell.cell_id} ran past the "
                           f"{self.limits['cell_timeout']:g} s limit and was stopped")
                else:
                    why = f"RuntimeError: the interpreter running cell {cell.cell_id} was lost ({e})"
                error = (f"{why}; partition {partition!r} starts again from an empty scope\n")
                return 200, orjson.dumps({"output": "", "error": error, "capturedOut": {}})

    def pids(self):
        with self._guard:
            return {p: w.pid for p, w in self._interpreters.items()}

    def drop(self, partition):
        with self._guard:
            lock = self._locks.pop(partition, None)
        if lock is None:
            return False
        with lock:
            interp = self._interpreters.pop(partition, None)
            if interp is not None:
                interp.kill()
        return True

    def close(self):
        with self._guard:
            self._closed = True
            interpreters, self._interpreters = list(self._interpreters.values()), {}
        for interp in interpreters:
            interp.kill()


def _detail(message, problems=None):
    body = {"detail": message}
    if problems is not None:
        body["problems"] = [{"path": p, "message": m} for p, m in problems]
    return orjson.dumps(body)


