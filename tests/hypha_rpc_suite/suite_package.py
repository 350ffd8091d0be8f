"""Becomes `tests/__init__.py` of hypha-rpc's suite: the constants its test files import.

Upstream uses a fixed port; here the session server gets a free port, so two runs (or
another process on the machine) cannot collide.
"""
import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


WS_PORT = free_port()
WS_SERVER_URL = f"http://127.0.0.1:{WS_PORT}"
