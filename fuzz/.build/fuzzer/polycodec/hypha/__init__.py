"""Hypha RPC layer: the two-object frame, chunked messages, and `accelerate()` for hypha-rpc.

    import polycodec.hypha
    polycodec.hypha.accelerate()          # before connect_to_server; see docs/hypha.md
"""
from .accelerate import (
    SUPPORTED_VERSIONS, Options, accelerate, accelerated, deaccelerate, is_accelerated,
)
from .chunking import ChunkReceiver, ChunkSender, Limits
from .envelope import TRUSTED_KEYS, pack_frame, parse_frame

__all__ = [
    "accelerate", "deaccelerate", "accelerated", "is_accelerated", "Options",
    "SUPPORTED_VERSIONS", "Limits", "ChunkSender", "ChunkReceiver", "pack_frame",
    "parse_frame", "TRUSTED_KEYS",
]
