/*
 * reader.c -- the TFLite reader: a .tflite (FlatBuffer, schema version 3)
 * into tflc's IR, plus the public tflc_model_read_file / _read_memory.
 *
 * Contract
 * - tfl_read fills a new model (ir_model_new) from data[0..size). Every
 *   offset and length is checked by fb_read; a bad file gives one message
 *   per problem (file, subgraph / operator / tensor index, byte offset) and
 *   TFLC_ERR_FORMAT (or UNSUPPORTED for valid files using features the IR
 *   cannot hold), never a crash. On error the model holds a partial read
 *   and must be freed, not used.
 * - Nothing is copied that can be referenced: buffer data, custom options,
 *   custom quantization bytes and [ubyte] option fields point into data, so
 *   data must outlive the model. Such pointers have no alignment guarantee
 *   (TF's converters align weights to 4 bytes at best; a crafted file to
 *   none): read elements through memcpy.
 * - Builtin options are decoded generically from the op table
 *   (src/ops/tflite_schema.def): the union tag gives the options table, its
 *   fields give slot, kind and default; values go to op->attr[slot]. There
 *   is no per-op code here. Unknown builtin codes are kept as they are (the
 *   runtime judges them); an unknown options union tag is an error.
 * - Semantics follow the TFLite runtime's reading of the same fields:
 *   the builtin code is max(deprecated_builtin_code, builtin_code); a Buffer
 *   or an Operator's large custom options with offset <= 1 hold no data (the
 *   converter writes offset 1 as a placeholder), otherwise the bytes are at
 *   that offset from the start of the file; an inline data vector takes
 *   precedence over offset/size; buffer 0 is the empty buffer whatever the
 *   file says; the "TFL3" identifier is optional.
 * - Index ranges (tensor, buffer, subgraph indices) are not checked here:
 *   ir_verify does that, on read models and built ones alike. The reader
 *   only rejects what the IR cannot represent (an opcode index out of
 *   range, shape_signature of another rank than shape).
 */
#include <stdio.h>
#include <string.h>

#include "../pipeline.h"
#include "fb_read.h"

/* Field ids (vtable slots) of the schema's tables, in declaration order;
 * a union takes two ids (its type tag, then the value). */
enum { MODEL_VERSION, MODEL_OPERATOR_CODES, MODEL_SUBGRAPHS, MODEL_DESCRIPTION, MODEL_BUFFERS,
       MODEL_METADATA_BUFFER, MODEL_METADATA, MODEL_SIGNATURE_DEFS };
enum { OPCODE_DEPRECATED_BUILTIN, OPCODE_CUSTOM_CODE, OPCODE_VERSION, OPCODE_BUILTIN };
enum { SUBGRAPH_TENSORS, SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS, SUBGRAPH_OPERATORS, SUBGRAPH_NAME,
       SUBGRAPH_DEBUG_METADATA_INDEX };
enum { TENSOR_SHAPE, TENSOR_TYPE, TENSOR_BUFFER, TENSOR_NAME, TENSOR_QUANTIZATION,
       TENSOR_IS_VARIABLE, TENSOR_SPARSITY, TENSOR_SHAPE_SIGNATURE, TENSOR_HAS_RANK,
       TENSOR_VARIANT_TENSORS, TENSOR_EXTERNAL_BUFFER };
enum { QUANT_MIN, QUANT_MAX, QUANT_SCALE, QUANT_ZERO_POINT, QUANT_DETAILS_TYPE, QUANT_DETAILS,
       QUANT_QUANTIZED_DIMENSION };
enum { QDETAILS_NONE, QDETAILS_CUSTOM, QDETAILS_BLOCKWISE, QDETAILS_MULTI_AXIS };
enum { CUSTOM_QUANT_CUSTOM };
enum { SPARSITY_TRAVERSAL_ORDER, SPARSITY_BLOCK_MAP, SPARSITY_DIM_METADATA };
enum { DIM_FORMAT, DIM_DENSE_SIZE, DIM_SEGMENTS_TYPE, DIM_SEGMENTS, DIM_INDICES_TYPE,
       DIM_INDICES };
enum { INDEX_VECTOR_VALUES };
enum { VARIANT_SHAPE, VARIANT_TYPE, VARIANT_HAS_RANK };
enum { OPERATOR_OPCODE_INDEX, OPERATOR_INPUTS, OPERATOR_OUTPUTS, OPERATOR_OPTIONS_TYPE,
       OPERATOR_OPTIONS, OPERATOR_CUSTOM_OPTIONS, OPERATOR_CUSTOM_OPTIONS_FORMAT,
       OPERATOR_MUTATING_VARIABLE_INPUTS, OPERATOR_INTERMEDIATES,
       OPERATOR_LARGE_CUSTOM_OPTIONS_OFFSET, OPERATOR_LARGE_CUSTOM_OPTIONS_SIZE,
       OPERATOR_OPTIONS_2_TYPE, OPERATOR_OPTIONS_2, OPERATOR_DEBUG_METADATA_INDEX };
