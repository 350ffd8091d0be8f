"""Moved to polycodec.hybrid.emulator.processes; this path stays for old imports (deprecated)."""
from .._moved import moved
from .emulator import processes as _new

moved(__name__, _new)
