/*
 * keras_layers.c -- lowering of Keras's core, activation, normalization,
 * reshaping and merging layers to TFLite ops, as TF's converter emits them:
 *
 *   Dense                  FULLY_CONNECTED (kernel transposed to [units, in],
 *                          relu/relu6 fused; keep_num_dims for rank > 2)
 *   Activation, ReLU, ...  RELU, RELU6, LOGISTIC, TANH, SOFTMAX (beta 1),
 *                          LEAKY_RELU, PRELU, ELU, GELU, ...
 *   BatchNormalization     MUL + ADD by per-channel constants (keras_fold
 *                          folds them into a conv or dense before them)
 *   Dropout & co.          nothing (identity at inference)
 *   Flatten, Reshape       RESHAPE with a constant shape [-1, ...]
 *   Permute                TRANSPOSE;  RepeatVector  EXPAND_DIMS + TILE
 *   Add, Subtract, ...     ADD, SUB, MUL, MAXIMUM, MINIMUM chains; Average
 *                          adds then multiplies by 1/n; Concatenate
 *                          CONCATENATION
 *   Rescaling              MUL (+ ADD);  Embedding  GATHER (indices cast to
 *                          int32 when they are not integers)
 *
 * Contract: each function checks its config and weights (one error per
 * problem, naming what is wrong), computes its output shape, and emits ops
 * through keras_emit.c.
 */
#include <math.h>
#include <string.h>

#include "keras.h"

#define LOWER(name)                                                                         \
    static tflc_code_t name(keras_ctx_t *c, keras_layer_t *l, const keras_call_t *call,    \
                            const keras_val_t *ins, uint32_t n_in, keras_val_t *outs,      \
                            uint32_t *n_out)

static tflc_code_t one_input(keras_ctx_t *c, uint32_t n_in)
{
    return n_in == 1 ? TFLC_OK
                     : keras_err(c, TFLC_ERR_FORMAT, "expects one input tensor, is called with %u",
                                 n_in);
}

/* Normalises a Keras axis (negative counts from the end) for rank. */
static int norm_axis(int64_t axis, uint32_t rank)
{
    if (axis < 0)
        axis += rank;
    return axis >= 0 && axis < (int64_t)rank ? (int)axis : -1;
}

/* A constant [1..n] int32 vector. */
static int32_t shape_const(keras_ctx_t *c, const char *suffix, const int32_t *v, int64_t n)
{
    return keras_const_i32(c, suffix, v, 1, &n);
}

/* ---- Dense ---- */

LOWER(lower_dense)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    keras_val_t x = ins[0];
    if ((rc = keras_as_float(c, &x)))
        return rc;
    double u = keras_cfg_num(l->cfg, "units", -1);
    if (u < 1 || u > INT32_MAX || u != (int64_t)u)
        return keras_err(c, TFLC_ERR_FORMAT, "bad 'units' in the config");
    int64_t units = (int64_t)u;
    if (x.rank < 2)
        return keras_err(c, TFLC_ERR_FORMAT, "the input has rank %u; Dense needs rank >= 2", x.rank);
    int64_t in = x.dims[x.rank - 1];
    if (in < 0)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "the input's last dimension is unknown (None)");
    int use_bias = keras_cfg_bool(l->cfg, "use_bias", 1);
    const char *act;
    if ((rc = keras_act_name(c, l->cfg, NULL, &act)))
        return rc;
    static const char *const roles[] = {"kernel", "bias"};
    const keras_weight_t *w[2] = {NULL, NULL};
    if ((rc = keras_bind_weights(c, l, roles, use_bias ? 2 : 1, w)))
        return rc;
    int64_t kd[2] = {in, units};
    if ((rc = keras_check_shape(c, w[0], "kernel", 2, kd)) ||
        (use_bias && (rc = keras_check_shape(c, w[1], "bias", 1, &units))))
        return rc;
    float *wt = ar_alloc(&c->m->arena, (size_t)(in * units) * sizeof(float));
    if (!wt)
        return keras_oom(c);
    for (int64_t i = 0; i < in; i++)
        for (int64_t o = 0; o < units; o++)
            wt[o * in + i] = w[0]->data[i * units + o];
    int64_t td[2] = {units, in};
    int32_t wtt = keras_const_f32(c, "MatMul", wt, 2, td);
    int32_t bt = use_bias ? keras_const_f32(c, "BiasAdd/ReadVariableOp", w[1]->data, 1, &units) : -1;
    if (wtt < 0 || (use_bias && bt < 0))
        return TFLC_ERR_NOMEM;
    keras_val_t o = x;
    o.dims[o.rank - 1] = units;
    if (keras_new_tensor(c, &o, "BiasAdd") < 0)
        return TFLC_ERR_NOMEM;
    int32_t fin[3] = {x.t, wtt, bt};
    ir_op_t *op = keras_op(c, OP_FULLY_CONNECTED, fin, 3, o.t);
    if (!op)
        return TFLC_ERR_NOMEM;
    int fa = keras_fusable_act(act);
    op->attr[OPF_FullyConnectedOptions_fused_activation_function].i = fa > 0 ? fa : 0;
    op->attr[OPF_FullyConnectedOptions_keep_num_dims].i = x.rank > 2;
    if (fa < 0 && (rc = keras_activation(c, act, &o, &o)))
        return rc;
    outs[0] = o;
    *n_out = 1;
    return TFLC_OK;
}

