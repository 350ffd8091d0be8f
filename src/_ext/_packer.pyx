# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""One pass: Python value -> Hypha `_rtype` form -> msgpack. Large buffers become segments.

Same rules and bytes as polycodec.fallback (the reference semantics); see spec.py.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_ANY_CONTIGUOUS
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.object cimport PyCallable_Check
from cpython.ref cimport PyObject
from cpython.dict cimport PyDict_Next, PyDict_GetItemWithError
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from libc.string cimport memcpy, memcmp
from libc.stdint cimport uint64_t, int64_t

cimport cython
from cpython.list cimport PyList_GET_SIZE, PyList_GET_ITEM
from cpython.tuple cimport PyTuple_GET_SIZE, PyTuple_GET_ITEM

from _endian cimport pc_store16, pc_store32, pc_store64, pc_double_bits
from _pyfast cimport pc_small_long, pc_fail_part

import numpy as np
cimport numpy as cnp

cnp.import_array()

from polycodec import _common
from polycodec.codecs import default_registry
from polycodec.errors import EncodeError
from polycodec._common import _Fail
from polycodec.spec import (
    DEFAULT_MAX_DEPTH, DEFAULT_MIN_OOB, MAX_DEPTH_LIMIT, RINTF, RTYPE, RVALUE, RSHAPE, RDTYPE,
    RTRACE,
)

cdef extern from "Python.h":
    long long PyLong_AsLongLongAndOverflow(object o, int *overflow) except? -1
    unsigned long long PyLong_AsUnsignedLongLong(object o) except? -1
    double PyFloat_AS_DOUBLE(object o)
    bint PyUnicode_CheckExact(object o)
    bint PyLong_CheckExact(object o)
    bint PyFloat_CheckExact(object o)
    bint PyDict_CheckExact(object o)
    Py_ssize_t PyDict_GET_SIZE(object o)
    bint PyList_CheckExact(object o)
    bint PyTuple_CheckExact(object o)
    double PyFloat_AsDouble(object o) except? -1.0
    bint PyLong_Check(object o)
    bint PyFloat_Check(object o)
    bint PyUnicode_Check(object o)
    bint PyBytes_Check(object o)
    bint PyList_Check(object o)
    bint PyTuple_Check(object o)
    bint PyDict_Check(object o)
    bint PyMemoryView_Check(object o)
    const char* PyUnicode_AsUTF8AndSize(object o, Py_ssize_t *size) except NULL
    Py_ssize_t PyBytes_GET_SIZE(object o)
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    const Py_ssize_t PY_SSIZE_T_MAX

cdef object _ndarray = np.ndarray
cdef object _Bin = _common.Bin
cdef object _generic = np.generic
cdef object _uint8 = np.uint8
cdef object _dtype_str = _common.dtype_str
cdef object _format_trace = _common.format_trace
cdef object _format_path = _common.format_path
cdef object _encode_options = _common.encode_options
cdef object _CodecRegistry = _common.CodecRegistry
cdef int _DEPTH_LIMIT = MAX_DEPTH_LIMIT
cdef dict _DTYPE_STR = _common._DTYPE_STR
cdef str _S_RTYPE = RTYPE
cdef str _S_RINTF = RINTF
cdef Py_ssize_t _BIG_COPY = 1 << 20      # copies this large release the GIL