enum { BUFFER_DATA, BUFFER_OFFSET, BUFFER_SIZE };
enum { METADATA_NAME, METADATA_BUFFER };
enum { TENSOR_MAP_NAME, TENSOR_MAP_TENSOR_INDEX };
enum { SIGNATURE_INPUTS, SIGNATURE_OUTPUTS, SIGNATURE_KEY, SIGNATURE_DEPRECATED_TAG,
       SIGNATURE_SUBGRAPH_INDEX };

#define TFL_SCHEMA_VERSION 3u

typedef struct rd_opcode {
    int32_t builtin;
    const char *custom_code;
    int32_t version;
} rd_opcode_t;

typedef struct rd {
    fb_reader_t fb;
    ir_model_t *m;
    const char *name;      /* for messages */
    const uint8_t *data;   /* the whole file: buffers may lie past the FlatBuffer */
    uint64_t size;
    rd_opcode_t *codes;
    uint32_t n_codes;
} rd_t;

/* ---- Small helpers ---------------------------------------------------- */

static void nomem(rd_t *r)
{
    fb_fail_code(&r->fb, TFLC_ERR_NOMEM, 0, "memory", "out of memory");
    r->fb.stop = true;
}

static void *rd_calloc(rd_t *r, size_t n, size_t size)
{
    if (!n || !size)
        return NULL;
    void *p = ar_calloc(&r->m->arena, n, size);
    if (!p)
        nomem(r);
    return p;
}

static char *rd_str(rd_t *r, const char *s, uint32_t len)
{
    if (!s)
        return NULL;
    char *d = ar_strndup(&r->m->arena, s, len);
    if (!d)
        nomem(r);
    return d;
}

/* Makes *pp (with capacity *cap) hold n zeroed elements; false on OOM. */
static bool rd_reserve(rd_t *r, void **pp, size_t *cap, size_t n, size_t elem)
{
    if (ar_grow(&r->m->arena, pp, cap, n, elem)) {
        nomem(r);
        return false;
    }
    return true;
}

static int32_t *vec_i32(rd_t *r, const fb_vec_t *v)
{
    int32_t *a = rd_calloc(r, v->n, sizeof *a);
    for (uint32_t i = 0; a && i < v->n; i++)
        a[i] = fb_vec_i32(&r->fb, v, i);
    return a;
}

static float *vec_f32(rd_t *r, const fb_vec_t *v)
{
    float *a = rd_calloc(r, v->n, sizeof *a);
    for (uint32_t i = 0; a && i < v->n; i++)
        a[i] = fb_vec_f32(&r->fb, v, i);
    return a;
}

static int64_t *vec_i64(rd_t *r, const fb_vec_t *v)
{
    int64_t *a = rd_calloc(r, v->n, sizeof *a);
    for (uint32_t i = 0; a && i < v->n; i++)
        a[i] = fb_vec_i64(&r->fb, v, i);
    return a;
}

/* The count of a vector whose elements were all copied (0 after OOM). */
static uint32_t got(const void *p, const fb_vec_t *v) { return p ? v->n : 0; }

/* True when [off, off + size) lies in the file. */
static bool in_file(const rd_t *r, uint64_t off, uint64_t size)
{
    return off <= r->size && size <= r->size - off;
}

/* ---- Operator codes --------------------------------------------------- */

static void read_opcodes(rd_t *r, const fb_table_t *root)
{
    fb_where(&r->fb, "%s", r->name);
    fb_vec_t v = fb_vector(&r->fb, root, MODEL_OPERATOR_CODES, 4, "Model.operator_codes");
    r->codes = rd_calloc(r, v.n, sizeof *r->codes);
    if (!r->codes)
        return;
    r->n_codes = v.n;
    for (uint32_t i = 0; i < v.n && !r->fb.stop; i++) {
        fb_where(&r->fb, "%s: operator code %u", r->name, i);
        fb_table_t t = fb_vec_table(&r->fb, &v, i, "Model.operator_codes[]");
        rd_opcode_t *c = &r->codes[i];
        /* deprecated_builtin_code is a byte that saturates at 127
         * (PLACEHOLDER_FOR_GREATER_OP_CODES); the larger of the two is the op. */
        int32_t dep = fb_i8(&r->fb, &t, OPCODE_DEPRECATED_BUILTIN, 0,
                            "OperatorCode.deprecated_builtin_code");
        int32_t b = fb_i32(&r->fb, &t, OPCODE_BUILTIN, 0, "OperatorCode.builtin_code");
        c->builtin = dep > b ? dep : b;
        c->version = fb_i32(&r->fb, &t, OPCODE_VERSION, 1, "OperatorCode.version");
        uint32_t len;
        const char *s = fb_string(&r->fb, &t, OPCODE_CUSTOM_CODE, &len, "OperatorCode.custom_code");
        c->custom_code = rd_str(r, s, len);
    }
}

/* ---- Buffers ---------------------------------------------------------- */

/* The bytes of one Buffer table: its data vector, else offset/size into the
 * file when offset > 1, else nothing. */
