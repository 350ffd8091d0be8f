"""Streams of values: `Unpacker` (feed bytes or read a file, iterate values), `aunpack` (the
same over an asyncio stream), `dump`/`adump` (write values without one big bytes object).

Both implementations share this buffering code; `bind` gives each its own classes, built on its
Decoder, its scanner (src/_ext/_stream.pyx or polycodec._scan) and its decode loop, which
decodes every complete value of a fed piece in one call.

Buffering: a value that lies inside one fed `bytes` object is decoded from it in place (its
arrays are views of it). A value split across pieces is copied into a buffer of the Unpacker's
own, sized from the declared lengths as soon as its headers are read (one copy of a large
array), and never above `max_buffer_size` (refused from the header, before its bytes arrive).
Bytes that values were decoded from are never overwritten: new bytes go after them or into a
new buffer, so yielded views stay valid.
"""
from __future__ import annotations

import sys
from collections import deque
from itertools import chain, islice

import numpy as np

from .errors import DecodeError
from .spec import DEFAULT_MAX_BUFFER_SIZE, DEFAULT_MAX_DEPTH, DEFAULT_MAX_SIZE

READ_SIZE = 65536       # default bytes per read from a file or stream
_STEP = 4096            # bytes copied at a time to finish a value split across fed pieces
_BATCH = 1024           # values decoded per call of the decode loop while iterating
_NO_LIMIT = 2**62
_EMPTY = memoryview(b"")


def _shifted(e, delta):
    """`e` with its offset moved from buffer to stream coordinates."""
    if e.offset is None or not delta:
        return e
    text = str(e)
    suffix = f" (at byte {e.offset})"
    out = DecodeError(text[:-len(suffix)] if text.endswith(suffix) else text, e.offset + delta)
    out.__cause__ = e.__cause__
    return out


def _byte_view(data):
    """A read-only byte view that stays valid: bytes as they are, anything mutable copied."""
    if type(data) is bytes:
        return memoryview(data)
    try:
        mv = memoryview(data)
    except TypeError:
        raise TypeError(f"feed() takes a bytes-like object, got {type(data).__name__}") from None
    if mv.readonly and type(mv.obj) is bytes and mv.c_contiguous:
        return mv if (mv.format == "B" and mv.ndim == 1) else mv.cast("B")
    return memoryview(mv.tobytes())


