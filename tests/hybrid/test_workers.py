"""Emulator with several worker processes (--workers N): shared uploads, faults, stats and
recordings; plus the pieces that make one worker faster (batch guard, GC pause)."""
from __future__ import annotations

import base64
import gc
import json
import threading

import httpx
import pytest

import polycodec.hybrid as Hybrid
from polycodec.hybrid import gcpause
from polycodec.hybrid.emulator import services
from polycodec.hybrid.emulator import H_WORKER, Emulator, spawn_emulator
from polycodec.hybrid.emulator.store import SharedStore

from .conftest import TENANT

V4 = f"/{TENANT}/api/v4/execute"


def held_clients(url, want=2, tries=12):
    """Keep-alive clients, each pinned to the worker that accepted its connection, until
    `want` distinct workers are seen (a busier worker leaves new connections to the others)."""
    clients, by_worker = [], {}
    for _ in range(tries):
        c = httpx.Client(base_url=url)
        clients.append(c)
        w = c.get("/healthcheck").headers[H_WORKER]
        by_worker.setdefault(w, c)
        if len(by_worker) == want:
            break
    return clients, by_worker


def execute(client, service, inputs):
    return client.post(V4, json={"service": service, "inputs": inputs})


@pytest.fixture
def two_workers():
    with spawn_emulator("--demo", TENANT, "--record", "1000", workers=2) as (url, proc, lines):
        clients, by_worker = held_clients(url)
        try:
            assert sorted(by_worker) == ["0", "1"], "connections not spread over both workers"
            yield url, by_worker, lines
        finally:
            for c in clients:
                c.close()


@pytest.mark.slow
def test_upload_through_one_worker_runs_on_every_worker(two_workers):
    url, by_worker, lines = two_workers
    assert any("2 workers" in line for line in lines)
    defn = services.numeric_definition(2, folder="fresh", service="adder", version="3.0")
    with Hybrid.Client(base_url=url, tenant=TENANT, token="open") as c:
        up = c.services.upload(services.make_zip(defn)).data
    version_id = up["response_data"][0]["services"][0]["VersionId"]
    for w, client in by_worker.items():
        r = execute(client, "fresh/adder[3.0]", [{"x0": 1, "x1": int(w)}])
        assert r.headers[H_WORKER] == w and r.status_code == 200
        assert r.json()["outputs"] == [{"total": 1 + int(w), "weighted": 1 + 2 * int(w)}]
        assert r.json()["version_id"] == version_id          # same ids on every worker
        assert client.get("/status").json()["services"] == 2
    # a later upload of the same service wins on every worker
    defn["outputs"] = {"total": "x0 * 100"}
    with Hybrid.Client(base_url=url, tenant=TENANT, token="open") as c:
        c.services.upload(services.make_zip(defn))
    for client in by_worker.values():
        assert execute(client, "fresh/adder", [{"x0": 2}]).json()["outputs"] == [{"total": 200}]


@pytest.mark.slow
def test_faults_set_on_one_worker_apply_to_all(two_workers):
    url, by_worker, _ = two_workers
    first, second = by_worker["0"], by_worker["1"]
    assert first.post("/_emulator/faults", json={"rate_500": 1.0}).json()["rate_500"] == 1.0
    assert second.get("/_emulator/faults").json()["rate_500"] == 1.0
    for client in (first, second, first, second):
        r = execute(client, "bench/score", [{"x0": 1}])
        assert r.status_code == 500 and r.json()["error"]["message"] == "injected 500"
    assert second.post("/_emulator/faults", json={"rate_500": 2}).status_code == 400
    stats = first.get("/_emulator/stats").json()
    assert stats["faults"] == {"500": 4} and stats["by_status"]["500"] == 4
    second.post("/_emulator/reset", content=b"{}")
    for client in (first, second):
        r = execute(client, "bench/score", [{"x0": 5}])
        assert r.status_code == 200 and r.json()["outputs"][0]["total"] == 5
    stats = second.get("/_emulator/stats").json()
    assert stats["faults"] == {} and stats["records"] == 2


