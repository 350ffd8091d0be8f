"""`polycodec bench --realistic`: payloads shaped like service traffic, encode and decode timed
separately beside msgspec.msgpack, ormsgpack, msgpack-python and hypha-rpc's real path.

Every peer gets the same value and, before it is timed, its bytes are compared with
polycodec's (a row whose bytes differ says so, and why when that is expected); arrays go to the
peers through their hook (`enc_hook`, `default`) as the `_rtype` map with a memoryview bin,
which is byte-for-byte what hypha-rpc writes. Decoders are checked against the original value;
peers without `_rtype` rebuilding get the arrays back by schema (`np.frombuffer` where the
workload says an array is). Times are medians of interleaved rounds, each candidate of one
workload sampled in turn, so a change of machine load hits all of them alike.

Two comparisons per side: `Encoder.encode` / `Decoder.decode` against msgspec's `Encoder` /
`Decoder` objects, and `packb` / `unpackb` against `msgspec.msgpack.encode` / `decode`.
"""
from __future__ import annotations

import gc
import os
import random
import statistics
import time

import numpy as np

import polycodec

from .core import Peers, _ndarray_tree, _from_tree
from .report import Row, Section


# --- workloads (also used by benchmarks/bench_realistic.py) ----------------------------------
def records(n=500):
    """Records with repeated keys: ints, floats, short strings, None/bool, small lists."""
    return [{"id": i, "name": f"user-{i}", "email": f"u{i}@example.org", "score": i * 0.37,
             "active": bool(i % 3), "team": None if i % 5 else "core", "tags": ["a", "b"][:i % 3],
             "pos": [i % 640, i % 480]} for i in range(n)]


def regions(n=500):
    """Image-region records (detector output): a label, a score, a box, a small polygon."""
    return [{"label": ("cat", "dog", "person")[i % 3], "score": 0.5 + (i % 50) / 100,
             "bbox": [i % 600, i % 400, 32 + i % 64, 24 + i % 48], "area": 1000 + i,
             "mask_id": None, "points": [[i % 600, i % 400], [i % 600 + 8, i % 400 + 6]],
             "tracked": i % 2 == 0} for i in range(n)]


def method_call():
    """The `main` object of a hypha-rpc `method` call as polycodec.hypha builds it, with the
    arguments a call of a few parameters carries (about 200 bytes)."""
    return {"type": "method", "from": "ws-user-github|49943582/client-7f3a", "to":
            "ws-user-github|49943582/svc-9c1e:default", "method": "image-tools.segment",
            "session": "f0f2e9b0-7c1d", "args": ["sample.png", {"threshold": 0.5, "mode":
            "fast", "classes": [1, 3, 7]}, 12, True], "with_kwargs": True}


def ints(n=500):
    return [(i * 7919) % 100_000 - 500 for i in range(n)]


def floats(n=500):
    return [i * 1.0137 - 3.5 for i in range(n)]


def strings(n=500):
    return [f"item-{i:05d}" for i in range(n)]


def pairs(n=500):
    """A list of small lists ([1, 2]-shaped pairs)."""
    return [[i, i + 1] for i in range(n)]


def config():
    """A nested configuration document (service manifest style)."""
    return {"name": "image-tools", "version": "1.4.2", "description": "Segmentation service",
            "config": {"visibility": "public", "require_context": True, "run_in_executor": False,
                       "workers": 4, "timeout": 30.0, "limits": {"max_size": 2 ** 27,
                                                                 "rate": [100, 60]}},
            "services": [{"id": f"svc-{k}", "type": "functions", "methods": [
                {"name": f"m{j}", "doc": f"Method {j} of service {k}.", "params": [
                    {"name": "x", "type": "int", "default": j}, {"name": "opts", "type": "object",
                                                               "default": None}]}
                for j in range(6)]} for k in range(4)],
            "env": {f"VAR_{i}": f"value-{i}" for i in range(12)}}


def embeddings(n=256, dim=768):
    """An embeddings response: ids + a float32 matrix."""
    rng = np.random.default_rng(10)
    return {"model": "text-embed-small", "ids": [f"doc-{i}" for i in range(n)],
            "embeddings": rng.standard_normal((n, dim), dtype=np.float32),
            "usage": {"tokens": n * 37}}