class _Unpacker:
    """Streaming decoder: `feed(data)` then iterate, or `Unpacker(file_like)` and iterate.

    Each value is decoded exactly as `unpack_from` would decode it from the joined bytes, with
    the Decoder options (`copy`, `dict_type`, `strict_map_key`, `max_size`, `max_depth`,
    `codecs`, `rtype_hook`, `bin_views`, ...); `max_size` applies to each value.
    `max_buffer_size` (default 100 MiB) bounds the bytes one value may take: a value whose
    declared lengths go beyond it is refused with DecodeError before its bytes are buffered.
    `read_size` is the size of each read from `file_like` (`readinto` is used when it has
    one, else `read`).
    """

    _Decoder = _Scanner = None          # set by bind()
    _decode_run = _skip = None

    def __init__(self, file_like=None, *, read_size=READ_SIZE,
                 max_buffer_size=DEFAULT_MAX_BUFFER_SIZE, **options):
        self._Decoder(**options)        # the user's options, validated as Decoder does
        self._decoder = self._Decoder(**dict(options, max_size=_NO_LIMIT))
        for name, value in (("read_size", read_size), ("max_buffer_size", max_buffer_size)):
            if type(value) is not int or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        max_size = options.get("max_size", DEFAULT_MAX_SIZE)
        self._max_depth = options.get("max_depth", DEFAULT_MAX_DEPTH)
        if max_buffer_size <= max_size:
            self._limit, name = max_buffer_size, "max_buffer_size"
        else:
            self._limit, name = max_size, "max_size"
        self._scanner = self._Scanner(self._max_depth, self._limit, name)
        self._read_size = read_size
        self._file = file_like
        self._readinto = None
        if file_like is not None:
            self._readinto = getattr(file_like, "readinto", None)
            if self._readinto is None and not callable(getattr(file_like, "read", None)):
                raise TypeError("file_like needs a readinto() or read() method")
        self._buf = _EMPTY      # read-only view of the current buffer
        self._own = None        # the writable array behind _buf when it is ours
        self._end = 0           # bytes of _buf filled
        self._base = 0          # stream offset of _buf[0]
        self._pieces = deque()  # fed byte views not yet in _buf
        self._spares = []       # buffers of ours left behind (reused once unreferenced)
        self._copied = None     # (piece, buffer offset, length): the last bytes copied in
        # the last decoded batch, its iterator (what is not handed out yet) and, for tell(),
        # (buffer, offset, index, base) of value `index` in it
        self._set_ready([], None)
        self._done = 0          # stream offset after the last value of _ready
        self._error = None
        self._eof = False

    # ---- public
    def feed(self, data):
        """Append bytes. A `bytes` object is kept as it is (values inside it are views of
        it); any other buffer is copied, so the caller may reuse it."""
        if self._file is not None:
            raise TypeError("feed() on an Unpacker that reads a file")
        if self._eof:
            raise ValueError("feed() after close()")
        mv = _byte_view(data)
        if len(mv):
            self._pieces.append(mv)

    def close(self):
        """No more bytes will be fed: iterating raises DecodeError if a value is incomplete."""
        self._eof = True

    def __iter__(self):
        # the values of each decoded batch are handed out by C (a list iterator in a chain),
        # not by one __next__ call each
        return chain.from_iterable(self._batches())

    def _batches(self):
        while True:
            if self._it.__length_hint__():
                yield self._it
            elif not self._fill(_BATCH):
                return

    def __next__(self):
        for value in self._it:
            return value
        while self._fill(_BATCH):
            for value in self._it:
                return value
        raise StopIteration

    def take(self, n):
        """A list of the next `n` values; shorter when the bytes (fed so far, or of the file)
        run out first."""
        if type(n) is not int or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        out = list(islice(self._it, n))
        while len(out) < n:
            try:
                if not self._fill(min(n - len(out), 1 << 16)):
                    break
            except DecodeError:
                if out:
                    break       # raised again by the next call
                raise
            out.extend(islice(self._it, n - len(out)))
        return out

    def skip(self):
        """Step over the next value without decoding it; False if there is none (yet)."""
        for _ in self._it:
            return True
        return self._fill(1, decode=False)

    def tell(self):
        """Stream offset just after the last value returned or skipped."""
        left = self._it.__length_hint__()
        if not left:
            return self._done
        buf, pos, index, base = self._at
        while index < len(self._ready) - left:
            pos = self._skip(buf, pos, max_size=_NO_LIMIT, max_depth=self._max_depth)
            index += 1
        self._at = (buf, pos, index, base)
        return base + pos

    # ---- decoding
    def _fill(self, max_values, decode=True):
        """Decode (or skip) up to `max_values` values; False when none can be had now."""
        self._set_ready([], None)   # drop the values handed out (and their buffers)
        if self._error is not None:
            raise self._error
        sc = self._scanner
        while True:
            first = sc.start
            n = sc.scan(self._buf, self._end, max_values)
            if n:
                if decode:
                    self._decode(first, n)
                else:
                    self._done = self._base + sc.start
                self._rewind()
                return True
            if sc.bad:      # the decoder's error comes first if it finds one before
                e = self._decoder_error()
                if e is None or (sc.error is not None and str(e).startswith("truncated")):
                    e = sc.error or DecodeError("invalid msgpack data", sc.pos)
                self._fail(e)
            if not self._more():
                if self._eof and self._end > sc.start:
                    self._fail(self._decoder_error() or DecodeError(
                        "truncated input: the stream ends inside a value", self._end))
                return False

    def _set_ready(self, values, at):
        self._ready = values
        self._it = iter(values)
        self._at = at

    def _decode(self, first, n):
        buf = self._buf
        try:
            values, pos = self._decode_run(self._decoder, buf, first, n)
        except Exception:       # keep the values before the bad one, then raise its error
            values, pos = [], first
            for _ in range(n):
                try:
                    value, pos = self._decoder.decode_from(buf, pos)
                except DecodeError as e:
                    self._error = _shifted(e, self._base)
                    break
                except Exception as e:
                    self._error = e
                    break
                values.append(value)
        self._set_ready(values, (buf, first, 0, self._base))
        self._done = self._base + pos

    def _decoder_error(self):
        """The decoder's own error for the value at the scanner's start (None if it has none)."""
        try:
            self._decoder.decode_from(self._buf[:self._end], self._scanner.start)
        except DecodeError as e:
            return e
        return None

    def _fail(self, e):
        self._error = _shifted(e, self._base)
        raise self._error

    # ---- buffering
    def _more(self):
        """Bring more bytes into the buffer; False when there are none now (or ever)."""
        sc = self._scanner
        if self._end == sc.start:           # between values: the next piece as it is
            self._base += self._end
            if not self._pieces and self._file is not None and self._readinto is None:
                self._pull(self._read_size)
            if self._pieces:
                self._use(self._pieces.popleft(), None)
                return True
            if self._readinto is not None and not self._eof:
                arr = self._array(self._read_size)
                n = self._read_into(arr, 0, self._read_size)
                if n:
                    self._use(memoryview(arr).toreadonly(), arr, n)
                    return True
            self._use(_EMPTY, None)
            return False
        need = max(sc.need, self._end + 1)  # a value straddles: join it in a buffer of ours
        if not self._pieces and self._file is not None and self._readinto is None:
            self._pull(max(self._read_size, need - self._end))
        if not self._pieces and (self._readinto is None or self._eof):
            return False
        if self._own is None or need > len(self._own) or self._end == len(self._own):
            self._bridge(need)
        room = len(self._own) - self._end
        if self._pieces:
            piece = self._pieces[0]
            n = min(len(piece), room, max(need - self._end, _STEP))
            self._own[self._end:self._end + n] = np.frombuffer(piece[:n], np.uint8)
            self._copied = (piece, self._end, n)
            if n == len(piece):
                self._pieces.popleft()
            else:
                self._pieces[0] = piece[n:]
            self._end += n
            return True
        n = self._read_into(self._own, self._end, room)
        self._end += n
        return n > 0

    def _use(self, mv, own, end=None):
        self._retire()
        self._buf, self._own = mv, own
        self._end = len(mv) if end is None else end
        self._copied = None
        self._scanner.restart(0)

    def _bridge(self, need):
        """A new buffer of ours holding the incomplete value, sized for what it declared."""
        sc = self._scanner
        start, tail = sc.start, self._end - sc.start
        extra = self._read_size if self._file is not None else _STEP
        arr = self._array(min(max(need - start, 2 * tail), self._limit) + extra)
        arr[:tail] = np.frombuffer(self._buf[start:self._end], np.uint8)
        self._base += start
        sc.shift(-start)
        self._retire()
        self._buf, self._own, self._end = memoryview(arr).toreadonly(), arr, tail
        self._copied = None

    def _array(self, n):
        """A buffer of at least n bytes: a retired one that nothing refers to any more (no
        value, no view: only this list holds it), else a new one."""
        spares = self._spares
        for i in range(len(spares)):
            arr = spares[i]
            if n <= len(arr) <= 2 * n + _STEP and sys.getrefcount(arr) == 3:
                return spares.pop(i)     # (references: the list, `arr`, the call)
        return np.empty(n, np.uint8)

    def _retire(self):
        """The current buffer of ours is left: keep it to reuse once its views are gone."""
        if self._own is not None:
            self._spares = [self._own, *self._spares[:1]]
            self._own = None

    def _rewind(self):
        """Values split across pieces are done: give back the bytes copied beyond them, so
        the rest of the piece is decoded in place."""
        if self._copied is None:
            return
        piece, at, n = self._copied
        sc = self._scanner
        if sc.start < at or sc.start >= self._end:
            return
        rest = piece[sc.start - at:]
        if n < len(piece):          # the piece's remainder is still first in line
            self._pieces[0] = rest
        else:
            self._pieces.appendleft(rest)
        self._end = sc.start
        self._copied = None
        sc.restart(sc.start)

    def _pull(self, n):
        """read() of a file without readinto: its bytes become a piece."""
        if self._eof:
            return False
        data = self._file.read(n)
        if not data:
            self._eof = True
            return False
        self._pieces.append(_byte_view(data))
        return True

    def _read_into(self, arr, at, n):
        got = self._readinto(memoryview(arr)[at:at + n])
        if not got:
            self._eof = True
            return 0
        return got

    def _wanted(self):
        """Bytes worth asking a stream for: the read size, or what the open value declared."""
        return max(self._read_size, min(self._scanner.need - self._end, self._limit))


