/*
 * keras_conv.c -- lowering of Keras's convolution, pooling, padding,
 * cropping and upsampling layers (channels_last only), as TF's converter
 * emits them:
 *
 *   Conv2D            CONV_2D, filter [out, kh, kw, in] (OHWI), bias (zeros
 *                     without use_bias), padding/strides/dilation, relu and
 *                     relu6 fused; groups > 1 gives a grouped CONV_2D
 *   Conv1D            EXPAND_DIMS(1) + CONV_2D + SQUEEZE(1); "causal"
 *                     padding adds a PAD in front
 *   DepthwiseConv2D   DEPTHWISE_CONV_2D, filter [1, kh, kw, C * M]
 *   SeparableConv1D/2D  DEPTHWISE_CONV_2D + 1x1 CONV_2D
 *   Conv2DTranspose   TRANSPOSE_CONV, weights [out, kh, kw, in], the output
 *                     shape computed at run time (SHAPE, STRIDED_SLICE, PACK)
 *                     when the batch is dynamic
 *   MaxPooling, AveragePooling 1D/2D   MAX_POOL_2D / AVERAGE_POOL_2D (1D
 *                     through EXPAND_DIMS(2) + SQUEEZE(2))
 *   Global pooling    MEAN / REDUCE_MAX over the spatial axes (1D, 2D)
 *   ZeroPadding       PAD;  Cropping  STRIDED_SLICE
 *   UpSampling2D      RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR with
 *                     half_pixel_centers (TF 2's resize); UpSampling1D
 *                     EXPAND_DIMS + TILE + RESHAPE
 *
 * Contract: as keras_layers.c.
 */
#include <string.h>

#include "keras.h"

#define LOWER(name)                                                                         \
    static tflc_code_t name(keras_ctx_t *c, keras_layer_t *l, const keras_call_t *call,    \
                            const keras_val_t *ins, uint32_t n_in, keras_val_t *outs,      \
                            uint32_t *n_out)

enum { PAD_SAME = 0, PAD_VALID = 1 };

static tflc_code_t one_input(keras_ctx_t *c, uint32_t n_in)
{
    return n_in == 1 ? TFLC_OK
                     : keras_err(c, TFLC_ERR_FORMAT, "expects one input tensor, is called with %u",
                                 n_in);
}

static tflc_code_t channels_last(keras_ctx_t *c, const keras_layer_t *l)
{
    const char *df = keras_cfg_str(l->cfg, "data_format", "channels_last");
    if (strcmp(df, "channels_last") != 0)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "data_format '%s' is not supported (only channels_last)", df);
    return TFLC_OK;
}

/* Spatial options of a conv or pool: n spatial dims (1 or 2). */
typedef struct spatial {
    int64_t k[2], s[2], d[2];
    int pad;        /* PAD_SAME / PAD_VALID */
    int causal;
} spatial_t;

static tflc_code_t read_spatial(keras_ctx_t *c, const keras_layer_t *l, int n, int pool,
                                spatial_t *sp)
{
    const char *kkey = pool ? "pool_size" : "kernel_size";
    memset(sp, 0, sizeof *sp);
    if (keras_cfg_ints(l->cfg, kkey, sp->k, n) != n)
        return keras_err(c, TFLC_ERR_FORMAT, "missing or malformed %s", kkey);
    int ks = keras_cfg_ints(l->cfg, "strides", sp->s, n);
    if (ks == 0 && pool)
        memcpy(sp->s, sp->k, sizeof sp->s);   /* strides default to pool_size */
    else if (ks == 0)
        sp->s[0] = sp->s[1] = 1;
    else if (ks != n)
        return keras_err(c, TFLC_ERR_FORMAT, "malformed strides");
    int kd = pool ? 0 : keras_cfg_ints(l->cfg, "dilation_rate", sp->d, n);
    if (kd == 0)
        sp->d[0] = sp->d[1] = 1;
    else if (kd != n)
        return keras_err(c, TFLC_ERR_FORMAT, "malformed dilation_rate");
    for (int i = 0; i < n; i++)
        if (sp->k[i] < 1 || sp->s[i] < 1 || sp->d[i] < 1 || sp->k[i] > INT32_MAX ||
            sp->s[i] > INT32_MAX || sp->d[i] > INT32_MAX)
            return keras_err(c, TFLC_ERR_FORMAT, "kernel, strides and dilation must be positive");
    const char *p = keras_cfg_str(l->cfg, "padding", "valid");
    if (strcmp(p, "same") == 0)
        sp->pad = PAD_SAME;
    else if (strcmp(p, "valid") == 0)
        sp->pad = PAD_VALID;
    else if (strcmp(p, "causal") == 0 && !pool && n == 1)
        sp->pad = PAD_VALID, sp->causal = 1;
    else
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "padding '%s' is not supported", p);
    if (n == 1) {
        /* As a 2-D op over [batch, 1, width, channels]. */
        sp->k[1] = sp->k[0], sp->s[1] = sp->s[0], sp->d[1] = sp->d[0];
        sp->k[0] = sp->s[0] = sp->d[0] = 1;
    }
    return TFLC_OK;
}

/* The output length of a conv or pool along one axis (-1 when unknown). */
static int64_t out_len(int64_t in, int64_t k, int64_t s, int64_t d, int pad)
{
    if (in < 0)
        return -1;
    if (pad == PAD_SAME)
        return (in + s - 1) / s;
    int64_t eff = (k - 1) * d + 1;
    return in < eff ? 0 : (in - eff) / s + 1;
}

