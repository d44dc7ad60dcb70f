/*
 * bundle.c -- the TensorBundle (TF V2 checkpoint) reader: the index table
 * into a sorted array of entries, the data shards mapped into the model,
 * tensors handed out as pointers into the shards after their checks.
 *
 * Contract (see bundle.h): all memory in m->arena; the shards are kept
 * mapped by m; every offset, size and checksum from the files is checked
 * before use; errors name the file and the key or byte offset.
 *
 * Facts of the format used here:
 * - the index's first key is "" (BundleHeaderProto); keys are sorted;
 * - shard k of n is "<prefix>.data-%05d-of-%05d" (k, n);
 * - BundleEntryProto.crc32c is the masked crc32c of the tensor's bytes;
 * - a DT_STRING tensor's bytes are: a varint64 length per element, a
 *   fixed32 masked crc32c of those lengths (each taken as a little-endian
 *   uint32, or uint64 when it does not fit 32 bits), then the string
 *   bytes; the entry's crc32c covers the lengths (taken as for the length
 *   checksum), the stored length checksum and the string bytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bundle.h"
#include "sstable.h"
#include "tensor_bundle.pb-c.h"

/* The bundle format version this reader understands (TF's producer 1). */
#define BUNDLE_VERSION 1
/* Sanity bound on the shard count: file names have five digits. */
#define BUNDLE_MAX_SHARDS 99999

typedef struct bundle_shard {
    const char *path;
    const uint8_t *data;
    size_t size;
} bundle_shard_t;

typedef struct bundle_item {
    tf_bundle_entry_t e;
    bool checked;  /* crc32c verified */
} bundle_item_t;

struct tf_bundle {
    ir_model_t *m;
    const char *prefix;
    const char *index_path;
    int32_t num_shards;
    bundle_shard_t *shards;
    bundle_item_t *items;
    size_t n_items, cap_items;
    bool have_header;
};

/* ---- protobuf-c through the allocator hook ---- */

static void *pb_alloc(void *user, size_t size)
{
    (void)user;
    return mem_alloc(size ? size : 1);
}

static void pb_free(void *user, void *p)
{
    (void)user;
    mem_free(p);
}

static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

/* ---- dtypes ---- */

/* Bytes per element of the dtypes a bundle stores as raw little-endian
 * arrays; 0 for string (decoded apart) and the unsupported ones. */
static int elem_size(int dt)
{
    switch (dt) {
    case TF_BOOL: case TF_INT8: case TF_UINT8: case TF_QINT8: case TF_QUINT8:
        return 1;
    case TF_INT16: case TF_UINT16: case TF_QINT16: case TF_QUINT16:
    case TF_HALF: case TF_BFLOAT16:
        return 2;
    case TF_FLOAT: case TF_INT32: case TF_UINT32: case TF_QINT32:
        return 4;
    case TF_DOUBLE: case TF_INT64: case TF_UINT64: case TF_COMPLEX64:
        return 8;
    case TF_COMPLEX128:
        return 16;
    default:
        return 0;
    }
}

/* ---- opening ---- */

typedef struct open_ctx {
    tf_bundle_t *b;
    tflc_status_t *st;
} open_ctx_t;

static tflc_code_t read_header(open_ctx_t *c, const uint8_t *val, size_t len,
                               uint64_t off)
{
    tf_bundle_t *b = c->b;
    Tf__BundleHeaderProto *h =
        tf__bundle_header_proto__unpack(&pb_allocator, len, val);
    if (!h)
        return st_err(c->st, TFLC_ERR_FORMAT, b->index_path,
                      "offset %" PRIu64 ": the header entry is not a valid "
                      "BundleHeaderProto", off);
    tflc_code_t code = TFLC_OK;
    const Tf__BundleVersionDef *v = h->version;
    if (h->num_shards < 1 || h->num_shards > BUNDLE_MAX_SHARDS)
        code = st_err(c->st, TFLC_ERR_FORMAT, b->index_path,
                      "offset %" PRIu64 ": header: bad shard count %" PRId32,
                      off, h->num_shards);
    else if (h->endianness != TF__BUNDLE_HEADER_PROTO__ENDIANNESS__LITTLE)
        code = st_err(c->st, TFLC_ERR_UNSUPPORTED, b->index_path,
                      "header: a big-endian checkpoint is not supported");
    else if (v && v->min_consumer > BUNDLE_VERSION)
        code = st_err(c->st, TFLC_ERR_UNSUPPORTED, b->index_path,
                      "header: bundle format needs a reader of version %" PRId32
                      " (this one is %d)", v->min_consumer, BUNDLE_VERSION);
    for (size_t i = 0; !code && v && i < v->n_bad_consumers; i++)
        if (v->bad_consumers[i] == BUNDLE_VERSION)
            code = st_err(c->st, TFLC_ERR_UNSUPPORTED, b->index_path,
                          "header: bundle format version %d is marked as a "
                          "bad reader of this checkpoint", BUNDLE_VERSION);
    b->num_shards = h->num_shards;
    b->have_header = true;
    tf__bundle_header_proto__free_unpacked(h, &pb_allocator);
    return code;
}