/* ---- activations ---- */

LOWER(lower_activation)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    const char *act = NULL;
    if (!rc)
        rc = keras_act_name(c, l->cfg, NULL, &act);
    if (!rc)
        rc = keras_activation(c, act, &ins[0], &outs[0]);
    *n_out = 1;
    return rc;
}

static tflc_code_t leaky(keras_ctx_t *c, const keras_val_t *x, double alpha, keras_val_t *out)
{
    keras_val_t v = *x;
    tflc_code_t rc = keras_as_float(c, &v);
    if (!rc)
        rc = keras_unary(c, OP_LEAKY_RELU, &v, out, "LeakyRelu");
    if (!rc)
        c->sg->ops[c->sg->n_ops - 1].attr[OPF_LeakyReluOptions_alpha].f = (float)alpha;
    return rc;
}

LOWER(lower_relu)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    keras_val_t x = ins[0];
    if ((rc = keras_as_float(c, &x)))
        return rc;
    const cJSON *mv = keras_cfg(l->cfg, "max_value");
    double slope = keras_cfg_num(l->cfg, "negative_slope", 0);
    double thr = keras_cfg_num(l->cfg, "threshold", 0);
    *n_out = 1;
    if (mv && !cJSON_IsNumber(mv))
        return keras_err(c, TFLC_ERR_FORMAT, "max_value is not a number");
    if (thr != 0)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "ReLU with a threshold (%g) is not supported", thr);
    if (slope != 0) {
        if (mv)
            return keras_err(c, TFLC_ERR_UNSUPPORTED,
                             "ReLU with both max_value and negative_slope is not supported");
        return leaky(c, &x, slope, &outs[0]);
    }
    if (!mv)
        return keras_unary(c, OP_RELU, &x, &outs[0], "Relu");
    if (mv->valuedouble == 6.0)
        return keras_unary(c, OP_RELU6, &x, &outs[0], "Relu6");
    keras_val_t r;
    float m = (float)mv->valuedouble;
    if ((rc = keras_unary(c, OP_RELU, &x, &r, "Relu")))
        return rc;
    return keras_binary_const(c, OP_MINIMUM, &r, &m, 1, &outs[0], "clip_by_value");
}

LOWER(lower_leaky_relu)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    /* Keras 2 calls the slope alpha, Keras 3 negative_slope; both 0.3. */
    double a = keras_cfg_num(l->cfg, "negative_slope", keras_cfg_num(l->cfg, "alpha", 0.3));
    *n_out = 1;
    return leaky(c, &ins[0], a, &outs[0]);
}

LOWER(lower_elu)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    keras_val_t x = ins[0], e, r, a, b;
    if ((rc = keras_as_float(c, &x)))
        return rc;
    double alpha = keras_cfg_num(l->cfg, "alpha", 1.0);
    *n_out = 1;
    if (alpha == 1.0)
        return keras_unary(c, OP_ELU, &x, &outs[0], "Elu");
    /* x > 0 ? x : alpha (e^x - 1)  =  alpha elu(x) + (1 - alpha) relu(x) */
    float ka = (float)alpha, kr = (float)(1.0 - alpha);
    rc = keras_unary(c, OP_ELU, &x, &e, "Elu");
    if (!rc) rc = keras_unary(c, OP_RELU, &x, &r, "Elu/relu");
    if (!rc) rc = keras_binary_const(c, OP_MUL, &e, &ka, 1, &a, "Elu/mul");
    if (!rc) rc = keras_binary_const(c, OP_MUL, &r, &kr, 1, &b, "Elu/mul_1");
    if (!rc) {
        keras_val_t o = a;
        int32_t in2[2] = {a.t, b.t};
        if (keras_new_tensor(c, &o, "Elu/add") < 0 || !keras_op(c, OP_ADD, in2, 2, o.t))
            return TFLC_ERR_NOMEM;
        outs[0] = o;
    }
    return rc;
}

