/* Small CPython shortcuts the core's hot loops use (no API beyond the running version's). */
#ifndef PC_PYFAST_H
#define PC_PYFAST_H
#include <Python.h>
#include <string.h>
#include <stdint.h>
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

/* ---- decode section (src/_ext/_unpacker.pyx) ---- */
/* The unpacker's key cache compares and hashes a short key (1..16 bytes) as two words, the
   bytes zero-padded: two loads instead of a byte loop. `room`: bytes readable from p (the
   words load past the key when there is room, else from a padded copy). */
static inline uint64_t pc_first_bytes(const unsigned char *p, Py_ssize_t n) {  /* 1 <= n <= 8 */
    uint64_t w;
    memcpy(&w, p, 8);
#if PY_BIG_ENDIAN
    return w & (~(uint64_t)0 << (64 - 8 * n));
#else
    return w & (~(uint64_t)0 >> (64 - 8 * n));
#endif
}
static inline void pc_key_words(const unsigned char *p, Py_ssize_t n, Py_ssize_t room,
                                uint64_t *w0, uint64_t *w1) {
    unsigned char t[16];
    if (n <= 8 && room >= 8) {
        *w0 = pc_first_bytes(p, n);
        *w1 = 0;
    } else if (room >= 16) {
        memcpy(w0, p, 8);
        *w1 = pc_first_bytes(p + 8, n - 8);
    } else {
        memset(t, 0, 16);
        memcpy(t, p, (size_t)n);
        memcpy(w0, t, 8);
        memcpy(w1, t + 8, 8);
    }
}
/* A str of n ASCII bytes made directly (PyUnicode_New + memcpy), or NULL without an error
   set when a byte is >= 0x80 (the caller then decodes UTF-8). Checked 8 bytes at a time. */
static inline PyObject *pc_ascii_str(const char *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
    uint64_t acc = 0, w;
    unsigned char tail = 0;
    PyObject *s;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        tail |= (unsigned char)p[i];
    if ((acc & 0x8080808080808080ULL) || (tail & 0x80))
        return NULL;
    s = PyUnicode_New(n, 127);
    if (s != NULL)
        memcpy(PyUnicode_DATA(s), p, n);
    return s;
}
/* A slot of 256 from the words and the length: two multiplies, all bytes mixed in. */
static inline unsigned int pc_key_slot(uint64_t w0, uint64_t w1, Py_ssize_t n) {
    uint64_t h = (w0 ^ (w1 * 0xC2B2AE3D27D4EB4FULL) ^ (uint64_t)n) * 0x9E3779B97F4A7C15ULL;
    return (unsigned int)(h >> 56);
}
#endif
