# polycodec.hypha's public API (classes typed in their modules; functions typed here).
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from typing_extensions import Buffer

from .accelerate import Options as Options
from .chunking import ChunkReceiver as ChunkReceiver, ChunkSender as ChunkSender, Limits as Limits

SUPPORTED_VERSIONS: tuple[str, ...]
TRUSTED_KEYS: tuple[str, ...]

def accelerate(
    *,
    compression: str | None = None,
    zero_copy: bool = False,
    force: bool = False,
    max_message_size: int | None = None,
    max_chunks: int | None = None,
    max_uploads_per_peer: int | None = None,
    max_bytes_per_peer: int | None = None,
    max_total_bytes: int | None = None,
    reassembly_timeout: float | None = None,
    max_chunk_size: int | None = None,
) -> Options: ...
def accelerated(
    *,
    compression: str | None = ...,
    zero_copy: bool = ...,
    force: bool = ...,
    max_message_size: int | None = ...,
    max_chunks: int | None = ...,
    max_uploads_per_peer: int | None = ...,
    max_bytes_per_peer: int | None = ...,
    max_total_bytes: int | None = ...,
    reassembly_timeout: float | None = ...,
    max_chunk_size: int | None = ...,
) -> AbstractContextManager[Options]: ...
def deaccelerate() -> None: ...
def is_accelerated() -> bool: ...
def pack_frame(
    main: dict[str, Any],
    extra: Sequence[tuple[str, Sequence[Buffer]]] = (),
    *,
    strict_map_key: bool = False,
) -> list[bytes | memoryview]: ...
def parse_frame(
    buf: Buffer,
    *,
    head: tuple[dict[str, Any], int] | None = None,
    trusted: Mapping[str, Any] | None = None,
    default_context: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    lazy: Collection[str] = (),
    max_size: int = 2147483648,
) -> tuple[dict[str, Any], list[str]]: ...

__all__ = [
    "accelerate", "deaccelerate", "accelerated", "is_accelerated", "Options",
    "SUPPORTED_VERSIONS", "Limits", "ChunkSender", "ChunkReceiver", "pack_frame",
    "parse_frame", "TRUSTED_KEYS",
]