static void buffer_bytes(rd_t *r, const fb_table_t *t, uint32_t i, const uint8_t **data,
                         uint64_t *size)
{
    uint32_t n;
    *data = fb_blob(&r->fb, t, BUFFER_DATA, &n, "Buffer.data");
    *size = n;
    if (*data || fb_has_field(&r->fb, t, BUFFER_DATA))
        return;
    uint64_t off = fb_u64(&r->fb, t, BUFFER_OFFSET, 0, "Buffer.offset");
    uint64_t sz = fb_u64(&r->fb, t, BUFFER_SIZE, 0, "Buffer.size");
    if (off <= 1 || sz == 0)
        return;
    if (!in_file(r, off, sz)) {
        fb_fail(&r->fb, t->pos, "Buffer.offset",
                "buffer %u: data at offset %llu, %llu bytes, lies outside the file (%llu bytes)",
                i, (unsigned long long)off, (unsigned long long)sz, (unsigned long long)r->size);
        return;
    }
    *data = r->data + off;
    *size = sz;
}

static void read_buffers(rd_t *r, const fb_table_t *root)
{
    ir_model_t *m = r->m;
    fb_where(&r->fb, "%s", r->name);
    fb_vec_t v = fb_vector(&r->fb, root, MODEL_BUFFERS, 4, "Model.buffers");
    if (v.n > 1 && !rd_reserve(r, (void **)&m->buffers, &m->cap_buffers, v.n, sizeof *m->buffers))
        return;
    for (uint32_t i = 0; i < v.n && !r->fb.stop; i++) {
        fb_where(&r->fb, "%s: buffer %u", r->name, i);
        fb_table_t t = fb_vec_table(&r->fb, &v, i, "Model.buffers[]");
        /* Buffer 0 is the empty sentinel: tensors with buffer 0 have no data
         * whatever the file stores there, as in the runtime. */
        if (i == 0)
            continue;
        const uint8_t *data = NULL;
        uint64_t size = 0;
        if (t.pos)
            buffer_bytes(r, &t, i, &data, &size);
        if (ir_add_buffer(m, data, size) < 0) {
            nomem(r);
            return;
        }
    }
}

/* ---- Tensors ---------------------------------------------------------- */

static ir_quant_t *read_quant(rd_t *r, const fb_table_t *t)
{
    fb_reader_t *fb = &r->fb;
    fb_vec_t mn = fb_vector(fb, t, QUANT_MIN, 4, "QuantizationParameters.min");
    fb_vec_t mx = fb_vector(fb, t, QUANT_MAX, 4, "QuantizationParameters.max");
    fb_vec_t sc = fb_vector(fb, t, QUANT_SCALE, 4, "QuantizationParameters.scale");
    fb_vec_t zp = fb_vector(fb, t, QUANT_ZERO_POINT, 8, "QuantizationParameters.zero_point");
    uint8_t dt = fb_u8(fb, t, QUANT_DETAILS_TYPE, 0, "QuantizationParameters.details_type");
    int32_t qd = fb_i32(fb, t, QUANT_QUANTIZED_DIMENSION, 0,
                        "QuantizationParameters.quantized_dimension");
    /* Converters write an empty table for unquantized tensors: that is no
     * quantization, as for the runtime. */
    if (!mn.n && !mx.n && !sc.n && !zp.n && dt == QDETAILS_NONE && qd == 0)
        return NULL;
    ir_quant_t *q = rd_calloc(r, 1, sizeof *q);
    if (!q)
        return NULL;
    q->min = vec_f32(r, &mn), q->n_min = got(q->min, &mn);
    q->max = vec_f32(r, &mx), q->n_max = got(q->max, &mx);
    q->scale = vec_f32(r, &sc), q->n_scale = got(q->scale, &sc);
    q->zero_point = vec_i64(r, &zp), q->n_zero_point = got(q->zero_point, &zp);
    q->quantized_dimension = qd;
    if (dt == QDETAILS_CUSTOM) {
        fb_table_t d = fb_table(fb, t, QUANT_DETAILS, "QuantizationParameters.details");
        q->has_custom = true;
        q->custom = fb_blob(fb, &d, CUSTOM_QUANT_CUSTOM, &q->n_custom, "CustomQuantization.custom");
    } else if (dt == QDETAILS_BLOCKWISE || dt == QDETAILS_MULTI_AXIS) {
        fb_fail_code(fb, TFLC_ERR_UNSUPPORTED, t->pos, "QuantizationParameters.details",
                     "%s quantization is not supported",
                     dt == QDETAILS_BLOCKWISE ? "blockwise" : "multi-axis");
    } else if (dt != QDETAILS_NONE) {
        fb_fail(fb, t->pos, "QuantizationParameters.details_type",
                "unknown QuantizationDetails type %u", dt);
    }
    return q;
}

/* One SparseIndexVector union (Int32Vector, Uint16Vector, Uint8Vector). */
static void read_index_vector(rd_t *r, const fb_table_t *dim, unsigned type_slot,
                              uint8_t *type, uint32_t **out, uint32_t *n, const char *what)
{
    fb_reader_t *fb = &r->fb;
    static const uint8_t elem_of[4] = {0, 4, 2, 1};
    *type = fb_u8(fb, dim, type_slot, 0, what);
    if (*type == 0)
        return;
    if (*type > 3) {
        fb_fail(fb, dim->pos, what, "unknown SparseIndexVector type %u", *type);
        return;
    }
    fb_table_t t = fb_table(fb, dim, type_slot + 1, what);
    fb_vec_t v = fb_vector(fb, &t, INDEX_VECTOR_VALUES, elem_of[*type], what);
    uint32_t *a = rd_calloc(r, v.n, sizeof *a);
    for (uint32_t i = 0; a && i < v.n; i++)
        a[i] = *type == 1 ? fb_vec_u32(fb, &v, i)
             : *type == 2 ? fb_vec_u16(fb, &v, i) : fb_vec_u8(fb, &v, i);
    *out = a;
    *n = got(a, &v);
}

