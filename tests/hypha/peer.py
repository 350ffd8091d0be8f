"""A Hypha peer in its own process: `python -m tests.hypha.peer MODE ROLE URL [args]`.

MODE: stock (hypha-rpc untouched) or accel (polycodec.hypha.accelerate()).
ROLE provide: registers the test service, prints `READY <service id>`, serves until stdin closes.
ROLE call SERVICE_ID OUT: runs `run_calls` against the service, pickles the results to OUT.
The pytest process plays the other side (tests/hypha/test_peers.py).
"""
from __future__ import annotations

import asyncio
import pickle
import sys

import numpy as np

from tests.hypha import scenarios as sc


def service_api(sid="pcx"):
    async def call_back(cb, x):
        return await cb(x)

    def gen(n):
        for i in range(n):
            yield {"i": i, "a": np.full(3, i, np.int16)}

    def boom(msg):
        raise ValueError(f"provider says {msg}")

    def checksum(a):
        return [float(a[0]), float(a[-1]), int(a.size), str(a.dtype)]

    return {
        "id": sid,
        "config": {"visibility": "public"},
        "echo": lambda x: x,
        "describe": sc.describe,
        "kw": lambda a, b=2, **rest: {"a": a, "b": b, "rest": rest},
        "call_back": call_back,
        "gen": gen,
        "boom": boom,
        "checksum": checksum,
        "point_norm": lambda p: [type(p).__name__, p.x * p.x + p.y * p.y, p],
    }


async def connect(url, **config):
    from hypha_rpc import connect_to_server

    server = await connect_to_server({"server_url": url, "method_timeout": 60, **config})
    server.rpc.register_codec(sc.POINT_CODEC)
    return server


async def run_calls(svc, big=True):
    """The caller's side of every scenario; returns {name: result or ("raised", text)}."""
    out = {}
    for name in sc.ROW_NAMES:
        value = sc.row_value(name)
        out["echo:" + name] = await svc.echo(value)
        out["describe:" + name] = await svc.describe(value)
    out["nested"] = await svc.echo(sc.nested_value())
    out["kw"] = await svc.kw(1, b=3, c={"d": [4]})
    out["call_back"] = await svc.call_back(lambda v: {"twice": v * 2}, np.int32(21))
    out["gen"] = [item async for item in await svc.gen(4)]
    try:
        await svc.boom("no")
        out["boom"] = None
    except Exception as exc:   # noqa: BLE001  (the remote error, whatever its type)
        out["boom"] = ("raised", type(exc).__name__, str(exc))
    out["point"] = await svc.point_norm(sc.Point(3, 4))
    if big:
        arr = sc.big_array()
        out["big_checksum"] = await svc.checksum(arr)
        back = await svc.echo(arr)
        out["big_echo_ok"] = bool(back.dtype == arr.dtype and np.array_equal(back, arr))
    return {k: sc.plain(v) for k, v in out.items()}


async def main(argv):
    mode, role, url = argv[:3]
    if mode == "accel":
        import polycodec.hypha
        polycodec.hypha.accelerate()
    server = await connect(url)
    if role == "provide":
        info = await server.register_service(service_api())
        print("READY", info["id"], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    elif role == "fan":   # a callback the service calls twice at once with 2 MiB arrays
        service_id, out_path = argv[3], argv[4]
        svc = await server.get_service(service_id)
        result = await svc.fan(lambda a: [float(a[0]), int(a.size)])
        with open(out_path, "wb") as f:
            pickle.dump(sc.plain(result), f)
    elif role == "call":
        service_id, out_path = argv[3], argv[4]
        svc = await server.get_service(service_id)
        results = await run_calls(svc, big=len(argv) < 6 or argv[5] != "small")
        with open(out_path, "wb") as f:
            pickle.dump(results, f)
    await server.disconnect()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
