"""Differential decode: every decode entry point on the compiled core and on the fallback.

Input layout: 4 option bytes, then the message. Both implementations must give the same value
(fuzz/harness.py `same`) or both raise DecodeError with the same message (and so the same
offset); any other exception is a finding. Per
implementation the entry points must agree with each other (unpackb == unpack_from at 0, skip
ends where unpack_from ends) and the input buffer must come back unchanged.

A new entry point joins by adding one function to ENTRY_POINTS: it gets (impl, case) and
returns the `outcome(...)` of its call; `case.opts` are the unpackb options chosen for this
input (only those the implementation accepts). The streaming Unpacker is fed the payload cut at
`case.splits` and must also agree with unpack_from looped over the joined bytes.
"""
from __future__ import annotations

import inspect
import tracemalloc
from collections import OrderedDict

import harness
from harness import INPUT_KINDS, Choices, Finding, as_kind, outcome, same, same_outcome

import polycodec
from polycodec import CodecRegistry, DecodeError, fallback, spec

compiled = polycodec.implementations().get("cython")
if compiled is None:
    raise SystemExit("fuzz: the compiled core is not importable (fuzz/build, then PYTHONPATH)")

ACCEPTED = set(inspect.signature(fallback.unpackb).parameters)
DECODE_ACCEPTED = set(inspect.signature(fallback.decode).parameters)

DEPTHS = (spec.DEFAULT_MAX_DEPTH, 0, 1, 2, 3, 8, 64, spec.DEFAULT_MAX_DEPTH)
ITEMS = (None, 0, 1, 2, 5, 16, 100, None)


def _hook(d):
    return ("hook", d)


def _registry():
    reg = CodecRegistry()
    reg.register(name="point", decoder=lambda d: ("point", d))
    reg.register(name="set", decoder=lambda d: ("myset", d))        # overrides a built-in form
    reg.register(name="ndarray", decoder=lambda d: ("myarray", d))  # turns off the fast reader
    return reg


REGISTRY = _registry()


class Case:
    """The options and buffers chosen for one input."""

    def __init__(self, data: bytes):
        ch = Choices(data)
        flags, depth, limits, off = ch.byte(), ch.byte(), ch.byte(), ch.byte()
        self.payload = ch.rest()
        self.kind = INPUT_KINDS[(flags >> 4) & 3]
        n = len(self.payload)
        opts = {
            "bin_views": bool(flags & 1),
            "strict_map_key": not flags & 2,
            "copy": bool(flags & 4),
            "dict_type": OrderedDict if flags & 8 else dict,
            "max_depth": DEPTHS[depth & 7],
        }
        if flags & 0x40:
            opts["rtype_hook"] = _hook
        if flags & 0x80:
            opts["codecs"] = REGISTRY
        sizes = (spec.DEFAULT_MAX_SIZE, 0, 1, n - 1, n, n + 1, 16, spec.DEFAULT_MAX_SIZE)
        opts["max_size"] = max(sizes[limits & 7], 0)
        items = ITEMS[(limits >> 3) & 7]
        if items is not None:
            opts["max_items"] = items
        self.opts = {k: v for k, v in opts.items() if k in ACCEPTED}
        self.limits = {k: v for k, v in self.opts.items() if k in ("max_size", "max_depth")}
        self.offset = -1 if off == 255 else off % (n + 2)
        self.splits = sorted({(depth * 7) % (n + 1), (off * 13) % (n + 1)})   # streaming decoders
        self.last = None

    def buf(self):
        self.last = as_kind(self.payload, self.kind)
        return self.last


def unpackb(impl, case):
    return outcome(impl.unpackb, case.buf(), **case.opts)


def unpack_from(impl, case):
    return outcome(impl.unpack_from, case.buf(), case.offset, **case.opts)


def unpack_from_0(impl, case):
    return outcome(impl.unpack_from, case.buf(), 0, **case.opts)


def skip(impl, case):
    return outcome(impl.skip, case.buf(), case.offset, **case.limits)


