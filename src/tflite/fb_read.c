/*
 * fb_read.c -- checked FlatBuffer access over untrusted bytes (see fb_read.h).
 *
 * Contract: no function here reads outside buf[0..size), whatever the bytes
 * say. Positions are 64-bit and every sum is compared against the size
 * before use, so a 32-bit offset near 2^32 cannot wrap. Integers are
 * assembled byte by byte (little-endian, as FlatBuffers stores them), which
 * is both alignment- and host-endianness-safe.
 *
 * Layout facts used (FlatBuffers binary format):
 *   root:    uoffset at byte 0 to the root table; optional 4-byte file
 *            identifier at bytes 4..8.
 *   table:   starts with an soffset (int32); its vtable is at table - soffset.
 *   vtable:  uint16 vtable size in bytes, uint16 table inline size, then one
 *            uint16 per field id: the field's offset from the table start,
 *            0 when the field is absent (the reader then uses the default).
 *   uoffset: uint32, relative to where it is stored, pointing forward.
 *   vector:  uint32 element count, then the elements.
 *   string:  uint32 byte count, the bytes, then a 0 byte.
 *   union:   two fields: a ubyte type tag (id k) and a uoffset to a table
 *            (id k + 1).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fb_read.h"

static uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t ld64(const uint8_t *p) { return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32; }

void fb_init(fb_reader_t *r, const uint8_t *buf, size_t size, tflc_status_t *st)
{
    memset(r, 0, sizeof *r);
    r->buf = buf;
    r->size = buf ? size : 0;
    r->st = st;
    /* A well-formed file spends at most about one unit per byte: each table
     * costs one unit and occupies at least 4 bytes, each scalar vector
     * element or string byte one unit and at least one byte. Twice that
     * leaves room for files that share strings; more means objects are
     * referenced from many places to multiply the work. */
    r->budget = 2 * (uint64_t)r->size + 4096;
}

void fb_where(fb_reader_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(r->where, sizeof r->where, fmt, ap);
    va_end(ap);
    if (k < 0)
        r->where[0] = 0;
}

static tflc_code_t vfail(fb_reader_t *r, tflc_code_t code, uint64_t pos, const char *what,
                         const char *fmt, va_list ap)
{
    if (r->stop)
        return code;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    st_err(r->st, code, r->where, "byte %llu: %s: %s", (unsigned long long)pos, what, msg);
    if (!r->errors)
        r->code = code;
    if (++r->errors >= FB_MAX_ERRORS) {
        st_err(r->st, code, r->where, "too many errors, stopped reading");
        r->stop = true;
    }
    return code;
}

tflc_code_t fb_fail(fb_reader_t *r, uint64_t pos, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(r, TFLC_ERR_FORMAT, pos, what, fmt, ap);
    va_end(ap);
    return TFLC_ERR_FORMAT;
}

tflc_code_t fb_fail_code(fb_reader_t *r, tflc_code_t code, uint64_t pos, const char *what,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(r, code, pos, what, fmt, ap);
    va_end(ap);
    return code;
}

bool fb_charge(fb_reader_t *r, uint64_t units, uint64_t pos, const char *what)
{
    if (r->stop)
        return false;
    if (units <= r->budget) {
        r->budget -= units;
        return true;
    }
    fb_fail(r, pos, what,
            "the file describes more objects than its %llu bytes can hold "
            "(objects referenced from many places?)",
            (unsigned long long)r->size);
    r->stop = true;
    return false;
}

/* True when [pos, pos + len) lies inside the buffer. */
static bool in_buf(const fb_reader_t *r, uint64_t pos, uint64_t len)
{
    return pos <= r->size && len <= r->size - pos;
}

