"""Old module paths kept for imports written before a module moved."""
from __future__ import annotations

import sys
import warnings


def moved(old: str, new) -> None:
    """Make the module `old` (being imported) the module `new`, with a DeprecationWarning."""
    warnings.warn(f"{old} moved to {new.__name__}; import it from there", DeprecationWarning,
                  stacklevel=3)
    sys.modules[old] = new
