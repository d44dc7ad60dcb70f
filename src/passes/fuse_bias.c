/*
 * fuse_bias.c -- folds an ADD (or SUB) of a constant per-channel vector into
 * the bias of the FULLY_CONNECTED, CONV_2D or DEPTHWISE_CONV_2D before it.
 *
 *   y = FC(x, w, b?)        y = FC(x, w, b + c), act of the ADD
 *   z = ADD(y, c)    ==>
 *
 * Needs: float32 tensors; the producer has no fused activation; its output
 * is read only by the ADD; c is a float32 constant of shape [C] or
 * [1,..,1,C] where C is the output's last dimension; an existing bias is a
 * float32 constant of C elements. Changes: the producer writes z, gets the
 * ADD's activation and a new bias tensor (a new buffer); the ADD is removed.
 * The old bias and y become dead (pass_dce removes them).
 */
#include <string.h>

#include "passes.h"

/* Slot of fused_activation_function in op's options, or -1. */
static int act_slot(const ir_op_t *op)
{
    switch (op->opts) {
    case OPT_FullyConnectedOptions: return OPF_FullyConnectedOptions_fused_activation_function;
    case OPT_Conv2DOptions: return OPF_Conv2DOptions_fused_activation_function;
    case OPT_DepthwiseConv2DOptions: return OPF_DepthwiseConv2DOptions_fused_activation_function;
    case OPT_AddOptions: return OPF_AddOptions_fused_activation_function;
    case OPT_SubOptions: return OPF_SubOptions_fused_activation_function;
    }
    return -1;
}

/* Whether c (a constant) is a per-channel vector of C elements: shape [C]
 * or all leading dims 1. */
static int is_channel_vector(const ir_tensor_t *c, int32_t C)
{
    if (c->rank == 0)
        return 0;
    for (uint32_t i = 0; i + 1 < c->rank; i++)
        if (c->shape[i] != 1)
            return 0;
    return c->shape[c->rank - 1] == C;
}

static int fuse_one(ir_model_t *m, ir_subgraph_t *sg, const uint32_t *uses, size_t pi,
                    tflc_status_t *st)
{
    ir_op_t *p = &sg->ops[pi];
    if (p->builtin != OP_FULLY_CONNECTED && p->builtin != OP_CONV_2D &&
        p->builtin != OP_DEPTHWISE_CONV_2D)
        return 0;
    int pa = act_slot(p);
    if (pa < 0 || p->attr[pa].i != ACT_NONE || p->n_outputs != 1 || p->n_inputs < 2)
        return 0;
    /* FC with keep_num_dims or a non-default weights format is left alone. */
    if (p->builtin == OP_FULLY_CONNECTED &&
        (p->attr[OPF_FullyConnectedOptions_keep_num_dims].i ||
         p->attr[OPF_FullyConnectedOptions_weights_format].i))
        return 0;
    int32_t y = p->outputs[0];
    const ir_tensor_t *ty = ir_tensor(sg, y);
    if (!ty || ty->type != DT_FLOAT32 || ty->quant || ty->rank == 0)
        return 0;
    int32_t ci = pass_sole_consumer(sg, uses, y);
    if (ci < 0)
        return 0;
    ir_op_t *a = &sg->ops[ci];
    if ((a->builtin != OP_ADD && a->builtin != OP_SUB) || a->n_inputs != 2 || a->n_outputs != 1)
        return 0;
    int aa = act_slot(a);
    if (aa < 0)
        return 0;
    /* SUB only as y - c; ADD either way round. */
    int32_t c = a->inputs[1] == y ? a->inputs[0] : a->inputs[1];
    if (a->builtin == OP_SUB && a->inputs[0] != y)
        return 0;
    if (a->inputs[0] == a->inputs[1])
        return 0;
    int32_t C = ty->shape[ty->rank - 1];
    if (C <= 0 || !is_channel_vector(&sg->tensors[c], C))
        return 0;
    const float *cv = pass_const_f32(m, sg, c, C);
    if (!cv)
        return 0;
    const float *bv = NULL;
    int32_t b = p->n_inputs >= 3 ? p->inputs[2] : -1;
    if (b >= 0 && !(bv = pass_const_f32(m, sg, b, C)))
        return 0;
    const ir_tensor_t *tz = ir_tensor(sg, a->outputs[0]);
    if (!tz || tz->type != DT_FLOAT32 || tz->quant || tz->rank != ty->rank ||
        memcmp(tz->shape, ty->shape, ty->rank * sizeof *ty->shape))
        return 0;

    float *nb = ar_alloc(&m->arena, (size_t)C * sizeof *nb);
    if (!nb)
        return st_oom(st, m->source), -1;
    float sign = a->builtin == OP_SUB ? -1.0f : 1.0f;
    for (int32_t i = 0; i < C; i++)
        nb[i] = (bv ? bv[i] : 0.0f) + sign * cv[i];
    int32_t buf = ir_add_buffer(m, nb, (uint64_t)C * sizeof *nb);
    const char *name = sg->tensors[c].name;
    int32_t bt = buf < 0 ? -1 : ir_add_tensor(m, sg, name, DT_FLOAT32, 1, &C);
    if (bt < 0)
        return st_oom(st, m->source), -1;
    sg->tensors[bt].buffer = (uint32_t)buf;
    /* ir_add_tensor may move sg->tensors but not sg->ops. */
    p = &sg->ops[pi];
    a = &sg->ops[ci];
    if (p->n_inputs < 3) {
        int32_t *in = ar_calloc(&m->arena, 3, sizeof *in);
        if (!in)
            return st_oom(st, m->source), -1;
        memcpy(in, p->inputs, p->n_inputs * sizeof *in);
        p->inputs = in;
        p->n_inputs = 3;
    }
    p->inputs[2] = bt;
    p->outputs[0] = a->outputs[0];
    p->attr[pa].i = a->attr[aa].i;
    pass_bump_version(m, sg, p);
    pass_remove_op(sg, (size_t)ci);
    return 1;
}

int pass_fuse_bias(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
{
    int changes = 0;
    uint32_t *uses = pass_use_counts(m, sg);
    if (!uses)
        return st_oom(st, m->source), -1;
    for (size_t i = 0; i < sg->n_ops; i++) {
        int r = fuse_one(m, sg, uses, i, st);
        if (r < 0) {
            changes = -1;
            break;
        }
        if (r > 0) {
            /* Counts changed (and the new bias is a new tensor): recount. */
            changes += r;
            mem_free(uses);
            if (!(uses = pass_use_counts(m, sg)))
                return st_oom(st, m->source), -1;
        }
    }
    mem_free(uses);
    return changes;
}
