/*
 * fuse_dilated_conv.c -- turns SPACE_TO_BATCH_ND + CONV_2D (or
 * DEPTHWISE_CONV_2D) + BATCH_TO_SPACE_ND into one convolution with
 * dilation factors, as TF's converter does for the graphs TF writes for
 * atrous convolutions (tf.nn.atrous_conv2d, Conv2D with dilations in old
 * graphs).
 *
 *   s = SPACE_TO_BATCH_ND(x, [dh, dw], [[pt, pb], [pl, pr]])
 *   y = CONV(s, w, b) VALID, stride 1, no dilation
 *   z = BATCH_TO_SPACE_ND(y, [dh, dw], [[ct, cb], [cl, cr]])
 *     ==>  z = CONV(x, w, b) with dilation (dh, dw), SAME or VALID
 *
 * Why it is exact: SPACE_TO_BATCH_ND pads x and splits it into dh x dw
 * phases; a VALID stride-1 convolution of each phase is a convolution of
 * the padded x with the kernel dilated by (dh, dw); BATCH_TO_SPACE_ND puts
 * the phases back and crops. So, per spatial dim (size n, kernel k,
 * dilation d), output row i reads x rows i + j d - (pt - ct), j < k, with
 * zeros outside x, and there are n + pt + pb - (k - 1) d - ct - cb rows.
 * A TFLite convolution with dilation d reads x rows i + j d - before:
 *   VALID: before = 0, n - (k - 1) d rows;
 *   SAME:  before = (k - 1) d / 2 (rounded down), n rows.
 * The rewrite is made when pt - ct and the row count match one of them in
 * both dims (the same padding in both).
 *
 * Needs: float32, unquantized tensors, weights included (see fuse_pad.c
 * on hybrid kernels); x is [N,H,W,C] with H and W static;
 * block shape [2] and paddings, crops [2,2] int32/int64 constants, block
 * sizes >= 1; s read only by the convolution (as its input 0), y only by
 * the BATCH_TO_SPACE_ND; the convolution has VALID padding, strides 1,
 * dilations 1 and a rank-4 filter. Changes: the convolution reads x,
 * writes z, gets the dilations and padding; the BATCH_TO_SPACE_ND is
 * removed; SPACE_TO_BATCH_ND becomes dead (pass_dce removes it).
 */
#include "passes.h"

enum { PAD_SAME = 0, PAD_VALID = 1 };

/* Option slots of the two convolutions. */
typedef struct conv_slots {
    int pad, sh, sw, dh, dw;
} conv_slots_t;

static int slots(const ir_op_t *c, conv_slots_t *s)
{
    if (c->builtin == OP_CONV_2D && c->opts == OPT_Conv2DOptions && c->attr) {
        *s = (conv_slots_t){OPF_Conv2DOptions_padding, OPF_Conv2DOptions_stride_h,
                            OPF_Conv2DOptions_stride_w, OPF_Conv2DOptions_dilation_h_factor,
                            OPF_Conv2DOptions_dilation_w_factor};
        return 1;
    }
    if (c->builtin == OP_DEPTHWISE_CONV_2D && c->opts == OPT_DepthwiseConv2DOptions && c->attr) {
        *s = (conv_slots_t){OPF_DepthwiseConv2DOptions_padding,
                            OPF_DepthwiseConv2DOptions_stride_h,
                            OPF_DepthwiseConv2DOptions_stride_w,
                            OPF_DepthwiseConv2DOptions_dilation_h_factor,
                            OPF_DepthwiseConv2DOptions_dilation_w_factor};
        return 1;
    }
    return 0;
}

/* The padding (PAD_SAME / PAD_VALID) that one spatial dim amounts to, or
 * -1 when neither. */
static int dim_padding(int64_t n, int64_t k, int64_t d, int64_t pt, int64_t pb, int64_t ct,
                       int64_t cb)
{
    int64_t rows = n + pt + pb - (k - 1) * d - ct - cb, shift = pt - ct;
    if (shift == 0 && rows == n - (k - 1) * d)
        return PAD_VALID;
    if (shift == (k - 1) * d / 2 && rows == n)
        return PAD_SAME;
    return -1;
}

