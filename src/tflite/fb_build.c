/*
 * fb_build.c -- a FlatBuffer builder (see fb_build.h for the contract).
 *
 * Layout in memory. The buffer grows from its end towards its start, so a
 * position is a distance from the end ("from-end"); the finished buffer's
 * first byte is at from-end fbb_size(). The builder owns the bytes it
 * writes (own[], also filled back to front) except the byte vectors added
 * by fbb_vec_extern: those are "holes", recorded with the owned size at the
 * time they were added and emitted from the caller's memory. A virtual
 * position p maps to an owned position by subtracting the holes below it.
 *
 * An object referred to by an offset written at from-end position q and
 * starting at from-end r gets the unsigned offset q - r (r < q: objects are
 * built first, so they lie after the referrer in memory).
 */
#include <string.h>

#include "../core/core.h"
#include "fb_build.h"

struct fbb_hole {
    size_t own_at;     /* owned bytes below the hole */
    uint64_t virt_end; /* virtual size after the hole */
    const uint8_t *data;
    uint64_t len;
    uint64_t bytes_upto; /* hole bytes up to and including this one */
};

struct fbb_field {
    uint16_t slot;
    uint8_t size; /* 1, 2, 4, 8 */
    uint8_t is_ref;
    uint64_t bits; /* the value, or the fbb_ref_t */
};

struct fbb_vtable {
    uint64_t pos; /* from-end */
    size_t word0; /* first word in vt_words */
    uint16_t n_words;
    uint32_t hash;
};

/* ---- Sticky errors and growth ---- */

static void fail(fbb_t *b, fbb_err_t e)
{
    if (!b->err)
        b->err = e;
}

void fbb_init(fbb_t *b)
{
    memset(b, 0, sizeof *b);
    b->minalign = 1;
    b->max_size = FBB_MAX_SIZE;
}

void fbb_free(fbb_t *b)
{
    mem_free(b->own);
    mem_free(b->holes);
    mem_free(b->fields);
    mem_free(b->frames);
    mem_free(b->vtables);
    mem_free(b->vt_words);
    memset(b, 0, sizeof *b);
}

fbb_err_t fbb_error(const fbb_t *b)
{
    return b->err;
}

const char *fbb_err_name(fbb_err_t e)
{
    switch (e) {
    case FBB_OK:
        return "ok";
    case FBB_ERR_NOMEM:
        return "out of memory";
    case FBB_ERR_TOO_BIG:
        return "FlatBuffer larger than 2 GiB";
    case FBB_ERR_MISUSE:
        return "FlatBuffer builder misuse";
    }
    return "?";
}

uint64_t fbb_size(const fbb_t *b)
{
    return b->used + b->hole_bytes;
}

/* Grows the array *pp of *cap elements to hold need. */
static int grow(fbb_t *b, void **pp, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem) {
            fail(b, FBB_ERR_NOMEM);
            return -1;
        }
        n *= 2;
    }
    void *p = mem_realloc(*pp, n * elem);
    if (!p) {
        fail(b, FBB_ERR_NOMEM);
        return -1;
    }
    *pp = p;
    *cap = n;
    return 0;
}

/* Makes room for n more owned bytes at the front and returns them (zeroed),
 * or NULL after an error. */
static uint8_t *reserve(fbb_t *b, uint64_t n)
{
    if (b->err)
        return NULL;
    if (n > b->max_size || fbb_size(b) + n > b->max_size) {
        fail(b, FBB_ERR_TOO_BIG);
        return NULL;
    }
    if (b->cap - b->used < n) {
        size_t ncap = b->cap ? b->cap : 1024;
        while (ncap - b->used < n) {
            if (ncap > SIZE_MAX / 2) { /* a 32-bit host */
                fail(b, FBB_ERR_NOMEM);
                return NULL;
            }
            ncap *= 2;
        }
        uint8_t *p = mem_alloc(ncap);
        if (!p) {
            fail(b, FBB_ERR_NOMEM);
            return NULL;
        }
        if (b->used)
            memcpy(p + ncap - b->used, b->own + b->cap - b->used, b->used);
        mem_free(b->own);
        b->own = p;
        b->cap = ncap;
    }
    b->used += (size_t)n;
    uint8_t *at = b->own + b->cap - b->used;
    memset(at, 0, (size_t)n);
    return at;
}

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Pads so that after writing len more bytes the size is a multiple of
 * align (a power of two), and records align for the final padding. */
