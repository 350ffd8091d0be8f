# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""One pass: msgpack -> Python values, `_rtype` maps rebuilt, binary payloads as views.

A bin under an `_rvalue` key is kept as a (offset, length) reference until its map is
complete: an ndarray/typedarray/memoryview map turns it into a view of the input, any other
map into bytes. Same rules as polycodec.fallback.
"""
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.ref cimport Py_INCREF, Py_DECREF, Py_XDECREF, PyObject
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact
cimport cython
from cpython.long cimport PyLong_FromLongLong, PyLong_FromUnsignedLongLong
from cpython.float cimport PyFloat_FromDouble
from cpython.object cimport PyCallable_Check
from libc.string cimport memcmp
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint64_t

from _pyfast cimport pc_ascii_str, pc_dict_presized, pc_key_words, pc_key_slot
from _endian cimport pc_load16, pc_load32, pc_load64, pc_load_double, pc_load_float

import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyTypeObject:
        pass
    ctypedef struct PyArray_Descr:
        pass
    PyTypeObject PyArray_Type
    object PyArray_NewFromDescr(PyTypeObject *subtype, PyArray_Descr *descr, int nd,
                                cnp.npy_intp *dims, cnp.npy_intp *strides, void *data,
                                int flags, PyObject *obj)

from polycodec import _common
from polycodec.codecs import default_registry
from polycodec.errors import DecodeError
from polycodec.spec import (
    DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS, DEFAULT_MAX_SIZE, MAX_DEPTH_LIMIT, RTYPE, RVALUE, RSHAPE,
    RDTYPE,
)

cdef extern from "Python.h":
    object PyUnicode_DecodeUTF8(const char *s, Py_ssize_t size, const char *errors)
    object PyMemoryView_FromObject(object o)
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    bint PyUnicode_Check(object o)
    bint PyBytes_Check(object o)
    long PyLong_AsLongAndOverflow(object o, int *overflow) except? -1
    const Py_ssize_t PY_SSIZE_T_MAX

cdef object _frombuffer = np.frombuffer
DEF _MAX_NDIM = 32              # numpy's limit in 1.x (64 in 2.x); deeper shapes take frombuffer
cdef object _parse_dtype = _common.parse_dtype
cdef dict _DTYPE_PARSED = _common._DTYPE_PARSED
cdef object _build_set = _common.build_set
cdef object _build_orderedmap = _common.build_orderedmap
cdef object _build_error = _common.build_error
cdef object _build_ndarray = _common.build_ndarray
cdef object _build_memoryview = _common.build_memoryview
cdef object _decode_options = _common.decode_options
cdef object _int_option = _common.int_option
cdef object _depth_option = _common.depth_option
cdef object _CodecRegistry = _common.CodecRegistry
cdef int _DEPTH_LIMIT = MAX_DEPTH_LIMIT
cdef Py_ssize_t _NDIM_LIMIT = _common.MAX_NDIM
cdef str _S_RTYPE = RTYPE
cdef str _S_RVALUE = RVALUE
cdef str _S_RSHAPE = RSHAPE
cdef str _S_RDTYPE = RDTYPE


cdef class _BinRef:
    """A bin of the input not yet turned into a view or bytes."""
    cdef Py_ssize_t offset
    cdef Py_ssize_t length


DEF _KEY_SLOTS = 256            # power of two
DEF _KEY_MAX = 16               # longest key (bytes) the cache keeps


ctypedef struct _KeySlot:
    PyObject *key               # NULL: empty
    uint64_t w0                 # the key's wire bytes, zero-padded (see pc_key_words)
    uint64_t w1
    Py_ssize_t n


@cython.final
cdef class _KeyCache:
    """Short map keys decoded before, by a hash of their bytes: records repeat their keys,
    and a hit returns the same str (hash already computed) without decoding. A slot holds
    the key's bytes as two words: the lookup is two compares. Two-way (a slot and its
    neighbour): two keys of one record that share a slot do not evict each other. Read and
    written with the GIL held and no Python code in between, so the threads sharing a Decoder
    may share its cache; a slot only ever holds an immutable str and the bytes it came from."""
    cdef _KeySlot slots[_KEY_SLOTS]

    def __dealloc__(self):
        cdef int i
        for i in range(_KEY_SLOTS):
            Py_XDECREF(self.slots[i].key)

    cdef inline PyObject *find(self, uint64_t w0, uint64_t w1, Py_ssize_t n,
                               _KeySlot **fill) noexcept:
        """The cached key of these bytes (borrowed), else NULL and `fill` the slot to use."""
        cdef unsigned int i = pc_key_slot(w0, w1, n)
        cdef _KeySlot *s = &self.slots[i]
        if s.n == n and s.w0 == w0 and s.w1 == w1:
            return s.key
        cdef _KeySlot *t = &self.slots[i ^ 1]
        if t.n == n and t.w0 == w0 and t.w1 == w1:
            return t.key
        fill[0] = t if (s.key != NULL and t.key == NULL) else s
        return NULL

    cdef inline void keep(self, _KeySlot *s, key, uint64_t w0, uint64_t w1,
                          Py_ssize_t n) noexcept:
        cdef PyObject *old = s.key
        Py_INCREF(key)
        s.key = <PyObject*>key
        s.w0 = w0
        s.w1 = w1
        s.n = n
        Py_XDECREF(old)


@cython.final
@cython.no_gc           # holds no reference back to itself: never part of a cycle
@cython.freelist(4)     # one per call: recycled instead of allocated
cdef class _DecodeState:
    cdef const unsigned char *p
    cdef Py_ssize_t pos
    cdef Py_ssize_t end
    cdef object base            # read-only 1-D byte memoryview of the input (see _mv)
    cdef object src             # the input when it is bytes (base is then made on demand)
    cdef _KeyCache keys         # None: no key cache
    cdef object dict_type
    cdef bint plain_dict
    cdef dict decoders
    cdef object rtype_hook
    cdef bint strict
    cdef bint copy
    cdef int max_depth
    cdef int key_kind            # of the last key read: 0 other, 1 _rtype, 2 _rvalue
    cdef bint bin_views          # plain bins as views of the input instead of bytes
    cdef bint ndarray_fast       # no codec overrides "ndarray": the in-place reader applies
    cdef Py_ssize_t items        # max_items budget left (array items, map keys and values)
    cdef Py_ssize_t max_items
    cdef int in_key              # > 0 while a non-fixstr map key is read

    cdef inline int _charge(self, Py_ssize_t n, Py_ssize_t start) except -1:
        self.items -= n
        if self.items < 0:
            raise DecodeError(f"more than max_items={self.max_items} values", start)
        return 0

    cdef object _array_at(self, dt, int nd, cnp.npy_intp *dims, Py_ssize_t offset):
        """A read-only array over the input's bytes at `offset` (unaligned allowed), its base
        the input (bytes, or the read-only view that keeps the buffer exported); a copy with
        copy=True. Built through the C API: no np.frombuffer call, no reshape."""
        Py_INCREF(dt)                               # PyArray_NewFromDescr steals it
        arr = PyArray_NewFromDescr(&PyArray_Type, <PyArray_Descr*>dt, nd, dims, NULL,
                                   <void*>(self.p + offset), 0, NULL)   # flags 0: read-only
        cnp.set_array_base(<cnp.ndarray>arr, self.src if self.src is not None else self.base)
        if self.copy:
            return cnp.PyArray_NewCopy(<cnp.ndarray>arr, cnp.NPY_CORDER)
        return arr

    cdef inline object _mv(self):
        if self.base is None:
            self.base = PyMemoryView_FromObject(self.src)
        return self.base

    cdef inline int _need(self, Py_ssize_t n, str what) except -1:
        if n > self.end - self.pos:
            raise DecodeError(f"truncated input: {what} needs {n} bytes, "
                              f"{self.end - self.pos} remain", self.pos)
        return 0

    cdef Py_ssize_t _len(self, int size) except -1:
        self._need(size, "a length")
        cdef const unsigned char *q = self.p + self.pos
        self.pos += size
        if size == 1:
            return q[0]
        if size == 2:
            return pc_load16(q)
        return pc_load32(q)

    cdef object _str(self, Py_ssize_t n):
        self._need(n, "a str")
        cdef Py_ssize_t start = self.pos
        self.pos += n
        cdef PyObject *ascii
        if n <= 64:                  # short strs are mostly ASCII: no UTF-8 decoder call
            ascii = pc_ascii_str(<const char*>(self.p + start), n)
            if ascii != NULL:
                out = <object>ascii    # takes a second reference:
                Py_DECREF(out)         # hand back the one pc_ascii_str made
                return out
        try:
            return PyUnicode_DecodeUTF8(<const char*>(self.p + start), n, NULL)
        except UnicodeDecodeError as e:
            raise DecodeError(f"invalid UTF-8 in str: {e.reason}", start + e.start) from None

    cdef object _bin(self, Py_ssize_t n, bint as_ref):
        self._need(n, "a bin")
        cdef Py_ssize_t start = self.pos
        self.pos += n
        cdef _BinRef ref
        if as_ref:
            ref = _BinRef.__new__(_BinRef)
            ref.offset = start
            ref.length = n
            return ref
        return self._bin_at(start, n)

    cdef object _bin_at(self, Py_ssize_t start, Py_ssize_t n):
        """A plain bin: bytes, or a read-only view of the input with bin_views=True."""
        if self.bin_views:
            return self._mv()[start:start + n]
        return PyBytes_FromStringAndSize(<const char*>(self.p + start), n)

    cdef int skip(self, int depth) except -1:
        """Step over one value, checking only lengths and depth."""
        self._need(1, "a value")
        cdef Py_ssize_t start = self.pos
        cdef unsigned char b = self.p[start]
        cdef Py_ssize_t n, i
        self.pos += 1
        if b <= 0x7F or b >= 0xE0 or b == 0xC0 or b == 0xC2 or b == 0xC3:
            return 0
        if b <= 0x9F:
            n = (b & 0x0F) * (2 if b <= 0x8F else 1)
        elif b <= 0xBF:
            n = b & 0x1F
            self._need(n, "a str")
            self.pos += n
            return 0
        elif 0xC4 <= b <= 0xC6 or 0xD9 <= b <= 0xDB:
            n = self._len(1 << ((b - 0xC4) if b <= 0xC6 else (b - 0xD9)))
            self._need(n, "a bin" if b <= 0xC6 else "a str")
            self.pos += n
            return 0
        elif b == 0xCA or b == 0xCB or 0xCC <= b <= 0xD3:
            n = 4 if b == 0xCA else 8 if b == 0xCB else 1 << ((b - 0xCC) & 3)
            self._need(n, "a number")
            self.pos += n
            return 0
        elif 0xDC <= b <= 0xDF:
            n = self._len(2 if (b == 0xDC or b == 0xDE) else 4) * (2 if b >= 0xDE else 1)
        elif (0xC7 <= b <= 0xC9) or (0xD4 <= b <= 0xD8):
            raise DecodeError(f"msgpack ext type 0x{b:02x} is not supported", start)
        else:
            raise DecodeError(f"invalid msgpack type byte 0x{b:02x}", start)
        if depth >= self.max_depth:
            raise DecodeError(f"nesting deeper than max_depth={self.max_depth}", start)
        if n > self.end - self.pos:     # worded as read() words it
            what = f"a map of {n // 2} entries" if b <= 0x8F or b >= 0xDE else \
                f"an array of {n} items"
            raise DecodeError(f"truncated input: {what} needs at least {n} bytes, "
                              f"{self.end - self.pos} remain", self.pos)
        for i in range(n):
            self.skip(depth + 1)
        return 0

    cdef object read(self, int depth, bint as_ref):
        """One value. `as_ref`: bins (and bins in an array) stay _BinRef (an `_rvalue`)."""
        self._need(1, "a value")
        cdef Py_ssize_t start = self.pos
        cdef unsigned char b = self.p[start]
        cdef const unsigned char *q
        self.pos = start + 1
        if b <= 0x7F:
            return <long>b
        if b >= 0xE0:
            return <long>(<signed char>b)
        if b <= 0xBF:
            if b >= 0xA0:
                return self._str(b & 0x1F)
            if b >= 0x90:
                return self._array(b & 0x0F, depth, start, as_ref)
            return self._map(b & 0x0F, depth, start)
        # 0xC0..0xDF: one switch (equality tests only, so Cython emits a C switch)
        if b == 0xC0:
            return None
        elif b == 0xC2:
            return False
        elif b == 0xC3:
            return True
        elif b == 0xCB:
            self._need(8, "a float64")
            q = self.p + self.pos
            self.pos += 8
            return PyFloat_FromDouble(pc_load_double(q))
        elif b == 0xCC or b == 0xCD or b == 0xCE or b == 0xCF:
            return self._uint(b)
        elif b == 0xD0 or b == 0xD1 or b == 0xD2 or b == 0xD3:
            return self._sint(b)
        elif b == 0xCA:
            self._need(4, "a float32")
            q = self.p + self.pos
            self.pos += 4
            return PyFloat_FromDouble(pc_load_float(q))
        elif b == 0xD9 or b == 0xDA or b == 0xDB:
            return self._str(self._len(1 << (b - 0xD9)))
        elif b == 0xC4 or b == 0xC5 or b == 0xC6:
            return self._bin(self._len(1 << (b - 0xC4)), as_ref)
        elif b == 0xDC or b == 0xDD:
            return self._array(self._len(2 if b == 0xDC else 4), depth, start, as_ref)
        elif b == 0xDE or b == 0xDF:
            return self._map(self._len(2 if b == 0xDE else 4), depth, start)
        elif b == 0xC1:
            raise DecodeError(f"invalid msgpack type byte 0x{b:02x}", start)
        raise DecodeError(f"msgpack ext type 0x{b:02x} is not supported", start)

    cdef inline object _uint(self, unsigned char b):
        cdef int size = 1 << (b - 0xCC)
        self._need(size, "an int")
        cdef const unsigned char *q = self.p + self.pos
        self.pos += size
        if size == 1:
            return <long>q[0]
        if size == 2:
            return <long>pc_load16(q)
        if size == 4:
            return PyLong_FromLongLong(pc_load32(q))
        return PyLong_FromUnsignedLongLong(pc_load64(q))

    cdef inline object _sint(self, unsigned char b):
        cdef int size = 1 << (b - 0xD0)
        self._need(size, "an int")
        cdef const unsigned char *q = self.p + self.pos
        self.pos += size
        if size == 1:
            return <long>(<int8_t>q[0])
        if size == 2:
            return <long>(<int16_t>pc_load16(q))
        if size == 4:
            return <long>(<int32_t>pc_load32(q))
        return PyLong_FromLongLong(<int64_t>pc_load64(q))

    cdef object _array(self, Py_ssize_t n, int depth, Py_ssize_t start, bint as_ref):
        if depth >= self.max_depth:
            raise DecodeError(f"nesting deeper than max_depth={self.max_depth}", start)
        if n > self.end - self.pos:   # every item takes at least one byte
            raise DecodeError(f"truncated input: an array of {n} items needs at least {n} "
                              f"bytes, {self.end - self.pos} remain", self.pos)
        self._charge(n, start)
        cdef list out = PyList_New(n)
        cdef Py_ssize_t i
        for i in range(n):
            item = self.read(depth + 1, as_ref)
            Py_INCREF(item)
            PyList_SET_ITEM(out, i, item)
        return out

    cdef inline object _cached_key(self, Py_ssize_t n):
        """The fixstr key of n bytes (1.._KEY_MAX, all in the input) at pos + 1, from the
        cache or decoded and kept."""
        cdef uint64_t w0, w1
        cdef _KeySlot *fill = NULL
        cdef const unsigned char *kp = self.p + self.pos + 1
        pc_key_words(kp, n, self.end - self.pos - 1, &w0, &w1)
        cdef PyObject *c = self.keys.find(w0, w1, n, &fill)
        if c != NULL:
            self.pos += 1 + n
            return <object>c
        self.pos += 1
        key = self._str(n)
        self.keys.keep(fill, key, w0, w1, n)
        return key

    cdef inline object _key(self, int depth):
        """A map key; sets `key_kind`. The common one (a short fixstr not starting with "_",
        so neither `_rtype` nor `_rvalue`) here, the others in _key_other."""
        cdef Py_ssize_t kpos = self.pos
        cdef Py_ssize_t n
        if kpos < self.end and self.keys is not None:
            n = <Py_ssize_t>self.p[kpos] - 0xA0
            if 0 < n <= _KEY_MAX and n < self.end - kpos and self.p[kpos + 1] != 0x5F:
                self.key_kind = 0
                return self._cached_key(n)
        return self._key_other(depth)

    cdef object _key_other(self, int depth):
        """A map key: str fast path (sets `key_kind` for `_rtype`/`_rvalue` by raw compare);
        bytes; other types only with strict_map_key=False."""
        cdef Py_ssize_t kpos = self.pos
        cdef Py_ssize_t n
        self._need(1, "a map key")
        cdef unsigned char b = self.p[kpos]
        self.key_kind = 0
        if 0xA0 <= b <= 0xBF:
            n = b & 0x1F
            if n >= self.end - kpos:          # truncated: _str reports it
                self.pos += 1
                return self._str(n)
            if n == 6 and memcmp(self.p + kpos + 1, b"_rtype", 6) == 0:
                self.key_kind = 1
            elif n == 7 and memcmp(self.p + kpos + 1, b"_rvalue", 7) == 0:
                self.key_kind = 2
            if n > _KEY_MAX or n == 0 or self.keys is None:
                self.pos += 1
                return self._str(n)
            return self._cached_key(n)
        # bins in keys are bytes (hashable), never views; maps are refused (see _map)
        cdef bint views = self.bin_views
        self.bin_views = False
        self.in_key += 1
        key = self.read(depth + 1, False)
        self.in_key -= 1
        self.bin_views = views
        self.key_kind = 0
        if PyUnicode_Check(key):
            if key == _S_RTYPE:
                self.key_kind = 1
            elif key == _S_RVALUE:
                self.key_kind = 2
            return key
        if PyBytes_Check(key):
            return key
        if self.strict:
            raise DecodeError(f"map key of type {type(key).__name__} is not str "
                              "(strict_map_key=False allows it)", kpos)
        if isinstance(key, list):
            key = _hashable(key, kpos)
        try:
            hash(key)
        except TypeError:
            raise DecodeError(f"map key of type {type(key).__name__} is not hashable",
                              kpos) from None
        return key

    cdef object _map(self, Py_ssize_t n, int depth, Py_ssize_t start):
        if depth >= self.max_depth:
            raise DecodeError(f"nesting deeper than max_depth={self.max_depth}", start)
        if 2 * n > self.end - self.pos:
            raise DecodeError(f"truncated input: a map of {n} entries needs at least "
                              f"{2 * n} bytes, {self.end - self.pos} remain", self.pos)
        if self.in_key:
            raise DecodeError("a map cannot be a map key or part of one", start)
        self._charge(2 * n, start)
        if n == 4 and depth + 1 < self.max_depth and self.ndarray_fast:
            arr = self._fast_ndarray()
            if arr is not None:
                return arr
        cdef dict d = pc_dict_presized(n)
        cdef Py_ssize_t i
        cdef bint has_rtype = False
        cdef bint has_ref = False
        for i in range(n):
            key = self._key(depth)
            if self.key_kind == 2:
                value = self.read(depth + 1, True)
                has_ref = True
            else:
                if self.key_kind == 1:
                    has_rtype = True
                value = self.read(depth + 1, False)
            d[key] = value
        if has_rtype:
            rtype = d[_S_RTYPE]
            if type(rtype) is str:
                return self._rtype_map(d, <str>rtype, start)
        if has_ref:
            d[_S_RVALUE] = self._plain(d[_S_RVALUE], self.bin_views)
        return d if self.plain_dict else self._wrap(d)

    cdef object _fast_ndarray(self):
        """The ndarray map exactly as hypha-rpc writes it (_rtype, _rvalue, _rshape, _rdtype,
        fixed-width keys, a fixarray shape of positive ints, a fixstr dtype) read in place,
        without building the map. None (position untouched) for any other shape: the
        general path then reads it and reports problems."""
        cdef const unsigned char *p = self.p
        cdef Py_ssize_t pos = self.pos
        cdef Py_ssize_t end = self.end
        cdef Py_ssize_t nbytes, data, ndim, i, count, dim, dlen, itemsize
        cdef uint64_t ucount = 1
        cdef object o
        cdef unsigned char b
        if end - pos < 15 + 8 + 2 or memcmp(p + pos, b"\xa6_rtype\xa7ndarray\xa7_rvalue", 23):
            return None
        pos += 23
        b = p[pos]
        if b == 0xC4:
            nbytes = p[pos + 1]
            pos += 2
        elif b == 0xC5 and end - pos >= 3:
            nbytes = pc_load16(p + pos + 1)
            pos += 3
        elif b == 0xC6 and end - pos >= 5:
            nbytes = pc_load32(p + pos + 1)
            pos += 5
        else:
            return None
        if nbytes > end - pos:
            return None
        data = pos
        pos += nbytes
        if end - pos < 9 or memcmp(p + pos, b"\xa7_rshape", 8):
            return None
        pos += 8
        b = p[pos]
        if b < 0x91 or b > 0x9F:
            return None
        ndim = b & 0x0F
        pos += 1
        cdef cnp.npy_intp dims[16]
        for i in range(ndim):   # positive dims as msgpack-python writes them
            if end - pos < 5:
                return None
            b = p[pos]
            if 0 < b <= 0x7F:
                dim = b
                pos += 1
            elif b == 0xCC:
                dim = p[pos + 1]
                pos += 2
            elif b == 0xCD:
                dim = pc_load16(p + pos + 1)
                pos += 3
            elif b == 0xCE:
                dim = pc_load32(p + pos + 1)
                pos += 5
            else:               # zero (empty array) or 64-bit dims: the general path
                return None
            if dim > nbytes:    # cannot match the byte length
                return None
            ucount *= <uint64_t>dim   # both factors < 2**32: no overflow in 64 unsigned bits
            if ucount > <uint64_t>nbytes:
                return None
            dims[i] = dim
        if end - pos < 9:
            return None
        if memcmp(p + pos, b"\xa7_rdtype", 8):
            return None
        pos += 8
        b = p[pos]
        if b < 0xA1 or b > 0xBF:
            return None
        dlen = b & 0x1F
        if dlen > end - pos - 1 or ndim > self.items:
            return None
        for i in range(dlen):   # dtype names are ASCII; the general path reports bad UTF-8
            if p[pos + 1 + i] >= 0x80:
                return None
        sdtype = PyUnicode_DecodeUTF8(<const char*>(p + pos + 1), dlen, NULL)
        dt = _DTYPE_PARSED.get(sdtype)
        if dt is None:
            return None
        itemsize = dt.itemsize      # both factors <= nbytes < 2**32: no overflow
        if itemsize > nbytes or ucount * <uint64_t>itemsize != <uint64_t>nbytes:
            return None
        arr = self._array_at(dt, <int>ndim, dims, data)
        self.items -= ndim      # the shape's items, as the general path counts them
        self.pos = pos + 1 + dlen
        return arr

    cdef object _wrap(self, dict d):
        out = self.dict_type()
        for key, value in d.items():
            out[key] = value
        return out

    cdef object _plain(self, value, bint views):
        """An `_rvalue` that is not consumed as a buffer: bins become bytes (views if
        `views`)."""
        cdef _BinRef ref
        if isinstance(value, _BinRef):
            ref = <_BinRef>value
            if views:
                return self._mv()[ref.offset:ref.offset + ref.length]
            return PyBytes_FromStringAndSize(<const char*>(self.p + ref.offset), ref.length)
        if isinstance(value, list):
            return [self._plain(v, views) for v in <list>value]
        return value

    cdef object _view(self, value, Py_ssize_t start):
        """An `_rvalue` consumed as a buffer: a view of the input (pieces are joined)."""
        cdef _BinRef ref
        if isinstance(value, _BinRef):
            ref = <_BinRef>value
            return self._mv()[ref.offset:ref.offset + ref.length]
        if isinstance(value, list):
            out = []
            for v in <list>value:
                if not isinstance(v, _BinRef):
                    raise DecodeError("_rvalue pieces must be bins",
                                      start)
                ref = <_BinRef>v
                out.append(self._mv()[ref.offset:ref.offset + ref.length])
            return out
        return value   # a nested memoryview map already decoded to a view, or bad input

    cdef object _rtype_map(self, dict d, str rtype, Py_ssize_t start):
        decoder = self.decoders.get(rtype) if self.decoders else None
        if decoder is None:
            if rtype == "ndarray":
                return self._ndarray(d, start)
            if rtype == "typedarray" or rtype == "memoryview":
                if _S_RVALUE in d:
                    d[_S_RVALUE] = self._view(d[_S_RVALUE], start)
                if rtype == "memoryview":
                    return _build_memoryview(d, start, self.copy)
                return _build_ndarray(d, start, self.copy, True)
        if _S_RVALUE in d:   # set items and orderedmap keys must hash: their bins are bytes
            d[_S_RVALUE] = self._plain(d[_S_RVALUE], self.bin_views and (
                decoder is not None or (rtype != "set" and rtype != "orderedmap")))
        if decoder is None:
            if rtype == "set":
                return _build_set(d, start)
            if rtype == "orderedmap":
                return _build_orderedmap(d, start)
            if rtype == "error":
                return _build_error(d, start)
        d[_S_RTYPE] = d.pop(_S_RTYPE)   # last, as hypha-rpc hands it on
        out = d if self.plain_dict else self._wrap(d)
        if decoder is not None:
            return decoder(out)
        if self.rtype_hook is not None:
            return self.rtype_hook(out)
        return out

    cdef object _ndarray(self, dict d, Py_ssize_t start):
        """Fast path for the common form: one bin, a known dtype, a list shape."""
        value = d.get(_S_RVALUE)
        sdtype = d.get(_S_RDTYPE)
        shape = d.get(_S_RSHAPE)
        cdef _BinRef ref
        cdef Py_ssize_t count = 1, n, itemsize
        cdef bint plain = True
        cdef Py_ssize_t i
        cdef cnp.npy_intp dims[_MAX_NDIM]
        if isinstance(value, _BinRef) and type(shape) is list and type(sdtype) is str \
                and len(<list>shape) <= _NDIM_LIMIT:
            dt = _DTYPE_PARSED.get(sdtype)
            if dt is None:
                dt = _parse_dtype(sdtype, start)
            ref = <_BinRef>value
            itemsize = dt.itemsize
            for dim in <list>shape:   # dims that fit the byte length: no overflow below
                if type(dim) is not int or not 0 < dim <= ref.length:
                    plain = False     # zero, huge, negative or not an int: the shared rules
                    break
                n = dim
                if count > ref.length // n:
                    plain = False
                    break
                count *= n
            if plain and count and count == ref.length // itemsize \
                    and ref.length % itemsize == 0:
                if len(<list>shape) <= _MAX_NDIM:
                    for i in range(len(<list>shape)):
                        dims[i] = <cnp.npy_intp>(<list>shape)[i]
                    return self._array_at(dt, <int>len(<list>shape), dims, ref.offset)
                arr = _frombuffer(self._mv(), dt, count, ref.offset).reshape(shape)
                return arr.copy() if self.copy else arr
        if _S_RVALUE in d:
            d[_S_RVALUE] = self._view(d[_S_RVALUE], start)
        return _build_ndarray(d, start, self.copy, False)


cdef object _hashable(list key, Py_ssize_t pos):
    out = []
    for k in key:
        out.append(_hashable(k, pos) if isinstance(k, list) else k)
    return tuple(out)


cdef _DecodeState _start(buf, offset, Py_ssize_t max_size):
    """A _DecodeState over `buf` from `offset`; the caller sets the options it needs and
    pins the input (`_pin`) unless it is bytes."""
    cdef _DecodeState u = _DecodeState.__new__(_DecodeState)
    cdef Py_ssize_t size
    if PyBytes_CheckExact(buf):      # immutable and held by `src`: its pointer is stable
        u.src = buf
        u.p = <const unsigned char*>PyBytes_AS_STRING(buf)
        size = PyBytes_GET_SIZE(buf)
    else:
        u.base = _common.as_input(buf)
        size = len(u.base)
    cdef Py_ssize_t off
    if _plain_int(offset, size):     # the common case, without Python int arithmetic
        off = offset
    else:
        if type(offset) is not int:
            offset = _int_option("offset", offset, None)
        if offset < 0 or offset > size:
            raise DecodeError(f"offset {offset} outside a buffer of {size} bytes")
        off = offset
    if size - off > max_size:
        raise DecodeError(f"message of {size - off} bytes exceeds max_size={max_size}", off)
    u.pos = off
    u.end = size
    return u


cdef inline object _pin(_DecodeState u):
    """None for bytes input; else the holder of the input's buffer for the call."""
    return None if u.src is not None else _Pinned(u)


