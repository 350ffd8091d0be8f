"""Accelerated hypha-rpc against stock hypha-rpc in its own process, through a real Hypha server.

Every scenario is first run stock <-> stock (the expectations are hypha-rpc's own behaviour),
then accelerated caller -> stock provider and stock caller -> accelerated provider.
"""
from __future__ import annotations

import asyncio
import pickle
import sys

import httpx
import numpy as np
import pytest

from tests.hypha import peer
from tests.hypha import scenarios as sc
from tests.hypha.conftest import ROOT, Provider, peer_cmd, peer_env

pytestmark = [pytest.mark.slow, pytest.mark.server, pytest.mark.timeout(240)]


def check_results(res, big):
    for name in sc.ROW_NAMES:
        sc.check_echo(name, sc.row_value(name), res["echo:" + name])
        assert res["describe:" + name][0] == sc.DECODED_TYPE[name], name
    sc.check_nested(sc.nested_value(), res["nested"])
    assert res["kw"] == {"a": 1, "b": 3, "rest": {"c": {"d": [4]}}}
    assert res["call_back"]["twice"] == 42
    assert [g["i"] for g in res["gen"]] == [0, 1, 2, 3]
    np.testing.assert_array_equal(res["gen"][3]["a"], np.full(3, 3, np.int16))
    kind, typ, text = res["boom"]
    assert (kind, typ) == ("raised", "RemoteException") and "provider says no" in text
    assert res["point"][:2] == ["Point", 25] and res["point"][2] == sc.Point(3, 4)
    if big:
        assert res["big_checksum"] == [0.0, float(sc.BIG_BYTES // 4 - 1), sc.BIG_BYTES // 4,
                                       "float32"]
        assert res["big_echo_ok"] is True


async def run_peer(*cmd):
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, env=peer_env(),
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 200)
    assert proc.returncode == 0, err.decode()[-3000:]