static ir_sparsity_t *read_sparsity(rd_t *r, const fb_table_t *t)
{
    fb_reader_t *fb = &r->fb;
    ir_sparsity_t *s = rd_calloc(r, 1, sizeof *s);
    if (!s)
        return NULL;
    fb_vec_t to = fb_vector(fb, t, SPARSITY_TRAVERSAL_ORDER, 4, "SparsityParameters.traversal_order");
    fb_vec_t bm = fb_vector(fb, t, SPARSITY_BLOCK_MAP, 4, "SparsityParameters.block_map");
    fb_vec_t dm = fb_vector(fb, t, SPARSITY_DIM_METADATA, 4, "SparsityParameters.dim_metadata");
    s->traversal_order = vec_i32(r, &to), s->n_traversal_order = got(s->traversal_order, &to);
    s->block_map = vec_i32(r, &bm), s->n_block_map = got(s->block_map, &bm);
    s->dims = rd_calloc(r, dm.n, sizeof *s->dims);
    s->n_dims = got(s->dims, &dm);
    for (uint32_t i = 0; i < s->n_dims && !fb->stop; i++) {
        fb_table_t d = fb_vec_table(fb, &dm, i, "SparsityParameters.dim_metadata[]");
        ir_dim_meta_t *x = &s->dims[i];
        x->format = fb_i8(fb, &d, DIM_FORMAT, 0, "DimensionMetadata.format");
        x->dense_size = fb_i32(fb, &d, DIM_DENSE_SIZE, 0, "DimensionMetadata.dense_size");
        read_index_vector(r, &d, DIM_SEGMENTS_TYPE, &x->seg_type, &x->segments, &x->n_segments,
                          "DimensionMetadata.array_segments");
        read_index_vector(r, &d, DIM_INDICES_TYPE, &x->idx_type, &x->indices, &x->n_indices,
                          "DimensionMetadata.array_indices");
    }
    return s;
}

static void read_variants(rd_t *r, const fb_table_t *t, ir_tensor_t *x)
{
    fb_reader_t *fb = &r->fb;
    fb_vec_t v = fb_vector(fb, t, TENSOR_VARIANT_TENSORS, 4, "Tensor.variant_tensors");
    x->variants = rd_calloc(r, v.n, sizeof *x->variants);
    x->n_variants = got(x->variants, &v);
    for (uint32_t i = 0; i < x->n_variants && !fb->stop; i++) {
        fb_table_t vt = fb_vec_table(fb, &v, i, "Tensor.variant_tensors[]");
        ir_variant_t *y = &x->variants[i];
        fb_vec_t sh = fb_vector(fb, &vt, VARIANT_SHAPE, 4, "VariantSubType.shape");
        y->shape = vec_i32(r, &sh);
        y->rank = got(y->shape, &sh);
        y->type = fb_i8(fb, &vt, VARIANT_TYPE, 0, "VariantSubType.type");
        y->has_rank = fb_bool(fb, &vt, VARIANT_HAS_RANK, false, "VariantSubType.has_rank");
    }
}

static void read_tensor(rd_t *r, const fb_table_t *t, ir_tensor_t *x, uint32_t si, uint32_t ti)
{
    fb_reader_t *fb = &r->fb;
    fb_where(fb, "%s: subgraph %u: tensor %u", r->name, si, ti);
    uint32_t len;
    const char *name = fb_string(fb, t, TENSOR_NAME, &len, "Tensor.name");
    x->name = rd_str(r, name, len);
    if (x->name)
        fb_where(fb, "%s: subgraph %u: tensor %u '%.80s'", r->name, si, ti, x->name);
    x->type = fb_i8(fb, t, TENSOR_TYPE, DT_FLOAT32, "Tensor.type");
    x->buffer = fb_u32(fb, t, TENSOR_BUFFER, 0, "Tensor.buffer");
    x->is_variable = fb_bool(fb, t, TENSOR_IS_VARIABLE, false, "Tensor.is_variable");
    x->has_rank = fb_bool(fb, t, TENSOR_HAS_RANK, false, "Tensor.has_rank");

    fb_vec_t sh = fb_vector(fb, t, TENSOR_SHAPE, 4, "Tensor.shape");
    x->shape = vec_i32(r, &sh);
    x->rank = got(x->shape, &sh);
    fb_vec_t sig = fb_vector(fb, t, TENSOR_SHAPE_SIGNATURE, 4, "Tensor.shape_signature");
    if (sig.pos && sig.n != sh.n)
        fb_fail(fb, t->pos, "Tensor.shape_signature",
                "shape_signature has %lu dimensions but shape has %lu", (unsigned long)sig.n,
                (unsigned long)sh.n);
    else
        x->shape_signature = vec_i32(r, &sig);

    fb_table_t q = fb_table(fb, t, TENSOR_QUANTIZATION, "Tensor.quantization");
    if (q.pos)
        x->quant = read_quant(r, &q);
    fb_table_t sp = fb_table(fb, t, TENSOR_SPARSITY, "Tensor.sparsity");
    if (sp.pos)
        x->sparsity = read_sparsity(r, &sp);
    read_variants(r, t, x);

    uint32_t ext = fb_u32(fb, t, TENSOR_EXTERNAL_BUFFER, 0, "Tensor.external_buffer");
    if (ext)
        fb_fail_code(fb, TFLC_ERR_UNSUPPORTED, t->pos, "Tensor.external_buffer",
                     "data in external buffer %lu: external weight files are not supported",
                     (unsigned long)ext);
}

