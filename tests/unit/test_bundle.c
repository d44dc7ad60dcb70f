/*
 * test_bundle.c -- the TensorBundle reader on bundles made here, so every
 * field can be set to a lie: crc32c against published test vectors, the
 * table scan (plain, snappy, many blocks), reading every dtype kind, and
 * each hostile case (missing shard, sizes and offsets that lie, checksum
 * mismatches, corrupt blocks, truncation, garbage, allocation failures)
 * giving an error that names the file and place. Needs no fixtures; the
 * TF-made checkpoints are read in test_bundle_fixtures.c.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <unistd.h>

#include "test_bundle_util.h"

static char g_dir[256];

/* ---- crc32c and varints ---- */

static void test_crc32c(void)
{
    /* RFC 3720 (iSCSI) appendix B.4 test vectors, and the classic check. */
    uint8_t buf[32];
    memset(buf, 0, sizeof buf);
    CHECK(crc32c_extend(0, buf, 32) == 0x8a9136aau);
    memset(buf, 0xff, sizeof buf);
    CHECK(crc32c_extend(0, buf, 32) == 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    CHECK(crc32c_extend(0, buf, 32) == 0x46dd794eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    CHECK(crc32c_extend(0, buf, 32) == 0x113fdb5cu);
    CHECK(crc32c_extend(0, "123456789", 9) == 0xe3069283u);
    CHECK(crc32c_extend_portable(0, "123456789", 9) == 0xe3069283u);
    CHECK(crc32c_extend(0, NULL, 0) == 0);
    /* Extending in pieces equals one pass; both implementations agree on
     * every length and alignment. */
    uint8_t big[1031];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof big; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (uint8_t)(x >> 16);
    }
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= sizeof big; n += 37) {
            uint32_t a = crc32c_extend(0, big + off, n);
            CHECK(a == crc32c_extend_portable(0, big + off, n));
            size_t h = n / 3;
            CHECK(a == crc32c_extend(crc32c_extend(0, big + off, h), big + off + h,
                                     n - h));
        }
    for (uint32_t v = 0; v < 100000; v += 7)
        CHECK(crc32c_unmask(crc32c_mask(v * 2654435761u)) == v * 2654435761u);
    CHECK(crc32c_mask(0) == CRC32C_MASK_DELTA);
}

