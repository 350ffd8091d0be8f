"""`polycodec.hypha.accelerate()`: make the installed hypha-rpc use polycodec, process-wide.

What is replaced (class attributes of hypha-rpc 0.21.47, restored by `deaccelerate()`):

- `RemoteFunction.__call__`: the call is built as before (session, timer, heartbeat/promise
  callbacks from hypha-rpc's own `_encode_promise`, `_enc` encryption), but the arguments are
  encoded and packed in one pass by polycodec. hypha-rpc's `_encode` is the core's `default=`
  hook for what only it knows: callables, generators, io streams, `_rintf` dicts and remote
  objects (`__rpc_object__`). Large frames go through polycodec's chunk sender.
- `RPC._on_message`: `method` frames are parsed with polycodec, and `extra` can no longer
  override the server-vouched keys, not even from inside an encrypted payload (see
  envelope.py). `args` is kept undecoded until hypha-rpc's `_handle_method` asks for it, after
  its permission checks. Other frame types go to the original handler.
- `RPC._decode`: decodes `args` in one pass (hypha-rpc's attribute dict as `dict_type`, its
  `_decode` as `rtype_hook` for method/generator/iostream, the RPC's codecs); everything
  else: original.
- `RPC._create_message/_append_message/_set_message/_process_message/_remove_message`:
  polycodec's message_cache (chunking.py). (hypha-rpc's `RPC._send_chunks` is only called
  by the `RemoteFunction.__call__` replaced above, so it needs no patch.)
- `WebsocketRPCConnection._ws_connect_kwargs`: per-message deflate off unless
  `compression="deflate"`.

An RPC created before `accelerate()` keeps hypha-rpc's receive path (it bound its handlers
at construction); call `accelerate()` before `connect_to_server` for the full effect.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import polycodec
from polycodec.codecs import CodecRegistry
from polycodec.errors import MissingDependency, require_bool
from polycodec.spec import CHUNK_MARGIN

from . import envelope
from .chunking import ADVERTISE_KEY, ChunkReceiver, ChunkSender, Limits
from .envelope import BrokenFrame

WS_DEFAULT_MAX_SIZE = 2**20      # websockets' default max_size (what hypha-rpc leaves)
WS_FRAME_MARGIN = 2**16          # envelope around a chunk

log = logging.getLogger("polycodec.hypha")

SUPPORTED_VERSIONS = ("0.21.47",)
_CHUNK_METHODS = ("services.built-in.message_cache.set",
                  "services.built-in.message_cache.append")
COMPRESSION_CHOICES = (None, "deflate")
_PLAIN = {"strict_map_key": False}


@dataclass
class Options:
    compression: str | None = None
    zero_copy: bool = False
    limits: Limits = field(default_factory=Limits)


_options: Options | None = None     # None: not accelerated
_originals: dict = {}                # (owner class, attribute name) -> original
_INHERITED = object()                # the class had no attribute of its own (it inherits it)
_hrpc = None                         # hypha_rpc.rpc module, once imported


def is_accelerated() -> bool:
    return _options is not None


def options() -> Options | None:
    return _options


# ------------------------------------------------------------------------------ public API
def accelerate(*, compression: str | None = None, zero_copy: bool = False, force: bool = False,
               max_message_size: int | None = None, max_chunks: int | None = None,
               max_uploads_per_peer: int | None = None,
               max_bytes_per_peer: int | None = None, max_total_bytes: int | None = None,
               reassembly_timeout: float | None = None,
               max_chunk_size: int | None = None) -> Options:
    """Route the installed hypha-rpc through polycodec (idempotent; a second call updates
    the options).

    compression: None (default) = no per-message deflate on new websocket connections;
        "deflate" = hypha-rpc's default (negotiate it). Arrays of floats barely compress and
        deflate costs seconds per 16 MiB: see docs/hypha.md for the measured numbers.
    zero_copy: False (default) packs each call's arguments into a fresh buffer when the call
        is made, as hypha-rpc does (mutating an array after the call cannot change what is
        sent). True sends views of the caller's arrays: do not mutate them until the call's
        result arrives.
    force: accept a hypha-rpc version this module was not tested with.
    max_chunk_size: the largest message_cache chunk this process accepts (default 2 MiB, at
        least 256 KiB; a warning above what the Hypha server forwards); it is advertised in
        the built-in service so accelerated peers send chunks that big, and the websocket's
        max_size is raised to match. Stock peers always get 256 KiB chunks.
    The other keywords bound what peers can make this process reassemble (chunking.Limits:
    max_message_size 2 GiB, max_chunks 8192, max_uploads_per_peer 64, max_bytes_per_peer
    4 GiB, max_total_bytes 8 GiB, reassembly_timeout 600 s). Invalid values raise ValueError.
    """
    global _options, _hrpc
    if compression not in COMPRESSION_CHOICES:
        raise ValueError(f"compression must be one of {COMPRESSION_CHOICES}, got {compression!r}")
    require_bool("zero_copy", zero_copy)
    require_bool("force", force)
    try:
        import hypha_rpc
        from hypha_rpc import rpc as hrpc
        from hypha_rpc import websocket_client
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("hypha_rpc"):
            raise      # hypha-rpc is there but one of its own imports failed: say that
        raise MissingDependency("polycodec.hypha.accelerate()", "hypha-rpc",
                                f'pip install "hypha-rpc=={SUPPORTED_VERSIONS[0]}"') from None

    version = getattr(hypha_rpc, "__version__", "unknown")
    if version not in SUPPORTED_VERSIONS and not force:
        raise RuntimeError(
            f"polycodec.hypha.accelerate() knows hypha-rpc {', '.join(SUPPORTED_VERSIONS)}; "
            f"installed is {version}. Its internals may differ: pass force=True to try anyway.")
    targets = _targets(hrpc, websocket_client)
    for owner, name, _ in targets:
        if not hasattr(owner, name):
            raise RuntimeError(f"hypha-rpc {version} has no {owner.__name__}.{name}: "
                               "cannot accelerate this version")
    given = {"max_message_size": max_message_size, "max_chunks": max_chunks,
             "max_uploads_per_peer": max_uploads_per_peer,
             "max_bytes_per_peer": max_bytes_per_peer, "max_total_bytes": max_total_bytes,
             "reassembly_timeout": reassembly_timeout, "max_chunk_size": max_chunk_size}
    limits = Limits(**{k: v for k, v in given.items() if v is not None})   # validates
    _hrpc = hrpc
    new = Options(compression=compression, zero_copy=zero_copy, limits=limits)
    if _options is None:
        for owner, name, replacement in targets:
            _originals[(owner, name)] = owner.__dict__.get(name, _INHERITED)
            setattr(owner, name, replacement)
    _options = new
    return new


def deaccelerate() -> None:
    """Restore hypha-rpc's own methods. RPCs created while accelerated keep working: their
    bound handlers fall back to the originals (an upload in flight at that moment may fail)."""
    global _options
    for (owner, name), original in _originals.items():
        if original is _INHERITED:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    _originals.clear()
    _options = None


@contextlib.contextmanager
def accelerated(**kwargs):
    """`with accelerated(): ...` accelerates inside the block, then restores what was before."""
    global _options
    before = _options
    opts = accelerate(**kwargs)
    try:
        yield opts
    finally:
        if before is None:
            deaccelerate()
        else:
            _options = before


def _targets(hrpc, websocket_client):
    return [
        (hrpc.RemoteFunction, "__call__", _remote_call),
        (hrpc.RPC, "_on_message", _on_message),
        (hrpc.RPC, "_decode", _decode),
        (hrpc.RPC, "_create_message", _create_message),
        (hrpc.RPC, "_append_message", _append_message),
        (hrpc.RPC, "_set_message", _set_message),
        (hrpc.RPC, "_process_message", _process_message),
        (hrpc.RPC, "_remove_message", _remove_message),
        (hrpc.RPC, "add_service", _add_service),
        (hrpc.RPC, "on", _on),
        (websocket_client.WebsocketRPCConnection, "_ws_connect_kwargs", _ws_connect_kwargs),
    ]


def _on(self, event, handler):
    # hypha-rpc 0.21.47 registers its client_disconnected handler after the subscribe call
    # returns; when close() ran meanwhile it registers None (the handler close() cleared),
    # which outlives the RPC. None is never a handler: drop it.
    if handler is None:
        return None
    return super(_hrpc.RPC, self).on(event, handler)


def _orig(owner_name, name):
    owner = getattr(_hrpc, owner_name) if owner_name != "WebsocketRPCConnection" else \
        __import__("hypha_rpc.websocket_client", fromlist=["x"]).WebsocketRPCConnection
    found = _originals.get((owner, name))
    return found if found is not None else owner.__dict__[name]


# ---------------------------------------------------------------------------- per-RPC state
class _Decoded:
    """`args` as received: decoded only when hypha-rpc's `_handle_method` asks for it (after
    its permission checks), so codecs' decoders and remote-function proxies never run for a
    call that is refused. A decoding error is raised there, where hypha-rpc rejects the call
    through its promise."""

    __slots__ = ("_raw", "_options", "_value", "_error")

    def __init__(self, raw=None, options=None, error=None):
        self._raw, self._options = raw, options
        self._value, self._error = None, error

    def get(self):
        if self._raw is not None:
            raw, self._raw = self._raw, None
            try:
                self._value = raw.decode(**self._options)
            except Exception as exc:   # noqa: BLE001  (reported to the caller by hypha-rpc)
                self._error = exc
            self._options = None
        if self._error is not None:
            raise self._error
        return self._value

    def __bool__(self):   # hypha-rpc: `if data.get("args"):`, after its checks
        try:
            return bool(self.get())
        except Exception:   # noqa: BLE001  (raised again by get(), where hypha-rpc asks)
            return True


class _RpcState:
    """polycodec's side of one hypha-rpc RPC: codec registry, chunk sender and receiver."""

    def __init__(self, rpc):
        self.rpc = rpc
        self._codec_sig = None
        self._registry = None
        chunk = getattr(rpc, "_long_message_chunk_size", None) or polycodec.spec.CHUNK_SIZE
        limits = _options.limits if _options else Limits()
        self.sender = ChunkSender(rpc, _call_with_packed_args, chunk_size=chunk)
        self.receiver = ChunkReceiver(limits, self._reset_heartbeat, self._dispatch_chunked)

    def codecs(self) -> CodecRegistry:
        """A CodecRegistry mirroring `rpc._codecs` (re-read whenever that dict changes)."""
        codecs = self.rpc._codecs
        sig = tuple((name, id(c)) for name, c in codecs.items())
        if sig != self._codec_sig:
            reg = CodecRegistry()
            if "error" not in codecs:   # hypha-rpc's decoded error type, not polycodec's
                reg.register(name="error", decoder=_remote_exception)
            for name, c in codecs.items():
                typ, enc, dec = c.get("type"), c.get("encoder"), c.get("decoder")
                if enc is not None and typ is None:
                    enc = None
                if enc is None and dec is None:
                    continue
                reg.register(name=name, type=typ, encoder=enc, decoder=dec)
            self._registry, self._codec_sig = reg, sig
        return self._registry

    def encode_hook(self, session_id, local_workspace):
        """The core's `default=`: hypha-rpc's own `_encode` for what only it can encode."""
        rpc = self.rpc
        encode = type(rpc)._encode   # not patched: hypha-rpc's own

        def default(obj):
            if isinstance(obj, dict):   # a `_rintf` dict: a service only if it has callables
                if obj.get("_rintf") is True and any(
                        callable(v) for k, v in obj.items()
                        if not (isinstance(k, str) and k.startswith("_"))):
                    return encode(rpc, obj, session_id=session_id,
                                  local_workspace=local_workspace)
                return obj
            return encode(rpc, obj, session_id=session_id, local_workspace=local_workspace)

        return default

    def decode_hook(self, remote_parent, remote_workspace):
        """The core's `rtype_hook=`: hypha-rpc's own `_decode` for method/generator/iostream;
        any other unknown `_rtype` stays a dict with `_rtype` kept (as hypha-rpc does)."""
        rpc = self.rpc
        decode = _orig("RPC", "_decode")

        def hook(d):
            if d.get("_rtype") in ("method", "generator", "iostream"):
                return decode(rpc, dict(d), remote_parent=remote_parent,
                              remote_workspace=remote_workspace)
            return d

        return hook

    def _reset_heartbeat(self, key):
        session = self.rpc._object_store.get(key)
        if session is None:
            raise Exception(f"session does not exist anymore: {key}")
        timer = session.get("timer") if isinstance(session, dict) else None
        if timer is not None and hasattr(timer, "reset"):
            timer.reset()

    def method_message(self, buf, main, offset, trusted=None):
        """The message to dispatch for a `method` frame; `args` stays undecoded (`_Decoded`).
        Raises BrokenFrame when the frame cannot be read and no promise to reject was read."""
        frm = (trusted if trusted is not None else main).get("from") or ""
        args_opts = {
            "dict_type": _hrpc.ObjectProxy, "strict_map_key": False, "codecs": self.codecs(),
            "rtype_hook": self.decode_hook(main.get("session"), str(frm).split("/")[0]),
        }
        if main.get("method") in _CHUNK_METHODS:   # the chunk stays a view of the frame
            args_opts["bin_views"] = True
        try:
            msg, refused = envelope.parse_frame(
                buf, head=(main, offset), trusted=trusted,
                default_context=self.rpc.default_context, options=_PLAIN, lazy=("args",))
        except BrokenFrame as broken:
            if "promise" not in broken.partial:
                raise
            # the promise was read: hypha-rpc rejects the call with the error (as it asks
            # for `args`, after its checks) instead of leaving the caller to time out
            msg, refused = envelope.merge(main, broken.partial, trusted,
                                          self.rpc.default_context)
            msg["args"] = _Decoded(error=broken)
        else:
            if "args" in msg:
                msg["args"] = _Decoded(msg["args"], args_opts)
        if refused:
            log.warning("refused keys %s in a message from %s (they may only come from the "
                        "server-vouched part of the frame)", refused, msg.get("from"))
        return msg

    def _dispatch_chunked(self, buffer, context):
        envelope.mark_received(buffer)
        main, offset = envelope.parse_main(buffer)
        if main.get("type") == "method":
            msg = self.method_message(buffer, main, offset, trusted=context)
        else:   # not an RPC call: plain values, as hypha-rpc gives them
            msg, _ = envelope.parse_frame(buffer, head=(main, offset), trusted=context,
                                          default_context=self.rpc.default_context,
                                          options=_PLAIN)
        self.rpc._fire(msg["type"], msg)


