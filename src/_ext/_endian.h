/* Big-endian loads and stores for msgpack; memcpy keeps unaligned access defined. */
#ifndef POLYCODEC_ENDIAN_H
#define POLYCODEC_ENDIAN_H
#include <stdint.h>
#include <string.h>

static inline void pc_store16(char *p, uint16_t v) { p[0] = (char)(v >> 8); p[1] = (char)v; }
static inline void pc_store32(char *p, uint32_t v) {
    p[0] = (char)(v >> 24); p[1] = (char)(v >> 16); p[2] = (char)(v >> 8); p[3] = (char)v;
}
static inline void pc_store64(char *p, uint64_t v) {
    pc_store32(p, (uint32_t)(v >> 32)); pc_store32(p + 4, (uint32_t)v);
}
static inline uint64_t pc_double_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

static inline uint16_t pc_load16(const unsigned char *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t pc_load32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t pc_load64(const unsigned char *p) {
    return ((uint64_t)pc_load32(p) << 32) | pc_load32(p + 4);
}
static inline double pc_load_double(const unsigned char *p) {
    uint64_t u = pc_load64(p); double d; memcpy(&d, &u, 8); return d;
}
static inline float pc_load_float(const unsigned char *p) {
    uint32_t u = pc_load32(p); float f; memcpy(&f, &u, 4); return f;
}
#endif
