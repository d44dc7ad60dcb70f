/*
 * keras_emit.c -- building IR for the Keras front-end: tensors named
 * "<model>/<layer>/<what>", constants, ops, activations, and the operator
 * versions TF's converter writes.
 *
 * Contract: every helper returns an IR index (>= 0) or a tflc_code_t;
 * out-of-memory is reported through keras_oom. Activation tensors take the
 * val's dims with 1 for a None dim and -1 in shape_signature.
 */
#include <math.h>
#include <string.h>

#include "keras.h"

tflc_code_t keras_err(keras_ctx_t *c, tflc_code_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_verr(c->st, code, c->where, fmt, ap);
    va_end(ap);
    if (!c->n_errors++)
        c->first = code;
    return code;
}

tflc_code_t keras_oom(keras_ctx_t *c) { return keras_err(c, TFLC_ERR_NOMEM, "out of memory"); }

const char *keras_dims_str(const int64_t *d, uint32_t rank, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "[");
    for (uint32_t i = 0; i < rank && k < n; i++) {
        if (d[i] < 0)
            k += (size_t)snprintf(buf + k, n - k, i ? ",?" : "?");
        else
            k += (size_t)snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)d[i]);
    }
    if (k < n)
        snprintf(buf + k, n - k, "]");
    return buf;
}

static char *tname(keras_ctx_t *c, const char *suffix)
{
    return ar_printf(&c->m->arena, "%s/%s/%s", c->prefix, c->lname ? c->lname : "?", suffix);
}

/* A tensor with dims (-1 = dynamic). */
static int32_t new_tensor(keras_ctx_t *c, const char *name, int dtype, uint32_t rank,
                          const int64_t *dims)
{
    int32_t shape[KERAS_MAX_RANK] = {0};
    int dyn = 0;
    if (rank > KERAS_MAX_RANK)
        return -1;
    for (uint32_t i = 0; i < rank; i++) {
        shape[i] = dims[i] < 0 ? 1 : (int32_t)dims[i];
        dyn |= dims[i] < 0;
    }
    int32_t t = ir_add_tensor(c->m, c->sg, name, dtype, rank, shape);
    if (t < 0)
        return -1;
    ir_tensor_t *x = &c->sg->tensors[t];
    x->has_rank = true;
    if (dyn) {
        x->shape_signature = ar_calloc(&c->m->arena, rank, sizeof(int32_t));
        if (!x->shape_signature)
            return -1;
        for (uint32_t i = 0; i < rank; i++)
            x->shape_signature[i] = dims[i] < 0 ? -1 : (int32_t)dims[i];
    }
    return t;
}

int32_t keras_new_tensor(keras_ctx_t *c, keras_val_t *v, const char *suffix)
{
    /* Shapes come from the config: a hostile one can make them huge. */
    int64_t n = 1;
    for (uint32_t i = 0; i < v->rank; i++) {
        if (v->dims[i] > INT32_MAX || (v->dims[i] > 0 && n > ((int64_t)1 << 40) / v->dims[i])) {
            char buf[128];
            v->t = -1;
            keras_err(c, TFLC_ERR_UNSUPPORTED, "its output would have shape %s, too large",
                      keras_dims_str(v->dims, v->rank, buf, sizeof buf));
            return -1;
        }
        if (v->dims[i] > 0)
            n *= v->dims[i];
    }
    char *name = tname(c, suffix);
    v->t = name ? new_tensor(c, name, v->dtype, v->rank, v->dims) : -1;
    if (v->t < 0)
        keras_oom(c);
    return v->t;
}

static int32_t new_const(keras_ctx_t *c, const char *suffix, int dtype, const void *data,
                         size_t bytes, uint32_t rank, const int64_t *dims)
{
    char *name = tname(c, suffix);
    int32_t b = name ? ir_add_buffer_copy(c->m, data, bytes) : -1;
    int32_t t = b >= 0 ? new_tensor(c, name, dtype, rank, dims) : -1;
    if (t < 0) {
        keras_oom(c);
        return -1;
    }
    c->sg->tensors[t].buffer = (uint32_t)b;
    return t;
}

