"""Calls of the documented API, type-checked by `.ci/types` (mypy --strict); never run.

For the core the stubs give full types, so a wrong type fails the check; for the layers mypy
checks the names, the parameters and the annotated signatures. A line marked
`# type: ignore[...]` must stay an error: with `warn_unused_ignores` an accepted misuse fails.
A new public name gets one call here.
"""
from __future__ import annotations

import asyncio

import numpy as np

import polycodec
import polycodec.backends
import polycodec.hybrid as Hybrid
import polycodec.hypha
import polycodec.sockets


def core() -> None:
    arr = np.linspace(0, 1, 5, dtype=np.float32)
    frame: bytes = polycodec.packb({"x": arr, "tags": {"a", "b"}}, default=repr, max_depth=64)
    segments: list[bytes | memoryview] = polycodec.pack_segments(arr, min_oob=1024)
    value = polycodec.unpackb(frame, copy=True, max_size=1 << 20, dict_type=dict, max_items=1000)
    main, end = polycodec.unpack_from(frame + frame)
    extra, _ = polycodec.unpack_from(frame + frame, end, strict_map_key=False)
    stop: int = polycodec.skip(frame, 0, max_depth=8)
    tree = polycodec.encode(value)
    back = polycodec.decode(tree, rtype_hook=lambda d: d)
    pieces = polycodec.chunks(segments, 1024)
    r = polycodec.Reassembler(len(pieces), chunk_size=1024, max_size=1 << 30)
    for i, piece in enumerate(pieces):
        r.add(i, piece)
    missing: list[int] = r.missing()
    whole: memoryview = r.result(len(pieces))
    encoder = polycodec.Encoder(default=repr, max_depth=64)
    framed: bytes = encoder.encode(value)
    decoder = polycodec.Decoder(copy=True, max_items=1000)
    again, stop2 = decoder.decode_from(framed, 0)
    print(decoder.decode(framed), again, stop2 + decoder.max_items, encoder.pack_segments(arr))
    polycodec.Decoder(max_items="many")  # type: ignore[arg-type]
    out = bytearray()
    encoder.encode_into(value, out, -1)
    unpacker = polycodec.Unpacker(max_buffer_size=1 << 20, max_depth=32)
    unpacker.feed(out)
    unpacker.close()
    first: list[object] = unpacker.take(1)
    print(first, list(unpacker), unpacker.tell(), unpacker.skip())
    with open("/dev/null", "wb") as sink:
        written: int = polycodec.dump(value, sink, encoder=encoder)
    polycodec.Unpacker(read_size="big")  # type: ignore[arg-type]
    polycodec.Unpacker(max_depth="deep")  # type: ignore[arg-type]
    polycodec.Unpacker(maxdepth=3)  # type: ignore[call-arg]
    print(written)
    registry = polycodec.CodecRegistry()
    registry.register(name="point", type=complex, encoder=lambda c: [c.real, c.imag],
                      decoder=lambda d: complex(*d))
    polycodec.packb(1j, codecs=registry)
    polycodec.register_codec({"name": "c", "type": complex, "encoder": str})
    polycodec.unregister_codec("c")
    polycodec.packb(polycodec.Bin(b"raw"), codecs=polycodec.default_registry)
    try:
        polycodec.unpackb(b"\xc1")
    except polycodec.DecodeError as e:
        print(e.offset)
    except (polycodec.EncodeError, polycodec.RemoteError):
        pass
    except polycodec.PolycodecError as e:
        problem = polycodec.Problem("$.x", str(e))
        print(problem.path, problem.message)
    kind: str = polycodec.IMPLEMENTATION
    impls = polycodec.implementations()
    print(main, extra, stop, back, missing, whole, kind, impls["python"], polycodec.spec.RTYPE)

    # misuse the stubs must refuse
    polycodec.packb(arr, max_depth="deep")  # type: ignore[arg-type]
    polycodec.unpackb(frame, offset=0)  # type: ignore[call-arg]
    polycodec.skip("text")  # type: ignore[arg-type]
    text: str = polycodec.packb(1)  # type: ignore[assignment]
    polycodec.Reassembler(chunk=4)  # type: ignore[call-arg]
    print(text)


