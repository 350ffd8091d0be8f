# Same API as polycodec.fallback (the types are written once, in fallback.pyi).
from ._common import Bin as Bin
from .fallback import (
    Reassembler as Reassembler,
    chunks as chunks,
    decode as decode,
    encode as encode,
    pack_segments as pack_segments,
    packb as packb,
    skip as skip,
    unpack_from as unpack_from,
    unpackb as unpackb,
)
