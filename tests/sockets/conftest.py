"""Fixtures of the sockets tests: the emulator process and a client on a fresh instance."""
from __future__ import annotations

import uuid

import pytest

from polycodec.sockets import SocketsClient
from polycodec.sockets.emulator.testing import API_KEY, sockets_emulator  # noqa: F401  (fixture)


@pytest.fixture
def instance():
    return "inst-" + uuid.uuid4().hex[:10]


@pytest.fixture
def client(sockets_emulator, instance):  # noqa: F811
    with SocketsClient(sockets_emulator, instance, api_key=API_KEY) as c:
        yield c
