"""A local pyrun_backend-compatible server: `python -m polycodec.backends.pyrun --port P`.

Routes (spec.ROUTES): `GET /`, `POST /run`, the same under `/backends/{name}/{version}/`, and
`DELETE /partitions/{partition}` (emulator only: drop a partition's scope and interpreter).
Each partition (header `x-backends-partition`, default `Default`) gets its own
interpreter process (interpreter.py) holding its scope; a cell past `--cell-timeout` has its
interpreter killed (the partition's scope is then empty again). Bad requests get a 4xx JSON
`{"detail": ..., "problems": [...]}`.

SECURITY: cells run unsandboxed with the rights of the user running the server. It binds
127.0.0.1 by default; do not expose it.

Modules: server.py (routes, PyrunServer), partitions.py (one interpreter process per
partition), interpreter.py (the process that runs the cells), __main__.py (the command line).
"""
from __future__ import annotations

from .partitions import Interpreter, InterpreterGone, Partitions
from .server import Handler, PyrunServer

__all__ = ["PyrunServer", "Handler", "Partitions", "Interpreter", "InterpreterGone"]
