/*
 * sstable.c -- a full scan of a LevelDB-format table held in memory (TF's
 * table format, used for variables.index).
 *
 * Layout (facts of the format):
 *   [data block + trailer]...  [metaindex block + trailer]
 *   [index block + trailer]    [footer: 48 bytes]
 * footer:  metaindex handle, index handle (each: varint64 offset, varint64
 *          size), zero padding to 40 bytes, fixed64 magic.
 * trailer: 1 byte compression type (0 none, 1 snappy), fixed32 masked
 *          crc32c of the block bytes followed by the type byte.
 * block:   entries, then fixed32 restart offsets, then fixed32 count.
 * entry:   varint32 shared, varint32 non_shared, varint32 value_len,
 *          key bytes [shared..shared+non_shared), value bytes; the key
 *          shares its first `shared` bytes with the previous key.
 * The index block maps a separator key per data block to its handle.
 *
 * Contract: sst_scan visits every data entry in order, having checked
 * every offset, length and checksum; hostile input gives an error with the
 * file name and byte offset, never a read outside data[0..size). The
 * metaindex block (filters; TF writes it empty) is not read.
 */
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sstable.h"

int sst_varint64(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    const uint8_t *q = *p;
    uint64_t r = 0;
    for (int shift = 0; shift < 64 && q < end; shift += 7) {
        uint8_t b = *q++;
        if (shift == 63 && b > 1)
            return -1;  /* more than 64 bits */
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *p = q;
            *v = r;
            return 0;
        }
    }
    return -1;
}

int sst_varint32(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
    const uint8_t *q = *p;
    uint64_t r;
    if (sst_varint64(&q, end, &r) || r > UINT32_MAX || q - *p > 5)
        return -1;
    *p = q;
    *v = (uint32_t)r;
    return 0;
}

typedef struct sst_handle {
    uint64_t offset, size;
} sst_handle_t;

/* A scan in progress: the file, and the previous key for ordering. */
typedef struct sst_scan {
    const uint8_t *data;
    size_t size;          /* without the footer */
    const char *name;
    tflc_status_t *st;
    char *key;            /* current key, NUL-terminated */
    size_t key_len, key_cap;
    char *prev;           /* the previous data key, for the order check */
    size_t prev_len, prev_cap;
    int have_prev;
} sst_scan_t;

/* A problem at byte pos of the block at file offset off: a file offset
 * for a stored block, a position in the expanded bytes for a compressed one. */
static tflc_code_t bad(sst_scan_t *s, uint64_t off, uint64_t pos, int packed,
                       const char *fmt, ...) TFLC_PRINTF(5, 6);
static tflc_code_t bad(sst_scan_t *s, uint64_t off, uint64_t pos, int packed,
                       const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (packed)
        return st_err(s->st, TFLC_ERR_FORMAT, s->name,
                      "offset %llu (snappy block), byte %llu uncompressed: %s",
                      (unsigned long long)off, (unsigned long long)pos, what);
    return st_err(s->st, TFLC_ERR_FORMAT, s->name, "offset %llu: %s",
                  (unsigned long long)(off + pos), what);
}

static int reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    char *nb = mem_realloc(*buf, c);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = c;
    return 0;
}

static int decode_handle(const uint8_t **p, const uint8_t *end, sst_handle_t *h)
{
    return sst_varint64(p, end, &h->offset) || sst_varint64(p, end, &h->size);
}

/* Checks handle h against the file and its checksum, and gives the block
 * contents: a pointer into the file, or (snappy) a buffer in *owned that
 * the caller frees. */
