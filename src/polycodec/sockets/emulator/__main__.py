"""`python -m polycodec.sockets.emulator --port P`: the emulator's command line."""
from __future__ import annotations

import argparse
import sys

from ..._jsonhttp import DEFAULT_READ_TIMEOUT, serve_cli
from .. import spec
from .app import Config
from .handler import make_server


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m polycodec.sockets.emulator",
                                description="Local Syncano custom-socket emulator. Scripts run "
                                            "UNSANDBOXED: run only code you trust.")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    p.add_argument("--db", default=":memory:", help="SQLite file (default in memory)")
    p.add_argument("--api-key", default="polycodec-dev")
    p.add_argument("--max-body", type=int, default=spec.DEFAULT_MAX_BODY)
    p.add_argument("--script-timeout", type=float, default=spec.DEFAULT_SCRIPT_TIMEOUT)
    p.add_argument("--max-output", type=int, default=spec.DEFAULT_MAX_SCRIPT_OUTPUT)
    p.add_argument("--page-size", type=int, default=spec.DEFAULT_PAGE_SIZE)
    p.add_argument("--install-host", action="append", dest="install_hosts",
                   help="host install URLs may name (repeatable; default loopback only)")
    p.add_argument("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT,
                   help="seconds a client may take to send its request")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    config = Config(api_key=a.api_key, max_body=a.max_body, script_timeout=a.script_timeout,
                    max_output=a.max_output, page_size=a.page_size,
                    **({"install_hosts": a.install_hosts} if a.install_hosts else {}))
    server = make_server(a.host, a.port, a.db, config, read_timeout=a.read_timeout,
                         verbose=a.verbose)
    return serve_cli(server, f"polycodec sockets emulator listening on {server.url}")


if __name__ == "__main__":
    sys.exit(main())