def service_response():
    """A mixed service response: records + a uint8 image + metadata."""
    rng = np.random.default_rng(11)
    return {"status": "ok", "results": regions(50),
            "image": rng.integers(0, 255, (256, 256, 3), dtype=np.uint8),
            "meta": {"elapsed": 0.0132, "model": "seg-v3", "device": "cuda:0",
                     "shape": [256, 256, 3]}}


# name, builder, smaller count for --quick, paths of arrays (for peers' schema rebuild)
WORKLOADS = [
    ("records 500x8", records, 200, ()),
    ("regions 500x7", regions, 200, ()),
    ("hypha method call", method_call, None, ()),
    ("500 ints", ints, 200, ()),
    ("500 floats", floats, 200, ()),
    ("500 short str", strings, 200, ()),
    ("500 [i, i+1] pairs", pairs, 200, ()),
    ("config document", config, None, ()),
    ("embeddings 256x768", embeddings, 64, ("embeddings",)),
    ("service response", service_response, None, ("image",)),
]


def same(a, b) -> bool:
    """Deep equality with arrays compared by dtype, shape and content."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and \
            np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


def _array_hook(obj):
    """Peers' hook: an array as the `_rtype` map hypha-rpc writes (bin = the array's memory)."""
    if isinstance(obj, np.ndarray):
        return _ndarray_tree(obj)
    raise TypeError(f"unsupported {type(obj).__name__}")


def _rebuild(paths):
    """Peers' decode post-step: the `_rtype` maps at `paths` (top-level keys) to arrays."""
    def fix(out):
        for key in paths:
            out[key] = _from_tree(out[key])
        return out
    return fix


class Candidates:
    """The encoders and decoders of one workload (peers that are missing are skipped)."""

    def __init__(self, peers: Peers, paths):
        self.enc, self.dec = [], []     # (name, fn(obj) / fn(frame), baseline)
        self.why = {}                   # name -> why its bytes differ (expected)
        p = peers
        fix = _rebuild(paths) if paths else (lambda out: out)
        if p.msgspec:
            ms = p.msgspec.msgpack
            enc, dec = ms.Encoder(enc_hook=_array_hook), ms.Decoder()
            self.enc += [("msgspec Encoder", enc.encode, None),
                         ("msgspec encode", lambda o: ms.encode(o, enc_hook=_array_hook), None)]
            self.dec += [("msgspec Decoder", lambda f: fix(dec.decode(f)), None),
                         ("msgspec decode", lambda f: fix(ms.decode(f)), None)]
        for name, impl in polycodec.implementations().items():
            e, d = impl.Encoder(), impl.Decoder()
            self.enc += [(f"polycodec[{name}] Encoder", e.encode, "msgspec Encoder"),
                         (f"polycodec[{name}] packb", impl.packb, "msgspec encode")]
            self.dec += [(f"polycodec[{name}] Decoder", d.decode, "msgspec Decoder"),
                         (f"polycodec[{name}] unpackb", impl.unpackb, "msgspec decode")]
        if p.ormsgpack:
            om = p.ormsgpack

            def om_hook(obj):   # ormsgpack writes no memoryview: the bin is a bytes copy
                tree = _array_hook(obj)
                tree["_rvalue"] = obj.tobytes()
                return tree
            self.enc.append(("ormsgpack", lambda o: om.packb(o, default=om_hook), None))
            self.dec.append(("ormsgpack", lambda f: fix(om.unpackb(f)), None))
            if paths:
                self.why["ormsgpack"] = ""
        if p.msgpack:
            mp = p.msgpack
            self.enc.append(("msgpack", lambda o: mp.packb(o, default=_array_hook), None))
            self.dec.append(("msgpack", lambda f: fix(mp.unpackb(f)), None))
        if p.rpc:
            self.enc.append(("hypha-rpc", p.hypha_packb, None))
            self.dec.append(("hypha-rpc", p.hypha_unpackb, None))