int32_t keras_const_f32(keras_ctx_t *c, const char *suffix, const float *data, uint32_t rank,
                        const int64_t *dims)
{
    int64_t n = 1;
    for (uint32_t i = 0; i < rank; i++)
        n *= dims[i];
    return new_const(c, suffix, DT_FLOAT32, data, (size_t)n * sizeof(float), rank, dims);
}

int32_t keras_const_i32(keras_ctx_t *c, const char *suffix, const int32_t *data, uint32_t rank,
                        const int64_t *dims)
{
    int64_t n = 1;
    for (uint32_t i = 0; i < rank; i++)
        n *= dims[i];
    return new_const(c, suffix, DT_INT32, data, (size_t)n * sizeof(int32_t), rank, dims);
}

ir_op_t *keras_op(keras_ctx_t *c, int32_t builtin, const int32_t *ins, uint32_t n_in, int32_t out)
{
    ir_op_t *op = ir_add_op(c->m, c->sg, builtin, n_in, 1);
    if (!op) {
        keras_oom(c);
        return NULL;
    }
    for (uint32_t i = 0; i < n_in; i++)
        op->inputs[i] = ins[i];
    op->outputs[0] = out;
    return op;
}

tflc_code_t keras_unary(keras_ctx_t *c, int32_t builtin, const keras_val_t *in, keras_val_t *out,
                        const char *suffix)
{
    keras_val_t o = *in;
    if (keras_new_tensor(c, &o, suffix) < 0 || !keras_op(c, builtin, &in->t, 1, o.t))
        return TFLC_ERR_NOMEM;
    *out = o;
    return TFLC_OK;
}

tflc_code_t keras_binary_const(keras_ctx_t *c, int32_t builtin, const keras_val_t *a,
                               const float *k, int64_t n, keras_val_t *out, const char *suffix)
{
    char cname[128];
    snprintf(cname, sizeof cname, "%s_const", suffix);
    int32_t kt = keras_const_f32(c, cname, k, n == 1 ? 0 : 1, &n);
    if (kt < 0)
        return TFLC_ERR_NOMEM;
    keras_val_t o = *a;
    int32_t ins[2] = {a->t, kt};
    if (keras_new_tensor(c, &o, suffix) < 0 || !keras_op(c, builtin, ins, 2, o.t))
        return TFLC_ERR_NOMEM;
    *out = o;
    return TFLC_OK;
}

tflc_code_t keras_as_float(keras_ctx_t *c, keras_val_t *v)
{
    if (v->dtype == DT_FLOAT32)
        return TFLC_OK;
    keras_val_t o = *v;
    o.dtype = DT_FLOAT32;
    ir_op_t *op;
    if (keras_new_tensor(c, &o, "Cast") < 0 || !(op = keras_op(c, OP_CAST, &v->t, 1, o.t)))
        return TFLC_ERR_NOMEM;
    op->attr[OPF_CastOptions_in_data_type].i = v->dtype;
    op->attr[OPF_CastOptions_out_data_type].i = DT_FLOAT32;
    *v = o;
    return TFLC_OK;
}

int keras_fusable_act(const char *name)
{
    if (!name || !*name || strcmp(name, "linear") == 0)
        return 0;   /* ActivationFunctionType NONE */
    if (strcmp(name, "relu") == 0)
        return 1;
    if (strcmp(name, "relu6") == 0)
        return 3;
    return -1;
}

/* ---- activations ---- */

