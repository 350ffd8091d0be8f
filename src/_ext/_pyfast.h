/* Small CPython shortcuts the core's hot loops use (no API beyond the running version's). */
#ifndef PC_PYFAST_H
#define PC_PYFAST_H
#include <Python.h>
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
#endif
