/*
 * writer.c -- serialises an ir_model_t as a .tflite: a FlatBuffer of schema
 * version 3 with the file identifier "TFL3".
 *
 * Contract
 * - Input: a model; it is checked with ir_verify first and refused when
 *   broken. The writer also reports an option value that does not fit its
 *   field (int8, int32...) rather than truncate it.
 * - Output: the bytes go to an emitter in order (tflc_model_write), or to a
 *   file that appears only when complete (tflc_model_write_file). The same
 *   model gives the same bytes.
 * - Operator codes are deduplicated in first-use order (subgraph by
 *   subgraph, operator by operator). Builtin options are written from the
 *   op table (ops.h) alone: op->opts names the table, op->attr[slot] holds
 *   each field's value; no code per operator.
 * - Buffer data are not copied: the builder emits them from the model's
 *   memory (the arena or the mapped input file).
 * - Large models: when the FlatBuffer with all data inline would pass the
 *   FlatBuffer limit (2 GiB), or a buffer is larger than
 *   opt->external_buffer_threshold (when nonzero), the data goes after the
 *   FlatBuffer instead. Such a Buffer has no `data` vector and carries
 *   offset (from the first byte of the file, > 1) and size, which is how
 *   the TFLite runtime reads it (InterpreterBuilder: data absent, offset >
 *   1, base of the model allocation + offset). The FlatBuffer is padded to
 *   16 bytes, each data block starts 16-byte aligned, and the file ends
 *   with 16 zero bytes plus padding to 16, as TF's exporter lays it out.
 *   Buffers named by metadata stay inline: the runtime reads metadata
 *   through Buffer.data.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/core.h"
#include "../ir/ir.h"
#include "fb_build.h"
#include "writer.h"

/* Field ids (vtable slots) of the schema tables the writer builds. */
enum {
    MODEL_VERSION,
    MODEL_OPERATOR_CODES,
    MODEL_SUBGRAPHS,
    MODEL_DESCRIPTION,
    MODEL_BUFFERS,
    MODEL_METADATA_BUFFER,
    MODEL_METADATA,
    MODEL_SIGNATURE_DEFS
};
enum { OPCODE_DEPRECATED_BUILTIN_CODE, OPCODE_CUSTOM_CODE, OPCODE_VERSION, OPCODE_BUILTIN_CODE };
enum { SG_TENSORS, SG_INPUTS, SG_OUTPUTS, SG_OPERATORS, SG_NAME, SG_DEBUG_METADATA_INDEX };
enum {
    TENSOR_SHAPE,
    TENSOR_TYPE,
    TENSOR_BUFFER,
    TENSOR_NAME,
    TENSOR_QUANTIZATION,
    TENSOR_IS_VARIABLE,
    TENSOR_SPARSITY,
    TENSOR_SHAPE_SIGNATURE,
    TENSOR_HAS_RANK,
    TENSOR_VARIANT_TENSORS
};
enum {
    QUANT_MIN,
    QUANT_MAX,
    QUANT_SCALE,
    QUANT_ZERO_POINT,
    QUANT_DETAILS_TYPE,
    QUANT_DETAILS,
    QUANT_QUANTIZED_DIMENSION
};
enum { CUSTOM_QUANT_CUSTOM };
enum { QUANT_DETAILS_CUSTOM = 1 };
enum { SPARSITY_TRAVERSAL_ORDER, SPARSITY_BLOCK_MAP, SPARSITY_DIM_METADATA };
enum { DIM_FORMAT, DIM_DENSE_SIZE, DIM_SEGMENTS_TYPE, DIM_SEGMENTS, DIM_INDICES_TYPE, DIM_INDICES };
enum { INDEX_VECTOR_VALUES };
enum { VARIANT_SHAPE, VARIANT_TYPE, VARIANT_HAS_RANK };
enum {
    OP_OPCODE_INDEX,
    OP_INPUTS,
    OP_OUTPUTS,
    OP_BUILTIN_OPTIONS_TYPE,
    OP_BUILTIN_OPTIONS,
    OP_CUSTOM_OPTIONS,
    OP_CUSTOM_OPTIONS_FORMAT,
    OP_MUTATING_VARIABLE_INPUTS,
    OP_INTERMEDIATES,
    OP_LARGE_CUSTOM_OPTIONS_OFFSET,
    OP_LARGE_CUSTOM_OPTIONS_SIZE,
    OP_BUILTIN_OPTIONS_2_TYPE,
    OP_BUILTIN_OPTIONS_2,
    OP_DEBUG_METADATA_INDEX
};
enum { BUFFER_DATA, BUFFER_OFFSET, BUFFER_SIZE };
enum { METADATA_NAME, METADATA_BUFFER };
enum { TENSORMAP_NAME, TENSORMAP_TENSOR_INDEX };
enum {
    SIGDEF_INPUTS,
    SIGDEF_OUTPUTS,
    SIGDEF_SIGNATURE_KEY,
    SIGDEF_DEPRECATED_TAG,
    SIGDEF_SUBGRAPH_INDEX
};

#define SCHEMA_VERSION 3
#define FILE_IDENT "TFL3"
#define DATA_ALIGN 16 /* Buffer.data: force_align 16 */
#define PLACEHOLDER_FOR_GREATER_OP_CODES 127