/* Output dims of a 2-D conv/pool on x (NHWC) with `ch` channels. */
static tflc_code_t out_dims(keras_ctx_t *c, const keras_val_t *x, const spatial_t *sp, int64_t ch,
                            keras_val_t *o)
{
    *o = *x;
    for (int i = 0; i < 2; i++) {
        o->dims[1 + i] = out_len(x->dims[1 + i], sp->k[i], sp->s[i], sp->d[i], sp->pad);
        if (o->dims[1 + i] == 0)
            return keras_err(c, TFLC_ERR_FORMAT, "the input (size %lld) is smaller than the window",
                             (long long)x->dims[1 + i]);
    }
    o->dims[3] = ch;
    return TFLC_OK;
}

static int32_t ints_const(keras_ctx_t *c, const char *suffix, const int32_t *v, int64_t n)
{
    return keras_const_i32(c, suffix, v, 1, &n);
}

/* EXPAND_DIMS / SQUEEZE around 1-D layers. */
static tflc_code_t expand(keras_ctx_t *c, const keras_val_t *x, int axis, keras_val_t *out)
{
    int32_t a = axis;
    int32_t at = keras_const_i32(c, "ExpandDims/dim", &a, 0, NULL);
    keras_val_t o = *x;
    if (x->rank != 3)
        return keras_err(c, TFLC_ERR_FORMAT, "expects a 3-D input [batch, steps, channels], got rank %u",
                         x->rank);
    o.rank = 4;
    for (uint32_t i = 0, j = 0; i < 4; i++)
        o.dims[i] = (int)i == axis ? 1 : x->dims[j++];
    int32_t in2[2] = {x->t, at};
    if (at < 0 || keras_new_tensor(c, &o, "ExpandDims") < 0 || !keras_op(c, OP_EXPAND_DIMS, in2, 2, o.t))
        return TFLC_ERR_NOMEM;
    *out = o;
    return TFLC_OK;
}

static tflc_code_t squeeze(keras_ctx_t *c, const keras_val_t *x, int axis, keras_val_t *out)
{
    keras_val_t o = *x;
    o.rank = 3;
    for (uint32_t i = 0, j = 0; i < 4; i++)
        if ((int)i != axis)
            o.dims[j++] = x->dims[i];
    ir_op_t *op;
    int64_t *dims = ar_alloc(&c->m->arena, sizeof *dims);
    if (!dims || keras_new_tensor(c, &o, "Squeeze") < 0 || !(op = keras_op(c, OP_SQUEEZE, &x->t, 1, o.t)))
        return TFLC_ERR_NOMEM;
    dims[0] = axis;
    op->attr[OPF_SqueezeOptions_squeeze_dims].iv = dims;
    op->attr[OPF_SqueezeOptions_squeeze_dims].n = 1;
    *out = o;
    return TFLC_OK;
}

/* PAD x with paddings [rank][2]. */
static tflc_code_t pad(keras_ctx_t *c, const keras_val_t *x, const int64_t (*p)[2], keras_val_t *out)
{
    int32_t pv[2 * KERAS_MAX_RANK];
    keras_val_t o = *x;
    for (uint32_t i = 0; i < x->rank; i++) {
        if (p[i][0] < 0 || p[i][1] < 0 || p[i][0] > INT32_MAX / 2 || p[i][1] > INT32_MAX / 2)
            return keras_err(c, TFLC_ERR_FORMAT, "negative or huge padding");
        pv[2 * i] = (int32_t)p[i][0];
        pv[2 * i + 1] = (int32_t)p[i][1];
        if (x->dims[i] >= 0)
            o.dims[i] = x->dims[i] + p[i][0] + p[i][1];
    }
    int64_t pd[2] = {x->rank, 2};
    int32_t pt = keras_const_i32(c, "Pad/paddings", pv, 2, pd);
    int32_t in2[2] = {x->t, pt};
    if (pt < 0 || keras_new_tensor(c, &o, "Pad") < 0 || !keras_op(c, OP_PAD, in2, 2, o.t))
        return TFLC_ERR_NOMEM;
    *out = o;
    return TFLC_OK;
}

/* ---- convolutions ---- */

/* Reorders a Keras conv kernel [kh, kw, in, out] to OHWI [out, kh, kw, in]. */
static float *to_ohwi(keras_ctx_t *c, const float *k, int64_t kh, int64_t kw, int64_t in, int64_t out)
{
    float *t = ar_alloc(&c->m->arena, (size_t)(kh * kw * in * out) * sizeof(float));
    if (!t)
        return NULL;
    for (int64_t h = 0; h < kh; h++)
        for (int64_t w = 0; w < kw; w++)
            for (int64_t i = 0; i < in; i++)
                for (int64_t o = 0; o < out; o++)
                    t[((o * kh + h) * kw + w) * in + i] = k[((h * kw + w) * in + i) * out + o];
    return t;
}

/* A [n] bias: the given data, or zeros. */
static int32_t bias_const(keras_ctx_t *c, const char *suffix, const keras_weight_t *b, int64_t n)
{
    if (b)
        return keras_const_f32(c, suffix, b->data, 1, &n);
    float *z = ar_calloc(&c->m->arena, (size_t)n, sizeof *z);
    return z ? keras_const_f32(c, suffix, z, 1, &n) : (keras_oom(c), -1);
}

static void set_conv_opts(ir_op_t *op, const spatial_t *sp, int act, int depthwise, int64_t mult)
{
    if (depthwise) {
        op->attr[OPF_DepthwiseConv2DOptions_padding].i = sp->pad;
        op->attr[OPF_DepthwiseConv2DOptions_stride_h].i = sp->s[0];
        op->attr[OPF_DepthwiseConv2DOptions_stride_w].i = sp->s[1];
        op->attr[OPF_DepthwiseConv2DOptions_dilation_h_factor].i = sp->d[0];
        op->attr[OPF_DepthwiseConv2DOptions_dilation_w_factor].i = sp->d[1];
        op->attr[OPF_DepthwiseConv2DOptions_depth_multiplier].i = mult;
        op->attr[OPF_DepthwiseConv2DOptions_fused_activation_function].i = act;
    } else {
        op->attr[OPF_Conv2DOptions_padding].i = sp->pad;
        op->attr[OPF_Conv2DOptions_stride_h].i = sp->s[0];
        op->attr[OPF_Conv2DOptions_stride_w].i = sp->s[1];
        op->attr[OPF_Conv2DOptions_dilation_h_factor].i = sp->d[0];
        op->attr[OPF_Conv2DOptions_dilation_w_factor].i = sp->d[1];
        op->attr[OPF_Conv2DOptions_fused_activation_function].i = act;
    }
}