static tflc_code_t read_entry(open_ctx_t *c, const char *key, const uint8_t *val,
                              size_t len, uint64_t off)
{
    tf_bundle_t *b = c->b;
    ar_t *ar = &b->m->arena;
    Tf__BundleEntryProto *p =
        tf__bundle_entry_proto__unpack(&pb_allocator, len, val);
    if (!p)
        return st_err(c->st, TFLC_ERR_FORMAT, b->index_path,
                      "offset %" PRIu64 ": key '%s': not a valid "
                      "BundleEntryProto", off, key);
    bundle_item_t it;
    memset(&it, 0, sizeof it);
    tf_bundle_entry_t *e = &it.e;
    e->key = ar_strdup(ar, key);
    e->dtype = (int32_t)p->dtype;
    e->shard_id = p->shard_id;
    e->offset = p->offset;
    e->size = p->size;
    e->crc32c = p->crc32c;
    e->n_slices = p->n_slices > UINT32_MAX ? UINT32_MAX : (uint32_t)p->n_slices;
    /* No shape message is the proto3 default: a scalar. */
    const Tf__TensorShapeProto *sh = p->shape;
    bool oom = !e->key;
    if (sh && sh->unknown_rank) {
        e->shape.rank = -1;
    } else if (sh && sh->n_dim) {
        if (sh->n_dim > INT32_MAX) {
            tf__bundle_entry_proto__free_unpacked(p, &pb_allocator);
            return st_err(c->st, TFLC_ERR_FORMAT, b->index_path,
                          "offset %" PRIu64 ": key '%s': rank too large", off, key);
        }
        e->shape.rank = (int32_t)sh->n_dim;
        e->shape.dims = ar_calloc(ar, sh->n_dim, sizeof *e->shape.dims);
        oom |= !e->shape.dims;
        for (size_t i = 0; !oom && i < sh->n_dim; i++)
            e->shape.dims[i] = sh->dim[i]->size;
    }
    tf__bundle_entry_proto__free_unpacked(p, &pb_allocator);
    if (oom || AR_PUSH(ar, b->items, b->n_items, b->cap_items, it))
        return st_oom(c->st, b->index_path);
    return TFLC_OK;
}

static tflc_code_t visit(void *user, const char *key, size_t key_len,
                         const uint8_t *val, size_t len, uint64_t off)
{
    open_ctx_t *c = user;
    tf_bundle_t *b = c->b;
    if (strlen(key) != key_len)
        return st_err(c->st, TFLC_ERR_FORMAT, b->index_path,
                      "offset %" PRIu64 ": a key holds a NUL byte", off);
    if (key_len == 0)
        return read_header(c, val, len, off);
    if (!b->have_header)
        return st_err(c->st, TFLC_ERR_FORMAT, b->index_path,
                      "offset %" PRIu64 ": no header entry (key \"\") before "
                      "key '%s'", off, key);
    return read_entry(c, key, val, len, off);
}

static tflc_code_t map_shards(tf_bundle_t *b, tflc_status_t *st)
{
    ar_t *ar = &b->m->arena;
    b->shards = ar_calloc(ar, (size_t)b->num_shards, sizeof *b->shards);
    if (!b->shards)
        return st_oom(st, b->index_path);
    for (int32_t k = 0; k < b->num_shards; k++) {
        bundle_shard_t *s = &b->shards[k];
        s->path = ar_printf(ar, "%s.data-%05d-of-%05d", b->prefix, (int)k,
                            (int)b->num_shards);
        if (!s->path)
            return st_oom(st, b->index_path);
        mf_t f;
        tflc_code_t code = mf_open(&f, s->path, st);
        if (code)
            return code;
        s->data = f.data;
        s->size = f.size;
        if (ir_model_keep_map(b->m, &f))
            return st_oom(st, s->path);
    }
    return TFLC_OK;
}

