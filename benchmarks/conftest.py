"""Benchmarks share the tests' `impl` fixture and `missing` helper (one source of truth)."""
from __future__ import annotations

import pathlib
import sys

ROOT = str(pathlib.Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # `pytest benchmarks/` alone does not put the repo root on sys.path
    sys.path.insert(0, ROOT)

from tests.conftest import impl, missing  # noqa: E402,F401  (re-exported fixture)
