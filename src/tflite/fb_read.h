/*
 * fb_read.h -- safe reading of a FlatBuffer held in untrusted bytes.
 *
 * The bytes may be anything: truncated, bit-flipped, or crafted. Every
 * offset and length is checked against the byte range (in 64-bit arithmetic,
 * so nothing wraps) before a byte is touched, and every load goes through
 * memcpy, so misaligned data is fine. Nothing here trusts the FlatBuffers
 * verifier or alignment rules; it checks what it reads, when it reads it.
 *
 * Model of use (the reader in reader.c):
 *
 *     fb_reader_t r;
 *     fb_init(&r, data, size, st);
 *     fb_where(&r, "%s", name);              // prefix of every message
 *     fb_table_t root;
 *     if (!fb_root(&r, &root)) ...            // error already reported
 *     uint32_t v = fb_u32(&r, &root, 0, 0, "Model.version");
 *     fb_vec_t sgs = fb_vector(&r, &root, 2, 4, "Model.subgraphs");
 *     for (uint32_t i = 0; i < sgs.n; i++) {
 *         fb_table_t sg = fb_vec_table(&r, &sgs, i, "Model.subgraphs[]");
 *         ...
 *     }
 *     if (r.errors) ...                       // something was malformed
 *
 * Errors are sticky and never fatal to the caller: a field that cannot be
 * read is reported once (st_err with the current where-prefix, the byte
 * offset and what was being read) and then behaves as absent (tables,
 * vectors, strings) or as its default (scalars). After FB_MAX_ERRORS
 * reports, or when the work budget runs out, the reader stops: every later
 * call returns "absent" without reporting, so a corrupt file cannot produce
 * a flood of messages.
 *
 * Bounds on work: FlatBuffer references (uoffsets) only point forward, so
 * there are no cycles, but a crafted file can share one object from many
 * places and so describe far more objects than it has bytes. Every table
 * opened and every vector element or string byte read is charged against a
 * budget proportional to the file size (a well-formed file spends less than
 * its size; see fb_init). Tables also carry their nesting depth, bounded by
 * FB_MAX_DEPTH.
 */
#ifndef TFLC_FB_READ_H
#define TFLC_FB_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/core.h"

#define FB_MAX_DEPTH 32
#define FB_MAX_ERRORS 50

typedef struct fb_reader {
    const uint8_t *buf;
    uint64_t size;
    tflc_status_t *st;
    char where[320];   /* prefix of messages: "file: subgraph 0: tensor 3" */
    uint64_t budget;   /* work units left */
    unsigned errors;   /* errors reported by this reader */
    tflc_code_t code;  /* the code of the first of them, TFLC_OK if none */
    bool stop;         /* nothing more is read (too many errors, budget) */
} fb_reader_t;

/* A table. pos == 0 means absent (no valid table can start at byte 0:
 * the root offset lives there). */
typedef struct fb_table {
    uint64_t pos;      /* first byte of the table (its soffset to the vtable) */
    uint64_t vt;       /* first byte of its vtable */
    uint16_t vt_size;  /* vtable bytes, including the two size fields */
    uint16_t size;     /* inline bytes of the table, including the soffset */
    uint8_t depth;     /* 0 for the root */
} fb_table_t;

/* A vector whose n elements of elem bytes each lie in the buffer.
 * pos == 0 means absent; an empty vector has pos != 0 and n == 0. */
typedef struct fb_vec {
    uint64_t pos;      /* first element */
    uint32_t n;
    uint8_t elem;
    uint8_t depth;     /* depth of the table holding the vector */
} fb_vec_t;

/* Starts reading buf[0..size). Nothing is copied; buf must outlive r.
 * The work budget is 2 * size + 4096 units. */
void fb_init(fb_reader_t *r, const uint8_t *buf, size_t size, tflc_status_t *st);
/* Sets the prefix of later messages (printf-style; truncated if long). */
void fb_where(fb_reader_t *r, const char *fmt, ...) TFLC_PRINTF(2, 3);
/* Reports a problem at byte pos while reading what; counts it, and stops the
 * reader after FB_MAX_ERRORS. Returns TFLC_ERR_FORMAT. Usable by callers
 * for semantic errors found at a known place. */
