/*
 * crc32c.c -- CRC-32C (Castagnoli polynomial, bit-reflected), the checksum
 * of LevelDB table blocks and TensorBundle tensors.
 *
 * Contract: crc32c_extend(crc, p, n) continues a checksum; start with 0.
 * The same function is the portable slicing-by-8 table code everywhere;
 * on x86-64 CPUs with SSE4.2 it uses the CRC32 instruction instead, which
 * computes the same polynomial (checked against the table code in
 * tests/unit/test_bundle.c). Checkpoints are checked byte for byte, so a
 * fast checksum keeps conversion close to the speed of copying the weights.
 */
#include <pthread.h>
#include <string.h>

#include "sstable.h"

/* The reflected Castagnoli polynomial 0x1EDC6F41. */
#define CRC32C_POLY 0x82f63b78u

/* tab[0] is the classic byte-at-a-time table; tab[k][b] is the crc of
 * byte b followed by k zero bytes, so eight bytes fold in one step. */
static uint32_t tab[8][256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void tab_init(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        tab[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            tab[k][b] = (tab[k - 1][b] >> 8) ^ tab[0][tab[k - 1][b] & 0xff];
}

uint32_t crc32c_extend_portable(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&tab_once, tab_init);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint32_t lo = c ^ sst_le32(p), hi = sst_le32(p + 4);
        c = tab[7][lo & 0xff] ^ tab[6][(lo >> 8) & 0xff] ^
            tab[5][(lo >> 16) & 0xff] ^ tab[4][lo >> 24] ^
            tab[3][hi & 0xff] ^ tab[2][(hi >> 8) & 0xff] ^
            tab[1][(hi >> 16) & 0xff] ^ tab[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = (c >> 8) ^ tab[0][(c ^ *p++) & 0xff];
    return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

__attribute__((target("sse4.2")))
static uint32_t crc32c_extend_sse42(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);  /* little-endian on x86-64 */
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    while (n--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

static int have_sse42;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void cpu_init(void) { have_sse42 = __builtin_cpu_supports("sse4.2"); }

uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&cpu_once, cpu_init);
    return have_sse42 ? crc32c_extend_sse42(crc, data, n)
                      : crc32c_extend_portable(crc, data, n);
}
#else
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n)
{
    return crc32c_extend_portable(crc, data, n);
}
#endif