int keras_known_activation(const char *name)
{
    static const char *const known[] = {
        "linear", "relu", "relu6", "sigmoid", "tanh", "elu", "exponential", "hard_swish",
        "hard_silu", "softmax", "log_softmax", "gelu", "leaky_relu", "swish", "silu",
        "softplus", "softsign", "mish", "hard_sigmoid", "selu",
    };
    if (!name || !*name)
        return 1;
    for (size_t i = 0; i < ARRAY_LEN(known); i++)
        if (strcmp(name, known[i]) == 0)
            return 1;
    return 0;
}

/* x * a + b, with the ADD's fused activation act. */
static tflc_code_t affine(keras_ctx_t *c, const keras_val_t *x, float a, float b, int act,
                          keras_val_t *out, const char *what)
{
    char s1[64], s2[64];
    snprintf(s1, sizeof s1, "%s/mul", what);
    snprintf(s2, sizeof s2, "%s/add", what);
    keras_val_t m;
    tflc_code_t rc = keras_binary_const(c, OP_MUL, x, &a, 1, &m, s1);
    if (rc == TFLC_OK)
        rc = keras_binary_const(c, OP_ADD, &m, &b, 1, out, s2);
    if (rc == TFLC_OK && act)
        c->sg->ops[c->sg->n_ops - 1].attr[OPF_AddOptions_fused_activation_function].i = act;
    return rc;
}

static tflc_code_t binary(keras_ctx_t *c, int32_t builtin, const keras_val_t *a,
                          const keras_val_t *b, keras_val_t *out, const char *suffix)
{
    keras_val_t o = *a;
    int32_t ins[2] = {a->t, b->t};
    if (keras_new_tensor(c, &o, suffix) < 0 || !keras_op(c, builtin, ins, 2, o.t))
        return TFLC_ERR_NOMEM;
    *out = o;
    return TFLC_OK;
}

/* softplus(x) = relu(x) + log(1 + exp(-|x|)), exact for large |x|. */
static tflc_code_t softplus(keras_ctx_t *c, const keras_val_t *x, keras_val_t *out)
{
    keras_val_t a, n, e, p, l, r;
    float m1 = -1.0f, one = 1.0f;
    tflc_code_t rc = keras_unary(c, OP_ABS, x, &a, "Softplus/abs");
    if (!rc) rc = keras_binary_const(c, OP_MUL, &a, &m1, 1, &n, "Softplus/neg");
    if (!rc) rc = keras_unary(c, OP_EXP, &n, &e, "Softplus/exp");
    if (!rc) rc = keras_binary_const(c, OP_ADD, &e, &one, 1, &p, "Softplus/add");
    if (!rc) rc = keras_unary(c, OP_LOG, &p, &l, "Softplus/log");
    if (!rc) rc = keras_unary(c, OP_RELU, x, &r, "Softplus/relu");
    if (!rc) rc = binary(c, OP_ADD, &r, &l, out, "Softplus");
    return rc;
}