LOWER(lower_prelu)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    keras_val_t x = ins[0];
    if ((rc = keras_as_float(c, &x)))
        return rc;
    /* alpha has the input's shape without the batch dim, with 1 on the
     * shared axes. */
    int64_t ad[KERAS_MAX_RANK];
    uint32_t ar = x.rank - 1;
    for (uint32_t i = 0; i < ar; i++)
        ad[i] = x.dims[i + 1];
    const cJSON *sh = keras_cfg(l->cfg, "shared_axes");
    if (cJSON_IsNumber(sh) || cJSON_IsArray(sh)) {
        int64_t axes[KERAS_MAX_RANK];
        int k = keras_cfg_ints(l->cfg, "shared_axes", axes, cJSON_IsNumber(sh) ? 1 : KERAS_MAX_RANK);
        for (int i = 0; i < k; i++) {
            if (axes[i] < 1 || axes[i] > (int64_t)ar)
                return keras_err(c, TFLC_ERR_FORMAT, "bad shared_axes");
            ad[axes[i] - 1] = 1;
        }
    }
    for (uint32_t i = 0; i < ar; i++)
        if (ad[i] < 0)
            return keras_err(c, TFLC_ERR_UNSUPPORTED, "PReLU over an unknown (None) dimension");
    static const char *const roles[] = {"alpha"};
    const keras_weight_t *w;
    if ((rc = keras_bind_weights(c, l, roles, 1, &w)) || (rc = keras_check_shape(c, w, "alpha", ar, ad)))
        return rc;
    int32_t at = keras_const_f32(c, "alpha", w->data, ar, ad);
    keras_val_t o = x;
    int32_t in2[2] = {x.t, at};
    if (at < 0 || keras_new_tensor(c, &o, "Prelu") < 0 || !keras_op(c, OP_PRELU, in2, 2, o.t))
        return TFLC_ERR_NOMEM;
    outs[0] = o;
    *n_out = 1;
    return TFLC_OK;
}

LOWER(lower_softmax)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    int64_t axis = -1;
    if (keras_cfg_ints(l->cfg, "axis", &axis, 1) < 0)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "softmax over several axes is not supported");
    if (norm_axis(axis, ins[0].rank) != (int)ins[0].rank - 1)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "softmax over axis %lld (only the last axis)",
                         (long long)axis);
    *n_out = 1;
    return keras_activation(c, "softmax", &ins[0], &outs[0]);
}

/* Dropout, noise and augmentation layers: the identity at inference. */
LOWER(lower_identity)
{
    (void)call;
    (void)l;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    outs[0] = ins[0];
    *n_out = 1;
    return TFLC_OK;
}

/* ---- normalization ---- */

LOWER(lower_batchnorm)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    keras_val_t x = ins[0];
    if ((rc = keras_as_float(c, &x)))
        return rc;
    int64_t axes[KERAS_MAX_RANK];
    const cJSON *av = keras_cfg(l->cfg, "axis");
    int na = cJSON_IsNumber(av) ? keras_cfg_ints(l->cfg, "axis", axes, 1)
                                : keras_cfg_ints(l->cfg, "axis", axes, KERAS_MAX_RANK);
    if (na == 0)
        axes[0] = -1, na = 1;
    if (na != 1)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "batch normalization over several axes");
    int axis = norm_axis(axes[0], x.rank);
    if (axis <= 0)
        return keras_err(c, TFLC_ERR_FORMAT, "bad axis %lld for an input of rank %u",
                         (long long)axes[0], x.rank);
    int64_t C = x.dims[axis];
    if (C < 0)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "the normalized axis is unknown (None)");
    int scale = keras_cfg_bool(l->cfg, "scale", 1), center = keras_cfg_bool(l->cfg, "center", 1);
    double eps = keras_cfg_num(l->cfg, "epsilon", 1e-3);
    const char *roles[4];
    int n = 0, ig = -1, ib = -1;
    if (scale)
        ig = n, roles[n++] = "gamma";
    if (center)
        ib = n, roles[n++] = "beta";
    int im = n;
    roles[n++] = "moving_mean";
    roles[n++] = "moving_variance";
    const keras_weight_t *w[4];
    if ((rc = keras_bind_weights(c, l, roles, n, w)))
        return rc;
    for (int i = 0; i < n; i++)
        if ((rc = keras_check_shape(c, w[i], roles[i], 1, &C)))
            return rc;
    float *s = ar_alloc(&c->m->arena, (size_t)C * sizeof(float));
    float *o = ar_alloc(&c->m->arena, (size_t)C * sizeof(float));
    if (!s || !o)
        return keras_oom(c);
    for (int64_t i = 0; i < C; i++) {
        double g = ig >= 0 ? w[ig]->data[i] : 1.0, b = ib >= 0 ? w[ib]->data[i] : 0.0;
        double mean = w[im]->data[i], var = w[im + 1]->data[i];
        /* TF computes the multiplier in float32: gamma * rsqrt(var + eps). */
        float mul = (float)(g * (1.0 / sqrt((double)(float)(var + eps))));
        s[i] = mul;
        o[i] = (float)(b - mean * (double)mul);
    }
    /* Constants broadcast along the normalized axis. */
    int64_t cd[KERAS_MAX_RANK];
    uint32_t cr = x.rank - (uint32_t)axis;
    cd[0] = C;
    for (uint32_t i = 1; i < cr; i++)
        cd[i] = 1;
    int32_t st = keras_const_f32(c, "FusedBatchNormV3_mul_0_param", s, cr, cd);
    int32_t ot = keras_const_f32(c, "FusedBatchNormV3_add_param", o, cr, cd);
    keras_val_t m = x, a = x;
    int32_t mi[2] = {x.t, st};
    if (st < 0 || ot < 0 || keras_new_tensor(c, &m, "FusedBatchNormV3_mul_0") < 0 ||
        !keras_op(c, OP_MUL, mi, 2, m.t))
        return TFLC_ERR_NOMEM;
    int32_t ai[2] = {m.t, ot};
    if (keras_new_tensor(c, &a, "FusedBatchNormV3") < 0 || !keras_op(c, OP_ADD, ai, 2, a.t))
        return TFLC_ERR_NOMEM;
    outs[0] = a;
    *n_out = 1;
    return TFLC_OK;
}