static void test_varint(void)
{
    const uint8_t ok[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t *p = ok;
    uint64_t v;
    CHECK(sst_varint64(&p, ok + sizeof ok, &v) == 0 && v == UINT64_MAX &&
          p == ok + 10);
    const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    p = over;
    CHECK(sst_varint64(&p, over + sizeof over, &v) == -1 && p == over);
    p = ok;
    CHECK(sst_varint64(&p, ok + 9, &v) == -1);  /* truncated */
    const uint8_t five[] = {0x80, 0x80, 0x80, 0x80, 0x10};
    uint32_t w;
    p = five;
    CHECK(sst_varint32(&p, five + 5, &w) == -1);  /* 2^32 */
    const uint8_t four[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    p = four;
    CHECK(sst_varint32(&p, four + 5, &w) == 0 && w == UINT32_MAX);
    p = ok;
    CHECK(sst_varint64(&p, ok, &v) == -1);  /* empty */
}

/* ---- table scans ---- */

typedef struct collect {
    char keys[200][64];
    uint8_t vals[200][64];
    size_t val_lens[200];
    size_t n;
} collect_t;

static tflc_code_t collect_visit(void *user, const char *key, size_t key_len,
                                 const uint8_t *val, size_t val_len, uint64_t off)
{
    (void)off;
    collect_t *c = user;
    if (c->n < 200 && key_len < 64 && val_len <= 64) {
        memcpy(c->keys[c->n], key, key_len + 1);
        memcpy(c->vals[c->n], val, val_len);
        c->val_lens[c->n] = val_len;
    }
    c->n++;
    return TFLC_OK;
}

static void test_table_roundtrip(void)
{
    static char keys[150][32];
    static uint8_t vals[150][16];
    tb_kv_t kv[150];
    for (int i = 0; i < 150; i++) {
        /* Shared prefixes of every length, in sorted order. */
        snprintf(keys[i], sizeof keys[i], "layer_%03d/%s", i / 3,
                 i % 3 == 0 ? "bias" : i % 3 == 1 ? "kernel" : "kernel/m");
        for (int k = 0; k < 16; k++)
            vals[i][k] = (uint8_t)(i * 7 + k);
        kv[i] = (tb_kv_t){keys[i], strlen(keys[i]), vals[i], (size_t)(i % 17)};
    }
    tb_table_opts_t opts[] = {
        {0, 0, 0}, {1, 0, 0}, {0, 7, 0}, {1, 7, 3}, {0, 1, 1}, {1, 150, 150}};
    for (size_t o = 0; o < ARRAY_LEN(opts); o++) {
        for (size_t n = 0; n <= 150; n += 50) {
            tb_buf_t f = {0};
            tb_table(&f, kv, n, &opts[o]);
            static collect_t c;
            memset(&c, 0, sizeof c);
            tflc_status_t *st = tflc_status_new();
            CHECK(sst_scan(f.p, f.n, "t.index", collect_visit, &c, st) == TFLC_OK);
            CHECK(c.n == n);
            for (size_t i = 0; i < n && i < c.n; i++) {
                CHECK(strcmp(c.keys[i], keys[i]) == 0);
                CHECK(c.val_lens[i] == kv[i].val_len &&
                      memcmp(c.vals[i], vals[i], kv[i].val_len) == 0);
            }
            tflc_status_free(st);
            tb_free(&f);
        }
    }
}

/* st holds a message containing all of the given substrings. */
static int has_msg(const tflc_status_t *st, const char *a, const char *b)
{
    for (size_t i = 0; i < tflc_status_count(st); i++) {
        const char *m = tflc_status_message(st, i);
        if (strstr(m, a) && (!b || strstr(m, b)))
            return 1;
    }
    fprintf(stderr, "  expected a message with '%s'%s%s%s; got:\n", a,
            b ? " and '" : "", b ? b : "", b ? "'" : "");
    tflc_status_print(st, stderr);
    return 0;
}

static void test_table_corrupt(void)
{
    tb_kv_t kv[3] = {{"a", 1, (const uint8_t *)"1", 1},
                     {"b", 1, (const uint8_t *)"22", 2},
                     {"c", 1, (const uint8_t *)"333", 3}};
    tb_buf_t f = {0};
    tb_table(&f, kv, 3, NULL);
    static collect_t c;
    tflc_status_t *st = tflc_status_new();
    /* Every truncation fails and names an offset; no read past the end
     * (ASan) on the copy of exactly that many bytes. */
    for (size_t n = 0; n < f.n; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, f.p, n);
        tflc_status_clear(st);
        c.n = 0;
        CHECK(sst_scan(cut, n, "t.index", collect_visit, &c, st) != TFLC_OK);
        CHECK(tflc_status_count(st) >= 1);
        free(cut);
    }
    /* Every single-byte change in a block that is read (not the
     * metaindex, which TF leaves empty and nobody reads), its trailer, or
     * the magic is caught. */
    size_t footer = f.n - SST_FOOTER_SIZE;
    const uint8_t *fp = f.p + footer;
    uint64_t moff = 0, msize = 0;
    CHECK(sst_varint64(&fp, f.p + f.n, &moff) == 0 &&
          sst_varint64(&fp, f.p + f.n, &msize) == 0);
    for (size_t i = 0; i < f.n; i++) {
        f.p[i] ^= 0x5a;
        tflc_status_clear(st);
        c.n = 0;
        tflc_code_t code = sst_scan(f.p, f.n, "t.index", collect_visit, &c, st);
        int in_meta = i >= moff && i < moff + msize + SST_TRAILER_SIZE;
        if ((i < footer && !in_meta) || i >= f.n - 8)
            CHECK(code != TFLC_OK);
        f.p[i] ^= 0x5a;
    }
    /* Keys out of order (each block valid). */
    tb_kv_t bad_order[2] = {kv[1], kv[0]};
    tb_buf_t g = {0};
    tb_table(&g, bad_order, 2, NULL);
    tflc_status_clear(st);
    CHECK(sst_scan(g.p, g.n, "t.index", collect_visit, &c, st) == TFLC_ERR_FORMAT);
    CHECK(has_msg(st, "t.index: offset", "increasing order"));
    tb_free(&g);
    /* A duplicate key. */
    tb_kv_t dup[2] = {kv[0], kv[0]};
    tb_table(&g, dup, 2, NULL);
    tflc_status_clear(st);
    CHECK(sst_scan(g.p, g.n, "t.index", collect_visit, &c, st) == TFLC_ERR_FORMAT);
    tb_free(&g);
    /* An index handle past the end of the file, with a valid checksum. */
    {
        tb_buf_t blk = {0}, h = {0}, t = {0};
        tb_varint(&h, 1u << 30);
        tb_varint(&h, 100);
        tb_kv_t ik = {"z", 1, h.p, h.n};
        tb_block(&blk, &ik, 1, 16);
        uint64_t ioff, isize;
        tb_emit_block(&t, &blk, 0, &ioff, &isize);
        size_t foot = t.n;
        tb_varint(&t, 0);
        tb_varint(&t, 0);
        tb_varint(&t, ioff);
        tb_varint(&t, isize);
        while (t.n < foot + 40)
            tb_u8(&t, 0);
        tb_le32(&t, (uint32_t)SST_MAGIC);
        tb_le32(&t, (uint32_t)(SST_MAGIC >> 32));
        tflc_status_clear(st);
        CHECK(sst_scan(t.p, t.n, "t.index", collect_visit, &c, st) == TFLC_ERR_FORMAT);
        CHECK(has_msg(st, "t.index: data block at offset 1073741824", "outside"));
        /* The footer's own handle past the end. */
        t.p[foot + 2] = 0xff;
        t.p[foot + 3] = 0x7f;
        tflc_status_clear(st);
        CHECK(sst_scan(t.p, t.n, "t.index", collect_visit, &c, st) == TFLC_ERR_FORMAT);
        tb_free(&blk);
        tb_free(&h);
        tb_free(&t);
    }
    /* Garbage: random bytes, with and without the magic at the end. */
    uint32_t x = 99;
    for (size_t n = 0; n < 400; n += 13) {
        uint8_t *r = malloc(n + 1);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            r[i] = (uint8_t)(x >> 16);
        }
        for (int magic = 0; magic < 2; magic++) {
            if (magic && n >= 8)
                for (int k = 0; k < 8; k++)
                    r[n - 8 + k] = (uint8_t)(SST_MAGIC >> (8 * k));
            tflc_status_clear(st);
            CHECK(sst_scan(r, n, "junk", collect_visit, &c, st) != TFLC_OK);
        }
        free(r);
    }
    tflc_status_free(st);
    tb_free(&f);
}