/* Input checks shared by the convolutions: x is 4-D (after any 1-D
 * expansion) with known channels. */
static tflc_code_t conv_input(keras_ctx_t *c, keras_layer_t *l, uint32_t n_in, const keras_val_t *in,
                              int rank, keras_val_t *x)
{
    tflc_code_t rc = one_input(c, n_in);
    if (rc || (rc = channels_last(c, l)))
        return rc;
    *x = *in;
    if ((rc = keras_as_float(c, x)))
        return rc;
    if ((int)x->rank != rank + 2)
        return keras_err(c, TFLC_ERR_FORMAT, "expects a %d-D input, got rank %u", rank + 2, x->rank);
    if (x->dims[x->rank - 1] < 0)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "the number of input channels is unknown (None)");
    return TFLC_OK;
}

/* Conv1D and Conv2D. */
static tflc_code_t conv(keras_ctx_t *c, keras_layer_t *l, const keras_val_t *in, uint32_t n_in,
                        int rank, keras_val_t *out)
{
    keras_val_t x;
    tflc_code_t rc = conv_input(c, l, n_in, in, rank, &x);
    spatial_t sp;
    if (rc || (rc = read_spatial(c, l, rank, 0, &sp)))
        return rc;
    double f = keras_cfg_num(l->cfg, "filters", -1), g = keras_cfg_num(l->cfg, "groups", 1);
    int64_t filters = (int64_t)f, groups = (int64_t)g, cin = x.dims[x.rank - 1];
    if (f < 1 || f > INT32_MAX || f != (double)filters || g < 1 || g != (double)groups ||
        cin % groups || filters % groups)
        return keras_err(c, TFLC_ERR_FORMAT, "bad filters or groups");
    int use_bias = keras_cfg_bool(l->cfg, "use_bias", 1);
    const char *act;
    if ((rc = keras_act_name(c, l->cfg, NULL, &act)))
        return rc;
    static const char *const roles[] = {"kernel", "bias"};
    const keras_weight_t *w[2] = {NULL, NULL};
    if ((rc = keras_bind_weights(c, l, roles, use_bias ? 2 : 1, w)))
        return rc;
    int64_t kh = sp.k[0], kw = sp.k[1], ci = cin / groups;
    int64_t kd2[4] = {kh, kw, ci, filters}, kd1[3] = {kw, ci, filters};
    if ((rc = keras_check_shape(c, w[0], "kernel", (uint32_t)rank + 2, rank == 2 ? kd2 : kd1)) ||
        (use_bias && (rc = keras_check_shape(c, w[1], "bias", 1, &filters))))
        return rc;
    if (sp.causal) {
        int64_t p[3][2] = {{0, 0}, {(kw - 1) * sp.d[1], 0}, {0, 0}};
        if ((rc = pad(c, &x, (const int64_t(*)[2])p, &x)))
            return rc;
    }
    if (rank == 1 && (rc = expand(c, &x, 1, &x)))
        return rc;
    float *fw = to_ohwi(c, w[0]->data, kh, kw, ci, filters);
    int64_t fd[4] = {filters, kh, kw, ci};
    int32_t ft = fw ? keras_const_f32(c, "Conv2D", fw, 4, fd) : -1;
    int32_t bt = bias_const(c, "BiasAdd/ReadVariableOp", w[1], filters);
    keras_val_t o;
    if (ft < 0 || bt < 0)
        return fw ? TFLC_ERR_NOMEM : keras_oom(c);
    if ((rc = out_dims(c, &x, &sp, filters, &o)))
        return rc;
    int32_t cin3[3] = {x.t, ft, bt};
    ir_op_t *op;
    if (keras_new_tensor(c, &o, "BiasAdd") < 0 || !(op = keras_op(c, OP_CONV_2D, cin3, 3, o.t)))
        return TFLC_ERR_NOMEM;
    int fa = keras_fusable_act(act);
    set_conv_opts(op, &sp, fa > 0 ? fa : 0, 0, 0);
    if (rank == 1 && (rc = squeeze(c, &o, 1, &o)))
        return rc;
    if (fa < 0 && (rc = keras_activation(c, act, &o, &o)))
        return rc;
    *out = o;
    return TFLC_OK;
}

LOWER(lower_conv2d)
{
    (void)call;
    *n_out = 1;
    return conv(c, l, ins, n_in, 2, &outs[0]);
}

LOWER(lower_conv1d)
{
    (void)call;
    *n_out = 1;
    return conv(c, l, ins, n_in, 1, &outs[0]);
}

/* DEPTHWISE_CONV_2D of x with Keras kernel k [kh, kw, C, M]; bias b or zeros. */
static tflc_code_t depthwise(keras_ctx_t *c, const keras_val_t *x, const spatial_t *sp,
                             const keras_weight_t *k, const keras_weight_t *b, int64_t mult,
                             int act, keras_val_t *out)
{
    int64_t C = x->dims[3];
    int64_t fd[4] = {1, sp->k[0], sp->k[1], C * mult};
    int32_t ft = keras_const_f32(c, "depthwise", k->data, 4, fd);
    int32_t bt = bias_const(c, "depthwise/bias", b, C * mult);
    keras_val_t o;
    tflc_code_t rc;
    if (ft < 0 || bt < 0)
        return TFLC_ERR_NOMEM;
    if ((rc = out_dims(c, x, sp, C * mult, &o)))
        return rc;
    int32_t din[3] = {x->t, ft, bt};
    ir_op_t *op;
    if (keras_new_tensor(c, &o, "depthwise") < 0 || !(op = keras_op(c, OP_DEPTHWISE_CONV_2D, din, 3, o.t)))
        return TFLC_ERR_NOMEM;
    set_conv_opts(op, sp, act, 1, mult);
    *out = o;
    return TFLC_OK;
}

