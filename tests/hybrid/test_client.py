"""Client configuration, URIs, options, errors: the reference's defects fixed."""
from __future__ import annotations

import asyncio
import warnings

import httpx
import pytest

import polycodec.hybrid as Hybrid
from polycodec.hybrid import HybridApiError, HybridSdkError, UriParams, tables

from .conftest import TENANT, expected


@pytest.mark.parametrize("kw", [
    {"timeout": 0}, {"timeout": -5}, {"timeout": float("nan")}, {"timeout": "60"},
    {"max_retries": -1}, {"max_retries": 1.5}, {"max_retries": True},
    {"retry_interval": -0.1}, {"retry_interval": float("inf")},
])
def test_invalid_timeouts_and_retries_are_refused(kw):
    with pytest.raises(HybridSdkError):
        Hybrid.Client(base_url="http://localhost:3000/t", token="open", **kw)


def test_config_defaults_tenant_and_auth(monkeypatch):
    monkeypatch.delenv(tables.ENV_RUNNER_URL, raising=False)
    monkeypatch.delenv(tables.ENV_BEARER_TOKEN, raising=False)
    monkeypatch.delenv(tables.ENV_API_KEY, raising=False)
    c = Hybrid.Client(tenant=" My-Tenant ", token="open", max_retries=0)
    assert c.config.base_url == tables.DEFAULT_RUNNER_URL and c.config.tenant == "my-tenant"
    assert c.config.max_retries == 0                      # retries can be turned off
    assert c.config.timeout == tables.DEFAULT_TIMEOUT_MS and c.config.auth_headers == {}
    c = Hybrid.Client(base_url="http://h:1/from-url/extra", tenant="ignored", token="Bearer abc")
    assert c.config.full == "http://h:1/from-url"
    assert c.config.auth_headers == {"Authorization": "Bearer abc"}
    assert Hybrid.Client(base_url="http://h/t", api_key="k").config.auth_headers == {
        "x-synthetic-key": "k"}
    monkeypatch.setenv(tables.ENV_RUNNER_URL, "http://env-host:9")
    assert Hybrid.Client(tenant="t", token="open").config.base_url == "http://env-host:9"
    with pytest.raises(HybridSdkError, match="tenant name is required"):
        Hybrid.Client(base_url="http://h:1", token="open")
    with pytest.raises(HybridSdkError, match="authentication is required"):
        Hybrid.Client(base_url="http://h:1/t")


@pytest.mark.parametrize("text", [
    "f/s[1.2]", "/folders/f/services/s/", "version/abc", "service/xyz", "proxy/my/endpoint",
    "proxy/ep", "f//s[]", "f/s[ ]", "just-one", "", "a/b/c", "folders/f/services/s[0.1.0]"])
def test_uri_decoding_equals_reference(text, cspark_wasm):
    from cspark.sdk import Uri
    from polycodec.hybrid.uri import decode, to_params
    ref = Uri.decode(text)
    assert decode(text) == to_params(ref)
    assert decode(text).encode() == ref.encode()


def test_execute_single_and_many(client, svc):
    one = client.services.execute("bench/score", inputs={"x0": 1, "x1": 2})
    assert one.data["outputs"] == [expected({"x0": 1, "x1": 2})]
    assert one.data["version_id"] == svc.version_id
    original = client.services.execute("bench/score", inputs={"x0": 1}, response_format="original")
    assert original.data["response_data"]["outputs"] == expected({"x0": 1})
    recs = [{"x0": i, "x3": 0.5} for i in range(5)]
    many = client.services.execute(f"service/{svc.service_id}", inputs=recs)
    assert many.data["outputs"] == [expected(r) for r in recs]
    assert client.services.execute("bench/score", inputs=recs, encoding="gzip").data[
        "outputs"] == many.data["outputs"]
    filtered = client.services.execute("bench/score", inputs={"x0": 1},
                                       selected_outputs=["total"], echo_inputs=True,
                                       response_format="original").data
    assert filtered["response_data"]["outputs"] == {"total": 1}
    assert filtered["response_data"]["inputs"] == {"x0": 1}


def test_instance_health_uses_the_clients_runner(client, emu):
    assert client.health_check().data == {"msg": "ok"}
    assert client.get_version().data["version"]
    assert client.get_status().data["services"] == 1
    assert emu.requests[-1]["path"] == "/status"


