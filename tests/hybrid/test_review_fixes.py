"""Regression tests for the review findings (NaN policy on every path, per-batch failures,
executor failures, Retry-After parsing, GC pausing, emulator shutdown, transports, tenants)."""
from __future__ import annotations

import json
import math
from collections import defaultdict
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import httpx
import numpy as np
import pytest

import polycodec.hybrid as Hybrid
from polycodec.errors import EncodeError
from polycodec.hybrid import BatchError, bodies
from polycodec.hybrid.batching import make_source

from .conftest import TENANT, expected, require
from .test_batching import make_records


def strict_loads(data):
    """json.loads that refuses the invalid tokens NaN/Infinity (as a strict runner does)."""
    def bad(token):
        raise ValueError(f"invalid JSON token {token}")
    return json.loads(data, parse_constant=bad)


def decoded_batches(source):
    return [strict_loads(data) for _, _, data in source]


# ---- 1. the stdlib fallback applies the nan policy ------------------------------------------
@pytest.mark.parametrize("nan, want", [("null", None), ("string", "NaN")])
def test_big_int_body_with_nan_follows_policy(nan, want):
    out = bodies.dumps({"a": 2**70, "b": math.nan, 3: -math.inf}, nan=nan)
    got = strict_loads(out)
    assert got["a"] == 2**70 and got["b"] == want
    assert got["3"] == (None if nan == "null" else "-Infinity")


def test_big_int_body_with_nan_raises_by_default():
    with pytest.raises(EncodeError) as info:
        bodies.dumps({"a": 2**70, "b": [1.0, math.inf]})
    assert "$.b[1]" in str(info.value)


@pytest.mark.parametrize("nan, want", [("null", None), ("string", "NaN")])
def test_big_int_batch_with_nan_follows_policy(nan, want):
    for form in ("table", "records"):
        (batch,) = decoded_batches(make_source([{"a": 2**70, "b": math.nan}], 10, form,
                                               nan=nan)[1])
        row = batch[1] if form == "table" else list(batch[0].values())
        assert row == [2**70, want]


# ---- 2. nan='string' with stacked numeric columns ------------------------------------------
def test_string_policy_on_numeric_columns_table_form():
    a = np.array([1.5, math.nan, math.inf, 4.0])
    b = np.arange(4.0)                                 # one dtype: the stacking path
    cols = {"a": a, "b": b}
    table = decoded_batches(make_source(cols, 10, "table", nan="string")[1])[0]
    assert table[0] == ["a", "b"]
    assert [r[0] for r in table[1:]] == [1.5, "NaN", "Infinity", 4.0]
    records = decoded_batches(make_source(cols, 10, "records", nan="string")[1])[0]
    assert [list(r.values()) for r in records] == table[1:]


def test_string_policy_on_dataframe_table_form():
    pd = require("pandas")
    df = pd.DataFrame({"a": [1.0, math.nan], "b": [2.0, 3.0]})
    table = decoded_batches(make_source(df, 10, "table", nan="string")[1])[0]
    assert table == [["a", "b"], [1.0, 2.0], ["NaN", 3.0]]


# ---- 3. an encode error is that batch's error, not the run's --------------------------------
def test_nan_in_one_batch_fails_only_that_batch(client):
    records = make_records(30)
    records[15]["x1"] = math.nan
    result = client.services.execute("bench/score", inputs=records, batch_size=10)
    assert len(result) == 30 and result.failed == list(range(10, 20))
    bad = result.batches[1]
    assert bad.error["kind"] == "encode" and "$.inputs[15].x1" in bad.error["message"]
    assert bad.attempts == 0
    for i in (*range(10), *range(20, 30)):
        assert result.outputs[i] == pytest.approx(expected(records[i]))


def test_short_row_and_non_dict_record_fail_their_batch(client):
    header = ["x0", "x1"]
    table = [header] + [[i, i + 1] for i in range(20)]
    table[15] = [1]                                    # short row in the second batch
    result = client.services.execute("bench/score", inputs=table, batch_size=10)
    assert result.failed == list(range(10, 20)) and "values" in result.batches[1].error["message"]
    records = make_records(20)
    records[3] = [1, 2]                                # not a dict, first batch
    result = client.services.execute("bench/score", inputs=records, batch_size=10)
    assert result.failed == list(range(10))
    assert result.outputs[12] == pytest.approx(expected(records[12]))


