/* ir.c -- building and querying the IR. */
#include <string.h>

#include "ir.h"

static const char *const dtype_names[DT_COUNT] = {
    "float32", "float16", "int32", "uint8", "int64", "string", "bool",
    "int16", "complex64", "int8", "float64", "complex128", "uint64",
    "resource", "variant", "uint32", "uint16", "int4", "bfloat16", "int2",
    "uint4", "float8_e4m3fn", "float8_e5m2"};
static const uint8_t dtype_bits[DT_COUNT] = {
    32, 16, 32, 8, 64, 0, 8, 16, 64, 8, 64, 128, 64, 0, 0, 32, 16, 4, 16, 2,
    4, 8, 8};
_Static_assert(sizeof dtype_names / sizeof dtype_names[0] == DT_COUNT, "dtype names");

const char *ir_dtype_name(int dt)
{
    return dt >= 0 && dt < DT_COUNT ? dtype_names[dt] : "?";
}

int ir_dtype_bits(int dt) { return dt >= 0 && dt < DT_COUNT ? dtype_bits[dt] : 0; }

ir_model_t *ir_model_new(void)
{
    ir_model_t *m = mem_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    ar_init(&m->arena);
    m->version = 3;
    if (ir_add_buffer(m, NULL, 0) != 0) {
        tflc_model_free(m);
        return NULL;
    }
    return m;
}

void tflc_model_free(tflc_model_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_maps; i++)
        mf_close(&m->maps[i]);
    ar_free(&m->arena);
    mem_free(m);
}

int ir_model_keep_map(ir_model_t *m, mf_t *f)
{
    if (AR_PUSH(&m->arena, m->maps, m->n_maps, m->cap_maps, *f)) {
        mf_close(f);
        return -1;
    }
    memset(f, 0, sizeof *f);
    return 0;
}

void ir_model_release(const ir_model_t *m, const void *p, uint64_t size)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < m->n_maps; i++) {
        const mf_t *f = &m->maps[i];
        if (f->map && b >= f->data && size <= f->size &&
            (uint64_t)(b - f->data) <= f->size - size) {
            mf_release(f, b, (size_t)size);
            return;
        }
    }
}

int32_t ir_add_buffer(ir_model_t *m, const void *data, uint64_t size)
{
    ir_buffer_t b = {size ? data : NULL, data ? size : 0};
    if (m->n_buffers >= INT32_MAX ||
        AR_PUSH(&m->arena, m->buffers, m->n_buffers, m->cap_buffers, b))
        return -1;
    return (int32_t)(m->n_buffers - 1);
}

int32_t ir_add_buffer_copy(ir_model_t *m, const void *data, uint64_t size)
{
    if (size > SIZE_MAX)
        return -1;
    void *d = size ? ar_memdup(&m->arena, data, (size_t)size) : NULL;
    if (size && !d)
        return -1;
    return ir_add_buffer(m, d, size);
}

ir_subgraph_t *ir_add_subgraph(ir_model_t *m, const char *name)
{
    ir_subgraph_t sg;
    memset(&sg, 0, sizeof sg);
    sg.debug_metadata_index = -1;
    if (name && !(sg.name = ar_strdup(&m->arena, name)))
        return NULL;
    if (AR_PUSH(&m->arena, m->subgraphs, m->n_subgraphs, m->cap_subgraphs, sg))
        return NULL;
    return &m->subgraphs[m->n_subgraphs - 1];
}

int32_t ir_add_tensor(ir_model_t *m, ir_subgraph_t *sg, const char *name,
                      int dtype, uint32_t rank, const int32_t *shape)
{
    ir_tensor_t t;
    memset(&t, 0, sizeof t);
    t.type = (int8_t)dtype;
    t.rank = rank;
    if (name && !(t.name = ar_strdup(&m->arena, name)))
        return -1;
    if (rank && !(t.shape = ar_memdup(&m->arena, shape, rank * sizeof *shape)))
        return -1;
    if (sg->n_tensors >= INT32_MAX ||
        AR_PUSH(&m->arena, sg->tensors, sg->n_tensors, sg->cap_tensors, t))
        return -1;
    return (int32_t)(sg->n_tensors - 1);
}

int ir_op_set_table(ir_model_t *m, ir_op_t *op, int t)
{
    const op_table_t *tab = op_table(t);
    op->opts = (uint16_t)(tab ? t : OPT_NONE);
    op->attr = NULL;
    if (!tab || !tab->n_fields)
        return 0;
    op->attr = ar_calloc(&m->arena, tab->n_fields, sizeof *op->attr);
    if (!op->attr)
        return -1;
    for (uint16_t i = 0; i < tab->n_fields; i++) {
        const op_field_t *f = &tab->fields[i];
        if (f->kind == OPK_F32)
            op->attr[i].f = f->dflt;
        else
            op->attr[i].i = (int64_t)f->dflt;
    }
    return 0;
}

ir_op_t *ir_add_op(ir_model_t *m, ir_subgraph_t *sg, int32_t builtin,
                   uint32_t n_in, uint32_t n_out)
{
    ir_op_t op;
    memset(&op, 0, sizeof op);
    op.builtin = builtin;
    op.version = 1;
    op.debug_metadata_index = -1;
    op.n_inputs = n_in;
    op.n_outputs = n_out;
    if (n_in && !(op.inputs = ar_calloc(&m->arena, n_in, sizeof(int32_t))))
        return NULL;
    if (n_out && !(op.outputs = ar_calloc(&m->arena, n_out, sizeof(int32_t))))
        return NULL;
    for (uint32_t i = 0; i < n_in; i++)
        op.inputs[i] = -1;
    for (uint32_t i = 0; i < n_out; i++)
        op.outputs[i] = -1;
    if (ir_op_set_table(m, &op, op_default_table(builtin)))
        return NULL;
    if (AR_PUSH(&m->arena, sg->ops, sg->n_ops, sg->cap_ops, op))
        return NULL;
    return &sg->ops[sg->n_ops - 1];
}

ir_signature_t *ir_add_signature(ir_model_t *m, const char *key, uint32_t sg)
{
    ir_signature_t s;
    memset(&s, 0, sizeof s);
    s.subgraph = sg;
    if (key && !(s.key = ar_strdup(&m->arena, key)))
        return NULL;
    if (AR_PUSH(&m->arena, m->signatures, m->n_signatures, m->cap_signatures, s))
        return NULL;
    return &m->signatures[m->n_signatures - 1];
}

int ir_add_metadata(ir_model_t *m, const char *name, uint32_t buffer)
{
    ir_metadata_t md = {NULL, buffer};
    if (name && !(md.name = ar_strdup(&m->arena, name)))
        return -1;
    return AR_PUSH(&m->arena, m->metadata, m->n_metadata, m->cap_metadata, md);
}

int64_t ir_num_elements(const ir_tensor_t *t)
{
    int64_t n = 1;
    for (uint32_t i = 0; i < t->rank; i++) {
        if (t->shape[i] < 0)
            return -1;
        if (t->shape[i] && n > INT64_MAX / t->shape[i])
            return -2;
        n *= t->shape[i];
    }
    return n;
}

int64_t ir_tensor_bytes(const ir_tensor_t *t)
{
    int bits = ir_dtype_bits(t->type);
    int64_t n = ir_num_elements(t);
    if (!bits || n < 0 || n > INT64_MAX / 128)
        return -1;
    return (n * bits + 7) / 8;
}
