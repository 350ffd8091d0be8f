"""Moved to polycodec.sockets.emulator.scripts; this path stays for old imports (deprecated)."""
from .._moved import moved
from .emulator import scripts as _new

moved(__name__, _new)