static void prealign(fbb_t *b, uint64_t len, size_t align)
{
    if (align > b->minalign)
        b->minalign = align;
    uint64_t pad = (0 - (fbb_size(b) + len)) & (uint64_t)(align - 1);
    if (pad)
        reserve(b, pad);
}

static void push_le(fbb_t *b, uint64_t v, size_t n)
{
    prealign(b, n, n);
    uint8_t *p = reserve(b, n);
    if (p)
        put_le(p, v, n);
}

/* Pushes the offset to ref from the 4 bytes about to be written. */
static void push_offset(fbb_t *b, fbb_ref_t ref)
{
    prealign(b, 4, 4);
    if (ref == 0 || ref > fbb_size(b)) {
        fail(b, FBB_ERR_MISUSE);
        return;
    }
    push_le(b, fbb_size(b) + 4 - ref, 4);
}

/* The owned byte at virtual from-end position p (p names the byte at
 * address end - p), or NULL if p lies in a hole or outside the buffer. */
static uint8_t *own_at(const fbb_t *b, uint64_t p, size_t n)
{
    if (p == 0 || p > fbb_size(b) || n > p)
        return NULL;
    /* k = number of holes wholly below the object (holes are sorted). */
    size_t lo = 0, hi = b->n_holes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->holes[mid].virt_end <= p - n)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < b->n_holes && b->holes[lo].virt_end - b->holes[lo].len < p)
        return NULL; /* overlaps a hole */
    uint64_t below = lo ? b->holes[lo - 1].bytes_upto : 0;
    uint64_t phys = p - below;
    if (phys > b->used)
        return NULL;
    return b->own + b->cap - (size_t)phys;
}

/* ---- Leaves ---- */

fbb_ref_t fbb_string(fbb_t *b, const char *s, size_t n)
{
    if (b->finished)
        fail(b, FBB_ERR_MISUSE);
    prealign(b, (uint64_t)n + 1, 4);
    uint8_t *p = reserve(b, (uint64_t)n + 1); /* the bytes and a NUL */
    if (p && n)
        memcpy(p, s, n);
    push_le(b, n, 4);
    return b->err ? 0 : (fbb_ref_t)fbb_size(b);
}

fbb_ref_t fbb_cstring(fbb_t *b, const char *s)
{
    return s ? fbb_string(b, s, strlen(s)) : 0;
}

static size_t vec_align(size_t elem, size_t align)
{
    size_t a = align > elem ? align : elem;
    return a > 4 ? a : 4;
}

fbb_ref_t fbb_vec(fbb_t *b, const void *data, size_t n, size_t elem, size_t align)
{
    if (b->finished || !(elem == 1 || elem == 2 || elem == 4 || elem == 8) ||
        (align & (align - 1)) || (n && !data)) {
        fail(b, FBB_ERR_MISUSE);
        return 0;
    }
    if (n > b->max_size / elem) {
        fail(b, FBB_ERR_TOO_BIG);
        return 0;
    }
    prealign(b, (uint64_t)n * elem, vec_align(elem, align));
    uint8_t *p = reserve(b, (uint64_t)n * elem);
    if (p) {
        const uint8_t *src = data;
        for (size_t i = 0; i < n; i++) {
            uint64_t v;
            switch (elem) {
            case 1:
                v = src[i];
                break;
            case 2: {
                uint16_t x;
                memcpy(&x, src + 2 * i, 2);
                v = x;
                break;
            }
            case 4: {
                uint32_t x;
                memcpy(&x, src + 4 * i, 4);
                v = x;
                break;
            }
            default:
                memcpy(&v, src + 8 * i, 8);
                break;
            }
            put_le(p + i * elem, v, elem);
        }
    }
    push_le(b, n, 4);
    return b->err ? 0 : (fbb_ref_t)fbb_size(b);
}

