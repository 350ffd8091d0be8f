"""Moved to polycodec.backends.pyrun.interpreter; this path stays for old imports and for
`python -m polycodec.backends._worker` (deprecated)."""
import sys
import warnings

from .._moved import moved
from .pyrun import interpreter as _new

if __name__ == "__main__":
    warnings.warn("python -m polycodec.backends._worker is deprecated: run "
                  "python -m polycodec.backends.pyrun.interpreter", DeprecationWarning)
    sys.exit(_new.main())
moved(__name__, _new)