/* LayerNormalization over the last k axes:
 *   m = MEAN(x), v = MEAN(SQUARED_DIFFERENCE(x, m)),
 *   y = (x - m) * RSQRT(v + eps) * gamma + beta                         */
static tflc_code_t layer_norm_op(keras_ctx_t *c, int32_t builtin, const int32_t *ins, uint32_t n,
                                 const keras_val_t *like, keras_val_t *out, const char *suffix)
{
    keras_val_t o = *like;
    if (keras_new_tensor(c, &o, suffix) < 0 || !keras_op(c, builtin, ins, n, o.t))
        return TFLC_ERR_NOMEM;
    *out = o;
    return TFLC_OK;
}

LOWER(lower_layernorm)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    keras_val_t x = ins[0];
    if ((rc = keras_as_float(c, &x)))
        return rc;
    if (keras_cfg_bool(l->cfg, "rms_scaling", 0))
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "rms_scaling is not supported");
    int64_t axes[KERAS_MAX_RANK];
    const cJSON *av = keras_cfg(l->cfg, "axis");
    int na = cJSON_IsNumber(av) ? keras_cfg_ints(l->cfg, "axis", axes, 1)
                                : keras_cfg_ints(l->cfg, "axis", axes, KERAS_MAX_RANK);
    if (na == 0)
        axes[0] = -1, na = 1;
    /* The axes must be the last na ones, in any order. */
    uint32_t seen = 0;
    for (int i = 0; i < na; i++) {
        int a = norm_axis(axes[i], x.rank);
        if (a <= 0 || a < (int)x.rank - na || (seen & (1u << a)))
            return keras_err(c, TFLC_ERR_UNSUPPORTED, "normalizing over axes other than the last ones");
        seen |= 1u << a;
    }
    int64_t pd[KERAS_MAX_RANK], n = 1;
    for (int i = 0; i < na; i++) {
        pd[i] = x.dims[x.rank - na + i];
        if (pd[i] < 0)
            return keras_err(c, TFLC_ERR_UNSUPPORTED, "a normalized axis is unknown (None)");
        n *= pd[i];
    }
    int scale = keras_cfg_bool(l->cfg, "scale", 1), center = keras_cfg_bool(l->cfg, "center", 1);
    const char *roles[2];
    int nr = 0, ig = -1, ib = -1;
    if (scale)
        ig = nr, roles[nr++] = "gamma";
    if (center)
        ib = nr, roles[nr++] = "beta";
    const keras_weight_t *w[2] = {NULL, NULL};
    if (nr && (rc = keras_bind_weights(c, l, roles, nr, w)))
        return rc;
    for (int i = 0; i < nr; i++)
        if (w[i]->n != n)
            return keras_check_shape(c, w[i], roles[i], (uint32_t)na, pd);
    int32_t ax[KERAS_MAX_RANK];
    for (int i = 0; i < na; i++)
        ax[i] = (int32_t)x.rank - na + i;
    int64_t nax = na;
    int32_t at = keras_const_i32(c, "moments/mean/reduction_indices", ax, 1, &nax);
    float eps = (float)keras_cfg_num(l->cfg, "epsilon", 1e-3);
    keras_val_t red = x, m, d, sq, v, ve, r, y;
    for (int i = 0; i < na; i++)
        red.dims[x.rank - na + i] = 1;
    int32_t mi[2] = {x.t, at};
    if (at < 0 || (rc = layer_norm_op(c, OP_MEAN, mi, 2, &red, &m, "moments/mean")))
        return rc ? rc : TFLC_ERR_NOMEM;
    c->sg->ops[c->sg->n_ops - 1].attr[OPF_ReducerOptions_keep_dims].i = 1;
    int32_t di[2] = {x.t, m.t};
    if ((rc = layer_norm_op(c, OP_SQUARED_DIFFERENCE, di, 2, &x, &sq, "moments/SquaredDifference")))
        return rc;
    int32_t vi[2] = {sq.t, at};
    if ((rc = layer_norm_op(c, OP_MEAN, vi, 2, &red, &v, "moments/variance")))
        return rc;
    c->sg->ops[c->sg->n_ops - 1].attr[OPF_ReducerOptions_keep_dims].i = 1;
    if ((rc = keras_binary_const(c, OP_ADD, &v, &eps, 1, &ve, "batchnorm/add")) ||
        (rc = keras_unary(c, OP_RSQRT, &ve, &r, "batchnorm/Rsqrt")) ||
        (rc = layer_norm_op(c, OP_SUB, di, 2, &x, &d, "batchnorm/sub")))
        return rc;
    int32_t yi[2] = {d.t, r.t};
    if ((rc = layer_norm_op(c, OP_MUL, yi, 2, &x, &y, "batchnorm/mul")))
        return rc;
    if (ig >= 0) {
        int32_t gt = keras_const_f32(c, "gamma", w[ig]->data, (uint32_t)na, pd);
        int32_t gi[2] = {y.t, gt};
        if (gt < 0 || (rc = layer_norm_op(c, OP_MUL, gi, 2, &x, &y, "batchnorm/mul_1")))
            return rc ? rc : TFLC_ERR_NOMEM;
    }
    if (ib >= 0) {
        int32_t bt = keras_const_f32(c, "beta", w[ib]->data, (uint32_t)na, pd);
        int32_t bi[2] = {y.t, bt};
        if (bt < 0 || (rc = layer_norm_op(c, OP_ADD, bi, 2, &x, &y, "batchnorm/add_1")))
            return rc ? rc : TFLC_ERR_NOMEM;
    }
    outs[0] = y;
    *n_out = 1;
    return TFLC_OK;
}

