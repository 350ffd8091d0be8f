"""`polycodec bench --hybrid`: Hybrid Runner bodies and batching, side by side with cspark.

H1  body encoding, 10,000 records x 10 numeric fields (list of dicts): cspark 0.3.3's path
    (httpx json=, what its execute() does), plain orjson, polycodec (exact reference body, NaN
    check on), polycodec table form (what batching sends).
H2  the same 10,000 x 10 from numpy columns: cspark needs records of Python values first.
H3  100,000 records through the emulator (separate process(es), zero latency): cspark's one v4
    request vs polycodec's one request and batched runs over batch sizes x concurrency, against
    one emulator instance with --workers 2 (a real runner serves concurrent requests on several
    cores) and, as a second workload, one with a single worker. CPU time of the client and of
    the emulator processes is reported per row (where the time goes).
H4  the same service with 50 ms injected latency per request: throughput vs concurrency.
"""
from __future__ import annotations

import functools
import json
import os
import re
import statistics
import time

import httpx
import numpy as np
import orjson

from .report import Row, Section, timeit

TENANT = "bench"
URI = "bench/score"


@functools.lru_cache(maxsize=4)     # read-only datasets, shared by the workloads of one run
def _records(n, fields=10, seed=0):
    rng = np.random.default_rng(seed)
    ints = rng.integers(0, 1_000_000, size=(n, fields // 2)).tolist()
    floats = (rng.random((n, fields - fields // 2)) * 1000).tolist()
    names = [f"x{i}" for i in range(fields)]
    return [dict(zip(names, [*a, *b])) for a, b in zip(ints, floats)]


def _cspark():
    try:
        import cspark.wasm as wasm
        from cspark.sdk.resources._services import _ExecuteMeta
        from cspark.sdk import Uri
        return wasm, _ExecuteMeta, Uri
    except ImportError:
        return None, None, None


def _encoding_rows(repeat, notes):
    from ..hybrid import bodies
    from ..hybrid.batching import _body, _columns_batch, _records_batch
    from ..hybrid.uri import decode

    wasm, ExecuteMeta, Uri = _cspark()
    recs = _records(10_000)
    meta = bodies.v4_meta(decode(URI), {})
    body = bodies.v4_body(recs, meta)
    meta_json = orjson.dumps(meta)
    rows = []
    w = "H1 encode 10k x 10 records"
    base = "orjson"
    if wasm is not None:
        base = "cspark 0.3.3"

        def ref():
            m = ExecuteMeta(Uri.validate(URI), is_batch=True).values
            return httpx.Request("POST", "http://x/t/api/v4/execute",
                                 json={"inputs": recs, **m}).content
        rows.append(Row(w, base, timeit(ref, repeat), base, "httpx json= (stdlib json)"))
        assert json.loads(ref()) == json.loads(bodies.dumps(body))
    rows.append(Row(w, "orjson", timeit(lambda: orjson.dumps(body), repeat), base,
                    "NaN silently -> null"))
    rows.append(Row(w, "polycodec records", timeit(lambda: bodies.dumps(body), repeat), base,
                    "same body as cspark; NaN refused (memchr null search)"))
    rows.append(Row(w, "polycodec records nan=null",
                    timeit(lambda: bodies.dumps(body, nan="null"), repeat), base,
                    "no NaN scan"))
    rows.append(Row(w, "polycodec table", timeit(
        lambda: _body(_records_batch(recs, 0, "table", "raise"), meta_json), repeat), base,
        f"{len(_body(_records_batch(recs, 0, 'table', 'raise'), meta_json)) / len(orjson.dumps(body)):.0%} of the bytes"))

    names = list(recs[0])
    cols = {k: np.array([r[k] for r in recs]) for k in names}
    w = "H2 encode 10k x 10 numpy columns"
    if wasm is not None:
        def ref_np():
            m = ExecuteMeta(Uri.validate(URI), is_batch=True).values
            records = [dict(zip(names, row)) for row in zip(*(c.tolist() for c in cols.values()))]
            return httpx.Request("POST", "http://x/t/api/v4/execute",
                                 json={"inputs": records, **m}).content
        rows.append(Row(w, base, timeit(ref_np, repeat), base, "tolist + records + json"))

    def orjson_np():
        records = [dict(zip(names, row)) for row in zip(*(c.tolist() for c in cols.values()))]
        return orjson.dumps({"inputs": records, **meta})
    rows.append(Row(w, "orjson", timeit(orjson_np, repeat), base, "tolist + records"))
    col_list = list(cols.values())
    rows.append(Row(w, "polycodec table", timeit(
        lambda: _body(_columns_batch(names, col_list, 0, 10_000, "table", "raise"), meta_json),
        repeat), base, "np.isfinite per column, tolist + zip, one orjson call"))
    return rows


def _server_pids(proc, lines):
    """The emulator's processes: the spawned one plus its workers (--workers N > 1)."""
    pids = [proc.pid]
    for line in lines:
        m = re.search(r"workers \(pids ([\d ]+)\)", line)
        if m:
            pids += [int(p) for p in m.group(1).split()]
    return pids


def _cpu_of(pids):
    """User+system CPU seconds of processes (Linux /proc; None elsewhere)."""
    try:
        total = 0
        for pid in pids:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _sample(fn, pids):
    """(wall seconds, client CPU seconds, emulator CPU seconds or None) of one call."""
    s0, c0, t0 = _cpu_of(pids), time.process_time(), time.perf_counter()
    fn()
    wall, client = time.perf_counter() - t0, time.process_time() - c0
    s1 = _cpu_of(pids)
    return wall, client, None if s0 is None or s1 is None else s1 - s0


def _median(samples):
    wall = statistics.median(x[0] for x in samples)
    client = statistics.median(x[1] for x in samples)
    server = (statistics.median(x[2] for x in samples)
              if all(x[2] is not None for x in samples) else None)
    return wall, client, server


def _cpu_note(n, t):
    wall, client, server = t
    note = f"{n / wall:,.0f} rec/s; CPU client {client * 1000:.0f} ms"
    if server is not None:
        note += f", emulator {server * 1000:.0f} ms"
    return note


def _throughput_rows(url, n, configs, rounds, pids, workers, one_request=True):
    """cspark's one request and polycodec's runs against ONE emulator instance, timed in
    rounds: each round runs cspark once, then every polycodec configuration once, so slow
    drifts of the machine's load hit every row alike. Medians over the rounds."""
    from .. import hybrid as Hybrid

    wasm, _, _ = _cspark()
    recs = _records(n, seed=1)
    w = f"H3 {n // 1000}k records via emulator, workers={workers}"
    base = "cspark 0.3.3" if wasm is not None else "polycodec 1 request"
    ref_client = None
    runs = {}                                          # impl -> (callable, note prefix)
    c = Hybrid.Client(base_url=url, tenant=TENANT, token="open", timeout=600_000)
    cg = Hybrid.Client(base_url=url, tenant=TENANT, token="open", timeout=600_000,
                       pause_gc=True)
    try:
        if wasm is not None:
            ref_client = wasm.Client(base_url=url, tenant=TENANT, token="open", logger=False,
                                     timeout=600_000)

            def ref():
                data = ref_client.services.execute(URI, inputs=recs).data
                assert len(data["outputs"]) == n
            served = " (one worker serves it)" if workers > 1 else ""
            runs[base] = (ref, f"one v4 request{served}, ")
        if one_request or wasm is None:
            def one():
                assert len(c.services.execute(URI, inputs=recs).data["outputs"]) == n
            runs["polycodec 1 request"] = (one, "")
        for batch_size, concurrency in configs:
            def batched(batch_size=batch_size, concurrency=concurrency):
                result = c.services.execute(URI, inputs=recs, batch_size=batch_size,
                                            concurrency=concurrency)
                assert result.ok and len(result) == n
            runs[f"polycodec b={batch_size} c={concurrency}"] = (batched, "")
        if configs:   # the opt-in collector pause (Client(pause_gc=True)), on the last config
            b_gc, k_gc = configs[-1]

            def batched_gc():
                result = cg.services.execute(URI, inputs=recs, batch_size=b_gc,
                                             concurrency=k_gc)
                assert result.ok and len(result) == n
            runs[f"polycodec b={b_gc} c={k_gc} pause_gc"] = (
                batched_gc, "opt-in: GC paused while JSON is built/parsed, ")
        for fn, _ in runs.values():
            fn()                                       # warm-up: connections, caches
        samples = {impl: [] for impl in runs}
        for _ in range(rounds):
            for impl, (fn, _) in runs.items():
                samples[impl].append(_sample(fn, pids))
    finally:
        c.close()
        cg.close()
        if ref_client is not None:
            ref_client.close()
    rows = []
    for impl, (_, prefix) in runs.items():
        t = _median(samples[impl])
        rows.append(Row(w, impl, t[0], base, prefix + _cpu_note(n, t)))
    return rows


def _latency_rows(url, n, batch_size, levels, repeat, workers=1):
    from .. import hybrid as Hybrid

    recs = _records(n, seed=2)
    httpx.post(url + "/_emulator/faults", json={"latency": 0.05})
    rows = []
    w = f"H4 {n // 1000}k records, 50 ms latency, b={batch_size}, workers={workers}"
    base = f"polycodec c={levels[0]}"
    try:
        with Hybrid.Client(base_url=url, tenant=TENANT, token="open") as c:
            for k in levels:
                def run():
                    assert c.services.execute(URI, inputs=recs, batch_size=batch_size,
                                              concurrency=k).ok
                t = timeit(run, repeat)
                rows.append(Row(w, f"polycodec c={k}", t, base, f"{n / t:,.0f} rec/s"))
    finally:
        httpx.post(url + "/_emulator/faults", json={"latency": 0.0})
    return rows


def run(args) -> Section:
    from ..hybrid.emulator import spawn_emulator

    quick = bool(getattr(args, "quick", False))
    repeat = getattr(args, "repeat", None) or (3 if quick else 7)
    notes = []
    rows = _encoding_rows(repeat, notes)
    n = 100_000
    if quick:        # ~20 s
        configs2, configs1 = [(10000, 2), (20000, 4)], [(20000, 2)]
        tput = dict(rounds=3)
        lat = dict(n=4_000, batch_size=500, levels=[1, 2, 4, 8], repeat=1)
    else:
        configs2 = [(b, k) for b in (5000, 10000, 20000) for k in (1, 2, 4, 8)]
        configs1 = [(5000, 1), (5000, 2), (20000, 1), (20000, 2)]
        tput = dict(rounds=5)
        lat = dict(n=40_000, batch_size=1000, levels=[1, 2, 4, 8], repeat=3)
    with spawn_emulator("--demo", TENANT, workers=2) as (url, proc, lines):
        rows += _throughput_rows(url, n, configs2, pids=_server_pids(proc, lines), workers=2,
                                 **tput)
        rows += _latency_rows(url, **lat, workers=2)
    with spawn_emulator("--demo", TENANT) as (url, proc, lines):
        rows += _throughput_rows(url, n, configs1, pids=_server_pids(proc, lines), workers=1,
                                 one_request=not quick, **tput)
    notes.append(
        "H3/H4: the emulator runs in its own process(es) (python -m polycodec.hybrid.emulator "
        "--demo bench [--workers 2]), service bench/score, 10 numeric inputs; batched runs "
        "send table form. workers=2: two emulator processes on one port (this machine has "
        f"{os.cpu_count()} cores, shared by the client and the emulator); a single request "
        "(cspark's, or polycodec's '1 request') is served by one worker whatever N is. "
        "workers=1: one emulator process, as before. Both clients hit the SAME emulator "
        "instance per workload. CPU = median per run, client process and emulator processes "
        "(/proc). "
        f"H3 rows are timed in {tput['rounds']} rounds (each: cspark once, then every "
        "polycodec row once; medians). "
        f"{'quick mode: H4 repeat 1. ' if quick else ''}"
        "rec/s = records / median seconds.")
    return Section("Hybrid Runner: bodies and batching (polycodec.hybrid vs cspark 0.3.3)",
                   rows, notes)


if __name__ == "__main__":  # pragma: no cover
    import types

    from .report import show
    show([run(types.SimpleNamespace(quick=True, repeat=None))])