tflc_code_t tf_bundle_open(ir_model_t *m, const char *prefix, tf_bundle_t **out,
                           tflc_status_t *st)
{
    *out = NULL;
    tf_bundle_t *b = ar_calloc(&m->arena, 1, sizeof *b);
    if (!b || !(b->prefix = ar_strdup(&m->arena, prefix)) ||
        !(b->index_path = ar_printf(&m->arena, "%s.index", prefix)))
        return st_oom(st, prefix);
    b->m = m;
    mf_t f;
    tflc_code_t code = mf_open(&f, b->index_path, st);
    if (code)
        return code;
    open_ctx_t c = {b, st};
    code = sst_scan(f.data, f.size, b->index_path, visit, &c, st);
    mf_close(&f);
    if (code)
        return code;
    if (!b->have_header)
        return st_err(st, TFLC_ERR_FORMAT, b->index_path,
                      "no header entry (key \"\"): not a tensor bundle");
    for (size_t i = 0; i < b->n_items; i++) {
        const tf_bundle_entry_t *e = &b->items[i].e;
        if (e->n_slices == 0 && (e->shard_id < 0 || e->shard_id >= b->num_shards))
            return st_err(st, TFLC_ERR_FORMAT, b->index_path,
                          "key '%s': shard %" PRId32 " of a bundle with %" PRId32
                          " shards", e->key, e->shard_id, b->num_shards);
    }
    code = map_shards(b, st);
    if (code)
        return code;
    *out = b;
    return TFLC_OK;
}

/* ---- queries ---- */

size_t tf_bundle_count(const tf_bundle_t *b) { return b->n_items; }

const char *tf_bundle_key(const tf_bundle_t *b, size_t i)
{
    return i < b->n_items ? b->items[i].e.key : NULL;
}

const tf_bundle_entry_t *tf_bundle_entry(const tf_bundle_t *b, size_t i)
{
    return i < b->n_items ? &b->items[i].e : NULL;
}

const char *tf_bundle_prefix(const tf_bundle_t *b) { return b->prefix; }
const char *tf_bundle_index_path(const tf_bundle_t *b) { return b->index_path; }

const char *tf_bundle_shard_path(const tf_bundle_t *b, int32_t k)
{
    return k >= 0 && k < b->num_shards ? b->shards[k].path : NULL;
}

long tf_bundle_find(const tf_bundle_t *b, const char *key)
{
    size_t lo = 0, hi = b->n_items;  /* keys are sorted (sst_scan checked) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(b->items[mid].e.key, key);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- reading a tensor ---- */

/* The element count of e's shape, or -1 (raised) when it has none. */
static int64_t num_elements(const tf_bundle_t *b, const tf_bundle_entry_t *e,
                            tflc_status_t *st)
{
    if (e->shape.rank < 0) {
        st_err(st, TFLC_ERR_FORMAT, b->index_path,
               "key '%s': the index gives no rank", e->key);
        return -1;
    }
    int64_t n = 1;
    for (int32_t i = 0; i < e->shape.rank; i++) {
        int64_t d = e->shape.dims[i];
        if (d < 0) {
            st_err(st, TFLC_ERR_FORMAT, b->index_path,
                   "key '%s': dimension %d is %" PRId64, e->key, (int)i, d);
            return -1;
        }
        if (d && n > INT64_MAX / d) {
            st_err(st, TFLC_ERR_FORMAT, b->index_path,
                   "key '%s': element count overflows", e->key);
            return -1;
        }
        n *= d;
    }
    return n;
}

/* Decodes the string tensor of n elements in p[0..size) into out, and
 * gives the crc32c TF computes over it in *crc. */
static tflc_code_t decode_strings(tf_bundle_t *b, const tf_bundle_entry_t *e,
                                  const bundle_shard_t *sh, const uint8_t *p,
                                  uint64_t size, uint64_t n, tfg_tensor_t *out,
                                  uint32_t *crc, tflc_status_t *st)
{
    ar_t *ar = &b->m->arena;
    const uint8_t *q = p, *end = p + size;
    /* Each length takes at least one byte: a count beyond the size lies. */
    if (n > size)
        return st_err(st, TFLC_ERR_FORMAT, sh->path,
                      "offset %" PRId64 ": string tensor '%s': %" PRIu64
                      " elements cannot fit %" PRIu64 " bytes", e->offset, e->key,
                      n, size);
    out->string_lens = ar_calloc(ar, n ? n : 1, sizeof *out->string_lens);
    out->strings = ar_calloc(ar, n ? n : 1, sizeof *out->strings);
    if (!out->string_lens || !out->strings)
        return st_oom(st, sh->path);
    uint32_t c = 0;
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len;
        if (sst_varint64(&q, end, &len))
            return st_err(st, TFLC_ERR_FORMAT, sh->path,
                          "offset %" PRId64 ": string tensor '%s': bad length "
                          "of element %" PRIu64, e->offset + (q - p), e->key, i);
        uint8_t le[8];
        for (int k = 0; k < 8; k++)
            le[k] = (uint8_t)(len >> (8 * k));
        c = crc32c_extend(c, le, len <= UINT32_MAX ? 4 : 8);
        out->string_lens[i] = len;
        if (len > size || total > size - len)
            return st_err(st, TFLC_ERR_FORMAT, sh->path,
                          "offset %" PRId64 ": string tensor '%s': element %"
                          PRIu64 " of %" PRIu64 " bytes overruns the tensor",
                          e->offset + (q - p), e->key, i, len);
        total += len;
    }
    if (end - q < 4)
        return st_err(st, TFLC_ERR_FORMAT, sh->path,
                      "offset %" PRId64 ": string tensor '%s': truncated before "
                      "its length checksum", e->offset + (q - p), e->key);
    if (crc32c_unmask(sst_le32(q)) != c)
        return st_err(st, TFLC_ERR_FORMAT, sh->path,
                      "offset %" PRId64 ": string tensor '%s': length checksum "
                      "mismatch (data corrupt)", e->offset + (q - p), e->key);
    c = crc32c_extend(c, q, 4);
    q += 4;
    if ((uint64_t)(end - q) != total)
        return st_err(st, TFLC_ERR_FORMAT, sh->path,
                      "offset %" PRId64 ": string tensor '%s': %" PRIu64
                      " string bytes, but the entry holds %" PRIu64, e->offset,
                      e->key, total, (uint64_t)(end - q));
    for (uint64_t i = 0; i < n; i++) {
        size_t len = (size_t)out->string_lens[i];
        out->strings[i] = ar_strndup(ar, (const char *)q, len);
        if (!out->strings[i])
            return st_oom(st, sh->path);
        c = crc32c_extend(c, q, len);
        q += len;
    }
    out->n_strings = n;
    *crc = c;
    return TFLC_OK;
}