def load(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def test_stock_to_stock_baseline(hypha_server, stock_provider, tmp_path):
    """The expectations hold for hypha-rpc itself (small payloads: stock deflate is slow)."""
    import subprocess
    out = tmp_path / "res.pkl"
    subprocess.run(peer_cmd("stock", "call", hypha_server.url, stock_provider.service_id,
                            str(out), "small"), cwd=ROOT, env=peer_env(), check=True,
                   timeout=120)
    check_results(load(out), big=False)


async def test_accelerated_caller_to_stock_provider(hypha_server, stock_provider, accel):
    server = await peer.connect(hypha_server.url)
    try:
        svc = await server.get_service(stock_provider.service_id)
        check_results(await peer.run_calls(svc), big=True)
    finally:
        await server.disconnect()


async def test_stock_caller_to_accelerated_provider(hypha_server, accel, tmp_path):
    server = await peer.connect(hypha_server.url)
    try:
        info = await server.register_service(peer.service_api())
        out = tmp_path / "res.pkl"
        await run_peer(*peer_cmd("stock", "call", hypha_server.url, info["id"], str(out)))
        check_results(load(out), big=True)
    finally:
        await server.disconnect()


async def test_accelerated_caller_to_accelerated_provider(hypha_server, accel):
    """Both sides accelerated: the provider's built-in service advertises big chunks, so the
    64 MiB array travels in 2 MiB chunks (raised websocket max_size) both ways."""
    from polycodec.hypha.chunking import ADVERTISE_KEY, BIG_CHUNK_SIZE

    provider = Provider("accel", hypha_server.url)
    server = await peer.connect(hypha_server.url)
    try:
        svc = await server.get_service(provider.service_id)
        builtin = await server.rpc.get_remote_service(
            provider.service_id.split(":")[0] + ":built-in")
        assert builtin["config"][ADVERTISE_KEY]["max_chunk_size"] == BIG_CHUNK_SIZE
        check_results(await peer.run_calls(svc), big=True)
        sender = server.rpc.__dict__["_polycodec_state"].sender
        assert BIG_CHUNK_SIZE in {hit[2] for hit in sender._builtin.values()}
    finally:
        await server.disconnect()
        provider.stop()


async def test_concurrent_chunked_callbacks_one_session(hypha_server, accel, tmp_path):
    """Two chunked messages under one parent session at once (the reference collides on the
    cache key): the accelerated provider calls a stock caller's callback twice in parallel."""
    server = await peer.connect(hypha_server.url)
    a = np.full(2**19, 1.0)          # 4 MiB each: 16 chunks
    b = np.full(2**19, 2.0)

    async def fan(cb):
        return await asyncio.gather(cb(a), cb(b))

    try:
        info = await server.register_service({"id": "fan", "config": {"visibility": "public"},
                                              "fan": fan})
        out = tmp_path / "fan.pkl"
        await run_peer(*peer_cmd("stock", "fan", hypha_server.url, info["id"], str(out)))
        assert load(out) == [[1.0, 2**19], [2.0, 2**19]]
    finally:
        await server.disconnect()


async def test_arguments_copied_at_call_time(hypha_server, stock_provider, accel):
    """Default: mutating an array right after the call does not change what is sent."""
    server = await peer.connect(hypha_server.url)
    try:
        svc = await server.get_service(stock_provider.service_id)
        arr = np.zeros(2**20, np.float32)        # 4 MiB: chunked, sent over many loop turns
        pending = svc.checksum(arr)
        arr[:] = 7
        assert await pending == [0.0, 0.0, 2**20, "float32"]
    finally:
        await server.disconnect()


async def test_http_proxy_route(hypha_server, accel):
    server = await peer.connect(hypha_server.url)
    try:
        await server.register_service({
            "id": "web", "config": {"visibility": "public"},
            # the server (a stock hypha-rpc peer) answers in JSON: no arrays in the result
            "add": lambda a, b: {"sum": int(a) + int(b), "items": [a, b, {"k": None}]},
        })
        ws = server.config.workspace
        async with httpx.AsyncClient(timeout=30) as http:
            r = await http.get(f"{hypha_server.url}/{ws}/services/web/add",
                               params={"a": 2, "b": 40})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["sum"] == 42 and body["items"][2] == {"k": None}
    finally:
        await server.disconnect()


async def test_spoofed_origin_in_extra_is_refused(hypha_server):
    """A caller from another workspace puts the provider's workspace as `from` in `extra`.
    hypha-rpc merges it over the server-vouched `from` and runs the protected method; the
    accelerated provider keeps the vouched one and refuses with PermissionError."""
    import polycodec
    import polycodec.hypha

    calls = []

    async def attack(provider, attacker):
        prov_id = f"{provider.rpc._local_workspace}/{provider.rpc._client_id}"
        att_id = f"{attacker.rpc._local_workspace}/{attacker.rpc._client_id}"
        assert provider.rpc._local_workspace != attacker.rpc._local_workspace
        session = f"spoof{len(calls)}{id(provider)}"
        fut = asyncio.get_running_loop().create_future()
        store = attacker.rpc._get_session_store(session, create=True)
        store["target_id"] = prov_id
        store["resolve"] = lambda r: fut.done() or fut.set_result(r)
        store["reject"] = lambda e: fut.done() or fut.set_exception(e)
        main = {"type": "method", "from": att_id, "to": prov_id,
                "method": "services.guarded.touch", "session": session}
        extra = {"args": ["hi"], "promise": "*", "t": 5,
                 "from": f"{provider.rpc._local_workspace}/spoofed"}
        await attacker.rpc._emit_message(polycodec.packb(main) + polycodec.packb(extra))
        return fut

    async def protected_provider():
        server = await peer.connect(hypha_server.url)
        await server.register_service({"id": "guarded", "config": {"visibility": "protected"},
                                       "touch": lambda x: calls.append(x) or "done"})
        return server

    attacker = await peer.connect(hypha_server.url)
    stock = await protected_provider()          # created before accelerate(): stock receive
    try:
        await attack(stock, attacker)
        for _ in range(100):
            if calls:
                break
            await asyncio.sleep(0.05)
        assert calls == ["hi"], "the reference is expected to accept the spoofed origin"
    finally:
        await stock.disconnect()

    calls.clear()
    polycodec.hypha.accelerate()
    try:
        accel = await protected_provider()
        try:
            fut = await attack(accel, attacker)
            with pytest.raises(Exception, match="Permission denied"):
                await asyncio.wait_for(fut, 10)
            assert calls == []
        finally:
            await accel.disconnect()
    finally:
        polycodec.hypha.deaccelerate()
        await attacker.disconnect()


async def test_undecodable_arg_is_rejected_promptly(hypha_server, accel):
    """An argument the provider cannot decode (an ndarray with a dtype numpy does not know)
    must come back to the caller as a rejection, not as a timeout: the provider steps over
    the bad value (polycodec.skip) and still reads the promise that follows it."""
    import polycodec

    calls = []
    provider = await peer.connect(hypha_server.url)
    caller = await peer.connect(hypha_server.url)
    try:
        await provider.register_service({"id": "picky", "config": {"visibility": "public"},
                                         "take": lambda x: calls.append(x) or "took"})
        prov_id = f"{provider.rpc._local_workspace}/{provider.rpc._client_id}"
        me = f"{caller.rpc._local_workspace}/{caller.rpc._client_id}"
        for i, bad in enumerate([
            {"_rtype": "ndarray", "_rvalue": b"\0" * 4, "_rshape": [1], "_rdtype": "no-such"},
            {"_rtype": "ndarray", "_rvalue": b"\0" * 3, "_rshape": [1], "_rdtype": "float32"},
        ]):
            session = f"bad{i}"
            fut = asyncio.get_running_loop().create_future()
            store = caller.rpc._get_session_store(session, create=True)
            store["target_id"] = prov_id
            store["resolve"] = lambda r, f=fut: f.done() or f.set_result(r)
            store["reject"] = lambda e, f=fut: f.done() or f.set_exception(e)
            main = {"type": "method", "from": me, "to": prov_id,
                    "method": "services.picky.take", "session": session}
            # `args` precedes `promise`, as hypha-rpc orders them
            extra = {"args": [bad], "promise": "*", "t": 30}
            await caller.rpc._emit_message(polycodec.packb(main) + polycodec.packb(extra))
            t0 = asyncio.get_running_loop().time()
            with pytest.raises(Exception) as info:
                await asyncio.wait_for(fut, 20)
            assert not isinstance(info.value, asyncio.TimeoutError), "no rejection arrived"
            assert asyncio.get_running_loop().time() - t0 < 10
            assert "dtype" in str(info.value) or "bytes" in str(info.value), str(info.value)
        assert calls == []
    finally:
        await caller.disconnect()
        await provider.disconnect()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