# CPU time of this thread: time the scheduler gives other processes on a shared machine is
# not counted (all candidates run on the calling thread).
_clock = time.thread_time


class _Bench:
    def __init__(self, args):
        self.quick = bool(getattr(args, "quick", False))
        repeat = getattr(args, "repeat", None)
        self.rounds = 10 * (repeat if repeat else (4 if self.quick else 10))
        self.row_cap = 0.25 if self.quick else 2.0   # seconds of timing per row at most
        self.peers = Peers()
        self.rows: list[Row] = []
        self.notes: list[str] = []

    def time_group(self, workload, cands, arg, check, default_base):
        """Check each candidate once, then time them in interleaved rounds."""
        live = []
        shuffle = random.Random(len(workload)).shuffle   # repeatable orders
        for name, fn, base in cands:
            try:
                out = fn(arg)
                note = check(name, out)
                t0 = _clock()
                fn(arg)
                first = _clock() - t0
            except Exception as exc:
                self.notes.append(f"- {workload} / {name}: failed: {type(exc).__name__}: {exc}")
                continue
            # many short rounds: a burst of load from another process spoils few of them
            number = max(1, min(5000, int(0.0005 / max(first, 1e-7))))
            rounds = max(3, min(self.rounds, int(self.row_cap / max(first * number, 1e-9))))
            live.append([name, fn, base or default_base, note, number, rounds, []])
        for k in range(max((c[5] for c in live), default=0)):
            if k % 10 == 0:
                gc.collect()
            # a new order each round: no candidate always runs first or after the same one
            # (what runs before leaves the caches and the allocator in its own state)
            order = list(live)
            shuffle(order)
            for c in order:
                if k < c[5]:
                    fn, number = c[1], c[4]
                    t0 = _clock()
                    for _ in range(number):
                        fn(arg)
                    c[6].append((_clock() - t0) / number)
        for name, _, base, note, _, _, samples in live:
            self.rows.append(Row(workload, name, statistics.median(samples), base, note,
                                 {"best": min(samples), "rounds": len(samples)}))

    def workload(self, label, build, quick_n, paths):
        obj = build(quick_n) if (self.quick and quick_n) else build()
        if self.quick and quick_n:
            label = label.replace("500", str(quick_n)).replace("256", str(quick_n))
        cands = Candidates(self.peers, paths)
        ref = polycodec.packb(obj)
        why = dict(cands.why)

        def enc_check(name, out):
            if bytes(out) == ref:
                return ""
            if name in why:
                return "bytes differ (expected: ormsgpack packs no memoryview; its hook " \
                       "copies the array)" if why[name] == "" else why[name]
            return f"BYTES DIFFER ({len(out)} vs {len(ref)})"

        def dec_check(name, out):
            return "" if same(out, obj) else "WRONG RESULT"
        self.time_group(f"{label} encode", cands.enc, obj, enc_check, "msgspec encode")
        self.time_group(f"{label} decode", cands.dec, ref, dec_check, "msgspec decode")
        self.notes.append(f"- {label}: {len(ref):,} bytes")


def _loadavg():
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def run(args) -> Section:
    t0 = time.perf_counter()
    b = _Bench(args)
    for name, why in b.peers.missing.items():
        b.notes.append(f"- peer {name} not installed: its rows are skipped ({why})")
    load0 = _loadavg()
    for label, build, quick_n, paths in WORKLOADS:
        b.workload(label, build, quick_n, paths)
    notes = [f"ratios: polycodec's Encoder/Decoder to msgspec's Encoder/Decoder objects, its "
             f"packb/unpackb and the other peers to msgspec.msgpack.encode/decode; medians of "
             f"interleaved rounds of thread CPU time ({'--quick, ' if b.quick else ''}at most {b.row_cap} s per "
             f"row); machine: {os.cpu_count()} CPUs, load average {load0} at start, "
             f"{_loadavg()} at end"] + b.notes
    notes.append(f"\n(realistic section took {time.perf_counter() - t0:.1f} s)")
    return Section("realistic: service-shaped payloads, encode and decode", b.rows, notes)