static int fuse_one(ir_model_t *m, ir_subgraph_t *sg, const pass_info_t *g, size_t ci)
{
    ir_op_t *c = &sg->ops[ci];
    conv_slots_t k;
    if (!slots(c, &k) || c->n_inputs < 2 || c->n_outputs != 1 ||
        c->attr[k.pad].i != PAD_VALID || c->attr[k.sh].i != 1 || c->attr[k.sw].i != 1 ||
        c->attr[k.dh].i != 1 || c->attr[k.dw].i != 1)
        return 0;
    int32_t si = pass_only_input(sg, g, c->inputs[0], OP_SPACE_TO_BATCH_ND);
    int32_t bi = pass_sole_consumer(sg, g->uses, c->outputs[0]);
    if (si < 0 || bi < 0 || sg->ops[bi].builtin != OP_BATCH_TO_SPACE_ND)
        return 0;
    const ir_op_t *s2b = &sg->ops[si], *b2s = &sg->ops[bi];
    if (s2b->n_inputs != 3 || b2s->n_inputs != 3 || b2s->n_outputs != 1 ||
        b2s->inputs[0] != c->outputs[0])
        return 0;
    const ir_tensor_t *x = pass_tensor(sg, s2b->inputs[0]), *w = pass_tensor(sg, c->inputs[1]);
    const ir_tensor_t *y = pass_tensor(sg, c->outputs[0]), *z = pass_tensor(sg, b2s->outputs[0]);
    if (!pass_is_plain_f32(x) || x->rank != 4 || !pass_is_plain_f32(w) || w->rank != 4 ||
        !pass_is_plain_f32(y) ||
        !pass_is_plain_f32(z) || z->rank != 4)
        return 0;
    if (x->shape[1] < 1 || x->shape[2] < 1 ||
        (x->shape_signature && (x->shape_signature[1] < 0 || x->shape_signature[2] < 0)))
        return 0;
    int64_t blk[2], blk2[2], pad[4], crop[4], n;
    if (!pass_const_ints(m, sg, s2b->inputs[1], blk, 2, &n) || n != 2 ||
        !pass_const_ints(m, sg, b2s->inputs[1], blk2, 2, &n) || n != 2 ||
        !pass_const_ints(m, sg, s2b->inputs[2], pad, 4, &n) || n != 4 ||
        !pass_const_ints(m, sg, b2s->inputs[2], crop, 4, &n) || n != 4)
        return 0;
    /* Dilations are int32 options; bounded values keep the arithmetic
     * below from overflowing. */
    for (int i = 0; i < 2; i++)
        if (blk[i] != blk2[i] || blk[i] < 1 || blk[i] > INT32_MAX)
            return 0;
    for (int i = 0; i < 4; i++)
        if (pad[i] < 0 || crop[i] < 0 || pad[i] > INT32_MAX || crop[i] > INT32_MAX)
            return 0;
    int ph = dim_padding(x->shape[1], w->shape[1], blk[0], pad[0], pad[1], crop[0], crop[1]);
    int pw = dim_padding(x->shape[2], w->shape[2], blk[1], pad[2], pad[3], crop[2], crop[3]);
    if (ph < 0 || ph != pw)
        return 0;
    c->inputs[0] = s2b->inputs[0];
    c->outputs[0] = b2s->outputs[0];
    c->attr[k.pad].i = ph;
    c->attr[k.dh].i = blk[0];
    c->attr[k.dw].i = blk[1];
    pass_bump_version(m, sg, c);
    pass_remove_op(sg, (size_t)bi);
    return 1;
}

int pass_fuse_dilated_conv(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
{
    int changes = 0;
    pass_info_t g;
    if (pass_info_init(m, sg, &g))
        return st_oom(st, m->source), -1;
    for (size_t i = 0; i < sg->n_ops; i++) {
        if (!fuse_one(m, sg, &g, i))
            continue;
        /* An op was removed and reads changed: count again. */
        changes++;
        pass_info_free(&g);
        if (pass_info_init(m, sg, &g))
            return st_oom(st, m->source), -1;
    }
    pass_info_free(&g);
    return changes;
}
