/*
 * pb.c -- protobuf decoding for the TF front-end.
 *
 * Contract: tf_pb_unpack first walks the wire format with the message's
 * descriptor (iteratively per message, recursing only into known message
 * fields, at most TF_PB_MAX_DEPTH deep) and reports the first problem with
 * its byte offset: a truncated field, a varint longer than 10 bytes, a
 * group or unknown wire type, a known field sent with the wrong wire type.
 * Only then is protobuf-c asked to unpack, with an allocator that takes
 * everything from the caller's arena, so a parsed message is freed with the
 * arena and never on its own. Unknown fields are skipped.
 */
#include <string.h>

#include "tf.h"

typedef struct scan_err {
    size_t off;
    char msg[160];
} scan_err_t;

/* Reads a varint at p[*i..n). Returns 0, or -1 if truncated or too long. */
static int rd_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
    uint64_t r = 0;
    for (int k = 0; k < 10; k++) {
        if (*i >= n)
            return -1;
        uint8_t c = p[(*i)++];
        r |= (uint64_t)(c & 0x7f) << (7 * k);
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* The wire type protobuf-c accepts for a field of type t (besides 2 for
 * packed repeated numbers). */
static int wire_type_of(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 1;
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 5;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return 2;
    default:
        return 0;
    }
}

static int scan(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                size_t n, size_t base, int depth, scan_err_t *e)
{
    if (depth > TF_PB_MAX_DEPTH) {
        e->off = base;
        snprintf(e->msg, sizeof e->msg,
                 "messages nested more than %d deep", TF_PB_MAX_DEPTH);
        return -1;
    }
    size_t i = 0;
    while (i < n) {
        size_t at = i;
        uint64_t key, len;
        if (rd_varint(p, n, &i, &key)) {
            e->off = base + at;
            snprintf(e->msg, sizeof e->msg, "truncated field key");
            return -1;
        }
        uint64_t id = key >> 3;
        int wt = (int)(key & 7);
        if (id == 0 || id > 536870911u) {
            e->off = base + at;
            snprintf(e->msg, sizeof e->msg, "invalid field number %llu",
                     (unsigned long long)id);
            return -1;
        }
        const ProtobufCFieldDescriptor *f =
            d ? protobuf_c_message_descriptor_get_field(d, (unsigned)id)
              : NULL;
        if (f) {
            int want = wire_type_of(f->type);
            int packed_ok = f->label == PROTOBUF_C_LABEL_REPEATED && want != 2;
            if (wt != want && !(packed_ok && wt == 2)) {
                e->off = base + at;
                snprintf(e->msg, sizeof e->msg,
                         "%s.%s (field %u) has wire type %d, expected %d",
                         d->short_name, f->name, f->id, wt, want);
                return -1;
            }
        }
        switch (wt) {
        case 0:
            if (rd_varint(p, n, &i, &len)) {
                e->off = base + at;
                snprintf(e->msg, sizeof e->msg,
                         "truncated or overlong varint in field %llu",
                         (unsigned long long)id);
                return -1;
            }
            break;
        case 1:
        case 5: {
            size_t w = wt == 1 ? 8 : 4;
            if (n - i < w) {
                e->off = base + at;
                snprintf(e->msg, sizeof e->msg,
                         "field %llu needs %zu bytes, %zu left",
                         (unsigned long long)id, w, n - i);
                return -1;
            }
            i += w;
            break;
        }
        case 2:
            if (rd_varint(p, n, &i, &len)) {
                e->off = base + at;
                snprintf(e->msg, sizeof e->msg,
                         "truncated length of field %llu",
                         (unsigned long long)id);
                return -1;
            }
            if (len > n - i) {
                e->off = base + at;
                snprintf(e->msg, sizeof e->msg,
                         "field %llu claims %llu bytes, %zu left (truncated?)",
                         (unsigned long long)id, (unsigned long long)len,
                         n - i);
                return -1;
            }
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                scan(f->descriptor, p + i, (size_t)len, base + i, depth + 1,
                     e))
                return -1;
            i += (size_t)len;
            break;
        default:
            e->off = base + at;
            snprintf(e->msg, sizeof e->msg,
                     "field %llu has wire type %d (groups and types 6, 7 "
                     "are not protobuf 3)",
                     (unsigned long long)id, wt);
            return -1;
        }
    }
    return 0;
}

typedef struct pb_ar {
    ar_t *ar;
    int failed; /* an allocation failed: protobuf-c's NULL means OOM */
} pb_ar_t;

static void *pb_alloc(void *ud, size_t size)
{
    pb_ar_t *a = ud;
    void *p = ar_alloc(a->ar, size);
    a->failed |= !p;
    return p;
}

static void pb_free(void *ud, void *p) { (void)ud, (void)p; }

tflc_code_t tf_pb_unpack(ar_t *ar, const ProtobufCMessageDescriptor *desc,
                         const uint8_t *data, size_t size, const char *file,
                         const char *what, void **out, tflc_status_t *st)
{
    scan_err_t e = {0};
    static const uint8_t empty[1];
    *out = NULL;
    if (!data)
        data = empty, size = 0;
    if (scan(desc, data, size, 0, 0, &e))
        return st_err(st, TFLC_ERR_FORMAT, file,
                      "byte %zu: not a valid %s: %s", e.off, what, e.msg);
    pb_ar_t pa = {ar, 0};
    ProtobufCAllocator a = {pb_alloc, pb_free, &pa};
    *out = protobuf_c_message_unpack(desc, &a, size, data);
    if (!*out && pa.failed)
        return st_oom(st, file);
    if (!*out)
        return st_err(st, TFLC_ERR_FORMAT, file,
                      "not a valid %s (protobuf-c refused it)", what);
    return TFLC_OK;
}

tflc_code_t tf_pb_read_file(ar_t *ar, const ProtobufCMessageDescriptor *desc,
                            const char *path, const char *what, void **out,
                            tflc_status_t *st)
{
    mf_t f;
    *out = NULL;
    tflc_code_t rc = mf_open(&f, path, st);
    if (rc != TFLC_OK)
        return rc;
    if (f.size == 0)
        rc = st_err(st, TFLC_ERR_FORMAT, path, "empty file: not a %s", what);
    else
        rc = tf_pb_unpack(ar, desc, f.data, f.size, path, what, out, st);
    mf_close(&f);
    return rc;
}
