"""The real reference encoders: hypha-rpc 0.21.47 `RPC._encode` + `msgpack.packb`.

Used by the golden generator (make_golden.py) and by the byte-equality tests. Nothing here
re-implements the reference: it only builds a server-less RPC instance and calls it.
"""
from __future__ import annotations

import functools

REFERENCE_VERSION = "0.21.47"


def reference_problem() -> str | None:
    """Why the reference cannot be used here (None when it can)."""
    try:
        import hypha_rpc
        import msgpack  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        return f"hypha-rpc=={REFERENCE_VERSION} and msgpack ({exc})"
    if hypha_rpc.__version__ != REFERENCE_VERSION:
        return f"hypha-rpc=={REFERENCE_VERSION} (found {hypha_rpc.__version__})"
    return None


def new_rpc():
    """A fresh RPC instance without a server: `connection=None` skips every network set-up
    (the built-in service, the manager); `_encode` then needs only the codecs table."""
    from hypha_rpc.rpc import RPC

    return RPC(None, client_id="polycodec-golden", silent=True)


@functools.lru_cache(maxsize=1)
def shared_rpc():
    return new_rpc()


def reference_encode(value, rpc=None):
    """hypha-rpc's `_encode` tree of `value` (session_id given so nothing asserts on it)."""
    return (rpc or shared_rpc())._encode(value, session_id="golden")


def reference_packb(value, rpc=None) -> bytes:
    """The exact bytes hypha-rpc 0.21.47 puts on the wire for `value`."""
    import msgpack

    return msgpack.packb(reference_encode(value, rpc))
