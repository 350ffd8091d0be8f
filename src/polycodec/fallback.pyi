# The core API's types, written once: polycodec, polycodec.fallback and polycodec._compiled
# all expose these (stubtest checks each of them against this file).
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping, Sequence
from typing import Any, Protocol, TypedDict

from typing_extensions import Buffer, TypeAlias, Unpack

from .codecs import CodecRegistry

_Default: TypeAlias = Callable[[Any], Any]    # default(obj) -> an encodable replacement
_RtypeHook: TypeAlias = Callable[[Any], Any]  # rtype_hook(map with an unknown _rtype) -> value
_DictType: TypeAlias = Callable[[], MutableMapping[Any, Any]]
_Segment: TypeAlias = bytes | memoryview

class _DecoderOptions(TypedDict, total=False):  # Decoder's options, as keywords elsewhere
    copy: bool
    dict_type: _DictType
    strict_map_key: bool
    max_size: int
    max_depth: int
    codecs: CodecRegistry | None
    rtype_hook: _RtypeHook | None
    bin_views: bool
    max_items: int

class _Readable(Protocol):
    def read(self, n: int, /) -> bytes: ...

class _AsyncReadable(Protocol):
    async def read(self, n: int, /) -> bytes: ...

class _Writable(Protocol):
    def write(self, data: bytes | memoryview, /) -> object: ...

class _AsyncWriter(Protocol):
    def write(self, data: bytes | memoryview, /) -> object: ...
    async def drain(self) -> None: ...

def encode(
    obj: object,
    *,
    default: _Default | None = None,
    strict_map_key: bool = True,
    codecs: CodecRegistry | None = None,
    max_depth: int = 256,
) -> Any: ...
def decode(
    tree: Any,
    *,
    copy: bool = False,
    dict_type: _DictType = ...,
    strict_map_key: bool = True,
    max_size: int | None = None,
    max_depth: int = 256,
    codecs: CodecRegistry | None = None,
    rtype_hook: _RtypeHook | None = None,
    max_items: int = 16777216,
) -> Any: ...
def pack_segments(
    obj: object,
    *,
    default: _Default | None = None,
    min_oob: int = 65536,
    strict_map_key: bool = True,
    codecs: CodecRegistry | None = None,
    max_depth: int = 256,
) -> list[_Segment]: ...
def packb(
    obj: object,
    *,
    default: _Default | None = None,
    strict_map_key: bool = True,
    codecs: CodecRegistry | None = None,
    max_depth: int = 256,
) -> bytes: ...
def unpack_from(
    buf: Buffer,
    offset: int = 0,
    *,
    copy: bool = False,
    dict_type: _DictType = ...,
    strict_map_key: bool = True,
    max_size: int = 2147483648,
    max_depth: int = 256,
    codecs: CodecRegistry | None = None,
    rtype_hook: _RtypeHook | None = None,
    bin_views: bool = False,
    max_items: int = 16777216,
) -> tuple[Any, int]: ...
def unpackb(
    buf: Buffer,
    *,
    copy: bool = False,
    dict_type: _DictType = ...,
    strict_map_key: bool = True,
    max_size: int = 2147483648,
    max_depth: int = 256,
    codecs: CodecRegistry | None = None,
    rtype_hook: _RtypeHook | None = None,
    bin_views: bool = False,
    max_items: int = 16777216,
) -> Any: ...
def skip(buf: Buffer, offset: int = 0, *, max_size: int = 2147483648, max_depth: int = 256) -> int: ...
def chunks(data: Buffer | Sequence[Buffer], size: int = 262144) -> list[_Segment]: ...

class Reassembler:
    max_size: int
    chunk_size: int | None
    max_chunks: int
    count: int | None
    def __init__(
        self,
        count: int | None = None,
        *,
        max_size: int = 2147483648,
        chunk_size: int | None = 262144,
        max_chunks: int = 8192,
    ) -> None: ...
    def __len__(self) -> int: ...
    def add(self, index: int, chunk: Buffer) -> None: ...
    def missing(self, count: int | None = None) -> list[int]: ...
    def result(self, count: int | None = None) -> memoryview: ...

class Encoder:
    def __init__(
        self,
        *,
        default: _Default | None = None,
        strict_map_key: bool = True,
        codecs: CodecRegistry | None = None,
        max_depth: int = 256,
        min_oob: int = 65536,
    ) -> None: ...
    @property
    def default(self) -> _Default | None: ...
    @property
    def strict_map_key(self) -> bool: ...
    @property
    def codecs(self) -> CodecRegistry | None: ...
    @property
    def max_depth(self) -> int: ...
    @property
    def min_oob(self) -> int: ...
    def encode(self, obj: object) -> bytes: ...
    def pack_segments(self, obj: object) -> list[_Segment]: ...
    def encode_into(self, obj: object, buffer: bytearray, offset: int = 0) -> None: ...

class Decoder:
    def __init__(
        self,
        *,
        copy: bool = False,
        dict_type: _DictType = ...,
        strict_map_key: bool = True,
        max_size: int = 2147483648,
        max_depth: int = 256,
        codecs: CodecRegistry | None = None,
        rtype_hook: _RtypeHook | None = None,
        bin_views: bool = False,
        max_items: int = 16777216,
    ) -> None: ...
    @property
    def copy(self) -> bool: ...
    @property
    def dict_type(self) -> _DictType: ...
    @property
    def strict_map_key(self) -> bool: ...
    @property
    def max_size(self) -> int: ...
    @property
    def max_depth(self) -> int: ...
    @property
    def codecs(self) -> CodecRegistry | None: ...
    @property
    def rtype_hook(self) -> _RtypeHook | None: ...
    @property
    def bin_views(self) -> bool: ...
    @property
    def max_items(self) -> int: ...
    def decode(self, buf: Buffer) -> Any: ...
    def decode_from(self, buf: Buffer, offset: int = 0) -> tuple[Any, int]: ...

class Unpacker(Iterator[Any]):
    def __init__(
        self,
        file_like: _Readable | None = None,
        *,
        read_size: int = 65536,
        max_buffer_size: int = 104857600,
        **options: Unpack[_DecoderOptions],
    ) -> None: ...
    def feed(self, data: Buffer) -> None: ...
    def close(self) -> None: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __next__(self) -> Any: ...
    def take(self, n: int) -> list[Any]: ...
    def skip(self) -> bool: ...
    def tell(self) -> int: ...

def aunpack(
    reader: _AsyncReadable,
    *,
    read_size: int = 65536,
    max_buffer_size: int = 104857600,
    **options: Unpack[_DecoderOptions],
) -> AsyncIterator[Any]: ...
def dump(obj: object, stream: _Writable, *, encoder: Encoder | None = None) -> int: ...
async def adump(obj: object, writer: _AsyncWriter, *, encoder: Encoder | None = None) -> int: ...
