/* Small CPython shortcuts the core's hot loops use (no API beyond the running version's). */
#ifndef PC_PYFAST_H
#define PC_PYFAST_H
#include <Python.h>
#include <string.h>
#if PY_VERSION_HEX < 0x030B0000
#include "longintrepr.h"
#endif

/* 1 and *v set when the int fits one internal digit (|v| < 2**30 on the usual builds: the
   common case), else 0 and the caller takes the general path. */
static inline int pc_small_long(PyObject *o, long long *v) {
#if PY_VERSION_HEX >= 0x030C0000
    if (PyUnstable_Long_IsCompact((PyLongObject *)o)) {
        *v = (long long)PyUnstable_Long_CompactValue((PyLongObject *)o);
        return 1;
    }
    return 0;
#else
    Py_ssize_t size = Py_SIZE(o);
    if (size == 0) { *v = 0; return 1; }
    if (size == 1) { *v = (long long)((PyLongObject *)o)->ob_digit[0]; return 1; }
    if (size == -1) { *v = -(long long)((PyLongObject *)o)->ob_digit[0]; return 1; }
    return 0;
#endif
}
/* A dict with room for n entries (no resize while a decoded map is filled). */
static inline PyObject *pc_dict_presized(Py_ssize_t n) {
#if PY_VERSION_HEX < 0x030D0000
    return n > 5 ? _PyDict_NewPresized(n) : PyDict_New();
#else
    (void)n;
    return PyDict_New();
#endif
}

/* Equal bytes, for the short keys of the key cache (an inline loop, not a libc call). */
static inline int pc_same_bytes(const void *a, const void *b, Py_ssize_t n) {
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    Py_ssize_t i;
    for (i = 0; i < n; i++)
        if (x[i] != y[i]) return 0;
    return 1;
}
/* A str of n ASCII bytes made directly (PyUnicode_New + memcpy), or NULL without an error
   set when a byte is >= 0x80 (the caller then decodes UTF-8). */
static inline PyObject *pc_ascii_str(const char *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
    unsigned char acc = 0;
    PyObject *s;
    for (; i < n; i++)
        acc |= (unsigned char)p[i];
    if (acc & 0x80)
        return NULL;
    s = PyUnicode_New(n, 127);
    if (s != NULL)
        memcpy(PyUnicode_DATA(s), p, n);
    return s;
}
/* -1, with `part` appended to the `parts` of the pending exception when it is a `fail_type`
   (the EncodeError path built on the way out of a failure); other exceptions pass unchanged. */
static int pc_fail_part(PyObject *fail_type, PyObject *part) {
    PyObject *t, *v, *tb, *parts;
    PyErr_Fetch(&t, &v, &tb);
    if (t != NULL && PyErr_GivenExceptionMatches(t, fail_type)) {
        PyErr_NormalizeException(&t, &v, &tb);
        parts = PyObject_GetAttrString(v, "parts");
        if (parts == NULL || PyList_Append(parts, part) < 0)
            PyErr_Clear();
        Py_XDECREF(parts);
    }
    PyErr_Restore(t, v, tb);
    return -1;
}
#endif