def _state_of(rpc) -> _RpcState:
    st = rpc.__dict__.get("_polycodec_state")
    if st is None:
        st = rpc.__dict__["_polycodec_state"] = _RpcState(rpc)
    return st


def _remote_exception(d):
    trace = d.get("_rtrace") or ""
    return _hrpc.RemoteException(f"RemoteError:{d.get('_rvalue')}\n{trace}")


# -------------------------------------------------------------------------------- sending
def _remote_call(self, *arguments, **kwargs):
    if _options is None:
        return _orig("RemoteFunction", "__call__")(self, *arguments, **kwargs)
    return _invoke(self, list(arguments), kwargs)


def _call_with_packed_args(fn, args_segments):
    """One call whose args array is already packed (chunk uploads)."""
    if not isinstance(fn, _hrpc.RemoteFunction):
        raise TypeError(f"message_cache method is not a RemoteFunction: {fn!r}")
    return _invoke(fn, None, None, packed_args=args_segments, direct=True)


def _invoke(rf, arguments, kwargs, packed_args=None, direct=False):
    """RemoteFunction.__call__ with polycodec packing (same sessions, timers and results)."""
    hrpc = _hrpc
    rpc = rf._rpc
    st = _state_of(rpc)
    method = rf._encoded_method
    target = method["_rtarget"]
    rmethod = method["_rmethod"]
    if kwargs:
        arguments = arguments + [kwargs]
    fut = hrpc.safe_create_future()

    def resolve(result):
        if not fut.done():
            fut.set_result(result)

    def reject(error):
        if not fut.done():
            fut.set_exception(error)

    session = hrpc.shortuuid.uuid()
    if rf._local_parent:
        session = f"{rf._local_parent}.{session}"
    store = rpc._get_session_store(session, create=True)
    store["target_id"] = target
    rpc._target_id_index.setdefault(target, set()).add(session.split(".")[0])

    try:
        if packed_args is not None:
            args_segs = packed_args
        elif arguments:
            args_segs = envelope.pack_value(
                arguments, default=st.encode_hook(session, rf._local_workspace),
                codecs=st.codecs(), zero_copy=_options.zero_copy, strict_map_key=False)
        else:
            args_segs = None
    except BaseException:
        if not rf._local_parent:
            _forget_session(rpc, session)
        raise

    if rpc._local_workspace is None:
        sender = rpc._client_id
    else:
        sender = f"{rpc._local_workspace}/{rpc._client_id}"
    main = {"type": "method", "from": sender, "to": target, "method": rmethod}
    extra = []                                     # (key, segments) in hypha-rpc's order
    if args_segs is not None:
        extra.append(("args", args_segs))
    if kwargs:
        extra.append(("with_kwargs", [polycodec.packb(True)]))
    if rf._remote_parent:
        main["parent"] = rf._remote_parent

    timer = None
    if rf._with_promise:
        main["session"] = session
        label = f"{target}:{rmethod}"
        timeout = rpc._rintf_timeout if "_rintf_" in rmethod else rpc._method_timeout
        timer = hrpc.Timer(timeout, _timeout_callback(rpc, session, reject),
                           f"Method call timed out: {label}, context: {rf._description}",
                           label=label)
        promise = rpc._encode_promise(
            resolve=resolve, reject=reject, session_id=session, clear_after_called=True,
            timer=timer, local_workspace=rf._local_workspace, description=rf._description)
        if rf._with_promise == True:  # noqa: E712  (hypha-rpc compares the same way)
            extra.append(("promise", [envelope.packb_loose(promise)]))
        elif rf._with_promise == "*":
            extra.append(("promise", [polycodec.packb("*")]))
            extra.append(("t", [polycodec.packb(timeout / 2)]))
        else:
            raise RuntimeError(f"Unsupported promise type: {rf._with_promise}")

    if extra and rpc._encryption_enabled and rf._target_encryption_pub:
        plaintext = envelope.join(envelope.pack_extra(extra))
        nonce, ciphertext = hrpc.encrypt_payload(
            rpc._encryption_private_key, bytes(rf._target_encryption_pub), plaintext)
        extra = [("_enc", [polycodec.packb({"v": 2, "pub": rpc._encryption_public_key,
                                            "nonce": nonce})]),
                 ("data", [polycodec.packb(polycodec.Bin(ciphertext))])]

    frame = envelope.pack_frame(main, extra)

    if rpc._emit_message is None:   # connection torn down: settle now, as hypha-rpc does
        if not fut.done():
            if rf._with_promise:
                fut.set_exception(ConnectionError("Connection is closed"))
            else:
                fut.set_result(None)
        rpc._remove_from_target_id_index(session)
        rpc._object_store.pop(session, None)
        return fut

    size = envelope.frame_size(frame)
    # a chunk upload goes out whole (sized for its receiver: see ChunkSender)
    if direct or size <= rpc._long_message_chunk_size + CHUNK_MARGIN or rf.__no_chunk__:
        emit = asyncio.create_task(rpc._emit_message(envelope.join(frame)))
    else:
        emit = asyncio.create_task(st.sender.send(frame, target, rf._remote_parent))
    rpc._background_tasks.add(emit)

    def sent(task):
        rpc._background_tasks.discard(task)
        error = None if not task.cancelled() else asyncio.CancelledError("send cancelled")
        if error is None:
            error = task.exception()
        if error is not None:
            reject(Exception("Failed to send the request when calling method "
                             f"({target}:{rmethod}), error: {error}"))
            if timer and timer.started:
                timer.clear()
            return
        if timer:
            timer.start()
        if not rf._with_promise:
            resolve(None)   # fire-and-forget: done once sent
            if not rf._local_parent:
                entry = rpc._object_store.get(session)
                if isinstance(entry, dict) and not any(
                        callable(v) or isinstance(v, dict) for k, v in entry.items()
                        if not k.startswith("_") and k != "target_id"):
                    _forget_session(rpc, session)

    emit.add_done_callback(sent)
    return fut


