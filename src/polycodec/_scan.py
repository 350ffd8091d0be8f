"""Pure-Python twin of the compiled scanner (src/_ext/_stream.pyx) and of the stream decoder's
decode loop: where the values of a growing buffer end, and decoding a run of them.

The scanner reads msgpack structure only, resumes where it stopped, applies the decoder's own
early length checks (so "incomplete" here is "truncated" there) and stops at bad bytes without
a message of its own: the decoder, run on that value, reports it as unpack_from would.
"""
from __future__ import annotations

from .errors import DecodeError


def too_long(b, n, container, total, name, limit):
    """The message for a value whose declared lengths take it past the buffering limit."""
    if not container:
        what = f"a str or bin declaring {n} bytes"
    elif 0x80 <= b <= 0x8F or b >= 0xDE:
        what = f"a map declaring {n // 2} entries"
    else:
        what = f"an array declaring {n} items"
    return f"{what} makes the value at least {total} bytes long, over {name}={limit}"


class Scanner:
    """See the compiled Scanner: same attributes, same results."""

    def __init__(self, max_depth, limit, limit_name):
        self.max_depth = max_depth
        self.limit = limit
        self.limit_name = limit_name
        self.restart(0)

    def restart(self, start):
        self.start = self.pos = self.need = start
        self.left = []            # items still to read in each open array/map
        self.bad = False
        self.error = None

    def shift(self, delta):
        self.start += delta
        self.pos += delta
        self.need += delta

    def scan(self, buf, end, max_values):
        if self.bad or end < self.need or max_values <= 0:
            return 0
        p = memoryview(buf)
        if end > p.nbytes:
            raise ValueError(f"end {end} beyond a buffer of {p.nbytes} bytes")
        if p.format != "B" or p.ndim != 1:
            p = p.cast("B")
        count, pos, left = 0, self.pos, self.left
        while count < max_values:
            if pos >= end:
                self.need = pos + 1
                break
            b = p[pos]
            h, n, items = 1, 0, -1
            if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3):
                pass
            elif b <= 0x8F:
                items = 2 * (b & 0x0F)
            elif b <= 0x9F:
                items = b & 0x0F
            elif b <= 0xBF:
                n = b & 0x1F
            elif 0xC4 <= b <= 0xC6 or 0xD9 <= b <= 0xDB:
                h = 1 + (1 << ((b - 0xC4) if b <= 0xC6 else (b - 0xD9)))
                if end - pos < h:
                    self.need = pos + h
                    break
                n = int.from_bytes(p[pos + 1:pos + h], "big")
            elif b in (0xCA, 0xCB) or 0xCC <= b <= 0xD3:
                n = 4 if b == 0xCA else 8 if b == 0xCB else 1 << ((b - 0xCC) & 3)
            elif 0xDC <= b <= 0xDF:
                h = 3 if b in (0xDC, 0xDE) else 5
                if end - pos < h:
                    self.need = pos + h
                    break
                items = int.from_bytes(p[pos + 1:pos + h], "big") * (2 if b >= 0xDE else 1)
            else:                         # ext types and 0xC1
                self.bad = True
                break
            if items >= 0:
                if len(left) >= self.max_depth:
                    self.bad = True       # the decoder names the depth limit
                    break
                n = items                 # each item takes at least one byte
            if pos + h + n - self.start > self.limit:
                self.error = DecodeError(too_long(b, n, items >= 0, pos + h + n - self.start,
                                                  self.limit_name, self.limit), pos)
                self.bad = True
                break
            if pos + h + n > end:
                self.need = pos + h + n
                break
            if items > 0:
                pos += h
                left.append(items)
                continue
            pos += h + n
            while left:                   # one item done: close the containers it completes
                left[-1] -= 1
                if left[-1]:
                    break
                left.pop()
            if not left:
                count += 1
                self.start = pos
        self.pos = pos
        if self.bad:
            self.need = pos
        return count


def decode_run(decoder, buf, offset, count):
    """(`count` values decoded back to back from `offset`, end offset); the caller has scanned
    them complete."""
    out = []
    for _ in range(count):
        value, offset = decoder.decode_from(buf, offset)
        out.append(value)
    return out, offset
