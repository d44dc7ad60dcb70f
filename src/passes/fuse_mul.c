/*
 * fuse_mul.c -- folds a MUL (or DIV) by a per-output-channel constant into
 * the weights and bias of the FULLY_CONNECTED, CONV_2D or
 * DEPTHWISE_CONV_2D before it: the scale half of an inference batch norm
 * (the ADD half is fuse_bias's).
 *
 *   y = CONV(x, w, b?)        z = CONV(x, w * s, b? * s), act of the MUL
 *   z = MUL(y, s)      ==>
 *   (or z = DIV(y, s): w / s and b / s)
 *
 * Needs: float32 tensors, nothing quantized; the producer has no fused
 * activation (the scale must apply before it), an FC has the default
 * weights format; y is read only by the MUL; s is a float32 constant of
 * one element or of shape [C] / [1,..,1,C], C the output's last dimension,
 * with finite values (non-zero for DIV); z has y's shape (no broadcast
 * growth); the weights (and bias, when present) are float32 constants
 * whose output-channel axis is C long: dim 0 of CONV_2D [O,kh,kw,I] and FC
 * [O,I] weights, dim 3 of DEPTHWISE_CONV_2D [1,kh,kw,O] weights.
 * Changes: the producer gets new weight and bias tensors with new buffers
 * (the old data is never written: it may be a mapped input file or shared
 * with other operators), writes z and takes the MUL's activation; the MUL
 * is removed. The old weights, bias and y may become dead (pass_dce).
 */
#include <math.h>
#include <string.h>

#include "passes.h"

/* Axis of the weights that holds the output channels, or -1. */
static int channel_axis(const ir_op_t *p, const ir_tensor_t *w)
{
    switch (p->builtin) {
    case OP_CONV_2D: return w->rank == 4 ? 0 : -1;
    case OP_DEPTHWISE_CONV_2D: return w->rank == 4 && w->shape[0] == 1 ? 3 : -1;
    case OP_FULLY_CONNECTED:
        if (p->opts != OPT_FullyConnectedOptions ||
            p->attr[OPF_FullyConnectedOptions_weights_format].i)
            return -1;
        return w->rank == 2 ? 0 : -1;
    }
    return -1;
}

/* Number of elements of s when it is one value or a channel vector of C:
 * 1 or C; 0 when it is neither. */
static int64_t scale_len(const ir_tensor_t *s, const ir_tensor_t *y, int32_t C)
{
    if (s->rank > y->rank)
        return 0;
    int64_t n = ir_num_elements(s);
    if (n == 1)
        return 1;
    for (uint32_t i = 0; i + 1 < s->rank; i++)
        if (s->shape[i] != 1)
            return 0;
    return s->rank && s->shape[s->rank - 1] == C ? C : 0;
}

/* v * s[c] or v / s[c], with s of 1 or C elements. */
static float scaled(float v, const float *s, int64_t ns, int64_t c, int div)
{
    float k = s[ns == 1 ? 0 : c];
    return div ? v / k : v * k;
}

/* A new float32 constant like tensor t (same name and shape) holding
 * t's data scaled per channel; -1 when out of memory. */
static int32_t scaled_copy(ir_model_t *m, ir_subgraph_t *sg, int32_t t, const float *v,
                           int64_t n, int axis, int32_t C, const float *s, int64_t ns, int div)
{
    float *d = ar_alloc(&m->arena, (size_t)n * sizeof *d);
    if (!d)
        return -1;
    /* Channel of element i: axis 0 gives runs of n/C, the last axis cycles. */
    int64_t inner = axis == 0 ? n / C : 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = axis == 0 ? i / inner : i % C;
        d[i] = scaled(v[i], s, ns, c, div);
    }
    const ir_tensor_t *x = &sg->tensors[t];
    return pass_new_const(m, sg, x->name, DT_FLOAT32, x->rank, x->shape, d,
                          (uint64_t)n * sizeof *d);
}

