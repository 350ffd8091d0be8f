"""Injected faults: every record accounted for exactly once, results in input order."""
from __future__ import annotations

import pytest

import polycodec.hybrid as Hybrid

from .conftest import TENANT, expected
from .test_batching import make_records


def run(emu, records, *, max_retries=4, timeout=None, **kw):
    with Hybrid.Client(base_url=emu.url, tenant=TENANT, token="open", max_retries=max_retries,
                       retry_interval=0.005, timeout=timeout) as c:
        return c.services.execute("bench/score", inputs=records, **kw)


def check_accounted(result, records):
    """One entry per record, in order: either the right outputs or an error, never both."""
    assert len(result) == len(result.errors) == len(records)
    for i, rec in enumerate(records):
        if result.errors[i] is None:
            assert result.outputs[i] == pytest.approx(expected(rec))
        else:
            assert result.outputs[i] is None
    starts = [b.start for b in result.batches]
    assert starts == sorted(starts)
    assert sum(b.count for b in result.batches) == len(records)


@pytest.mark.slow
def test_500s_and_dropped_connections(emu, svc):
    emu.set_faults(rate_500=0.1, rate_drop=0.1, seed=7)
    records = make_records(2000, seed=1)
    result = run(emu, records, batch_size=20, concurrency=6, max_retries=8)
    check_accounted(result, records)
    # P(one batch faulted 9 times in a row) = 0.2**9 ~ 5e-7: the retries absorb every fault
    assert result.ok, [b.error for b in result.batches if not b.ok]
    assert emu.stats["faults"]["500"] > 0 and emu.stats["faults"]["drop"] > 0
    assert result.attempts > len(result.batches)     # retries really happened


def test_429_with_retry_after_then_success(emu, svc):
    emu.set_faults(rate_429=0.5, retry_after=0, seed=3)
    records = make_records(200)
    result = run(emu, records, batch_size=10, concurrency=4, max_retries=10)
    check_accounted(result, records)
    assert result.ok and emu.stats["faults"]["429"] > 0


def test_failures_after_retries_are_reported_per_record(emu, svc):
    emu.set_faults(rate_500=0.5, seed=11)
    records = make_records(400)
    result = run(emu, records, batch_size=10, concurrency=4, max_retries=0)
    check_accounted(result, records)
    failed = [b for b in result.batches if not b.ok]
    assert failed and len(failed) < len(result.batches)       # a mix, with this seed
    for b in failed:
        assert b.error["status"] == 500 and b.error["batch"] == b.index
        assert all(e is b.error for e in result.errors[b.start:b.start + b.count])
    assert len(result.failed) == 10 * len(failed)
    with pytest.raises(Hybrid.BatchError, match="records failed"):
        result.raise_for_errors()


def test_every_request_dropped(emu, svc):
    emu.set_faults(rate_drop=1.0)
    records = make_records(30)
    result = run(emu, records, batch_size=10, max_retries=1)
    check_accounted(result, records)
    assert len(result.failed) == 30
    assert all(e["status"] is None and "no response" in e["message"] for e in result.errors)
    assert all(b.attempts == 2 for b in result.batches)


def test_slow_responses_time_out_and_retry(emu, svc):
    emu.set_faults(rate_slow=0.3, slow_seconds=2.0, seed=5)
    records = make_records(100)
    result = run(emu, records, batch_size=10, concurrency=4, timeout=500, max_retries=6)
    check_accounted(result, records)
    assert result.ok and emu.stats["faults"]["slow"] > 0


def test_latency_is_overlapped_by_concurrency(emu, svc):
    emu.set_faults(latency=0.1)
    records = make_records(80)
    serial = run(emu, records, batch_size=10, concurrency=1)
    parallel = run(emu, records, batch_size=10, concurrency=8)
    check_accounted(serial, records), check_accounted(parallel, records)
    assert serial.seconds >= 0.8                 # 8 batches x 100 ms, one at a time
    # not a speed target: just that batches really were in flight together
    assert parallel.seconds < serial.seconds


def test_async_under_faults(emu, svc):
    import asyncio
    emu.set_faults(rate_500=0.15, rate_drop=0.1, seed=9)
    records = make_records(300)

    async def main():
        async with Hybrid.AsyncClient(base_url=emu.url, tenant=TENANT, token="open",
                                      max_retries=5, retry_interval=0.005) as c:
            return await c.services.execute("bench/score", inputs=records, batch_size=10,
                                            concurrency=5)
    result = asyncio.run(main())
    check_accounted(result, records)
    assert result.ok