def test_options_a_v4_call_cannot_carry_warn_or_raise(client):
    recs = [{"x0": 1}]
    with pytest.warns(UserWarning, match=r"\['tables_as_array', 'outputs_filter'\]"):
        client.services.execute("bench/score", inputs=recs, tables_as_array="t",
                                outputs_filter="x")
    with pytest.raises(HybridSdkError, match="debug_solve"):
        client.services.execute("bench/score", inputs=recs, debug_solve=True,
                                lost_options="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client.services.execute("bench/score", inputs=recs, echo_inputs=False)  # the default
        client.services.execute("bench/score", inputs=recs, debug_solve=True,
                                lost_options="ignore")
    with Hybrid.Client(base_url=client.config.full, token="open",
                       lost_options="raise") as strict:
        with pytest.raises(HybridSdkError):
            strict.services.execute("bench/score", inputs=recs, compiler_type="type1")


def test_bad_arguments_are_typed_errors(client):
    with pytest.raises(HybridSdkError, match="folder name is missing"):
        client.services.execute(UriParams(service="s"), inputs={})
    with pytest.raises(HybridSdkError, match="proxy URI cannot carry many inputs"):
        client.services.execute("proxy/ep", inputs=[{"a": 1}])
    with pytest.raises(HybridSdkError, match="not supported"):
        client.services.execute("bench/score", inputs={}, encoding="br")
    with pytest.raises(HybridSdkError, match="compiler_type"):
        client.services.execute("bench/score", inputs={}, compiler_type="excel")
    with pytest.raises(HybridSdkError, match="unknown execute option"):
        client.services.execute("bench/score", inputs={}, selected_output="x")
    with pytest.raises(HybridSdkError, match="not valid JSON"):
        client.services.execute("bench/score", inputs="{nope")


def test_api_errors_carry_status_and_body(client, emu):
    with pytest.raises(HybridApiError) as info:
        client.services.execute("bench/missing", inputs={})
    err = info.value
    assert err.status == 404 and err.body["error"]["code"] == "NOT_FOUND"
    assert err.request_id and err.attempts == 1                      # 404 is not retried


def test_retries_off_and_on(emu, svc):
    emu.set_faults(rate_500=1.0)
    with Hybrid.Client(base_url=emu.url, tenant=TENANT, token="open", max_retries=0) as off:
        with pytest.raises(HybridApiError) as info:
            off.services.execute("bench/score", inputs={})
    assert info.value.status == 500 and info.value.attempts == 1
    with Hybrid.Client(base_url=emu.url, tenant=TENANT, token="open", max_retries=3,
                       retry_interval=0.001) as on:
        with pytest.raises(HybridApiError) as info:
            on.services.execute("bench/score", inputs={})
    assert info.value.attempts == 4
    assert emu.stats["by_status"]["500"] == 5


def test_connection_refused_is_an_api_error_without_status():
    with Hybrid.Client(base_url="http://127.0.0.1:9/t", token="open", max_retries=1,
                       retry_interval=0.001) as c:
        with pytest.raises(HybridApiError) as info:
            c.services.execute("f/s", inputs={})
    assert info.value.status is None and info.value.attempts == 2


def test_async_client(emu, svc):
    async def main():
        async with Hybrid.AsyncClient(base_url=emu.url, tenant=TENANT, token="open") as c:
            assert (await c.health_check()).data == {"msg": "ok"}
            assert (await Hybrid.AsyncClient.get_version(emu.url)).data["version"]
            one = await c.services.execute("bench/score", inputs={"x0": 4})
            many = await c.services.execute("bench/score", inputs=[{"x0": 1}, {"x1": 1}])
            val = await c.services.validate(f"version/{svc.version_id}")
            return one.data, many.data, val.data
    one, many, val = asyncio.run(main())
    assert one["outputs"] == [expected({"x0": 4})]
    assert many["outputs"] == [expected({"x0": 1}), expected({"x1": 1})]
    assert val["status"] == "Success"


def test_user_http_client_is_used_and_not_closed():
    seen = []

    def handler(request):
        seen.append(request.url.path)
        return httpx.Response(200, json={"msg": "ok"})
    http = httpx.Client(transport=httpx.MockTransport(handler))
    c = Hybrid.Client(base_url="http://x/t", token="open", http_client=http)
    c.health.check()
    c.close()
    assert seen == ["/healthcheck"] and not http.is_closed
