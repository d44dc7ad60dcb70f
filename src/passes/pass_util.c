/* pass_util.c -- helpers the passes share (see passes.h). */
#include <string.h>

#include "op_version.h"
#include "passes.h"

uint32_t *pass_use_counts(ir_model_t *m, const ir_subgraph_t *sg)
{
    (void)m;
    uint32_t *uses = mem_calloc(sg->n_tensors ? sg->n_tensors : 1, sizeof *uses);
    if (!uses)
        return NULL;
    for (size_t i = 0; i < sg->n_ops; i++) {
        const ir_op_t *op = &sg->ops[i];
        for (uint32_t k = 0; k < op->n_inputs; k++)
            if (op->inputs[k] >= 0 && (size_t)op->inputs[k] < sg->n_tensors)
                uses[op->inputs[k]]++;
    }
    for (uint32_t k = 0; k < sg->n_outputs; k++)
        if (sg->outputs[k] >= 0 && (size_t)sg->outputs[k] < sg->n_tensors)
            uses[sg->outputs[k]]++;
    return uses;
}

int32_t pass_producer(const ir_subgraph_t *sg, int32_t t)
{
    for (size_t i = 0; i < sg->n_ops; i++)
        for (uint32_t k = 0; k < sg->ops[i].n_outputs; k++)
            if (sg->ops[i].outputs[k] == t)
                return (int32_t)i;
    return -1;
}

static int is_subgraph_output(const ir_subgraph_t *sg, int32_t t)
{
    for (uint32_t k = 0; k < sg->n_outputs; k++)
        if (sg->outputs[k] == t)
            return 1;
    return 0;
}

int32_t pass_sole_consumer(const ir_subgraph_t *sg, const uint32_t *uses, int32_t t)
{
    if (t < 0 || uses[t] != 1 || is_subgraph_output(sg, t))
        return -1;
    for (size_t i = 0; i < sg->n_ops; i++)
        for (uint32_t k = 0; k < sg->ops[i].n_inputs; k++)
            if (sg->ops[i].inputs[k] == t)
                return (int32_t)i;
    return -1;
}

int pass_is_const(const ir_model_t *m, const ir_subgraph_t *sg, int32_t t)
{
    if (t < 0 || (size_t)t >= sg->n_tensors)
        return 0;
    uint32_t b = sg->tensors[t].buffer;
    return b && b < m->n_buffers && m->buffers[b].size > 0;
}

const float *pass_const_f32(const ir_model_t *m, const ir_subgraph_t *sg,
                            int32_t t, int64_t n)
{
    if (!pass_is_const(m, sg, t))
        return NULL;
    const ir_tensor_t *x = &sg->tensors[t];
    if (x->type != DT_FLOAT32 || x->quant || x->sparsity || ir_num_elements(x) != n)
        return NULL;
    const ir_buffer_t *b = &m->buffers[x->buffer];
    /* Divide rather than multiply: a hostile shape's n * 4 could wrap. */
    if (n < 0 || b->size % sizeof(float) || b->size / sizeof(float) != (uint64_t)n ||
        ((uintptr_t)b->data & 3))
        return NULL;
    return (const float *)b->data;
}

void pass_remove_op(ir_subgraph_t *sg, size_t i)
{
    memmove(&sg->ops[i], &sg->ops[i + 1], (sg->n_ops - i - 1) * sizeof *sg->ops);
    sg->n_ops--;
}

void pass_replace_uses(ir_subgraph_t *sg, int32_t from, int32_t to)
{
    for (size_t i = 0; i < sg->n_ops; i++)
        for (uint32_t k = 0; k < sg->ops[i].n_inputs; k++)
            if (sg->ops[i].inputs[k] == from)
                sg->ops[i].inputs[k] = to;
    for (uint32_t k = 0; k < sg->n_outputs; k++)
        if (sg->outputs[k] == from)
            sg->outputs[k] = to;
}

void pass_bump_version(const ir_model_t *m, const ir_subgraph_t *sg, ir_op_t *op)
{
    int32_t v = pass_op_version(m, sg, op);
    if (v > op->version)
        op->version = v;
}