tflc_code_t fb_fail(fb_reader_t *r, uint64_t pos, const char *what,
                    const char *fmt, ...) TFLC_PRINTF(4, 5);
/* Reports with a code other than FORMAT (UNSUPPORTED, NOMEM). */
tflc_code_t fb_fail_code(fb_reader_t *r, tflc_code_t code, uint64_t pos,
                         const char *what, const char *fmt, ...) TFLC_PRINTF(5, 6);
/* Spends units of work; false (reported once) when the budget is gone. */
bool fb_charge(fb_reader_t *r, uint64_t units, uint64_t pos, const char *what);

/* The root table (the uoffset at byte 0). False if it cannot be read. */
bool fb_root(fb_reader_t *r, fb_table_t *out);
/* True when bytes 4..8 hold the 4-character file identifier id. */
bool fb_has_identifier(const fb_reader_t *r, const char *id);
/* Whether the table has a value for slot (a field id, 0-based). */
bool fb_has_field(const fb_reader_t *r, const fb_table_t *t, unsigned slot);

/* Scalars of a table: the stored value, or dflt when absent or unreadable. */
bool fb_bool(fb_reader_t *r, const fb_table_t *t, unsigned slot, bool dflt, const char *what);
int8_t fb_i8(fb_reader_t *r, const fb_table_t *t, unsigned slot, int8_t dflt, const char *what);
uint8_t fb_u8(fb_reader_t *r, const fb_table_t *t, unsigned slot, uint8_t dflt, const char *what);
int32_t fb_i32(fb_reader_t *r, const fb_table_t *t, unsigned slot, int32_t dflt, const char *what);
uint32_t fb_u32(fb_reader_t *r, const fb_table_t *t, unsigned slot, uint32_t dflt,
                const char *what);
int64_t fb_i64(fb_reader_t *r, const fb_table_t *t, unsigned slot, int64_t dflt, const char *what);
uint64_t fb_u64(fb_reader_t *r, const fb_table_t *t, unsigned slot, uint64_t dflt,
                const char *what);
float fb_f32(fb_reader_t *r, const fb_table_t *t, unsigned slot, float dflt, const char *what);

/* A sub-table (also the value of a union). pos == 0 when absent or bad. */
fb_table_t fb_table(fb_reader_t *r, const fb_table_t *t, unsigned slot, const char *what);
/* A vector of elem-byte elements (1, 2, 4 or 8; 4 for tables and strings).
 * Charges one unit per element: use for vectors that are read element by
 * element. */
fb_vec_t fb_vector(fb_reader_t *r, const fb_table_t *t, unsigned slot, unsigned elem,
                   const char *what);
/* A [ubyte] vector referenced in place (weights, custom options): checked,
 * not charged per byte. *n gets its length. NULL when absent or bad. */
const uint8_t *fb_blob(fb_reader_t *r, const fb_table_t *t, unsigned slot, uint32_t *n,
                       const char *what);
/* A string: pointer to its bytes in the buffer (NUL-terminated, checked),
 * length in *len. Charged one unit per byte. NULL when absent or bad. */
const char *fb_string(fb_reader_t *r, const fb_table_t *t, unsigned slot, uint32_t *len,
                      const char *what);

/* Elements of a checked vector (i < v->n, elem of the right size). */
uint8_t fb_vec_u8(const fb_reader_t *r, const fb_vec_t *v, uint32_t i);
uint16_t fb_vec_u16(const fb_reader_t *r, const fb_vec_t *v, uint32_t i);
int32_t fb_vec_i32(const fb_reader_t *r, const fb_vec_t *v, uint32_t i);
uint32_t fb_vec_u32(const fb_reader_t *r, const fb_vec_t *v, uint32_t i);
int64_t fb_vec_i64(const fb_reader_t *r, const fb_vec_t *v, uint32_t i);
float fb_vec_f32(const fb_reader_t *r, const fb_vec_t *v, uint32_t i);
/* Element i of a vector of tables / of strings. */
fb_table_t fb_vec_table(fb_reader_t *r, const fb_vec_t *v, uint32_t i, const char *what);
const char *fb_vec_string(fb_reader_t *r, const fb_vec_t *v, uint32_t i, uint32_t *len,
                          const char *what);

#endif /* TFLC_FB_READ_H */
