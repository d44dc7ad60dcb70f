/*
 * pass_match.c -- helpers the fold_*, fuse_* and raise_* passes share to
 * match patterns: plain float32 tensors, scalar and integer constants,
 * shapes, the fused activation slot of an options table, and new constant
 * tensors (see passes.h).
 *
 * Contract: readers never change the model and return "no" (0, -1 or
 * NULL) on anything unexpected, so a malformed model simply does not
 * match; pass_new_const adds one buffer and one tensor.
 */
#include <string.h>

#include "passes.h"

const ir_tensor_t *pass_tensor(const ir_subgraph_t *sg, int32_t t)
{
    return t >= 0 && (size_t)t < sg->n_tensors ? &sg->tensors[t] : NULL;
}

int pass_is_plain_f32(const ir_tensor_t *t)
{
    return t && t->type == DT_FLOAT32 && !t->quant && !t->sparsity && !t->is_variable;
}

int pass_is_static(const ir_tensor_t *t)
{
    if (!t)
        return 0;
    for (uint32_t i = 0; i < t->rank; i++) {
        if (t->shape[i] < 0)
            return 0;
        if (t->shape_signature && t->shape_signature[i] < 0)
            return 0;
    }
    return 1;
}

int pass_same_shape(const ir_tensor_t *a, const ir_tensor_t *b)
{
    if (!a || !b || a->rank != b->rank)
        return 0;
    if (a->rank && memcmp(a->shape, b->shape, a->rank * sizeof *a->shape))
        return 0;
    /* Dynamic dims must agree too: -1 against a fixed size is a different
     * shape at run time. */
    for (uint32_t i = 0; i < a->rank; i++) {
        int da = a->shape_signature ? a->shape_signature[i] : a->shape[i];
        int db = b->shape_signature ? b->shape_signature[i] : b->shape[i];
        if ((da < 0) != (db < 0))
            return 0;
    }
    return 1;
}

int pass_scalar_f32(const ir_model_t *m, const ir_subgraph_t *sg, int32_t t, float *v)
{
    const float *d = pass_const_f32(m, sg, t, 1);
    if (!d)
        return 0;
    *v = d[0];
    return 1;
}

int pass_const_ints(const ir_model_t *m, const ir_subgraph_t *sg, int32_t t, int64_t *v,
                    int64_t max, int64_t *n)
{
    if (!pass_is_const(m, sg, t))
        return 0;
    const ir_tensor_t *x = &sg->tensors[t];
    if ((x->type != DT_INT32 && x->type != DT_INT64) || x->quant || x->sparsity)
        return 0;
    int64_t cnt = ir_num_elements(x);
    size_t es = x->type == DT_INT32 ? 4 : 8;
    const ir_buffer_t *b = &m->buffers[x->buffer];
    if (cnt < 0 || cnt > max || b->size != (uint64_t)cnt * es)  /* cnt <= max: no wrap */
        return 0;
    for (int64_t i = 0; i < cnt; i++) {
        if (es == 4) {
            int32_t w;
            memcpy(&w, b->data + i * 4, 4);
            v[i] = w;
        } else {
            memcpy(&v[i], b->data + i * 8, 8);
        }
    }
    *n = cnt;
    return 1;
}

int pass_act_slot(const ir_op_t *op)
{
    const op_table_t *t = op_table(op->opts);
    if (!t || !op->attr)
        return -1;
    for (uint16_t i = 0; i < t->n_fields; i++)
        if (strcmp(t->fields[i].name, "fused_activation_function") == 0)
            return i;
    return -1;
}

int pass_act(const ir_op_t *op)
{
    int s = pass_act_slot(op);
    return s < 0 ? ACT_NONE : (int)op->attr[s].i;
}

int pass_info_init(ir_model_t *m, const ir_subgraph_t *sg, pass_info_t *g)
{
    g->uses = pass_use_counts(m, sg);
    g->prod = pass_producers(m, sg);
    if (g->uses && g->prod)
        return 0;
    pass_info_free(g);
    return -1;
}

void pass_info_free(pass_info_t *g)
{
    mem_free(g->uses);
    mem_free(g->prod);
    g->uses = NULL;
    g->prod = NULL;
}

int32_t pass_only_input(const ir_subgraph_t *sg, const pass_info_t *g, int32_t t,
                        int32_t builtin)
{
    if (t < 0 || (size_t)t >= sg->n_tensors || g->uses[t] != 1)
        return -1;
    for (uint32_t k = 0; k < sg->n_outputs; k++)
        if (sg->outputs[k] == t)
            return -1;
    int32_t p = g->prod[t];
    if (p < 0 || (builtin >= 0 && sg->ops[p].builtin != builtin) || sg->ops[p].n_outputs != 1)
        return -1;
    return p;
}

int32_t pass_new_const(ir_model_t *m, ir_subgraph_t *sg, const char *name, int dtype,
                       uint32_t rank, const int32_t *shape, const void *data, uint64_t size)
{
    int32_t b = ir_add_buffer(m, data, size);
    int32_t t = b < 0 ? -1 : ir_add_tensor(m, sg, name, dtype, rank, shape);
    if (t < 0)
        return -1;
    sg->tensors[t].buffer = (uint32_t)b;
    return t;
}

int pass_is_interface(const ir_model_t *m, const ir_subgraph_t *sg, int32_t t)
{
    for (uint32_t k = 0; k < sg->n_inputs; k++)
        if (sg->inputs[k] == t)
            return 1;
    for (uint32_t k = 0; k < sg->n_outputs; k++)
        if (sg->outputs[k] == t)
            return 1;
    size_t si = (size_t)(sg - m->subgraphs);
    for (size_t s = 0; s < m->n_signatures; s++) {
        const ir_signature_t *sig = &m->signatures[s];
        if (sig->subgraph != si)
            continue;
        for (uint32_t k = 0; k < sig->n_inputs; k++)
            if (sig->inputs[k].tensor == (uint32_t)t)
                return 1;
        for (uint32_t k = 0; k < sig->n_outputs; k++)
            if (sig->outputs[k].tensor == (uint32_t)t)
                return 1;
    }
    return 0;
}