static tflc_code_t lower_dw(keras_ctx_t *c, keras_layer_t *l, const keras_val_t *in, uint32_t n_in,
                            int rank, keras_val_t *out)
{
    keras_val_t x;
    tflc_code_t rc = conv_input(c, l, n_in, in, rank, &x);
    spatial_t sp;
    if (rc || (rc = read_spatial(c, l, rank, 0, &sp)))
        return rc;
    double m = keras_cfg_num(l->cfg, "depth_multiplier", 1);
    int64_t mult = (int64_t)m, C = x.dims[x.rank - 1];
    if (m < 1 || m != (double)mult || C * mult > INT32_MAX)
        return keras_err(c, TFLC_ERR_FORMAT, "bad depth_multiplier");
    int use_bias = keras_cfg_bool(l->cfg, "use_bias", 1);
    const char *act;
    if ((rc = keras_act_name(c, l->cfg, NULL, &act)))
        return rc;
    static const char *const roles[] = {"depthwise_kernel", "bias"};
    const keras_weight_t *w[2] = {NULL, NULL};
    if ((rc = keras_bind_weights(c, l, roles, use_bias ? 2 : 1, w)))
        return rc;
    int64_t kd2[4] = {sp.k[0], sp.k[1], C, mult}, kd1[3] = {sp.k[1], C, mult}, cm = C * mult;
    if ((rc = keras_check_shape(c, w[0], "depthwise_kernel", (uint32_t)rank + 2, rank == 2 ? kd2 : kd1)) ||
        (use_bias && (rc = keras_check_shape(c, w[1], "bias", 1, &cm))))
        return rc;
    if (rank == 1 && (rc = expand(c, &x, 1, &x)))
        return rc;
    int fa = keras_fusable_act(act);
    keras_val_t o;
    if ((rc = depthwise(c, &x, &sp, w[0], w[1], mult, fa > 0 ? fa : 0, &o)))
        return rc;
    if (rank == 1 && (rc = squeeze(c, &o, 1, &o)))
        return rc;
    if (fa < 0 && (rc = keras_activation(c, act, &o, &o)))
        return rc;
    *out = o;
    return TFLC_OK;
}

LOWER(lower_depthwise2d)
{
    (void)call;
    *n_out = 1;
    return lower_dw(c, l, ins, n_in, 2, &outs[0]);
}

LOWER(lower_depthwise1d)
{
    (void)call;
    *n_out = 1;
    return lower_dw(c, l, ins, n_in, 1, &outs[0]);
}

static tflc_code_t separable(keras_ctx_t *c, keras_layer_t *l, const keras_val_t *in, uint32_t n_in,
                             int rank, keras_val_t *out)
{
    keras_val_t x;
    tflc_code_t rc = conv_input(c, l, n_in, in, rank, &x);
    spatial_t sp;
    if (rc || (rc = read_spatial(c, l, rank, 0, &sp)))
        return rc;
    double m = keras_cfg_num(l->cfg, "depth_multiplier", 1), f = keras_cfg_num(l->cfg, "filters", -1);
    int64_t mult = (int64_t)m, filters = (int64_t)f, C = x.dims[x.rank - 1];
    if (m < 1 || m != (double)mult || f < 1 || f != (double)filters || C * mult > INT32_MAX ||
        filters > INT32_MAX)
        return keras_err(c, TFLC_ERR_FORMAT, "bad depth_multiplier or filters");
    int use_bias = keras_cfg_bool(l->cfg, "use_bias", 1);
    const char *act;
    if ((rc = keras_act_name(c, l->cfg, NULL, &act)))
        return rc;
    static const char *const roles[] = {"depthwise_kernel", "pointwise_kernel", "bias"};
    const keras_weight_t *w[3] = {NULL, NULL, NULL};
    if ((rc = keras_bind_weights(c, l, roles, use_bias ? 3 : 2, w)))
        return rc;
    int64_t cm = C * mult;
    int64_t dk2[4] = {sp.k[0], sp.k[1], C, mult}, dk1[3] = {sp.k[1], C, mult};
    int64_t pk2[4] = {1, 1, cm, filters}, pk1[3] = {1, cm, filters};
    if ((rc = keras_check_shape(c, w[0], "depthwise_kernel", (uint32_t)rank + 2, rank == 2 ? dk2 : dk1)) ||
        (rc = keras_check_shape(c, w[1], "pointwise_kernel", (uint32_t)rank + 2, rank == 2 ? pk2 : pk1)) ||
        (use_bias && (rc = keras_check_shape(c, w[2], "bias", 1, &filters))))
        return rc;
    if (rank == 1 && (rc = expand(c, &x, 1, &x)))
        return rc;
    keras_val_t d, o;
    if ((rc = depthwise(c, &x, &sp, w[0], NULL, mult, 0, &d)))
        return rc;
    /* The pointwise kernel [1, 1, cm, filters] as OHWI [filters, 1, 1, cm]. */
    float *pw = to_ohwi(c, w[1]->data, 1, 1, cm, filters);
    int64_t fd[4] = {filters, 1, 1, cm};
    int32_t ft = pw ? keras_const_f32(c, "separable_conv2d", pw, 4, fd) : -1;
    int32_t bt = bias_const(c, "BiasAdd/ReadVariableOp", w[2], filters);
    if (ft < 0 || bt < 0)
        return pw ? TFLC_ERR_NOMEM : keras_oom(c);
    o = d;
    o.dims[3] = filters;
    int32_t pin[3] = {d.t, ft, bt};
    ir_op_t *op;
    if (keras_new_tensor(c, &o, "BiasAdd") < 0 || !(op = keras_op(c, OP_CONV_2D, pin, 3, o.t)))
        return TFLC_ERR_NOMEM;
    spatial_t one = {{1, 1}, {1, 1}, {1, 1}, PAD_VALID, 0};
    int fa = keras_fusable_act(act);
    set_conv_opts(op, &one, fa > 0 ? fa : 0, 0, 0);
    if (rank == 1 && (rc = squeeze(c, &o, 1, &o)))
        return rc;
    if (fa < 0 && (rc = keras_activation(c, act, &o, &o)))
        return rc;
    *out = o;
    return TFLC_OK;
}