/* ---- reshaping ---- */

/* RESHAPE x to dims (dims[0] the batch, written as -1). */
static tflc_code_t reshape(keras_ctx_t *c, const keras_val_t *x, const int64_t *dims,
                           uint32_t rank, keras_val_t *out)
{
    int32_t sv[KERAS_MAX_RANK];
    for (uint32_t i = 0; i < rank; i++)
        sv[i] = i == 0 ? -1 : (int32_t)dims[i];
    int32_t shp = shape_const(c, "Const", sv, rank);
    keras_val_t o = *x;
    o.rank = rank;
    memcpy(o.dims, dims, rank * sizeof *dims);
    int32_t in2[2] = {x->t, shp};
    ir_op_t *op;
    if (shp < 0 || keras_new_tensor(c, &o, "Reshape") < 0 || !(op = keras_op(c, OP_RESHAPE, in2, 2, o.t)))
        return TFLC_ERR_NOMEM;
    /* TF writes RESHAPE without options; the shape is the second input. */
    if (ir_op_set_table(c->m, op, OPT_NONE))
        return keras_oom(c);
    *out = o;
    return TFLC_OK;
}

LOWER(lower_flatten)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    const keras_val_t *x = &ins[0];
    if (strcmp(keras_cfg_str(l->cfg, "data_format", "channels_last"), "channels_last") != 0)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "data_format channels_first is not supported");
    *n_out = 1;
    if (x->rank <= 2) {
        outs[0] = *x;
        return TFLC_OK;
    }
    int64_t n = 1;
    for (uint32_t i = 1; i < x->rank; i++) {
        if (x->dims[i] < 0)
            return keras_err(c, TFLC_ERR_UNSUPPORTED, "flattening an unknown (None) dimension");
        if (x->dims[i] && n > INT32_MAX / x->dims[i])
            return keras_err(c, TFLC_ERR_FORMAT, "the flattened size overflows");
        n *= x->dims[i];
    }
    int64_t d[2] = {x->dims[0], n};
    return reshape(c, x, d, 2, &outs[0]);
}

LOWER(lower_reshape)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    const keras_val_t *x = &ins[0];
    int64_t t[KERAS_MAX_RANK];
    int k = 0;
    const cJSON *ts = keras_cfg(l->cfg, "target_shape");
    /* Keras writes an inferred dim as -1, TF.js as null. */
    for (const cJSON *e = cJSON_IsArray(ts) ? ts->child : NULL; e && k >= 0; e = e->next) {
        if (k >= KERAS_MAX_RANK - 1 || !(cJSON_IsNull(e) || cJSON_IsNumber(e)))
            k = -1;
        else
            t[k++] = cJSON_IsNull(e) ? -1 : (int64_t)e->valuedouble;
    }
    if (k <= 0)
        return keras_err(c, TFLC_ERR_FORMAT, "missing or malformed target_shape");
    int64_t known = 1, total = 1;
    int unknown = -1;
    for (int i = 0; i < k; i++) {
        if (t[i] == -1 && unknown < 0)
            unknown = i;
        else if (t[i] <= 0 || t[i] > INT32_MAX || known > INT32_MAX / t[i])
            return keras_err(c, TFLC_ERR_FORMAT, "bad target_shape entry %lld", (long long)t[i]);
        else
            known *= t[i];
    }
    for (uint32_t i = 1; i < x->rank; i++)
        total = x->dims[i] < 0 || total < 0 || total > ((int64_t)1 << 40) ? -1 : total * x->dims[i];
    if (unknown >= 0) {
        if (total < 0)
            return keras_err(c, TFLC_ERR_UNSUPPORTED, "target_shape has -1 and the input has an unknown dimension");
        if (total % known)
            return keras_err(c, TFLC_ERR_FORMAT, "cannot reshape %lld elements to target_shape", (long long)total);
        t[unknown] = total / known;
    } else if (total >= 0 && total != known) {
        return keras_err(c, TFLC_ERR_FORMAT, "cannot reshape %lld elements to %lld", (long long)total,
                         (long long)known);
    }
    int64_t d[KERAS_MAX_RANK];
    d[0] = x->dims[0];
    memcpy(d + 1, t, (size_t)k * sizeof *t);
    *n_out = 1;
    return reshape(c, x, d, (uint32_t)k + 1, &outs[0]);
}

