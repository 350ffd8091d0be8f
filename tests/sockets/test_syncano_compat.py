"""Equality with the payloads the real `syncano` 5.4.6 library sends, and interop with it.

The library is installed into a temp dir with `pip install --no-deps --target` (it only imports
on Python 3.11 without its 2015 pins) and run in a subprocess (syncano_driver.py) with its
metaclass patched while importing. POLYCODEC_SYNCANO_PATH may name a ready target dir.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from polycodec.sockets import (ClassDependency, CustomSocket, Endpoint, ScriptCall,
                               ScriptDependency, SocketsClient, spec, to_body, to_payload,
                               update_payload)
from polycodec.sockets.emulator.testing import API_KEY
from tests.conftest import missing

# syncano's real runtime imports (its setup.py pins 2015 versions that do not build on 3.11).
SYNCANO_PACKAGES = ["syncano==5.4.6", "six>=1.16", "validictory>=1.1", "python-slugify>=8",
                    "text-unidecode>=1.3", "requests>=2.31,<3", "urllib3>=2,<3", "idna>=3",
                    "certifi", "charset-normalizer>=3"]
DRIVER = Path(__file__).with_name("syncano_driver.py")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def syncano_path(tmp_path_factory):
    ready = os.environ.get("POLYCODEC_SYNCANO_PATH")
    if ready:
        return ready
    target = tmp_path_factory.mktemp("syncano")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
         "--target", str(target), *SYNCANO_PACKAGES],
        capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        missing(f"syncano 5.4.6 (pip install --target failed: {proc.stderr[-1500:]})")
    return str(target)


def drive(syncano_path, job):
    env = dict(os.environ, PYTHONPATH=syncano_path, SYNCANO_LOGLEVEL="ERROR")
    proc = subprocess.run([sys.executable, str(DRIVER)], input=json.dumps(job), env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


# Cases in a neutral form that both sides build with their own objects.
CASES = [
    {"name": "my_custom_socket",
     "endpoints": [{"name": "my_endpoint", "calls": [{"name": "script_one", "methods": ["GET", "POST"]}]}],
     "dependencies": [{"kind": "script", "name": "script_one", "runtime_name": "python_library_v5.0",
                       "source": "print(1)"}]},
    {"name": "every_runtime/x1",
     "endpoints": [{"name": f"e{i}", "calls": [{"name": f"s{i}", "methods": [m]}]}
                   for i, m in enumerate(spec.METHODS)]
     + [{"name": "any/where", "calls": [{"name": "s0", "methods": ["*"]}]}],
     "dependencies": [{"kind": "script", "name": f"s{i}", "runtime_name": rt,
                       "source": f"# ünïcødé ☃ \"quotes\" \\ {i}\nprint({i})"}
                      for i, rt in enumerate(spec.RUNTIME_NAMES)]
     + [{"kind": "class", "name": "books", "schema": [{"name": "title", "type": "string"},
                                                       {"name": "pages", "type": "integer"}]}]},
]


def ours(case):
    s = CustomSocket(name=case["name"])
    for ep in case["endpoints"]:
        e = Endpoint(ep["name"])
        for c in ep["calls"]:
            e.add_call(ScriptCall(name=c["name"]), methods=c["methods"])
        s.add_endpoint(e)
    for d in case["dependencies"]:
        if d["kind"] == "script":
            s.add_dependency(ScriptDependency(name=d["name"], runtime_name=d["runtime_name"],
                                              source=d["source"]))
        else:
            s.add_dependency(ClassDependency(d["name"], schema=d["schema"]))
    return s


SEED_RAW = {"name": "my_custom_socket_3",
            "endpoints": {"my_endpoint_3": {"calls": [{"type": "script", "name": "my_script_3",
                                                       "methods": ["POST"]}]}},
            "dependencies": [{"type": "script", "runtime_name": "python_library_v5.0",
                              "name": "my_script_3", "source": "print(3)"}]}
CANONICAL_RAW = {"name": "raw_full", "description": "plain, not encoded",
                 "endpoints": {"e": {"calls": [{"type": "script", "name": "s", "methods": ["*"]}]}},
                 "dependencies": [{"type": "script", "name": "s", "runtime_name": "nodejs",
                                   "source": "x"}],
                 "metadata": {"icon": "a", "n": [1, 2]}, "config": {"token": "t"}}


def test_bodies_equal_the_library(syncano_path):
    job = {"mode": "record", "api_key": "KEY",
           "cases": [dict(c, mode="objects") for c in CASES]
           + [{"mode": "raw", "raw": SEED_RAW}, {"mode": "raw", "raw": CANONICAL_RAW}]}
    recorded = drive(syncano_path, job)
    for case, sent in zip(CASES, recorded):
        create, update, recheck = sent
        socket = ours(case)
        assert (create["method"], create["url"]) == ("POST", "http://recorded.invalid" +
                                                     spec.ROUTES["sockets"].format(i="inst"))
        assert create["headers"]["Authorization"] == "token KEY"
        assert create["body"].encode() == to_body(socket)  # byte for byte
        assert update["method"] == "PATCH"
        assert update["url"].endswith(spec.ROUTES["socket"].format(i="inst", s=case["name"]))
        assert json.loads(update["body"]) == update_payload(socket)
        assert update["body"] == json.dumps(update_payload(socket))
        assert recheck["method"] == "POST" and recheck["body"] is None
    (seed,), (canonical,) = recorded[-2:]
    # the raw format keeps the caller's key order inside strings: compare decoded values
    lib = json.loads(seed["body"])
    mine = to_payload(CustomSocket(**SEED_RAW))
    assert lib.keys() == mine.keys() and lib["name"] == mine["name"]
    for key in ("endpoints", "dependencies"):
        assert isinstance(lib[key], str) and json.loads(lib[key]) == json.loads(mine[key])
    assert canonical["body"].encode() == to_body(CustomSocket(**CANONICAL_RAW))


def test_library_against_the_emulator(syncano_path, sockets_emulator, instance):
    case = {"name": "lib_made",
            "endpoints": [{"name": "echo", "calls": [{"name": "echo", "methods": ["POST"]}]},
                          {"name": "other", "calls": [{"name": "echo", "methods": ["GET"]}]}],
            "dependencies": [{"kind": "script", "name": "echo", "runtime_name": "python",
                              "source": "import json\nprint(json.dumps(ARGS))"}]}
    got = drive(syncano_path, {"mode": "live", "url": sockets_emulator, "api_key": API_KEY,
                               "instance": instance, "case": case})
    assert got["status"] == spec.STATUS_OK
    assert got["run"]["status"] == "success" and json.loads(got["run"]["result"]["stdout"]) == {"x": 1}
    assert list(got["after_update"]) == ["echo"]
    with SocketsClient(sockets_emulator, instance, api_key=API_KEY) as c:
        assert c.get("lib_made").endpoints_data == {"echo": ours(case).endpoints_data["echo"]}
        assert c.get("lib_made").dependencies_data == ours(case).dependencies_data