cdef class _Pinned:
    """Holds the input's buffer (and so its pointer) for the length of one call."""
    cdef Py_buffer view

    def __cinit__(self, _DecodeState u):
        PyObject_GetBuffer(u.base, &self.view, PyBUF_SIMPLE)
        u.p = <const unsigned char*>self.view.buf

    def __dealloc__(self):
        PyBuffer_Release(&self.view)


cdef inline bint _plain_int(o, long hi):
    """`o` is an int in 0..hi (hi < 0: no bound): the common case, checked in C."""
    if type(o) is not int:
        return False
    cdef int overflow = 0
    cdef long v = PyLong_AsLongAndOverflow(o, &overflow)
    return overflow == 0 and v >= 0 and (hi < 0 or v <= hi)


cdef inline Py_ssize_t _clamp(n):
    return n if n < PY_SSIZE_T_MAX else PY_SSIZE_T_MAX


cdef class Decoder:
    # The first two docstring lines are the class's signature for inspect (a cdef class's
    # __init__ has none); tests/test_public_api.py checks it equals the fallback's.
    """Decoder(*, copy=False, dict_type=dict, strict_map_key=True, max_size=2147483648, max_depth=256, codecs=None, rtype_hook=None, bin_views=False, max_items=16777216)
--

unpackb / unpack_from with options fixed (and validated) at construction.

    One instance may be shared across threads: between calls it keeps only its cache of short
    map keys (see _KeyCache). The codec registry is read at each call: codecs registered later
    apply."""
    cdef readonly bint copy
    cdef readonly object dict_type
    cdef readonly bint strict_map_key
    cdef readonly Py_ssize_t max_size
    cdef readonly int max_depth
    cdef readonly object codecs
    cdef readonly object rtype_hook
    cdef readonly bint bin_views
    cdef readonly Py_ssize_t max_items
    cdef object _registry
    cdef _KeyCache _keys

    def __init__(self, *, copy=False, dict_type=dict, strict_map_key=True,
                 max_size=DEFAULT_MAX_SIZE, max_depth=DEFAULT_MAX_DEPTH, codecs=None,
                 rtype_hook=None, bin_views=False, max_items=DEFAULT_MAX_ITEMS):
        if not ((dict_type is dict or PyCallable_Check(dict_type))
                and (codecs is None or type(codecs) is _CodecRegistry)
                and (rtype_hook is None or PyCallable_Check(rtype_hook))
                and _plain_int(max_size, -1) and _plain_int(max_depth, _DEPTH_LIMIT)
                and _plain_int(max_items, -1)):
            max_size, max_depth, max_items = _decode_options(
                dict_type, max_size, max_depth, max_items, codecs, rtype_hook)
        self.copy = copy
        self.dict_type = dict_type
        self.strict_map_key = strict_map_key
        self.max_size = _clamp(max_size)
        self.max_depth = max_depth
        self.codecs = codecs
        self.rtype_hook = rtype_hook
        self.bin_views = bin_views
        self.max_items = _clamp(max_items)
        self._registry = codecs if codecs is not None else default_registry
        self._keys = _KeyCache.__new__(_KeyCache)

    cdef _DecodeState _state(self, buf, offset):
        cdef _DecodeState u = _start(buf, offset, self.max_size)
        u.dict_type = self.dict_type
        u.plain_dict = self.dict_type is dict
        u.decoders = self._registry.decoders
        u.rtype_hook = self.rtype_hook
        u.strict = self.strict_map_key
        u.copy = self.copy
        u.max_depth = self.max_depth
        u.items = u.max_items = self.max_items
        u.bin_views = self.bin_views
        u.ndarray_fast = not u.decoders or "ndarray" not in u.decoders
        u.keys = self._keys
        return u

    def decode(self, buf):
        """The one msgpack object that fills `buf` (as unpackb)."""
        return self._decode(buf)

    cdef object _decode(self, buf):
        cdef _DecodeState u = self._state(buf, 0)
        pin = _pin(u)
        obj = u.read(0, False)
        if u.pos != u.end:
            raise DecodeError(f"extra data: {u.end - u.pos} bytes after the object", u.pos)
        return obj

    def decode_from(self, buf, offset=0):
        """(value, end_offset) of the object at `offset` (as unpack_from)."""
        cdef _DecodeState u = self._state(buf, offset)
        pin = _pin(u)
        obj = u.read(0, False)
        return obj, u.pos


