"""The accelerated RPC drops a None event handler: hypha-rpc 0.21.47 registers its
client_disconnected handler after a subscribe that can outlive close(), and then registers the
None that close() left (its own suite's test_repeated_connections_no_growth sees it)."""
from __future__ import annotations

import pytest

hrpc = pytest.importorskip("hypha_rpc.rpc")

from polycodec.hypha import accelerated  # noqa: E402


def test_none_handler_is_dropped_and_real_ones_kept():
    with accelerated():
        rpc = hrpc.RPC(None, client_id="x", silent=True)
        rpc.on("client_disconnected", None)
        assert "client_disconnected" not in rpc._event_handlers

        def handler(event):
            return event
        rpc.on("client_disconnected", handler)
        assert rpc._event_handlers["client_disconnected"] == [handler]


def test_deaccelerate_gives_back_the_inherited_method():
    with accelerated():
        assert "on" in hrpc.RPC.__dict__
    assert "on" not in hrpc.RPC.__dict__          # inherited from MessageEmitter again
    rpc = hrpc.RPC(None, client_id="y", silent=True)
    rpc.on("e", None)
    assert rpc._event_handlers["e"] == [None]       # stock behaviour
