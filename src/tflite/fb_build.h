/*
 * fb_build.h -- a FlatBuffer builder, written for tflc (no FlatBuffers
 * library is used).
 *
 * The buffer is built back to front, as the format wants: an object can only
 * refer to objects built before it, and every reference is a forward
 * unsigned offset. An object is named by an fbb_ref_t, its distance from the
 * end of the finished buffer; 0 means "none".
 *
 *     fbb_t b;
 *     fbb_init(&b);
 *     fbb_ref_t name = fbb_string(&b, "conv", 4);
 *     fbb_table_start(&b);
 *     fbb_add_ref(&b, 3, name);          // slot 3: a string
 *     fbb_add_i32(&b, 1, stride, 0);     // slot 1: omitted when == 0
 *     fbb_ref_t t = fbb_table_end(&b);
 *     fbb_finish(&b, t, "TFL3");
 *     fbb_emit(&b, emit, user);          // or fbb_copy_out
 *     fbb_free(&b);
 *
 * Properties
 * - Every scalar and vector element is aligned to its size, vectors to at
 *   least 4 (their length prefix) or a larger forced alignment, and the
 *   finished buffer's size is a multiple of the largest alignment used, so
 *   alignments hold from its first byte.
 * - Table fields are staged and written at fbb_table_end, largest first
 *   (then by slot), so the bytes do not depend on the order of fbb_add_*
 *   calls and padding is minimal. Tables may be nested: a table can be
 *   started while another is open (its fields wait on a stack).
 * - A scalar equal to its default is not written (as TF's writer does); the
 *   vtable is trimmed after its last present field. Identical vtables are
 *   shared.
 * - fbb_vec_extern adds a byte vector without copying it: the bytes are read
 *   from the caller's memory when the buffer is emitted, so a model's
 *   weights go from the mapped input file to the output without an extra
 *   copy. They must stay valid until the builder is freed.
 * - Deterministic: the same calls give the same bytes.
 * - Errors are sticky: after the first failure (out of memory, a buffer
 *   larger than max_size, a misuse such as a reference to nothing) every
 *   call does nothing and returns 0; check fbb_error() once at the end.
 * - Output is little-endian whatever the host.
 */
#ifndef TFLC_FB_BUILD_H
#define TFLC_FB_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "tflc.h"

/* An object in the buffer: its distance from the end; 0 = none. */
typedef uint32_t fbb_ref_t;

/* The largest buffer allowed: FlatBuffers verifiers want size < 2^31 - 1. */
#define FBB_MAX_SIZE 0x7FFFFFFEu

typedef enum fbb_err {
    FBB_OK = 0,
    FBB_ERR_NOMEM,   /* an allocation failed */
    FBB_ERR_TOO_BIG, /* the buffer would pass max_size */
    FBB_ERR_MISUSE   /* a bad call: bad reference, slot, unbalanced table */
} fbb_err_t;

typedef struct fbb_hole fbb_hole_t;
typedef struct fbb_field fbb_field_t;
typedef struct fbb_vtable fbb_vtable_t;

typedef struct fbb {
    /* Bytes the builder owns, back to front: own[cap - used .. cap). */
    uint8_t *own;
    size_t cap, used;
    /* Byte vectors added by fbb_vec_extern, in the order added. */
    fbb_hole_t *holes;
    size_t n_holes, cap_holes;
    uint64_t hole_bytes;
    size_t minalign; /* largest alignment used so far */
    /* Fields of open tables; frames[i] is where table i's fields start. */
    fbb_field_t *fields;
    size_t n_fields, cap_fields;
    size_t *frames;
    size_t n_frames, cap_frames;
    /* Vtables written so far, for sharing. */
    fbb_vtable_t *vtables;
    size_t n_vtables, cap_vtables;
    uint16_t *vt_words; /* their contents, concatenated */
    size_t n_vt_words, cap_vt_words;
    uint64_t max_size; /* FBB_MAX_SIZE unless lowered (tests) */
    fbb_err_t err;
    int finished;
} fbb_t;