LOWER(lower_separable2d)
{
    (void)call;
    *n_out = 1;
    return separable(c, l, ins, n_in, 2, &outs[0]);
}

LOWER(lower_separable1d)
{
    (void)call;
    *n_out = 1;
    return separable(c, l, ins, n_in, 1, &outs[0]);
}

/* The output shape of a transposed conv as an int32 [4] tensor: a
 * constant when the batch is known, else computed from x's shape as TF
 * does (SHAPE, STRIDED_SLICE of the batch, PACK). */
static int32_t deconv_shape(keras_ctx_t *c, const keras_val_t *x, const int64_t *od)
{
    int32_t v[4] = {(int32_t)(od[0] < 0 ? 1 : od[0]), (int32_t)od[1], (int32_t)od[2], (int32_t)od[3]};
    if (od[0] >= 0)
        return ints_const(c, "conv2d_transpose/output_shape", v, 4);
    keras_val_t s = {-1, DT_INT32, 1, {4}}, b = {-1, DT_INT32, 0, {0}}, p = {-1, DT_INT32, 1, {4}};
    ir_op_t *op;
    if (keras_new_tensor(c, &s, "Shape") < 0 || !(op = keras_op(c, OP_SHAPE, &x->t, 1, s.t)))
        return -1;
    op->attr[OPF_ShapeOptions_out_type].i = DT_INT32;
    int32_t zero = 0, one = 1;
    int32_t bt = ints_const(c, "strided_slice/stack", &zero, 1);
    int32_t et = ints_const(c, "strided_slice/stack_1", &one, 1);
    int32_t st = ints_const(c, "strided_slice/stack_2", &one, 1);
    if (bt < 0 || et < 0 || st < 0 || keras_new_tensor(c, &b, "strided_slice") < 0)
        return -1;
    int32_t ssin[4] = {s.t, bt, et, st};
    if (!(op = keras_op(c, OP_STRIDED_SLICE, ssin, 4, b.t)))
        return -1;
    op->attr[OPF_StridedSliceOptions_shrink_axis_mask].i = 1;
    int32_t pin[4] = {b.t, -1, -1, -1};
    for (int i = 1; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "stack/%d", i);
        if ((pin[i] = keras_const_i32(c, name, &v[i], 0, NULL)) < 0)
            return -1;
    }
    if (keras_new_tensor(c, &p, "stack") < 0 || !(op = keras_op(c, OP_PACK, pin, 4, p.t)))
        return -1;
    op->attr[OPF_PackOptions_values_count].i = 4;
    op->attr[OPF_PackOptions_axis].i = 0;
    return p.t;
}

LOWER(lower_conv2d_transpose)
{
    (void)call;
    keras_val_t x;
    tflc_code_t rc = conv_input(c, l, n_in, &ins[0], 2, &x);
    spatial_t sp;
    if (rc || (rc = read_spatial(c, l, 2, 0, &sp)))
        return rc;
    if (sp.d[0] != 1 || sp.d[1] != 1)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "a dilated Conv2DTranspose is not supported");
    if (keras_cfg(l->cfg, "output_padding"))
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "output_padding is not supported");
    double f = keras_cfg_num(l->cfg, "filters", -1);
    int64_t filters = (int64_t)f, cin = x.dims[3];
    if (f < 1 || f != (double)filters || filters > INT32_MAX)
        return keras_err(c, TFLC_ERR_FORMAT, "bad filters");
    int use_bias = keras_cfg_bool(l->cfg, "use_bias", 1);
    const char *act;
    if ((rc = keras_act_name(c, l->cfg, NULL, &act)))
        return rc;
    static const char *const roles[] = {"kernel", "bias"};
    const keras_weight_t *w[2] = {NULL, NULL};
    if ((rc = keras_bind_weights(c, l, roles, use_bias ? 2 : 1, w)))
        return rc;
    int64_t kh = sp.k[0], kw = sp.k[1];
    int64_t kd[4] = {kh, kw, filters, cin};
    if ((rc = keras_check_shape(c, w[0], "kernel", 4, kd)) ||
        (use_bias && (rc = keras_check_shape(c, w[1], "bias", 1, &filters))))
        return rc;
    keras_val_t o = x;
    for (int i = 0; i < 2; i++) {
        int64_t in = x.dims[1 + i], k = sp.k[i], s = sp.s[i];
        if (in < 0)
            return keras_err(c, TFLC_ERR_UNSUPPORTED, "Conv2DTranspose over an unknown (None) size");
        o.dims[1 + i] = sp.pad == PAD_SAME ? in * s : in * s + (k > s ? k - s : 0);
    }
    o.dims[3] = filters;
    /* [kh, kw, out, in] -> [out, kh, kw, in] */
    float *t = ar_alloc(&c->m->arena, (size_t)(kh * kw * filters * cin) * sizeof(float));
    if (!t)
        return keras_oom(c);
    for (int64_t h = 0; h < kh; h++)
        for (int64_t ww = 0; ww < kw; ww++)
            for (int64_t oc = 0; oc < filters; oc++)
                for (int64_t i = 0; i < cin; i++)
                    t[((oc * kh + h) * kw + ww) * cin + i] = w[0]->data[((h * kw + ww) * filters + oc) * cin + i];
    int64_t fd[4] = {filters, kh, kw, cin};
    int32_t ft = keras_const_f32(c, "conv2d_transpose", t, 4, fd);
    int32_t bt = bias_const(c, "BiasAdd/ReadVariableOp", w[1], filters);
    int32_t shp = deconv_shape(c, &x, o.dims);
    if (ft < 0 || bt < 0 || shp < 0)
        return TFLC_ERR_NOMEM;
    int32_t tin[4] = {shp, ft, x.t, bt};
    ir_op_t *op;
    if (keras_new_tensor(c, &o, "BiasAdd") < 0 || !(op = keras_op(c, OP_TRANSPOSE_CONV, tin, 4, o.t)))
        return TFLC_ERR_NOMEM;
    op->attr[OPF_TransposeConvOptions_padding].i = sp.pad;
    op->attr[OPF_TransposeConvOptions_stride_h].i = sp.s[0];
    op->attr[OPF_TransposeConvOptions_stride_w].i = sp.s[1];
    if (act && strcmp(act, "linear") != 0 && (rc = keras_activation(c, act, &o, &o)))
        return rc;
    outs[0] = o;
    *n_out = 1;
    return TFLC_OK;
}

