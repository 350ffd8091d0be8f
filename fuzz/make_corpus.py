"""Writes the seed corpora fuzz/corpus/<target>/ (committed; rerun after changing the vectors).

decode: every golden vector of tests/golden/python that fits the guided runs' -max_len, each
behind 4 option bytes that vary from file to file, plus the inputs of known defects (all
options off). reassembler: a few operation sequences and chunk layouts.
"""
from __future__ import annotations

import hashlib
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "tests", "golden", "python")
MAX_LEN = 1024   # keeps the committed corpus small; the guided runs go up to 4096

# Inputs that once broke a contract (hex of the whole message).
REGRESSIONS = [
    "84a65f7274797065a76e646172726179a75f7276616c7565c40100a75f7273686170659101a75f726474797065a1ff",
    "84a65f7274797065a76e646172726179a75f7276616c7565c40100a75f72736861706592ce00042f01cf00003d30f19cd101a75f726474797065a4696e7438",
    "81c4016b01",
    "8191c4016101",
    "8182a65f7274797065aa6d656d6f727976696577a75f7276616c7565c402616201",
    "8182a65f7274797065a56572726f72a75f7276616c7565a17801",
    "82a65f7274797065aa6d656d6f727976696577a75f7276616c75659182a65f7274797065aa6d656d6f727976696577a75f7276616c756592c40161c40162",
    "83a65f7274797065aa6d656d6f727976696577a75f7276616c7565c4026162a17882a65f7274797065a3736574a75f7276616c756505",
    "ca3fc00000",
    # a duplicate key whose first value is an invalid ndarray map (strict_map_key=False)
    "820081a65f7274797065a76e6461727261790000",
    # zero dimensions in wide int forms (the in-place reader once divided by them)
    "84a65f7274797065a76e646172726179a75f7276616c7565c40100a75f72736861706591ce00000000a75f726474797065a4696e7438",
    "84a65f7274797065a76e646172726179a75f7276616c7565c400a75f72736861706591cc00a75f726474797065a4696e7438",
    "91" * 300 + "c0",
    # truncated containers and a truncated bin8/str8: the same message from both (the fallback
    # once said "needs 2 bytes" where the compiled core says "needs at least"; compiled skip
    # once said "a str or bin")
    "8100", "9201", "c405aa", "d905aa",
]


def _write(folder, data):
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def _fresh(name):
    folder = os.path.join(HERE, "corpus", name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return folder


def decode():
    folder = _fresh("decode")
    for i, name in enumerate(sorted(os.listdir(GOLDEN))):
        if not name.endswith(".msgpack"):
            continue
        with open(os.path.join(GOLDEN, name), "rb") as f:
            vec = f.read()
        if len(vec) + 4 <= MAX_LEN:
            _write(folder, bytes([i * 37 & 0xFF, i % 8, i * 11 & 0x3F, i & 3]) + vec)
    for hexdata in REGRESSIONS:
        for flags in (0, 1, 2, 3):          # bin_views / lax keys
            _write(folder, bytes([flags, 0, 0, 0]) + bytes.fromhex(hexdata))


def reassembler():
    folder = _fresh("reassembler")
    seeds = [
        # ops: chunk_size 4, count 3, max_size 4096; add 2, add 0, add 1 (short last), result
        b"\0" + bytes([4, 3, 0, 0]) + bytes([0, 2, 2, 0, 0, 4, 0, 1, 4, 2, 240]),
        # chunk_size None: early chunks longer than chunk 0, then chunk 0, then result(2)
        b"\0" + bytes([0, 200, 0, 0]) + bytes([0, 1, 9, 0, 2, 9, 0, 0, 4, 3, 2, 2, 3]),
        # duplicates, out of range, result before completion
        b"\0" + bytes([8, 2, 4, 2]) + bytes([0, 0, 8, 0, 0, 8, 0, 19, 8, 2, 2, 0, 1, 3, 2, 2]),
        # chunks: size 5 over three segments
        b"\x01" + bytes([6, 3, 4, 9, 20]) + bytes(range(40)),
        b"\x01" + bytes([1, 0]) + b"x",
    ]
    for s in seeds:
        _write(folder, s)


def hypha_frame():
    import polycodec
    from polycodec.hypha import envelope

    folder = _fresh("hypha_frame")
    main = {"type": "method", "from": "ws/a", "to": "ws/b", "method": "svc.echo", "session": "s1"}
    extras = [
        [],
        [("args", [polycodec.packb([1, "x", b"\0" * 3])]), ("with_kwargs", [polycodec.packb(False)])],
        [("promise", [polycodec.packb({"resolve": "r", "reject": "j"})]), ("from", [polycodec.packb("x")])],
        [("ctx", [polycodec.packb({"ws": "evil"})]), ("data", [polycodec.packb({"_rtype": "set", "_rvalue": [1]})])],
    ]
    for i, extra in enumerate(extras):
        for flags in (0, 5, 15):
            _write(folder, bytes([flags + i]) + envelope.join(envelope.pack_frame(main, extra)))


def sockets_payload():
    import hypothesis

    from polycodec.sockets import to_body
    from tests.sockets.strategies import sockets

    folder = _fresh("sockets_payload")
    found = []

    @hypothesis.settings(max_examples=40, database=None, derandomize=True)
    @hypothesis.given(sockets())
    def collect(sock):
        found.append(to_body(sock))

    collect()
    for body in found[:: max(1, len(found) // 12)]:
        _write(folder, body)
    _write(folder, b'{"name": "s", "endpoints": "{}", "dependencies": "{}"}')


def pyrun_body():
    folder = _fresh("pyrun_body")
    run = b'{"cellId":"c1","code":"y = x + 1","capturedIn":{"x":1},"capturedOut":["y"]}'
    result = b'{"output":"","error":"","capturedOut":{"y":2}}'
    for mode in (0, 1, 2, 3, 4, 8):
        _write(folder, bytes([mode, 2]) + run)
    _write(folder, bytes([0, 3]) + result)
    _write(folder, bytes([0, 0]) + run)     # above a 16-byte cap: 413


if __name__ == "__main__":
    import sys

    sys.path.insert(0, os.path.join(HERE, ".."))
    decode()
    reassembler()
    hypha_frame()
    sockets_payload()
    pyrun_body()
    for name in ("decode", "reassembler", "hypha_frame", "sockets_payload", "pyrun_body"):
        print(name, len(os.listdir(os.path.join(HERE, "corpus", name))), "files")
