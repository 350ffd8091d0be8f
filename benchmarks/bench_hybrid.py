"""pytest-benchmark cases for polycodec.hybrid (plain quick tests under --benchmark-disable).

Full side-by-side tables: `polycodec bench --hybrid` (src/polycodec/bench/hybrid.py).
"""
from __future__ import annotations

import json

import httpx
import numpy as np
import orjson
import pytest

from polycodec.bench.hybrid import _records
from polycodec.hybrid import Client, bodies
from polycodec.hybrid.emulator import services
from polycodec.hybrid.batching import _columns_batch, _records_batch
from polycodec.hybrid.emulator import Emulator
from polycodec.hybrid.uri import decode

N = 2000
RECS = _records(N)
META = bodies.v4_meta(decode("bench/score"), {})
BODY = bodies.v4_body(RECS, META)


def test_encode_reference_path(benchmark):
    content = benchmark(lambda: httpx.Request("POST", "http://x/t", json=BODY).content)
    assert json.loads(content) == BODY


def test_encode_orjson(benchmark):
    assert json.loads(benchmark(orjson.dumps, BODY)) == BODY


def test_encode_polycodec_records(benchmark):
    assert json.loads(benchmark(bodies.dumps, BODY)) == BODY


def test_encode_polycodec_table(benchmark):
    data = json.loads(benchmark(_records_batch, RECS, 0, "table", "raise"))
    assert data[0] == list(RECS[0]) and len(data) == N + 1


def test_encode_polycodec_numpy_columns(benchmark):
    names = list(RECS[0])
    cols = [np.array([r[k] for r in RECS]) for k in names]
    data = json.loads(benchmark(_columns_batch, names, cols, 0, N, "table", "raise"))
    assert [dict(zip(data[0], row)) for row in data[1:]] == RECS


@pytest.fixture(scope="module")
def runner():
    with Emulator() as emu:
        emu.upload_zip("bench", services.make_zip(services.numeric_definition(10)))
        with Client(base_url=emu.url, tenant="bench", token="open") as client:
            yield client


@pytest.mark.parametrize("batch_size, concurrency", [(500, 1), (500, 4)])
def test_batched_execute(benchmark, runner, batch_size, concurrency):
    result = benchmark(runner.services.execute, "bench/score", inputs=RECS,
                       batch_size=batch_size, concurrency=concurrency)
    assert result.ok and len(result) == N
    assert result.outputs[7]["total"] == pytest.approx(sum(RECS[7].values()))
