"""Moved to polycodec.hybrid.emulator.services; this path stays for old imports (deprecated)."""
from .._moved import moved
from .emulator import services as _new

moved(__name__, _new)