cdef Decoder _DEFAULT_DECODER = Decoder()


cdef object _D_MAX_SIZE = DEFAULT_MAX_SIZE, _D_MAX_DEPTH = DEFAULT_MAX_DEPTH
cdef object _D_MAX_ITEMS = DEFAULT_MAX_ITEMS


cdef inline bint _same_int(o, d):
    """`o` is the default int `d`: by identity when it was not passed (one compare)."""
    return o is d or (type(o) is int and o == d)


cdef inline bint _defaults(copy, dict_type, strict_map_key, max_size, max_depth, codecs,
                           rtype_hook, bin_views, max_items):
    return copy is False and dict_type is dict and strict_map_key is True and \
        _same_int(max_size, _D_MAX_SIZE) and _same_int(max_depth, _D_MAX_DEPTH) and \
        codecs is None and rtype_hook is None and bin_views is False and \
        _same_int(max_items, _D_MAX_ITEMS)


def unpack_from(buf, offset=0, *, copy=False, dict_type=dict, strict_map_key=True,
                max_size=DEFAULT_MAX_SIZE, max_depth=DEFAULT_MAX_DEPTH, codecs=None,
                rtype_hook=None, bin_views=False, max_items=DEFAULT_MAX_ITEMS):
    """Decode the object starting at `offset`; returns (value, end_offset)."""
    if _defaults(copy, dict_type, strict_map_key, max_size, max_depth, codecs, rtype_hook,
                 bin_views, max_items):
        return _DEFAULT_DECODER.decode_from(buf, offset)
    return Decoder(copy=copy, dict_type=dict_type, strict_map_key=strict_map_key,
                   max_size=max_size, max_depth=max_depth, codecs=codecs,
                   rtype_hook=rtype_hook, bin_views=bin_views,
                   max_items=max_items).decode_from(buf, offset)