/* Opens the table at pos, checking its vtable and inline size. */
static bool open_table(fb_reader_t *r, uint64_t pos, unsigned depth, const char *what,
                       fb_table_t *out)
{
    memset(out, 0, sizeof *out);
    if (r->stop)
        return false;
    if (depth > FB_MAX_DEPTH) {
        fb_fail(r, pos, what, "tables nested deeper than %d", FB_MAX_DEPTH);
        return false;
    }
    if (!fb_charge(r, 1, pos, what))
        return false;
    if (pos < 4 || !in_buf(r, pos, 4)) {
        fb_fail(r, pos, what, "table offset outside the data (%llu bytes)",
                (unsigned long long)r->size);
        return false;
    }
    int32_t soff = (int32_t)ld32(r->buf + pos);
    int64_t vt = (int64_t)pos - (int64_t)soff;
    if (vt < 0 || !in_buf(r, (uint64_t)vt, 4)) {
        fb_fail(r, pos, what, "vtable offset %ld points outside the data", (long)soff);
        return false;
    }
    uint16_t vt_size = ld16(r->buf + vt), size = ld16(r->buf + vt + 2);
    if (vt_size < 4 || (vt_size & 1) || !in_buf(r, (uint64_t)vt, vt_size)) {
        fb_fail(r, (uint64_t)vt, what, "bad vtable size %u", vt_size);
        return false;
    }
    if (size < 4 || !in_buf(r, pos, size)) {
        fb_fail(r, (uint64_t)vt, what, "bad table size %u", size);
        return false;
    }
    out->pos = pos;
    out->vt = (uint64_t)vt;
    out->vt_size = vt_size;
    out->size = size;
    out->depth = (uint8_t)depth;
    return true;
}

/* Follows the uoffset stored at pos; false (reported) when it leads outside
 * the buffer. */
static bool follow(fb_reader_t *r, uint64_t pos, const char *what, uint64_t *target)
{
    uint32_t u = ld32(r->buf + pos);
    uint64_t tg = pos + u;
    if (u == 0) {
        fb_fail(r, pos, what, "null offset");
        return false;
    }
    if (!in_buf(r, tg, 4)) {
        fb_fail(r, pos, what, "offset %lu points outside the data (%llu bytes)",
                (unsigned long)u, (unsigned long long)r->size);
        return false;
    }
    *target = tg;
    return true;
}

bool fb_root(fb_reader_t *r, fb_table_t *out)
{
    memset(out, 0, sizeof *out);
    if (!in_buf(r, 0, 8)) {
        fb_fail(r, 0, "root", "too small for a FlatBuffer (%llu bytes)",
                (unsigned long long)r->size);
        return false;
    }
    uint64_t tg;
    return follow(r, 0, "root table", &tg) && open_table(r, tg, 0, "root table", out);
}

bool fb_has_identifier(const fb_reader_t *r, const char *id)
{
    return in_buf(r, 0, 8) && memcmp(r->buf + 4, id, 4) == 0;
}

/* The offset of slot's value inside table t, 0 when absent. The vtable was
 * checked to lie in the buffer when the table was opened. */
static uint16_t field_off(const fb_reader_t *r, const fb_table_t *t, unsigned slot)
{
    if (!t->pos || slot >= (t->vt_size - 4u) / 2)
        return 0;
    return ld16(r->buf + t->vt + 4 + 2 * (uint64_t)slot);
}

bool fb_has_field(const fb_reader_t *r, const fb_table_t *t, unsigned slot)
{
    return field_off(r, t, slot) != 0;
}

/* Position of slot's inline value of width bytes; false when absent or bad
 * (bad is reported). */
static bool field_pos(fb_reader_t *r, const fb_table_t *t, unsigned slot, unsigned width,
                      const char *what, uint64_t *pos)
{
    if (r->stop)
        return false;
    uint16_t off = field_off(r, t, slot);
    if (!off)
        return false;
    if (off < 4 || (uint32_t)off + width > t->size) {
        fb_fail(r, t->pos, what, "field at offset %u (%u bytes) outside its table of %u bytes",
                off, width, t->size);
        return false;
    }
    *pos = t->pos + off;
    return true;
}

