"""The local pyrun backend end to end, through BackendClient and through raw HTTP."""
from __future__ import annotations

import re
import socket
import time
import uuid

import httpx
import numpy as np
import orjson
import pytest

from polycodec.backends import BackendClient, RunCell
from polycodec.backends.pyrun import PyrunServer
from polycodec.backends.spec import (CELL_BANNER, DEFAULT_PARTITION, PARTITION_HEADER,
                                     PYRUN_DEFAULTS, ROUTES, VALUE_MAX_DEPTH)

from .conftest import CELL_TIMEOUT, MAX_BODY, MAX_OUTPUT, CliServer, pid_alive, wait_dead

pytestmark = pytest.mark.slow
NAME, VERSION = PYRUN_DEFAULTS["name"], PYRUN_DEFAULTS["version"]


def run(client, code, captured_in=None, captured_out=(), cell_id="c"):
    return client.run_cell(RunCell(cell_id, code, dict(captured_in or {}), list(captured_out)))


# --- the spec's behaviour ---------------------------------------------------------------------
def test_spec_example(client):
    r = run(client, "x = a*2\nprint('hi', x)", {"a": 21}, ["x"], cell_id="c1")
    assert (r.output, r.error, r.captured_out) == ("Execute cell c1\nhi 42\n", "", {"x": 42})


def test_scope_persists_within_a_partition(client):
    run(client, "import math\ntotal = 1", cell_id="a")
    r = run(client, "total += n\nroot = math.sqrt(total)", {"n": 8}, ["total", "root"])
    assert r.captured_out == {"total": 9, "root": 3.0} and r.ok


def test_partitions_have_separate_scopes(pyrun, partition):
    a = BackendClient(pyrun.url, NAME, VERSION, partition + "-A")
    b = BackendClient(pyrun.url, NAME, VERSION, partition + "-B")
    with a, b:
        run(a, "secret = 'A'")
        run(b, "secret = 'B'")
        assert run(a, "", captured_out=["secret"]).captured_out == {"secret": "A"}
        assert run(b, "", captured_out=["secret"]).captured_out == {"secret": "B"}
        pids = [run(c, "import os; pid = os.getpid()", captured_out=["pid"]).captured_out["pid"]
                for c in (a, b)]
    assert pids[0] != pids[1]


def test_default_partition_is_the_headerless_one(pyrun):
    token = uuid.uuid4().hex
    with BackendClient(pyrun.url, NAME, VERSION) as c:
        assert c.partition == DEFAULT_PARTITION
        run(c, f"token = {token!r}")
    # a request without the header lands in the same (Default) partition
    body = {"cellId": "raw", "code": "", "capturedIn": {}, "capturedOut": ["token"]}
    r = httpx.post(pyrun.url + ROUTES["pyrun_run"][1], json=body)
    assert r.json()["capturedOut"] == {"token": token}


def test_streamed_run_keeps_the_partition(pyrun, partition):
    # the scope answers only if the streamed request reached the right partition
    with BackendClient(pyrun.url, NAME, VERSION, partition) as c:
        run(c, "flag = 'streamed'")
        body = RunCell("s", "", {}, ["flag"]).to_payload()
        with c.stream("/run", "POST", json=body) as resp:
            raw = b"".join(resp.iter_bytes(chunk_size=7))
    assert orjson.loads(raw)["capturedOut"] == {"flag": "streamed"}


async def test_async_client_end_to_end(pyrun, partition):
    async with BackendClient(pyrun.url, NAME, VERSION, partition) as c:
        r = await c.arun_cell(RunCell("c1", "x = a*2\nprint('hi', x)", {"a": 21}, ["x"]))
        assert r.output == "Execute cell c1\nhi 42\n" and r.captured_out == {"x": 42}
        body = RunCell("s", "", {}, ["x"]).to_payload()
        async with c.astream("/run", "POST", json=body) as resp:
            raw = b"".join([chunk async for chunk in resp.aiter_bytes()])
        assert orjson.loads(raw)["capturedOut"] == {"x": 42}
        assert (await c.afetch_text("/")) == "{}"


def test_undefined_captured_name_is_a_clear_error(client):
    r = run(client, "y = 1", captured_out=["y", "nope", ""], cell_id="k")
    assert r.captured_out == {"y": 1}
    assert "NameError: captured-out name 'nope' is not defined after cell k" in r.error