@cython.final
cdef class _EncodeState:
    cdef char *buf
    cdef Py_ssize_t length
    cdef Py_ssize_t capacity
    cdef list segments           # None until a buffer is kept uncopied
    cdef object default
    cdef tuple encoders
    cdef bint strict
    cdef int max_depth
    cdef Py_ssize_t min_oob
    cdef object last_dtype       # the dtype of the last small array and its wire string
    cdef object last_ds

    def __cinit__(self):
        self.buf = NULL

    def __init__(self, default, bint strict_map_key, codecs, max_depth, min_oob):
        if not ((default is None or PyCallable_Check(default))
                and (codecs is None or type(codecs) is _CodecRegistry)
                and type(max_depth) is int and 0 <= max_depth <= _DEPTH_LIMIT
                and type(min_oob) is int and min_oob >= 1):
            max_depth, min_oob = _encode_options(default, codecs, max_depth, min_oob)
        self.capacity = 1024
        self.buf = <char*>PyMem_Malloc(self.capacity)
        if self.buf == NULL:
            raise MemoryError()
        self.length = 0
        self.segments = None        # made by the first segment (most calls have none)
        self.default = default
        self.encoders = (codecs if codecs is not None else default_registry).encoders
        self.strict = strict_map_key
        self.max_depth = max_depth
        self.min_oob = min_oob if min_oob < PY_SSIZE_T_MAX else PY_SSIZE_T_MAX

    def __dealloc__(self):
        PyMem_Free(self.buf)

    cdef void _shrink(self) noexcept:
        cdef char *nb = <char*>PyMem_Realloc(self.buf, 1024)
        if nb != NULL:
            self.buf = nb
            self.capacity = 1024

    # ---- buffer
    cdef inline int _reserve(self, Py_ssize_t n) except -1:
        if self.length + n <= self.capacity:
            return 0
        return self._grow(n)

    cdef int _grow(self, Py_ssize_t n) except -1:
        cdef Py_ssize_t need = self.length + n
        cdef Py_ssize_t cap = self.capacity * 2
        cdef char *nb
        if cap < need:
            cap = need
        nb = <char*>PyMem_Realloc(self.buf, cap)
        if nb == NULL:
            raise MemoryError()
        self.buf = nb
        self.capacity = cap
        return 0

    cdef inline int _byte(self, unsigned char b) except -1:
        if self.length >= self.capacity:
            self._reserve(1)
        self.buf[self.length] = <char>b
        self.length += 1
        return 0

    cdef inline int _raw(self, const char *data, Py_ssize_t n) except -1:
        self._reserve(n)
        if n >= _BIG_COPY:
            with nogil:
                memcpy(self.buf + self.length, data, n)
        else:
            memcpy(self.buf + self.length, data, n)
        self.length += n
        return 0

    cdef inline int _head(self, unsigned char fix, Py_ssize_t fix_limit, unsigned char code8,
                          unsigned char code16, unsigned char code32, Py_ssize_t n) except -1:
        """A msgpack length header: the fix form below fix_limit, the 8-bit form where the type
        has one (code8 != 0: str, bin), else 16 or 32 bits."""
        self._reserve(5)
        cdef char *p = self.buf + self.length
        if n < fix_limit:
            p[0] = <char>(fix | n)
            self.length += 1
        elif code8 and n <= 0xFF:
            p[0] = <char>code8
            p[1] = <char>n
            self.length += 2
        elif n <= 0xFFFF:
            p[0] = <char>code16
            pc_store16(p + 1, <unsigned short>n)
            self.length += 3
        elif n <= 0xFFFFFFFF:
            p[0] = <char>code32
            pc_store32(p + 1, <unsigned int>n)
            self.length += 5
        else:
            raise _Fail(f"{n} bytes or items do not fit a msgpack length (2**32-1)")
        return 0

    cdef inline int _bin_head(self, Py_ssize_t n) except -1:
        return self._head(0, 0, 0xC4, 0xC5, 0xC6, n)

    cdef inline int _str(self, obj) except -1:
        cdef Py_ssize_t n
        cdef char *p
        if PyUnicode_IS_COMPACT_ASCII(obj):   # the common case: the bytes are the str's own
            n = PyUnicode_GET_LENGTH(obj)
            if n < 32:              # fixstr: most keys and short values, one reserve
                self._reserve(1 + n)
                p = self.buf + self.length
                p[0] = <char>(0xA0 | n)
                memcpy(p + 1, PyUnicode_DATA(obj), n)
                self.length += 1 + n
                return 0
            return self._str_data(<const char*>PyUnicode_DATA(obj), n)
        return self._str_utf8(obj)

    cdef int _str_utf8(self, obj) except -1:
        cdef Py_ssize_t n
        cdef const char *data
        try:
            data = PyUnicode_AsUTF8AndSize(obj, &n)
        except UnicodeEncodeError as e:
            raise _Fail(f"str is not valid UTF-8: {e.reason}") from None
        return self._str_data(data, n)

    cdef int _str_data(self, const char *data, Py_ssize_t n) except -1:
        cdef char *p
        if n < 32:
            self._reserve(1 + n)
            p = self.buf + self.length
            p[0] = <char>(0xA0 | n)
            memcpy(p + 1, data, n)
            self.length += 1 + n
            return 0
        if n <= 0xFF:               # str8 (ids, addresses): one reserve, no header call
            self._reserve(2 + n)
            p = self.buf + self.length
            p[0] = <char>0xD9
            p[1] = <char>n
            memcpy(p + 2, data, n)
            self.length += 2 + n
            return 0
        self._head(0xA0, 32, 0xD9, 0xDA, 0xDB, n)
        return self._raw(data, n)

    cdef inline int _int(self, obj) except -1:
        cdef long long v
        cdef char *p
        if not pc_small_long(obj, &v):      # beyond one digit: the general writer
            return self._int_big(obj)
        # |v| < 2**30 here. This cascade repeats _uint's on purpose: small enough to be
        # inlined into every container loop (sharing _uint's made 500 ints 2.5x slower).
        self._reserve(5)
        p = self.buf + self.length
        if v >= 0:
            if v < 0x80:
                p[0] = <char>v
                self.length += 1
            elif v <= 0xFF:
                p[0] = <char>0xCC
                p[1] = <char>v
                self.length += 2
            elif v <= 0xFFFF:
                p[0] = <char>0xCD
                pc_store16(p + 1, <unsigned short>v)
                self.length += 3
            else:
                p[0] = <char>0xCE
                pc_store32(p + 1, <unsigned int>v)
                self.length += 5
        elif v >= -0x20:
            p[0] = <char>(v & 0xFF)
            self.length += 1
        elif v >= -0x80:
            p[0] = <char>0xD0
            p[1] = <char>v
            self.length += 2
        elif v >= -0x8000:
            p[0] = <char>0xD1
            pc_store16(p + 1, <unsigned short>v)
            self.length += 3
        else:
            p[0] = <char>0xD2
            pc_store32(p + 1, <unsigned int>v)
            self.length += 5
        return 0

    cdef int _int_big(self, obj) except -1:
        cdef int overflow = 0
        cdef long long v = PyLong_AsLongLongAndOverflow(obj, &overflow)
        cdef unsigned long long u
        cdef char *p
        self._reserve(9)
        p = self.buf + self.length
        if overflow == 0:
            if 0 <= v < 0x80:
                p[0] = <char>v
                self.length += 1
            elif -0x20 <= v < 0:
                p[0] = <char>(v & 0xFF)
                self.length += 1
            elif 0 < v <= 0xFF:
                p[0] = <char>0xCC
                p[1] = <char>v
                self.length += 2
            elif -0x80 <= v < 0:
                p[0] = <char>0xD0
                p[1] = <char>v
                self.length += 2
            elif 0 < v <= 0xFFFF:
                p[0] = <char>0xCD
                pc_store16(p + 1, <unsigned short>v)
                self.length += 3
            elif -0x8000 <= v < 0:
                p[0] = <char>0xD1
                pc_store16(p + 1, <unsigned short>v)
                self.length += 3
            elif 0 < v <= 0xFFFFFFFF:
                p[0] = <char>0xCE
                pc_store32(p + 1, <unsigned int>v)
                self.length += 5
            elif -0x80000000 <= v < 0:
                p[0] = <char>0xD2
                pc_store32(p + 1, <unsigned int>v)
                self.length += 5
            elif v > 0:
                p[0] = <char>0xCF
                pc_store64(p + 1, <uint64_t>v)
                self.length += 9
            else:
                p[0] = <char>0xD3
                pc_store64(p + 1, <uint64_t>v)
                self.length += 9
            return 0
        if overflow > 0:
            try:
                u = PyLong_AsUnsignedLongLong(obj)
            except OverflowError:
                raise _Fail(f"int {obj} does not fit in 64 bits") from None
            p[0] = <char>0xCF
            pc_store64(p + 1, u)
            self.length += 9
            return 0
        raise _Fail(f"int {obj} does not fit in 64 bits")

    cdef inline int _float(self, double d) except -1:
        self._reserve(9)
        cdef char *p = self.buf + self.length
        p[0] = <char>0xCB
        pc_store64(p + 1, pc_double_bits(d))
        self.length += 9
        return 0

    cdef int _flush(self) except -1:
        if self.length:
            if self.segments is None:
                self.segments = []
            self.segments.append(PyBytes_FromStringAndSize(self.buf, self.length))
            self.length = 0
        return 0

    cdef int _oob(self, view) except -1:
        """`view` (a bytes-like of the caller's memory) becomes the next segment uncopied."""
        self._flush()
        if self.segments is None:
            self.segments = []
        self.segments.append(view)
        return 0

    cdef int _bin_from(self, obj, Py_ssize_t n) except -1:
        """Copy a contiguous buffer's bytes into the output."""
        cdef Py_buffer view
        PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE | PyBUF_ANY_CONTIGUOUS)
        try:
            self._raw(<const char*>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)
        return 0

    # ---- values
    cdef inline int _scalar(self, obj) except -1:
        """1 when `obj` is a value whose writing runs no Python code (exact str, int, float;
        None, bools; the caller may hold it borrowed) and it is written, else 0."""
        if type(obj) is str:
            self._str(obj)
            return 1
        if type(obj) is int:
            self._int(obj)
            return 1
        if type(obj) is float:
            self._float(PyFloat_AS_DOUBLE(obj))
            return 1
        if obj is None:
            self._byte(0xC0)
            return 1
        if obj is True:
            self._byte(0xC3)
            return 1
        if obj is False:
            self._byte(0xC2)
            return 1
        return 0

    cdef inline int _nested(self, obj, int depth) except -1:
        """A value that is not a scalar: exact lists and dicts directly (what _container
        does for them), the rest in _container. Hooks may run: the caller holds `obj`."""
        if type(obj) is list and depth < self.max_depth and not self.encoders:
            return self._list(<list>obj, depth)    # codecs come before lists
        if type(obj) is dict and depth < self.max_depth:
            return self._dict(<dict>obj, depth)
        return self._container(obj, depth)

    cdef inline int _pack(self, obj, int depth) except -1:
        if self._scalar(obj):
            return 0
        return self._nested(obj, depth)

    cdef int _container(self, obj, int depth) except -1:
        if PyDict_CheckExact(obj) or PyList_CheckExact(obj) or PyTuple_CheckExact(obj):
            if depth >= self.max_depth:
                raise _Fail(f"nesting deeper than max_depth={self.max_depth}")
            if PyDict_CheckExact(obj):
                return self._dict(<dict>obj, depth)
            if PyList_CheckExact(obj):
                if self.encoders and self._codec(obj, depth):  # codecs come before lists
                    return 0
                return self._list(<list>obj, depth)
            return self._tuple(<tuple>obj, depth)
        if cnp.PyArray_CheckExact(obj) and not self.encoders:   # codecs come before arrays
            if depth >= self.max_depth:
                raise _Fail(f"nesting deeper than max_depth={self.max_depth}")
            return self._array(<cnp.ndarray>obj)
        return self._slow(obj, depth)

    cdef int _slow(self, obj, int depth) except -1:
        # None and bools were written by _scalar; str, int, float subclasses here
        if PyUnicode_Check(obj):
            return self._str(obj)
        if PyLong_Check(obj):
            return self._int(obj)
        if PyFloat_Check(obj):
            return self._float(PyFloat_AsDouble(obj))
        if PyBytes_Check(obj):
            return self._bytes(obj)
        if depth >= self.max_depth:
            raise _Fail(f"nesting deeper than max_depth={self.max_depth}")
        if PyDict_Check(obj):
            # subclasses (OrderedDict, attribute dicts) iterate in their own order
            return self._dict(obj if type(obj) is dict else dict(obj), depth)
        if PyTuple_Check(obj):
            return self._seq(obj, depth)
        if PyList_Check(obj):   # the reference tries codecs before its list branch
            if self.encoders and self._codec(obj, depth):
                return 0
            return self._seq(obj, depth)
        return self._other(obj, depth)

    cdef int _codec(self, obj, int depth) except -1:
        """1 if a registered codec encoded `obj`, else 0."""
        for typ, name, encoder in self.encoders:
            if isinstance(obj, typ):
                encoded = encoder(obj)
                if isinstance(encoded, dict):
                    encoded = dict(encoded)
                    encoded[_S_RTYPE] = encoded.pop(_S_RTYPE, name)  # added if missing, last
                    self._dict(encoded, depth)
                else:
                    self._pack(encoded, depth + 1)   # a replacement counts one level
                return 1
        return 0

    cdef int _bytes(self, obj) except -1:
        cdef Py_ssize_t n = PyBytes_GET_SIZE(obj)
        self._bin_head(n)
        if n >= self.min_oob:
            return self._oob(obj)
        return self._raw(PyBytes_AS_STRING(obj), n)

    cdef int _list(self, list obj, int depth) except -1:
        cdef Py_ssize_t n = PyList_GET_SIZE(obj)
        cdef Py_ssize_t i = 0
        cdef int r
        if n < 16:
            self._byte(0x90 | n)
        else:
            self._head(0x90, 16, 0, 0xDC, 0xDD, n)
        while i < n:
            # a scalar runs no Python code: used borrowed
            r = (<_obj_fn>_EncodeState._scalar)(self, <object>PyList_GET_ITEM(obj, i))
            if r == 0:
                item = <object>PyList_GET_ITEM(obj, i)  # held while hooks may run
                r = (<_pack_fn>_EncodeState._nested)(self, item, depth + 1)
                if PyList_GET_SIZE(obj) < n:        # a hook shortened it
                    n = PyList_GET_SIZE(obj)
            if r < 0:
                return pc_fail_part(_Fail, i)
            i += 1
        return 0

    cdef int _tuple(self, tuple obj, int depth) except -1:
        cdef Py_ssize_t n = PyTuple_GET_SIZE(obj)
        cdef Py_ssize_t i = 0
        self._head(0x90, 16, 0, 0xDC, 0xDD, n)
        while i < n:
            if (<_pack_fn>_EncodeState._pack)(self, <object>PyTuple_GET_ITEM(obj, i), depth + 1) < 0:  # the tuple holds it
                return pc_fail_part(_Fail, i)
            i += 1
        return 0

    cdef int _seq(self, obj, int depth) except -1:
        cdef Py_ssize_t i = 0
        self._head(0x90, 16, 0, 0xDC, 0xDD, len(obj))
        try:                      # one handler per container, not per item: the hot path
            for item in obj:
                self._pack(item, depth + 1)
                i += 1
        except _Fail as e:
            e.parts.append(i)
            raise
        return 0

    cdef int _dict(self, dict obj, int depth) except -1:
        if self.default is not None and _S_RINTF in obj:
            out = self.default(obj)
            if out is not obj:
                return self._pack(out, depth + 1)
        cdef Py_ssize_t n = PyDict_GET_SIZE(obj)
        if n < 16:
            self._byte(0x80 | n)
        else:
            self._head(0x80, 16, 0, 0xDE, 0xDF, n)
        cdef Py_ssize_t ppos = 0
        cdef PyObject *pk = NULL
        cdef PyObject *pv
        cdef bint has_rtype = False
        cdef int r
        rvalue = None
        # Keys and plain values are used borrowed: writing them runs no Python code, so the
        # dict cannot change meanwhile. Other values may call hooks: references then. A
        # failure adds the key to the EncodeError path on the way out (no per-dict try).
        while PyDict_Next(obj, &ppos, &pk, &pv):
            if PyUnicode_CheckExact(<object>pk):
                # an exact-str `_rtype` key is written last, with its value
                if PyUnicode_IS_COMPACT_ASCII(<object>pk) and \
                        PyUnicode_GET_LENGTH(<object>pk) == 6 and \
                        (<const char*>PyUnicode_DATA(<object>pk))[0] == b'_' and \
                        memcmp(PyUnicode_DATA(<object>pk), b"_rtype", 6) == 0:
                    has_rtype = True
                    rvalue = <object>pv     # held: hooks may run before it is written
                    continue
                if (<_obj_fn>_EncodeState._str)(self, <object>pk) < 0:
                    return pc_fail_part(_Fail, <object>pk)
                r = (<_obj_fn>_EncodeState._scalar)(self, <object>pv)
                if r:
                    if r < 0:
                        return pc_fail_part(_Fail, <object>pk)
                    continue
                key = <object>pk
                value = <object>pv
                r = (<_pack_fn>_EncodeState._nested)(self, value, depth + 1)
                if r < 0:
                    return pc_fail_part(_Fail, key)
                continue
            key = <object>pk
            value = <object>pv
            # a key of another type (strict_map_key=False), then any value
            if PyUnicode_Check(key):
                r = (<_obj_fn>_EncodeState._str)(self, key)
            elif PyBytes_Check(key):
                r = (<_obj_fn>_EncodeState._bytes)(self, key)
            elif self.strict:
                e = _Fail(f"map key {key!r} of type {type(key).__name__} is not str "
                          "(strict_map_key=False allows it)")
                e.parts.append(key)
                raise e
            else:
                r = (<_pack_fn>_EncodeState._pack)(self, key, depth + 1)
            if r < 0:
                return pc_fail_part(_Fail, key)
            r = (<_pack_fn>_EncodeState._pack)(self, value, depth + 1)
            if r < 0:
                return pc_fail_part(_Fail, key)
        if has_rtype:
            self._str(_S_RTYPE)
            if (<_pack_fn>_EncodeState._pack)(self, rvalue, depth + 1) < 0:
                return pc_fail_part(_Fail, _S_RTYPE)
        return 0

    cdef int _other(self, obj, int depth) except -1:
        if type(obj) is _Bin:
            return self._plain_bin((<object>obj).data)
        default = self.default
        if default is not None and PyCallable_Check(obj):
            return self._default(obj, depth)
        if self.encoders and self._codec(obj, depth):
            return 0
        if isinstance(obj, _ndarray) or isinstance(obj, _generic):
            return self._ndarray(obj)
        if isinstance(obj, Exception):
            self._head(0x80, 16, 0, 0xDE, 0xDF, 3)
            self._str(RTYPE)
            self._str("error")
            self._str(RVALUE)
            self._str(str(obj))
            self._str(RTRACE)
            return self._str(_format_trace(obj))
        if PyMemoryView_Check(obj):
            return self._memoryview(obj)
        if isinstance(obj, set):
            self._head(0x80, 16, 0, 0xDE, 0xDF, 2)
            self._str(RTYPE)
            self._str("set")
            self._str(RVALUE)
            try:
                return self._seq(list(obj), depth)
            except _Fail as e:
                e.parts.append(RVALUE)
                raise
        if default is not None:
            return self._default(obj, depth)
        raise _Fail(f"unsupported type {type(obj).__module__}.{type(obj).__qualname__}")

    cdef int _default(self, obj, int depth) except -1:
        out = self.default(obj)
        if out is obj:
            raise _Fail(f"default returned the {type(obj).__name__} unchanged")
        return self._pack(out, depth + 1)

    cdef int _plain_bin(self, data) except -1:
        mv = memoryview(data)
        cdef Py_ssize_t n = mv.nbytes
        self._bin_head(n)
        if mv.c_contiguous:
            if n >= self.min_oob:
                return self._oob(mv if (mv.format == "B" and mv.ndim == 1) else mv.cast("B"))
            return self._bin_from(mv, n)
        data = mv.tobytes()
        return self._oob(data) if n >= self.min_oob else self._bin_from(data, n)

    cdef int _memoryview(self, obj) except -1:
        self._head(0x80, 16, 0, 0xDE, 0xDF, 2)
        self._str(RTYPE)
        self._str("memoryview")
        self._str(RVALUE)
        return self._plain_bin(obj)

    cdef int _array(self, cnp.ndarray arr) except -1:
        """An exact ndarray through the C API: what _ndarray writes, without attribute calls
        (small C-contiguous arrays; the others go to _ndarray)."""
        cdef Py_ssize_t n = cnp.PyArray_NBYTES(arr)
        if n >= self.min_oob or not cnp.PyArray_IS_C_CONTIGUOUS(arr):
            return self._ndarray(arr)
        dtype = <object>cnp.PyArray_DESCR(arr)
        if dtype is not self.last_dtype:
            ds = _DTYPE_STR.get(dtype)
            if ds is None:
                ds = _dtype_str(dtype)      # refuses object, structured, subarray dtypes
            self.last_ds = ds
            self.last_dtype = dtype
        cdef int nd = cnp.PyArray_NDIM(arr)
        cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(arr)
        cdef int i
        self._raw(b"\x84\xa6_rtype\xa7ndarray\xa7_rvalue", 24)
        self._bin_head(n)
        self._raw(<const char*>cnp.PyArray_DATA(arr), n)
        self._raw(b"\xa7_rshape", 8)
        self._head(0x90, 16, 0, 0xDC, 0xDD, nd)
        for i in range(nd):
            self._uint(<unsigned long long>dims[i])
        self._raw(b"\xa7_rdtype", 8)
        return self._str(self.last_ds)

    cdef int _uint(self, unsigned long long v) except -1:
        self._reserve(9)
        cdef char *p = self.buf + self.length
        if v < 0x80:
            p[0] = <char>v
            self.length += 1
        elif v <= 0xFF:
            p[0] = <char>0xCC
            p[1] = <char>v
            self.length += 2
        elif v <= 0xFFFF:
            p[0] = <char>0xCD
            pc_store16(p + 1, <unsigned short>v)
            self.length += 3
        elif v <= 0xFFFFFFFF:
            p[0] = <char>0xCE
            pc_store32(p + 1, <unsigned int>v)
            self.length += 5
        else:
            p[0] = <char>0xCF
            pc_store64(p + 1, <uint64_t>v)
            self.length += 9
        return 0

    cdef int _ndarray(self, arr) except -1:
        dtype = arr.dtype
        ds = _DTYPE_STR.get(dtype)
        if ds is None:
            ds = _dtype_str(dtype)
        shape = arr.shape
        cdef Py_ssize_t n = arr.nbytes
        self._head(0x80, 16, 0, 0xDE, 0xDF, 4)
        self._str(RTYPE)
        self._str("ndarray")
        self._str(RVALUE)
        self._bin_head(n)
        if isinstance(arr, _generic):
            self._bin_from(arr.tobytes(), n)
        elif not arr.flags.c_contiguous:
            data = arr.tobytes()
            if n >= self.min_oob:
                self._oob(data)
            else:
                self._bin_from(data, n)
        elif n >= self.min_oob:
            self._oob(_byte_view(arr))
        elif n:
            try:
                self._bin_from(arr, n)
            except (BufferError, ValueError, TypeError):   # e.g. datetime64: no buffer export
                self._bin_from(_byte_view(arr), n)
        self._str(RSHAPE)
        self._head(0x90, 16, 0, 0xDC, 0xDD, len(shape))
        for dim in shape:
            self._int(dim)
        self._str(RDTYPE)
        return self._str(ds)

    # ---- results
    cdef list _take(self):
        self._flush()
        segs = self.segments
        self.segments = None
        return segs if segs is not None else []

    cdef bytes _join(self):
        """One bytes object; large segments are copied once, without the GIL."""
        if self.segments is None:          # the usual case: no buffer was kept uncopied
            return PyBytes_FromStringAndSize(self.buf, self.length)
        self._flush()
        cdef Py_ssize_t total = 0
        for seg in self.segments:
            total += memoryview(seg).nbytes
        out = PyBytes_FromStringAndSize(NULL, total)
        _copy_segments(PyBytes_AS_STRING(out), self.segments)
        self.segments = None
        return out

    cdef int _run(self, obj) except -1:
        # _pack unchecked: no exception state saved per call, a failure converted on the way out
        if (<_pack_fn>_EncodeState._pack)(self, obj, 0) < 0:
            return _encode_error()
        return 0