static int fuse_one(ir_model_t *m, ir_subgraph_t *sg, const uint32_t *uses, size_t pi,
                    tflc_status_t *st)
{
    ir_op_t *p = &sg->ops[pi];
    if (p->builtin != OP_FULLY_CONNECTED && p->builtin != OP_CONV_2D &&
        p->builtin != OP_DEPTHWISE_CONV_2D)
        return 0;
    int pa = pass_act_slot(p);
    if (pa < 0 || p->attr[pa].i != ACT_NONE || p->n_outputs != 1 || p->n_inputs < 2)
        return 0;
    int32_t y = p->outputs[0];
    const ir_tensor_t *ty = ir_tensor(sg, y);
    if (!pass_is_plain_f32(ty) || ty->rank == 0)
        return 0;
    int32_t C = ty->shape[ty->rank - 1];
    int32_t ci = pass_sole_consumer(sg, uses, y);
    if (C <= 0 || ci < 0)
        return 0;
    ir_op_t *a = &sg->ops[ci];
    if ((a->builtin != OP_MUL && a->builtin != OP_DIV) || a->n_inputs != 2 ||
        a->n_outputs != 1 || a->inputs[0] == a->inputs[1])
        return 0;
    int div = a->builtin == OP_DIV;
    if (div && a->inputs[0] != y)
        return 0;  /* s / y is not a scale */
    int aa = pass_act_slot(a);
    int32_t s = a->inputs[0] == y ? a->inputs[1] : a->inputs[0];
    const ir_tensor_t *ts = ir_tensor(sg, s), *tz = ir_tensor(sg, a->outputs[0]);
    if (aa < 0 || !ts || !pass_is_plain_f32(tz) || !pass_same_shape(tz, ty))
        return 0;
    int64_t ns = scale_len(ts, ty, C);
    const float *sv = ns ? pass_const_f32(m, sg, s, ns) : NULL;
    if (!sv)
        return 0;
    for (int64_t i = 0; i < ns; i++)
        if (!isfinite(sv[i]) || (div && sv[i] == 0.0f))
            return 0;

    int32_t w = p->inputs[1];
    const ir_tensor_t *tw = ir_tensor(sg, w);
    int axis = tw ? channel_axis(p, tw) : -1;
    if (axis < 0 || tw->shape[axis] != C)
        return 0;
    int64_t nw = ir_num_elements(tw);
    const float *wv = nw > 0 ? pass_const_f32(m, sg, w, nw) : NULL;
    if (!wv)
        return 0;
    int32_t b = p->n_inputs >= 3 ? p->inputs[2] : -1;
    const float *bv = NULL;
    if (b >= 0 && (sg->tensors[b].rank != 1 || !(bv = pass_const_f32(m, sg, b, C))))
        return 0;

    int32_t nwt = scaled_copy(m, sg, w, wv, nw, axis, C, sv, ns, div);
    int32_t nbt = nwt < 0 || b < 0 ? -1 : scaled_copy(m, sg, b, bv, C, 0, C, sv, ns, div);
    if (nwt < 0 || (b >= 0 && nbt < 0))
        return st_oom(st, m->source), -1;
    /* pass_new_const may move sg->tensors, never sg->ops. */
    p = &sg->ops[pi];
    a = &sg->ops[ci];
    p->inputs[1] = nwt;
    if (b >= 0)
        p->inputs[2] = nbt;
    p->outputs[0] = a->outputs[0];
    p->attr[pa].i = a->attr[aa].i;
    pass_bump_version(m, sg, p);
    pass_remove_op(sg, (size_t)ci);
    return 1;
}

int pass_fuse_mul(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
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
            changes += r;
            mem_free(uses);
            if (!(uses = pass_use_counts(m, sg)))
                return st_oom(st, m->source), -1;
            /* The producer may take the next MUL too: a chain folds in one
             * run, not one round each. */
            i--;
        }
    }
    mem_free(uses);
    return changes;
}
