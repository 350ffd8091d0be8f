"""Pause the cyclic garbage collector while large JSON trees are decoded or built.

A JSON tree holds no reference cycles, yet creating hundreds of thousands of containers
triggers collection after collection, each walking the live objects (the caller's records
included). Measured on the 2-core dev box: orjson.loads of a 12.7 MB table body 122 -> 77 ms,
of a 7 MB v4 response (100,000 output dicts) 184 -> 79 ms. Nothing is leaked: objects stay
tracked and the next collection after the pause sees them.

Nesting- and thread-safe: the collector is switched off by the first pause and back on when
the last one ends, and only if it was on before.
"""
from __future__ import annotations

import contextlib
import gc
import threading

LARGE = 64 << 10            # response bodies from this size up are decoded with the collector paused

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextlib.contextmanager
def paused():
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
