"""`polycodec bench --hybrid`: Hybrid Runner bodies and batching, side by side with cspark.

H1  body encoding, 10,000 records x 10 numeric fields (list of dicts): cspark 0.3.3's path
    (httpx json=, what its execute() does), plain orjson, polycodec (exact reference body, NaN
    check on), polycodec table form (what batching sends).
H2  the same 10,000 x 10 from numpy columns: cspark needs records of Python values first.
H3  100,000 records through the emulator (separate process, zero latency): cspark's one v4
    request vs polycodec's one request and batched runs over batch sizes x concurrency.
H4  the same service with 50 ms injected latency per request: throughput vs concurrency.
"""
from __future__ import annotations

import json
import time

import httpx
import numpy as np
import orjson

from .report import Row, Section, timeit

TENANT = "bench"
URI = "bench/score"


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


def _throughput_rows(url, n, configs, repeat, notes):
    from .. import hybrid as Hybrid

    wasm, _, _ = _cspark()
    recs = _records(n, seed=1)
    rows = []
    w = f"H3 {n // 1000}k records via emulator"
    base = "cspark 0.3.3" if wasm is not None else "polycodec 1 request"

    def rate(seconds):
        return f"{n / seconds:,.0f} rec/s"
    if wasm is not None:
        ref_client = wasm.Client(base_url=url, tenant=TENANT, token="open", logger=False,
                                 timeout=600_000)

        def ref():
            data = ref_client.services.execute(URI, inputs=recs).data
            assert len(data["outputs"]) == n
        t = timeit(ref, repeat)
        rows.append(Row(w, base, t, base, "one v4 request, " + rate(t)))
        ref_client.close()
    with Hybrid.Client(base_url=url, tenant=TENANT, token="open", timeout=600_000) as c:
        def one():
            assert len(c.services.execute(URI, inputs=recs).data["outputs"]) == n
        t = timeit(one, repeat)
        rows.append(Row(w, "polycodec 1 request", t, base, rate(t)))
        for batch_size, concurrency in configs:
            def batched():
                result = c.services.execute(URI, inputs=recs, batch_size=batch_size,
                                            concurrency=concurrency)
                assert result.ok and len(result) == n
            t = timeit(batched, repeat)
            rows.append(Row(w, f"polycodec b={batch_size} c={concurrency}", t, base, rate(t)))
    return rows


def _latency_rows(url, n, batch_size, levels, repeat):
    from .. import hybrid as Hybrid

    recs = _records(n, seed=2)
    httpx.post(url + "/_emulator/faults", json={"latency": 0.05})
    rows = []
    w = f"H4 {n // 1000}k records, 50 ms latency, b={batch_size}"
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
    if quick:
        configs = [(5000, 2), (5000, 4)]
        tput_repeat, lat = 1, dict(n=8_000, batch_size=500, levels=[1, 2, 4, 8], repeat=1)
    else:
        configs = [(b, k) for b in (1000, 5000, 20000) for k in (1, 2, 4, 8)]
        tput_repeat, lat = 3, dict(n=40_000, batch_size=1000, levels=[1, 2, 4, 8], repeat=3)
    with spawn_emulator("--demo", TENANT) as (url, _proc, _lines):
        rows += _throughput_rows(url, n, configs, tput_repeat, notes)
        rows += _latency_rows(url, **lat)
    notes.append("H3/H4: the emulator runs in its own process (python -m "
                 "polycodec.hybrid.emulator --demo bench), service bench/score, 10 numeric "
                 "inputs; batched runs send table form. "
                 f"{'quick mode: repeat 1 for H3/H4. ' if quick else ''}"
                 "rec/s = records / median seconds.")
    return Section("Hybrid Runner: bodies and batching (polycodec.hybrid vs cspark 0.3.3)",
                   rows, notes)


if __name__ == "__main__":  # pragma: no cover
    import types

    from .report import show
    show([run(types.SimpleNamespace(quick=True, repeat=None))])
