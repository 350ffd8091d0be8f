from cpython.ref cimport PyObject
from libc.stdint cimport uint64_t

cdef extern from "_pyfast.h":
    bint pc_small_long(object o, long long *v)
    dict pc_dict_presized(Py_ssize_t n)
    int pc_fail_part(object fail_type, object part) except -1
    # decode section
    PyObject *pc_ascii_str(const char *p, Py_ssize_t n)
    void pc_key_words(const unsigned char *p, Py_ssize_t n, Py_ssize_t room,
                      uint64_t *w0, uint64_t *w1) noexcept
    unsigned int pc_key_slot(uint64_t w0, uint64_t w1, Py_ssize_t n) noexcept
