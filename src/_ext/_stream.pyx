# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Where the values of a growing byte buffer end: the stream decoder's scanner.

Same rules as polycodec._scan (the pure-Python twin): it reads msgpack structure only (type
bytes, lengths, nesting), resumes where it stopped when more bytes arrive, and applies the
decoder's own early length checks, so a value it calls incomplete is one the decoder would call
truncated. It never raises for bad bytes: it stops there (`bad`) and the decoder, run on that
value, reports the problem exactly as unpack_from would. Values longer than `limit` are the
one error of its own, found from the declared lengths before their bytes arrive.
"""
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free

from _endian cimport pc_load16, pc_load32

from polycodec._scan import too_long
from polycodec.errors import DecodeError


cdef class Scanner:
    """Positions are indices into the buffer given to scan(): `start` is where the next value
    begins, `pos` how far the incomplete value has been read, `need` the buffer end below which
    a new scan cannot progress, `bad` that the bytes at `pos` are not valid msgpack (or, with
    `error`, that the value there is longer than the limit)."""
    cdef readonly Py_ssize_t start
    cdef readonly Py_ssize_t pos
    cdef readonly Py_ssize_t need
    cdef readonly bint bad
    cdef readonly object error    # with `bad`: a limit was hit (else the decoder tells why)
    cdef Py_ssize_t limit
    cdef str limit_name
    cdef int max_depth
    cdef int depth
    cdef Py_ssize_t *left         # items still to read in each open array/map
    cdef int cap                  # slots of `left` (grown as values nest deeper)

    def __cinit__(self, int max_depth, Py_ssize_t limit, str limit_name):
        self.cap = 64
        self.left = <Py_ssize_t*>PyMem_Malloc(self.cap * sizeof(Py_ssize_t))
        if self.left == NULL:
            raise MemoryError()
        self.max_depth = max_depth
        self.limit = limit
        self.limit_name = limit_name

    def __dealloc__(self):
        PyMem_Free(self.left)

    def restart(self, Py_ssize_t start):
        """Forget the value in progress; the next one begins at `start`."""
        self.start = self.pos = self.need = start
        self.depth = 0
        self.bad = False
        self.error = None

    def shift(self, Py_ssize_t delta):
        """The buffer's bytes moved by `delta` (a new buffer holds the incomplete tail)."""
        self.start += delta
        self.pos += delta
        self.need += delta

    def scan(self, buf, Py_ssize_t end, Py_ssize_t max_values):
        """Number of values completed in buf[:end] (at most max_values); `start` moves past them."""
        if self.bad or end < self.need or max_values <= 0:
            return 0
        cdef Py_buffer view
        PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
        try:
            if end > view.len:
                raise ValueError(f"end {end} beyond a buffer of {view.len} bytes")
            return self._scan(<const unsigned char*>view.buf, end, max_values)
        finally:
            PyBuffer_Release(&view)

    cdef int _grow(self) except -1:
        cdef Py_ssize_t *more = <Py_ssize_t*>PyMem_Realloc(
            self.left, 2 * self.cap * sizeof(Py_ssize_t))
        if more == NULL:
            raise MemoryError()
        self.left = more
        self.cap *= 2
        return 0

    cdef Py_ssize_t _scan(self, const unsigned char *p, Py_ssize_t end,
                          Py_ssize_t max_values) except -1:
        cdef Py_ssize_t count = 0, pos = self.pos, h, n, items
        cdef unsigned char b
        while count < max_values:
            if pos >= end:
                self.need = pos + 1
                break
            b = p[pos]
            h = 1
            n = 0         # payload bytes of a scalar
            items = -1    # items of an array/map
            if b <= 0x7F or b >= 0xE0 or b == 0xC0 or b == 0xC2 or b == 0xC3:
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
                n = p[pos + 1] if h == 2 else pc_load16(p + pos + 1) if h == 3 \
                    else pc_load32(p + pos + 1)
            elif b == 0xCA or b == 0xCB or 0xCC <= b <= 0xD3:
                n = 4 if b == 0xCA else 8 if b == 0xCB else 1 << ((b - 0xCC) & 3)
            elif 0xDC <= b <= 0xDF:
                h = 3 if (b == 0xDC or b == 0xDE) else 5
                if end - pos < h:
                    self.need = pos + h
                    break
                items = pc_load16(p + pos + 1) if h == 3 else pc_load32(p + pos + 1)
                if b >= 0xDE:
                    items *= 2
            else:         # ext types and 0xC1
                self.bad = True
                break
            if items >= 0:
                if self.depth >= self.max_depth:
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
                if self.depth == self.cap:
                    self._grow()
                self.left[self.depth] = items
                self.depth += 1
                continue
            pos += h + n
            while self.depth:             # one item done: close the containers it completes
                self.left[self.depth - 1] -= 1
                if self.left[self.depth - 1]:
                    break
                self.depth -= 1
            if not self.depth:
                count += 1
                self.start = pos
        self.pos = pos
        if self.bad:
            self.need = pos
        return count

