"""The family on a real LocalCluster: 2 worker processes on 127.0.0.1, data moved between
them, counted in the worker processes themselves."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tests.conftest import missing

try:
    import distributed
except ImportError:
    missing("distributed")

import polycodec.dask as pdask  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                  worker_dashboard_address="127.0.0.1:0") as cluster:
        with pdask.connect(cluster) as c:
            c.wait_for_workers(2)
            yield c


def counts(client):
    return client.run(lambda: dict(__import__("polycodec.dask").dask.calls))


def workers(client):
    return sorted(client.scheduler_info()["workers"])


def dict_of_arrays(seed):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal(1 << 16).astype(np.float32),
            "y": np.arange(300, dtype=np.int64).reshape(20, 15), "tag": f"s{seed}"}


def records(n):
    return [{"id": i, "v": i * 0.5, "name": f"r{i}", "ok": bool(i & 1)} for i in range(n)]


def view(n):
    return memoryview(np.arange(n, dtype=np.uint8))


def inspect(value):
    """Runs on the receiving worker: what arrived, and whether its arrays are frame views."""
    out = {"type": type(value).__name__}
    if isinstance(value, dict) and "x" in value:
        x = value["x"]
        owner = x
        while getattr(owner, "base", None) is not None or isinstance(owner, memoryview):
            owner = owner.obj if isinstance(owner, memoryview) else owner.base
        out.update(readonly=not x.flags.writeable, owns=x.base is None,
                   owner_writeable=not memoryview(owner).readonly,
                   owner_nbytes=memoryview(owner).nbytes, nbytes=x.nbytes,
                   sum=float(value["x"].sum()))
    elif isinstance(value, memoryview):
        out.update(readonly=value.readonly, nbytes=value.nbytes, total=sum(value))
    else:
        out.update(n=len(value), ids=sum(r["id"] for r in value))
    return out


def test_values_move_between_workers_through_the_family(client):
    a, b = workers(client)
    before = counts(client)
    made = [client.submit(dict_of_arrays, 1, workers=[a], pure=False),
            client.submit(records, 500, workers=[a], pure=False),
            client.submit(view, 100_000, workers=[a], pure=False)]
    seen = client.gather([client.submit(inspect, m, workers=[b], pure=False) for m in made])
    after = counts(client)
    # worker a encoded each value for worker b, which decoded it: the transfers used the family
    assert after[a]["dumps"] - before[a]["dumps"] >= 3
    assert after[b]["loads"] - before[b]["loads"] >= 3
    d, r, m = seen
    # a read-only view of the buffer Dask received the frame into (its own, writeable)
    assert d["readonly"] and not d["owns"] and d["owner_writeable"]
    assert d["nbytes"] <= d["owner_nbytes"] <= d["nbytes"] + 65536
    assert d["sum"] == pytest.approx(float(dict_of_arrays(1)["x"].sum()))
    assert r == {"type": "list", "n": 500, "ids": sum(range(500))}
    assert m["type"] == "memoryview" and m["readonly"] and m["total"] == sum(view(100_000))
    # and back to the client: equal values
    got = client.gather(made)
    want = dict_of_arrays(1)
    assert np.array_equal(got[0]["x"], want["x"]) and np.array_equal(got[0]["y"], want["y"])
    assert got[1] == records(500) and got[2] == view(100_000)


def test_scatter_and_a_graph_of_many_values(client):
    a, b = workers(client)
    data = client.scatter([dict_of_arrays(i) for i in range(10)], workers=[a])
    sums = client.gather([client.submit(lambda v: float(v["x"].sum()), d, workers=[b])
                          for d in data])
    assert sums == pytest.approx([float(dict_of_arrays(i)["x"].sum()) for i in range(10)])


def test_value_outside_the_table_is_refused_at_the_sender(client):
    a, b = workers(client)
    bad = client.submit(lambda: {"x": Fraction(1, 3)}, workers=[a], pure=False)
    with pytest.raises(Exception, match="Fraction") as e:
        bad.result()
    assert "polycodec" in str(e.value)
    assert client.run(lambda: __import__("polycodec.dask").dask._strict) == {a: True, b: True}