def decoder(impl, case):
    """The reusable Decoder object (options fixed at construction)."""
    return outcome(lambda: impl.Decoder(**case.opts).decode(case.buf()))


def decoder_from(impl, case):
    return outcome(lambda: impl.Decoder(**case.opts).decode_from(case.buf(), case.offset))


STREAM_BUFFER = 1 << 16   # above any input (-max_len=4096); a longer declared value is refused


def _stream_opts(case):
    """The Unpacker's options: the case's, with max_size (which bounds each value in a stream,
    the whole buffer in unpack_from) kept only when it is small, and the limit it sets."""
    opts = {k: v for k, v in case.opts.items() if k != "max_size"}
    limit = case.opts.get("max_size", STREAM_BUFFER)
    if 1 <= limit < STREAM_BUFFER:
        return dict(opts, max_size=limit), opts, limit
    return opts, opts, STREAM_BUFFER


def unpacker(impl, case):
    """The streaming Unpacker fed the payload in the pieces cut at case.splits (each piece of
    the case's buffer kind), iterated after each feed, then closed: ("ok", (values, error,
    tell)) where error is the DecodeError's message or None; the values before an error
    count."""
    u = impl.Unpacker(max_buffer_size=STREAM_BUFFER, **_stream_opts(case)[0])
    bounds = [0, *case.splits, len(case.payload)]
    values, error = [], None
    try:
        for a, b in zip(bounds, bounds[1:]):
            u.feed(as_kind(case.payload[a:b], case.kind))
            values.extend(u)
        u.close()
        values.extend(u)
    except DecodeError as e:
        error = str(e)
    case.buf()     # the input check compares case.last; the pieces were copies
    return ("ok", (values, error, u.tell() if error is None else None))


def _stream_reference(impl, case, opts):
    """(values, their (start, end) offsets, error text) of unpack_from (a Decoder's
    decode_from, the same code) looped over the whole payload."""
    values, spans, pos, data = [], [], 0, case.payload
    decode_from = impl.Decoder(**opts).decode_from     # as unpack_from, without its set-up
    while pos < len(data):
        try:
            value, end = decode_from(data, pos)
        except DecodeError as e:
            return values, spans, str(e)
        values.append(value)
        spans.append((pos, end))
        pos = end
    return values, spans, None


ENTRY_POINTS = [unpackb, unpack_from, unpack_from_0, skip]
if hasattr(compiled, "Decoder") and hasattr(fallback, "Decoder"):
    ENTRY_POINTS += [decoder, decoder_from]
if hasattr(compiled, "Unpacker") and hasattr(fallback, "Unpacker"):
    ENTRY_POINTS += [unpacker]


def _consistent(name, case, res):
    """One implementation's entry points against each other."""
    b, f0, f, s = res["unpackb"], res["unpack_from_0"], res["unpack_from"], res["skip"]
    if b[0] == "ok":
        if f0[0] != "ok" or f0[1][1] != len(case.payload):
            raise Finding(f"{name}: unpackb decodes, unpack_from(0) gives {f0[0]}")
        same(b[1], f0[1][0], "unpackb vs unpack_from(0)")
    if f[0] == "ok" and s != ("ok", f[1][1]):
        raise Finding(f"{name}: unpack_from ends at {f[1][1]}, skip gives {s}")
    for one, many in (("decoder", "unpackb"), ("decoder_from", "unpack_from")):
        if one in res:
            same_outcome(res[one], res[many], f"{name}: {one} vs {many}")
    if "unpacker" in res and name == "compiled":
        # the fallback's Unpacker is held to the compiled one's outcome (one_input), so the
        # slow pure-Python reference loop is not needed for it
        _stream_consistent(compiled, case, res["unpacker"][1])


