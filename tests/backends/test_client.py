"""BackendClient against a recording server: routes, the partition header on every request
(plain, streamed, sync, async), method rules, errors and the response size limit."""
from __future__ import annotations

import pytest

from polycodec.backends import BackendClient, BackendHTTPError, PayloadError, ResponseTooLarge
from polycodec.backends.spec import (ALLOWED_METHODS, DEFAULT_PARTITION, PARTITION_HEADER,
                                     route)

NAME, VERSION = "demo_yw_backend", "0.1.1"


def backend_path(path):
    return route("backend", name=NAME, version=VERSION, path=path)


def test_default_partition():
    c = BackendClient("http://127.0.0.1:1", NAME, VERSION)
    assert c.partition == DEFAULT_PARTITION == "Default"


@pytest.mark.parametrize("method", ALLOWED_METHODS)
def test_header_and_route_on_every_sync_call(recorder, method):
    with BackendClient(recorder.url, NAME, VERSION, "Foo") as c:
        assert c.fetch("/cow-say", method).status_code == 200
        assert c.fetch_json("cow-say", method)["partition"] == "Foo"
        assert '"Foo"' in c.fetch_text("/cow-say?x=1", method)
        with c.stream("/stream", method) as resp:
            lines = list(resp.iter_lines())
    assert lines == [f"line {i}" for i in range(5)]
    seen = recorder.seen
    assert [s[0] for s in seen] == [method] * 4
    assert [s[1] for s in seen] == [backend_path("cow-say")] * 2 + [
        backend_path("cow-say?x=1"), backend_path("stream")]
    assert all(s[2].get(PARTITION_HEADER) == "Foo" for s in seen)


@pytest.mark.parametrize("method", ALLOWED_METHODS)
async def test_header_on_every_async_call(recorder, method):
    async with BackendClient(recorder.url, NAME, VERSION, "Bar") as c:
        assert (await c.afetch("/a", method)).status_code == 200
        assert (await c.afetch_json("/a", method))["partition"] == "Bar"
        assert '"Bar"' in await c.afetch_text("/a", method)
        async with c.astream("/stream", method) as resp:
            lines = [line async for line in resp.aiter_lines()]
    assert lines == [f"line {i}" for i in range(5)]
    assert len(recorder.seen) == 4
    assert all(s[2].get(PARTITION_HEADER) == "Bar" for s in recorder.seen)


def test_json_body_is_sent_json_safe(recorder):
    import numpy as np

    with BackendClient(recorder.url, NAME, VERSION) as c:
        c.fetch("/x", "POST", json={"a": np.arange(3), "b": np.float32(1.5)})
        c.fetch("/x", "PUT", content=b"raw", headers={"X-Other": "1"})
    (_, _, h1, b1), (_, _, h2, b2) = recorder.seen
    assert b1 == b'{"a":[0,1,2],"b":1.5}' and h1["content-type"] == "application/json"
    assert b2 == b"raw" and h2["X-Other"] == "1" and h2[PARTITION_HEADER] == "Default"


def test_caller_header_cannot_switch_partition(recorder):
    with BackendClient(recorder.url, NAME, VERSION, "A") as c:
        with pytest.raises(ValueError, match="contradicts"):
            c.fetch("/x", headers={"X-Backends-Partition": "B"})
        c.fetch("/x", headers={"X-Backends-Partition": "A"})  # same value is fine
    assert len(recorder.seen) == 1


@pytest.mark.parametrize("method", ["PATCH", "HEAD", "OPTIONS", "TRACE", 3])
def test_methods_outside_the_table_are_refused(recorder, method):
    with BackendClient(recorder.url, NAME, VERSION) as c:
        with pytest.raises(ValueError, match="not forwarded"):
            c.fetch("/x", method)
    assert recorder.seen == []


@pytest.mark.parametrize("path", ["http://evil/x", "//evil/x", "/a/../../admin", 5])
def test_paths_stay_under_the_backend(path):
    c = BackendClient("http://127.0.0.1:1", NAME, VERSION)
    with pytest.raises(ValueError):
        c.url(path)


@pytest.mark.parametrize("kw,path", [
    ({"name": "a b"}, "name"), ({"version": "^0.1.1"}, "version"),
    ({"partition": "x\r\nInjected: 1"}, "partition"), ({"base_url": "ftp://x"}, "base_url")])
def test_constructor_rules(kw, path):
    args = {"base_url": "http://127.0.0.1:1", "name": NAME, "version": VERSION, **kw}
    with pytest.raises(PayloadError) as e:
        BackendClient(**args)
    assert [p for p, _ in e.value.problems] == [path]


async def test_http_errors_carry_status_and_detail(recorder):
    async with BackendClient(recorder.url, NAME, VERSION) as c:
        with pytest.raises(BackendHTTPError) as e:
            await c.afetch_json("/fail")
        assert e.value.status == 418 and e.value.message == "teapot says no"
        assert (await c.afetch("/fail")).status_code == 418  # fetch returns it as is
        with pytest.raises(BackendHTTPError):
            c.fetch_text("/fail")


def test_response_size_limit(recorder):
    recorder.big = b"x" * 5000
    with BackendClient(recorder.url, NAME, VERSION, max_response=4096) as c:
        with pytest.raises(ResponseTooLarge):
            c.fetch("/big")
    with BackendClient(recorder.url, NAME, VERSION, max_response=5000) as c:
        assert c.fetch("/big").content == recorder.big
