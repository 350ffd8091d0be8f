"""`python -m polycodec.backends.pyrun --port P`: the local pyrun backend's command line."""
from __future__ import annotations

import argparse
import os
import sys

from ..._jsonhttp import DEFAULT_READ_TIMEOUT, serve_cli
from ..spec import PYRUN_DEFAULTS
from .server import PyrunServer


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
    return serve_cli(server, f"pyrun listening on {server.url} (pid {os.getpid()})")


if __name__ == "__main__":
    sys.exit(main())