def _stream_consistent(impl, case, got):
    """Any split decodes as unpack_from looped over the joined bytes: the same values, the same
    error text (so the same offset), tell() at the end; except that a value longer than the
    per-value limit is refused (and none longer is given)."""
    values, error, tell = got
    _, ref_opts, limit = _stream_opts(case)
    expected, spans, expected_error = _stream_reference(impl, case, ref_opts)
    name = impl.__name__
    k = len(values)
    if error is not None and ("max_size" in error or "max_buffer_size" in error):
        if k < len(spans) and spans[k][1] - spans[k][0] <= limit:
            raise Finding(f"{name}: Unpacker refused value {k} of {spans[k][1] - spans[k][0]} "
                          f"bytes (limit {limit}): {error}")
        if k > len(expected):
            raise Finding(f"{name}: Unpacker gave {k} values before refusing, unpack_from "
                          f"{len(expected)}")
        expected = expected[:k]
    elif error != expected_error:
        raise Finding(f"{name}: Unpacker split at {case.splits} says {error!r}, "
                      f"unpack_from says {expected_error!r}")
    if k != len(expected):
        raise Finding(f"{name}: Unpacker gave {k} values, unpack_from {len(expected)}")
    for i, (a, b) in enumerate(zip(values, expected)):
        same(a, b, f"stream[{i}]")
        if spans[i][1] - spans[i][0] > limit:
            raise Finding(f"{name}: Unpacker gave value {i} of {spans[i][1] - spans[i][0]} "
                          f"bytes over its limit {limit}")
    if error is None and tell != len(case.payload):
        raise Finding(f"{name}: Unpacker tell() {tell} after {len(case.payload)} bytes")


def _decode_tree(case):
    """decode() is one shared function: it must give a value or DecodeError for any tree."""
    try:
        import msgpack
        tree = msgpack.unpackb(case.payload, raw=False, strict_map_key=False)
    except Exception:
        return
    opts = {k: v for k, v in case.opts.items() if k in DECODE_ACCEPTED}
    outcome(fallback.decode, tree, **opts)


def _memory_bound(case):
    """Decoding allocates at most spec.DECODED_BYTES_PER_ITEM per counted value (every counted
    value takes a byte of input, so there are at most min(max_items, len) of them), plus the
    input once more (copies of bins and arrays) and a constant; an error may add its traceback,
    a frame per nesting level. Checked under tracemalloc in the replays (every corpus entry,
    under ASan in CI and after a soak), not in guided runs (see harness.GUIDED)."""
    n = len(case.payload)
    if harness.GUIDED:
        return
    counted = min(case.opts.get("max_items", spec.DEFAULT_MAX_ITEMS), n)
    for impl in (compiled, fallback):
        tracemalloc.start()
        try:
            ok = outcome(impl.unpackb, case.buf(), **case.opts)[0] == "ok"
            peak = tracemalloc.get_traced_memory()[1]     # the peak includes the value
        finally:
            tracemalloc.stop()
        bound = spec.DECODED_BYTES_PER_ITEM * (counted + 1) + 2 * n + 16384
        if not ok:
            bound += 1024 * case.opts["max_depth"]
        if peak > bound:
            raise Finding(f"{impl.__name__}: decoding {n} bytes ({counted} values at most) "
                          f"took {peak} bytes, over {bound}")


def one_input(data: bytes):
    case = Case(data)
    results = {}
    for impl, name in ((compiled, "compiled"), (fallback, "fallback")):
        res = {}
        for entry in ENTRY_POINTS:
            res[entry.__name__] = entry(impl, case)
            if bytes(memoryview(case.last).cast("B")) != case.payload:
                raise Finding(f"{name} {entry.__name__} changed the input")
        _consistent(name, case, res)
        results[name] = res
    for entry in ENTRY_POINTS:
        same_outcome(results["compiled"][entry.__name__], results["fallback"][entry.__name__],
                     f"{entry.__name__} {case.kind} {case.opts}")
    if case.payload[:1] in (b"\x80", b"\x81", b"\x82", b"\x83", b"\x84", b"\x91", b"\x92"):
        _decode_tree(case)
    _memory_bound(case)
