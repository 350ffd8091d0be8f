"""The streaming encoder side: Encoder.encode_into, dump/adump, on both implementations."""
from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polycodec import EncodeError
from tests.strategies import property_settings, values


@property_settings(60)
@given(vals=st.lists(values(max_leaves=6), max_size=5), prefix=st.binary(max_size=10))
def test_encode_into_appends_exactly_packb(impl, vals, prefix):
    enc = impl.Encoder()
    buf = bytearray(prefix)
    for v in vals:
        enc.encode_into(v, buf, -1)
    assert bytes(buf) == prefix + b"".join(impl.packb(v) for v in vals)


def test_encode_into_offsets(impl):
    enc = impl.Encoder()
    buf = bytearray(b"0123456789")
    enc.encode_into("ab", buf, 4)           # written at 4, the buffer ends after it
    assert bytes(buf) == b"0123" + impl.packb("ab")
    enc.encode_into(np.arange(70_000, dtype=np.uint8), buf)   # a large buffer: copied once
    assert bytes(buf) == impl.packb(np.arange(70_000, dtype=np.uint8))
    with pytest.raises(ValueError):
        enc.encode_into(1, buf, len(buf) + 1)
    with pytest.raises(ValueError):
        enc.encode_into(1, buf, -2)
    with pytest.raises(TypeError):
        enc.encode_into(1, b"immutable")
    with pytest.raises(EncodeError):
        enc.encode_into(object(), buf)


class Recorder(io.RawIOBase):
    def __init__(self):
        self.writes = []

    def writable(self):
        return True

    def write(self, b):
        self.writes.append(b)
        return memoryview(b).nbytes


def test_dump_writes_large_buffers_as_they_are(impl):
    arr = np.arange(1 << 18, dtype=np.float32)
    f = Recorder()
    n = impl.dump({"a": arr, "k": 1}, f)
    joined = b"".join(bytes(w) for w in f.writes)
    assert joined == impl.packb({"a": arr, "k": 1}) and n == len(joined)
    assert any(isinstance(w, memoryview) and np.shares_memory(np.frombuffer(w, np.uint8), arr)
               for w in f.writes)
    out = io.BytesIO()
    for i in range(100):
        impl.dump({"i": i}, out, encoder=impl.Encoder())
    assert list(impl.Unpacker(io.BytesIO(out.getvalue()))) == [{"i": i} for i in range(100)]


async def test_adump_to_a_stream_writer(impl):
    got = bytearray()

    async def handle(reader, writer):
        async for value in impl.aunpack(reader):
            got.extend(impl.packb(value))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    vals = [{"i": i, "a": np.full(1000 * i, i, np.uint8)} for i in range(20)]
    for v in vals:
        await impl.adump(v, writer)
    writer.write_eof()
    assert await reader.read() == b""     # the server closes once it has read everything
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    assert bytes(got) == b"".join(impl.packb(v) for v in vals)