void fbb_init(fbb_t *b);
void fbb_free(fbb_t *b);
/* The first error, or FBB_OK. */
fbb_err_t fbb_error(const fbb_t *b);
const char *fbb_err_name(fbb_err_t e);
/* Bytes so far (after fbb_finish: the size of the buffer). */
uint64_t fbb_size(const fbb_t *b);

/* ---- Leaves ---- */

/* A string of n bytes (a NUL is added). */
fbb_ref_t fbb_string(fbb_t *b, const char *s, size_t n);
fbb_ref_t fbb_cstring(fbb_t *b, const char *s); /* NULL gives 0 */
/* A vector of n scalars of elem bytes each (1, 2, 4 or 8), copied from
 * host-order values at data and written little-endian. align is a forced
 * alignment of the elements (0 for none; a power of two). */
fbb_ref_t fbb_vec(fbb_t *b, const void *data, size_t n, size_t elem, size_t align);
/* A byte vector whose bytes are not copied but read from data at emit time
 * (see above). */
fbb_ref_t fbb_vec_extern(fbb_t *b, const void *data, uint64_t n, size_t align);
/* A vector of references to tables or strings (refs[i] != 0). */
fbb_ref_t fbb_vec_refs(fbb_t *b, const fbb_ref_t *refs, size_t n);

/* ---- Tables ---- */

void fbb_table_start(fbb_t *b);
/* Scalars at a slot (the field's id, 0-based), omitted when == dflt. */
void fbb_add_bool(fbb_t *b, unsigned slot, int v, int dflt);
void fbb_add_i8(fbb_t *b, unsigned slot, int8_t v, int8_t dflt);
void fbb_add_u8(fbb_t *b, unsigned slot, uint8_t v, uint8_t dflt);
void fbb_add_i16(fbb_t *b, unsigned slot, int16_t v, int16_t dflt);
void fbb_add_u16(fbb_t *b, unsigned slot, uint16_t v, uint16_t dflt);
void fbb_add_i32(fbb_t *b, unsigned slot, int32_t v, int32_t dflt);
void fbb_add_u32(fbb_t *b, unsigned slot, uint32_t v, uint32_t dflt);
void fbb_add_i64(fbb_t *b, unsigned slot, int64_t v, int64_t dflt);
void fbb_add_u64(fbb_t *b, unsigned slot, uint64_t v, uint64_t dflt);
/* Floats are compared with ==, as FlatBuffers does (-0.0 == 0.0; a NaN is
 * always written). */
void fbb_add_f32(fbb_t *b, unsigned slot, float v, float dflt);
void fbb_add_f64(fbb_t *b, unsigned slot, double v, double dflt);
/* An offset field (table, vector, string); ref 0 is omitted. */
void fbb_add_ref(fbb_t *b, unsigned slot, fbb_ref_t ref);
/* A union: its type at slot - 1 and the value at slot, as the format lays
 * them out. Omitted when type is 0 or value is 0. */
void fbb_add_union(fbb_t *b, unsigned slot, uint8_t type, fbb_ref_t value);
fbb_ref_t fbb_table_end(fbb_t *b);

/* ---- Finishing and output ---- */

/* Writes the root offset and the 4-byte file identifier (ident may be
 * NULL), padded so the buffer's size is a multiple of its alignment. */
void fbb_finish(fbb_t *b, fbb_ref_t root, const char *ident);
/* Overwrites a scalar field that is present in a built table (size 1, 2,
 * 4 or 8 bytes, value in host order). Used to fill in values only known
 * after fbb_finish, such as offsets of data placed after the buffer.
 * Returns 0, or -1 when the field is absent or of another size. */
int fbb_patch(fbb_t *b, fbb_ref_t table, unsigned slot, uint64_t value, size_t size);
/* Sends the finished buffer to emit in order. Returns 0, or the first
 * nonzero value emit returned. */
int fbb_emit(const fbb_t *b, tflc_emit_fn emit, void *user);
/* Copies the finished buffer to dst (fbb_size bytes). */
void fbb_copy_out(const fbb_t *b, void *dst);

#endif /* TFLC_FB_BUILD_H */