/* A block whose checksum is right but whose contents lie: the entry
 * decoder must still catch it. Builds a table whose only data block is
 * raw (given bytes), fixed up with a valid trailer. */
static void raw_block_table(tb_buf_t *t, const uint8_t *blk, size_t n, int snappy)
{
    tb_buf_t b = {0}, ib = {0}, h = {0}, meta = {0};
    tb_put(&b, blk, n);
    uint64_t doff, dsize, moff, msize, ioff, isize;
    tb_emit_block(t, &b, snappy, &doff, &dsize);
    tb_block(&meta, NULL, 0, 16);
    tb_emit_block(t, &meta, 0, &moff, &msize);
    tb_varint(&h, doff);
    tb_varint(&h, dsize);
    tb_kv_t ik = {"zz", 2, h.p, h.n};
    tb_block(&ib, &ik, 1, 16);
    tb_emit_block(t, &ib, 0, &ioff, &isize);
    size_t foot = t->n;
    tb_varint(t, moff);
    tb_varint(t, msize);
    tb_varint(t, ioff);
    tb_varint(t, isize);
    while (t->n < foot + 40)
        tb_u8(t, 0);
    tb_le32(t, (uint32_t)SST_MAGIC);
    tb_le32(t, (uint32_t)(SST_MAGIC >> 32));
    tb_free(&b);
    tb_free(&ib);
    tb_free(&h);
    tb_free(&meta);
}

static void test_block_lies(void)
{
    struct {
        const char *name;
        uint8_t bytes[32];
        size_t n;
        const char *msg;
    } cases[] = {
        {"too short", {1, 0}, 2, "shorter than its restart count"},
        {"zero restarts", {0, 0, 0, 0}, 4, "bad restart count 0"},
        {"huge restart count", {0, 0, 0, 0, 0xff, 0xff, 0, 0}, 8, "bad restart count"},
        {"restart outside", {0, 1, 0, 'a', 9, 0, 0, 0, 1, 0, 0, 0}, 12,
         "restart point 0 lies outside"},
        {"shared > previous", {3, 1, 0, 'a', 0, 0, 0, 0, 1, 0, 0, 0}, 12,
         "shares more key bytes"},
        {"entry overruns", {0, 1, 9, 'a', 0, 0, 0, 0, 1, 0, 0, 0}, 12,
         "runs past the end"},
        {"truncated header", {0, 0x80, 0, 0, 0, 0, 1, 0, 0, 0}, 10,
         "truncated entry header"},
    };
    tflc_status_t *st = tflc_status_new();
    for (int snappy = 0; snappy < 2; snappy++)
        for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
            tb_buf_t t = {0};
            raw_block_table(&t, cases[i].bytes, cases[i].n, snappy);
            static collect_t c;
            c.n = 0;
            tflc_status_clear(st);
            if (sst_scan(t.p, t.n, "lie.index", collect_visit, &c, st) == TFLC_OK) {
                fprintf(stderr, "  case '%s' (snappy %d) was accepted\n",
                        cases[i].name, snappy);
                tb_failures++;
            } else {
                CHECK(has_msg(st, "lie.index: offset", cases[i].msg));
                if (snappy)
                    CHECK(has_msg(st, "snappy block", NULL));
            }
            tb_free(&t);
        }
    /* Snappy data that is not snappy, with a valid checksum. */
    tb_buf_t t = {0}, b = {0}, meta = {0}, ib = {0}, h = {0};
    tb_put(&b, "\xff\xff\xff\xff\x0f garbage", 14);
    uint64_t doff, dsize;
    /* Emit by hand with type 1 but raw bytes. */
    doff = t.n;
    dsize = b.n;
    tb_put(&t, b.p, b.n);
    uint8_t type = 1;
    tb_u8(&t, type);
    tb_le32(&t, crc32c_mask(crc32c_extend(crc32c_extend(0, b.p, b.n), &type, 1)));
    uint64_t moff, msize, ioff, isize;
    tb_block(&meta, NULL, 0, 16);
    tb_emit_block(&t, &meta, 0, &moff, &msize);
    tb_varint(&h, doff);
    tb_varint(&h, dsize);
    tb_kv_t ik = {"zz", 2, h.p, h.n};
    tb_block(&ib, &ik, 1, 16);
    tb_emit_block(&t, &ib, 0, &ioff, &isize);
    size_t foot = t.n;
    tb_varint(&t, moff);
    tb_varint(&t, msize);
    tb_varint(&t, ioff);
    tb_varint(&t, isize);
    while (t.n < foot + 40)
        tb_u8(&t, 0);
    tb_le32(&t, (uint32_t)SST_MAGIC);
    tb_le32(&t, (uint32_t)(SST_MAGIC >> 32));
    static collect_t c;
    tflc_status_clear(st);
    CHECK(sst_scan(t.p, t.n, "z.index", collect_visit, &c, st) == TFLC_ERR_FORMAT);
    CHECK(has_msg(st, "z.index: offset 0", "corrupt snappy data"));
    /* An unknown compression type. */
    t.p[dsize] = 7;
    type = 7;
    uint32_t crc = crc32c_mask(crc32c_extend(crc32c_extend(0, b.p, b.n), &type, 1));
    for (int k = 0; k < 4; k++)
        t.p[dsize + 1 + k] = (uint8_t)(crc >> (8 * k));
    tflc_status_clear(st);
    CHECK(sst_scan(t.p, t.n, "z.index", collect_visit, &c, st) == TFLC_ERR_UNSUPPORTED);
    CHECK(has_msg(st, "z.index: offset 0", "compression type 7"));
    tb_free(&t);
    tb_free(&b);
    tb_free(&meta);
    tb_free(&ib);
    tb_free(&h);
    tflc_status_free(st);
}