tflc_code_t tf_bundle_get(tf_bundle_t *b, const char *key, tfg_tensor_t *out,
                          tflc_status_t *st)
{
    memset(out, 0, sizeof *out);
    long i = tf_bundle_find(b, key);
    if (i < 0)
        return st_err(st, TFLC_ERR_FORMAT, b->index_path,
                      "no tensor '%s' in the checkpoint", key);
    bundle_item_t *it = &b->items[i];
    const tf_bundle_entry_t *e = &it->e;
    if (e->n_slices)
        return st_err(st, TFLC_ERR_UNSUPPORTED, b->index_path,
                      "key '%s': a partitioned variable (%u slices) is not "
                      "supported", key, (unsigned)e->n_slices);
    int esize = elem_size(e->dtype);
    if (!esize && e->dtype != TF_STRING)
        return st_err(st, TFLC_ERR_UNSUPPORTED, b->index_path,
                      "key '%s': tensors of dtype %d (%s) are not supported",
                      key, (int)e->dtype,
                      e->dtype == TF_VARIANT    ? "variant"
                      : e->dtype == TF_RESOURCE ? "resource"
                                                : "unknown");
    int64_t n = num_elements(b, e, st);
    if (n < 0)
        return TFLC_ERR_FORMAT;
    const bundle_shard_t *sh = &b->shards[e->shard_id];
    if (e->offset < 0 || e->size < 0 || (uint64_t)e->offset > sh->size ||
        (uint64_t)e->size > sh->size - (uint64_t)e->offset)
        return st_err(st, TFLC_ERR_FORMAT, sh->path,
                      "tensor '%s': bytes [%" PRId64 ", +%" PRId64 ") lie "
                      "outside the shard (%zu bytes)", key, e->offset, e->size,
                      sh->size);
    uint64_t size = (uint64_t)e->size;
    if (esize && (n > INT64_MAX / esize || (uint64_t)n * (uint64_t)esize != size))
        return st_err(st, TFLC_ERR_FORMAT, sh->path,
                      "offset %" PRId64 ": tensor '%s': holds %" PRIu64 " bytes "
                      "but %" PRId64 " elements of %d bytes", e->offset, key, size,
                      n, esize);
    const uint8_t *data = size ? sh->data + e->offset : NULL;
    uint32_t crc = 0;
    if (e->dtype == TF_STRING) {
        tflc_code_t code = decode_strings(b, e, sh, data, size, (uint64_t)n,
                                          out, &crc, st);
        if (code)
            return code;
    } else if (!it->checked) {
        crc = crc32c_extend(0, data, (size_t)size);
    }
    if ((e->dtype == TF_STRING || !it->checked) && crc32c_mask(crc) != e->crc32c)
        return st_err(st, TFLC_ERR_FORMAT, sh->path,
                      "offset %" PRId64 ": tensor '%s': checksum mismatch "
                      "(index says %08x, data gives %08x): data corrupt",
                      e->offset, key, (unsigned)crc32c_unmask(e->crc32c),
                      (unsigned)crc);
    it->checked = true;
    out->dtype = e->dtype;
    out->shape.rank = e->shape.rank;
    if (e->shape.rank > 0) {
        out->shape.dims = ar_memdup(&b->m->arena, e->shape.dims,
                                    (size_t)e->shape.rank * sizeof(int64_t));
        if (!out->shape.dims)
            return st_oom(st, sh->path);
    }
    out->data = data;
    out->size = size;
    return TFLC_OK;
}
