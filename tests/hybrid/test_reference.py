"""The real cspark 0.3.3 client against the emulator, and polycodec's requests == cspark's."""
from __future__ import annotations

import email.parser
import email.policy
import io
import json
import re

import httpx
import pytest

import polycodec.hybrid as Hybrid
from polycodec.hybrid import tables
from polycodec.hybrid.emulator import services

from .conftest import TENANT, expected

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# headers whose value names the client, or is random per request: checked by format
VOLATILE = {"user-agent", "x-spark-ua", "x-request-id", "content-length", "content-type"}


def ordered(data: bytes):
    """JSON with key order kept (dicts become lists of pairs)."""
    return json.loads(data, object_pairs_hook=lambda pairs: ("obj", pairs))


def body_of(req):
    """The emulator records bodies after Content-Encoding was undone (and so checked)."""
    return req["body"]


def multipart_parts(req):
    ctype = dict((k.lower(), v) for k, v in req["headers"])["content-type"]
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + req["body"])
    return [(p.get_param("name", header="content-disposition"), p.get_filename(),
             p.get_content_type(), p.get_payload(decode=True)) for p in msg.iter_parts()]


def assert_same_request(ours, ref):
    assert ours["method"] == ref["method"]
    assert ours["path"] == ref["path"]
    h_ours = {k.lower(): v for k, v in ours["headers"]}
    h_ref = {k.lower(): v for k, v in ref["headers"]}
    assert set(h_ours) == set(h_ref)
    for name in set(h_ref) - VOLATILE:
        assert h_ours[name] == h_ref[name], name
    assert UUID.match(h_ours["x-request-id"]) and UUID.match(h_ref["x-request-id"])
    assert re.match(r"^agent=[\w.-]+/[\w.+-]+; env=Python/\d+\.\d+\.\d+$", h_ours["x-spark-ua"])
    if h_ref.get("content-type", "").startswith("multipart/"):
        assert multipart_parts(ours) == multipart_parts(ref)
    else:
        assert h_ours.get("content-type") == h_ref.get("content-type")
        if ref["body"]:
            assert ordered(body_of(ours)) == ordered(body_of(ref))
        else:
            assert ours["body"] == ref["body"]


def _both(emu, call, cspark_wasm):
    """Run call(module_client) with cspark then polycodec; return both recorded requests."""
    emu.requests.clear()
    ref_client = cspark_wasm.Client(base_url=emu.url, tenant=TENANT, token="open")
    try:
        call(ref_client)
    finally:
        ref_client.close()
    ref = list(emu.requests)
    emu.requests.clear()
    with Hybrid.Client(base_url=emu.url, tenant=TENANT, token="open") as ours_client:
        call(ours_client)
    ours = list(emu.requests)
    assert len(ref) == len(ours) >= 1
    return ours, ref


RECORDS = [{"x0": 1, "x1": 2.5, "x2": -3, "x3": 1e300}, {"x0": 0, "x1": 0.1, "x2": 7, "x3": 2}]
TABLE = [["x0", "x1", "x2", "x3"], [1, 2, 3, 4], [5, 6.5, 7, 8]]
# built once: a zip stores its members' times (2 s resolution), so packages built for each
# client separately could differ when the two calls straddle a tick
PKG_F2 = services.make_zip(services.numeric_definition(2, folder="f2"))
PKG_F3 = services.make_zip(services.numeric_definition(2, folder="f3"))

