"""Runs a Python script dependency in a subprocess with a time limit (emulator only).

Script contract (see docs/sockets.md):
- globals ``ARGS`` (the request data: the JSON object body of POST/PUT/PATCH, merged over the
  query parameters; GET/DELETE: the query parameters) and ``META`` (method, path, instance,
  socket, endpoint, dependency);
- ``set_response(HttpResponse(status_code=200, content="...", content_type="application/json"))``
  makes that the HTTP response, as is;
- otherwise the response is a trace ``{"status": "success", "duration": ms,
  "result": {"stdout": ..., "stderr": ...}}``.

NOT a sandbox: the script runs with the emulator's user rights (isolated mode, empty temp
working directory, stripped environment, bounded time, captured output and file size only).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

# Runs inside the child: executes the source with bounded stdout/stderr capture and writes the
# outcome as JSON to the file named by argv[1].
_WRAPPER = r'''
import io, json, resource, sys, traceback
result_path, limit, max_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# no file this process (or its children) writes may grow past max_file bytes: raw fd writes
# (os.write(1, ...)) go to a file on disk, which must stay bounded too
resource.setrlimit(resource.RLIMIT_FSIZE, (max_file, max_file))

class Bounded(io.TextIOBase):
    def __init__(self):
        self.parts, self.size, self.truncated = [], 0, False
    def writable(self):
        return True
    def write(self, s):
        s = str(s)
        room = limit - self.size
        if room > 0:
            self.parts.append(s[:room]); self.size += min(len(s), room)
        if len(s) > room:
            self.truncated = True
        return len(s)
    def value(self):
        return "".join(self.parts) + ("\n[output truncated]" if self.truncated else "")

class HttpResponse:
    def __init__(self, status_code=200, content="", content_type="application/json", headers=None):
        self.status_code, self.content = status_code, content
        self.content_type, self.headers = content_type, dict(headers or {})

chosen = []
def set_response(response):
    chosen[:] = [response]

job = json.loads(sys.stdin.read())
out, err = Bounded(), Bounded()
env = {"__name__": "__main__", "ARGS": job["args"], "META": job["meta"],
       "HttpResponse": HttpResponse, "set_response": set_response}
error = None
sys.stdout, sys.stderr = out, err
try:
    exec(compile(job["source"], "<script " + job["meta"]["dependency"] + ">", "exec"), env)
except SystemExit as e:
    if e.code not in (None, 0):
        error = "SystemExit: %r" % (e.code,)
except BaseException:
    error = traceback.format_exc(limit=20)
finally:
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
response = None
if chosen:
    r = chosen[0]
    content = r.content if isinstance(r.content, str) else json.dumps(r.content)
    try:
        response = {"status_code": int(r.status_code), "content": content,
                    "content_type": str(r.content_type),
                    "headers": {str(k): str(v) for k, v in r.headers.items()}}
    except Exception as e:
        error = "invalid HttpResponse: %s" % e
with open(result_path, "w") as f:
    json.dump({"stdout": out.value(), "stderr": err.value(), "error": error,
               "response": response}, f)
'''


class ScriptTimeout(Exception):
    pass


class ScriptCrashed(Exception):
    """The child died without writing its outcome (killed, out of memory, os._exit...)."""


def max_file_size(max_output):
    """Bytes any file written by a script run may hold (RLIMIT_FSIZE in the child): room for
    the result (two outputs of `max_output` characters, JSON-escaped) and nothing more."""
    return 8 * max_output + 65536


def run_python(source, args, meta, *, timeout, max_output, python=None):
    """Run `source`; returns (outcome dict, duration ms). Raises ScriptTimeout / ScriptCrashed."""
    max_file = max_file_size(max_output)
    with tempfile.TemporaryDirectory(prefix="polycodec-script-") as tmp:
        result_path = os.path.join(tmp, "result.json")
        job = json.dumps({"source": source, "args": args, "meta": meta}).encode()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "LANG": "C.UTF-8",
               "PYTHONIOENCODING": "utf-8"}
        start = time.monotonic()
        with open(os.path.join(tmp, "out"), "wb") as raw_out:
            # Direct fd writes go to a file (bounded on read), never to a pipe held in memory.
            proc = subprocess.Popen(
                [python or sys.executable, "-I", "-c", _WRAPPER, result_path, str(max_output),
                 str(max_file)],
                stdin=subprocess.PIPE, stdout=raw_out, stderr=subprocess.STDOUT, cwd=tmp,
                env=env, start_new_session=True)
            try:
                proc.communicate(job, timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise ScriptTimeout(f"script exceeded the time limit of {timeout:g} s") from None
            finally:
                _kill_group(proc)  # grandchildren left behind
        duration = int((time.monotonic() - start) * 1000)
        try:
            with open(result_path, "rb") as f:
                outcome = json.loads(f.read(max_file))
        except (OSError, ValueError):
            with open(os.path.join(tmp, "out"), "rb") as f:
                tail = f.read(4096).decode("utf-8", "replace")
            raise ScriptCrashed(f"script process ended (exit code {proc.returncode}) "
                                f"without a result: {tail.strip()[:2000]}") from None
        return outcome, duration


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
