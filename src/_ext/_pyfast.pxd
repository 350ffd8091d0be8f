from cpython.ref cimport PyObject

cdef extern from "_pyfast.h":
    bint pc_small_long(object o, long long *v)
    dict pc_dict_presized(Py_ssize_t n)
    bint pc_same_bytes(const void *a, const void *b, Py_ssize_t n) noexcept
    PyObject *pc_ascii_str(const char *p, Py_ssize_t n)
    int pc_fail_part(object fail_type, object part) except -1
