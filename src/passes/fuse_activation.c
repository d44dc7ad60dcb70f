/*
 * fuse_activation.c -- folds RELU, RELU6 and RELU_N1_TO_1 into the
 * fused_activation_function of the operator before them.
 *
 *   y = OP(...)           z = OP(...) with fused activation RELU
 *   z = RELU(y)    ==>
 *
 * Needs: OP is one whose kernels honour a fused activation at the version
 * tflc writes (the list below: TF's converter fuses into the same ops; a
 * TRANSPOSE_CONV, say, honours it only from version 4 on), its
 * fused_activation_function field (found through the op table) is NONE;
 * y is float32, not quantized, and read only by the activation. Changes:
 * OP writes z; the activation op is removed; y becomes dead.
 */
#include <string.h>

#include "passes.h"

static int act_of(int32_t builtin)
{
    switch (builtin) {
    case OP_RELU: return ACT_RELU;
    case OP_RELU6: return ACT_RELU6;
    case OP_RELU_N1_TO_1: return ACT_RELU_N1_TO_1;
    }
    return ACT_NONE;
}

/* Ops whose every version applies a fused activation. */
static int fuses(int32_t builtin)
{
    switch (builtin) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV:
    case OP_FULLY_CONNECTED: case OP_CONV_2D: case OP_DEPTHWISE_CONV_2D:
    case OP_AVERAGE_POOL_2D: case OP_MAX_POOL_2D: case OP_CONCATENATION:
        return 1;
    }
    return 0;
}

/* Slot of the fused_activation_function field of op's options, or -1. */
static int act_slot(const ir_op_t *op)
{
    if (!fuses(op->builtin))
        return -1;
    const op_table_t *t = op_table(op->opts);
    if (!t || !op->attr)
        return -1;
    for (uint16_t i = 0; i < t->n_fields; i++)
        if (strcmp(t->fields[i].name, "fused_activation_function") == 0)
            return i;
    return -1;
}

int pass_fuse_activation(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
{
    int changes = 0;
    uint32_t *uses = pass_use_counts(m, sg);
    if (!uses)
        return st_oom(st, m->source), -1;
    for (size_t i = 0; i < sg->n_ops; i++) {
        ir_op_t *p = &sg->ops[i];
        int slot = act_slot(p);
        if (slot < 0 || p->attr[slot].i != ACT_NONE || p->n_outputs != 1)
            continue;
        int32_t y = p->outputs[0];
        const ir_tensor_t *ty = ir_tensor(sg, y);
        if (!ty || ty->type != DT_FLOAT32 || ty->quant)
            continue;
        int32_t ci = pass_sole_consumer(sg, uses, y);
        if (ci < 0)
            continue;
        ir_op_t *a = &sg->ops[ci];
        int act = act_of(a->builtin);
        if (act == ACT_NONE || a->n_inputs != 1 || a->n_outputs != 1)
            continue;
        const ir_tensor_t *tz = ir_tensor(sg, a->outputs[0]);
        if (!tz || tz->type != DT_FLOAT32 || tz->quant)
            continue;
        p->attr[slot].i = act;
        p->outputs[0] = a->outputs[0];
        pass_bump_version(m, sg, p);
        uses[y] = 0;
        pass_remove_op(sg, (size_t)ci);
        changes++;
    }
    mem_free(uses);
    return changes;
}