def test_numpy_in_and_out(client):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    r = run(client, "b = np.asarray(a) * 2\nimport numpy as np", {"a": a}, ["b"])
    assert "NameError" in r.error  # np is imported after use: the cell's own error...
    r = run(client, "import numpy as np\nb = np.asarray(a) * 2\nm = b.mean()", {"a": a},
            ["b", "m"])
    assert r.ok and r.captured_out == {"b": (a * 2).tolist(), "m": float((a * 2).mean())}


def test_values_without_json_form_are_reported(client):
    r = run(client, "import numpy as np\nf = len\nn = np.array([1.0, np.nan])\nok = 1",
            captured_out=["f", "n", "ok"])
    assert r.captured_out == {"ok": 1}
    assert "captured-out" in r.error and "builtin_function_or_method" in r.error
    assert "n[1]" in r.error and "nonfinite" in r.error


def test_cell_errors_and_stderr(client):
    r = run(client, "import sys\nprint('to err', file=sys.stderr)\nraise KeyError('k')",
            cell_id="e")
    assert r.output == CELL_BANNER.format(cell_id="e")
    assert r.error.startswith("to err\nTraceback") and "KeyError: 'k'" in r.error
    assert 'File "<cell e>", line 3' in r.error and "interpreter.py" not in r.error


def test_top_level_await(client):
    r = run(client, "import asyncio\nawait asyncio.sleep(0)\nv = 5", captured_out=["v"])
    assert r.ok and r.captured_out == {"v": 5}


def test_system_exit_and_stdin_do_not_break_the_interpreter(client):
    run(client, "keep = 1")
    r = run(client, "import sys\ndata = sys.stdin.read()\nsys.exit(3)", captured_out=["data"])
    assert "SystemExit: 3" in r.error and r.captured_out == {"data": ""}
    assert run(client, "", captured_out=["keep"]).captured_out == {"keep": 1}


def test_writes_to_fd1_do_not_corrupt_the_protocol(client):
    r = run(client, "import os\nos.write(1, b'garbage' * 1000)\nz = 2", captured_out=["z"])
    assert r.ok and r.captured_out == {"z": 2}


def test_crashing_interpreter_is_reported_and_replaced(client):
    run(client, "before = 1")
    r = run(client, "import os\nos._exit(7)", cell_id="boom")
    assert "was lost" in r.error and "code 7" in r.error and "empty scope" in r.error
    r = run(client, "after = 2", captured_out=["after", "before"])
    assert r.captured_out == {"after": 2} and "'before' is not defined" in r.error


def test_output_is_capped(client):
    r = run(client, "print('x' * 100000)")
    assert len(r.output) < MAX_OUTPUT + 100 and "characters dropped" in r.output


def test_time_limit_really_stops_the_cell(client, tmp_path):
    beat = tmp_path / "beat"
    pid = run(client, "import os; pid = os.getpid()\nkept = 1",
              captured_out=["pid"]).captured_out["pid"]
    t0 = time.monotonic()
    code = (f"import time, pathlib\np = pathlib.Path({str(beat)!r})\n"
            "for i in range(10**6):\n    p.write_text(str(i))\n    time.sleep(0.02)\n")
    r = run(client, code, cell_id="slow")
    elapsed = time.monotonic() - t0
    assert CELL_TIMEOUT <= elapsed < CELL_TIMEOUT + 5
    assert "TimeoutError: cell slow ran past" in r.error and "empty scope" in r.error
    last = beat.read_text()
    time.sleep(0.3)
    assert beat.read_text() == last, "the cell kept running after its time limit"
    assert not pid_alive(pid)
    # the partition works again, from an empty scope
    r = run(client, "fresh = 1", captured_out=["fresh", "kept"])
    assert r.captured_out == {"fresh": 1} and "'kept' is not defined" in r.error


def test_time_limit_stops_the_cells_child_processes(client):
    code = ("import subprocess, sys\n"
            "kid = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']).pid")
    kid = run(client, code, captured_out=["kid"]).captured_out["kid"]
    assert pid_alive(kid)
    assert "TimeoutError" in run(client, "while True: pass").error
    assert wait_dead(kid), "a child process of the cell outlived the cell's time limit"


def nested(depth):
    v = 0
    for _ in range(depth):
        v = [v]
    return v


