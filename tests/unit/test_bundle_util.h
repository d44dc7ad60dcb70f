/*
 * test_bundle_util.h -- helpers for the TensorBundle tests: a growable byte
 * buffer, a small LevelDB-format table writer (so tests can make tables
 * with any content, compression or corruption), .npy output, and checks.
 *
 * The writer follows the format facts (see src/frontend/tf/sstable.c); the
 * reader is also checked against TF-made files in test_bundle_fixtures.c,
 * so the two are not only checked against each other.
 */
#ifndef TEST_BUNDLE_UTIL_H
#define TEST_BUNDLE_UTIL_H

#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/tf/bundle.h"
#include "frontend/tf/sstable.h"
#include "tensor_bundle.pb-c.h"

static int tb_failures;

#define CHECK(c)                                                            \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #c);                                                    \
            tb_failures++;                                                  \
        }                                                                   \
    } while (0)

/* ---- bytes ---- */

typedef struct tb_buf {
    uint8_t *p;
    size_t n, cap;
} tb_buf_t;

static inline void tb_put(tb_buf_t *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n)
            c *= 2;
        b->p = realloc(b->p, c);
        if (!b->p) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        b->cap = c;
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}

static inline void tb_u8(tb_buf_t *b, uint8_t v) { tb_put(b, &v, 1); }

static inline void tb_le32(tb_buf_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        tb_u8(b, (uint8_t)(v >> (8 * i)));
}

