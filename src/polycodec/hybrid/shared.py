"""Moved to polycodec.hybrid.emulator.store; this path stays for old imports (deprecated)."""
from .._moved import moved
from .emulator import store as _new

moved(__name__, _new)
