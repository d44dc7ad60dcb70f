/*
 * fuse_pad.c -- folds an explicit zero PAD of the spatial dims into the
 * CONV_2D or DEPTHWISE_CONV_2D after it, when the padding is exactly what
 * SAME padding would add (what TF writes for Keras ZeroPadding2D + Conv2D
 * "valid", or a Conv2D with explicit padding).
 *
 *   p = PAD(x, [[0,0],[t,b],[l,r],[0,0]])      z = CONV(x, w, b) SAME
 *   z = CONV(p, w, b) VALID              ==>
 *
 * SAME padding, as the TFLite kernels compute it for each spatial dim with
 * input size n, stride s, dilation d and kernel size k:
 *   out = ceil(n / s),  total = max((out - 1) * s + (k - 1) * d + 1 - n, 0),
 *   before = total / 2 (rounded down),  after = total - before.
 *
 * Needs: x is a float32 [N,H,W,C] tensor (not quantized: a quantized
 * kernel pads with the zero point) with H and W static, float32 weights
 * (a hybrid kernel may quantize its input asymmetrically, and then the
 * padding zeros count in the input's range); the paddings are an
 * int32/int64 constant [4,2] with zeros for N and C and (t,b), (l,r) equal
 * to SAME's before/after for H and W; PADV2 also needs a constant pad value
 * of 0.0; p is read only by the convolution, as its input 0; the
 * convolution has VALID padding and a rank-4 filter.
 * Changes: the convolution reads x with SAME padding; the PAD becomes dead
 * (pass_dce removes it). The convolution's output is unchanged.
 */
#include "passes.h"

enum { PAD_SAME = 0, PAD_VALID = 1 };

/* SAME padding of one spatial dim: before and after. */
static void same_pad(int64_t n, int64_t s, int64_t d, int64_t k, int64_t *before,
                     int64_t *after)
{
    int64_t out = (n + s - 1) / s;
    int64_t total = (out - 1) * s + (k - 1) * d + 1 - n;
    if (total < 0)
        total = 0;
    *before = total / 2;
    *after = total - *before;
}

/* The pad op's constant value is 0 (PADV2) or implied (PAD). */
static int pads_with_zero(const ir_model_t *m, const ir_subgraph_t *sg, const ir_op_t *pad)
{
    if (pad->builtin == OP_PAD)
        return pad->n_inputs == 2;
    float v;
    return pad->builtin == OP_PADV2 && pad->n_inputs == 3 &&
           pass_scalar_f32(m, sg, pad->inputs[2], &v) && v == 0.0f;
}

static int fuse_one(ir_model_t *m, ir_subgraph_t *sg, const pass_info_t *g, ir_op_t *c)
{
    int opts_ok = (c->builtin == OP_CONV_2D && c->opts == OPT_Conv2DOptions) ||
                  (c->builtin == OP_DEPTHWISE_CONV_2D && c->opts == OPT_DepthwiseConv2DOptions);
    if (!opts_ok || c->n_inputs < 2 || !c->attr)
        return 0;
    int dw = c->builtin == OP_DEPTHWISE_CONV_2D;
    int f_pad = dw ? OPF_DepthwiseConv2DOptions_padding : OPF_Conv2DOptions_padding;
    int64_t sh = c->attr[dw ? OPF_DepthwiseConv2DOptions_stride_h : OPF_Conv2DOptions_stride_h].i;
    int64_t sw = c->attr[dw ? OPF_DepthwiseConv2DOptions_stride_w : OPF_Conv2DOptions_stride_w].i;
    int64_t dh = c->attr[dw ? OPF_DepthwiseConv2DOptions_dilation_h_factor
                            : OPF_Conv2DOptions_dilation_h_factor].i;
    int64_t dwf = c->attr[dw ? OPF_DepthwiseConv2DOptions_dilation_w_factor
                             : OPF_Conv2DOptions_dilation_w_factor].i;
    if (c->attr[f_pad].i != PAD_VALID || sh < 1 || sw < 1 || dh < 1 || dwf < 1)
        return 0;
    int32_t pi = pass_only_input(sg, g, c->inputs[0], -1);
    if (pi < 0)
        return 0;
    const ir_op_t *pad = &sg->ops[pi];
    if (!pads_with_zero(m, sg, pad))
        return 0;
    const ir_tensor_t *x = ir_tensor(sg, pad->inputs[0]);
    const ir_tensor_t *w = ir_tensor(sg, c->inputs[1]);
    /* Float weights only: a hybrid kernel that quantizes its input
     * asymmetrically would see the padding zeros in its input range. */
    if (!pass_is_plain_f32(x) || x->rank != 4 || !pass_is_plain_f32(w) || w->rank != 4)
        return 0;
    int64_t H = x->shape[1], W = x->shape[2], kh = w->shape[1], kw = w->shape[2];
    if (H < 1 || W < 1 || kh < 1 || kw < 1 ||
        (x->shape_signature && (x->shape_signature[1] < 0 || x->shape_signature[2] < 0)))
        return 0;
    int64_t p[8], n;
    if (!pass_const_ints(m, sg, pad->inputs[1], p, 8, &n) || n != 8 ||
        sg->tensors[pad->inputs[1]].rank != 2)
        return 0;
    if (p[0] || p[1] || p[6] || p[7])
        return 0;
    int64_t t, b, l, r;
    same_pad(H, sh, dh, kh, &t, &b);
    same_pad(W, sw, dwf, kw, &l, &r);
    if (p[2] != t || p[3] != b || p[4] != l || p[5] != r)
        return 0;
    c->inputs[0] = pad->inputs[0];
    c->attr[f_pad].i = PAD_SAME;
    return 1;
}

int pass_fuse_pad(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
{
    int changes = 0;
    pass_info_t g;
    if (pass_info_init(m, sg, &g))
        return st_oom(st, m->source), -1;
    for (size_t i = 0; i < sg->n_ops; i++) {
        if (!fuse_one(m, sg, &g, &sg->ops[i]))
            continue;
        /* The pad's output lost its reader and x gained one: count again. */
        changes++;
        pass_info_free(&g);
        if (pass_info_init(m, sg, &g))
            return st_oom(st, m->source), -1;
    }
    pass_info_free(&g);
    return changes;
}
