"""Moved to polycodec.hybrid.emulator.testing; this path stays for old imports (deprecated)."""
from .._moved import moved
from .emulator import testing as _new

moved(__name__, _new)