/* ---- pooling ---- */

static tflc_code_t pool(keras_ctx_t *c, keras_layer_t *l, const keras_val_t *in, uint32_t n_in,
                        int rank, int32_t builtin, keras_val_t *out)
{
    tflc_code_t rc = one_input(c, n_in);
    spatial_t sp;
    if (rc || (rc = channels_last(c, l)) || (rc = read_spatial(c, l, rank, 1, &sp)))
        return rc;
    keras_val_t x = *in, o;
    if ((int)x.rank != rank + 2)
        return keras_err(c, TFLC_ERR_FORMAT, "expects a %d-D input, got rank %u", rank + 2, x.rank);
    if (rank == 1) {
        /* Keras 2 pools 1-D inputs as [batch, steps, 1, channels]. */
        int64_t k = sp.k[1], s = sp.s[1];
        sp.k[0] = k, sp.s[0] = s, sp.k[1] = 1, sp.s[1] = 1;
        if ((rc = expand(c, &x, 2, &x)))
            return rc;
    }
    if ((rc = out_dims(c, &x, &sp, x.dims[3], &o)))
        return rc;
    ir_op_t *op;
    if (keras_new_tensor(c, &o, builtin == OP_MAX_POOL_2D ? "MaxPool" : "AvgPool") < 0 ||
        !(op = keras_op(c, builtin, &x.t, 1, o.t)))
        return TFLC_ERR_NOMEM;
    op->attr[OPF_Pool2DOptions_padding].i = sp.pad;
    op->attr[OPF_Pool2DOptions_stride_h].i = sp.s[0];
    op->attr[OPF_Pool2DOptions_stride_w].i = sp.s[1];
    op->attr[OPF_Pool2DOptions_filter_height].i = sp.k[0];
    op->attr[OPF_Pool2DOptions_filter_width].i = sp.k[1];
    if (rank == 1 && (rc = squeeze(c, &o, 2, &o)))
        return rc;
    *out = o;
    return TFLC_OK;
}

#define POOL(fn, rank, op)                                              \
    LOWER(fn)                                                           \
    {                                                                   \
        (void)call;                                                     \
        *n_out = 1;                                                     \
        return pool(c, l, ins, n_in, rank, op, &outs[0]);               \
    }
POOL(lower_maxpool2d, 2, OP_MAX_POOL_2D)
POOL(lower_avgpool2d, 2, OP_AVERAGE_POOL_2D)
POOL(lower_maxpool1d, 1, OP_MAX_POOL_2D)
POOL(lower_avgpool1d, 1, OP_AVERAGE_POOL_2D)

static tflc_code_t global_pool(keras_ctx_t *c, keras_layer_t *l, const keras_val_t *in, uint32_t n_in,
                               int rank, int32_t builtin, keras_val_t *out)
{
    tflc_code_t rc = one_input(c, n_in);
    if (rc || (rc = channels_last(c, l)))
        return rc;
    keras_val_t x = *in;
    if ((rc = keras_as_float(c, &x)))
        return rc;
    if ((int)x.rank != rank + 2)
        return keras_err(c, TFLC_ERR_FORMAT, "expects a %d-D input, got rank %u", rank + 2, x.rank);
    int keep = keras_cfg_bool(l->cfg, "keepdims", 0);
    int32_t axes[3] = {1, 2, 3};
    int32_t at = ints_const(c, "reduction_indices", axes, rank);
    keras_val_t o = x;
    if (keep) {
        for (int i = 1; i <= rank; i++)
            o.dims[i] = 1;
    } else {
        o.rank = 2;
        o.dims[1] = x.dims[x.rank - 1];
    }
    int32_t in2[2] = {x.t, at};
    ir_op_t *op;
    if (at < 0 || keras_new_tensor(c, &o, builtin == OP_MEAN ? "Mean" : "Max") < 0 ||
        !(op = keras_op(c, builtin, in2, 2, o.t)))
        return TFLC_ERR_NOMEM;
    op->attr[OPF_ReducerOptions_keep_dims].i = keep;
    *out = o;
    return TFLC_OK;
}

