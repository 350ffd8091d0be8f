"""`polycodec bench --pipelines`: streams and Dask, timed side by side with the peers.

P1  a file of 100,000 records (int, float, short str, bool; ~50 bytes of msgpack each) fed
    to `Unpacker` in 64 KiB pieces, beside msgpack-python's Unpacker (raw=False).
P2  16 MiB float32 frames fed in 1 MiB pieces, beside copying the same pieces into a
    preallocated 16 MiB buffer with slice assignment.
P3  Dask serialize + deserialize: a W3-style list (1,000 dicts, each with a 1 KiB float32
    array) and one 64 MiB array, through "polycodec", Dask's "pickle" and "dask" families.
P4  a 2-worker LocalCluster graph moving 100 W3-style values from one worker to the other,
    with polycodec.dask.connect() beside the default serializers.
Each result is checked once, outside the timing.
"""
from __future__ import annotations

import statistics
import logging
import time

import numpy as np

import polycodec

from .core import w3_equal, w3_list
from .report import Row, Section

KiB, MiB = 1 << 10, 1 << 20


def records(n: int) -> list:
    """P1's records: ~50 bytes each as msgpack."""
    return [{"id": i, "value": i * 0.25, "name": f"rec-{i:07d}", "ok": bool(i & 1)}
            for i in range(n)]


def pieces(data: bytes, size: int) -> list:
    return [data[i:i + size] for i in range(0, len(data), size)]


def fed(unpacker, feed) -> list:
    """Every value of `feed` (a list of pieces) through a msgpack-style Unpacker."""
    out = []
    for p in feed:
        unpacker.feed(p)
        out.extend(unpacker)
    return out


def paired(workload, entries, repeat, number=1):
    """Rows for `entries` [(label, fn)], the first the baseline, timed in alternating rounds
    (each round calls every fn `number` times; medians): the machine's load hits all alike."""
    for _, fn in entries:
        fn()
    samples = {label: [] for label, _ in entries}
    for _ in range(repeat):
        for label, fn in entries:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[label].append((time.perf_counter() - t0) / number)
    base = entries[0][0]
    return [Row(workload, label, statistics.median(samples[label]), base) for label, _ in entries]


