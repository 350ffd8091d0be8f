"""`polycodec bench --hypha`: echo through a real local Hypha server, stock vs accelerated.

Every pair runs in its own processes (provider and caller), against one server started here.
Per workload: median echo time, the share of that time the server process spent on CPU
(psutil), and for the 128 MiB echo the caller's peak RSS on top of the sent and received
arrays. The caller/provider roles are this module run as a script (see `_main`).
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import numpy as np

from .report import Row, Section, progress

MiB = 1 << 20
# (label, caller mode, provider mode); modes: stock, stock-nodeflate, accel, accel-deflate
PAIRS = [
    ("stock/stock (deflate)", "stock", "stock"),
    ("stock/stock (no deflate)", "stock-nodeflate", "stock-nodeflate"),
    ("accel/accel", "accel", "accel"),
    ("accel caller -> stock provider", "accel", "stock"),
    ("stock caller -> accel provider", "stock", "accel"),
    ("accel/accel (deflate)", "accel-deflate", "accel-deflate"),
]
QUICK_PAIRS = PAIRS[:3]
BASELINE = PAIRS[0][0]
NODEFLATE = PAIRS[1][0]


def workloads(quick, scale=1.0):
    """(label, kind, size): `scale` (--size) multiplies the array bytes and the dict items."""
    def mib(n):
        nbytes = max(8, int(n * MiB * scale) // 8 * 8)
        return f"{nbytes / MiB:g} MiB" if nbytes >= MiB else f"{nbytes // 1024:g} KiB", nbytes
    sizes = [1, 16] + ([] if quick else [128])
    out = [(f"echo {mib(n)[0]} array", "array", mib(n)[1]) for n in sizes]
    items = max(1, round(10_000 * scale))
    out.insert(2, (f"echo dict of {items:,} items", "dict", items))
    # small calls, one after another: what most RPC traffic is (--size does not scale it)
    out.insert(0, ("echo small call (~300 B frame)", "small", 200 if quick else 1000))
    return out


SMALL = {"id": 17, "name": "sample.png", "threshold": 0.5, "classes": [1, 3, 7],
         "mode": "fast", "ok": True}


def make_payload(kind, size):
    if kind == "small":
        return SMALL
    if kind == "array":
        return np.random.default_rng(0).random(size // 8)          # float64: incompressible
    return {f"key{i}": (i if i % 3 == 0 else f"v{i}" if i % 3 == 1 else i * 0.5)
            for i in range(size)}


# ------------------------------------------------------------------------ peer processes
def _setup(mode):
    if mode.startswith("accel"):
        import polycodec.hypha
        polycodec.hypha.accelerate(compression="deflate" if mode == "accel-deflate" else None)
    elif mode == "stock-nodeflate":   # stock codec, only the websocket option changed
        from hypha_rpc import websocket_client as wc
        orig = wc.WebsocketRPCConnection._ws_connect_kwargs
        wc.WebsocketRPCConnection._ws_connect_kwargs = \
            lambda self: dict(orig(self), compression=None)


async def _connect(url):
    from hypha_rpc import connect_to_server
    return await connect_to_server({"server_url": url, "method_timeout": 600})


async def _provide(mode, url):
    _setup(mode)
    server = await _connect(url)
    info = await server.register_service({"id": "bench", "config": {"visibility": "public"},
                                          "echo": lambda x: x})
    print("READY", info["id"], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.disconnect()


class _PeakRSS:
    def __init__(self, proc):
        self.proc, self.peak, self._stop = proc, 0, threading.Event()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.002)

    def __enter__(self):
        self.peak = self.proc.memory_info().rss
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def _cpu(procs):
    return [sum(p.cpu_times()[:2]) for p in procs]


async def _call(mode, url, service_id, spec, server_pid, provider_pid):
    import psutil
    _setup(mode)
    server = await _connect(url)
    svc = await server.get_service(service_id)
    srv = psutil.Process(server_pid)
    me = psutil.Process()
    procs = [srv, psutil.Process(provider_pid), me]   # CPU seconds: server, provider, caller
    results = []
    for label, kind, size, repeat in spec:
        payload = make_payload(kind, size)
        if kind == "array" and size >= 64 * MiB:   # one run; memory measured
            base = me.memory_info().rss
            c0, t0 = _cpu(procs), time.perf_counter()
            with _PeakRSS(me) as peak:
                back = await svc.echo(payload)
            wall = time.perf_counter() - t0
            cpu = [b - a for a, b in zip(c0, _cpu(procs))]
            assert np.array_equal(back, payload)
            extra = (peak.peak - base - back.nbytes) / payload.nbytes
            del back
            results.append({"label": label, "seconds": wall, "server_share": cpu[0] / wall,
                            "cpu": cpu, "mem_extra": extra})
            continue
        if kind == "small":     # `size` echoes in a row; CPU per echo from the whole batch
            for _ in range(20):
                assert await svc.echo(payload) == payload
            times, c0 = [], _cpu(procs)
            for _ in range(size):
                t0 = time.perf_counter()
                await svc.echo(payload)
                times.append(time.perf_counter() - t0)
            cpu = [(b - a) / size for a, b in zip(c0, _cpu(procs))]
            wall = statistics.median(times)
            results.append({"label": label, "seconds": wall, "server_share":
                            cpu[0] / wall, "cpu": cpu, "per_echo_cpu": True})
            continue
        back = await svc.echo(payload)              # warm-up, and a correctness check
        if kind == "array":
            assert np.array_equal(back, payload)
        else:
            assert back == payload
        del back
        times, shares, cpus = [], [], []
        for _ in range(repeat):
            c0, t0 = _cpu(procs), time.perf_counter()
            await svc.echo(payload)
            wall = time.perf_counter() - t0
            cpu = [b - a for a, b in zip(c0, _cpu(procs))]
            times.append(wall)
            cpus.append(cpu)
            shares.append(cpu[0] / wall)
        results.append({"label": label, "seconds": statistics.median(times),
                        "server_share": statistics.median(shares),
                        "cpu": [statistics.median(c[i] for c in cpus) for i in range(3)]})
    await server.disconnect()
    print("RESULT " + json.dumps(results), flush=True)


def _main(argv):
    role = argv[0]
    if role == "provide":
        asyncio.run(_provide(argv[1], argv[2]))
    elif role == "call":
        spec = [tuple(x) for x in json.loads(argv[4])]
        asyncio.run(_call(argv[1], argv[2], argv[3], spec, int(argv[5]), int(argv[6])))


# ------------------------------------------------------------------------------ driver
def _env():
    return dict(os.environ, HYPHA_LOGLEVEL="ERROR")


def run_pair(url, server_pid, caller_mode, provider_mode, spec, timeout=1800):
    prov = subprocess.Popen([sys.executable, "-m", "polycodec.bench.hypha", "provide",
                             provider_mode, url], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=_env())
    try:
        line = prov.stdout.readline().split()
        if len(line) != 2 or line[0] != "READY":
            raise RuntimeError(f"bench provider did not start: {line}")
        out = subprocess.run(
            [sys.executable, "-m", "polycodec.bench.hypha", "call", caller_mode, url, line[1],
             json.dumps(spec), str(server_pid), str(prov.pid)],
            capture_output=True, text=True, timeout=timeout, env=_env())
        for ln in out.stdout.splitlines():
            if ln.startswith("RESULT "):
                return json.loads(ln[7:])
        raise RuntimeError(f"bench caller failed:\n{out.stderr[-3000:]}")
    finally:
        prov.stdin.close()
        try:
            prov.wait(20)
        except subprocess.TimeoutExpired:
            prov.kill()
            prov.wait()


def run(args) -> Section:
    from .hypha_server import LocalHyphaServer
    quick = bool(getattr(args, "quick", False))
    repeat = getattr(args, "repeat", None) or (2 if quick else 5)
    scale = float(getattr(args, "size", None) or 1.0)
    spec = [(label, kind, size, repeat) for label, kind, size in workloads(quick, scale)]
    pairs = QUICK_PAIRS if quick else PAIRS
    rows, notes = [], []
    with LocalHyphaServer() as srv:
        for name, caller, provider in pairs:
            progress.step(f"pair {name}")
            for r in run_pair(srv.url, srv.pid, caller, provider, spec):
                srv_s, prov_s, call_s = r["cpu"]
                if r.get("per_echo_cpu"):
                    note = (f"CPU per echo (mean of the batch): server {_fmt_us(srv_s)}, "
                            f"provider {_fmt_us(prov_s)}, caller {_fmt_us(call_s)}")
                else:
                    note = (f"server CPU {r['server_share'] * 100:.0f}% of wall "
                            f"({_fmt_s(srv_s)}); CPU provider {_fmt_s(prov_s)}, "
                            f"caller {_fmt_s(call_s)}")
                if "mem_extra" in r:
                    note += f"; caller peak RSS beyond both arrays {r['mem_extra']:.2f}x array"
                rows.append(Row(r["label"], name, r["seconds"], BASELINE, note,
                                {"server_share": r["server_share"], "cpu": r["cpu"],
                                 "mem_extra": r.get("mem_extra")}))
    by = {(r.workload, r.impl): r for r in rows}
    for label, kind, _ in workloads(quick, scale):
        acc, nod = by.get((label, "accel/accel")), by.get((label, NODEFLATE))
        base = by.get((label, BASELINE))
        if acc and nod and base:
            notes.append(f"- {label}: accel/accel is {_speedup(base, acc)} stock defaults, "
                         f"{_speedup(nod, acc)} stock without deflate.")
            if kind == "small":
                notes.append(_small_note(acc, nod))
            elif acc.extra.get("cpu") and acc.extra["cpu"][0] >= 0.05:   # 10 ms clock ticks
                notes.append(_server_bound(label, acc, nod))
    notes.insert(0, "Each pair: provider and caller in separate processes, one local Hypha "
                    "server (hypha 0.21.137) started here; median of "
                    f"{repeat} echoes after a warm-up (128 MiB: one echo; the small call: "
                    "median of its echoes in a row, after 20 warm-up echoes).")
    return Section("echo through a local Hypha server (stock hypha-rpc 0.21.47 vs "
                   "polycodec.hypha.accelerate)", rows, notes, name="hypha")


def _speedup(slow, fast):
    x = slow.seconds / fast.seconds
    return f"{x:.1f}x faster than" if x >= 1 else f"{1 / x:.1f}x slower than"


def _fmt_s(seconds):
    return f"{seconds * 1000:.0f} ms"


def _fmt_us(seconds):
    return f"{seconds * 1e6:.0f} us"


def _small_note(acc, nod):
    """The clients' share of a small echo: what a codec can change (the server's is fixed)."""
    clients = sum(acc.extra["cpu"][1:])
    stock = sum(nod.extra["cpu"][1:])
    return (f"  clients' CPU per small echo: accelerated {_fmt_us(clients)}, stock without "
            f"deflate {_fmt_us(stock)}; the server's {_fmt_us(acc.extra['cpu'][0])} per echo "
            "is the same unmodified code in both.")


def _server_bound(label, acc, nod):
    """The unmodified server's own CPU per echo bounds the accelerated time from below (its
    event loop handles every byte of both directions, one message after another)."""
    srv, prov, call = acc.extra["cpu"]
    bound = nod.seconds / srv if srv > 0 else float("inf")
    return (f"  server CPU per accelerated echo {_fmt_s(srv)} (stock without deflate: "
            f"{_fmt_s(nod.extra['cpu'][0])}): no client can make this echo faster than that, "
            f"so at most {bound:.1f}x over stock without deflate; measured "
            f"{_fmt_s(acc.seconds)} wall, of which clients' CPU {_fmt_s(prov + call)} "
            f"(provider {_fmt_s(prov)}, caller {_fmt_s(call)}).")


if __name__ == "__main__":
    _main(sys.argv[1:])
