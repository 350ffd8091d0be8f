"""Run the emulator's command line in a subprocess (tests, benchmarks)."""
from __future__ import annotations

import contextlib

from ..._jsonhttp import spawn_cli


@contextlib.contextmanager
def spawn_emulator(*args, workers=1, timeout=20.0):
    """Run `python -m polycodec.hybrid.emulator --port 0 [--workers N] ...` in a subprocess;
    yields (url, process, the lines it printed before its address). The process (and its
    workers) is stopped on exit."""
    cmd = ["-m", "polycodec.hybrid.emulator", "--port", "0", *args]
    if workers != 1:
        cmd += ["--workers", str(workers)]
    lines = []
    with spawn_cli(cmd, startup_timeout=timeout, lines=lines) as (proc, url):
        yield url, proc, lines