LOWER(lower_permute)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    const keras_val_t *x = &ins[0];
    int64_t p[KERAS_MAX_RANK];
    int k = keras_cfg_ints(l->cfg, "dims", p, KERAS_MAX_RANK);
    if (k != (int)x->rank - 1)
        return keras_err(c, TFLC_ERR_FORMAT, "dims has %d entries for an input of rank %u", k, x->rank);
    int32_t perm[KERAS_MAX_RANK] = {0};
    uint32_t seen = 0;
    keras_val_t o = *x;
    for (int i = 0; i < k; i++) {
        if (p[i] < 1 || p[i] >= (int64_t)x->rank || (seen & (1u << p[i])))
            return keras_err(c, TFLC_ERR_FORMAT, "dims is not a permutation of 1..%u", x->rank - 1);
        seen |= 1u << p[i];
        perm[i + 1] = (int32_t)p[i];
        o.dims[i + 1] = x->dims[p[i]];
    }
    int32_t pt = shape_const(c, "perm", perm, x->rank);
    int32_t in2[2] = {x->t, pt};
    if (pt < 0 || keras_new_tensor(c, &o, "transpose") < 0 || !keras_op(c, OP_TRANSPOSE, in2, 2, o.t))
        return TFLC_ERR_NOMEM;
    outs[0] = o;
    *n_out = 1;
    return TFLC_OK;
}

/* EXPAND_DIMS at axis (which TF keeps when the batch is dynamic). */
static tflc_code_t expand_dims(keras_ctx_t *c, const keras_val_t *x, int axis, keras_val_t *out)
{
    int32_t a = axis;
    int32_t at = keras_const_i32(c, "ExpandDims/dim", &a, 0, NULL);
    keras_val_t o = *x;
    if (x->rank + 1 > KERAS_MAX_RANK)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "rank too large");
    o.rank = x->rank + 1;
    for (uint32_t i = 0, j = 0; i < o.rank; i++)
        o.dims[i] = (int)i == axis ? 1 : x->dims[j++];
    int32_t in2[2] = {x->t, at};
    if (at < 0 || keras_new_tensor(c, &o, "ExpandDims") < 0 || !keras_op(c, OP_EXPAND_DIMS, in2, 2, o.t))
        return TFLC_ERR_NOMEM;
    *out = o;
    return TFLC_OK;
}

LOWER(lower_repeat_vector)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    double n = keras_cfg_num(l->cfg, "n", -1);
    if (n < 1 || n > INT32_MAX || ins[0].rank != 2)
        return keras_err(c, TFLC_ERR_FORMAT, "bad n, or an input that is not [batch, features]");
    keras_val_t e, o;
    if ((rc = expand_dims(c, &ins[0], 1, &e)))
        return rc;
    int32_t mult[3] = {1, (int32_t)n, 1};
    int32_t mt = shape_const(c, "Tile/multiples", mult, 3);
    o = e;
    o.dims[1] = (int64_t)n;
    int32_t in2[2] = {e.t, mt};
    if (mt < 0 || keras_new_tensor(c, &o, "Tile") < 0 || !keras_op(c, OP_TILE, in2, 2, o.t))
        return TFLC_ERR_NOMEM;
    outs[0] = o;
    *n_out = 1;
    return TFLC_OK;
}

/* ---- merging ---- */

/* Broadcast dims of a and b into o (Keras merge layers broadcast). */
static tflc_code_t broadcast(keras_ctx_t *c, const keras_val_t *a, const keras_val_t *b, keras_val_t *o)
{
    uint32_t r = a->rank > b->rank ? a->rank : b->rank;
    keras_val_t v = a->rank >= b->rank ? *a : *b;
    for (uint32_t i = 0; i < r; i++) {
        int64_t x = i < r - a->rank ? 1 : a->dims[i - (r - a->rank)];
        int64_t y = i < r - b->rank ? 1 : b->dims[i - (r - b->rank)];
        int64_t d;
        if (x == y || y == 1)
            d = x;
        else if (x == 1)
            d = y;
        else if (x < 0 || y < 0)
            d = x < 0 ? y : x;
        else
            return keras_err(c, TFLC_ERR_FORMAT, "inputs of shapes that do not broadcast (%lld vs %lld)",
                             (long long)x, (long long)y);
        v.dims[i] = d;
    }
    v.rank = r;
    *o = v;
    return TFLC_OK;
}