async def _aunpack(unpacker, reader):
    while True:
        for value in unpacker:
            yield value
        data = await reader.read(unpacker._wanted())
        if not data:
            unpacker.close()
            for value in unpacker:
                yield value
            return
        unpacker.feed(data)


def _dump(encoder, obj, stream):
    n = 0
    for segment in encoder.pack_segments(obj):
        stream.write(segment)
        n += memoryview(segment).nbytes
    return n


async def _adump(encoder, obj, writer):
    n = 0
    for segment in encoder.pack_segments(obj):
        writer.write(segment)
        n += memoryview(segment).nbytes
    await writer.drain()
    return n


def bind(decoder, encoder, scanner, decode_run, skip):
    """(Unpacker, aunpack, dump, adump) of one implementation."""

    class Unpacker(_Unpacker):
        __doc__ = _Unpacker.__doc__
        _Decoder = decoder
        _Scanner = scanner
        _decode_run = staticmethod(decode_run)
        _skip = staticmethod(skip)

    default_encoder = encoder()

    def aunpack(reader, *, read_size=READ_SIZE, max_buffer_size=DEFAULT_MAX_BUFFER_SIZE,
                **options):
        """Async iterator of the values read from `reader` (an asyncio.StreamReader or any
        object with `async read(n)`); Unpacker's options and rules."""
        unpacker = Unpacker(read_size=read_size, max_buffer_size=max_buffer_size, **options)
        return _aunpack(unpacker, reader)

    def dump(obj, stream, *, encoder=None):
        """Write `obj` to `stream` (anything with `write`) as its pack_segments pieces: large
        buffers are written as they are, never joined into one bytes object. Returns the
        number of bytes written."""
        return _dump(encoder or default_encoder, obj, stream)

    async def adump(obj, writer, *, encoder=None):
        """dump() to an asyncio.StreamWriter (pieces written, then drain())."""
        return await _adump(encoder or default_encoder, obj, writer)

    return Unpacker, aunpack, dump, adump
