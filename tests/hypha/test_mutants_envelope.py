"""Exact outcomes of the frame parser's less travelled paths (hypha/envelope.py).

Mutation testing (fuzz/mutation.py) showed these were not pinned down: the map16/map32
headers of `extra` (msgpack allows them for a small map too), the offsets and messages of its
errors, `max_size` on the keys, a memoryview frame, and the sender named in the warning about
refused keys of a decrypted payload.
"""
from __future__ import annotations

import msgpack
import pytest

from polycodec import DecodeError
from polycodec.hypha import envelope

MAIN = msgpack.packb({"type": "method"})        # 13 bytes: extra starts at offset 13
AT = len(MAIN)


@pytest.mark.parametrize("one, two", [(b"\x81", b"\x82"), (b"\xde\x00\x01", b"\xde\x00\x02"),
                                      (b"\xdf\x00\x00\x00\x01", b"\xdf\x00\x00\x00\x02")],
                         ids=["fixmap", "map16", "map32"])
def test_extra_in_every_map_header_form(one, two):
    assert envelope.parse_extra(MAIN + one + b"\xa1a\x07", AT) == {"a": 7}
    assert envelope.parse_extra(MAIN + two + b"\xa1a\x07\xa1b\x08", AT) == {"a": 7, "b": 8}


@pytest.mark.parametrize("header", [b"\xde", b"\xde\x00", b"\xdf\x00\x00\x00"])
def test_truncated_extra_map_header(header):
    with pytest.raises(envelope.BrokenFrame) as e:
        envelope.parse_extra(MAIN + header, AT)
    assert str(e.value.error) == f"frame: truncated extra map header (at byte {AT})"
    assert e.value.offset == AT and e.value.key is None and e.value.partial == {}


def test_extra_that_is_not_a_map():
    with pytest.raises(envelope.BrokenFrame) as e:
        envelope.parse_extra(MAIN + b"\x91\x01", AT)
    assert str(e.value.error) == f"frame: extra must be a map (first byte 0x91) (at byte {AT})"
    assert e.value.offset == AT and e.value.key is None


def test_extra_key_that_is_not_a_str_reports_where_its_value_starts():
    frame = MAIN + b"\x82\xa1a\x01\x05\x02"     # {"a": 1, 5: 2}
    with pytest.raises(envelope.BrokenFrame) as e:
        envelope.parse_extra(frame, AT)
    assert e.value.offset == AT + 5              # header, "a", 1, then the key 5
    assert str(e.value.error) == f"frame: extra key 5 is not str (at byte {AT + 5})"
    assert e.value.partial == {"a": 1}


def test_extra_after_its_end():
    with pytest.raises(envelope.BrokenFrame) as e:
        envelope.parse_extra(MAIN + b"\x80\xc0\xc0", AT)
    assert str(e.value.error) == f"frame: 2 bytes after extra (at byte {AT + 1})"


def test_max_size_bounds_the_keys_of_extra():
    """max_size applies from each key on (the values come after their key, so they are
    bounded by the same check)."""
    frame = MAIN + msgpack.packb({"k": "x" * 40})
    with pytest.raises(envelope.BrokenFrame) as e:
        envelope.parse_extra(frame, AT, max_size=20)
    n = len(frame) - AT - 1                      # from the key on
    assert str(e.value.error) == f"message of {n} bytes exceeds max_size=20 (at byte {AT + 1})"
    assert e.value.key is None and e.value.partial == {}
    assert envelope.parse_extra(frame, AT, max_size=n) == {"k": "x" * 40}


def test_extra_from_a_memoryview_and_a_bytearray():
    frame = MAIN + msgpack.packb({"a": [1, 2]})
    for buf in (memoryview(frame), memoryview(bytearray(frame)), bytearray(frame)):
        assert envelope.parse_extra(buf, AT) == {"a": [1, 2]}
    assert envelope.parse_extra(memoryview(frame), len(frame)) is None


def test_main_that_is_not_a_map():
    with pytest.raises(DecodeError) as e:
        envelope.parse_main(msgpack.packb([1]))
    assert str(e.value) == "frame: main must be a map, got list (at byte 0)"
    assert e.value.offset == 0


def test_refused_keys_of_a_decrypted_payload_name_the_sender(caplog):
    msg, _ = envelope.parse_frame(msgpack.packb({"from": "ws-a/alice", "type": "method"}))
    with caplog.at_level("WARNING", logger="polycodec.hypha"):
        msg.update({"from": "ws-b/admin", "args": [1]})
    assert msg == {"from": "ws-a/alice", "type": "method", "args": [1]}
    assert caplog.records[-1].getMessage() == (
        "refused keys ['from'] in the decrypted payload of a message from ws-a/alice (they "
        "may only come from the server-vouched part of the frame)")