/* ---- bundles ---- */

/* One tensor of a bundle made here, with fields that may lie. */
typedef struct tb_ent {
    const char *key;
    int dtype;
    int rank;              /* -1: unknown rank */
    int64_t dims[4];
    const void *data;      /* raw bytes, or (strings) an array of char * */
    size_t size;           /* bytes, or (strings) element count */
    int shard;
    /* lies */
    int64_t offset_delta, size_delta;
    uint32_t crc_xor;
    int n_slices;
    int bad_proto;
} tb_ent_t;

typedef struct tb_bundle_opts {
    int num_shards;        /* 0: 1 */
    int big_endian;
    int min_consumer;
    int no_header;
    int snappy;
} tb_bundle_opts_t;

/* TF's string tensor encoding (see bundle.c's notes), and its crc32c. */
static void encode_strings(tb_buf_t *out, const char *const *s, size_t n,
                           uint32_t *crc)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = (uint32_t)strlen(s[i]);
        tb_varint(out, len);
        uint8_t le[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
                         (uint8_t)(len >> 24)};
        c = crc32c_extend(c, le, 4);
    }
    size_t at = out->n;
    tb_le32(out, crc32c_mask(c));
    c = crc32c_extend(c, out->p + at, 4);
    for (size_t i = 0; i < n; i++) {
        tb_put(out, s[i], strlen(s[i]));
        c = crc32c_extend(c, s[i], strlen(s[i]));
    }
    *crc = c;
}

static int cmp_kv(const void *a, const void *b)
{
    const tb_kv_t *x = a, *y = b;
    return strcmp(x->key, y->key);
}