/* ---- Operators -------------------------------------------------------- */

/* One field of a builtin options table into v, by its kind. */
static void read_attr(rd_t *r, const fb_table_t *o, unsigned slot, const op_field_t *f,
                      const char *table, ir_val_t *v)
{
    fb_reader_t *fb = &r->fb;
    char what[128];
    snprintf(what, sizeof what, "%s.%s", table, f->name);
    fb_vec_t vec;
    uint32_t len;
    switch (f->kind) {
    case OPK_B: v->i = fb_bool(fb, o, slot, f->dflt != 0, what); return;
    case OPK_I8: v->i = fb_i8(fb, o, slot, (int8_t)f->dflt, what); return;
    case OPK_I32: v->i = fb_i32(fb, o, slot, (int32_t)f->dflt, what); return;
    case OPK_U32: v->i = fb_u32(fb, o, slot, (uint32_t)f->dflt, what); return;
    case OPK_I64: v->i = fb_i64(fb, o, slot, (int64_t)f->dflt, what); return;
    case OPK_F32: v->f = fb_f32(fb, o, slot, (float)f->dflt, what); return;
    case OPK_STR: {
        const char *s = fb_string(fb, o, slot, &len, what);
        v->s = rd_str(r, s, len);
        return;
    }
    case OPK_VU8: v->bytes = fb_blob(fb, o, slot, &v->n, what); return;
    case OPK_VF32:
        vec = fb_vector(fb, o, slot, 4, what);
        v->fv = vec_f32(r, &vec);
        v->n = got(v->fv, &vec);
        return;
    case OPK_VI32: case OPK_VU32: case OPK_VI64: case OPK_VB: {
        unsigned elem = f->kind == OPK_VI64 ? 8 : f->kind == OPK_VB ? 1 : 4;
        vec = fb_vector(fb, o, slot, elem, what);
        v->iv = rd_calloc(r, vec.n, sizeof *v->iv);
        for (uint32_t i = 0; v->iv && i < vec.n; i++)
            v->iv[i] = f->kind == OPK_VI32 ? fb_vec_i32(fb, &vec, i)
                     : f->kind == OPK_VU32 ? (int64_t)fb_vec_u32(fb, &vec, i)
                     : f->kind == OPK_VI64 ? fb_vec_i64(fb, &vec, i)
                     : fb_vec_u8(fb, &vec, i) != 0;
        v->n = got(v->iv, &vec);
        return;
    }
    }
    DIE("options field %s has unknown kind %d", what, f->kind);
}

static void read_options(rd_t *r, const fb_table_t *t, ir_op_t *op)
{
    fb_reader_t *fb = &r->fb;
    uint8_t ty1 = fb_u8(fb, t, OPERATOR_OPTIONS_TYPE, 0, "Operator.builtin_options_type");
    uint8_t ty2 = fb_u8(fb, t, OPERATOR_OPTIONS_2_TYPE, 0, "Operator.builtin_options_2_type");
    op->opts = OPT_NONE;
    if (ty1 && ty2) {
        fb_fail(fb, t->pos, "Operator.builtin_options",
                "both builtin_options (type %u) and builtin_options_2 (type %u) are set", ty1,
                ty2);
        return;
    }
    if (!ty1 && !ty2)
        return;
    int which = ty1 ? 1 : 2;
    uint8_t type = ty1 ? ty1 : ty2;
    const char *field = which == 1 ? "Operator.builtin_options" : "Operator.builtin_options_2";
    int id = op_table_by_union(which, type);
    if (id == OPT_NONE) {
        fb_fail(fb, t->pos, field, "unknown options type %u", type);
        return;
    }
    if (ir_op_set_table(r->m, op, id)) {
        nomem(r);
        return;
    }
    /* A tag without a table leaves the defaults, as the runtime reads it. */
    fb_table_t o = fb_table(fb, t, which == 1 ? OPERATOR_OPTIONS : OPERATOR_OPTIONS_2, field);
    const op_table_t *tab = op_table(id);
    for (uint16_t i = 0; o.pos && i < tab->n_fields; i++)
        read_attr(r, &o, i, &tab->fields[i], tab->name, &op->attr[i]);
}

/* Custom options: the inline vector, else large_custom_options_offset/size
 * into the file when the offset is > 1. */