static tflc_code_t read_block(sst_scan_t *s, sst_handle_t h, const char *what,
                              const uint8_t **out, size_t *out_len,
                              uint8_t **owned)
{
    *owned = NULL;
    if (h.size > s->size || h.offset > s->size - h.size ||
        s->size - h.size - h.offset < SST_TRAILER_SIZE)
        return st_err(s->st, TFLC_ERR_FORMAT, s->name,
                      "%s block at offset %llu, %llu bytes, lies outside the "
                      "file (%zu bytes before the footer)", what,
                      (unsigned long long)h.offset, (unsigned long long)h.size,
                      s->size);
    const uint8_t *b = s->data + h.offset;
    size_t n = (size_t)h.size;
    uint8_t type = b[n];
    uint32_t want = crc32c_unmask(sst_le32(b + n + 1));
    uint32_t got = crc32c_extend(crc32c_extend(0, b, n), &type, 1);
    if (got != want)
        return st_err(s->st, TFLC_ERR_FORMAT, s->name,
                      "offset %llu: %s block checksum mismatch (stored %08x, "
                      "computed %08x)", (unsigned long long)h.offset, what,
                      (unsigned)want, (unsigned)got);
    if (type == 0) {
        *out = b;
        *out_len = n;
        return TFLC_OK;
    }
    if (type != 1)
        return st_err(s->st, TFLC_ERR_UNSUPPORTED, s->name,
                      "offset %llu: %s block has unknown compression type %u",
                      (unsigned long long)h.offset, what, (unsigned)type);
    size_t ulen;
    /* Snappy expands at most ~32x (a 2-byte copy makes 64 bytes); a larger
     * claimed length is a lie that would only cost memory. */
    if (snappy_uncompressed_length((const char *)b, n, &ulen) != SNAPPY_OK ||
        ulen / 64 > n ||
        snappy_validate_compressed_buffer((const char *)b, n) != SNAPPY_OK)
        return st_err(s->st, TFLC_ERR_FORMAT, s->name,
                      "offset %llu: %s block: corrupt snappy data",
                      (unsigned long long)h.offset, what);
    uint8_t *u = mem_alloc(ulen ? ulen : 1);
    if (!u)
        return st_oom(s->st, s->name);
    size_t got_len = ulen;
    if (snappy_uncompress((const char *)b, n, (char *)u, &got_len) != SNAPPY_OK ||
        got_len != ulen) {
        mem_free(u);
        return st_err(s->st, TFLC_ERR_FORMAT, s->name,
                      "offset %llu: %s block: corrupt snappy data",
                      (unsigned long long)h.offset, what);
    }
    *out = u;
    *out_len = ulen;
    *owned = u;
    return TFLC_OK;
}

/* Calls fn for each entry of one block. off is the block's file offset. */
typedef struct sst_pos {
    uint64_t off, pos;
    int packed;
} sst_pos_t;
typedef tflc_code_t (*entry_fn)(sst_scan_t *s, const uint8_t *val,
                                size_t val_len, sst_pos_t at, void *arg);

static tflc_code_t scan_block(sst_scan_t *s, const uint8_t *b, size_t n,
                              uint64_t off, int packed, const char *what,
                              entry_fn fn, void *arg)
{
    if (n < 4)
        return bad(s, off, 0, packed, "block shorter than its restart count");
    uint32_t nr = sst_le32(b + n - 4);
    if (nr == 0 || nr > (n - 4) / 4)
        return bad(s, off, n - 4, packed, "%s block: bad restart count %u",
                   what, (unsigned)nr);
    size_t limit = n - 4 - 4 * (size_t)nr;  /* end of the entries */
    for (uint32_t i = 0; i < nr; i++)
        if (sst_le32(b + limit + 4 * (size_t)i) > limit)
            return bad(s, off, limit + 4 * (size_t)i, packed,
                       "%s block: restart point %u lies outside the block",
                       what, (unsigned)i);
    const uint8_t *p = b, *end = b + limit;
    s->key_len = 0;
    while (p < end) {
        sst_pos_t at = {off, (uint64_t)(p - b), packed};
        uint32_t shared, unshared, vlen;
        if (sst_varint32(&p, end, &shared) || sst_varint32(&p, end, &unshared) ||
            sst_varint32(&p, end, &vlen))
            return bad(s, off, at.pos, packed, "truncated entry header");
        if (shared > s->key_len)
            return bad(s, off, at.pos, packed,
                       "entry shares more key bytes than the previous key has");
        if (unshared > (size_t)(end - p) || vlen > (size_t)(end - p) - unshared)
            return bad(s, off, at.pos, packed,
                       "entry runs past the end of its block");
        if (reserve(&s->key, &s->key_cap, (size_t)shared + unshared + 1))
            return st_oom(s->st, s->name);
        memcpy(s->key + shared, p, unshared);
        s->key_len = (size_t)shared + unshared;
        s->key[s->key_len] = 0;
        p += unshared;
        tflc_code_t c = fn(s, p, vlen, at, arg);
        if (c)
            return c;
        p += vlen;
    }
    return TFLC_OK;
}

