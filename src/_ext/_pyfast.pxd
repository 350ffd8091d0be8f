cdef extern from "_pyfast.h":
    bint pc_small_long(object o, long long *v)
