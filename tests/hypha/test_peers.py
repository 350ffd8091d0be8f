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
from tests.conftest import missing
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
    64 MiB array travels in 1 MiB chunks (raised websocket max_size) both ways."""
    from polycodec.hypha.chunking import ADVERTISE_KEY, BIG_CHUNK_SIZE, SEND_CHUNK_SIZE

    provider = Provider("accel", hypha_server.url)
    server = await peer.connect(hypha_server.url)
    try:
        svc = await server.get_service(provider.service_id)
        builtin = await server.rpc.get_remote_service(
            provider.service_id.split(":")[0] + ":built-in")
        assert builtin["config"][ADVERTISE_KEY]["max_chunk_size"] == BIG_CHUNK_SIZE
        check_results(await peer.run_calls(svc), big=True)
        sender = server.rpc.__dict__["_polycodec_state"].sender
        assert SEND_CHUNK_SIZE in {hit[2] for hit in sender._builtin.values()}
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


def _require_nacl():
    from hypha_rpc.crypto import HAS_CRYPTO
    if not HAS_CRYPTO:
        missing("PyNaCl (hypha-rpc's end-to-end encryption)")


async def test_encrypted_call_cannot_override_vouched_keys(hypha_server, accel):
    """`_enc` calls: the server-vouched keys sit outside the encrypted payload, and hypha-rpc
    merges the decrypted payload over them (`data.update`). An attacker in another workspace
    puts `from` or `ctx` inside the payload; accelerated receivers must keep the vouched values
    (stock: a forged `from` resolves someone else's pending call, a forged `ctx` reaches
    `require_context` methods). A genuine encrypted call must still work."""
    import polycodec
    from hypha_rpc import rpc as hrpc
    _require_nacl()

    calls, release = [], asyncio.Event()

    async def slow(context=None):
        await release.wait()
        return "real"

    provider = await peer.connect(hypha_server.url, encryption=True)
    victim = await peer.connect(hypha_server.url, encryption=True)
    attacker = await peer.connect(hypha_server.url, encryption=True)
    try:
        prov, vic, att = provider.rpc, victim.rpc, attacker.rpc
        prov_id, vic_id, att_id = (f"{r._local_workspace}/{r._client_id}"
                                   for r in (prov, vic, att))
        assert att._local_workspace not in (prov._local_workspace, vic._local_workspace)
        await provider.register_service({"id": "guarded", "config": {"visibility": "protected"},
                                         "touch": lambda x: calls.append(x) or "done"})
        await provider.register_service({
            "id": "who", "config": {"visibility": "public", "require_context": True},
            "whoami": lambda context=None: [context["from"], context.get("encryption")],
            "slow": slow})

        # a genuine encrypted call between accelerated clients reports the real caller
        who = await attacker.get_service(
            f"{prov_id}:who", {"encryption_public_key": prov._encryption_public_key.hex()})
        assert await who.whoami() == [att_id, True]

        async def send_encrypted(to, pub, method, payload, n, promise=True):
            session = f"encspoof{n}"
            fut = asyncio.get_running_loop().create_future()
            store = att._get_session_store(session, create=True)
            store["target_id"] = to
            store["resolve"] = lambda r: fut.done() or fut.set_result(r)
            store["reject"] = lambda e: fut.done() or fut.set_exception(e)
            if promise:
                payload = dict(payload, promise="*", t=5)
            nonce, ciphertext = hrpc.encrypt_payload(att._encryption_private_key, pub,
                                                     polycodec.packb(payload))
            main = {"type": "method", "from": att_id, "to": to, "method": method,
                    "session": session}
            extra = {"_enc": {"v": 2, "pub": att._encryption_public_key, "nonce": nonce},
                     "data": ciphertext}
            await att._emit_message(polycodec.packb(main) + polycodec.packb(extra))
            return fut

        # forged ctx: a require_context method must see the vouched caller
        fake_ctx = {"from": f"{prov._local_workspace}/admin", "ws": prov._local_workspace}
        got = await send_encrypted(prov_id, prov._encryption_public_key, "services.who.whoami",
                                   {"ctx": fake_ctx, "to": "x"}, 1)
        assert await asyncio.wait_for(got, 10) == [att_id, True]

        # forged from: resolve the victim's pending call to the provider with a fake result
        pending = asyncio.ensure_future(
            (await victim.get_service(f"{prov_id}:who")).slow())
        for _ in range(100):
            sessions = [k for k, v in list(vic._object_store.items())
                        if isinstance(v, dict) and v.get("target_id") == prov_id
                        and "resolve" in v]
            if sessions:
                break
            await asyncio.sleep(0.02)
        (session,) = sessions
        await send_encrypted(vic_id, vic._encryption_public_key, f"{session}.resolve",
                             {"args": ["forged"], "from": prov_id}, 2, promise=False)
        await asyncio.sleep(1.0)
        assert not pending.done(), f"a forged `from` resolved the call: {pending.result()!r}"
        release.set()
        assert await asyncio.wait_for(pending, 10) == "real"

        # forged from on a protected method: refused, and the refusal comes back to the
        # real caller (stock: it goes to the forged `from`, the caller times out)
        fut = await send_encrypted(prov_id, prov._encryption_public_key,
                                   "services.guarded.touch",
                                   {"args": ["hi"], "from": f"{prov._local_workspace}/x"}, 3)
        with pytest.raises(Exception, match="Permission denied"):
            await asyncio.wait_for(fut, 10)
        assert calls == []
    finally:
        release.set()
        for client in (attacker, victim, provider):
            await client.disconnect()


async def test_refused_call_never_decodes_its_args(hypha_server, accel):
    """`args` is decoded after hypha-rpc's permission checks: a caller from another workspace
    calling a protected method is refused before any codec decoder (or proxy) runs."""
    import polycodec

    decoded, calls = [], []
    provider = await peer.connect(hypha_server.url)
    caller = await peer.connect(hypha_server.url)
    try:
        provider.rpc.register_codec({"name": "probe", "type": sc.Point, "encoder": None,
                                     "decoder": lambda d: decoded.append(d["n"]) or d["n"]})
        for sid, visibility in (("closed", "protected"), ("open", "public")):
            await provider.register_service({"id": sid, "config": {"visibility": visibility},
                                             "take": lambda x: calls.append(x) or "took"})
        prov_id = f"{provider.rpc._local_workspace}/{provider.rpc._client_id}"
        me = f"{caller.rpc._local_workspace}/{caller.rpc._client_id}"
        assert provider.rpc._local_workspace != caller.rpc._local_workspace

        async def call(sid, n):
            session = f"lazy{n}"
            fut = asyncio.get_running_loop().create_future()
            store = caller.rpc._get_session_store(session, create=True)
            store["target_id"] = prov_id
            store["resolve"] = lambda r: fut.done() or fut.set_result(r)
            store["reject"] = lambda e: fut.done() or fut.set_exception(e)
            main = {"type": "method", "from": me, "to": prov_id,
                    "method": f"services.{sid}.take", "session": session}
            extra = {"args": [{"_rtype": "probe", "n": n}], "promise": "*", "t": 30}
            await caller.rpc._emit_message(polycodec.packb(main) + polycodec.packb(extra))
            return await asyncio.wait_for(fut, 20)

        with pytest.raises(Exception, match="Permission denied"):
            await call("closed", 1)
        assert decoded == [] and calls == []
        assert await call("open", 2) == "took"      # allowed: decoded once, then run
        assert decoded == [2] and calls == [2]
    finally:
        await caller.disconnect()
        await provider.disconnect()


async def test_upload_over_the_byte_limit_is_refused(hypha_server):
    """A chunked argument larger than the receiver's max_bytes_per_peer: the upload is dropped
    as the chunk that crosses the limit arrives, and the caller's call fails with a message
    naming the limit (not a timeout); the provider holds nothing afterwards."""
    import polycodec.hypha

    with polycodec.hypha.accelerated(max_bytes_per_peer=2**20):
        provider = await peer.connect(hypha_server.url)
        caller = await peer.connect(hypha_server.url)
        try:
            await provider.register_service({"id": "sink", "config": {"visibility": "public"},
                                             "size": lambda a: int(a.nbytes)})
            prov_id = f"{provider.rpc._local_workspace}/{provider.rpc._client_id}"
            svc = await caller.get_service(f"{prov_id}:sink")
            assert await svc.size(np.zeros(2**17, np.uint8)) == 2**17    # 128 KiB: direct
            with pytest.raises(Exception, match="max_bytes_per_peer"):
                await asyncio.wait_for(svc.size(np.zeros(2**19, np.float64)), 30)   # 4 MiB
            receiver = provider.rpc.__dict__["_polycodec_state"].receiver
            for _ in range(50):   # chunks still in flight when the call failed are refused
                if len(receiver) == 0 and receiver.total_bytes == 0:
                    break
                await asyncio.sleep(0.1)
            assert len(receiver) == 0 and receiver.total_bytes == 0
        finally:
            await caller.disconnect()
            await provider.disconnect()


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