#define GPOOL(fn, rank, op)                                             \
    LOWER(fn)                                                           \
    {                                                                   \
        (void)call;                                                     \
        *n_out = 1;                                                     \
        return global_pool(c, l, ins, n_in, rank, op, &outs[0]);        \
    }
GPOOL(lower_gap1d, 1, OP_MEAN)
GPOOL(lower_gap2d, 2, OP_MEAN)
GPOOL(lower_gmp1d, 1, OP_REDUCE_MAX)
GPOOL(lower_gmp2d, 2, OP_REDUCE_MAX)

/* ---- padding, cropping, upsampling ---- */

/* A padding/cropping config for `n` spatial dims: an int, a list of n
 * ints (symmetric), or a list of n [before, after] pairs. */
static int read_pairs(const cJSON *cfg, const char *key, int n, int64_t (*p)[2])
{
    const cJSON *v = keras_cfg(cfg, key);
    if (cJSON_IsNumber(v)) {
        for (int i = 0; i < n; i++)
            p[i][0] = p[i][1] = (int64_t)v->valuedouble;
        return 0;
    }
    if (!cJSON_IsArray(v))
        return -1;
    if (n == 1 && cJSON_GetArraySize(v) == 2 && cJSON_IsNumber(v->child)) {
        p[0][0] = (int64_t)v->child->valuedouble;   /* 1-D: [before, after] */
        p[0][1] = (int64_t)v->child->next->valuedouble;
        return cJSON_IsNumber(v->child->next) ? 0 : -1;
    }
    if (cJSON_GetArraySize(v) != n)
        return -1;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (cJSON_IsNumber(e)) {
            p[i][0] = p[i][1] = (int64_t)e->valuedouble;
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsNumber(e->child) &&
                   cJSON_IsNumber(e->child->next)) {
            p[i][0] = (int64_t)e->child->valuedouble;
            p[i][1] = (int64_t)e->child->next->valuedouble;
        } else {
            return -1;
        }
    }
    return 0;
}

static tflc_code_t zero_pad(keras_ctx_t *c, keras_layer_t *l, const keras_val_t *in, uint32_t n_in,
                            int rank, keras_val_t *out)
{
    tflc_code_t rc = one_input(c, n_in);
    if (rc || (rc = channels_last(c, l)))
        return rc;
    if ((int)in->rank != rank + 2)
        return keras_err(c, TFLC_ERR_FORMAT, "expects a %d-D input, got rank %u", rank + 2, in->rank);
    int64_t p[KERAS_MAX_RANK][2] = {{0, 0}};
    if (read_pairs(l->cfg, "padding", rank, p + 1))
        return keras_err(c, TFLC_ERR_FORMAT, "malformed padding");
    return pad(c, in, (const int64_t(*)[2])p, out);
}

#define ZPAD(fn, rank)                                                  \
    LOWER(fn)                                                           \
    {                                                                   \
        (void)call;                                                     \
        *n_out = 1;                                                     \
        return zero_pad(c, l, ins, n_in, rank, &outs[0]);               \
    }
ZPAD(lower_zeropad1d, 1)
ZPAD(lower_zeropad2d, 2)

static tflc_code_t crop(keras_ctx_t *c, keras_layer_t *l, const keras_val_t *in, uint32_t n_in,
                        int rank, keras_val_t *out)
{
    tflc_code_t rc = one_input(c, n_in);
    if (rc || (rc = channels_last(c, l)))
        return rc;
    const keras_val_t *x = in;
    if ((int)x->rank != rank + 2)
        return keras_err(c, TFLC_ERR_FORMAT, "expects a %d-D input, got rank %u", rank + 2, x->rank);
    int64_t p[KERAS_MAX_RANK][2] = {{0, 0}};
    if (read_pairs(l->cfg, "cropping", rank, p))
        return keras_err(c, TFLC_ERR_FORMAT, "malformed cropping");
    int32_t b[KERAS_MAX_RANK] = {0}, e[KERAS_MAX_RANK] = {0}, s[KERAS_MAX_RANK];
    int begin_mask = 1 | (1 << (rank + 1)), end_mask = begin_mask;
    keras_val_t o = *x;
    for (int i = 0; i < rank + 2; i++)
        s[i] = 1;
    for (int i = 0; i < rank; i++) {
        int64_t lo = p[i][0], hi = p[i][1], d = x->dims[1 + i];
        if (lo < 0 || hi < 0 || lo > INT32_MAX || hi > INT32_MAX || (d >= 0 && lo + hi >= d))
            return keras_err(c, TFLC_ERR_FORMAT, "cropping (%lld, %lld) leaves nothing of size %lld",
                             (long long)lo, (long long)hi, (long long)d);
        b[1 + i] = (int32_t)lo;
        e[1 + i] = (int32_t)-hi;
        if (hi == 0)
            end_mask |= 1 << (1 + i);
        o.dims[1 + i] = d < 0 ? -1 : d - lo - hi;
    }
    int32_t bt = ints_const(c, "strided_slice/stack", b, rank + 2);
    int32_t et = ints_const(c, "strided_slice/stack_1", e, rank + 2);
    int32_t stt = ints_const(c, "strided_slice/stack_2", s, rank + 2);
    int32_t sin4[4] = {x->t, bt, et, stt};
    ir_op_t *op;
    if (bt < 0 || et < 0 || stt < 0 || keras_new_tensor(c, &o, "strided_slice") < 0 ||
        !(op = keras_op(c, OP_STRIDED_SLICE, sin4, 4, o.t)))
        return TFLC_ERR_NOMEM;
    op->attr[OPF_StridedSliceOptions_begin_mask].i = begin_mask;
    op->attr[OPF_StridedSliceOptions_end_mask].i = end_mask;
    *out = o;
    return TFLC_OK;
}