CALLS = {
    "v3 folder/service": lambda c, s: c.services.execute("bench/score", inputs=RECORDS[0]),
    "v3 version in uri": lambda c, s: c.services.execute("bench/score[1.0.0]", inputs=RECORDS[0]),
    "v3 version_id": lambda c, s: c.services.execute(f"version/{s.version_id}",
                                                     inputs={"x0": 1}),
    "v3 service_id": lambda c, s: c.services.execute(f"service/{s.service_id}",
                                                     inputs={"x0": "a\u00e9\u4e2d"}),
    "v3 json string": lambda c, s: c.services.execute("bench/score", inputs='{"x0": 3}'),
    "v3 no inputs": lambda c, s: c.services.execute("bench/score"),
    "v3 every option": lambda c, s: c.services.execute(
        "bench/score", inputs={"x0": 1}, active_since="2024-01-01", source_system="me",
        correlation_id="c-1", call_purpose="test", compiler_type="type3",
        subservices=["a", "b"], debug_solve=True, echo_inputs=True,
        tables_as_array=["t1", "t2"], selected_outputs=["total"], outputs_filter="tot.*"),
    "v4 records": lambda c, s: c.services.execute("bench/score", inputs=RECORDS),
    "v4 table": lambda c, s: c.services.execute("bench/score[1.0.0]", inputs=TABLE),
    "v4 options": lambda c, s: c.services.execute(
        f"service/{s.service_id}", inputs=RECORDS, active_since="2024-01-01",
        source_system="me", correlation_id="c-2", call_purpose="p", subservices="x,y",
        selected_outputs=["total", "weighted"]),
    "v4 version_id": lambda c, s: c.services.execute(f"version/{s.version_id}", inputs=RECORDS),
    "v3 gzip": lambda c, s: c.services.execute("bench/score", inputs=RECORDS[0], encoding="gzip"),
    "v4 deflate": lambda c, s: c.services.execute("bench/score", inputs=RECORDS,
                                                  encoding="deflate"),
    "validate": lambda c, s: c.services.validate(f"version/{s.version_id}", inputs={"x0": 1},
                                                 validation_type="dynamic"),
    "validate kwargs": lambda c, s: c.services.validate(None, service_id=s.service_id,
                                                        metadata={"extra": 1}),
    "metadata": lambda c, s: c.services.get_metadata(f"service/{s.service_id}",
                                                     inputs={"x0": 2}),
    "upload": lambda c, s: c.services.upload(io.BytesIO(PKG_F2), "pkg.zip"),
    "upload default name": lambda c, s: c.services.upload(io.BytesIO(PKG_F3)),
    "health": lambda c, s: c.health.check(),
    "version": lambda c, s: c.version.get(),
    "status": lambda c, s: c.status.get(),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_requests_equal_reference(name, emu, svc, cspark_wasm):
    ours, ref = _both(emu, lambda c: CALLS[name](c, svc), cspark_wasm)
    for a, b in zip(ours, ref):
        assert_same_request(a, b)


def test_static_forms_equal_reference(emu, svc, cspark_wasm):
    for fn in ("health_check", "get_version", "get_status"):
        emu.requests.clear()
        ref_data = getattr(cspark_wasm.Client, fn)(emu.url).data
        ref = list(emu.requests)
        emu.requests.clear()
        ours_data = getattr(Hybrid.Client, fn)(emu.url).data
        assert_same_request(emu.requests[0], ref[0])
        assert ours_data.keys() == ref_data.keys()


def test_cspark_client_works_against_emulator(emu, svc, cspark_wasm):
    hybrid = cspark_wasm.Client(base_url=emu.url, tenant=TENANT, token="open")
    try:
        assert cspark_wasm.Client.health_check(emu.url).data == {"msg": "ok"}
        assert set(cspark_wasm.Client.get_version(emu.url).data) == {"lastPullDate", "filehash",
                                                                      "version"}
        assert cspark_wasm.Client.get_status(emu.url).status == 200
        up = hybrid.services.upload(io.BytesIO(services.make_zip(
            services.numeric_definition(2, folder="up", service="two"))), "two.zip").data
        entry = up["response_data"][0]
        assert entry["tenant"] == TENANT
        info = entry["services"][0]
        assert info["EngineInformation"]["ProductName"] == "up"
        assert [x["Input Name"] for x in info["XInputTable"]] == ["x0", "x1"]
        one = hybrid.services.execute("up/two", inputs={"x0": 2, "x1": 3}).data
        assert one["outputs"] == [{"total": 5, "weighted": 8}]
        assert one["version_id"] == info["VersionId"]
        many = hybrid.services.execute(f"version/{svc.version_id}", inputs=RECORDS).data
        assert many["outputs"] == [expected(r) for r in RECORDS]
        table = hybrid.services.execute("bench/score", inputs=TABLE).data
        assert table["outputs"] == [expected(dict(zip(TABLE[0], r))) for r in TABLE[1:]]
        gz = hybrid.services.execute("bench/score", inputs=RECORDS, encoding="gzip").data
        assert gz["outputs"] == many["outputs"]
        val = hybrid.services.validate(f"service/{svc.service_id}").data
        assert set(val["response_data"]["outputs"]) == {"x0", "x1", "x2", "x3"}
        meta = hybrid.services.get_metadata(f"version/{svc.version_id}").data
        assert meta["response_data"]["outputs"]["Metadata.Inputs"] == ["x0", "x1", "x2", "x3"]
    finally:
        hybrid.close()


def test_alike_reshaping_equals_reference(cspark_wasm):
    """Same canned runner answers through both clients -> same .data, for each format."""
    v3 = {"status": "Success",
          "response_data": {"outputs": {"a": 1}, "warnings": ["w"], "errors": [],
                            "service_chain": ["sc"]},
          "response_meta": {"service_id": "s", "version_id": "v", "version": "1.2.3",
                            "process_time": 4, "call_id": "c", "compiler_version": "n",
                            "correlation_id": None, "request_timestamp": "t",
                            "service_chain": ["meta-sc"], "extra": 1},
          "error": None}
    v4 = {"outputs": [{"a": 1}, {"a": 2}], "process_time": [1, 2], "errors": [[], []]}

    def handler(request):
        body = v4 if "/api/v4/" in request.url.path else v3
        return httpx.Response(200, json=body)

    for fmt in (None, "alike", "original"):
        for inputs in ({"a": 1}, [{"a": 1}, {"a": 2}]):
            ref = cspark_wasm.Client(base_url="http://runner/t", token="open",
                                     http_client=httpx.Client(transport=httpx.MockTransport(handler)))
            ours = Hybrid.Client(base_url="http://runner/t", token="open",
                                 http_client=httpx.Client(transport=httpx.MockTransport(handler)))
            kw = {"inputs": inputs, "response_format": fmt}
            a = ours.services.execute("f/s", **kw)
            b = ref.services.execute("f/s", **kw)
            assert json.dumps(a.data) == json.dumps(b.data)      # same keys, order and values
            assert a.status == b.status and a.buffer == b.buffer


def test_reference_defaults_match_tables(cspark_wasm):
    from cspark.sdk import _constants as c
    assert tables.DEFAULT_TIMEOUT_MS == c.DEFAULT_TIMEOUT_IN_MS
    assert tables.DEFAULT_MAX_RETRIES == c.DEFAULT_MAX_RETRIES
    assert tables.DEFAULT_RETRY_INTERVAL == c.DEFAULT_RETRY_INTERVAL
    assert tables.RETRY_RANDOMIZATION == c.RETRY_RANDOMIZATION_FACTOR
    assert tables.SOURCE_SYSTEM == c.SPARK_SDK
    assert tables.DEFAULT_RUNNER_URL == cspark_wasm.DEFAULT_RUNNER_URL


MIXED_TENANT = "My-Tenant"


def test_mixed_case_tenant_equals_reference(emu, cspark_wasm):
    """A base URL plus a separate tenant: cspark keeps the tenant as written (it lowercases
    only when no base URL is given). Both clients' recorded requests must be the same."""
    emu.upload_zip(MIXED_TENANT, services.make_zip(services.numeric_definition(4)))
    recorded = []
    for make in (lambda: cspark_wasm.Client(base_url=emu.url, tenant=MIXED_TENANT, token="open"),
                 lambda: Hybrid.Client(base_url=emu.url, tenant=MIXED_TENANT, token="open")):
        emu.requests.clear()
        client = make()
        try:
            client.services.execute("bench/score", inputs=RECORDS[0])
            client.services.execute("bench/score", inputs=RECORDS)
        finally:
            client.close()
        recorded.append(list(emu.requests))
    ref, ours = recorded
    assert len(ref) == len(ours) == 2
    assert ref[0]["path"].startswith(f"/{MIXED_TENANT}/")
    for a, b in zip(ours, ref):
        assert_same_request(a, b)


def test_static_form_keeps_url_path_like_reference(emu, cspark_wasm):
    """Client.health_check("http://h/t"): the reference keeps the path (GET /t/healthcheck)."""
    emu.requests.clear()
    try:
        cspark_wasm.Client.health_check(emu.url + "/t")
    except Exception:                      # the emulator has no /t/healthcheck route: 404
        pass
    ref = list(emu.requests)
    emu.requests.clear()
    with pytest.raises(Hybrid.HybridApiError):
        Hybrid.Client.health_check(emu.url + "/t", max_retries=0)
    assert len(ref) == 1 and ref[0]["path"] == "/t/healthcheck"
    assert_same_request(emu.requests[0], ref[0])