async def streams(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async for value in polycodec.aunpack(reader, max_size=1 << 20):
        await polycodec.adump(value, writer)


async def hypha() -> None:
    options: polycodec.hypha.Options = polycodec.hypha.accelerate(max_chunks=100)
    with polycodec.hypha.accelerated(compression="deflate", zero_copy=True):
        on: bool = polycodec.hypha.is_accelerated()
    polycodec.hypha.deaccelerate()
    limits = polycodec.hypha.Limits(max_message_size=1 << 20, reassembly_timeout=60.0)
    frame = polycodec.hypha.pack_frame({"type": "method"}, [("args", [polycodec.packb([1])])])
    message, refused = polycodec.hypha.parse_frame(b"".join(bytes(s) for s in frame))
    print(options, on, limits, message, refused, polycodec.hypha.SUPPORTED_VERSIONS,
          polycodec.hypha.TRUSTED_KEYS, polycodec.hypha.ChunkSender,
          polycodec.hypha.ChunkReceiver)
    polycodec.hypha.accelerate(compression=1)  # type: ignore[arg-type]


async def hybrid() -> None:
    client = Hybrid.Client(base_url="http://localhost:3000", tenant="my-tenant", token="open")
    Hybrid.Client.health_check("http://localhost:3000")
    client.health_check()
    client.get_version()
    client.get_status()
    client.services.execute("my-folder/my-service", inputs={"x": 42})
    client.services.execute("version/<id>", inputs=[{"x": 1}, {"x": 2}])
    client.services.validate("version/<id>", inputs={"x": 1}, validation_type="dynamic")
    client.services.get_metadata("service/<id>")
    async with Hybrid.AsyncClient(base_url="http://localhost:3000", tenant="t") as aclient:
        await aclient.services.execute("f/s", inputs={"x": 1})
        async for outcome in aclient.services.iter_batches("f/s", [{"x": 1}], batch_size=1):
            print(outcome)
    result: Hybrid.BatchResult = client.services.execute_batches("f/s", [{"x": 1}])
    for one in client.services.iter_batches("f/s", [{"x": 1}], batch_size=1):
        print(one, result)
    up: Hybrid.HybridResponse = client.services.upload("package.zip")
    print(up, client.services.execute(Hybrid.UriParams(folder="f", service="s")))
    client.services.upload(b"zip bytes")  # type: ignore[arg-type]
    Hybrid.Client(base_url="http://localhost:3000", max_retries="3")  # type: ignore[arg-type]
    client.close()
    print(Hybrid.Services, Hybrid.AsyncServices, Hybrid.ServiceExecuted, Hybrid.HybridResponse,
          Hybrid.Config, Hybrid.UriParams, Hybrid.BatchResult, Hybrid.BatchOutcome,
          Hybrid.RecordResult, Hybrid.HybridError, Hybrid.HybridSdkError, Hybrid.HybridApiError,
          Hybrid.BatchError)


def sockets() -> None:
    from polycodec.sockets import (CustomSocket, Endpoint, RuntimeChoices, Script, ScriptCall,
                                   ScriptDependency)

    socket = CustomSocket(name="my_custom_socket")
    ep = Endpoint(name="my_endpoint")
    ep.add_call(ScriptCall(name="custom_script"), methods=["GET"])
    socket.add_endpoint(ep)
    # RuntimeChoices gets its attributes from spec.RUNTIMES at import: invisible to mypy
    runtime = RuntimeChoices.PYTHON_V5_0  # type: ignore[attr-defined]
    socket.add_dependency(ScriptDependency(name="custom_script", script=Script(
        runtime_name=runtime, source='print("custom_script")')))
    socket.remove_endpoint(endpoint_name="my_endpoint")
    socket.remove_dependency(dependency_name="custom_script")
    raw: bytes = polycodec.sockets.to_body(socket)
    back: polycodec.sockets.CustomSocket = polycodec.sockets.from_payload(raw)
    found: list[polycodec.sockets.Problem] = polycodec.sockets.problems(back)
    polycodec.sockets.validate(back)
    polycodec.sockets.to_body("my_custom_socket")  # type: ignore[arg-type]
    print(found, polycodec.sockets.update_payload(back))
    payload = socket.to_payload()
    body = socket.to_body()
    CustomSocket.from_payload(body)
    socket.problems()
    socket.validate()
    with polycodec.sockets.SocketsClient("http://localhost:8000", "my-instance",
                                         api_key="key") as sc:
        made: polycodec.sockets.CustomSocket = sc.create(socket)
        listed: list[polycodec.sockets.SocketEndpoint] = sc.list_endpoints(made.name)
        print(listed, sc.list(), sc.run("my_custom_socket", "my_endpoint", "POST", {"a": 1}))
        sc.get(1)  # type: ignore[arg-type]
    print(payload, polycodec.sockets.SocketsClient, polycodec.sockets.Problem,
          polycodec.sockets.SocketsHTTPError, polycodec.sockets.SocketValidationError,
          polycodec.sockets.MethodNotAllowedError, polycodec.sockets.ClassDependency,
          polycodec.sockets.ScriptEndpoint, polycodec.sockets.SocketEndpoint,
          polycodec.sockets.from_payload, polycodec.sockets.to_body, polycodec.sockets.to_payload,
          polycodec.sockets.update_payload, polycodec.sockets.problems,
          polycodec.sockets.validate, polycodec.sockets.spec.METHODS)


def backends() -> None:
    from polycodec.backends import BackendClient, RunCell, install_request

    body = install_request(
        ["pyrun_backend#0.1.0"],
        configurations={"pyrun_backend": {"build": {"python": "python3.12"}}},
        partition=None,
    )
    with BackendClient("http://localhost:2000", "pyrun_backend", "0.1.0", partition="Foo") as c:
        r = c.run_cell(RunCell("c1", "x = a*2\nprint('hi', x)", {"a": 21}, ["x"]))
        print(r.output, r.captured_out, c.fetch_json("/docs-json"))
        text: str = c.fetch_text("/", headers={"accept": "text/plain"})
        with c.stream("/") as streamed:
            print(text, streamed.status_code)
        c.fetch("/", json={"a": 1}, params={"q": 1}, headers=[("a", "b")])  # type: ignore[arg-type]
    name: str = polycodec.backends.decode_id(polycodec.backends.encode_id("demo_yw_backend"))
    print(body, name, polycodec.backends.RunResult, polycodec.backends.BackendHTTPError,
          polycodec.backends.CellError, polycodec.backends.PayloadError,
          polycodec.backends.ResponseTooLarge, polycodec.backends.BackendModule,
          polycodec.backends.InstallRequest, polycodec.backends.InstalledBackend,
          polycodec.backends.parse_install_response, polycodec.backends.to_json_safe,
          polycodec.backends.spec.PARTITION_HEADER)
    polycodec.backends.encode_id(b"bytes")  # type: ignore[arg-type]
    polycodec.backends.install_request(["pyrun_backend#0.1.0"], partition=1)  # type: ignore[arg-type]
    polycodec.backends.to_json_safe(float("nan"), nonfinite="zero")  # type: ignore[arg-type]