static inline void tb_varint(tb_buf_t *b, uint64_t v)
{
    while (v >= 0x80) {
        tb_u8(b, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    tb_u8(b, (uint8_t)v);
}

static inline void tb_free(tb_buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- tables ---- */

typedef struct tb_kv {
    const char *key;
    size_t key_len;
    const uint8_t *val;
    size_t val_len;
} tb_kv_t;

typedef struct tb_table_opts {
    int snappy;            /* compress every block */
    int per_block;         /* entries per data block (0: all in one) */
    int restart_interval;  /* 0: 16, LevelDB's default */
} tb_table_opts_t;

/* Appends one block of kvs[0..n) with prefix compression. */
static inline void tb_block(tb_buf_t *out, const tb_kv_t *kv, size_t n, int interval)
{
    tb_buf_t restarts = {0};
    uint32_t nr = 0;
    const char *prev = "";
    size_t prev_len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t shared = 0;
        if (i % (size_t)interval == 0) {
            tb_le32(&restarts, (uint32_t)out->n);
            nr++;
        } else {
            while (shared < prev_len && shared < kv[i].key_len &&
                   prev[shared] == kv[i].key[shared])
                shared++;
        }
        tb_varint(out, shared);
        tb_varint(out, kv[i].key_len - shared);
        tb_varint(out, kv[i].val_len);
        tb_put(out, kv[i].key + shared, kv[i].key_len - shared);
        tb_put(out, kv[i].val, kv[i].val_len);
        prev = kv[i].key;
        prev_len = kv[i].key_len;
    }
    if (nr == 0) {
        tb_le32(&restarts, 0);
        nr = 1;
    }
    tb_put(out, restarts.p, restarts.n);
    tb_le32(out, nr);
    tb_free(&restarts);
}

/* Writes block contents blk to file f with its trailer; gives its handle. */
static inline void tb_emit_block(tb_buf_t *f, const tb_buf_t *blk, int snappy,
                          uint64_t *off, uint64_t *size)
{
    const uint8_t *d = blk->p;
    size_t n = blk->n;
    char *z = NULL;
    uint8_t type = 0;
    if (snappy) {
        size_t zn = snappy_max_compressed_length(n);
        z = malloc(zn ? zn : 1);
        if (!z || snappy_compress((const char *)d, n, z, &zn) != SNAPPY_OK) {
            fprintf(stderr, "snappy_compress failed\n");
            exit(1);
        }
        d = (const uint8_t *)z;
        n = zn;
        type = 1;
    }
    *off = f->n;
    *size = n;
    tb_put(f, d, n);
    tb_u8(f, type);
    uint32_t crc = crc32c_extend(crc32c_extend(0, d, n), &type, 1);
    tb_le32(f, crc32c_mask(crc));
    free(z);
}

/* A whole table of kvs (sorted by the caller) into f. */
static inline void tb_table(tb_buf_t *f, const tb_kv_t *kv, size_t n,
                     const tb_table_opts_t *o)
{
    int interval = o && o->restart_interval ? o->restart_interval : 16;
    size_t per = o && o->per_block ? (size_t)o->per_block : (n ? n : 1);
    int snappy = o && o->snappy;
    tb_buf_t index_vals = {0};  /* handles, concatenated */
    tb_kv_t idx[1024];
    size_t n_idx = 0, hoffs[1024];
    for (size_t s = 0; s < n || (s == 0 && n == 0); s += per) {
        size_t m = n - s < per ? n - s : per;
        tb_buf_t blk = {0};
        tb_block(&blk, kv + s, m, interval);
        uint64_t off, size;
        tb_emit_block(f, &blk, snappy, &off, &size);
        tb_free(&blk);
        hoffs[n_idx] = index_vals.n;
        tb_varint(&index_vals, off);
        tb_varint(&index_vals, size);
        /* The last key of the block is a valid separator. */
        idx[n_idx].key = m ? kv[s + m - 1].key : "";
        idx[n_idx].key_len = m ? kv[s + m - 1].key_len : 0;
        n_idx++;
        if (n == 0)
            break;
    }
    for (size_t i = 0; i < n_idx; i++) {
        idx[i].val = index_vals.p + hoffs[i];
        idx[i].val_len = (i + 1 < n_idx ? hoffs[i + 1] : index_vals.n) - hoffs[i];
    }
    tb_buf_t meta = {0}, index = {0};
    tb_block(&meta, NULL, 0, interval);
    uint64_t moff, msize, ioff, isize;
    tb_emit_block(f, &meta, snappy, &moff, &msize);
    tb_block(&index, idx, n_idx, 1);
    tb_emit_block(f, &index, snappy, &ioff, &isize);
    size_t foot = f->n;
    tb_varint(f, moff);
    tb_varint(f, msize);
    tb_varint(f, ioff);
    tb_varint(f, isize);
    while (f->n < foot + 40)
        tb_u8(f, 0);
    tb_le32(f, (uint32_t)SST_MAGIC);
    tb_le32(f, (uint32_t)(SST_MAGIC >> 32));
    tb_free(&meta);
    tb_free(&index);
    tb_free(&index_vals);
}

/* ---- files ---- */

static inline int tb_write_file(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = n == 0 || fwrite(d, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static inline int tb_read_file(const char *path, tb_buf_t *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
        tb_put(out, tmp, k);
    fclose(f);
    return 0;
}

/* ---- .npy (version 1.0) ---- */

static inline const char *tb_npy_descr(int dt)
{
    switch (dt) {
    case TF_FLOAT: return "<f4";
    case TF_DOUBLE: return "<f8";
    case TF_HALF: return "<f2";
    case TF_INT8: return "|i1";
    case TF_UINT8: return "|u1";
    case TF_INT16: return "<i2";
    case TF_UINT16: return "<u2";
    case TF_INT32: return "<i4";
    case TF_UINT32: return "<u4";
    case TF_INT64: return "<i8";
    case TF_UINT64: return "<u8";
    case TF_BOOL: return "|b1";
    default: return NULL;
    }
}

/* Writes t as an .npy file; 0, or -1 for a dtype .npy cannot hold. */
static inline int tb_write_npy(const char *path, const tfg_tensor_t *t)
{
    const char *descr = tb_npy_descr(t->dtype);
    if (!descr)
        return -1;
    char shape[512] = "(";
    for (int32_t i = 0; i < t->shape.rank; i++) {
        char d[32];
        snprintf(d, sizeof d, "%lld,%s", (long long)t->shape.dims[i],
                 i + 1 < t->shape.rank ? " " : "");
        strncat(shape, d, sizeof shape - strlen(shape) - 2);
    }
    strcat(shape, ")");
    char hdr[768];
    int n = snprintf(hdr, sizeof hdr,
                     "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descr, shape);
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    tb_buf_t b = {0};
    tb_put(&b, "\x93NUMPY\x01\x00", 8);
    uint16_t hl = (uint16_t)(n + pad + 1);
    tb_u8(&b, (uint8_t)hl);
    tb_u8(&b, (uint8_t)(hl >> 8));
    tb_put(&b, hdr, (size_t)n);
    for (size_t i = 0; i < pad; i++)
        tb_u8(&b, ' ');
    tb_u8(&b, '\n');
    tb_put(&b, t->data, (size_t)t->size);
    int r = tb_write_file(path, b.p, b.n);
    tb_free(&b);
    return r;
}

#endif /* TEST_BUNDLE_UTIL_H */
