"""Custom `_rtype` codecs with hypha-rpc's semantics (`RPC.register_codec`).

A registry is an ordered list of codecs; encoding tries them in registration order (before
numpy, Exception, memoryview and set), decoding looks the `_rtype` up by name and wins over
the built-in forms. `polycodec.register_codec` fills the default registry; the Hypha layer keeps
one registry per RPC instance.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, NamedTuple


class Codec(NamedTuple):
    name: str
    type: Any               # a type or tuple of types (isinstance), or None (decode only)
    encoder: Callable | None
    decoder: Callable | None


class CodecRegistry:
    """Ordered codecs. `encoders` and `decoders` are rebuilt on change so the hot path reads
    two plain containers without locking (replacing a tuple/dict is atomic)."""

    def __init__(self):
        self._codecs: dict[str, Codec] = {}
        self.encoders: tuple = ()     # ((type, name, encoder), ...) in registration order
        self.decoders: dict = {}      # name -> decoder

    def register(self, config=None, /, **kwargs) -> Codec:
        """Register `{"name", "type", "encoder", "decoder"}` (hypha-rpc's dict) or keywords.

        As in hypha-rpc, a codec with the same name or the same type replaces the old one.
        """
        if config is not None and not isinstance(config, Mapping):
            raise TypeError(f"register_codec takes a dict of name, type, encoder, decoder (or "
                            f"those keywords), got {type(config).__name__} {config!r:.40}")
        conf = dict(config or {}, **kwargs)
        name = conf.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("a codec needs a non-empty str 'name'")
        encoder, decoder = conf.get("encoder"), conf.get("decoder")
        if encoder is None and decoder is None:
            raise ValueError(f"codec {name!r} needs an 'encoder' or a 'decoder'")
        for role, fn in (("encoder", encoder), ("decoder", decoder)):
            if fn is not None and not callable(fn):
                raise TypeError(f"codec {name!r}: {role} must be callable, "
                                f"got {type(fn).__name__}")
        typ = conf.get("type")
        if encoder is not None and typ is None:
            raise ValueError(f"codec {name!r} has an encoder but no 'type'")
        if encoder is not None and not _is_type_spec(typ):   # decode-only: type unused
            raise TypeError(f"codec {name!r}: type must be a type or a tuple of types "
                            f"(as isinstance takes), got {typ!r:.60}")
        codecs = {
            key: c for key, c in self._codecs.items()
            if key != name and (typ is None or c.type != typ)
        }
        codec = Codec(name, typ, encoder, decoder)
        codecs[name] = codec
        self._set(codecs)
        return codec

    def unregister(self, name: str) -> None:
        codecs = dict(self._codecs)
        codecs.pop(name, None)
        self._set(codecs)

    def clear(self) -> None:
        self._set({})

    def _set(self, codecs):
        self._codecs = codecs
        self.encoders = tuple(
            (c.type, c.name, c.encoder) for c in codecs.values() if c.encoder is not None
        )
        self.decoders = {c.name: c.decoder for c in codecs.values() if c.decoder is not None}

    def __iter__(self):
        return iter(tuple(self._codecs.values()))

    def __len__(self):
        return len(self._codecs)


def _is_type_spec(typ) -> bool:
    """What isinstance() accepts as its second argument (a type, or nested tuples of them)."""
    if isinstance(typ, tuple):
        return bool(typ) and all(_is_type_spec(t) for t in typ)
    return isinstance(typ, type)


default_registry = CodecRegistry()


def register_codec(config=None, /, **kwargs) -> Codec:
    """Register a codec in the default registry (used when `codecs=` is not given)."""
    return default_registry.register(config, **kwargs)


def unregister_codec(name: str) -> None:
    default_registry.unregister(name)
