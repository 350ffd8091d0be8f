"""Run the emulator's command line in a subprocess (tests, benchmarks)."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time


@contextlib.contextmanager
def spawn_emulator(*args, workers=1, timeout=20.0):
    """Run `python -m polycodec.hybrid.emulator --port 0 [--workers N] ...` in a subprocess;
    yields (url, process, startup lines). The process (and its workers) is stopped on exit."""
    cmd = [sys.executable, "-u", "-m", "polycodec.hybrid.emulator", "--port", "0", *args]
    if workers != 1:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines, url = [], None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if "listening on " in line:
                url = line.rsplit("listening on ", 1)[1].strip()
                break
        if url is None:
            raise RuntimeError(f"emulator did not start: {lines} {proc.stderr.read()[:2000]}")
        yield url, proc, lines
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