bool fb_bool(fb_reader_t *r, const fb_table_t *t, unsigned slot, bool dflt, const char *what)
{
    uint64_t p;
    return field_pos(r, t, slot, 1, what, &p) ? r->buf[p] != 0 : dflt;
}

int8_t fb_i8(fb_reader_t *r, const fb_table_t *t, unsigned slot, int8_t dflt, const char *what)
{
    uint64_t p;
    return field_pos(r, t, slot, 1, what, &p) ? (int8_t)r->buf[p] : dflt;
}

uint8_t fb_u8(fb_reader_t *r, const fb_table_t *t, unsigned slot, uint8_t dflt, const char *what)
{
    uint64_t p;
    return field_pos(r, t, slot, 1, what, &p) ? r->buf[p] : dflt;
}

int32_t fb_i32(fb_reader_t *r, const fb_table_t *t, unsigned slot, int32_t dflt, const char *what)
{
    uint64_t p;
    return field_pos(r, t, slot, 4, what, &p) ? (int32_t)ld32(r->buf + p) : dflt;
}

uint32_t fb_u32(fb_reader_t *r, const fb_table_t *t, unsigned slot, uint32_t dflt,
                const char *what)
{
    uint64_t p;
    return field_pos(r, t, slot, 4, what, &p) ? ld32(r->buf + p) : dflt;
}

int64_t fb_i64(fb_reader_t *r, const fb_table_t *t, unsigned slot, int64_t dflt, const char *what)
{
    uint64_t p;
    return field_pos(r, t, slot, 8, what, &p) ? (int64_t)ld64(r->buf + p) : dflt;
}