static tflc_code_t merge(keras_ctx_t *c, int32_t builtin, const keras_val_t *ins, uint32_t n_in,
                         keras_val_t *out, const char *what)
{
    if (n_in < 2)
        return keras_err(c, TFLC_ERR_FORMAT, "a merge layer needs at least 2 inputs, got %u", n_in);
    if (builtin == OP_SUB && n_in != 2)
        return keras_err(c, TFLC_ERR_FORMAT, "Subtract needs exactly 2 inputs, got %u", n_in);
    keras_val_t acc = ins[0];
    tflc_code_t rc = keras_as_float(c, &acc);
    for (uint32_t i = 1; !rc && i < n_in; i++) {
        keras_val_t b = ins[i], o;
        if ((rc = keras_as_float(c, &b)) || (rc = broadcast(c, &acc, &b, &o)))
            return rc;
        char name[64];
        snprintf(name, sizeof name, i > 1 ? "%s_%u" : "%s", what, i - 1);
        int32_t in2[2] = {acc.t, b.t};
        if (keras_new_tensor(c, &o, name) < 0 || !keras_op(c, builtin, in2, 2, o.t))
            return TFLC_ERR_NOMEM;
        acc = o;
    }
    *out = acc;
    return rc;
}

#define MERGE(fn, op, what)                                                    \
    LOWER(fn)                                                                  \
    {                                                                          \
        (void)call;                                                            \
        (void)l;                                                               \
        *n_out = 1;                                                            \
        return merge(c, op, ins, n_in, &outs[0], what);                        \
    }
MERGE(lower_add, OP_ADD, "add")
MERGE(lower_subtract, OP_SUB, "sub")
MERGE(lower_multiply, OP_MUL, "mul")
MERGE(lower_maximum, OP_MAXIMUM, "Maximum")
MERGE(lower_minimum, OP_MINIMUM, "Minimum")

LOWER(lower_average)
{
    (void)call;
    (void)l;
    keras_val_t s;
    tflc_code_t rc = merge(c, OP_ADD, ins, n_in, &s, "add");
    float k = 1.0f / (float)n_in;
    *n_out = 1;
    return rc ? rc : keras_binary_const(c, OP_MUL, &s, &k, 1, &outs[0], "truediv");
}

LOWER(lower_concatenate)
{
    (void)call;
    if (n_in < 1)
        return keras_err(c, TFLC_ERR_FORMAT, "no inputs");
    int64_t ax = -1;
    keras_cfg_ints(l->cfg, "axis", &ax, 1);
    uint32_t rank = ins[0].rank;
    int axis = norm_axis(ax, rank);
    if (axis < 0)
        return keras_err(c, TFLC_ERR_FORMAT, "bad axis %lld", (long long)ax);
    keras_val_t o = ins[0];
    int32_t *tin = ar_calloc(&c->m->arena, n_in, sizeof *tin);
    if (!tin)
        return keras_oom(c);
    int dt = ins[0].dtype;
    for (uint32_t i = 0; i < n_in; i++)
        if (ins[i].dtype != dt)
            dt = DT_FLOAT32;
    for (uint32_t i = 0; i < n_in; i++) {
        keras_val_t v = ins[i];
        tflc_code_t rc = dt == DT_FLOAT32 ? keras_as_float(c, &v) : TFLC_OK;
        if (rc)
            return rc;
        if (v.rank != rank)
            return keras_err(c, TFLC_ERR_FORMAT, "inputs of different ranks");
        for (uint32_t d = 0; d < rank; d++) {
            if ((int)d == axis || d == 0)
                continue;
            if (v.dims[d] >= 0 && o.dims[d] >= 0 && v.dims[d] != o.dims[d])
                return keras_err(c, TFLC_ERR_FORMAT, "inputs differ in dimension %u", d);
            if (o.dims[d] < 0)
                o.dims[d] = v.dims[d];
        }
        if (i)
            o.dims[axis] = o.dims[axis] < 0 || v.dims[axis] < 0 ? -1 : o.dims[axis] + v.dims[axis];
        tin[i] = v.t;
    }
    o.dtype = dt;
    ir_op_t *op;
    if (keras_new_tensor(c, &o, "concat") < 0 || !(op = keras_op(c, OP_CONCATENATION, tin, n_in, o.t)))
        return TFLC_ERR_NOMEM;
    op->attr[OPF_ConcatenationOptions_axis].i = axis;
    outs[0] = o;
    *n_out = 1;
    return TFLC_OK;
}

/* ---- preprocessing and embedding ---- */

/* A number or a list of numbers (per channel) from the config. */
static int cfg_floats(const cJSON *cfg, const char *key, double dflt, float *out, int max)
{
    const cJSON *v = keras_cfg(cfg, key);
    if (!v) {
        out[0] = (float)dflt;
        return 1;
    }
    if (cJSON_IsNumber(v)) {
        out[0] = (float)v->valuedouble;
        return 1;
    }
    int k = 0;
    for (const cJSON *e = cJSON_IsArray(v) ? v->child : NULL; e; e = e->next) {
        if (!cJSON_IsNumber(e) || k >= max)
            return -1;
        out[k++] = (float)e->valuedouble;
    }
    return k > 0 ? k : -1;
}