/* Writes <g_dir>/<name>.index and its shards. Returns the prefix. */
static const char *write_bundle(const char *name, const tb_ent_t *ents, size_t n,
                                const tb_bundle_opts_t *o)
{
    static char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/%s", g_dir, name);
    int ns = o && o->num_shards ? o->num_shards : 1;
    tb_buf_t shards[4] = {{0}};
    tb_kv_t kv[64];
    uint8_t *vals[64];
    size_t nkv = 0;
    if (!(o && o->no_header)) {
        Tf__BundleHeaderProto h = TF__BUNDLE_HEADER_PROTO__INIT;
        Tf__BundleVersionDef v = TF__BUNDLE_VERSION_DEF__INIT;
        v.producer = 1;
        v.min_consumer = o ? o->min_consumer : 0;
        h.num_shards = ns;
        h.endianness = o && o->big_endian ? TF__BUNDLE_HEADER_PROTO__ENDIANNESS__BIG
                                          : TF__BUNDLE_HEADER_PROTO__ENDIANNESS__LITTLE;
        h.version = &v;
        size_t len = tf__bundle_header_proto__get_packed_size(&h);
        vals[nkv] = malloc(len + 1);
        tf__bundle_header_proto__pack(&h, vals[nkv]);
        kv[nkv] = (tb_kv_t){"", 0, vals[nkv], len};
        nkv++;
    }
    for (size_t i = 0; i < n; i++) {
        const tb_ent_t *e = &ents[i];
        tb_buf_t *sh = &shards[e->shard];
        uint64_t off = sh->n;
        uint32_t crc;
        if (e->dtype == TF_STRING) {
            encode_strings(sh, (const char *const *)e->data, e->size, &crc);
        } else {
            tb_put(sh, e->data, e->size);
            crc = crc32c_extend(0, e->data, e->size);
        }
        Tf__BundleEntryProto p = TF__BUNDLE_ENTRY_PROTO__INIT;
        Tf__TensorShapeProto shape = TF__TENSOR_SHAPE_PROTO__INIT;
        Tf__TensorShapeProto__Dim dims[4], *dimp[4];
        for (int k = 0; k < e->rank; k++) {
            tf__tensor_shape_proto__dim__init(&dims[k]);
            dims[k].size = e->dims[k];
            dimp[k] = &dims[k];
        }
        shape.n_dim = e->rank > 0 ? (size_t)e->rank : 0;
        shape.dim = dimp;
        shape.unknown_rank = e->rank < 0;
        Tf__BundleSliceProto slice = TF__BUNDLE_SLICE_PROTO__INIT, *slices[2];
        slices[0] = slices[1] = &slice;
        p.dtype = (Tf__DataType)e->dtype;
        p.shape = &shape;
        p.shard_id = e->shard;
        p.offset = (int64_t)off + e->offset_delta;
        p.size = (int64_t)(sh->n - off) + e->size_delta;
        p.crc32c = crc32c_mask(crc) ^ e->crc_xor;
        p.n_slices = (size_t)e->n_slices;
        p.slices = slices;
        size_t len = tf__bundle_entry_proto__get_packed_size(&p);
        vals[nkv] = malloc(len + 1);
        tf__bundle_entry_proto__pack(&p, vals[nkv]);
        if (e->bad_proto) {
            vals[nkv][0] = 0xff;  /* field 31, wire type 7: invalid */
            len = 1;
        }
        kv[nkv] = (tb_kv_t){e->key, strlen(e->key), vals[nkv], len};
        nkv++;
    }
    qsort(kv, nkv, sizeof kv[0], cmp_kv);
    tb_buf_t idx = {0};
    tb_table_opts_t to = {o && o->snappy, 2, 2};
    tb_table(&idx, kv, nkv, &to);
    char path[600];
    snprintf(path, sizeof path, "%s.index", prefix);
    CHECK(tb_write_file(path, idx.p, idx.n) == 0);
    for (int k = 0; k < ns; k++) {
        snprintf(path, sizeof path, "%s.data-%05d-of-%05d", prefix, k, ns);
        CHECK(tb_write_file(path, shards[k].p, shards[k].n) == 0);
    }
    for (size_t k = 0; k < ARRAY_LEN(shards); k++)
        tb_free(&shards[k]);
    for (size_t i = 0; i < nkv; i++)
        free(vals[i]);
    tb_free(&idx);
    return prefix;
}

static const float k_f32[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.5f, 1e-3f};
static const int64_t k_i64 = -1234567890123LL;
static const uint16_t k_half[4] = {0x3c00, 0xc000, 0x7bff, 0x0001};
static const int32_t k_i32[3] = {7, -8, 9};
static const char *const k_strs[3] = {"hello", "", "checkpoint \x01\xff bytes"};

static tb_ent_t base_ents[] = {
    {"dense/kernel", TF_FLOAT, 2, {2, 3}, k_f32, sizeof k_f32, 0, 0, 0, 0, 0, 0},
    {"step", TF_INT64, 0, {0}, &k_i64, sizeof k_i64, 1, 0, 0, 0, 0, 0},
    {"half", TF_HALF, 1, {4}, k_half, sizeof k_half, 0, 0, 0, 0, 0, 0},
    {"empty", TF_BOOL, 2, {0, 5}, NULL, 0, 1, 0, 0, 0, 0, 0},
    {"ints", TF_INT32, 1, {3}, k_i32, sizeof k_i32, 1, 0, 0, 0, 0, 0},
    {"names", TF_STRING, 1, {3}, k_strs, 3, 0, 0, 0, 0, 0, 0},
    {"_CHECKPOINTABLE_OBJECT_GRAPH", TF_STRING, 0, {0}, k_strs, 1, 1, 0, 0, 0, 0, 0},
};

