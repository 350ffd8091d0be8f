"""The compiled core's public namespace (same API as polycodec.fallback)."""
from ._packer import pack_segments, packb  # noqa: F401  (ImportError -> fallback is used)
from ._unpacker import skip, unpack_from, unpackb  # noqa: F401
from ._common import Bin  # noqa: F401
from ._chunks import copy_into as _copy_into
from . import fallback as _fallback

# The tree-level API and chunk slicing are not hot in C terms (slicing a memoryview is already
# a C call); they are shared with the fallback so both behave identically.
encode = _fallback.encode
decode = _fallback.decode
chunks = _fallback.chunks


class Reassembler(_fallback.Reassembler):
    __doc__ = _fallback.Reassembler.__doc__

    def _write(self, start, mv):
        _copy_into(self._buf, start, mv)
