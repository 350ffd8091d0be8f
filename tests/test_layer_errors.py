"""Layer errors that name the cause: the runner's own message, bad base URLs, no answer at all,
lower-case methods, missing optional packages, non-bool flags."""
from __future__ import annotations

import importlib
import socket
import sys

import httpx
import pytest

import polycodec.hybrid as Hybrid
from polycodec.backends import BackendClient, BackendHTTPError, PayloadError
from polycodec.errors import MissingDependency, PolycodecError
from polycodec.hybrid.results import BatchResult
from polycodec.hybrid.emulator.services import make_zip
from polycodec.hybrid.emulator import Emulator
from polycodec.hybrid.transport import runner_message
from polycodec.sockets import MethodNotAllowedError, SocketsClient, SocketsHTTPError

PACKAGE = {"folder": "f", "service": "s", "version": "1.0.0",
           "inputs": [{"name": "x", "type": "number"}], "outputs": {"y": "x * 2"}}


@pytest.fixture(scope="module")
def runner():
    with Emulator() as emu:
        yield emu


@pytest.fixture
def hybrid(runner):
    with Hybrid.Client(base_url=runner.url, tenant="t", token="open", max_retries=0) as c:
        yield c


def _closed_port():
    with socket.socket() as s:                 # bound then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_server():
    """Accepts connections (the backlog) and never answers: a read timeout."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()


# --- Hybrid: the runner's own message -----------------------------------------------------


def test_api_error_text_has_the_runners_message(hybrid):
    with pytest.raises(Hybrid.HybridApiError) as exc:
        hybrid.services.execute("nofolder/noservice", inputs={"x": 1})
    err = exc.value
    assert err.status == 404
    text = str(err)
    assert text.startswith("404 failed to fetch <")
    assert "NOT_FOUND: service not found in tenant" in text
    assert err.body["error"]["code"] == "NOT_FOUND"     # the body is still there in full


@pytest.mark.parametrize("body, said", [
    ({"error": {"code": "NOT_FOUND", "message": "no such"}}, "NOT_FOUND: no such"),
    ({"error": {"message": "only text"}}, "only text"),
    ({"error": "flat"}, "flat"),
    ({"message": "top"}, "top"),
    ({"detail": "why"}, "why"),
    ({"errors": [{"message": "first"}, {"message": "second"}]}, "first (+1 more)"),
    ("<html>  Bad\n gateway </html>", "<html> Bad gateway </html>"),
    ({"status": "Error"}, ""),
    (None, ""),
])
def test_runner_message_shapes(body, said):
    assert runner_message(body) == said


# --- Hybrid: upload takes a path ----------------------------------------------------------


def test_upload_a_path_works(hybrid, tmp_path):
    path = tmp_path / "mine.zip"
    path.write_bytes(make_zip(PACKAGE))
    for given in (str(path), path):
        up = hybrid.services.upload(given)
        assert up.data["status"] == "Success"
    assert hybrid.services.execute("f/s", inputs={"x": 21}).data["outputs"] == [{"y": 42}]


def test_upload_something_else_says_to_pass_an_open_file(hybrid):
    with pytest.raises(Hybrid.HybridSdkError, match=r"open file \(open\('package.zip', 'rb'\)\)"):
        hybrid.services.upload(12345)


def test_upload_a_missing_path_names_it(hybrid, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.zip"):
        hybrid.services.upload(str(tmp_path / "nope.zip"))


# --- sockets and backends: base URL and transport errors -----------------------------------


BAD_URLS = ["api.syncano.io", "ftp://host", "http://", "http:///path", "http://h:99999",
            "https://h/?q=1", None]


@pytest.mark.parametrize("url", BAD_URLS)
def test_sockets_client_validates_the_base_url(url):
    with pytest.raises(ValueError, match="host"):
        SocketsClient(url, "instance", api_key="k")


@pytest.mark.parametrize("url", BAD_URLS)
def test_backend_client_validates_the_base_url(url):
    with pytest.raises(PayloadError) as exc:
        BackendClient(url, "pyrun_backend", "0.1.0")
    assert [p.path for p in exc.value.problems] == ["base_url"]


def test_the_three_clients_agree_on_good_and_bad_urls():
    for url in BAD_URLS[:-1]:
        with pytest.raises(Hybrid.HybridSdkError):
            Hybrid.Client(base_url=url, tenant="t", token="open")
    for url in ("http://127.0.0.1:8080", "https://api.example.com/"):
        SocketsClient(url, "i", api_key="k").close()
        BackendClient(url, "pyrun_backend", "0.1.0").close()
        Hybrid.Client(base_url=url, tenant="t", token="open").close()


def test_sockets_connection_refused_is_a_sockets_error_with_the_url():
    url = f"http://127.0.0.1:{_closed_port()}"
    with SocketsClient(url, "inst", api_key="k") as c:
        with pytest.raises(SocketsHTTPError) as exc:
            c.get("mysocket")
    err = exc.value
    assert err.status is None and err.status_code is None
    assert err.url.startswith(url + "/") and "mysocket" in err.url
    assert "-> no response: ConnectError" in str(err)
    assert isinstance(err.__cause__, httpx.ConnectError)
    assert isinstance(err, PolycodecError)


def test_sockets_timeout_is_a_sockets_error(silent_server):
    with SocketsClient(silent_server, "inst", api_key="k", timeout=0.3) as c:
        with pytest.raises(SocketsHTTPError) as exc:
            c.list()
    assert exc.value.status is None and "ReadTimeout" in str(exc.value)
    assert silent_server in str(exc.value)


def test_backend_connection_refused_is_a_backend_error_with_the_url():
    base = f"http://127.0.0.1:{_closed_port()}"
    with BackendClient(base, "pyrun_backend", "0.1.0") as c:
        for call in (lambda: c.fetch("/"), lambda: c.fetch_json("/"),
                     lambda: c.stream("/").__enter__()):
            with pytest.raises(BackendHTTPError) as exc:
                call()
            assert exc.value.status is None
            assert exc.value.url == base + "/backends/pyrun_backend/0.1.0/"
            assert str(exc.value).startswith(f"no response from {base}/backends/")
            assert "ConnectError" in str(exc.value)


async def test_backend_async_timeout_is_a_backend_error(silent_server):
    async with BackendClient(silent_server, "pyrun_backend", "0.1.0", timeout=0.3) as c:
        with pytest.raises(BackendHTTPError) as exc:
            await c.afetch_json("/")
    assert exc.value.status is None and "ReadTimeout" in str(exc.value)


def test_an_http_error_status_is_still_reported_with_its_status():
    def answer(request):
        return httpx.Response(503, json={"detail": "busy"})
    with SocketsClient("http://h", "i", api_key="k", transport=httpx.MockTransport(answer)) as c:
        with pytest.raises(SocketsHTTPError) as exc:
            c.get("s")
    assert exc.value.status == 503 and exc.value.detail == "busy"


# --- sockets: methods are upper case ------------------------------------------------------


def test_run_with_a_lower_case_method_says_methods_are_upper_case():
    with SocketsClient("http://127.0.0.1:1", "i", api_key="k") as c:   # nothing is sent
        with pytest.raises(MethodNotAllowedError, match="methods are upper case: use 'POST'"):
            c.run("s", "e", "post", allowed_methods=["POST"])
        with pytest.raises(MethodNotAllowedError) as exc:
            c.run("s", "e", "FETCH", allowed_methods=["POST"])
        assert "upper case" not in str(exc.value)


# --- missing optional packages -------------------------------------------------------------


def test_accelerate_without_hypha_rpc_names_the_package(monkeypatch):
    acc = importlib.import_module("polycodec.hypha.accelerate")
    before = acc._options
    monkeypatch.setitem(sys.modules, "hypha_rpc", None)    # `import hypha_rpc` fails
    with pytest.raises(ImportError) as exc:
        acc.accelerate()
    assert isinstance(exc.value, MissingDependency)
    assert exc.value.package == "hypha-rpc" and exc.value.name == "hypha-rpc"
    assert 'pip install "hypha-rpc==0.21.47"' in str(exc.value)
    assert acc._options is before                          # nothing was patched


def test_to_pandas_without_pandas_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError) as exc:
        BatchResult().to_pandas()
    assert isinstance(exc.value, MissingDependency)
    assert 'pip install "polycodec[pandas]"' in str(exc.value)


def test_the_pandas_extra_exists():
    import tomllib
    from pathlib import Path
    extras = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())[
        "project"]["optional-dependencies"]
    assert any(d.startswith("pandas") for d in extras["pandas"])


# --- boolean options refuse non-bool values ------------------------------------------------


@pytest.mark.parametrize("value", [1, 0, "yes", "False", None])
def test_accelerate_bool_options(value):
    acc = importlib.import_module("polycodec.hypha.accelerate")
    before = acc._options
    for name in ("zero_copy", "force"):
        with pytest.raises(TypeError, match=f"{name} must be True or False"):
            acc.accelerate(**{name: value})
    assert acc._options is before


@pytest.mark.parametrize("value", [1, "yes", "False"])
def test_layer_client_bool_options(value, runner):
    with pytest.raises(Hybrid.HybridSdkError, match="pause_gc must be True or False"):
        Hybrid.Client(base_url=runner.url, tenant="t", token="open", pause_gc=value)
    with pytest.raises(TypeError, match="check must be True or False"):
        SocketsClient("http://h", "i", api_key="k", check=value)
    with Hybrid.Client(base_url=runner.url, tenant="t", token="open") as c:
        for option in ("echo_inputs", "debug_solve"):
            with pytest.raises(Hybrid.HybridSdkError, match=f"{option} must be True or False"):
                c.services.execute("f/s", inputs={"x": 1}, **{option: value})
        with pytest.raises(Hybrid.HybridSdkError, match="raise_on_error must be True or False"):
            c.services.execute("f/s", inputs=[{"x": 1}], batch_size=1, raise_on_error=value)


def test_bool_options_accept_bools(runner):
    runner.register("t", "f", "s", inputs=[{"name": "x", "type": "number"}],
                    outputs={"y": "x * 2"})
    with Hybrid.Client(base_url=runner.url, tenant="t", token="open", pause_gc=True) as c:
        assert c.services.execute("f/s", inputs={"x": 1}, echo_inputs=False).data["outputs"]
        assert c.services.execute("f/s", inputs=[{"x": 1}], batch_size=1,
                                  raise_on_error=True).ok
    SocketsClient("http://h", "i", api_key="k", check=False).close()