typedef struct wr_opcode {
    int32_t builtin;
    const char *custom;
    int32_t version;
} wr_opcode_t;

typedef struct wr {
    fbb_t fb;
    const ir_model_t *m;
    const char *where;
    tflc_status_t *st;
    tflc_code_t code; /* first error */
    wr_opcode_t *codes;
    size_t n_codes, cap_codes;
    uint8_t *ext;       /* ext[i]: buffer i goes after the FlatBuffer */
    fbb_ref_t *buf_tab; /* each buffer's table, to patch offsets */
} wr_t;

/* ---- Errors ---- */

static void wr_err(wr_t *w, tflc_code_t code, const char *fmt, ...) TFLC_PRINTF(3, 4);
static void wr_err(wr_t *w, tflc_code_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_verr(w->st, code, w->where, fmt, ap);
    va_end(ap);
    if (!w->code)
        w->code = code;
}

/* ---- Small helpers ---- */

static fbb_ref_t vec_i32(wr_t *w, const int32_t *v, size_t n)
{
    return fbb_vec(&w->fb, v, n, 4, 0);
}

/* A vector of n values from v (int64) as elem-byte integers, signed or
 * not; values that do not fit are reported with what. */
static fbb_ref_t vec_narrow(wr_t *w, const int64_t *v, size_t n, size_t elem, int is_signed,
                            const char *what)
{
    if (elem == 8)
        return fbb_vec(&w->fb, v, n, 8, 0);
    int64_t lo = is_signed ? -((int64_t)1 << (8 * elem - 1)) : 0;
    int64_t hi = is_signed ? ((int64_t)1 << (8 * elem - 1)) - 1 : ((int64_t)1 << (8 * elem)) - 1;
    uint8_t small[256], *tmp = small;
    if (n * elem > sizeof small && !(tmp = mem_alloc(n * elem))) {
        wr_err(w, TFLC_ERR_NOMEM, "out of memory");
        return 0;
    }
    fbb_ref_t r = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        if (v[i] < lo || v[i] > hi) {
            wr_err(w, TFLC_ERR_INVALID, "%s[%zu] = %lld does not fit %s%zu", what, i,
                   (long long)v[i], is_signed ? "int" : "uint", 8 * elem);
            break;
        }
        uint64_t u = (uint64_t)v[i];
        if (elem == 1) {
            uint8_t x = (uint8_t)u;
            memcpy(tmp + i, &x, 1);
        } else if (elem == 2) {
            uint16_t x = (uint16_t)u;
            memcpy(tmp + 2 * i, &x, 2);
        } else {
            uint32_t x = (uint32_t)u;
            memcpy(tmp + 4 * i, &x, 4);
        }
    }
    if (i == n)
        r = fbb_vec(&w->fb, tmp, n, elem, 0);
    if (tmp != small)
        mem_free(tmp);
    return r;
}

/* ---- Operator codes ---- */