def test_too_deep_captured_in_is_a_4xx_and_the_scope_survives(pyrun, partition):
    with BackendClient(pyrun.url, NAME, VERSION, partition) as c:
        pid = run(c, "import os; pid = os.getpid()", captured_out=["pid"]).captured_out["pid"]
        for depth in (VALUE_MAX_DEPTH + 1, 300):
            # written by hand: orjson itself cannot write a body this deep
            body = (b'{"cellId": "d", "code": "", "capturedOut": [], "capturedIn": '
                    b'{"deep": ' + b"[" * depth + b"0" + b"]" * depth + b"}}")
            r = httpx.post(pyrun.url + "/run", content=body,
                           headers={PARTITION_HEADER: partition})
            assert r.status_code == 422, r.text
            assert r.json()["problems"][0]["path"] == "$.capturedIn['deep']"
        ok = run(c, "d = len(deep)", {"deep": nested(VALUE_MAX_DEPTH)}, ["pid", "deep"])
        assert ok.ok and ok.captured_out == {"pid": pid, "deep": nested(VALUE_MAX_DEPTH)}


def test_values_without_utf8_or_json_form_do_not_kill_the_interpreter(client):
    pid = run(client, "import os; pid = os.getpid()", captured_out=["pid"]).captured_out["pid"]
    code = ("import sys\nprint('a\\ud800b')\nprint('e\\udfff', file=sys.stderr)\n"
            "s = '\\ud800'\nv = 0\nfor _ in range(256): v = [v]\n"
            "w = 0\nfor _ in range(255): w = [w]\nok = 1")
    r = run(client, code, captured_out=["s", "v", "w", "ok", "pid"], cell_id="u")
    assert r.captured_out == {"ok": 1, "pid": pid}
    assert "a\ufffdb" in r.output and "e\ufffd" in r.error
    assert "UnicodeEncodeError: the output of cell u" in r.error
    assert "UnicodeEncodeError: the error output of cell u" in r.error
    assert "captured-out 's' has no JSON form" in r.error
    for name in "vw":
        assert re.search(rf"captured-out 1 problem\(s\): {name}(\[0\])+: nesting is deeper", r.error)


def test_other_partitions_survive_a_timeout(pyrun, partition):
    a = BackendClient(pyrun.url, NAME, VERSION, partition + "-A")
    b = BackendClient(pyrun.url, NAME, VERSION, partition + "-B")
    with a, b:
        run(b, "mine = 'b'")
        assert "TimeoutError" in run(a, "while True: pass").error
        assert run(b, "", captured_out=["mine"]).captured_out == {"mine": "b"}


def test_routes_under_the_backend_prefix_and_bare(pyrun, partition):
    with BackendClient(pyrun.url, NAME, VERSION, partition) as c:
        run(c, "v = 3")
    body = {"cellId": "r", "code": "", "capturedIn": {}, "capturedOut": ["v"]}
    bare = httpx.post(pyrun.url + "/run", json=body, headers={PARTITION_HEADER: partition})
    assert bare.json()["capturedOut"] == {"v": 3}
    assert httpx.get(pyrun.url + "/").status_code == 200
    assert httpx.get(pyrun.url + f"/backends/{NAME}/{VERSION}/").status_code == 200


# --- bad input: 4xx with a message, never a 5xx or a dead server ------------------------------
def post(pyrun, content, headers=None, path="/run"):
    return httpx.post(pyrun.url + path, content=content,
                      headers={"content-type": "application/json", **(headers or {})})


@pytest.mark.parametrize("content,status,words", [
    (b"{not json", 400, "malformed JSON"),
    (b"", 400, "malformed JSON"),
    (b"\xff\xfe", 400, "malformed JSON"),
    (b"[1, 2]", 422, "JSON object"),
    (b'{"cellId": "c"}', 422, "required field is missing"),
    (b'{"cellId": 1, "code": [], "capturedIn": 2, "capturedOut": {}}', 422, "must be"),
    (b'{"cellId": "c", "code": "", "capturedIn": {}, "capturedOut": [], "x": 1}', 422,
     "unknown field"),
    (b'{"cellId": "c", "code": "", "capturedIn": {"a b": 1}, "capturedOut": []}', 422,
     "identifier"),
])
def test_bad_bodies(pyrun, content, status, words):
    r = post(pyrun, content)
    assert r.status_code == status and words in r.json()["detail"]
    if status == 422:
        assert r.json()["problems"]
    assert httpx.get(pyrun.url + "/").status_code == 200