@pytest.mark.slow
def test_recording_and_stats_are_complete_across_workers(two_workers):
    url, by_worker, _ = two_workers
    by_worker["0"].post("/_emulator/reset", content=b"{}")
    sent = []
    for i in range(12):
        w = str(i % 2)
        body = json.dumps({"service": "bench/score", "inputs": [{"x0": i}]}).encode()
        r = by_worker[w].post(V4, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 200 and r.headers[H_WORKER] == w
        sent.append((w, body))
    recorded = [r for r in by_worker["1"].get("/_emulator/requests").json()
                if r["path"] == V4]
    assert [(str(r["worker"]), base64.b64decode(r["body"])) for r in recorded] == sent
    stats = by_worker["1"].get("/_emulator/stats").json()
    assert stats["records"] == 12 and stats["by_status"]["200"] >= 12


@pytest.mark.slow
def test_batched_execute_over_workers_keeps_order(two_workers):
    url, _, _ = two_workers
    records = [{f"x{k}": i + k for k in range(10)} for i in range(3000)]
    with Hybrid.Client(base_url=url, tenant=TENANT, token="open") as c:
        result = c.services.execute("bench/score", inputs=records, batch_size=250,
                                    concurrency=4)
    assert result.ok and [o["total"] for o in result.outputs] == [
        sum(r.values()) for r in records]
    seen = {str(r["worker"]) for r in httpx.get(url + "/_emulator/requests").json()
            if r["path"] == V4}
    assert seen == {"0", "1"}


def test_cli_refuses_zero_workers():
    with pytest.raises(RuntimeError, match="workers must be >= 1"):
        with spawn_emulator("--workers", "0"):
            pass


# ---- the shared store, in process: two emulators on one store behave as two workers -------
@pytest.fixture
def pair(tmp_path):
    store_path = str(tmp_path / "state.sqlite")
    SharedStore(store_path).create({})
    with Emulator(shared=SharedStore(store_path), worker=0, record=3) as a, \
            Emulator(shared=SharedStore(store_path), worker=1, record=3) as b:
        yield a, b


def test_shared_store_uploads_faults_stats(pair):
    a, b = pair
    svc = a.upload_zip(TENANT, services.make_zip(services.numeric_definition(1)))
    r = httpx.post(b.url + V4, json={"service": "bench/score", "inputs": [{"x0": 4}]})
    assert r.json()["outputs"] == [{"total": 4, "weighted": 4}]
    assert r.json()["version_id"] == svc.version_id and r.headers[H_WORKER] == "1"
    b.register(TENANT, "f", "s", outputs={"y": "x * 3"}, inputs=["x"])
    r = httpx.post(a.url + V4, json={"service": "f/s", "inputs": [{"x": 2}]})
    assert r.json()["outputs"] == [{"y": 6}]
    with pytest.raises(ValueError, match="cannot be shared"):
        a.register(TENANT, "f", "g", lambda rec: rec, inputs=["x"])
    a.set_faults(rate_429=1.0, retry_after=0)
    r = httpx.post(b.url + V4, json={"service": "f/s", "inputs": [{"x": 2}]})
    assert r.status_code == 429 and r.headers["Retry-After"] == "0"
    with pytest.raises(ValueError):
        b.set_faults(rate_500=-1)
    b.reset()
    assert httpx.post(a.url + V4, json={"service": "f/s", "inputs": [{"x": 1}]}).status_code == 200
    stats = httpx.get(b.url + "/_emulator/stats").json()
    assert stats["records"] == 1 and stats["by_status"] == {"200": 1}
    for _ in range(2):
        httpx.get(a.url + "/healthcheck")
    requests = a.get_requests()                   # both workers' requests, in order, last 3
    assert [(r["path"], r["worker"]) for r in requests] == [
        ("/_emulator/stats", 1), ("/healthcheck", 0), ("/healthcheck", 0)]


def test_shared_fault_seeds_differ_per_worker(pair):
    a, b = pair
    a.set_faults(rate_500=0.5, seed=3)
    draws_a = [a.faults.draw() for _ in range(40)]
    b.sync()
    draws_b = [b.faults.draw() for _ in range(40)]
    assert draws_a != draws_b and set(draws_a) == set(draws_b) == {None, "500"}


# ---- per-record cost: batch guard + one comprehension, checked loop as fallback ----------
DEFN = {"folder": "f", "service": "s",
        "inputs": [{"name": "a", "type": "number", "min": 0, "max": 100},
                   {"name": "b", "type": "integer", "default": 1},
                   {"name": "c", "type": "string", "required": True}],
        "outputs": {"q": "a / b", "s": "c * 2"}}


@pytest.mark.parametrize("rows, fast", [
    ([(1, 2, "x"), (50.5, 1, "y")], True),
    ([(1, None, "x")], True),                    # optional None passes the rules ...
    ([(1, 0, "x"), (4, 2, "y")], True),          # ... a raising expression is per record
    ([(1, True, "x")], False),                   # bool is not an integer here
    ([(101, 1, "x")], False),                    # above max
    ([(None, 1, "x")], False),                   # None where a range applies
    ([(1, 1, None)], False),                     # required string
    ([(1, services.MISSING, "x")], False),       # absent -> default, in the checked loop
])
def test_fast_path_equals_checked_loop(rows, fast):
    svc = services.from_definition(DEFN, "t")
    guard = services.batch_guard(svc.inputs)
    assert guard(rows) is fast
    outs, errs = svc.run_rows(rows)
    ref_outs, ref_errs = svc.run_rows.checked(rows)
    assert outs == ref_outs
    assert [type(e) for e in errs] == [type(e) for e in ref_errs]


def test_fast_path_failure_names_the_record():
    svc = services.from_definition(DEFN, "t")
    outs, errs = svc.run_rows([(1, 2, "x"), (1, 0, "y"), (3, 1, "z")])
    assert outs[0] == {"q": 0.5, "s": "xx"} and outs[2] == {"q": 3.0, "s": "zz"}
    assert outs[1] is None and isinstance(errs[1], ZeroDivisionError)


def test_callables_are_called_once_per_record():
    calls = []

    def fn(rec):
        calls.append(rec["x"])
        return {"y": 10 // rec["x"]}
    svc = services.from_callable(fn, "t", "f", "s", [{"name": "x", "type": "integer"}])
    outs, errs = svc.run_rows([(1,), (0,), (2,)])
    assert calls == [1, 0, 2] and outs == [{"y": 10}, None, {"y": 5}]


# ---- GC pause ----------------------------------------------------------------------------
def test_gc_pause_nests_across_threads_and_restores():
    assert gc.isenabled()
    before = gc.get_threshold()
    inside = threading.Event()
    release = threading.Event()

    def other():
        with gcpause.paused():
            inside.set()
            release.wait(5)
    t = threading.Thread(target=other)
    with gcpause.paused():
        assert gc.get_threshold()[0] == 0          # automatic collection off
        t.start()
        inside.wait(5)
    assert gc.get_threshold()[0] == 0              # the other thread still decodes
    release.set()
    t.join(5)
    assert gc.get_threshold() == before and gc.isenabled()
    with gcpause.paused(False):                    # the client's default: not paused
        assert gc.get_threshold() == before


@pytest.mark.slow
@pytest.mark.parametrize("hybrid_emulator_process", [2], indirect=True)
def test_public_process_fixture(hybrid_emulator_process):
    url = hybrid_emulator_process
    with Hybrid.Client(base_url=url, tenant="t", token="open") as c:
        c.services.upload(services.make_zip({"folder": "f", "service": "s", "inputs": ["x"],
                                             "outputs": {"y": "x * 2"}}))
        assert c.services.execute("f/s", inputs={"x": 21}).data["outputs"] == [{"y": 42}]
    assert httpx.get(url + "/_emulator/stats").json()["records"] == 1
