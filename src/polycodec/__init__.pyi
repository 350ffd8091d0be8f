# The core's public API. The implementation is chosen at import time (compiled core or
# fallback); both have the signatures of fallback.pyi. A new name of the implementation: its
# declaration in fallback.pyi and its entry in __all__ here; any other name: an import line
# here and the entry (tests/test_public_api.py and .ci/types check both against the package).
from types import ModuleType
from typing import Final, Literal

from . import spec as spec
from ._common import Bin as Bin
from .codecs import (
    CodecRegistry as CodecRegistry,
    default_registry as default_registry,
    register_codec as register_codec,
    unregister_codec as unregister_codec,
)
from .errors import (
    DecodeError as DecodeError,
    EncodeError as EncodeError,
    PolycodecError as PolycodecError,
    Problem as Problem,
    RemoteError as RemoteError,
)
from .fallback import *  # the functions and classes of the implementation

__version__: Final[str]
IMPLEMENTATION: Final[Literal["cython", "python"]]

def implementations() -> dict[str, ModuleType]: ...

__all__ = [
    "IMPLEMENTATION", "Encoder", "Decoder", "packb", "pack_segments", "unpackb", "unpack_from",
    "skip", "Bin", "encode", "decode", "chunks", "Reassembler", "Unpacker", "aunpack", "dump",
    "adump", "register_codec", "unregister_codec", "CodecRegistry",
    "default_registry", "PolycodecError", "Problem", "DecodeError", "EncodeError", "RemoteError",
    "spec", "implementations",
]
