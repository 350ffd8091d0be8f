"""The runner emulator: CLI, documented request validation, auth, control endpoints."""
from __future__ import annotations

import gzip
import io

import httpx
import pytest

import polycodec.hybrid as Hybrid
from polycodec.hybrid.emulator import services
from polycodec.hybrid.emulator import Emulator
from polycodec.hybrid.emulator.testing import spawn_emulator

from .conftest import TENANT


def post(emu, path, content, **headers):
    return httpx.post(emu.url + path, content=content,
                      headers={"Content-Type": "application/json", **headers})


@pytest.mark.parametrize("path, body, status, code", [
    ("/t/api/v4/execute", b"{not json", 400, "INVALID_JSON"),
    ("/t/api/v4/execute", b"[1, 2]", 400, "INVALID_BODY"),
    ("/t/api/v4/execute", b'{"inputs": {"x0": 1}, "service": "bench/score"}', 400,
     "INVALID_INPUTS"),
    ("/t/api/v4/execute", b'{"inputs": [["x0", "x1"], [1]], "service": "bench/score"}', 400,
     "INVALID_INPUTS"),
    ("/t/api/v4/execute", b'{"inputs": [{"x0": 1}, 3], "service": "bench/score"}', 400,
     "INVALID_INPUTS"),
    ("/t/api/v4/execute", b'{"inputs": [{"x0": 1}]}', 400, "MISSING_LOCATOR"),
    ("/t/api/v4/execute", b'{"inputs": [], "service": "bench/nope"}', 404, "NOT_FOUND"),
    ("/t/api/v3/folders/bench/services/score/execute", b'{"request_data": {"inputs": []}}',
     400, "INVALID_INPUTS"),
    ("/t/api/v3/validation", b'{"request_data": {}, "request_meta": {}}', 400,
     "MISSING_LOCATOR"),
    ("/t/api/v3/nowhere", b"{}", 404, "NOT_FOUND"),
])
def test_documented_request_errors(path, body, status, code):
    with Emulator() as emu:
        emu.upload_zip("t", services.make_zip(services.numeric_definition(2)))
        r = post(emu, path, body)
    assert r.status_code == status
    assert r.json()["error"]["code"] == code and r.json()["error"]["message"]


def test_limits_and_encodings():
    with Emulator(max_body=1000, max_records=3) as emu:
        emu.upload_zip("t", services.make_zip(services.numeric_definition(2)))
        assert post(emu, "/t/api/v4/execute", b" " * 2000).status_code == 413
        assert post(emu, "/t/api/v4/execute", b"{}", **{"Content-Encoding": "br"}
                    ).status_code == 415
        bomb = gzip.compress(b" " * 100_000)
        assert post(emu, "/t/api/v4/execute", bomb, **{"Content-Encoding": "gzip"}
                    ).status_code == 413
        many = b'{"service": "bench/score", "inputs": [{}, {}, {}, {}]}'
        assert post(emu, "/t/api/v4/execute", many).json()["error"]["code"] == "TOO_MANY_RECORDS"
        ok = gzip.compress(b'{"service": "bench/score", "inputs": [["x0"], [2]]}')
        r = post(emu, "/t/api/v4/execute", ok, **{"Content-Encoding": "gzip"})
        assert r.status_code == 200 and r.json()["outputs"] == [{"total": 2, "weighted": 2}]


def test_upload_validation():
    cases = [(b"not a zip", "not a zip"),
             (services.make_zip({"folder": "f"}), "non-empty string 'service'"),
             (services.make_zip({"folder": "f", "service": "s", "outputs": {"y": "x +"}}),
              "invalid expression"),
             (services.make_zip({"folder": "f", "service": "s", "inputs": ["1x"],
                                 "outputs": {"y": "1"}}), "identifier")]
    with Emulator() as emu, Hybrid.Client(base_url=emu.url, tenant=TENANT, token="open",
                                          max_retries=0) as c:
        for data, msg in cases:
            with pytest.raises(Hybrid.HybridApiError) as info:
                c.services.upload(io.BytesIO(data))
            assert info.value.status == 400 and msg in info.value.body["error"]["message"]


