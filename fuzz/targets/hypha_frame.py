"""The Hypha frame parser and `extra` merge (polycodec.hypha.envelope).

Byte 0 picks the options (trusted context, default context, lazy keys, bin_views for the
values); the rest is the frame. `parse_frame` must return a message or raise DecodeError
(BrokenFrame is one), and a returned message must obey the trust rule: the trusted keys come
from `trusted` when given, `ctx` only from `default_context`, and a key of `extra` is refused
exactly when `main` (or the trusted set) already has it.
"""
from __future__ import annotations

from harness import Choices, Finding, outcome, same

from polycodec.hypha import envelope

TRUSTED = {"from": "ws/peer", "to": "ws/me", "ws": "ws", "user": {"id": "u"}}


def one_input(data: bytes):
    ch = Choices(data)
    flags = ch.byte()
    frame = ch.rest()
    trusted = TRUSTED if flags & 1 else None
    default_context = {"ws": "ctx-ws"} if flags & 2 else None
    lazy = ("args", "with_kwargs") if flags & 4 else ()
    options = {"bin_views": True} if flags & 8 else None
    res = outcome(envelope.parse_frame, frame, trusted=trusted, default_context=default_context,
                  lazy=lazy, options=options)
    if res[0] != "ok":
        return
    msg, refused = res[1]
    main, offset = envelope.parse_main(frame)
    extra = envelope.parse_extra(frame, offset, lazy=lazy, options=options) or {}
    if trusted is not None:
        for key in envelope.TRUSTED_KEYS:
            if msg.get(key) != trusted.get(key):
                raise Finding(f"trusted key {key!r} is {msg.get(key)!r:.80}, not the server's")
    if default_context is None and "ctx" in msg:
        raise Finding("ctx in the message without a default context")
    for key in extra:
        collides = key in main or key in envelope.RESERVED_KEYS
        if collides != (key in refused):
            raise Finding(f"extra key {key!r}: collides={collides}, refused={key in refused}")
        if not collides:
            same(_plain(msg[key]), _plain(extra[key]), f"extra[{key!r}]")
    for key in main:
        if key not in envelope.RESERVED_KEYS:
            same(_plain(msg[key]), _plain(main[key]), f"main[{key!r}]")


def _plain(v):
    return bytes(v.data) if isinstance(v, envelope.Raw) else v