cdef int _pending() except -1:
    """-1 with the pending exception left set: a try around the call catches it."""
    return -1


cdef int _encode_error() except -1:
    """The pending exception raised again; a _Fail becomes the EncodeError with its path."""
    try:
        _pending()
    except _Fail as e:
        raise EncodeError(e.reason, _format_path(e.parts)) from None
    return -1


# _pack without Cython's error check at the call: a container's loop then records its index
# in the EncodeError path only when an item failed (no exception state saved per container).
ctypedef int (*_pack_fn)(_EncodeState, object, int) noexcept
ctypedef int (*_obj_fn)(_EncodeState, object) noexcept


cdef object _byte_view(arr):
    """A flat uint8 view of a C-contiguous array (works for dtypes without buffer export)."""
    return memoryview(arr.reshape(-1).view(_uint8))


cdef Py_ssize_t _KEEP_CAPACITY = 1 << 22   # a reused buffer larger than this (4 MiB) is shrunk
cdef Py_ssize_t _DEFAULT_MIN_OOB = DEFAULT_MIN_OOB
cdef str _S_ENCODERS = "encoders"


cdef class Encoder:
    # The first two docstring lines are the class's signature for inspect (a cdef class's
    # __init__ has none); tests/test_public_api.py checks it equals the fallback's.
    """Encoder(*, default=None, strict_map_key=True, codecs=None, max_depth=256, min_oob=65536)
--

packb / pack_segments with options fixed (and validated) at construction.

    One instance may be shared across threads: a call uses the instance's scratch buffer when
    no other call holds it (checked and taken under the GIL) and a fresh one otherwise. The
    codec registry is read at each call: codecs registered later apply."""
    cdef readonly object default
    cdef readonly bint strict_map_key
    cdef readonly object codecs
    cdef readonly int max_depth
    cdef readonly Py_ssize_t min_oob
    cdef object _registry
    cdef object _registry_dict      # its __dict__ (None if it has none): `encoders` read there
    cdef _EncodeState _scratch
    cdef bint _busy

    def __init__(self, *, default=None, strict_map_key=True, codecs=None,
                 max_depth=DEFAULT_MAX_DEPTH, min_oob=DEFAULT_MIN_OOB):
        max_depth, min_oob = _encode_options(default, codecs, max_depth, min_oob)
        self.default = default
        self.strict_map_key = strict_map_key
        self.codecs = codecs
        self.max_depth = max_depth
        self.min_oob = min_oob if min_oob < PY_SSIZE_T_MAX else PY_SSIZE_T_MAX
        self._registry = codecs if codecs is not None else default_registry
        d = getattr(self._registry, "__dict__", None)
        self._registry_dict = d if type(d) is dict else None

    def encode(self, obj):
        """msgpack bytes of `obj` (as packb)."""
        cdef _EncodeState p = _acquire(self, _DEFAULT_MIN_OOB)
        try:
            p._run(obj)
            return p._join()
        finally:
            _release(self, p)

    def pack_segments(self, obj):
        """msgpack of `obj` as pieces; buffers >= min_oob are views (as pack_segments)."""
        cdef _EncodeState p = _acquire(self, self.min_oob)
        try:
            p._run(obj)
            return p._take()
        finally:
            _release(self, p)

    def encode_into(self, obj, bytearray buffer, Py_ssize_t offset=0):
        """Write the msgpack bytes of `obj` into `buffer` at `offset` (-1: at its end) and
        end `buffer` there, as msgspec's encode_into: many values, one growing buffer."""
        cdef _EncodeState p = _acquire(self, _DEFAULT_MIN_OOB)
        try:
            p._run(obj)
            _write_into(buffer, offset, p)
        finally:
            _release(self, p)