LOWER(lower_rescaling)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    keras_val_t x = ins[0], m;
    if ((rc = keras_as_float(c, &x)))
        return rc;
    float s[4096], o[4096];
    int ns = cfg_floats(l->cfg, "scale", 1.0, s, 4096), no = cfg_floats(l->cfg, "offset", 0.0, o, 4096);
    int64_t C = x.dims[x.rank - 1];
    if (ns < 0 || no < 0 || (ns > 1 && ns != C) || (no > 1 && no != C))
        return keras_err(c, TFLC_ERR_FORMAT, "scale and offset must be numbers or one per channel");
    int zero = 1;
    for (int i = 0; i < no; i++)
        zero &= o[i] == 0.0f;
    *n_out = 1;
    if ((rc = keras_binary_const(c, OP_MUL, &x, s, ns, zero ? &outs[0] : &m, "mul")))
        return rc;
    return zero ? TFLC_OK : keras_binary_const(c, OP_ADD, &m, o, no, &outs[0], "add");
}

LOWER(lower_embedding)
{
    (void)call;
    tflc_code_t rc = one_input(c, n_in);
    if (rc)
        return rc;
    keras_val_t x = ins[0];
    double in_dim = keras_cfg_num(l->cfg, "input_dim", -1), out_dim = keras_cfg_num(l->cfg, "output_dim", -1);
    if (in_dim < 1 || out_dim < 1 || in_dim > INT32_MAX || out_dim > INT32_MAX)
        return keras_err(c, TFLC_ERR_FORMAT, "bad input_dim or output_dim");
    if (x.rank + 1 > KERAS_MAX_RANK)
        return keras_err(c, TFLC_ERR_UNSUPPORTED, "rank too large");
    static const char *const roles[] = {"embeddings"};
    const keras_weight_t *w;
    int64_t ed[2] = {(int64_t)in_dim, (int64_t)out_dim};
    if ((rc = keras_bind_weights(c, l, roles, 1, &w)) || (rc = keras_check_shape(c, w, "embeddings", 2, ed)))
        return rc;
    if (x.dtype != DT_INT32 && x.dtype != DT_INT64) {
        /* Keras casts other indices to int32 (truncating floats). */
        keras_val_t i = x;
        i.dtype = DT_INT32;
        ir_op_t *op;
        if (keras_new_tensor(c, &i, "Cast") < 0 || !(op = keras_op(c, OP_CAST, &x.t, 1, i.t)))
            return TFLC_ERR_NOMEM;
        op->attr[OPF_CastOptions_in_data_type].i = x.dtype;
        op->attr[OPF_CastOptions_out_data_type].i = DT_INT32;
        x = i;
    }
    int32_t et = keras_const_f32(c, "embeddings", w->data, 2, ed);
    keras_val_t o = x;
    o.dtype = DT_FLOAT32;
    o.rank = x.rank + 1;
    o.dims[x.rank] = ed[1];
    int32_t in2[2] = {et, x.t};
    if (et < 0 || keras_new_tensor(c, &o, "embedding_lookup") < 0 || !keras_op(c, OP_GATHER, in2, 2, o.t))
        return TFLC_ERR_NOMEM;
    outs[0] = o;
    *n_out = 1;
    return TFLC_OK;
}

const keras_layer_kind_t keras_core_layers[] = {
    {"Dense", lower_dense},
    {"Activation", lower_activation},
    {"ReLU", lower_relu},
    {"LeakyReLU", lower_leaky_relu},
    {"PReLU", lower_prelu},
    {"ELU", lower_elu},
    {"Softmax", lower_softmax},
    {"Dropout", lower_identity},
    {"SpatialDropout1D", lower_identity},
    {"SpatialDropout2D", lower_identity},
    {"SpatialDropout3D", lower_identity},
    {"GaussianNoise", lower_identity},
    {"GaussianDropout", lower_identity},
    {"AlphaDropout", lower_identity},
    {"ActivityRegularization", lower_identity},
    {"Identity", lower_identity},
    {"RandomFlip", lower_identity},
    {"RandomRotation", lower_identity},
    {"RandomZoom", lower_identity},
    {"RandomContrast", lower_identity},
    {"RandomTranslation", lower_identity},
    {"RandomBrightness", lower_identity},
    {"BatchNormalization", lower_batchnorm},
    {"LayerNormalization", lower_layernorm},
    {"Flatten", lower_flatten},
    {"Reshape", lower_reshape},
    {"Permute", lower_permute},
    {"RepeatVector", lower_repeat_vector},
    {"Add", lower_add},
    {"Subtract", lower_subtract},
    {"Multiply", lower_multiply},
    {"Maximum", lower_maximum},
    {"Minimum", lower_minimum},
    {"Average", lower_average},
    {"Concatenate", lower_concatenate},
    {"Rescaling", lower_rescaling},
    {"Embedding", lower_embedding},
    {NULL, NULL},
};