def unpackb(buf, *, copy=False, dict_type=dict, strict_map_key=True,
            max_size=DEFAULT_MAX_SIZE, max_depth=DEFAULT_MAX_DEPTH, codecs=None,
            rtype_hook=None, bin_views=False, max_items=DEFAULT_MAX_ITEMS):
    """Decode one msgpack object that fills `buf`; arrays are read-only views of `buf`."""
    if _defaults(copy, dict_type, strict_map_key, max_size, max_depth, codecs, rtype_hook,
                 bin_views, max_items):
        return _DEFAULT_DECODER._decode(buf)
    return Decoder(copy=copy, dict_type=dict_type, strict_map_key=strict_map_key,
                   max_size=max_size, max_depth=max_depth, codecs=codecs,
                   rtype_hook=rtype_hook, bin_views=bin_views, max_items=max_items).decode(buf)


def skip(buf, offset=0, *, max_size=DEFAULT_MAX_SIZE,
         max_depth=DEFAULT_MAX_DEPTH):
    """End offset of the msgpack object at `offset`, checking only its structure (lengths,
    depth), not its strings, keys or `_rtype` maps."""
    if not _plain_int(max_size, -1):
        max_size = _int_option("max_size", max_size, 0)
    if not _plain_int(max_depth, _DEPTH_LIMIT):
        max_depth = _depth_option(max_depth)
    cdef _DecodeState u = _start(buf, offset, max_size)
    u.max_depth = max_depth
    pin = _pin(u)
    u.skip(0)
    return u.pos


def decode_run(Decoder decoder, buf, Py_ssize_t offset, Py_ssize_t count):
    """(`count` values decoded back to back from `offset`, end offset): the stream decoder's
    loop, one call per fed piece instead of one per value. The caller has scanned the values
    complete, and checks sizes itself (the decoder's max_size would count the whole run)."""
    cdef _DecodeState u = decoder._state(buf, offset)
    pin = _pin(u)
    cdef list out = []
    cdef Py_ssize_t i
    for i in range(count):
        u.items = u.max_items        # the max_items budget is per value
        out.append(u.read(0, False))
    return out, u.pos