cdef inline _EncodeState _acquire(Encoder e, Py_ssize_t min_oob):
    """The instance's scratch state when no other call holds it, else a fresh one."""
    cdef _EncodeState p
    cdef PyObject *encoders = NULL
    if not e._busy and e._scratch is not None:
        e._busy = True
        p = e._scratch
    elif not e._busy:
        p = e._scratch = _EncodeState(e.default, e.strict_map_key, e._registry, e.max_depth,
                                      min_oob)
        e._busy = True
    else:
        p = _EncodeState(e.default, e.strict_map_key, e._registry, e.max_depth, min_oob)
    p.length = 0
    p.min_oob = min_oob
    # the registry's current encoders (registered later apply): one dict look-up, not an
    # attribute look-up, per call
    if e._registry_dict is not None:
        encoders = PyDict_GetItemWithError(e._registry_dict, _S_ENCODERS)
    p.encoders = <object>encoders if encoders != NULL else e._registry.encoders
    return p


cdef inline void _release(Encoder e, _EncodeState p) noexcept:
    if p is not e._scratch:
        return
    p.segments = None
    if p.capacity > _KEEP_CAPACITY:
        p._shrink()
    e._busy = False


cdef Encoder _DEFAULT_ENCODER = Encoder()


def packb(obj, *, default=None, strict_map_key=True, codecs=None,
          max_depth=DEFAULT_MAX_DEPTH):
    """msgpack bytes of the `_rtype` form (equal to msgpack.packb(RPC._encode(obj)))."""
    if default is None and codecs is None and strict_map_key is True and \
            type(max_depth) is int and max_depth == DEFAULT_MAX_DEPTH:
        return _DEFAULT_ENCODER.encode(obj)
    return Encoder(default=default, strict_map_key=strict_map_key, codecs=codecs,
                   max_depth=max_depth).encode(obj)


