"""pytest-benchmark: echo a 16 MiB array and a 10,000-item dict through a local Hypha server,
in-process caller stock (deflate off, the fast stock setting) vs accelerated, against an
accelerated provider in its own process. `polycodec bench --hypha` has the full matrix.

    pytest benchmarks/bench_hypha.py --benchmark-enable
"""
from __future__ import annotations

import asyncio
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("hypha_rpc")

from polycodec.bench import hypha as hb  # noqa: E402
from polycodec.bench.hypha_server import LocalHyphaServer, find_python  # noqa: E402
from tests.conftest import missing  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.server]


@pytest.fixture(scope="module")
def provider():
    if find_python() is None:
        missing("Hypha server environment (POLYCODEC_HYPHA_PYTHON / .ci/hypha-venv)")
    with LocalHyphaServer() as srv:
        proc = subprocess.Popen([sys.executable, "-m", "polycodec.bench.hypha", "provide",
                                 "accel", srv.url], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline().split()
        try:
            assert line and line[0] == "READY", line
            yield srv.url, line[1]
        finally:
            proc.stdin.close()
            proc.wait(20)


@pytest.mark.parametrize("payload", ["16MiB", "dict10k"])
@pytest.mark.parametrize("caller", ["stock-nodeflate", "accel"])
def test_echo(benchmark, provider, caller, payload):
    import polycodec.hypha
    from hypha_rpc import websocket_client as wc

    url, service_id = provider
    original = wc.WebsocketRPCConnection.__dict__["_ws_connect_kwargs"]
    value = hb.make_payload("array", 16 << 20) if payload == "16MiB" \
        else hb.make_payload("dict", 10_000)
    loop = asyncio.new_event_loop()
    try:
        hb._setup(caller)
        server = loop.run_until_complete(hb._connect(url))
        svc = loop.run_until_complete(server.get_service(service_id))
        async def echo():   # the call must be made inside the running loop
            return await svc.echo(value)

        back = benchmark(lambda: loop.run_until_complete(echo()))
        if payload == "16MiB":
            assert np.array_equal(back, value)
        else:
            assert back == value
        loop.run_until_complete(server.disconnect())
    finally:
        polycodec.hypha.deaccelerate()
        wc.WebsocketRPCConnection._ws_connect_kwargs = original
        loop.close()