fbb_ref_t fbb_vec_extern(fbb_t *b, const void *data, uint64_t n, size_t align)
{
    if (n == 0)
        return fbb_vec(b, NULL, 0, 1, align);
    if (b->finished || !data || (align & (align - 1))) {
        fail(b, FBB_ERR_MISUSE);
        return 0;
    }
    prealign(b, n, vec_align(1, align));
    if (b->err)
        return 0;
    if (n > b->max_size || fbb_size(b) + n > b->max_size) {
        fail(b, FBB_ERR_TOO_BIG);
        return 0;
    }
    if (grow(b, (void **)&b->holes, &b->cap_holes, b->n_holes + 1, sizeof *b->holes))
        return 0;
    fbb_hole_t h = {b->used, fbb_size(b) + n, data, n, b->hole_bytes + n};
    b->holes[b->n_holes++] = h;
    b->hole_bytes += n;
    push_le(b, n, 4);
    return b->err ? 0 : (fbb_ref_t)fbb_size(b);
}

fbb_ref_t fbb_vec_refs(fbb_t *b, const fbb_ref_t *refs, size_t n)
{
    if (b->finished || (n && !refs)) {
        fail(b, FBB_ERR_MISUSE);
        return 0;
    }
    if (n > b->max_size / 4) {
        fail(b, FBB_ERR_TOO_BIG);
        return 0;
    }
    prealign(b, (uint64_t)n * 4, 4);
    uint8_t *p = reserve(b, (uint64_t)n * 4);
    if (p) {
        uint64_t start = fbb_size(b); /* from-end of element 0 */
        for (size_t i = 0; i < n; i++) {
            uint64_t at = start - 4 * i;
            if (refs[i] == 0 || refs[i] > at - 4) {
                fail(b, FBB_ERR_MISUSE);
                return 0;
            }
            put_le(p + 4 * i, at - refs[i], 4);
        }
    }
    push_le(b, n, 4);
    return b->err ? 0 : (fbb_ref_t)fbb_size(b);
}

/* ---- Tables ---- */

void fbb_table_start(fbb_t *b)
{
    if (b->finished)
        fail(b, FBB_ERR_MISUSE);
    if (b->err || grow(b, (void **)&b->frames, &b->cap_frames, b->n_frames + 1, sizeof *b->frames))
        return;
    b->frames[b->n_frames++] = b->n_fields;
}

static void add_field(fbb_t *b, unsigned slot, size_t size, int is_ref, uint64_t bits)
{
    /* A vtable entry is 16 bits and the vtable's size too. */
    if (!b->n_frames || slot > 32000) {
        fail(b, FBB_ERR_MISUSE);
        return;
    }
    if (b->err || grow(b, (void **)&b->fields, &b->cap_fields, b->n_fields + 1, sizeof *b->fields))
        return;
    fbb_field_t f = {(uint16_t)slot, (uint8_t)size, (uint8_t)is_ref, bits};
    b->fields[b->n_fields++] = f;
}

void fbb_add_bool(fbb_t *b, unsigned slot, int v, int dflt)
{
    if (!v != !dflt)
        add_field(b, slot, 1, 0, v ? 1 : 0);
}
void fbb_add_i8(fbb_t *b, unsigned slot, int8_t v, int8_t dflt)
{
    if (v != dflt)
        add_field(b, slot, 1, 0, (uint8_t)v);
}
void fbb_add_u8(fbb_t *b, unsigned slot, uint8_t v, uint8_t dflt)
{
    if (v != dflt)
        add_field(b, slot, 1, 0, v);
}
void fbb_add_i16(fbb_t *b, unsigned slot, int16_t v, int16_t dflt)
{
    if (v != dflt)
        add_field(b, slot, 2, 0, (uint16_t)v);
}
void fbb_add_u16(fbb_t *b, unsigned slot, uint16_t v, uint16_t dflt)
{
    if (v != dflt)
        add_field(b, slot, 2, 0, v);
}
void fbb_add_i32(fbb_t *b, unsigned slot, int32_t v, int32_t dflt)
{
    if (v != dflt)
        add_field(b, slot, 4, 0, (uint32_t)v);
}
void fbb_add_u32(fbb_t *b, unsigned slot, uint32_t v, uint32_t dflt)
{
    if (v != dflt)
        add_field(b, slot, 4, 0, v);
}
void fbb_add_i64(fbb_t *b, unsigned slot, int64_t v, int64_t dflt)
{
    if (v != dflt)
        add_field(b, slot, 8, 0, (uint64_t)v);
}
void fbb_add_u64(fbb_t *b, unsigned slot, uint64_t v, uint64_t dflt)
{
    if (v != dflt)
        add_field(b, slot, 8, 0, v);
}
void fbb_add_f32(fbb_t *b, unsigned slot, float v, float dflt)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    if (!(v == dflt))
        add_field(b, slot, 4, 0, bits);
}
void fbb_add_f64(fbb_t *b, unsigned slot, double v, double dflt)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    if (!(v == dflt))
        add_field(b, slot, 8, 0, bits);
}
void fbb_add_ref(fbb_t *b, unsigned slot, fbb_ref_t ref)
{
    if (ref)
        add_field(b, slot, 4, 1, ref);
}
void fbb_add_union(fbb_t *b, unsigned slot, uint8_t type, fbb_ref_t value)
{
    if (slot == 0) {
        fail(b, FBB_ERR_MISUSE);
        return;
    }
    if (type && value) {
        fbb_add_u8(b, slot - 1, type, 0);
        fbb_add_ref(b, slot, value);
    }
}

