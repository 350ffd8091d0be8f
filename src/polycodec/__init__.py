"""polycodec: one-pass, zero-copy Hypha `_rtype` msgpack codec with a Cython core.

The compiled core is used when it is built and `POLYCODEC_PUREPYTHON` is not set to 1;
otherwise the pure-Python fallback (same API, same bytes) is used. `IMPLEMENTATION` says which.
"""
from __future__ import annotations

import os

from . import spec
from ._common import Bin
from .codecs import CodecRegistry, default_registry, register_codec, unregister_codec
from .errors import DecodeError, EncodeError, PolycodecError, Problem, RemoteError

__version__ = "0.1.0"

from . import fallback  # noqa: E402  (always importable: the reference semantics)

try:
    from . import _compiled as compiled
except ImportError:  # extension not built
    compiled = None

if compiled is not None and os.environ.get("POLYCODEC_PUREPYTHON") != "1":
    _impl = compiled
    IMPLEMENTATION = "cython"
else:
    _impl = fallback
    IMPLEMENTATION = "python"

packb = _impl.packb
pack_segments = _impl.pack_segments
unpackb = _impl.unpackb
unpack_from = _impl.unpack_from
skip = _impl.skip
encode = _impl.encode
decode = _impl.decode
chunks = _impl.chunks
Reassembler = _impl.Reassembler


def implementations() -> dict:
    """{"cython": module, "python": module} for the implementations available here."""
    impls = {"python": fallback}
    if compiled is not None:
        impls["cython"] = compiled
    return impls


__all__ = [
    "IMPLEMENTATION", "packb", "pack_segments", "unpackb", "unpack_from", "skip", "Bin", "encode", "decode",
    "chunks", "Reassembler", "register_codec", "unregister_codec", "CodecRegistry",
    "default_registry", "PolycodecError", "Problem", "DecodeError", "EncodeError", "RemoteError",
    "spec", "implementations",
]