static void read_custom_options(rd_t *r, const fb_table_t *t, ir_op_t *op)
{
    fb_reader_t *fb = &r->fb;
    uint32_t n;
    op->custom_options = fb_blob(fb, t, OPERATOR_CUSTOM_OPTIONS, &n, "Operator.custom_options");
    op->n_custom_options = n;
    op->custom_options_format =
        fb_i8(fb, t, OPERATOR_CUSTOM_OPTIONS_FORMAT, 0, "Operator.custom_options_format");
    if (op->custom_options || fb_has_field(fb, t, OPERATOR_CUSTOM_OPTIONS))
        return;
    uint64_t off = fb_u64(fb, t, OPERATOR_LARGE_CUSTOM_OPTIONS_OFFSET, 0,
                          "Operator.large_custom_options_offset");
    uint64_t size = fb_u64(fb, t, OPERATOR_LARGE_CUSTOM_OPTIONS_SIZE, 0,
                           "Operator.large_custom_options_size");
    if (off <= 1 || size == 0)
        return;
    if (!in_file(r, off, size)) {
        fb_fail(fb, t->pos, "Operator.large_custom_options_offset",
                "custom options at offset %llu, %llu bytes, lie outside the file (%llu bytes)",
                (unsigned long long)off, (unsigned long long)size, (unsigned long long)r->size);
        return;
    }
    op->custom_options = r->data + off;
    op->n_custom_options = size;
}

static const char *op_label(const ir_op_t *op, char *buf, size_t n)
{
    const char *s = op_name(op->builtin);
    if (op->builtin == OP_CUSTOM && op->custom_code)
        snprintf(buf, n, "CUSTOM '%.60s'", op->custom_code);
    else if (s)
        snprintf(buf, n, "%s", s);
    else
        snprintf(buf, n, "builtin %ld", (long)op->builtin);
    return buf;
}

static void read_operator(rd_t *r, const fb_table_t *t, ir_op_t *op, uint32_t si, uint32_t oi)
{
    fb_reader_t *fb = &r->fb;
    fb_where(fb, "%s: subgraph %u: operator %u", r->name, si, oi);
    op->builtin = -1;
    op->version = 1;
    op->debug_metadata_index = -1;
    uint32_t idx = fb_u32(fb, t, OPERATOR_OPCODE_INDEX, 0, "Operator.opcode_index");
    if (idx < r->n_codes) {
        op->builtin = r->codes[idx].builtin;
        op->custom_code = r->codes[idx].custom_code;
        op->version = r->codes[idx].version;
        char label[96];
        fb_where(fb, "%s: subgraph %u: operator %u (%s)", r->name, si, oi,
                 op_label(op, label, sizeof label));
    } else {
        fb_fail(fb, t->pos, "Operator.opcode_index",
                "opcode index %lu out of range (the model has %lu operator codes)",
                (unsigned long)idx, (unsigned long)r->n_codes);
    }
    fb_vec_t in = fb_vector(fb, t, OPERATOR_INPUTS, 4, "Operator.inputs");
    fb_vec_t out = fb_vector(fb, t, OPERATOR_OUTPUTS, 4, "Operator.outputs");
    fb_vec_t im = fb_vector(fb, t, OPERATOR_INTERMEDIATES, 4, "Operator.intermediates");
    op->inputs = vec_i32(r, &in), op->n_inputs = got(op->inputs, &in);
    op->outputs = vec_i32(r, &out), op->n_outputs = got(op->outputs, &out);
    op->intermediates = vec_i32(r, &im), op->n_intermediates = got(op->intermediates, &im);
    read_options(r, t, op);
    read_custom_options(r, t, op);
    fb_vec_t mv = fb_vector(fb, t, OPERATOR_MUTATING_VARIABLE_INPUTS, 1,
                            "Operator.mutating_variable_inputs");
    op->mutating_variable_inputs = rd_calloc(r, mv.n, 1);
    op->n_mutating_variable_inputs = got(op->mutating_variable_inputs, &mv);
    for (uint32_t i = 0; i < op->n_mutating_variable_inputs; i++)
        op->mutating_variable_inputs[i] = fb_vec_u8(fb, &mv, i) != 0;
    op->debug_metadata_index =
        fb_i32(fb, t, OPERATOR_DEBUG_METADATA_INDEX, -1, "Operator.debug_metadata_index");
}

/* ---- Subgraphs -------------------------------------------------------- */

