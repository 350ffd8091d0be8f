"""A real Hypha server (session-scoped) and peers in their own processes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from polycodec.bench.hypha_server import LocalHyphaServer, find_python
from tests.conftest import missing

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def hypha_server():
    """`python -m hypha.server` from its own venv, on 127.0.0.1:<free port>, stopped after."""
    pytest.importorskip("hypha_rpc")
    if find_python() is None:
        missing("Hypha server environment (POLYCODEC_HYPHA_PYTHON / .ci/hypha-venv)")
    with LocalHyphaServer() as srv:
        yield srv


def peer_cmd(mode, role, url, *args):
    return [sys.executable, "-m", "tests.hypha.peer", mode, role, url, *args]


def peer_env():
    return dict(os.environ, PYTHONPATH=str(ROOT), HYPHA_LOGLEVEL="ERROR")


class Provider:
    """A provider peer process; `.service_id` once it printed READY."""

    def __init__(self, mode, url):
        self.proc = subprocess.Popen(peer_cmd(mode, "provide", url), cwd=ROOT, env=peer_env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "READY":
            self.stop()
            raise RuntimeError(f"provider did not start: {line}")
        self.service_id = line[1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def stock_provider(hypha_server):
    p = Provider("stock", hypha_server.url)
    yield p
    p.stop()


@pytest.fixture
def accel():
    """polycodec.hypha.accelerate() for one test, restored after."""
    import polycodec.hypha
    opts = polycodec.hypha.accelerate()
    yield opts
    polycodec.hypha.deaccelerate()
