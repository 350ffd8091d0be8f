"""Reassembler and chunks driven by hostile operation sequences, against a simple model.

Byte 0 picks the mode. Mode "ops": 4 setup bytes (chunk_size, count, max_size, max_chunks),
then operations (add with any index and length, result with any count, missing, len), run on
the compiled and the fallback Reassembler side by side. The model is the set of chunks whose
`add` returned: a failed `add` must leave the reassembler as it was, and `result(n)` must return
exactly chunks 0..n-1 joined when they form a valid message (all chunk_size long but the last)
and raise DecodeError otherwise. Mode "chunks": the payload cut into segments and sliced by
`chunks`; the pieces must rejoin to the payload and reassemble in any order.
"""
from __future__ import annotations

import numpy as np

from harness import Choices, Finding, outcome, same_outcome

import polycodec
from polycodec import fallback, spec

compiled = polycodec.implementations()["cython"]
IMPLS = (("compiled", compiled), ("fallback", fallback))

MAX_SIZES = (4096, 1, 8, 32, 64, 2**40, 16, 100)
MAX_CHUNKS = (spec.DEFAULT_MAX_CHUNKS, 1, 4, 8)


def _chunk(index, n, kind):
    data = bytes((index * 31 + j * 7) & 255 for j in range(n))
    if kind == 0:
        return data
    if kind == 1:
        return bytearray(data)
    if kind == 2:
        return memoryview(data)
    if n % 2 == 0:
        return np.frombuffer(data, np.uint16)      # a non-byte buffer: counted in bytes
    return np.frombuffer(data, np.uint8)


class Model:
    def __init__(self, chunk_size, count, max_size, max_chunks):
        self.chunk_size, self.count = chunk_size, count
        self.max_size, self.max_chunks = max_size, max_chunks
        self.accepted = {}
        self.done = False

    def valid(self, n):
        if n is None or (self.count is not None and n != self.count) or n > self.max_chunks:
            return False
        if set(self.accepted) != set(range(n)):
            return False
        if n == 0:
            return True
        size = self.chunk_size or len(self.accepted[0])
        lens = [len(self.accepted[i]) for i in range(n)]
        return all(x == size for x in lens[:-1]) and 1 <= lens[-1] <= size \
            and sum(lens) <= self.max_size

    def joined(self, n):
        return b"".join(self.accepted[i] for i in range(n))


def _state(r, model):
    n = model.count if model.count is not None else 24
    return len(r), r.missing(n)


def _ops(ch):
    setup = ch.take(4).ljust(4, b"\0")
    chunk_size = None if setup[0] % 17 == 0 else setup[0] % 17
    count = None if setup[1] >= 128 else setup[1] % 16
    kwargs = {"max_size": MAX_SIZES[setup[2] % 8], "chunk_size": chunk_size,
              "max_chunks": MAX_CHUNKS[setup[3] % 4]}
    made = [outcome(impl.Reassembler, count, **kwargs) for _, impl in IMPLS]
    same_outcome(*(("ok", None) if m[0] == "ok" else m for m in made), "Reassembler()")
    if made[0][0] != "ok":
        return
    rs = [m[1] for m in made]
    model = Model(chunk_size, count, kwargs["max_size"], kwargs["max_chunks"])
    for _ in range(64):
        if ch.pos >= len(ch.data):
            break
        op = ch.byte()
        if op % 4 < 2:
            b = ch.byte()
            index = {250: -1, 251: 2**63, 252: True}.get(b, b % 20)
            n, kind = ch.byte() % 24, op >> 6
            before = [_state(r, model) for r in rs]
            res = [outcome(r.add, index, _chunk(b, n, kind)) for r in rs]
            same_outcome(*res, f"add({index}, {n} bytes)")
            if res[0][0] == "ok":
                if model.done or index in model.accepted or not 0 <= index:
                    raise Finding(f"add({index}) accepted (done={model.done}, "
                                  f"held {sorted(model.accepted)})")
                model.accepted[index] = bytes(memoryview(_chunk(b, n, kind)).cast("B"))
            else:
                for r, state in zip(rs, before):
                    if _state(r, model) != state:
                        raise Finding(f"failed add({index}, {n} bytes) changed the state: "
                                      f"{state} -> {_state(r, model)}")
        elif op % 4 == 2:
            b = ch.byte()
            n = None if b >= 240 else b % 20
            res = [outcome(lambda r=r: bytes(r.result(n))) for r in rs]
            same_outcome(*res, f"result({n})")
            want = model.count if n is None else n
            if res[0][0] == "ok":
                if model.done or not model.valid(want) or res[0][1] != model.joined(want):
                    raise Finding(f"result({n}) returned {len(res[0][1])} bytes; model: "
                                  f"done={model.done} valid={model.valid(want)} "
                                  f"held {sorted(model.accepted)}")
                model.done = True
            elif not model.done and model.valid(want):
                raise Finding(f"result({n}) refused a complete message "
                              f"(held {sorted(model.accepted)})")
        else:
            states = [_state(r, model) for r in rs]
            if states[0] != states[1] or states[0][0] != len(model.accepted):
                raise Finding(f"state {states} vs model {sorted(model.accepted)}")


def _chunks(ch):
    size = ch.byte() % 33 - 1          # -1 and 0 must be refused
    cuts = {ch.byte() for _ in range(ch.byte() % 5)}
    payload = ch.rest()
    # sorted after the modulo: the segments must tile the payload
    bounds = [0, *sorted(c % (len(payload) + 1) for c in cuts), len(payload)]
    segments = [payload[a:b] for a, b in zip(bounds, bounds[1:])]
    if size <= 0:   # the caller's own argument: ValueError, not a decode error
        for name, impl in IMPLS:
            try:
                impl.chunks(segments, size)
            except ValueError:
                continue
            raise Finding(f"{name} chunks accepted size {size}")
        return
    res = [outcome(lambda impl=impl: impl.chunks(segments, size)) for _, impl in IMPLS]
    for (name, impl), (_, pieces) in zip(IMPLS, res):
        if b"".join(bytes(p) for p in pieces) != payload:
            raise Finding(f"{name} chunks({size}) do not rejoin to the payload")
        if any(len(p) != size for p in pieces[:-1]) or (pieces and not 1 <= len(pieces[-1]) <= size):
            raise Finding(f"{name} chunks({size}) lengths {[len(p) for p in pieces]}")
        r = impl.Reassembler(len(pieces), chunk_size=size if payload else None)
        order = sorted(range(len(pieces)), key=lambda i: (i * 7919 + size) % (len(pieces) + 3))
        for i in order:
            r.add(i, pieces[i])
        if bytes(r.result()) != payload:
            raise Finding(f"{name} reassembled chunks differ from the payload")


def one_input(data: bytes):
    ch = Choices(data)
    if ch.byte() & 1:
        _chunks(ch)
    else:
        _ops(ch)
