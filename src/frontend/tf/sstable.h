/*
 * sstable.h -- reading a LevelDB-format table (TF's variables.index) and
 * the crc32c checksum it and TensorBundles use.
 *
 * crc32c_*  CRC-32C (Castagnoli), as LevelDB and TensorFlow compute it
 * sst_*     a full, ordered scan of a table held in memory
 * sst_varint*  protobuf/LevelDB base-128 varints, bounds-checked
 */
#ifndef TFLC_TF_SSTABLE_H
#define TFLC_TF_SSTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "../../core/core.h"

/* ---- crc32c ---- */

/* Extends crc (0 to start) over n bytes: crc32c_extend(0, "123456789", 9)
 * is 0xe3069283. */
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n);
/* The same with the portable table-driven code only (for tests). */
uint32_t crc32c_extend_portable(uint32_t crc, const void *data, size_t n);

/* Checksums stored beside the data they cover are "masked" (rotated and
 * offset) so that the crc of a string holding its own crc is not trivial. */
#define CRC32C_MASK_DELTA 0xa282ead8u
static inline uint32_t crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + CRC32C_MASK_DELTA;
}
static inline uint32_t crc32c_unmask(uint32_t masked)
{
    uint32_t r = masked - CRC32C_MASK_DELTA;
    return (r >> 17) | (r << 15);
}

/* ---- varints ---- */

/* Decodes a varint at *p (not past end) and advances *p. Returns 0, or -1
 * when truncated or too long for the type (*p is then unchanged). */
int sst_varint64(const uint8_t **p, const uint8_t *end, uint64_t *v);
int sst_varint32(const uint8_t **p, const uint8_t *end, uint32_t *v);

static inline uint32_t sst_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static inline uint64_t sst_le64(const uint8_t *p)
{
    return (uint64_t)sst_le32(p) | (uint64_t)sst_le32(p + 4) << 32;
}

/* ---- tables ---- */

/* The 8 bytes that end every table, little-endian. */
#define SST_MAGIC 0xdb4775248b80fb57ull
/* Footer: two block handles padded to 40 bytes, then the magic. */
#define SST_FOOTER_SIZE 48
/* After each block: 1 byte compression type, 4 bytes masked crc32c. */
#define SST_TRAILER_SIZE 5

/* Called for each entry, in table order. key is NUL-terminated for
 * convenience (keys may also contain NUL bytes: use key_len); key and
 * value are valid only during the call. offset is the entry's file offset
 * (its block's, when the block is compressed), for messages. Returns TFLC_OK to go on;
 * any other code stops the scan and is returned by sst_scan (the visitor
 * has then raised its own error). */
typedef tflc_code_t (*sst_visit_fn)(void *user, const char *key,
                                    size_t key_len, const uint8_t *value,
                                    size_t value_len, uint64_t offset);

/* Visits every entry of the table data[0..size) in order. Checks the
 * footer and magic, every block handle against the file, every block's
 * checksum, the entry encoding, and that keys strictly increase; blocks
 * may be uncompressed or snappy-compressed. name is the file, for
 * messages, which give the byte offset of the problem. Temporary memory
 * only (freed before returning). */
tflc_code_t sst_scan(const uint8_t *data, size_t size, const char *name,
                     sst_visit_fn visit, void *user, tflc_status_t *st);

#endif /* TFLC_TF_SSTABLE_H */