/* Largest first, then by slot: a fixed order whatever the call order. */
static int field_before(const fbb_field_t *x, const fbb_field_t *y)
{
    return x->size != y->size ? x->size > y->size : x->slot < y->slot;
}

static void sort_fields(fbb_field_t *f, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        fbb_field_t x = f[i];
        size_t j = i;
        while (j > 0 && field_before(&x, &f[j - 1])) {
            f[j] = f[j - 1];
            j--;
        }
        f[j] = x;
    }
}

static uint32_t hash_words(const uint16_t *w, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (w[i] & 0xFF)) * 16777619u;
        h = (h ^ (w[i] >> 8)) * 16777619u;
    }
    return h;
}

/* Writes the vtable words vt[0..n) (or finds an identical one) for the
 * table at from-end t, and sets the table's vtable offset. */
static void put_vtable(fbb_t *b, const uint16_t *vt, size_t n, uint64_t t)
{
    uint32_t h = hash_words(vt, n);
    uint64_t v = 0;
    for (size_t i = 0; i < b->n_vtables && !v; i++) {
        const fbb_vtable_t *e = &b->vtables[i];
        if (e->hash == h && e->n_words == n &&
            memcmp(b->vt_words + e->word0, vt, n * sizeof *vt) == 0)
            v = e->pos;
    }
    if (!v) {
        uint8_t *p = reserve(b, 2 * n); /* size is 4-aligned: no padding */
        if (!p)
            return;
        for (size_t i = 0; i < n; i++)
            put_le(p + 2 * i, vt[i], 2);
        v = fbb_size(b);
        if (grow(b, (void **)&b->vtables, &b->cap_vtables, b->n_vtables + 1, sizeof *b->vtables) ||
            grow(b, (void **)&b->vt_words, &b->cap_vt_words, b->n_vt_words + n,
                 sizeof *b->vt_words))
            return;
        memcpy(b->vt_words + b->n_vt_words, vt, n * sizeof *vt);
        fbb_vtable_t e = {v, b->n_vt_words, (uint16_t)n, h};
        b->vtables[b->n_vtables++] = e;
        b->n_vt_words += n;
    }
    /* The table's first word: table address - vtable address = v - t. */
    uint8_t *soff = own_at(b, t, 4);
    if (!soff) {
        fail(b, FBB_ERR_MISUSE);
        return;
    }
    put_le(soff, (uint32_t)(int32_t)((int64_t)v - (int64_t)t), 4);
}