def _forget_session(rpc, session):
    rpc._remove_from_target_id_index(session)
    rpc._object_store.pop(session, None)


def _timeout_callback(rpc, session, reject):
    async def on_timeout(message):
        try:
            reject(TimeoutError(message))
        except Exception as exc:
            rpc._log.debug("Error rejecting timed-out call: %s", exc)
        entry = rpc._object_store.get(session)
        if isinstance(entry, dict):
            beat = entry.get("heartbeat_task")
            if beat and not getattr(beat, "done", lambda: True)():
                beat.cancel()
            t = entry.get("timer")
            if t and getattr(t, "started", False):
                with contextlib.suppress(Exception):
                    t.clear()
        if session in rpc._object_store:
            _forget_session(rpc, session)

    return on_timeout


# ------------------------------------------------------------------------------ receiving
def _on_message(self, message):
    if _options is None or not isinstance(message, (bytes, bytearray, memoryview)):
        return _orig("RPC", "_on_message")(self, message)
    try:
        main, offset = envelope.parse_main(message)
    except polycodec.DecodeError as exc:
        log.warning("dropped an unreadable frame (%d bytes): %s", len(message), exc)
        return None
    if main.get("type") != "method":
        return _orig("RPC", "_on_message")(self, bytes(message))
    try:
        data = _state_of(self).method_message(message, main, offset)
    except BrokenFrame as exc:
        # no promise could be read: there is nobody to reply to, so the call is not run
        log.warning("dropped a method frame from %s for %s: %s", main.get("from"),
                    main.get("method"), exc)
        return None
    self._fire("method", data)