tflc_code_t keras_activation(keras_ctx_t *c, const char *name, const keras_val_t *in,
                             keras_val_t *out)
{
    keras_val_t x = *in, t1, t2;
    tflc_code_t rc;
    if (!name || !*name || strcmp(name, "linear") == 0) {
        *out = x;
        return TFLC_OK;
    }
    if ((rc = keras_as_float(c, &x)) != TFLC_OK)
        return rc;
    static const struct {
        const char *name;
        int32_t op;
    } simple[] = {
        {"relu", OP_RELU},        {"relu6", OP_RELU6},       {"sigmoid", OP_LOGISTIC},
        {"tanh", OP_TANH},        {"elu", OP_ELU},           {"exponential", OP_EXP},
        {"hard_swish", OP_HARD_SWISH}, {"hard_silu", OP_HARD_SWISH},
    };
    for (size_t i = 0; i < ARRAY_LEN(simple); i++)
        if (strcmp(name, simple[i].name) == 0)
            return keras_unary(c, simple[i].op, &x, out, name);
    if (strcmp(name, "softmax") == 0 || strcmp(name, "log_softmax") == 0) {
        int lsm = name[0] == 'l';
        if ((rc = keras_unary(c, lsm ? OP_LOG_SOFTMAX : OP_SOFTMAX, &x, out,
                              lsm ? "LogSoftmax" : "Softmax")) == TFLC_OK && !lsm)
            c->sg->ops[c->sg->n_ops - 1].attr[OPF_SoftmaxOptions_beta].f = 1.0;
        return rc;
    }
    if (strcmp(name, "gelu") == 0)
        return keras_unary(c, OP_GELU, &x, out, "Gelu");
    if (strcmp(name, "leaky_relu") == 0) {
        /* keras.activations.leaky_relu: negative_slope 0.2 by default. */
        if ((rc = keras_unary(c, OP_LEAKY_RELU, &x, out, "LeakyRelu")) == TFLC_OK)
            c->sg->ops[c->sg->n_ops - 1].attr[OPF_LeakyReluOptions_alpha].f = 0.2f;
        return rc;
    }
    if (strcmp(name, "swish") == 0 || strcmp(name, "silu") == 0) {
        if ((rc = keras_unary(c, OP_LOGISTIC, &x, &t1, "swish/Sigmoid")) != TFLC_OK)
            return rc;
        return binary(c, OP_MUL, &x, &t1, out, "swish");
    }
    if (strcmp(name, "softplus") == 0)
        return softplus(c, &x, out);
    if (strcmp(name, "softsign") == 0) {   /* x / (1 + |x|) */
        float one = 1.0f;
        rc = keras_unary(c, OP_ABS, &x, &t1, "Softsign/abs");
        if (!rc) rc = keras_binary_const(c, OP_ADD, &t1, &one, 1, &t2, "Softsign/add");
        if (!rc) rc = binary(c, OP_DIV, &x, &t2, out, "Softsign");
        return rc;
    }
    if (strcmp(name, "mish") == 0) {       /* x * tanh(softplus(x)) */
        rc = softplus(c, &x, &t1);
        if (!rc) rc = keras_unary(c, OP_TANH, &t1, &t2, "Mish/tanh");
        if (!rc) rc = binary(c, OP_MUL, &x, &t2, out, "Mish");
        return rc;
    }
    if (strcmp(name, "hard_sigmoid") == 0) {
        /* Keras 2 / TF.js: clip(0.2x + 0.5, 0, 1); Keras 3: relu6(x + 3) / 6.
         * Both as relu6(6(ax + b)) / 6, the clip being a fused RELU6. */
        float a = c->cfg->keras3 ? 1.0f / 6.0f : 0.2f;
        float b = 0.5f;
        float sixth = 1.0f / 6.0f;
        rc = affine(c, &x, 6.0f * a, 6.0f * b, 3, &t1, "HardSigmoid");
        if (!rc) rc = keras_binary_const(c, OP_MUL, &t1, &sixth, 1, out, "HardSigmoid");
        return rc;
    }
    if (strcmp(name, "selu") == 0) {
        /* scale * (x > 0 ? x : alpha (e^x - 1))
         *   = scale*alpha * elu(x) + (scale - scale*alpha) * relu(x) */
        const double alpha = 1.6732632423543772848170429916717;
        const double scale = 1.0507009873554804934193349852946;
        float ka = (float)(scale * alpha), kr = (float)(scale - scale * alpha);
        keras_val_t e, r, a, b;
        rc = keras_unary(c, OP_ELU, &x, &e, "Selu/elu");
        if (!rc) rc = keras_unary(c, OP_RELU, &x, &r, "Selu/relu");
        if (!rc) rc = keras_binary_const(c, OP_MUL, &e, &ka, 1, &a, "Selu/mul");
        if (!rc) rc = keras_binary_const(c, OP_MUL, &r, &kr, 1, &b, "Selu/mul_1");
        if (!rc) rc = binary(c, OP_ADD, &a, &b, out, "Selu");
        return rc;
    }
    return keras_err(c, TFLC_ERR_UNSUPPORTED, "unknown activation '%s'", name);
}

