"""polycodec: one-pass, zero-copy Hypha `_rtype` msgpack codec with a Cython core.

The compiled core is used when it is built and `POLYCODEC_PUREPYTHON` is not set to 1;
otherwise the pure-Python fallback (same API, same bytes) is used. `IMPLEMENTATION` says which.
"""
from os import environ as _environ

from . import spec
from ._common import Bin
from .codecs import CodecRegistry, default_registry, register_codec, unregister_codec
from .errors import DecodeError, EncodeError, PolycodecError, Problem, RemoteError

__version__ = "0.1.0"

from . import fallback  # noqa: E402  (always importable: the reference semantics)

try:
    from . import _compiled
except ImportError:  # extension not built
    _compiled = None

if _compiled is not None and _environ.get("POLYCODEC_PUREPYTHON") != "1":
    _impl = _compiled
    IMPLEMENTATION = "cython"
else:
    _impl = fallback
    IMPLEMENTATION = "python"

Encoder = _impl.Encoder
Decoder = _impl.Decoder
packb = _impl.packb
pack_segments = _impl.pack_segments
unpackb = _impl.unpackb
unpack_from = _impl.unpack_from
skip = _impl.skip
encode = _impl.encode
decode = _impl.decode
chunks = _impl.chunks
Reassembler = _impl.Reassembler
Unpacker = _impl.Unpacker
aunpack = _impl.aunpack
dump = _impl.dump
adump = _impl.adump


def implementations() -> dict:
    """{"cython": module, "python": module} for the implementations available here."""
    impls = {"python": fallback}
    if _compiled is not None:
        impls["cython"] = _compiled
    return impls


__all__ = [
    "IMPLEMENTATION", "Encoder", "Decoder", "packb", "pack_segments", "unpackb", "unpack_from",
    "skip", "Bin", "encode", "decode", "chunks", "Reassembler", "Unpacker", "aunpack", "dump",
    "adump", "register_codec", "unregister_codec", "CodecRegistry", "default_registry",
    "PolycodecError", "Problem", "DecodeError", "EncodeError", "RemoteError", "spec",
    "implementations",
]
