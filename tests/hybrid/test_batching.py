"""Execute batching: input forms, order, progress, streaming, async, executors."""
from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import polycodec.hybrid as Hybrid
from polycodec.hybrid import BatchError, tables

from .conftest import TENANT, expected, require


def make_records(n, seed=0):
    rng = np.random.default_rng(seed)
    return [{"x0": int(a), "x1": float(b), "x2": int(c), "x3": float(d)}
            for a, b, c, d in zip(rng.integers(-100, 100, n), rng.random(n),
                                  rng.integers(0, 5, n), rng.normal(size=n))]


def assert_exact(result, records):
    assert len(result) == len(records)
    assert result.ok and result.failed == []
    for got, rec in zip(result.outputs, records):
        want = expected(rec)
        assert got == pytest.approx(want), (got, want)


@pytest.mark.parametrize("form", ["table", "records"])
def test_records_batched_in_order(client, emu, form):
    records = make_records(103)
    result = client.services.execute("bench/score", inputs=records, batch_size=10,
                                     concurrency=3, form=form)
    assert_exact(result, records)
    assert [b.start for b in result.batches] == list(range(0, 103, 10))
    bodies = [json.loads(r["body"]) for r in emu.requests if "/api/v4/" in r["path"]]
    assert len(bodies) == 11 and sum(len(b["inputs"]) for b in bodies) == 103 + (
        11 if form == "table" else 0)
    assert all(b["call_purpose"] == tables.CALL_PURPOSE_BATCH for b in bodies)
    assert all(b["service"] == "bench/score" for b in bodies)
    if form == "table":
        assert all(b["inputs"][0] == ["x0", "x1", "x2", "x3"] for b in bodies)


def test_every_input_form_gives_the_same_result(client):
    pd = require("pandas")
    records = make_records(57, seed=3)
    cols = {k: np.array([r[k] for r in records]) for k in records[0]}
    structured = np.zeros(57, dtype=[(k, cols[k].dtype) for k in cols])
    for k in cols:
        structured[k] = cols[k]
    forms = {
        "records": records,
        "table": [list(records[0])] + [list(r.values()) for r in records],
        "columns": cols,
        "structured": structured,
        "2d": (np.column_stack([cols[k].astype(float) for k in cols]), list(cols)),
        "dataframe": pd.DataFrame(records),
        "iterator": (r for r in records),
    }
    for name, inputs in forms.items():
        kw = {}
        if name == "2d":
            inputs, kw["columns"] = inputs
        result = client.services.execute_batches("bench/score", inputs, batch_size=8,
                                                 concurrency=2, **kw)
        assert_exact(result, records)


def test_dict_without_batching_options_is_one_record(client, emu):
    one = client.services.execute("bench/score", inputs={"x0": [1, 2]}, response_format="original")
    assert "/api/v3/" in emu.requests[-1]["path"]
    assert one.data["response_data"]["errors"][0]["source_path"] == "x0"   # a list is no number


def test_iterator_is_pulled_lazily(client):
    pulled = []

    def gen():
        for i, rec in enumerate(make_records(200)):
            pulled.append(i)
            yield rec
    batch_size, concurrency = 10, 2
    stream = client.services.iter_batches("bench/score", gen(), batch_size=batch_size,
                                          concurrency=concurrency)
    first = next(stream)
    window = 2 * concurrency
    # at most `window` batches (plus the one being assembled) were read from the iterator
    assert len(pulled) <= (window + 1) * batch_size
    assert first.start == 0 and first.count == 10 and first.ok
    rest = list(stream)
    assert len(pulled) == 200 and sum(o.count for o in rest) == 190


def test_progress_callback_and_tqdm(client, capsys):
    calls = []
    records = make_records(45)
    client.services.execute("bench/score", inputs=records, batch_size=10,
                            progress=lambda done, total: calls.append((done, total)))
    assert calls == [(10, 45), (20, 45), (30, 45), (40, 45), (45, 45)]
    require("tqdm")
    result = client.services.execute("bench/score", inputs=records, batch_size=10, progress=True)
    assert result.ok
    assert "45/45" in capsys.readouterr().err


def test_empty_inputs(client, emu):
    n = len(emu.requests)
    for empty in ([], {"x0": np.array([])}, iter(())):
        result = client.services.execute_batches("bench/score", empty)
        assert len(result) == 0 and result.ok
    assert len(emu.requests) == n


def test_runner_record_errors_are_per_record(client):
    records = make_records(6)
    records[4]["x2"] = "oops"                     # x2 must be a number
    result = client.services.execute("bench/score", inputs=records, batch_size=4)
    assert result.ok                                # the batch succeeded...
    assert result.outputs[4] is None                # ...but that record has the runner's error
    assert result.service_errors[4][0]["source_path"] == "x2"
    assert all(result.service_errors[i] == [] for i in range(6) if i != 4)


def test_thread_executor(client, emu):
    from polycodec.hybrid.transport import close_executor_transports
    records = make_records(64)
    try:
        with ThreadPoolExecutor(3) as pool:
            result = client.services.execute("bench/score", inputs=records, batch_size=16,
                                             executor=pool)
    finally:
        close_executor_transports()           # the workers' pooled client lives in this process
    assert_exact(result, records)


@pytest.mark.slow
def test_dask_local_cluster(emu, svc):
    distributed = require("distributed")
    records = make_records(90)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as dask_client:
        with Hybrid.Client(base_url=emu.url, tenant=TENANT, token="open") as c:
            result = c.services.execute("bench/score", inputs=records, batch_size=10,
                                        executor=dask_client)
    assert_exact(result, records)
    assert emu.stats["by_status"]["200"] >= 9


def test_async_batches(emu, svc):
    records = make_records(77)

    async def main():
        async with Hybrid.AsyncClient(base_url=emu.url, tenant=TENANT, token="open") as c:
            result = await c.services.execute("bench/score", inputs=records, batch_size=10,
                                              concurrency=4)
            seen = [o.start async for o in c.services.iter_batches(
                "bench/score", records, batch_size=20)]
            return result, seen
    result, seen = asyncio.run(main())
    assert_exact(result, records)
    assert seen == [0, 20, 40, 60]


def test_bad_batching_arguments(client):
    with pytest.raises(Hybrid.HybridSdkError, match="batch_size"):
        client.services.execute("bench/score", inputs=[{}], batch_size=0)
    with pytest.raises(Hybrid.HybridSdkError, match="window"):
        client.services.execute("bench/score", inputs=[{}], concurrency=4, window=2)
    with pytest.raises(Hybrid.HybridSdkError, match="form"):
        client.services.execute("bench/score", inputs=[{}], form="csv")
    with pytest.raises(Hybrid.HybridSdkError, match="proxy"):
        client.services.execute("proxy/p", inputs=[{}], batch_size=2)


# test_raise_on_error_keeps_partial_result: see test_review_fixes.py (fails the 2nd batch only)