uint64_t fb_u64(fb_reader_t *r, const fb_table_t *t, unsigned slot, uint64_t dflt,
                const char *what)
{
    uint64_t p;
    return field_pos(r, t, slot, 8, what, &p) ? ld64(r->buf + p) : dflt;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float fb_f32(fb_reader_t *r, const fb_table_t *t, unsigned slot, float dflt, const char *what)
{
    uint64_t p;
    return field_pos(r, t, slot, 4, what, &p) ? bits_f32(ld32(r->buf + p)) : dflt;
}

fb_table_t fb_table(fb_reader_t *r, const fb_table_t *t, unsigned slot, const char *what)
{
    fb_table_t out;
    memset(&out, 0, sizeof out);
    uint64_t p, tg;
    if (field_pos(r, t, slot, 4, what, &p) && follow(r, p, what, &tg))
        open_table(r, tg, t->depth + 1u, what, &out);
    return out;
}

/* Checks the vector whose length word is at vp. */
static bool open_vec(fb_reader_t *r, uint64_t vp, unsigned elem, unsigned depth,
                     const char *what, fb_vec_t *out)
{
    memset(out, 0, sizeof *out);
    uint32_t n = ld32(r->buf + vp);
    uint64_t data = vp + 4;
    if (!in_buf(r, data, (uint64_t)n * elem)) {
        fb_fail(r, vp, what, "vector of %lu x %u bytes runs past the end of the data (%llu bytes)",
                (unsigned long)n, elem, (unsigned long long)r->size);
        return false;
    }
    out->pos = data;
    out->n = n;
    out->elem = (uint8_t)elem;
    out->depth = (uint8_t)depth;
    return true;
}

fb_vec_t fb_vector(fb_reader_t *r, const fb_table_t *t, unsigned slot, unsigned elem,
                   const char *what)
{
    fb_vec_t v;
    memset(&v, 0, sizeof v);
    uint64_t p, vp;
    if (field_pos(r, t, slot, 4, what, &p) && follow(r, p, what, &vp) &&
        open_vec(r, vp, elem, t->depth, what, &v) && !fb_charge(r, 1 + (uint64_t)v.n, vp, what))
        memset(&v, 0, sizeof v);
    return v;
}

const uint8_t *fb_blob(fb_reader_t *r, const fb_table_t *t, unsigned slot, uint32_t *n,
                       const char *what)
{
    fb_vec_t v;
    uint64_t p, vp;
    *n = 0;
    if (!field_pos(r, t, slot, 4, what, &p) || !follow(r, p, what, &vp) ||
        !open_vec(r, vp, 1, t->depth, what, &v) || !fb_charge(r, 1, vp, what))
        return NULL;
    *n = v.n;
    return r->buf + v.pos;
}

/* The string whose length word is at sp. */
static const char *open_string(fb_reader_t *r, uint64_t sp, uint32_t *len, const char *what)
{
    fb_vec_t v;
    *len = 0;
    if (!open_vec(r, sp, 1, 0, what, &v))
        return NULL;
    if (!in_buf(r, v.pos + v.n, 1) || r->buf[v.pos + v.n] != 0) {
        fb_fail(r, sp, what, "string of %lu bytes is not NUL-terminated", (unsigned long)v.n);
        return NULL;
    }
    if (!fb_charge(r, 1 + (uint64_t)v.n, sp, what))
        return NULL;
    *len = v.n;
    return (const char *)r->buf + v.pos;
}

const char *fb_string(fb_reader_t *r, const fb_table_t *t, unsigned slot, uint32_t *len,
                      const char *what)
{
    uint64_t p, sp;
    *len = 0;
    if (!field_pos(r, t, slot, 4, what, &p) || !follow(r, p, what, &sp))
        return NULL;
    return open_string(r, sp, len, what);
}

static const uint8_t *elem_at(const fb_reader_t *r, const fb_vec_t *v, uint32_t i, unsigned sz)
{
    ASSERT(i < v->n && v->elem == sz);
    return r->buf + v->pos + (uint64_t)i * sz;
}

uint8_t fb_vec_u8(const fb_reader_t *r, const fb_vec_t *v, uint32_t i)
{
    return *elem_at(r, v, i, 1);
}
uint16_t fb_vec_u16(const fb_reader_t *r, const fb_vec_t *v, uint32_t i)
{
    return ld16(elem_at(r, v, i, 2));
}
int32_t fb_vec_i32(const fb_reader_t *r, const fb_vec_t *v, uint32_t i)
{
    return (int32_t)ld32(elem_at(r, v, i, 4));
}
uint32_t fb_vec_u32(const fb_reader_t *r, const fb_vec_t *v, uint32_t i)
{
    return ld32(elem_at(r, v, i, 4));
}
int64_t fb_vec_i64(const fb_reader_t *r, const fb_vec_t *v, uint32_t i)
{
    return (int64_t)ld64(elem_at(r, v, i, 8));
}
float fb_vec_f32(const fb_reader_t *r, const fb_vec_t *v, uint32_t i)
{
    return bits_f32(ld32(elem_at(r, v, i, 4)));
}

fb_table_t fb_vec_table(fb_reader_t *r, const fb_vec_t *v, uint32_t i, const char *what)
{
    fb_table_t out;
    memset(&out, 0, sizeof out);
    uint64_t tg;
    ASSERT(i < v->n && v->elem == 4);
    if (!r->stop && follow(r, v->pos + 4 * (uint64_t)i, what, &tg)) {
        open_table(r, tg, v->depth + 1u, what, &out);
    }
    return out;
}

const char *fb_vec_string(fb_reader_t *r, const fb_vec_t *v, uint32_t i, uint32_t *len,
                          const char *what)
{
    uint64_t sp;
    *len = 0;
    if (r->stop)
        return NULL;
    ASSERT(i < v->n && v->elem == 4);
    if (!follow(r, v->pos + 4 * (uint64_t)i, what, &sp))
        return NULL;
    return open_string(r, sp, len, what);
}
