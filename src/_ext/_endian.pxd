from libc.stdint cimport uint16_t, uint32_t, uint64_t

cdef extern from "_endian.h" nogil:
    void pc_store16(char *p, uint16_t v)
    void pc_store32(char *p, uint32_t v)
    void pc_store64(char *p, uint64_t v)
    uint64_t pc_double_bits(double d)
    uint16_t pc_load16(const unsigned char *p)
    uint32_t pc_load32(const unsigned char *p)
    uint64_t pc_load64(const unsigned char *p)
    double pc_load_double(const unsigned char *p)
    float pc_load_float(const unsigned char *p)
