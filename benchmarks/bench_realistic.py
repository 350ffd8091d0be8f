"""pytest-benchmark cases for the realistic suite (workloads from polycodec.bench.realistic).

With the default `--benchmark-disable` each case runs once as a plain test and asserts its
result (bytes equal to msgspec's and hypha-rpc's, values equal to the input). Compare with:
    pytest benchmarks/bench_realistic.py --benchmark-enable --benchmark-group-by=group
Speed targets are checked by `polycodec bench`, not here (no timed assertions).
"""
from __future__ import annotations

import pytest

import polycodec
from polycodec.bench import core, realistic as r
from tests.conftest import missing  # benchmarks/conftest.py puts the repo root on sys.path

IDS = [w[0] for w in r.WORKLOADS]


@pytest.fixture(scope="module", params=r.WORKLOADS, ids=IDS)
def workload(request):
    label, build, _, paths = request.param
    obj = build()
    return label, obj, paths


def _msgspec():
    try:
        import msgspec.msgpack
    except ImportError:
        missing("msgspec")
    return msgspec.msgpack


def test_encoder(benchmark, impl, workload):
    label, obj, _ = workload
    benchmark.group = f"{label} encode"
    enc = impl.Encoder()
    assert benchmark(enc.encode, obj) == impl.packb(obj)


def test_decoder(benchmark, impl, workload):
    label, obj, _ = workload
    benchmark.group = f"{label} decode"
    dec = impl.Decoder()
    assert r.same(benchmark(dec.decode, impl.packb(obj)), obj)


def test_msgspec_encoder(benchmark, workload):
    label, obj, _ = workload
    benchmark.group = f"{label} encode"
    ms = _msgspec()
    enc = ms.Encoder(enc_hook=r._array_hook)
    assert benchmark(enc.encode, obj) == polycodec.packb(obj)


def test_msgspec_decoder(benchmark, workload):
    label, obj, paths = workload
    benchmark.group = f"{label} decode"
    ms = _msgspec()
    frame = polycodec.packb(obj)
    dec, fix = ms.Decoder(), r._rebuild(paths)
    assert r.same(benchmark(lambda: fix(dec.decode(frame))), obj)


def test_hypha_rpc_bytes(workload):
    """hypha-rpc's real path writes the same bytes and reads them back to the same value."""
    _, obj, _ = workload
    peers = core.Peers()
    if peers.rpc is None:
        missing(f"hypha-rpc ({peers.missing.get('hypha-rpc')})")
    frame = polycodec.packb(obj)
    assert peers.hypha_packb(obj) == frame
    assert r.same(peers.hypha_unpackb(frame), obj)