def test_failing_iterator_raises_with_partial_result(client):
    records = make_records(40)

    def gen():
        yield from records[:25]
        raise OSError("disk gone")
    with pytest.raises(BatchError) as info:
        client.services.execute("bench/score", inputs=gen(), batch_size=10, concurrency=1)
    err = info.value
    assert isinstance(err.__cause__, OSError) and err.error["kind"] == "source"
    assert err.error["start"] == 20
    assert len(err.result) == 20 and err.result.ok
    assert err.result.outputs == [pytest.approx(expected(r)) for r in records[:20]]


# ---- 4. a failing executor future is a batch error -----------------------------------------
class FlakyExecutor(Executor):
    """Runs batches on threads, but the 2nd future breaks and the 3rd is cancelled."""

    def __init__(self):
        self.inner = ThreadPoolExecutor(2)
        self.n = 0

    def submit(self, fn, /, *args, **kwargs):
        self.n += 1
        if self.n in (2, 3):
            fut = Future()
            if self.n == 2:
                fut.set_exception(BrokenProcessPool("a worker died"))
            else:
                fut.cancel()
            return fut
        return self.inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, **kw):
        self.inner.shutdown(wait=wait)


def test_failing_executor_futures_become_batch_errors(client):
    from polycodec.hybrid.transport import close_worker_transports
    records = make_records(40)
    pool = FlakyExecutor()
    try:
        result = client.services.execute("bench/score", inputs=records, batch_size=10,
                                         executor=pool)
    finally:
        pool.shutdown()
        close_worker_transports()
    assert len(result) == 40 and result.failed == list(range(10, 30))
    assert "BrokenProcessPool" in result.batches[1].error["message"]
    assert "CancelledError" in result.batches[2].error["message"]
    assert result.outputs[35] == pytest.approx(expected(records[35]))


# ---- 12. raise_on_error keeps what finished before the failing batch -------------------------
class FailMarked(httpx.BaseTransport):
    """Forwards to the real server, but answers 500 to the batch carrying the marker."""

    def __init__(self, marker):
        self.inner, self.marker = httpx.HTTPTransport(), marker

    def handle_request(self, request):
        if self.marker in request.read():
            return httpx.Response(500, json={"error": "injected"})
        return self.inner.handle_request(request)

    def close(self):
        self.inner.close()


def test_raise_on_error_keeps_partial_result(emu, svc):
    records = make_records(30)
    records[12]["x0"] = 987654321                       # only the second batch fails
    http = httpx.Client(transport=FailMarked(b"987654321"))
    with Hybrid.Client(base_url=emu.url, tenant=TENANT, token="open", max_retries=0,
                       http_client=http) as c:
        with pytest.raises(BatchError) as info:
            c.services.execute("bench/score", inputs=records, batch_size=10, concurrency=1,
                               raise_on_error=True)
    http.close()
    err = info.value
    assert err.error["status"] == 500 and err.error["batch"] == 1
    assert len(err.result) == 10 and err.result.ok
    assert err.result.outputs == [pytest.approx(expected(r)) for r in records[:10]]


# ---- 11. table encoding never calls into a non-plain-dict record ----------------------------
def test_defaultdict_record_is_not_mutated():
    later = defaultdict(int, {"b": 2})
    recs = [{"a": 1, "b": 2}, later]
    (batch,) = decoded_batches(make_source(recs, 10, "table")[1])
    assert dict(later) == {"b": 2}                      # no "a" inserted
    assert batch == [{"a": 1, "b": 2}, {"b": 2}]        # ragged: records form


# ---- 5. Retry-After parsing never raises ---------------------------------------------------
def _with_retry_after(value):
    return httpx.Response(429, headers={"retry-after": value})


@pytest.mark.parametrize("value", ["soon", "", "nan", "inf", "Mon, 99 Foo 2024 99:99:99"])
def test_invalid_retry_after_falls_back_to_backoff(value, monkeypatch):
    from polycodec.hybrid import transport
    monkeypatch.setattr(transport.random, "uniform", lambda a, b: 1.0)
    delay = transport.backoff(1, 0.5, _with_retry_after(value))
    assert delay == pytest.approx(2 * 0.5 * 1.0 * 1.5)