def _stream_rows(impls, msgpack, n, repeat, notes):
    recs = records(n)
    data = b"".join(polycodec.packb(r) for r in recs)
    feed = pieces(data, 64 * KiB)
    entries = []
    if msgpack is not None:
        entries.append(("msgpack Unpacker", lambda: fed(msgpack.Unpacker(raw=False), feed)))
    for name, impl in impls.items():
        entries.append((f"polycodec {name}", lambda impl=impl: fed(impl.Unpacker(), feed)))
    for label, fn in entries:
        assert fn() == recs, label
    rows = paired(f"P1 stream {n:,} records ({len(data) / n:.0f} B) in 64 KiB pieces",
                  entries, repeat)
    for row in rows:
        row.note = f"{n / row.seconds:,.0f} rec/s"

    frames, total = 4, 16 * MiB
    arr = np.arange(total // 4, dtype=np.float32)
    frame = polycodec.packb(arr)
    per_frame = pieces(frame, MiB)
    target = np.empty(len(frame), np.uint8)

    def copy():
        for _ in range(frames):
            at = 0
            for p in per_frame:
                target[at:at + len(p)] = np.frombuffer(p, np.uint8)
                at += len(p)

    streams = {name: impl.Unpacker() for name, impl in impls.items()}   # one long stream each

    def ours(name):
        u = streams[name]
        out = None
        for _ in range(frames):
            for p in per_frame:
                u.feed(p)
                for out in u:
                    pass
        return out
    for name in impls:      # one pair per implementation: another's buffers stay out of cache
        assert np.array_equal(ours(name), arr)
        rows += paired(f"P2 {frames} x 16 MiB float32 frames in 1 MiB pieces ({name})",
                       [("copy into preallocated", copy),
                        (f"polycodec {name}", lambda name=name: ours(name))], repeat)
    notes.append("P1/P2: targets polycodec cython >= 1.0x msgpack's speed (ratio <= 1.00) and "
                 ">= 0.8x the copy's speed (ratio <= 1.25). P2: each decoded array is a view "
                 "of one right-sized buffer the pieces were copied into (one Unpacker per "
                 "stream: its buffers are reused once the previous frames' arrays are gone, as "
                 "the copy reuses its one target).")
    return rows


def _dask_rows(repeat, notes):
    try:
        from distributed.protocol import deserialize, serialize

        import polycodec.dask as pdask
    except ImportError as exc:
        notes.append(f"P3/P4 skipped: {exc} (pip install polycodec[dask])")
        return []

    def through(value, names):
        return lambda: deserialize(*serialize(value, serializers=names))
    value = w3_list()
    entries = [("dask pickle family", through(value, ["pickle"])),
               ("dask defaults", through(value, ["dask", "pickle"])),
               ("polycodec family", through(value, pdask.STRICT))]
    for label, fn in entries:
        assert w3_equal(fn(), value), label
    rows = paired("P3 Dask serialize+deserialize W3 (1,000 dicts, 1 KiB arrays)", entries,
                  repeat)
    big = np.arange(16 * MiB, dtype=np.float32)
    entries = [("dask family", through(big, ["dask"])),
               ("dask pickle family", through(big, ["pickle"])),
               ("polycodec family", through(big, pdask.STRICT))]
    for label, fn in entries:
        assert np.array_equal(fn(), big), label
    rows += paired("P3 Dask serialize+deserialize one 64 MiB array", entries, repeat, 200)
    notes.append("P3: targets polycodec >= 2x faster than the pickle family on W3 (ratio <= "
                 "0.50) and <= 1.1x the dask family on 64 MiB. In one process the frames are "
                 "handed over as they are (no socket): both sides are views.")
    return rows


def _cluster_rows(n_values, notes):
    try:
        import distributed

        import polycodec.dask as pdask
    except ImportError:
        return []
    rows = []
    w = f"P4 LocalCluster, 2 workers: {n_values} W3 values worker to worker"
    for label, make in (("default serializers", lambda c: distributed.Client(c)),
                        ("polycodec.dask.connect", lambda c: pdask.connect(c))):
        # silence_logs: hypha-rpc, imported by other sections, sends INFO logs to stdout
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      silence_logs=logging.ERROR, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                      worker_dashboard_address="127.0.0.1:0") as cluster, \
                make(cluster) as client:
            client.wait_for_workers(2)
            a, b = sorted(client.scheduler_info()["workers"])

            def run():
                made = [client.submit(w3_list, pure=False, workers=[a]) for _ in range(n_values)]
                used = [client.submit(lambda v: float(sum(d["data"].sum() for d in v)), m,
                                      workers=[b], pure=False) for m in made]
                out = client.gather(used)
                del made, used
                return out
            run()   # warm-up (imports, connections)
            samples = []
            for _ in range(3):
                t0 = time.perf_counter()
                out = run()
                samples.append(time.perf_counter() - t0)
            assert len(out) == n_values
            rows.append(Row(w, label, sorted(samples)[1], "default serializers"))
    notes.append("P4: each value is made on one worker and consumed on the other (one "
                 "transfer per value); time from submit to gathered results, median of 3.")
    return rows


def run(args) -> Section:
    quick = bool(getattr(args, "quick", False))
    repeat = getattr(args, "repeat", None) or (3 if quick else 7)
    try:
        import msgpack
    except ImportError:
        msgpack = None
    impls = polycodec.implementations()
    if quick:
        impls = {"cython": impls["cython"]} if "cython" in impls else impls
    notes = []
    rows = _stream_rows(impls, msgpack, 100_000, repeat, notes)
    rows += _dask_rows(repeat, notes)
    rows += _cluster_rows(20 if quick else 100, notes)
    if msgpack is None:
        notes.append("msgpack is not installed: P1 has no peer row")
    return Section("Pipelines: streams and Dask", rows, notes)