static int same_custom(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The index of op's operator code, added if new. -1 on error. */
static int64_t opcode_index(wr_t *w, const ir_op_t *op)
{
    for (size_t i = 0; i < w->n_codes; i++) {
        const wr_opcode_t *c = &w->codes[i];
        if (c->builtin == op->builtin && c->version == op->version &&
            same_custom(c->custom, op->custom_code))
            return (int64_t)i;
    }
    wr_opcode_t c = {op->builtin, op->custom_code, op->version};
    size_t need = w->n_codes + 1;
    if (need > w->cap_codes) {
        size_t cap = w->cap_codes ? 2 * w->cap_codes : 32;
        wr_opcode_t *p = mem_realloc(w->codes, cap * sizeof *p);
        if (!p) {
            wr_err(w, TFLC_ERR_NOMEM, "out of memory");
            return -1;
        }
        w->codes = p;
        w->cap_codes = cap;
    }
    w->codes[w->n_codes++] = c;
    return (int64_t)(w->n_codes - 1);
}

static fbb_ref_t write_opcode(wr_t *w, const wr_opcode_t *c)
{
    fbb_t *b = &w->fb;
    fbb_ref_t custom = fbb_cstring(b, c->custom);
    int32_t dep = c->builtin < PLACEHOLDER_FOR_GREATER_OP_CODES ? c->builtin
                                                                : PLACEHOLDER_FOR_GREATER_OP_CODES;
    fbb_table_start(b);
    fbb_add_i8(b, OPCODE_DEPRECATED_BUILTIN_CODE, (int8_t)dep, 0);
    fbb_add_ref(b, OPCODE_CUSTOM_CODE, custom);
    fbb_add_i32(b, OPCODE_VERSION, c->version, 1);
    fbb_add_i32(b, OPCODE_BUILTIN_CODE, c->builtin, 0);
    return fbb_table_end(b);
}

/* ---- Buffers ---- */

static fbb_ref_t write_buffer(wr_t *w, size_t i)
{
    fbb_t *b = &w->fb;
    const ir_buffer_t *buf = &w->m->buffers[i];
    fbb_ref_t data = 0;
    if (!w->ext[i] && buf->size)
        data = fbb_vec_extern(b, buf->data, buf->size, DATA_ALIGN);
    fbb_table_start(b);
    fbb_add_ref(b, BUFFER_DATA, data);
    if (w->ext[i]) {
        /* Placeholders, patched once the FlatBuffer's size is known; 1 is
         * not the default, so the fields are present to be patched. */
        fbb_add_u64(b, BUFFER_OFFSET, 1, 0);
        fbb_add_u64(b, BUFFER_SIZE, 1, 0);
    }
    return fbb_table_end(b);
}

/* ---- Tensors ---- */

static fbb_ref_t write_quant(wr_t *w, const ir_quant_t *q)
{
    fbb_t *b = &w->fb;
    fbb_ref_t mn = q->n_min ? fbb_vec(b, q->min, q->n_min, 4, 0) : 0;
    fbb_ref_t mx = q->n_max ? fbb_vec(b, q->max, q->n_max, 4, 0) : 0;
    fbb_ref_t sc = q->n_scale ? fbb_vec(b, q->scale, q->n_scale, 4, 0) : 0;
    fbb_ref_t zp = q->n_zero_point ? fbb_vec(b, q->zero_point, q->n_zero_point, 8, 0) : 0;
    fbb_ref_t details = 0;
    if (q->has_custom) {
        fbb_ref_t custom = fbb_vec(b, q->custom, q->n_custom, 1, 16);
        fbb_table_start(b);
        fbb_add_ref(b, CUSTOM_QUANT_CUSTOM, custom);
        details = fbb_table_end(b);
    }
    fbb_table_start(b);
    fbb_add_ref(b, QUANT_MIN, mn);
    fbb_add_ref(b, QUANT_MAX, mx);
    fbb_add_ref(b, QUANT_SCALE, sc);
    fbb_add_ref(b, QUANT_ZERO_POINT, zp);
    fbb_add_union(b, QUANT_DETAILS, QUANT_DETAILS_CUSTOM, details);
    fbb_add_i32(b, QUANT_QUANTIZED_DIMENSION, q->quantized_dimension, 0);
    return fbb_table_end(b);
}

/* A SparseIndexVector: type 1 Int32Vector, 2 Uint16Vector, 3 Uint8Vector. */
static fbb_ref_t write_index_vector(wr_t *w, uint8_t type, const uint32_t *v, uint32_t n,
                                    const char *what)
{
    fbb_t *b = &w->fb;
    static const size_t elem[4] = {0, 4, 2, 1};
    if (type < 1 || type > 3) {
        wr_err(w, TFLC_ERR_INVALID, "%s: unknown index vector type %u", what, type);
        return 0;
    }
    int64_t small[64], *tmp = small;
    if (n > 64 && !(tmp = mem_calloc(n, sizeof *tmp))) {
        wr_err(w, TFLC_ERR_NOMEM, "out of memory");
        return 0;
    }
    for (uint32_t i = 0; i < n; i++)
        tmp[i] = v[i];
    /* Int32Vector holds int; the narrow ones are force_align 4. */
    fbb_ref_t values =
        type == 1 ? vec_narrow(w, tmp, n, 4, 1, what) : vec_narrow(w, tmp, n, elem[type], 0, what);
    if (tmp != small)
        mem_free(tmp);
    if (!values)
        return 0;
    fbb_table_start(b);
    fbb_add_ref(b, INDEX_VECTOR_VALUES, values);
    return fbb_table_end(b);
}

static fbb_ref_t write_sparsity(wr_t *w, const ir_sparsity_t *sp, const char *what)
{
    fbb_t *b = &w->fb;
    fbb_ref_t order =
        sp->traversal_order ? vec_i32(w, sp->traversal_order, sp->n_traversal_order) : 0;
    fbb_ref_t block = sp->n_block_map ? vec_i32(w, sp->block_map, sp->n_block_map) : 0;
    fbb_ref_t *dims = mem_calloc(sp->n_dims ? sp->n_dims : 1, sizeof *dims);
    if (!dims) {
        wr_err(w, TFLC_ERR_NOMEM, "out of memory");
        return 0;
    }
    for (uint32_t i = 0; i < sp->n_dims && !w->code; i++) {
        const ir_dim_meta_t *d = &sp->dims[i];
        fbb_ref_t seg = 0, idx = 0;
        if (d->seg_type)
            seg = write_index_vector(w, d->seg_type, d->segments, d->n_segments, what);
        if (d->idx_type)
            idx = write_index_vector(w, d->idx_type, d->indices, d->n_indices, what);
        fbb_table_start(b);
        fbb_add_i8(b, DIM_FORMAT, d->format, 0);
        fbb_add_i32(b, DIM_DENSE_SIZE, d->dense_size, 0);
        fbb_add_union(b, DIM_SEGMENTS, d->seg_type, seg);
        fbb_add_union(b, DIM_INDICES, d->idx_type, idx);
        dims[i] = fbb_table_end(b);
    }
    fbb_ref_t dimv = w->code ? 0 : fbb_vec_refs(b, dims, sp->n_dims);
    mem_free(dims);
    fbb_table_start(b);
    fbb_add_ref(b, SPARSITY_TRAVERSAL_ORDER, order);
    fbb_add_ref(b, SPARSITY_BLOCK_MAP, block);
    fbb_add_ref(b, SPARSITY_DIM_METADATA, dimv);
    return fbb_table_end(b);
}

static fbb_ref_t write_variants(wr_t *w, const ir_tensor_t *t)
{
    fbb_t *b = &w->fb;
    fbb_ref_t small[8], *refs = small;
    if (t->n_variants > 8 && !(refs = mem_calloc(t->n_variants, sizeof *refs))) {
        wr_err(w, TFLC_ERR_NOMEM, "out of memory");
        return 0;
    }
    for (uint32_t i = 0; i < t->n_variants; i++) {
        const ir_variant_t *v = &t->variants[i];
        fbb_ref_t shape = vec_i32(w, v->shape, v->rank);
        fbb_table_start(b);
        fbb_add_ref(b, VARIANT_SHAPE, shape);
        fbb_add_i8(b, VARIANT_TYPE, v->type, 0);
        fbb_add_bool(b, VARIANT_HAS_RANK, v->has_rank, 0);
        refs[i] = fbb_table_end(b);
    }
    fbb_ref_t r = fbb_vec_refs(b, refs, t->n_variants);
    if (refs != small)
        mem_free(refs);
    return r;
}

static fbb_ref_t write_tensor(wr_t *w, const ir_tensor_t *t, size_t sgi, size_t ti)
{
    fbb_t *b = &w->fb;
    char what[64];
    snprintf(what, sizeof what, "subgraph %zu tensor %zu sparsity", sgi, ti);
    fbb_ref_t name = fbb_cstring(b, t->name);
    fbb_ref_t shape = vec_i32(w, t->shape, t->rank);
    fbb_ref_t sig = t->shape_signature ? vec_i32(w, t->shape_signature, t->rank) : 0;
    fbb_ref_t quant = t->quant ? write_quant(w, t->quant) : 0;
    fbb_ref_t sparsity = t->sparsity ? write_sparsity(w, t->sparsity, what) : 0;
    fbb_ref_t variants = t->n_variants ? write_variants(w, t) : 0;
    fbb_table_start(b);
    fbb_add_ref(b, TENSOR_SHAPE, shape);
    fbb_add_i8(b, TENSOR_TYPE, t->type, 0);
    fbb_add_u32(b, TENSOR_BUFFER, t->buffer, 0);
    fbb_add_ref(b, TENSOR_NAME, name);
    fbb_add_ref(b, TENSOR_QUANTIZATION, quant);
    fbb_add_bool(b, TENSOR_IS_VARIABLE, t->is_variable, 0);
    fbb_add_ref(b, TENSOR_SPARSITY, sparsity);
    fbb_add_ref(b, TENSOR_SHAPE_SIGNATURE, sig);
    fbb_add_bool(b, TENSOR_HAS_RANK, t->has_rank, 0);
    fbb_add_ref(b, TENSOR_VARIANT_TENSORS, variants);
    return fbb_table_end(b);
}

/* ---- Operators ---- */

/* Checks that an integer option fits its field; reports it otherwise. */
static int fits(wr_t *w, int64_t v, int64_t lo, int64_t hi, const op_table_t *tab,
                const op_field_t *f, const char *where)
{
    if (v >= lo && v <= hi)
        return 1;
    wr_err(w, TFLC_ERR_INVALID, "%s: %s.%s = %lld is out of range for %s", where, tab->name,
           f->name, (long long)v, opk_name(f->kind));
    return 0;
}

/* A vector option, or 0 when absent (a NULL array). An array with n == 0
 * is written as an empty vector: for some options ([] vs none) that
 * differs. */
static fbb_ref_t write_vector_option(wr_t *w, const ir_val_t *v, const op_table_t *tab,
                                     const op_field_t *f, const char *where)
{
    char what[160];
    snprintf(what, sizeof what, "%s: %s.%s", where, tab->name, f->name);
    switch (f->kind) {
    case OPK_VI32:
        return v->iv ? vec_narrow(w, v->iv, v->n, 4, 1, what) : 0;
    case OPK_VI64:
        return v->iv ? vec_narrow(w, v->iv, v->n, 8, 1, what) : 0;
    case OPK_VU32:
        return v->iv ? vec_narrow(w, v->iv, v->n, 4, 0, what) : 0;
    case OPK_VB:
        return v->iv ? vec_narrow(w, v->iv, v->n, 1, 0, what) : 0;
    case OPK_VF32:
        return v->fv ? fbb_vec(&w->fb, v->fv, v->n, 4, 0) : 0;
    case OPK_VU8:
        return v->bytes ? fbb_vec(&w->fb, v->bytes, v->n, 1, 0) : 0;
    default:
        return 0;
    }
}

/* The builtin options table of op, written field by field from the op
 * table's description; 0 when op has no options. */
static fbb_ref_t write_options(wr_t *w, const ir_op_t *op, const char *where)
{
    fbb_t *b = &w->fb;
    const op_table_t *tab = op_table(op->opts);
    if (!tab) {
        wr_err(w, TFLC_ERR_INVALID, "%s: unknown options table id %u", where, op->opts);
        return 0;
    }
    if (tab->n_fields && !op->attr) {
        wr_err(w, TFLC_ERR_INVALID, "%s: %s has no values", where, tab->name);
        return 0;
    }
    /* Vectors and strings first: a table's children precede it. */
    fbb_ref_t small[32], *refs = small;
    if (tab->n_fields > 32 && !(refs = mem_calloc(tab->n_fields, sizeof *refs))) {
        wr_err(w, TFLC_ERR_NOMEM, "out of memory");
        return 0;
    }
    for (uint16_t i = 0; i < tab->n_fields; i++) {
        const op_field_t *f = &tab->fields[i];
        refs[i] = 0;
        if (opk_is_vector(f->kind))
            refs[i] = write_vector_option(w, &op->attr[i], tab, f, where);
        else if (f->kind == OPK_STR)
            refs[i] = fbb_cstring(b, op->attr[i].s);
    }
    fbb_table_start(b);
    for (uint16_t i = 0; i < tab->n_fields; i++) {
        const op_field_t *f = &tab->fields[i];
        const ir_val_t *v = &op->attr[i];
        switch (f->kind) {
        case OPK_B:
            fbb_add_bool(b, i, v->i != 0, f->dflt != 0);
            break;
        case OPK_I8:
            if (fits(w, v->i, INT8_MIN, INT8_MAX, tab, f, where))
                fbb_add_i8(b, i, (int8_t)v->i, (int8_t)f->dflt);
            break;
        case OPK_I32:
            if (fits(w, v->i, INT32_MIN, INT32_MAX, tab, f, where))
                fbb_add_i32(b, i, (int32_t)v->i, (int32_t)f->dflt);
            break;
        case OPK_U32:
            if (fits(w, v->i, 0, UINT32_MAX, tab, f, where))
                fbb_add_u32(b, i, (uint32_t)v->i, (uint32_t)f->dflt);
            break;
        case OPK_I64:
            fbb_add_i64(b, i, v->i, (int64_t)f->dflt);
            break;
        case OPK_F32:
            fbb_add_f32(b, i, (float)v->f, (float)f->dflt);
            break;
        default:
            fbb_add_ref(b, i, refs[i]);
            break;
        }
    }
    fbb_ref_t r = fbb_table_end(b);
    if (refs != small)
        mem_free(refs);
    return r;
}

static fbb_ref_t write_operator(wr_t *w, const ir_op_t *op, size_t sgi, size_t oi)
{
    fbb_t *b = &w->fb;
    char where[96];
    const char *name = op_name(op->builtin);
    snprintf(where, sizeof where, "subgraph %zu operator %zu (%s)", sgi, oi,
             op->custom_code ? op->custom_code
             : name          ? name
                             : "?");
    if (op->builtin < 0) {
        wr_err(w, TFLC_ERR_INVALID, "%s: negative builtin code %d", where, op->builtin);
        return 0;
    }
    int64_t code = opcode_index(w, op);
    if (code < 0)
        return 0;
    fbb_ref_t in = vec_i32(w, op->inputs, op->n_inputs);
    fbb_ref_t out = vec_i32(w, op->outputs, op->n_outputs);
    fbb_ref_t inter = op->n_intermediates ? vec_i32(w, op->intermediates, op->n_intermediates) : 0;
    fbb_ref_t mut = op->n_mutating_variable_inputs ? fbb_vec(b, op->mutating_variable_inputs,
                                                             op->n_mutating_variable_inputs, 1, 0)
                                                   : 0;
    fbb_ref_t custom =
        op->custom_options ? fbb_vec_extern(b, op->custom_options, op->n_custom_options, 0) : 0;
    fbb_ref_t opts = op->opts != OPT_NONE ? write_options(w, op, where) : 0;
    const op_table_t *tab = op_table(op->opts);
    fbb_table_start(b);
    fbb_add_u32(b, OP_OPCODE_INDEX, (uint32_t)code, 0);
    fbb_add_ref(b, OP_INPUTS, in);
    fbb_add_ref(b, OP_OUTPUTS, out);
    if (tab && tab->which == 2)
        fbb_add_union(b, OP_BUILTIN_OPTIONS_2, tab->type, opts);
    else if (tab)
        fbb_add_union(b, OP_BUILTIN_OPTIONS, tab->type, opts);
    fbb_add_ref(b, OP_CUSTOM_OPTIONS, custom);
    fbb_add_i8(b, OP_CUSTOM_OPTIONS_FORMAT, op->custom_options_format, 0);
    fbb_add_ref(b, OP_MUTATING_VARIABLE_INPUTS, mut);
    fbb_add_ref(b, OP_INTERMEDIATES, inter);
    fbb_add_i32(b, OP_DEBUG_METADATA_INDEX, op->debug_metadata_index, -1);
    return fbb_table_end(b);
}

/* ---- Subgraphs, signatures, metadata ---- */

/* A vector of n tables made by fn(w, i); 0 after an error. */
static fbb_ref_t vec_of(wr_t *w, size_t n, fbb_ref_t (*fn)(wr_t *, size_t, const void *),
                        const void *ctx)
{
    fbb_ref_t *refs = mem_calloc(n ? n : 1, sizeof *refs);
    if (!refs) {
        wr_err(w, TFLC_ERR_NOMEM, "out of memory");
        return 0;
    }
    for (size_t i = 0; i < n && !w->code && !fbb_error(&w->fb); i++)
        refs[i] = fn(w, i, ctx);
    fbb_ref_t r = 0;
    if (!w->code && !fbb_error(&w->fb))
        r = fbb_vec_refs(&w->fb, refs, n);
    mem_free(refs);
    return r;
}

static fbb_ref_t tensor_fn(wr_t *w, size_t i, const void *ctx)
{
    const ir_subgraph_t *sg = ctx;
    return write_tensor(w, &sg->tensors[i], (size_t)(sg - w->m->subgraphs), i);
}

static fbb_ref_t operator_fn(wr_t *w, size_t i, const void *ctx)
{
    const ir_subgraph_t *sg = ctx;
    return write_operator(w, &sg->ops[i], (size_t)(sg - w->m->subgraphs), i);
}

static fbb_ref_t subgraph_fn(wr_t *w, size_t i, const void *ctx)
{
    (void)ctx;
    fbb_t *b = &w->fb;
    const ir_subgraph_t *sg = &w->m->subgraphs[i];
    fbb_ref_t tensors = vec_of(w, sg->n_tensors, tensor_fn, sg);
    fbb_ref_t ops = vec_of(w, sg->n_ops, operator_fn, sg);
    fbb_ref_t in = vec_i32(w, sg->inputs, sg->n_inputs);
    fbb_ref_t out = vec_i32(w, sg->outputs, sg->n_outputs);
    fbb_ref_t name = fbb_cstring(b, sg->name);
    fbb_table_start(b);
    fbb_add_ref(b, SG_TENSORS, tensors);
    fbb_add_ref(b, SG_INPUTS, in);
    fbb_add_ref(b, SG_OUTPUTS, out);
    fbb_add_ref(b, SG_OPERATORS, ops);
    fbb_add_ref(b, SG_NAME, name);
    fbb_add_i32(b, SG_DEBUG_METADATA_INDEX, sg->debug_metadata_index, -1);
    return fbb_table_end(b);
}

static fbb_ref_t opcode_fn(wr_t *w, size_t i, const void *ctx)
{
    (void)ctx;
    return write_opcode(w, &w->codes[i]);
}

static fbb_ref_t buffer_fn(wr_t *w, size_t i, const void *ctx)
{
    (void)ctx;
    return w->buf_tab[i] = write_buffer(w, i);
}

static fbb_ref_t tensor_map_fn(wr_t *w, size_t i, const void *ctx)
{
    const ir_tensor_map_t *tm = (const ir_tensor_map_t *)ctx + i;
    fbb_t *b = &w->fb;
    fbb_ref_t name = fbb_cstring(b, tm->name);
    fbb_table_start(b);
    fbb_add_ref(b, TENSORMAP_NAME, name);
    fbb_add_u32(b, TENSORMAP_TENSOR_INDEX, tm->tensor, 0);
    return fbb_table_end(b);
}

static fbb_ref_t signature_fn(wr_t *w, size_t i, const void *ctx)
{
    (void)ctx;
    fbb_t *b = &w->fb;
    const ir_signature_t *s = &w->m->signatures[i];
    fbb_ref_t in = vec_of(w, s->n_inputs, tensor_map_fn, s->inputs);
    fbb_ref_t out = vec_of(w, s->n_outputs, tensor_map_fn, s->outputs);
    fbb_ref_t key = fbb_cstring(b, s->key);
    fbb_table_start(b);
    fbb_add_ref(b, SIGDEF_INPUTS, in);
    fbb_add_ref(b, SIGDEF_OUTPUTS, out);
    fbb_add_ref(b, SIGDEF_SIGNATURE_KEY, key);
    fbb_add_u32(b, SIGDEF_SUBGRAPH_INDEX, s->subgraph, 0);
    return fbb_table_end(b);
}

static fbb_ref_t metadata_fn(wr_t *w, size_t i, const void *ctx)
{
    (void)ctx;
    fbb_t *b = &w->fb;
    const ir_metadata_t *md = &w->m->metadata[i];
    fbb_ref_t name = fbb_cstring(b, md->name);
    fbb_table_start(b);
    fbb_add_ref(b, METADATA_NAME, name);
    fbb_add_u32(b, METADATA_BUFFER, md->buffer, 0);
    return fbb_table_end(b);
}

/* The whole model, root included. The buffers are built first so that
 * their data ends up at the end of the FlatBuffer, after all tables. */
static void build_model(wr_t *w)
{
    fbb_t *b = &w->fb;
    const ir_model_t *m = w->m;
    w->n_codes = 0;
    fbb_ref_t buffers = vec_of(w, m->n_buffers, buffer_fn, NULL);
    fbb_ref_t subgraphs = vec_of(w, m->n_subgraphs, subgraph_fn, NULL);
    fbb_ref_t codes = vec_of(w, w->n_codes, opcode_fn, NULL);
    fbb_ref_t sigs = m->n_signatures ? vec_of(w, m->n_signatures, signature_fn, NULL) : 0;
    fbb_ref_t meta = m->n_metadata ? vec_of(w, m->n_metadata, metadata_fn, NULL) : 0;
    fbb_ref_t mbuf =
        m->n_metadata_buffer ? vec_i32(w, m->metadata_buffer, m->n_metadata_buffer) : 0;
    fbb_ref_t desc = fbb_cstring(b, m->description);
    if (w->code)
        return;
    fbb_table_start(b);
    fbb_add_u32(b, MODEL_VERSION, SCHEMA_VERSION, 0);
    fbb_add_ref(b, MODEL_OPERATOR_CODES, codes);
    fbb_add_ref(b, MODEL_SUBGRAPHS, subgraphs);
    fbb_add_ref(b, MODEL_DESCRIPTION, desc);
    fbb_add_ref(b, MODEL_BUFFERS, buffers);
    fbb_add_ref(b, MODEL_METADATA_BUFFER, mbuf);
    fbb_add_ref(b, MODEL_METADATA, meta);
    fbb_add_ref(b, MODEL_SIGNATURE_DEFS, sigs);
    fbb_ref_t root = fbb_table_end(b);
    fbb_finish(b, root, FILE_IDENT);
}

/* ---- Placing data: inline or after the FlatBuffer ---- */

/* may[i]: buffer i may go after the FlatBuffer (not buffer 0, not empty,
 * not read as metadata). */
static void movable_buffers(const ir_model_t *m, uint8_t *may)
{
    for (size_t i = 1; i < m->n_buffers; i++)
        may[i] = m->buffers[i].size > 0;
    for (size_t i = 0; i < m->n_metadata; i++)
        if (m->metadata[i].buffer < m->n_buffers)
            may[m->metadata[i].buffer] = 0;
    for (size_t i = 0; i < m->n_metadata_buffer; i++)
        if (m->metadata_buffer[i] >= 0 && (size_t)m->metadata_buffer[i] < m->n_buffers)
            may[m->metadata_buffer[i]] = 0;
}

static uint64_t align16(uint64_t x)
{
    return (x + 15) & ~(uint64_t)15;
}

/* Sets each external buffer's offset and size in the finished FlatBuffer.
 * Data start after the FlatBuffer padded to 16, each block 16-aligned. */
static void patch_offsets(wr_t *w)
{
    uint64_t at = align16(fbb_size(&w->fb));
    for (size_t i = 0; i < w->m->n_buffers; i++) {
        if (!w->ext[i])
            continue;
        uint64_t size = w->m->buffers[i].size;
        if (fbb_patch(&w->fb, w->buf_tab[i], BUFFER_OFFSET, at, 8) ||
            fbb_patch(&w->fb, w->buf_tab[i], BUFFER_SIZE, size, 8)) {
            wr_err(w, TFLC_ERR_INVALID, "buffer %zu: cannot set its offset", i);
            return;
        }
        at = align16(at + size);
    }
}

static const uint8_t zeros[16];

static int emit_zeros(tflc_emit_fn emit, void *user, uint64_t n)
{
    return n ? emit(user, zeros, (size_t)n) : 0;
}

/* Emits the FlatBuffer, then the external data and the tail. */
static int emit_all(wr_t *w, int any_ext, tflc_emit_fn emit, void *user)
{
    int r = fbb_emit(&w->fb, emit, user);
    if (r || !any_ext)
        return r;
    uint64_t at = fbb_size(&w->fb);
    if ((r = emit_zeros(emit, user, align16(at) - at)))
        return r;
    at = align16(at);
    for (size_t i = 0; i < w->m->n_buffers; i++) {
        if (!w->ext[i])
            continue;
        const ir_buffer_t *buf = &w->m->buffers[i];
        const uint8_t *d = buf->data;
        for (uint64_t left = buf->size; left;) {
            size_t k = left > (SIZE_MAX >> 1) ? (SIZE_MAX >> 1) : (size_t)left;
            if ((r = emit(user, d, k)))
                return r;
            d += k;
            left -= k;
        }
        at += buf->size;
        if ((r = emit_zeros(emit, user, align16(at) - at)))
            return r;
        at = align16(at);
    }
    return emit_zeros(emit, user, TFL_EXT_TAIL);
}

tflc_code_t tfl_write(const ir_model_t *m, tflc_emit_fn emit, void *user,
                      const tflc_write_options_t *opt, uint64_t fbb_limit, const char *where,
                      tflc_status_t *st)
{
    wr_t w;
    memset(&w, 0, sizeof w);
    w.m = m;
    w.st = st;
    w.where = where ? where : "output";
    if (!m || !emit)
        return st_err(st, TFLC_ERR_INVALID, w.where, "no model or no emitter");
    /* Refuse a broken model rather than write a file the runtime rejects
     * (or that misleads it). This also guarantees what the writer relies
     * on: indices in range, buffers with a size have data, options tables
     * with their values. */
    tflc_code_t vc = ir_verify(m, w.where, st);
    if (vc)
        return vc;
    uint64_t threshold = opt ? opt->external_buffer_threshold : 0;
    size_t nb = m->n_buffers;
    uint8_t *may = mem_calloc(nb, 1);
    w.ext = mem_calloc(nb, 1);
    w.buf_tab = mem_calloc(nb, sizeof *w.buf_tab);
    if (!may || !w.ext || !w.buf_tab) {
        mem_free(may);
        mem_free(w.ext);
        mem_free(w.buf_tab);
        return st_oom(st, w.where);
    }
    movable_buffers(m, may);
    int any_ext = 0;
    for (size_t i = 0; i < nb; i++) {
        w.ext[i] = may[i] && threshold && m->buffers[i].size > threshold;
        any_ext |= w.ext[i];
    }
    /* Try with the data inline; if the FlatBuffer is then too big, move
     * every movable buffer out and build again. */
    for (int pass = 0; pass < 2; pass++) {
        fbb_init(&w.fb);
        w.fb.max_size = fbb_limit;
        build_model(&w);
        if (w.code || fbb_error(&w.fb) != FBB_ERR_TOO_BIG || pass == 1)
            break;
        int moved = 0;
        for (size_t i = 0; i < nb; i++) {
            moved |= may[i] && !w.ext[i];
            w.ext[i] |= may[i];
            any_ext |= w.ext[i];
        }
        if (!moved)
            break;
        fbb_free(&w.fb);
    }
    if (!w.code && fbb_error(&w.fb)) {
        fbb_err_t e = fbb_error(&w.fb);
        if (e == FBB_ERR_NOMEM)
            wr_err(&w, TFLC_ERR_NOMEM, "out of memory");
        else if (e == FBB_ERR_TOO_BIG)
            wr_err(&w, TFLC_ERR_UNSUPPORTED,
                   "the model's structure does not fit a FlatBuffer (%llu bytes "
                   "allowed) even with its weights placed after it",
                   (unsigned long long)fbb_limit);
        else
            wr_err(&w, TFLC_ERR_INVALID, "%s (a writer bug)", fbb_err_name(e));
    }
    if (!w.code && any_ext)
        patch_offsets(&w);
    if (!w.code && emit_all(&w, any_ext, emit, user))
        wr_err(&w, TFLC_ERR_IO, "write failed");
    fbb_free(&w.fb);
    mem_free(may);
    mem_free(w.ext);
    mem_free(w.buf_tab);
    mem_free(w.codes);
    return w.code;
}

tflc_code_t tflc_model_write(const tflc_model_t *m, tflc_emit_fn emit, void *user,
                             const tflc_write_options_t *opt, tflc_status_t *st)
{
    return tfl_write(m, emit, user, opt, FBB_MAX_SIZE, "output", st);
}

/* ---- Files: write beside, then rename ---- */

typedef struct file_sink {
    FILE *f;
    int err; /* errno of the first failure */
} file_sink_t;

static int file_emit(void *user, const void *data, size_t size)
{
    file_sink_t *s = user;
    if (size && fwrite(data, 1, size, s->f) != size) {
        s->err = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

/* Opens a new file "<path>.tmp<pid>-<n>" that did not exist (mode 0666
 * less the umask, like any new file). Returns the fd or -1. */
static int open_temp(const char *path, char *tmp, size_t cap)
{
    for (unsigned n = 0; n < 100; n++) {
        snprintf(tmp, cap, "%s.tmp%ld-%u", path, (long)getpid(), n);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

tflc_code_t tflc_model_write_file(const tflc_model_t *m, const char *path,
                                  const tflc_write_options_t *opt, tflc_status_t *st)
{
    if (!path || !*path)
        return st_err(st, TFLC_ERR_INVALID, NULL, "no output path");
    size_t cap = strlen(path) + 48;
    char *tmp = mem_alloc(cap);
    if (!tmp)
        return st_oom(st, path);
    int fd = open_temp(path, tmp, cap);
    if (fd < 0) {
        tflc_code_t c = st_err(st, TFLC_ERR_IO, path, "cannot create the temporary file %s: %s",
                               tmp, strerror(errno));
        mem_free(tmp);
        return c;
    }
    file_sink_t sink = {fdopen(fd, "wb"), 0};
    if (!sink.f) {
        close(fd);
        unlink(tmp);
        mem_free(tmp);
        return st_err(st, TFLC_ERR_IO, path, "cannot open: %s", strerror(errno));
    }
    size_t before = st_errors(st);
    tflc_code_t c = tfl_write(m, file_emit, &sink, opt, FBB_MAX_SIZE, path, st);
    if (!c && (fflush(sink.f) || fsync(fileno(sink.f))))
        sink.err = errno ? errno : EIO;
    if (fclose(sink.f) && !sink.err)
        sink.err = errno ? errno : EIO;
    if (sink.err) {
        /* The emitter's failure is already reported as "write failed";
         * say why. */
        if (st_errors(st) == before || c == TFLC_ERR_IO)
            c = st_err(st, TFLC_ERR_IO, path, "cannot write: %s", strerror(sink.err));
    }
    if (!c && rename(tmp, path))
        c = st_err(st, TFLC_ERR_IO, path, "cannot rename %s to it: %s", tmp, strerror(errno));
    if (c)
        unlink(tmp);
    mem_free(tmp);
    return c;
}