@pytest.fixture
def far_timezone(monkeypatch):
    """Local time 5 hours off UTC, so a naive date read as local time would be wrong."""
    import time as _time
    monkeypatch.setenv("TZ", "EST+05")
    _time.tzset()
    yield
    monkeypatch.undo()
    _time.tzset()


def test_retry_after_dates_naive_and_aware(far_timezone):
    import email.utils
    import time as _time
    from polycodec.hybrid import transport
    later = _time.time() + 10
    aware = email.utils.formatdate(later, usegmt=True)            # "... GMT"
    naive = email.utils.formatdate(later).rsplit(" ", 1)[0] + " -0000"   # no zone: UTC
    for value in (aware, naive):
        assert 8 <= transport.backoff(0, 0.0, _with_retry_after(value)) <= 10
    assert transport.backoff(0, 0.0, _with_retry_after("2.5")) == 2.5


def test_invalid_retry_after_is_retried_not_crashed(emu, svc):
    emu.set_faults(rate_429=1.0, retry_after="soon")
    with Hybrid.Client(base_url=emu.url, tenant=TENANT, token="open", max_retries=1,
                       retry_interval=0.001) as c:
        with pytest.raises(Hybrid.HybridApiError) as info:
            c.services.execute("bench/score", inputs={"x0": 1})
    assert info.value.status == 429 and info.value.attempts == 2


# ---- 6. GC pausing: opt-in, respects the host, fork-safe ------------------------------------
def test_host_gc_switch_during_pause_is_kept():
    import gc
    from polycodec.hybrid import gcpause
    before = gc.get_threshold()
    try:
        with gcpause.paused():
            gc.disable()                           # the host turns the collector off
        assert not gc.isenabled()                  # ... and it stays off
        gc.enable()
        gc.disable()
        with gcpause.paused():
            gc.enable()                            # off before, the host turns it on meanwhile
        assert gc.isenabled()
        with gcpause.paused():
            gc.set_threshold(1234)                 # the host's new threshold wins
        assert gc.get_threshold()[0] == 1234
    finally:
        gc.enable()
        gc.set_threshold(*before)
    assert gc.get_threshold() == before


@pytest.mark.slow
def test_gc_not_touched_unless_asked(hybrid_emulator_process, monkeypatch):
    import gc
    from polycodec.hybrid.emulator import services
    with Hybrid.Client(base_url=hybrid_emulator_process, tenant=TENANT, token="open") as client:
        client.services.upload(services.make_zip(services.numeric_definition(4)))
        calls = []
        for name in ("disable", "enable", "set_threshold"):
            real = getattr(gc, name)
            monkeypatch.setattr(gc, name,
                                lambda *a, _n=name, _r=real: (calls.append(_n), _r(*a)))
        records = make_records(3000)                   # responses > gcpause.LARGE
        assert client.services.execute("bench/score", inputs=records, batch_size=1500).ok
        assert calls == []
        assert client.services.execute("bench/score", inputs=records, batch_size=1500,
                                       pause_gc=True).ok
    assert "set_threshold" in calls and gc.isenabled()


def test_fork_while_paused_starts_unpaused():
    import gc
    import os
    import threading
    from polycodec.hybrid import gcpause
    if not hasattr(os, "fork"):
        pytest.skip("POSIX only")
    before = gc.get_threshold()[0]
    inside, release = threading.Event(), threading.Event()

    def hold():
        with gcpause.paused():
            inside.set()
            release.wait(5)
    t = threading.Thread(target=hold)
    t.start()
    inside.wait(5)
    try:
        pid = os.fork()
        if pid == 0:                                # child: no thread will end that pause
            ok = gc.get_threshold()[0] == before and gcpause._depth == 0
            with gcpause.paused():
                ok = ok and gc.get_threshold()[0] == 0
            ok = ok and gc.get_threshold()[0] == before
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    finally:
        release.set()
        t.join(5)
    assert os.waitstatus_to_exitcode(status) == 0
    assert gc.get_threshold()[0] == before