def test_uploaded_module_and_callable_services():
    module = "def risk(age, amount):\n    return round(amount * (1 + age / 100), 2)\n"
    defn = {"folder": "ins", "service": "quote", "version": "2.0",
            "inputs": [{"name": "age", "type": "integer", "min": 18, "max": 99, "required": True},
                       {"name": "amount", "type": "number", "default": 100}],
            "outputs": {"premium": "risk(age, amount)"}}
    with Emulator() as emu:
        emu.register(TENANT, "cb", "upper", lambda rec: {"up": rec["s"].upper()},
                     inputs=[{"name": "s", "type": "string"}])
        with Hybrid.Client(base_url=emu.url, tenant=TENANT, token="open") as c:
            c.services.upload(services.make_zip(defn, module))
            res = c.services.execute("ins/quote[2.0]", inputs=[{"age": 50}, {"age": 10},
                                                               {"amount": 5}]).data
            assert res["outputs"][0] == {"premium": 150.0}
            assert res["outputs"][1] is None and "below minimum" in res["errors"][1][0]["message"]
            assert res["errors"][2][0]["message"] == "required input is missing"
            assert c.services.execute("cb/upper", inputs={"s": "abc"}).data["outputs"] == [
                {"up": "ABC"}]


def test_auth_required_when_configured():
    with Emulator(token="secret") as emu:
        emu.upload_zip("t", services.make_zip(services.numeric_definition(1)))
        with Hybrid.Client(base_url=emu.url + "/t", token="wrong", max_retries=0) as bad:
            with pytest.raises(Hybrid.HybridApiError) as info:
                bad.services.execute("bench/score", inputs={})
        assert info.value.status == 401
        with Hybrid.Client(base_url=emu.url + "/t", token="secret") as good:
            assert good.services.execute("bench/score", inputs={"x0": 3}).data["outputs"] == [
                {"total": 3, "weighted": 3}]
        assert Hybrid.Client.health_check(emu.url).data == {"msg": "ok"}   # health stays open


def test_binds_loopback_by_default():
    with Emulator() as emu:
        assert emu.httpd.server_address[0] == "127.0.0.1"


def test_control_endpoints():
    with Emulator(record=5) as emu:
        r = httpx.post(emu.url + "/_emulator/faults", json={"latency": 0.01, "rate_500": 0.5})
        assert r.json()["rate_500"] == 0.5 and emu.faults.latency == 0.01
        assert httpx.post(emu.url + "/_emulator/faults", json={"rate_500": 2}).status_code == 400
        assert httpx.post(emu.url + "/_emulator/faults", json={"nope": 1}).status_code == 400
        httpx.get(emu.url + "/healthcheck")
        assert httpx.get(emu.url + "/_emulator/stats").json()["by_status"]["200"] >= 1
        assert any(r["path"] == "/healthcheck"
                   for r in httpx.get(emu.url + "/_emulator/requests").json())
        httpx.post(emu.url + "/_emulator/reset", content=b"{}")
        assert emu.faults.rate_500 == 0


@pytest.mark.slow
def test_cli_subprocess_with_demo_service_and_faults():
    with spawn_emulator("--demo", TENANT, "--rate-500", "0.3", "--seed", "1") as (url, proc, lines):
        assert url.startswith("http://127.0.0.1:")
        assert any("bench/score" in line for line in lines)
        with Hybrid.Client(base_url=url, tenant=TENANT, token="open", max_retries=10,
                           retry_interval=0.001) as c:
            assert c.health_check().data == {"msg": "ok"}
            result = c.services.execute("bench/score", inputs=[{"x0": i} for i in range(50)],
                                        batch_size=5, concurrency=3)
        assert result.ok and [o["total"] for o in result.outputs] == list(range(50))
        stats = httpx.get(url + "/_emulator/stats").json()
        assert stats["faults"].get("500", 0) > 0
    assert proc.poll() is not None                     # stopped, no leftover process


def test_public_fixture(hybrid_emulator):
    hybrid_emulator.register("t", "f", "s", outputs={"y": "x * 2"}, inputs=["x"])
    with Hybrid.Client(base_url=hybrid_emulator.url, tenant="t", token="open") as c:
        assert c.services.execute("f/s", inputs={"x": 21}).data["outputs"] == [{"y": 42}]
    assert hybrid_emulator.requests[-1]["path"] == "/t/api/v3/folders/f/services/s/execute"