def pack_segments(obj, *, default=None, min_oob=DEFAULT_MIN_OOB, strict_map_key=True,
                  codecs=None, max_depth=DEFAULT_MAX_DEPTH):
    """msgpack of the `_rtype` form as a list of pieces; buffers >= min_oob are views."""
    return Encoder(default=default, strict_map_key=strict_map_key, codecs=codecs,
                   max_depth=max_depth, min_oob=min_oob).pack_segments(obj)


cdef int _write_into(bytearray out, Py_ssize_t offset, _EncodeState p) except -1:
    """The encoded bytes of `p` into `out` at `offset`; `out` then ends with them."""
    cdef Py_ssize_t size = PyByteArray_GET_SIZE(out)
    cdef Py_ssize_t total
    if offset == -1:
        offset = size
    if offset < 0 or offset > size:
        raise ValueError(f"offset {offset} outside a buffer of {size} bytes")
    segs = p._take() if p.segments is not None else None
    total = p.length if segs is None else sum([memoryview(seg).nbytes for seg in segs])
    PyByteArray_Resize(out, offset + total)
    cdef char *dst = PyByteArray_AS_STRING(out) + offset
    if segs is None:
        memcpy(dst, p.buf, p.length)
    else:
        _copy_segments(dst, segs)
    return 0


cdef int _copy_segments(char *dst, list segs) except -1:
    """The segments back to back at `dst`; large copies release the GIL."""
    cdef Py_buffer view
    cdef Py_ssize_t pos = 0
    for seg in segs:
        PyObject_GetBuffer(seg, &view, PyBUF_SIMPLE | PyBUF_ANY_CONTIGUOUS)
        try:
            if view.len >= _BIG_COPY:
                with nogil:
                    memcpy(dst + pos, view.buf, view.len)
            else:
                memcpy(dst + pos, view.buf, view.len)
            pos += view.len
        finally:
            PyBuffer_Release(&view)
    return 0