static void test_bundle_read(int snappy)
{
    tb_bundle_opts_t o = {2, 0, 0, 0, snappy};
    const char *prefix = write_bundle("good", base_ents, ARRAY_LEN(base_ents), &o);
    tflc_status_t *st = tflc_status_new();
    ir_model_t *m = ir_model_new();
    tf_bundle_t *b = NULL;
    CHECK(tf_bundle_open(m, prefix, &b, st) == TFLC_OK);
    tflc_status_print(st, stderr);
    if (!b)
        goto out;
    CHECK(tf_bundle_count(b) == ARRAY_LEN(base_ents));
    CHECK(m->n_maps == 2);
    /* Keys in sorted order. */
    for (size_t i = 1; i < tf_bundle_count(b); i++)
        CHECK(strcmp(tf_bundle_key(b, i - 1), tf_bundle_key(b, i)) < 0);
    CHECK(tf_bundle_key(b, 99) == NULL && tf_bundle_entry(b, 99) == NULL);
    for (size_t i = 0; i < ARRAY_LEN(base_ents); i++) {
        const tb_ent_t *e = &base_ents[i];
        long j = tf_bundle_find(b, e->key);
        CHECK(j >= 0);
        const tf_bundle_entry_t *be = tf_bundle_entry(b, (size_t)j);
        CHECK(be && be->dtype == e->dtype && be->shape.rank == e->rank);
        for (int pass = 0; pass < 2; pass++) {  /* second: crc remembered */
            tfg_tensor_t t;
            CHECK(tf_bundle_get(b, e->key, &t, st) == TFLC_OK);
            CHECK(t.dtype == e->dtype && t.shape.rank == e->rank);
            for (int k = 0; k < e->rank && k < t.shape.rank; k++)
                CHECK(t.shape.dims[k] == e->dims[k]);
            if (e->dtype == TF_STRING) {
                const char *const *s = e->data;
                CHECK(t.n_strings == e->size);
                for (size_t k = 0; k < t.n_strings && k < e->size; k++) {
                    CHECK(t.string_lens[k] == strlen(s[k]));
                    CHECK(strcmp(t.strings[k], s[k]) == 0);
                }
            } else {
                CHECK(t.size == e->size);
                CHECK(e->size == 0 || memcmp(t.data, e->data, e->size) == 0);
                /* Zero copy: the bytes are in a mapped shard. */
                int in_map = e->size == 0;
                for (size_t k = 0; k < m->n_maps; k++)
                    in_map |= t.data >= m->maps[k].data &&
                              t.data < m->maps[k].data + m->maps[k].size;
                CHECK(in_map);
            }
        }
    }
    CHECK(tf_bundle_find(b, "nope") == -1);
    CHECK(tf_bundle_find(b, "") == -1);
    tfg_tensor_t t;
    tflc_status_clear(st);
    CHECK(tf_bundle_get(b, "dense/bias", &t, st) == TFLC_ERR_FORMAT);
    CHECK(has_msg(st, "good.index: ", "'dense/bias'"));
    CHECK(tflc_status_count(st) == 1);
out:
    tflc_model_free(m);
    tflc_status_free(st);
}

/* Opens a bundle expected to fail at open (get_key NULL) or at get. */
static void expect_fail(const char *name, const tb_ent_t *ents, size_t n,
                        const tb_bundle_opts_t *o, const char *get_key,
                        tflc_code_t code, const char *m1, const char *m2)
{
    const char *prefix = write_bundle(name, ents, n, o);
    tflc_status_t *st = tflc_status_new();
    ir_model_t *m = ir_model_new();
    tf_bundle_t *b = NULL;
    tflc_code_t c = tf_bundle_open(m, prefix, &b, st);
    if (!get_key) {
        CHECK(c == code && b == NULL);
    } else {
        CHECK(c == TFLC_OK);
        tfg_tensor_t t;
        if (b)
            c = tf_bundle_get(b, get_key, &t, st);
        CHECK(c == code);
    }
    if (tb_failures || !has_msg(st, m1, m2)) {
        fprintf(stderr, "  in case '%s'\n", name);
        tb_failures++;
    }
    tflc_model_free(m);
    tflc_status_free(st);
}