def _decode(self, a_object, *args, **kwargs):
    if type(a_object) is _Decoded:
        return a_object.get()
    return _orig("RPC", "_decode")(self, a_object, *args, **kwargs)


def _create_message(self, key, heartbeat=False, overwrite=False, context=None):
    if _options is None:
        return _orig("RPC", "_create_message")(self, key, heartbeat, overwrite, context=context)
    receiver = _state_of(self).receiver
    receiver.create(key, heartbeat, overwrite, context=context)
    # hypha-rpc keeps its cache there (made on the first create); ours shows local code's
    self._object_store.setdefault("message_cache", receiver.local)


def _append_message(self, key, data, heartbeat=False, context=None):
    if _options is None:
        return _orig("RPC", "_append_message")(self, key, data, heartbeat, context=context)
    return _state_of(self).receiver.append(key, data, heartbeat, context=context)


def _set_message(self, key, index, data, heartbeat=False, context=None):
    if _options is None:
        return _orig("RPC", "_set_message")(self, key, index, data, heartbeat, context=context)
    return _state_of(self).receiver.set(key, index, data, heartbeat, context=context)


def _process_message(self, key, heartbeat=False, context=None):
    if _options is None:
        return _orig("RPC", "_process_message")(self, key, heartbeat, context=context)
    return _state_of(self).receiver.process(key, heartbeat, context=context)


def _remove_message(self, key, context=None):
    if _options is None:
        return _orig("RPC", "_remove_message")(self, key, context=context)
    return _state_of(self).receiver.remove(key, context=context)


def _add_service(self, api, overwrite=False):
    """The built-in service advertises the largest chunk this RPC accepts, so accelerated
    senders use big chunks toward it (stock senders ignore the key)."""
    if _options is not None and isinstance(api, dict) and api.get("id") == "built-in" \
            and isinstance(api.get("config"), dict):
        api = dict(api, config=dict(api["config"], **{ADVERTISE_KEY: {
            "v": 1, "max_chunk_size": _options.limits.max_chunk_size}}))
    return _orig("RPC", "add_service")(self, api, overwrite)


def _ws_connect_kwargs(self):
    kwargs = _orig("WebsocketRPCConnection", "_ws_connect_kwargs")(self)
    if _options is not None:
        if _options.compression is None:
            kwargs["compression"] = None
        # frames up to the advertised chunk size (+ envelope) must be accepted
        need = _options.limits.max_chunk_size + WS_FRAME_MARGIN
        current = kwargs.get("max_size", WS_DEFAULT_MAX_SIZE)
        if current is not None and current < need:
            kwargs["max_size"] = need
    return kwargs