typedef struct data_arg {
    sst_visit_fn visit;
    void *user;
} data_arg_t;

static tflc_code_t data_entry(sst_scan_t *s, const uint8_t *val, size_t val_len,
                              sst_pos_t at, void *arg)
{
    data_arg_t *a = arg;
    if (s->have_prev) {
        size_t m = s->prev_len < s->key_len ? s->prev_len : s->key_len;
        int c = memcmp(s->prev, s->key, m);
        if (c > 0 || (c == 0 && s->prev_len >= s->key_len))
            return bad(s, at.off, at.pos, at.packed,
                       "keys are not in increasing order");
    }
    if (reserve(&s->prev, &s->prev_cap, s->key_len + 1))
        return st_oom(s->st, s->name);
    memcpy(s->prev, s->key, s->key_len + 1);
    s->prev_len = s->key_len;
    s->have_prev = 1;
    return a->visit(a->user, s->key, s->key_len, val, val_len,
                    at.packed ? at.off : at.off + at.pos);
}

static tflc_code_t index_entry(sst_scan_t *s, const uint8_t *val,
                               size_t val_len, sst_pos_t at, void *arg)
{
    data_arg_t *a = arg;
    sst_handle_t h;
    const uint8_t *p = val;
    if (decode_handle(&p, val + val_len, &h))
        return bad(s, at.off, at.pos, at.packed, "index entry: bad block handle");
    /* Keep the index key aside while the data block scan builds its keys. */
    char *ikey = s->key;
    size_t ikey_len = s->key_len, ikey_cap = s->key_cap;
    s->key = NULL;
    s->key_len = s->key_cap = 0;
    const uint8_t *blk;
    size_t blk_len;
    uint8_t *owned;
    tflc_code_t c = read_block(s, h, "data", &blk, &blk_len, &owned);
    if (!c)
        c = scan_block(s, blk, blk_len, h.offset, owned != NULL, "data",
                       data_entry, a);
    mem_free(owned);
    mem_free(s->key);
    s->key = ikey;
    s->key_len = ikey_len;
    s->key_cap = ikey_cap;
    return c;
}

tflc_code_t sst_scan(const uint8_t *data, size_t size, const char *name,
                     sst_visit_fn visit, void *user, tflc_status_t *st)
{
    if (size < SST_FOOTER_SIZE)
        return st_err(st, TFLC_ERR_FORMAT, name,
                      "%zu bytes: too short for a table (footer is %d bytes)",
                      size, SST_FOOTER_SIZE);
    const uint8_t *foot = data + size - SST_FOOTER_SIZE;
    uint64_t foot_off = size - SST_FOOTER_SIZE;
    if (sst_le64(foot + 40) != SST_MAGIC)
        return st_err(st, TFLC_ERR_FORMAT, name,
                      "offset %llu: bad magic number: not a table",
                      (unsigned long long)(foot_off + 40));
    sst_handle_t meta, index;
    const uint8_t *p = foot;
    if (decode_handle(&p, foot + 40, &meta) || decode_handle(&p, foot + 40, &index))
        return st_err(st, TFLC_ERR_FORMAT, name,
                      "offset %llu: bad block handle in the footer",
                      (unsigned long long)foot_off);
    (void)meta;
    sst_scan_t s;
    memset(&s, 0, sizeof s);
    s.data = data;
    s.size = size - SST_FOOTER_SIZE;
    s.name = name;
    s.st = st;
    const uint8_t *blk;
    size_t blk_len;
    uint8_t *owned;
    tflc_code_t c = read_block(&s, index, "index", &blk, &blk_len, &owned);
    if (!c) {
        data_arg_t a = {visit, user};
        c = scan_block(&s, blk, blk_len, index.offset, owned != NULL, "index",
                       index_entry, &a);
    }
    mem_free(owned);
    mem_free(s.key);
    mem_free(s.prev);
    return c;
}