fbb_ref_t fbb_table_end(fbb_t *b)
{
    if (!b->n_frames) {
        fail(b, FBB_ERR_MISUSE);
        return 0;
    }
    size_t first = b->frames[--b->n_frames];
    fbb_field_t *f = b->fields ? b->fields + first : NULL; /* none yet */
    size_t n = b->n_fields - first;
    b->n_fields = first;
    if (b->err)
        return 0;
    sort_fields(f, n);
    unsigned nslots = 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i].slot + 1u > nslots)
            nslots = f[i].slot + 1u;
        for (size_t j = 0; j < i; j++)
            if (f[j].slot == f[i].slot) {
                fail(b, FBB_ERR_MISUSE); /* a slot set twice */
                return 0;
            }
    }
    /* The fields, each at its from-end position pos (reused: bits). */
    uint64_t start = fbb_size(b);
    uint64_t pos[64], *posv = pos;
    if (n > 64 && !(posv = mem_calloc(n, sizeof *posv))) {
        fail(b, FBB_ERR_NOMEM);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (f[i].is_ref)
            push_offset(b, (fbb_ref_t)f[i].bits);
        else
            push_le(b, f[i].bits, f[i].size);
        posv[i] = fbb_size(b);
    }
    prealign(b, 4, 4);
    push_le(b, 0, 4); /* the vtable offset, set below */
    uint64_t t = fbb_size(b);
    uint16_t vt_small[64], *vt = vt_small;
    size_t nw = 2 + nslots;
    if (nw > 64 && !(vt = mem_calloc(nw, sizeof *vt))) {
        fail(b, FBB_ERR_NOMEM);
    } else if (!b->err) {
        memset(vt, 0, nw * sizeof *vt);
        if (t - start > 0xFFFF) {
            fail(b, FBB_ERR_MISUSE); /* a table is at most 64 KiB */
        } else {
            vt[0] = (uint16_t)(2 * nw);
            vt[1] = (uint16_t)(t - start);
            for (size_t i = 0; i < n; i++)
                vt[2 + f[i].slot] = (uint16_t)(t - posv[i]);
            put_vtable(b, vt, nw, t);
        }
    }
    if (vt != vt_small)
        mem_free(vt);
    if (posv != pos)
        mem_free(posv);
    return b->err ? 0 : (fbb_ref_t)t;
}

/* ---- Finishing ---- */

void fbb_finish(fbb_t *b, fbb_ref_t root, const char *ident)
{
    if (b->finished || b->n_frames || !root)
        fail(b, FBB_ERR_MISUSE);
    if (b->err)
        return;
    if (b->minalign < 4)
        b->minalign = 4;
    prealign(b, ident ? 8 : 4, b->minalign);
    if (ident) {
        uint8_t *p = reserve(b, 4);
        if (p)
            memcpy(p, ident, 4);
    }
    push_offset(b, root);
    b->finished = 1;
}

int fbb_patch(fbb_t *b, fbb_ref_t table, unsigned slot, uint64_t value, size_t size)
{
    uint8_t *p = own_at(b, table, 4);
    if (!p)
        return -1;
    int64_t soff = (int32_t)(uint32_t)get_le(p, 4);
    int64_t vpos = (int64_t)table + soff;
    uint8_t *vt = vpos > 0 ? own_at(b, (uint64_t)vpos, 4) : NULL;
    if (!vt)
        return -1;
    uint64_t vt_size = get_le(vt, 2);
    if (4 + 2 * (uint64_t)slot + 2 > vt_size)
        return -1;
    uint8_t *e = own_at(b, (uint64_t)vpos - 4 - 2 * slot, 2);
    uint64_t fo = e ? get_le(e, 2) : 0;
    uint64_t tsize = get_le(vt + 2, 2);
    if (!fo || fo + size > tsize)
        return -1;
    uint8_t *field = own_at(b, table - fo, size);
    if (!field)
        return -1;
    put_le(field, value, size);
    return 0;
}

int fbb_emit(const fbb_t *b, tflc_emit_fn emit, void *user)
{
    if (!b->own)
        return 0;                          /* nothing was written */
    const uint8_t *base = b->own + b->cap; /* from-end 0 of owned bytes */
    size_t cur = b->used;
    for (size_t i = b->n_holes; i-- > 0;) {
        const fbb_hole_t *h = &b->holes[i];
        int r;
        if (cur > h->own_at && (r = emit(user, base - cur, cur - h->own_at)))
            return r;
        cur = h->own_at;
        /* emit takes a size_t; send a hole larger than that in parts. */
        const uint8_t *d = h->data;
        for (uint64_t left = h->len; left;) {
            size_t k = left > (SIZE_MAX >> 1) ? (SIZE_MAX >> 1) : (size_t)left;
            if ((r = emit(user, d, k)))
                return r;
            d += k;
            left -= k;
        }
    }
    if (cur) {
        int r = emit(user, base - cur, cur);
        if (r)
            return r;
    }
    return 0;
}

static int copy_emit(void *user, const void *data, size_t size)
{
    uint8_t **p = user;
    memcpy(*p, data, size);
    *p += size;
    return 0;
}

void fbb_copy_out(const fbb_t *b, void *dst)
{
    uint8_t *p = dst;
    fbb_emit(b, copy_emit, &p);
}