static void test_bundle_lies(void)
{
    tb_ent_t e[2];
    const size_t n = 1;
    tb_bundle_opts_t two = {2, 0, 0, 0, 0};

#define ONE(field, value) (e[0] = base_ents[0], e[0].field = (value), e)
    expect_fail("size_big", ONE(size_delta, 100), n, NULL, "dense/kernel",
                TFLC_ERR_FORMAT, "size_big.data-00000-of-00001", "outside the shard");
    expect_fail("off_neg", ONE(offset_delta, -1), n, NULL, "dense/kernel",
                TFLC_ERR_FORMAT, "off_neg.data-00000-of-00001", "outside the shard");
    expect_fail("off_far", ONE(offset_delta, INT64_MAX - 8), n, NULL, "dense/kernel",
                TFLC_ERR_FORMAT, "'dense/kernel'", "outside the shard");
    expect_fail("size_small", ONE(size_delta, -4), n, NULL, "dense/kernel",
                TFLC_ERR_FORMAT, "size_small.data-00000-of-00001: offset 0",
                "holds 20 bytes but 6 elements of 4 bytes");
    expect_fail("crc", ONE(crc_xor, 1), n, NULL, "dense/kernel", TFLC_ERR_FORMAT,
                "crc.data-00000-of-00001: offset 0: tensor 'dense/kernel'",
                "checksum mismatch");
    expect_fail("slices", ONE(n_slices, 2), n, NULL, "dense/kernel",
                TFLC_ERR_UNSUPPORTED, "'dense/kernel'", "partitioned variable");
    expect_fail("variant", ONE(dtype, TF_VARIANT), n, NULL, "dense/kernel",
                TFLC_ERR_UNSUPPORTED, "'dense/kernel'", "variant");
    expect_fail("dtype99", ONE(dtype, 99), n, NULL, "dense/kernel",
                TFLC_ERR_UNSUPPORTED, "'dense/kernel'", "dtype 99");
    expect_fail("rank", ONE(rank, -1), n, NULL, "dense/kernel", TFLC_ERR_FORMAT,
                "'dense/kernel'", "no rank");
    e[0] = base_ents[0];
    e[0].dims[1] = -3;
    expect_fail("negdim", e, n, NULL, "dense/kernel", TFLC_ERR_FORMAT,
                "'dense/kernel'", "dimension 1 is -3");
    e[0] = base_ents[0];
    e[0].rank = 4;
    e[0].dims[0] = e[0].dims[1] = e[0].dims[2] = e[0].dims[3] = INT64_MAX / 2;
    expect_fail("overflow", e, n, NULL, "dense/kernel", TFLC_ERR_FORMAT,
                "'dense/kernel'", "overflows");
    expect_fail("shard_id", ONE(shard, 1), n, NULL, NULL, TFLC_ERR_FORMAT,
                "shard_id.index", "'dense/kernel': shard 1 of a bundle with 1 shards");
    e[0] = base_ents[0];
    e[0].bad_proto = 1;
    expect_fail("proto", e, n, NULL, NULL, TFLC_ERR_FORMAT, "proto.index: offset",
                "'dense/kernel': not a valid BundleEntryProto");
    tb_bundle_opts_t be = {1, 1, 0, 0, 0};
    expect_fail("big", base_ents, 1, &be, NULL, TFLC_ERR_UNSUPPORTED, "big.index",
                "big-endian");
    tb_bundle_opts_t mc = {1, 0, 5, 0, 0};
    expect_fail("consumer", base_ents, 1, &mc, NULL, TFLC_ERR_UNSUPPORTED,
                "consumer.index", "version 5");
    tb_bundle_opts_t nh = {1, 0, 0, 1, 0};
    expect_fail("nohdr", base_ents, 1, &nh, NULL, TFLC_ERR_FORMAT, "nohdr.index",
                "no header entry");
    expect_fail("nohdr0", base_ents, 0, &nh, NULL, TFLC_ERR_FORMAT, "nohdr0.index",
                "no header entry");
    /* A string tensor whose size lies (the length checksum still holds). */
    e[0] = base_ents[5];
    e[0].size_delta = -1;
    expect_fail("str_short", e, n, NULL, "names", TFLC_ERR_FORMAT,
                "str_short.data-00000-of-00001: offset 0: string tensor 'names'",
                "string bytes, but the entry holds");
    e[0] = base_ents[5];
    e[0].size_delta = -13;
    expect_fail("str_trunc", e, n, NULL, "names", TFLC_ERR_FORMAT,
                "string tensor 'names'", "");
    e[0] = base_ents[5];
    e[0].dims[0] = 1000;
    expect_fail("str_count", e, n, NULL, "names", TFLC_ERR_FORMAT,
                "string tensor 'names'", "cannot fit");
    e[0] = base_ents[5];
    e[0].crc_xor = 0x100;
    expect_fail("str_crc", e, n, NULL, "names", TFLC_ERR_FORMAT,
                "tensor 'names'", "checksum mismatch");
#undef ONE

    /* A missing shard: the second of two, removed. */
    e[0] = base_ents[0];
    e[0].shard = 1;
    {
        const char *prefix = write_bundle("missing", e, 1, &two);
        char path[600];
        snprintf(path, sizeof path, "%s.data-00001-of-00002", prefix);
        CHECK(unlink(path) == 0);
        tflc_status_t *st = tflc_status_new();
        ir_model_t *m = ir_model_new();
        tf_bundle_t *b = NULL;
        CHECK(tf_bundle_open(m, prefix, &b, st) == TFLC_ERR_IO && !b);
        CHECK(has_msg(st, "missing.data-00001-of-00002", "cannot open"));
        tflc_model_free(m);
        tflc_status_free(st);
    }
    /* A corrupt data byte (not the index) is found by the crc. */
    {
        const char *prefix = write_bundle("flip", base_ents, 1, NULL);
        char path[600];
        snprintf(path, sizeof path, "%s.data-00000-of-00001", prefix);
        tb_buf_t d;
        CHECK(tb_read_file(path, &d) == 0);
        d.p[5] ^= 0x10;
        CHECK(tb_write_file(path, d.p, d.n) == 0);
        tb_free(&d);
        tflc_status_t *st = tflc_status_new();
        ir_model_t *m = ir_model_new();
        tf_bundle_t *b = NULL;
        tfg_tensor_t t;
        CHECK(tf_bundle_open(m, prefix, &b, st) == TFLC_OK);
        CHECK(b && tf_bundle_get(b, "dense/kernel", &t, st) == TFLC_ERR_FORMAT);
        CHECK(has_msg(st, "flip.data-00000-of-00001: offset 0: tensor 'dense/kernel'",
                      "checksum mismatch"));
        tflc_model_free(m);
        tflc_status_free(st);
    }
    /* No index at all. */
    {
        tflc_status_t *st = tflc_status_new();
        ir_model_t *m = ir_model_new();
        tf_bundle_t *b = NULL;
        char prefix[512];
        snprintf(prefix, sizeof prefix, "%s/absent", g_dir);
        CHECK(tf_bundle_open(m, prefix, &b, st) == TFLC_ERR_IO && !b);
        CHECK(has_msg(st, "absent.index", "cannot open"));
        tflc_model_free(m);
        tflc_status_free(st);
    }
}

