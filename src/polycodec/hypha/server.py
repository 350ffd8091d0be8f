"""Moved to polycodec.bench.hypha_server; this path stays for old imports (deprecated)."""
from .._moved import moved
from ..bench import hypha_server as _new

moved(__name__, _new)