static void read_subgraph(rd_t *r, const fb_table_t *t, ir_subgraph_t *sg, uint32_t si)
{
    fb_reader_t *fb = &r->fb;
    fb_where(fb, "%s: subgraph %u", r->name, si);
    uint32_t len;
    const char *name = fb_string(fb, t, SUBGRAPH_NAME, &len, "SubGraph.name");
    sg->name = rd_str(r, name, len);
    sg->debug_metadata_index =
        fb_i32(fb, t, SUBGRAPH_DEBUG_METADATA_INDEX, -1, "SubGraph.debug_metadata_index");
    fb_vec_t in = fb_vector(fb, t, SUBGRAPH_INPUTS, 4, "SubGraph.inputs");
    fb_vec_t out = fb_vector(fb, t, SUBGRAPH_OUTPUTS, 4, "SubGraph.outputs");
    sg->inputs = vec_i32(r, &in), sg->n_inputs = got(sg->inputs, &in);
    sg->outputs = vec_i32(r, &out), sg->n_outputs = got(sg->outputs, &out);

    fb_vec_t tv = fb_vector(fb, t, SUBGRAPH_TENSORS, 4, "SubGraph.tensors");
    if (tv.n && rd_reserve(r, (void **)&sg->tensors, &sg->cap_tensors, tv.n, sizeof *sg->tensors))
        sg->n_tensors = tv.n;
    for (uint32_t i = 0; i < sg->n_tensors && !fb->stop; i++) {
        fb_where(fb, "%s: subgraph %u: tensor %u", r->name, si, i);
        fb_table_t x = fb_vec_table(fb, &tv, i, "SubGraph.tensors[]");
        if (x.pos)
            read_tensor(r, &x, &sg->tensors[i], si, i);
    }

    fb_where(fb, "%s: subgraph %u", r->name, si);
    fb_vec_t ov = fb_vector(fb, t, SUBGRAPH_OPERATORS, 4, "SubGraph.operators");
    if (ov.n && rd_reserve(r, (void **)&sg->ops, &sg->cap_ops, ov.n, sizeof *sg->ops))
        sg->n_ops = ov.n;
    for (uint32_t i = 0; i < sg->n_ops && !fb->stop; i++) {
        fb_where(fb, "%s: subgraph %u: operator %u", r->name, si, i);
        fb_table_t o = fb_vec_table(fb, &ov, i, "SubGraph.operators[]");
        sg->ops[i].builtin = -1;
        if (o.pos)
            read_operator(r, &o, &sg->ops[i], si, i);
    }
}

static void read_subgraphs(rd_t *r, const fb_table_t *root)
{
    ir_model_t *m = r->m;
    fb_where(&r->fb, "%s", r->name);
    fb_vec_t v = fb_vector(&r->fb, root, MODEL_SUBGRAPHS, 4, "Model.subgraphs");
    if (!v.n || !rd_reserve(r, (void **)&m->subgraphs, &m->cap_subgraphs, v.n, sizeof *m->subgraphs))
        return;
    m->n_subgraphs = v.n;
    for (uint32_t i = 0; i < v.n; i++)
        m->subgraphs[i].debug_metadata_index = -1;
    for (uint32_t i = 0; i < v.n && !r->fb.stop; i++) {
        fb_where(&r->fb, "%s: subgraph %u", r->name, i);
        fb_table_t t = fb_vec_table(&r->fb, &v, i, "Model.subgraphs[]");
        if (t.pos)
            read_subgraph(r, &t, &m->subgraphs[i], i);
    }
}

/* ---- Metadata and signatures ------------------------------------------ */

static void read_metadata(rd_t *r, const fb_table_t *root)
{
    ir_model_t *m = r->m;
    fb_reader_t *fb = &r->fb;
    fb_where(fb, "%s", r->name);
    fb_vec_t mb = fb_vector(fb, root, MODEL_METADATA_BUFFER, 4, "Model.metadata_buffer");
    m->metadata_buffer = vec_i32(r, &mb);
    m->n_metadata_buffer = got(m->metadata_buffer, &mb);

    fb_vec_t v = fb_vector(fb, root, MODEL_METADATA, 4, "Model.metadata");
    if (!v.n || !rd_reserve(r, (void **)&m->metadata, &m->cap_metadata, v.n, sizeof *m->metadata))
        return;
    m->n_metadata = v.n;
    for (uint32_t i = 0; i < v.n && !fb->stop; i++) {
        fb_where(fb, "%s: metadata %u", r->name, i);
        fb_table_t t = fb_vec_table(fb, &v, i, "Model.metadata[]");
        uint32_t len;
        const char *name = fb_string(fb, &t, METADATA_NAME, &len, "Metadata.name");
        m->metadata[i].name = rd_str(r, name, len);
        m->metadata[i].buffer = fb_u32(fb, &t, METADATA_BUFFER, 0, "Metadata.buffer");
    }
}

static void read_tensor_maps(rd_t *r, const fb_table_t *t, unsigned slot, const char *what,
                             ir_tensor_map_t **out, uint32_t *n)
{
    fb_reader_t *fb = &r->fb;
    fb_vec_t v = fb_vector(fb, t, slot, 4, what);
    *out = rd_calloc(r, v.n, sizeof **out);
    *n = got(*out, &v);
    for (uint32_t i = 0; i < *n && !fb->stop; i++) {
        fb_table_t e = fb_vec_table(fb, &v, i, "TensorMap");
        uint32_t len;
        const char *name = fb_string(fb, &e, TENSOR_MAP_NAME, &len, "TensorMap.name");
        (*out)[i].name = rd_str(r, name, len);
        (*out)[i].tensor = fb_u32(fb, &e, TENSOR_MAP_TENSOR_INDEX, 0, "TensorMap.tensor_index");
    }
}

