"""A local Syncano custom-socket emulator: ``python -m polycodec.sockets.emulator --port P``.

Stores sockets in SQLite, validates like the platform (same checks as polycodec.sockets.validate
plus global endpoint-name uniqueness), answers the documented status values, and runs Python
script dependencies in a subprocess with a time limit. Binds 127.0.0.1 by default.
SCRIPTS RUN UNSANDBOXED with the emulator's user rights: run only code you trust.
Bad input always gets a 4xx with ``{"detail": ..., "errors": [{path, message}]}``.

Modules: app.py (the platform logic), handler.py (HTTP routing, make_server), scripts.py
(running a script dependency), store.py (SQLite), testing.py (a subprocess and a pytest
fixture), __main__.py (the command line).
"""
from __future__ import annotations

from .app import Config, Emulator
from .handler import Handler, make_server

__all__ = ["Config", "Emulator", "Handler", "make_server"]
