"""A Dask serialization family, "polycodec", for data values (task results, scatter/gather,
worker-to-worker transfers): `pip install polycodec[dask]`.

A value of the spec table travels as one small msgpack header frame plus one out-of-band frame
per large buffer (>= 64 KiB): the sender's frames are views of its arrays, the receiver's
arrays and memoryviews are read-only views of the frames Dask received. Nothing is unpickled.
A value outside the table is refused at the sender, naming its type and path; whether Dask may
then try its own families depends on the serializer list (see docs/pipelines.md):

    STRICT = ["polycodec"]                          # refuse what polycodec cannot carry
    FALLBACK = ["polycodec", "dask", "pickle"]      # polycodec first, then Dask's defaults

(deserializers: the same list plus "error", the family carrying a sender's refusal as text).

`connect(cluster_or_address, strict=True)` is the one step: a Client with those lists and a
worker plugin that registers the family in every worker process (also workers that join
later) and makes their worker-to-worker fetches use the same lists. Workers started by hand
can instead load it with `dask worker --preload polycodec.dask` (then `strict` comes from the
POLYCODEC_DASK_STRICT environment variable, "1" by default).
"""
from __future__ import annotations

import os
import threading

try:
    from distributed import Client
    from distributed.diagnostics.plugin import WorkerPlugin
    from distributed.protocol.serialize import register_serialization_family
except ImportError as exc:    # the optional extra
    raise ImportError(f"polycodec.dask needs distributed (pip install polycodec[dask]): "
                      f"{exc}") from exc

from . import Decoder, Encoder, _common
from .errors import DecodeError, EncodeError
from .spec import DEFAULT_MIN_OOB, RDTYPE, RSHAPE, RTYPE, RVALUE

NAME = "polycodec"
STRICT = [NAME]
FALLBACK = [NAME, "dask", "pickle"]
# receivers also accept Dask's "error" family: the sender's refusal, as text (never unpickled)

# `_rtype`s of the header that stand for a buffer in frame `_rvalue` (reserved in values)
_MARK = "polycodec.dask:"
_MARK_BYTES = _MARK.encode()
_ND, _MV, _BYTES = _MARK + "ndarray", _MARK + "memoryview", _MARK + "bytes"
# how pack_segments writes a large ndarray / memoryview buffer: the map's head, then bin32
_ND_HEAD = b"\xa6_rtype\xa7ndarray\xa7_rvalue\xc6"
_MV_HEAD = b"\xa6_rtype\xaamemoryview\xa7_rvalue\xc6"

_encoder = Encoder()
calls = {"dumps": 0, "loads": 0}   # per process: lets a test see which process used the family
_strict = True


class Refused(NotImplementedError):
    """polycodec cannot carry this value (with the FALLBACK list Dask tries its next family)."""


class StrictRefused(TypeError):
    """polycodec cannot carry this value and the strict list allows no other family."""


def _refuse(x, why):
    message = f"polycodec cannot send this {type(x).__module__}.{type(x).__qualname__}: {why}"
    raise (StrictRefused if _strict else Refused)(message)


def dumps(x, context=None):
    """(header, frames) for Dask: frames[0] the msgpack header, then one frame per buffer."""
    calls["dumps"] += 1
    try:
        segments = _encoder.pack_segments(x)
    except EncodeError as e:
        _refuse(x, e)
    head, frames = [], [None]
    for seg in segments:
        n = memoryview(seg).nbytes
        # pack_segments cuts only around large buffers, each after its bin32 header
        if not head or n < DEFAULT_MIN_OOB or head[-1][-5:] != b"\xc6" + n.to_bytes(4, "big"):
            seg = bytes(seg)
            if _MARK_BYTES in seg:
                _refuse(x, f"the _rtype prefix {_MARK!r} is reserved")
            head.append(seg)
            continue
        prev = head[-1]
        index = _encoder.encode(len(frames))
        if prev[-28:-4] == _ND_HEAD:
            head[-1] = prev[:-28] + b"\xa6_rtype" + _encoder.encode(_ND) + b"\xa7_rvalue" + index
        elif prev[-31:-4] == _MV_HEAD:
            head[-1] = prev[:-31] + b"\xa6_rtype" + _encoder.encode(_MV) + b"\xa7_rvalue" + index
        else:
            head[-1] = prev[:-5] + _encoder.encode({RTYPE: _BYTES, RVALUE: len(frames)})
        frames.append(seg)
    frames[0] = b"".join(head)
    return {}, frames


def _frame(d):
    frames = _receiving.frames
    i = d.get(RVALUE)
    if type(i) is not int or not 0 < i < len(frames):
        raise DecodeError(f"{d[RTYPE]} names frame {i!r} of {len(frames)}")
    mv = memoryview(frames[i])
    return mv if (mv.format == "B" and mv.ndim == 1) else mv.cast("B")


def _hook(d):
    """The header's frame markers -> views of the frames of the loads() call in progress."""
    rtype = d[RTYPE]
    if not rtype.startswith(_MARK):
        return d
    if rtype == _ND:
        d = {RVALUE: _frame(d), RSHAPE: d.get(RSHAPE), RDTYPE: d.get(RDTYPE)}
        return _common.build_ndarray(d, None, False)
    if rtype == _MV:
        return _common.build_memoryview({RVALUE: _frame(d)}, None, False)
    if rtype == _BYTES:
        return bytes(_frame(d))
    raise DecodeError(f"unknown frame marker {rtype!r}")


_decoder = Decoder(rtype_hook=_hook)
_receiving = threading.local()      # the frames _hook reads (loads runs in many threads)


def loads(header, frames):
    """The value of dumps' frames; buffers are read-only views of frames[1:]."""
    calls["loads"] += 1
    _receiving.frames = frames
    try:
        return _decoder.decode(frames[0])
    finally:
        _receiving.frames = ()


register_serialization_family(NAME, dumps, loads)


def configure(worker, strict=True):
    """Make `worker` fetch data from other workers with polycodec's serializer list."""
    global _strict
    _strict = bool(strict)
    names = STRICT if strict else FALLBACK
    worker.rpc.serializers = list(names)
    worker.rpc.deserializers = [*names, "error"]


class Plugin(WorkerPlugin):
    """Registers the family in a worker process and sets its serializer lists."""

    name = "polycodec"

    def __init__(self, strict=True):
        self.strict = strict

    def setup(self, worker):
        configure(worker, self.strict)


def connect(address=None, *, strict=True, **client_kwargs):
    """A Client whose data values travel as polycodec, on a cluster whose workers (present and
    future) use it too. `address` is a scheduler address or a cluster object."""
    global _strict
    _strict = bool(strict)
    names = STRICT if strict else FALLBACK
    client = Client(address, serializers=list(names), deserializers=[*names, "error"],
                    **client_kwargs)
    client.register_plugin(Plugin(strict))
    return client


def dask_setup(worker):
    """`dask worker --preload polycodec.dask`: configure a worker started by hand."""
    configure(worker, os.environ.get("POLYCODEC_DASK_STRICT", "1") == "1")
