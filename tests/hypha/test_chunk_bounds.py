"""The Hypha receiver's chunk-index bounds: the last allowed index lands, the next is refused
(and the upload dropped), through both `set` and `append`."""
from __future__ import annotations

import pytest

import polycodec
from polycodec.hypha.chunking import ChunkReceiver, Limits
from polycodec.spec import DEFAULT_MAX_ITEMS

CTX = {"from": "ws-a/alice", "to": "ws-b/bob", "ws": "ws-a", "user": {"id": "alice"}}


def receiver(**limits):
    got = []
    return ChunkReceiver(Limits(**limits), lambda key: None, lambda b, c: got.append(b)), got


def test_index_upper_bound_is_max_chunks_minus_one():
    rx, got = receiver(max_chunks=4)
    rx.create("k", context=CTX)
    for i in range(4):
        rx.set("k", 3 - i, b"abcd", context=CTX)     # index 3 = max_chunks - 1 is accepted
    rx.process("k", context=CTX)
    assert bytes(got[0]) == b"abcd" * 4
    rx.create("k", context=CTX)
    rx.set("k", 0, b"abcd", context=CTX)
    with pytest.raises(polycodec.DecodeError, match=r"outside 0\.\.3 \(max_chunks\)"):
        rx.set("k", 4, b"abcd", context=CTX)
    assert len(rx) == 0                              # the upload was dropped
    rx.create("k", context=CTX)
    for bad in (2**63, True, -1):
        with pytest.raises(polycodec.DecodeError):
            rx.set("k", bad, b"abcd", context=CTX)
        rx.create("k", overwrite=True, context=CTX)


def test_append_stops_at_max_chunks():
    rx, _ = receiver(max_chunks=2)
    rx.create("k", context=CTX)
    rx.append("k", b"ab", context=CTX)
    rx.append("k", b"cd", context=CTX)
    with pytest.raises(polycodec.DecodeError, match="max_chunks"):
        rx.append("k", b"ef", context=CTX)
    assert len(rx) == 0


def test_limits_carry_the_item_budget():
    assert Limits().max_items == DEFAULT_MAX_ITEMS
    with pytest.raises(ValueError, match="max_items"):
        Limits(max_items=0)