# ---- 7. Emulator.stop(): never started, and keep-alive connections ---------------------------
def test_stop_without_start_returns():
    import threading
    from polycodec.hybrid.emulator import Emulator
    emu = Emulator()
    stopper = threading.Thread(target=emu.stop, daemon=True)
    stopper.start()
    stopper.join(5)
    assert not stopper.is_alive(), "Emulator.stop() hangs when never started"


def test_keep_alive_connection_closed_by_stop():
    import socket
    from polycodec.hybrid.emulator import Emulator
    request = b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
    emu = Emulator().start()
    try:
        conn = socket.create_connection(("127.0.0.1", emu.port), timeout=5)
        conn.sendall(request)
        first = b""
        while b'"ok"}' not in first:               # the whole first response
            chunk = conn.recv(65536)
            assert chunk, first
            first += chunk
        assert first.startswith(b"HTTP/1.1 200")
    finally:
        emu.stop()
    with conn:
        try:
            conn.sendall(request)                  # the same keep-alive connection
            answer = conn.recv(65536)
        except OSError:                            # reset: closed, as wanted
            answer = b""
    assert answer == b"", "a handler answered after stop()"


# ---- 8. executor= transports: the client's own in-process, closed with the client -----------
class CountingTransport(httpx.HTTPTransport):
    def __init__(self):
        super().__init__()
        self.requests = 0

    def handle_request(self, request):
        self.requests += 1
        return super().handle_request(request)


def test_thread_executor_uses_the_callers_http_client(emu, svc):
    from polycodec.hybrid import transport as tr
    counting = CountingTransport()
    records = make_records(40)
    with httpx.Client(transport=counting) as http, \
            Hybrid.Client(base_url=emu.url, tenant=TENANT, token="open", http_client=http) as c, \
            ThreadPoolExecutor(2) as pool:
        before = len(tr._WORKER_TRANSPORTS)
        result = c.services.execute("bench/score", inputs=records, batch_size=10, executor=pool)
        assert result.ok and counting.requests == 4
        assert len(tr._WORKER_TRANSPORTS) == before       # no hidden pool was made


def test_worker_transports_closed_with_client(emu, svc):
    from polycodec.hybrid import transport as tr
    with Hybrid.Client(base_url=emu.url, tenant=TENANT, token="open") as c:
        made = tr.worker_transport(c.config)               # as a process worker would
        assert tr.worker_transport(c.config) is made
    assert made.http.is_closed
    assert all(k[1] != c.config.key() for k in tr._WORKER_TRANSPORTS)


def test_worker_transport_key_has_pool_size():
    from polycodec.hybrid.transport import Config
    a = Config(base_url="http://h/t", token="open", max_connections=2)
    b = Config(base_url="http://h/t", token="open", max_connections=32)
    assert a.key() != b.key()


def test_concurrency_beyond_pool_is_refused(emu, svc):
    with Hybrid.Client(base_url=emu.url, tenant=TENANT, token="open", max_connections=2) as c:
        with pytest.raises(Hybrid.HybridSdkError, match="max_connections"):
            c.services.execute("bench/score", inputs=make_records(10), batch_size=2,
                               concurrency=3)
        assert c.services.execute("bench/score", inputs=make_records(10), batch_size=2,
                                  concurrency=2).ok


# ---- 10. options a v4 body cannot carry; response_format with batching ----------------------
def test_downloadable_is_not_dropped_silently(client):
    with pytest.warns(UserWarning, match="downloadable"):
        client.services.execute("bench/score", inputs=make_records(2), downloadable=True)
    with pytest.raises(Hybrid.HybridSdkError, match="downloadable"):
        client.services.execute("bench/score", inputs=make_records(2), downloadable=True,
                                lost_options="raise")


def test_unset_values_do_not_warn(client):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = client.services.execute("bench/score", inputs=make_records(2), debug_solve=False,
                                       echo_inputs=False, downloadable=False).data
    assert len(data["outputs"]) == 2


def test_response_format_with_batching_is_refused(client):
    with pytest.raises(Hybrid.HybridSdkError, match="response_format"):
        client.services.execute("bench/score", inputs=make_records(4), batch_size=2,
                                response_format="original")
    assert client.services.execute("bench/score", inputs=make_records(4), batch_size=2,
                                   response_format="alike").ok