/* Every truncation and every byte flip of a whole bundle index: open and
 * read everything; errors are fine, crashes and leaks are not (ASan). */
static void test_bundle_fuzz(void)
{
    tb_bundle_opts_t two = {2, 0, 0, 0, 0};
    const char *prefix = write_bundle("fuzz", base_ents, ARRAY_LEN(base_ents), &two);
    char ipath[600], cpath[600], cprefix[512];
    snprintf(ipath, sizeof ipath, "%s.index", prefix);
    snprintf(cprefix, sizeof cprefix, "%s/fuzzc", g_dir);
    snprintf(cpath, sizeof cpath, "%s.index", cprefix);
    tb_buf_t d, idx;
    for (int k = 0; k < 2; k++) {
        char src[600], dst[600];
        snprintf(src, sizeof src, "%s.data-%05d-of-00002", prefix, k);
        snprintf(dst, sizeof dst, "%s.data-%05d-of-00002", cprefix, k);
        CHECK(tb_read_file(src, &d) == 0 && tb_write_file(dst, d.p, d.n) == 0);
        tb_free(&d);
    }
    CHECK(tb_read_file(ipath, &idx) == 0);
    size_t opened = 0;
    for (size_t round = 0; round < 2 * idx.n; round++) {
        size_t n = idx.n;
        size_t i = round % idx.n;
        if (round < idx.n)
            n = i;  /* truncation */
        else
            idx.p[i] ^= 0xa5;  /* flip */
        CHECK(tb_write_file(cpath, idx.p, n) == 0);
        if (round >= idx.n)
            idx.p[i] ^= 0xa5;
        tflc_status_t *st = tflc_status_new();
        ir_model_t *m = ir_model_new();
        tf_bundle_t *b = NULL;
        if (tf_bundle_open(m, cprefix, &b, st) == TFLC_OK) {
            opened++;
            for (size_t k = 0; k < tf_bundle_count(b); k++) {
                tfg_tensor_t t;
                tf_bundle_get(b, tf_bundle_key(b, k), &t, st);
            }
        } else {
            CHECK(tflc_status_count(st) >= 1);
            CHECK(strstr(tflc_status_message(st, 0), "fuzzc.") != NULL);
        }
        tflc_model_free(m);
        tflc_status_free(st);
    }
    /* Only flips in the footer padding or the unread metaindex block can
     * leave the index readable. */
    CHECK(opened <= 40 + 13);
    tb_free(&idx);
}

/* Every allocation failing in turn, through open and get (Lua's trick):
 * an out-of-memory error or success, never a crash or a leak. */
static void test_bundle_oom(void)
{
    tb_bundle_opts_t two = {2, 0, 0, 0, 0};
    const char *prefix = write_bundle("oom", base_ents, ARRAY_LEN(base_ents), &two);
    int completed = 0;
    for (long k = 1; k < 2000 && !completed; k++) {
        tflc_status_t *st = tflc_status_new();
        ir_model_t *m = ir_model_new();
        if (!st || !m) {
            tflc_model_free(m);
            tflc_status_free(st);
            continue;
        }
        mem_fail_after(k);
        tf_bundle_t *b = NULL;
        tflc_code_t c = tf_bundle_open(m, prefix, &b, st);
        size_t got = 0;
        for (size_t i = 0; b && i < tf_bundle_count(b); i++) {
            tfg_tensor_t t;
            got += tf_bundle_get(b, tf_bundle_key(b, i), &t, st) == TFLC_OK;
        }
        mem_fail_after(0);
        if (c == TFLC_OK && got == ARRAY_LEN(base_ents))
            completed = 1;

        tflc_model_free(m);
        tflc_status_free(st);
    }
    CHECK(completed);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/tflc_bundle_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_crc32c();
    test_varint();
    test_table_roundtrip();
    test_table_corrupt();
    test_block_lies();
    test_bundle_read(0);
    test_bundle_read(1);
    test_bundle_lies();
    test_bundle_fuzz();
    test_bundle_oom();
    nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    if (tb_failures) {
        fprintf(stderr, "test_bundle: %d failure(s)\n", tb_failures);
        return 1;
    }
    printf("test_bundle: ok\n");
    return 0;
}
