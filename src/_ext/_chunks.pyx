# cython: language_level=3, boundscheck=False, wraparound=False
"""The one copy of a chunked message: chunk bytes into the reassembly buffer, without the GIL."""
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_WRITABLE
from libc.string cimport memcpy


def copy_into(dst, Py_ssize_t start, src):
    """dst[start:start+len(src)] = src, for a writable contiguous dst."""
    cdef Py_buffer d, s
    PyObject_GetBuffer(dst, &d, PyBUF_SIMPLE | PyBUF_WRITABLE)
    try:
        PyObject_GetBuffer(src, &s, PyBUF_SIMPLE)
        try:
            if start < 0 or start + s.len > d.len:
                raise ValueError(f"copy of {s.len} bytes at {start} overflows {d.len} bytes")
            with nogil:
                memcpy(<char*>d.buf + start, s.buf, s.len)
        finally:
            PyBuffer_Release(&s)
    finally:
        PyBuffer_Release(&d)