/* ---- operator versions ---- */

static int32_t op_version(const ir_subgraph_t *sg, const ir_op_t *op)
{
    const ir_tensor_t *in0 = op->n_inputs && op->inputs[0] >= 0 ? &sg->tensors[op->inputs[0]] : NULL;
    const ir_tensor_t *out0 = op->n_outputs && op->outputs[0] >= 0 ? &sg->tensors[op->outputs[0]] : NULL;
    uint32_t rank = in0 ? in0->rank : 0;
    switch (op->builtin) {
    case OP_FULLY_CONNECTED:
        return op->attr[OPF_FullyConnectedOptions_keep_num_dims].i ? 5 : 1;
    case OP_DEPTHWISE_CONV_2D:
        return op->attr[OPF_DepthwiseConv2DOptions_dilation_w_factor].i != 1 ||
                       op->attr[OPF_DepthwiseConv2DOptions_dilation_h_factor].i != 1
                   ? 2 : 1;
    case OP_CONV_2D: {
        const ir_tensor_t *w = &sg->tensors[op->inputs[1]];
        return in0 && w->rank == 4 && in0->rank == 4 && w->shape[3] != in0->shape[3] ? 6 : 1;
    }
    case OP_TRANSPOSE:
    case OP_PAD:
    case OP_STRIDED_SLICE:
        return rank > 4 ? 4 : 1;
    case OP_SUB:
    case OP_MAXIMUM:
    case OP_MINIMUM:
    case OP_DIV: {
        const ir_tensor_t *in1 = &sg->tensors[op->inputs[1]];
        int bcast = in1->rank != in0->rank ||
                    memcmp(in0->shape, in1->shape, in0->rank * sizeof *in0->shape) != 0;
        uint32_t r = in0->rank > in1->rank ? in0->rank : in1->rank;
        if (bcast && r > 4)
            return op->builtin == OP_DIV ? 2 : 3;
        return 1;
    }
    case OP_CAST:
        if ((in0 && (in0->type == DT_FLOAT64 || in0->type == DT_FLOAT16)) ||
            (out0 && (out0->type == DT_FLOAT64 || out0->type == DT_FLOAT16)))
            return 5;
        if ((in0 && in0->type == DT_INT8) || (out0 && out0->type == DT_INT8))
            return 3;
        return 1;
    case OP_RESIZE_BILINEAR:
        return op->attr[OPF_ResizeBilinearOptions_half_pixel_centers].i ? 3 : 1;
    case OP_RESIZE_NEAREST_NEIGHBOR:
        return op->attr[OPF_ResizeNearestNeighborOptions_half_pixel_centers].i ||
                       op->attr[OPF_ResizeNearestNeighborOptions_align_corners].i
                   ? 3 : 1;
    case OP_GATHER:
        return in0 && in0->type == DT_BOOL ? 3 : 1;
    case OP_BROADCAST_TO:
        return 2;
    }
    return 1;
}

void keras_set_versions(ir_model_t *m, ir_subgraph_t *sg)
{
    /* TF writes one operator code per builtin, at the highest version any
     * of its uses needs. */
    int32_t n = op_max_code() + 1;
    int32_t *best = ar_calloc(&m->arena, (size_t)n, sizeof *best);
    for (size_t i = 0; i < sg->n_ops; i++) {
        ir_op_t *op = &sg->ops[i];
        op->version = op_version(sg, op);
        if (best && op->builtin >= 0 && op->builtin < n && op->version > best[op->builtin])
            best[op->builtin] = op->version;
    }
    for (size_t i = 0; best && i < sg->n_ops; i++) {
        ir_op_t *op = &sg->ops[i];
        if (op->builtin >= 0 && op->builtin < n)
            op->version = best[op->builtin];
    }
}