#define CROP(fn, rank)                                                  \
    LOWER(fn)                                                           \
    {                                                                   \
        (void)call;                                                     \
        *n_out = 1;                                                     \
        return crop(c, l, ins, n_in, rank, &outs[0]);                   \
    }
CROP(lower_crop1d, 1)
CROP(lower_crop2d, 2)

LOWER(lower_upsampling2d)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc || (rc = channels_last(c, l)))
        return rc;
    keras_val_t x = ins[0];
    if ((rc = keras_as_float(c, &x)))
        return rc;
    int64_t sz[2];
    if (keras_cfg_ints(l->cfg, "size", sz, 2) != 2 || sz[0] < 1 || sz[1] < 1 || sz[0] > 65536 || sz[1] > 65536)
        return keras_err(c, TFLC_ERR_FORMAT, "malformed size");
    if (x.rank != 4 || x.dims[1] < 0 || x.dims[2] < 0)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "needs a 4-D input of known height and width");
    const char *interp = keras_cfg_str(l->cfg, "interpolation", "nearest");
    int bilinear = strcmp(interp, "bilinear") == 0;
    if (!bilinear && strcmp(interp, "nearest") != 0)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "interpolation '%s' is not supported", interp);
    keras_val_t o = x;
    o.dims[1] = x.dims[1] * sz[0];
    o.dims[2] = x.dims[2] * sz[1];
    if (o.dims[1] > INT32_MAX || o.dims[2] > INT32_MAX)
        return keras_err(c, TFLC_ERR_FORMAT, "the output is too large");
    int32_t size[2] = {(int32_t)o.dims[1], (int32_t)o.dims[2]};
    int32_t st = ints_const(c, "resize/size", size, 2);
    int32_t in2[2] = {x.t, st};
    ir_op_t *op;
    if (st < 0 || keras_new_tensor(c, &o, bilinear ? "resize/ResizeBilinear" : "resize/ResizeNearestNeighbor") < 0 ||
        !(op = keras_op(c, bilinear ? OP_RESIZE_BILINEAR : OP_RESIZE_NEAREST_NEIGHBOR, in2, 2, o.t)))
        return TFLC_ERR_NOMEM;
    if (bilinear)
        op->attr[OPF_ResizeBilinearOptions_half_pixel_centers].i = 1;
    else
        op->attr[OPF_ResizeNearestNeighborOptions_half_pixel_centers].i = 1;
    outs[0] = o;
    *n_out = 1;
    return TFLC_OK;
}

LOWER(lower_upsampling1d)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    double s = keras_cfg_num(l->cfg, "size", 2);
    const keras_val_t *x = &ins[0];
    if (s < 1 || s > 65536 || x->rank != 3 || x->dims[1] < 0 || x->dims[2] < 0)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "needs a 3-D input of known length and a positive size");
    keras_val_t e, t, o;
    if ((rc = expand(c, x, 2, &e)))
        return rc;
    int32_t mult[4] = {1, 1, (int32_t)s, 1};
    int32_t mt = ints_const(c, "Tile/multiples", mult, 4);
    t = e;
    t.dims[2] = (int64_t)s;
    int32_t in2[2] = {e.t, mt};
    if (mt < 0 || keras_new_tensor(c, &t, "Tile") < 0 || !keras_op(c, OP_TILE, in2, 2, t.t))
        return TFLC_ERR_NOMEM;
    int32_t shape[3] = {-1, (int32_t)(x->dims[1] * (int64_t)s), (int32_t)x->dims[2]};
    int32_t sh = ints_const(c, "Reshape/shape", shape, 3);
    o = *x;
    o.dims[1] = x->dims[1] * (int64_t)s;
    int32_t rin[2] = {t.t, sh};
    ir_op_t *op;
    if (sh < 0 || keras_new_tensor(c, &o, "Reshape") < 0 || !(op = keras_op(c, OP_RESHAPE, rin, 2, o.t)))
        return TFLC_ERR_NOMEM;
    if (ir_op_set_table(c->m, op, OPT_NONE))
        return keras_oom(c);
    outs[0] = o;
    *n_out = 1;
    return TFLC_OK;
}

const keras_layer_kind_t keras_conv_layers[] = {
    {"Conv2D", lower_conv2d},
    {"Conv1D", lower_conv1d},
    {"DepthwiseConv2D", lower_depthwise2d},
    {"DepthwiseConv1D", lower_depthwise1d},
    {"SeparableConv2D", lower_separable2d},
    {"SeparableConv1D", lower_separable1d},
    {"Conv2DTranspose", lower_conv2d_transpose},
    {"MaxPooling2D", lower_maxpool2d},
    {"MaxPool2D", lower_maxpool2d},
    {"AveragePooling2D", lower_avgpool2d},
    {"AvgPool2D", lower_avgpool2d},
    {"MaxPooling1D", lower_maxpool1d},
    {"MaxPool1D", lower_maxpool1d},
    {"AveragePooling1D", lower_avgpool1d},
    {"AvgPool1D", lower_avgpool1d},
    {"GlobalAveragePooling1D", lower_gap1d},
    {"GlobalAveragePooling2D", lower_gap2d},
    {"GlobalAvgPool1D", lower_gap1d},
    {"GlobalAvgPool2D", lower_gap2d},
    {"GlobalMaxPooling1D", lower_gmp1d},
    {"GlobalMaxPooling2D", lower_gmp2d},
    {"GlobalMaxPool1D", lower_gmp1d},
    {"GlobalMaxPool2D", lower_gmp2d},
    {"ZeroPadding1D", lower_zeropad1d},
    {"ZeroPadding2D", lower_zeropad2d},
    {"Cropping1D", lower_crop1d},
    {"Cropping2D", lower_crop2d},
    {"UpSampling2D", lower_upsampling2d},
    {"UpSampling1D", lower_upsampling1d},
    {NULL, NULL},
};