static void read_signatures(rd_t *r, const fb_table_t *root)
{
    ir_model_t *m = r->m;
    fb_reader_t *fb = &r->fb;
    fb_where(fb, "%s", r->name);
    fb_vec_t v = fb_vector(fb, root, MODEL_SIGNATURE_DEFS, 4, "Model.signature_defs");
    if (!v.n ||
        !rd_reserve(r, (void **)&m->signatures, &m->cap_signatures, v.n, sizeof *m->signatures))
        return;
    m->n_signatures = v.n;
    for (uint32_t i = 0; i < v.n && !fb->stop; i++) {
        fb_where(fb, "%s: signature def %u", r->name, i);
        fb_table_t t = fb_vec_table(fb, &v, i, "Model.signature_defs[]");
        ir_signature_t *s = &m->signatures[i];
        uint32_t len;
        const char *key = fb_string(fb, &t, SIGNATURE_KEY, &len, "SignatureDef.signature_key");
        s->key = rd_str(r, key, len);
        s->subgraph = fb_u32(fb, &t, SIGNATURE_SUBGRAPH_INDEX, 0, "SignatureDef.subgraph_index");
        read_tensor_maps(r, &t, SIGNATURE_INPUTS, "SignatureDef.inputs", &s->inputs, &s->n_inputs);
        read_tensor_maps(r, &t, SIGNATURE_OUTPUTS, "SignatureDef.outputs", &s->outputs,
                         &s->n_outputs);
    }
}

/* ---- Entry points ----------------------------------------------------- */

tflc_code_t tfl_read(ir_model_t *m, const uint8_t *data, size_t size, const char *name,
                     tflc_status_t *st)
{
    rd_t r;
    memset(&r, 0, sizeof r);
    r.m = m;
    r.name = name ? name : "<memory>";
    r.data = data;
    r.size = data ? size : 0;
    fb_init(&r.fb, data, r.size, st);
    fb_where(&r.fb, "%s", r.name);
    if (!m->source && !(m->source = ar_strdup(&m->arena, r.name)))
        return st_oom(st, r.name);

    fb_table_t root;
    if (!fb_root(&r.fb, &root)) {
        if (!fb_has_identifier(&r.fb, "TFL3"))
            st_err(st, TFLC_ERR_FORMAT, r.name,
                   "not a .tflite file (no \"TFL3\" identifier and no readable model)");
        return TFLC_ERR_FORMAT;
    }
    m->version = fb_u32(&r.fb, &root, MODEL_VERSION, 0, "Model.version");
    if (m->version != TFL_SCHEMA_VERSION) {
        if (!r.fb.errors)
            fb_fail_code(&r.fb, TFLC_ERR_UNSUPPORTED, root.pos, "Model.version",
                         "schema version %lu is not supported (tflc reads version %u)%s",
                         (unsigned long)m->version, TFL_SCHEMA_VERSION,
                         fb_has_identifier(&r.fb, "TFL3") ? "" : "; is this a .tflite file?");
        return r.fb.code;
    }
    uint32_t len;
    const char *desc = fb_string(&r.fb, &root, MODEL_DESCRIPTION, &len, "Model.description");
    m->description = rd_str(&r, desc, len);

    read_opcodes(&r, &root);
    read_buffers(&r, &root);
    read_subgraphs(&r, &root);
    read_metadata(&r, &root);
    read_signatures(&r, &root);
    return r.fb.code;
}

tflc_code_t tflc_model_read_file(const char *path, tflc_model_t **out, tflc_status_t *st)
{
    *out = NULL;
    if (!path)
        return st_err(st, TFLC_ERR_INVALID, NULL, "tflc_model_read_file: no path given");
    mf_t f;
    tflc_code_t c = mf_open(&f, path, st);
    if (c != TFLC_OK)
        return c;
    if (!f.data) {
        mf_close(&f);
        return st_err(st, TFLC_ERR_FORMAT, path, "empty file, not a .tflite model");
    }
    ir_model_t *m = ir_model_new();
    if (!m) {
        mf_close(&f);
        return st_oom(st, path);
    }
    const uint8_t *data = f.data;
    size_t size = f.size;
    /* The model owns the mapping from here on: its buffers point into it. */
    if (ir_model_keep_map(m, &f)) {
        tflc_model_free(m);
        return st_oom(st, path);
    }
    c = tfl_read(m, data, size, path, st);
    if (c != TFLC_OK) {
        tflc_model_free(m);
        return c;
    }
    *out = m;
    return TFLC_OK;
}

tflc_code_t tflc_model_read_memory(const void *data, size_t size, const char *name, int copy,
                                   tflc_model_t **out, tflc_status_t *st)
{
    *out = NULL;
    if (!name)
        name = "<memory>";
    if (!data || !size)
        return st_err(st, TFLC_ERR_FORMAT, name, "no data, not a .tflite model");
    ir_model_t *m = ir_model_new();
    if (!m)
        return st_oom(st, name);
    const uint8_t *bytes = data;
    if (copy && !(bytes = ar_memdup(&m->arena, data, size))) {
        tflc_model_free(m);
        return st_oom(st, name);
    }
    tflc_code_t c = tfl_read(m, bytes, size, name, st);
    if (c != TFLC_OK) {
        tflc_model_free(m);
        return c;
    }
    *out = m;
    return TFLC_OK;
}