def test_oversized_body(pyrun):
    r = post(pyrun, b" " * (MAX_BODY + 1))
    assert r.status_code == 413 and str(MAX_BODY) in r.json()["detail"]
    assert httpx.get(pyrun.url + "/").status_code == 200


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/run", 405), ("PUT", "/run", 405), ("PATCH", "/", 405), ("GET", "/nope", 404),
    ("GET", "/backends/other/1.0.0/run", 404), ("POST", f"/backends/{NAME}/9.9.9/run", 404),
    ("BREW", "/run", 405),
])
def test_routes_and_methods(pyrun, method, path, status):
    r = httpx.request(method, pyrun.url + path)
    assert r.status_code == status and r.json()["detail"]


def raw_http(pyrun, request: bytes) -> bytes:
    host, port = pyrun.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("request_bytes,status", [
    (b"POST /run HTTP/1.1\r\nHost: x\r\n\r\n", b"411"),
    (b"POST /run HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
     b"411"),
    (b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", b"400"),
    (b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"cellId\"", b"400"),
    (b"POST /run HTTP/1.1\r\nHost: x\r\nx-backends-partition: a\x01b\r\n"
     b"Content-Length: 2\r\n\r\n{}", b"400"),
    (b"GARBAGE\r\n\r\n", b"400"),
    # headers are read as latin-1: b"\xb2" is '\u00b2', a digit to str.isdigit()
    (b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: \xb2\r\n\r\n{}", b"400"),
    (b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 1\xb9\r\n\r\n{}", b"400"),
    (b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}", b"400"),
    (b"OPTIONS /run HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
])
def test_malformed_http(pyrun, request_bytes, status):
    answer = raw_http(pyrun, request_bytes)
    assert answer.split(b" ")[1] == status, answer
    assert httpx.get(pyrun.url + "/").status_code == 200


def test_malformed_http_answers_are_json(pyrun):
    for request in (b"GARBAGE\r\n\r\n",
                    b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: \xb2\r\n\r\n"):
        head, _, body = raw_http(pyrun, request).partition(b"\r\n\r\n")
        assert b"application/json" in head and orjson.loads(body)["detail"]


def test_silent_client_is_timed_out():
    with PyrunServer(read_timeout=1) as srv:
        host, port = srv.server_address[:2]
        with socket.create_connection((host, port), timeout=10) as s:
            t0 = time.monotonic()
            s.sendall(b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
            answer = b""
            while chunk := s.recv(65536):  # the server closes after answering
                answer += chunk
        assert time.monotonic() - t0 < 8
        assert answer.split(b" ")[1] == b"408" and b"did not arrive" in answer
        assert httpx.get(srv.url + "/").status_code == 200


def test_partition_limit_and_drop():
    with PyrunServer(max_partitions=2) as srv:
        clients = [BackendClient(srv.url, NAME, VERSION, p) for p in ("p1", "p2", "p3")]
        run(clients[0], "a = 1")
        run(clients[1], "a = 2")
        r = clients[2].fetch("/run", "POST", json=RunCell("c", "", {}, []).to_payload())
        assert r.status_code == 429 and "--max-partitions" in r.json()["detail"]
        pid = srv.partitions.pids()["p1"]
        assert httpx.delete(srv.url + "/partitions/p1").json() == {"dropped": True}
        assert not pid_alive(pid)
        assert run(clients[2], "a = 3", captured_out=["a"]).captured_out == {"a": 3}
        assert httpx.delete(srv.url + "/partitions/p1").status_code == 404
        pids = list(srv.partitions.pids().values())
        for c in clients:
            c.close()
    assert pids and not any(pid_alive(p) for p in pids)


def test_cli_server_stops_its_interpreters():
    server = CliServer("--cell-timeout", "5")
    try:
        with BackendClient(server.url, NAME, VERSION, "x") as c:
            pid = run(c, "import os; pid = os.getpid()", captured_out=["pid"]).captured_out["pid"]
        assert pid_alive(pid)
    finally:
        server.stop()
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)
    assert server.proc.returncode == 0


def test_binds_localhost_by_default():
    assert PYRUN_DEFAULTS["host"] == "127.0.0.1"
    with PyrunServer() as srv:
        assert srv.server_address[0] == "127.0.0.1"
