/*
 * lg_elementwise.c -- TF element-wise ops, activations, identities and
 * casts: mostly one TFLite op each (rows with a builtin code as argument
 * share lg_unary_op / lg_binary_op), a few decomposed into several.
 *
 * Contract (every handler, see lg.h): emits ops for node n into c->sg and
 * records each output of n, or reports an error naming n and returns -1.
 */
#include <string.h>

#include "lg.h"

int lg_unary_op(lg_t *c, const tfg_node_t *n, int builtin)
{
    int32_t x = lg_in(c, n, 0);
    return x < 0 ? -1 : lg_set_out(c, 0, lg_unary(c, builtin, x, n->name));
}

int lg_binary_op(lg_t *c, const tfg_node_t *n, int builtin)
{
    int32_t a = lg_in(c, n, 0), b = a < 0 ? -1 : lg_in(c, n, 1);
    return b < 0 ? -1 : lg_set_out(c, 0, lg_binary(c, builtin, a, b, n->name));
}

int lg_identity(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    return n->n_inputs ? lg_alias(c, n) : 0;
}

int lg_add_n(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    if (n->n_inputs == 0)
        return lg_err(c, "AddN of nothing");
    if (n->n_inputs == 1)
        return lg_alias(c, n);
    int32_t in[64];
    if (n->n_inputs > ARRAY_LEN(in))
        return lg_unsupported(c, "AddN of %u tensors (at most %zu)", n->n_inputs,
                              ARRAY_LEN(in));
    for (uint32_t i = 0; i < n->n_inputs; i++)
        if ((in[i] = lg_in(c, n, i)) < 0)
            return -1;
    ir_op_t *op = lg_op(c, OP_ADD_N, n->n_inputs, 1, n->name);
    if (!op)
        return -1;
    memcpy(op->inputs, in, n->n_inputs * sizeof *in);
    return lg_set_out(c, 0, lg_finish(c));
}

/* BiasAdd(x, bias): an ADD over the last (channel) dim. */
int lg_bias_add(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    if (lg_need_nhwc(c, n))
        return -1;
    return lg_binary_op(c, n, OP_ADD);
}

int lg_leaky_relu(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0);
    ir_op_t *op = x < 0 ? NULL : lg_op(c, OP_LEAKY_RELU, 1, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    op->attr[OPF_LeakyReluOptions_alpha].f = lg_attr_f(n, "alpha", 0.2f);
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_softmax(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0);
    ir_op_t *op = x < 0 ? NULL : lg_op(c, OP_SOFTMAX, 1, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    op->attr[OPF_SoftmaxOptions_beta].f = 1.0;
    return lg_set_out(c, 0, lg_finish(c));
}

int lg_cast(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0);
    if (x < 0)
        return -1;
    int dt = lg_dtype((int)lg_attr_i(n, "DstT", -1));
    if (dt < 0 || dt == DT_STRING || dt == DT_RESOURCE || dt == DT_VARIANT)
        return lg_unsupported(c, "cast to this type is not supported");
    if (c->sg->tensors[x].type == dt)
        return lg_set_out(c, 0, x);
    ir_op_t *op = lg_op(c, OP_CAST, 1, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    /* TF's converter writes CAST without options. */
    if (ir_op_set_table(c->m, op, OPT_NONE))
        return lg_oom(c);
    c->sg->tensors[op->outputs[0]].type = (int8_t)dt;
    return lg_set_out(c, 0, lg_finish(c));
}

/* Select(cond, x, y) / SelectV2(cond, x, y). */
int lg_select(lg_t *c, const tfg_node_t *n, int builtin)
{
    int32_t in[3];
    for (uint32_t i = 0; i < 3; i++)
        if ((in[i] = lg_in(c, n, i)) < 0)
            return -1;
    ir_op_t *op = lg_op(c, builtin, 3, 1, n->name);
    if (!op)
        return -1;
    memcpy(op->inputs, in, sizeof in);
    return lg_set_out(c, 0, lg_finish(c));
}

/* Scalar constant of x's dtype. */
static int32_t scalar_like(lg_t *c, int32_t x, const char *name, double v)
{
    return lg_scalar(c, name, c->sg->tensors[x].type, v);
}

/* Selu(x) = scale * x for x > 0, scale * alpha * (exp(x) - 1) otherwise:
 * SELECT_V2(x > 0, x * scale, ELU(x) * scale * alpha). */
int lg_selu(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    const double alpha = 1.6732632423543772848170429916717;
    const double scale = 1.0507009873554804934193349852946;
    int32_t x = lg_in(c, n, 0);
    if (x < 0)
        return -1;
    int32_t k1 = scalar_like(c, x, lg_name(c, n->name, "scale"), scale);
    int32_t k2 = scalar_like(c, x, lg_name(c, n->name, "scale_alpha"), scale * alpha);
    int32_t z = scalar_like(c, x, lg_name(c, n->name, "zero"), 0);
    if (k1 < 0 || k2 < 0 || z < 0)
        return -1;
    int32_t pos = lg_binary(c, OP_MUL, x, k1, lg_name(c, n->name, "pos"));
    int32_t elu = pos < 0 ? -1 : lg_unary(c, OP_ELU, x, lg_name(c, n->name, "elu"));
    int32_t neg = elu < 0 ? -1 : lg_binary(c, OP_MUL, elu, k2, lg_name(c, n->name, "neg"));
    int32_t gt = neg < 0 ? -1 : lg_binary(c, OP_GREATER, x, z, lg_name(c, n->name, "gt"));
    ir_op_t *op = gt < 0 ? NULL : lg_op(c, OP_SELECT_V2, 3, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = gt;
    op->inputs[1] = pos;
    op->inputs[2] = neg;
    return lg_set_out(c, 0, lg_finish(c));
}

/* Softsign(x) = x / (1 + |x|). */
int lg_softsign(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0);
    int32_t one = x < 0 ? -1 : scalar_like(c, x, lg_name(c, n->name, "one"), 1);
    int32_t a = one < 0 ? -1 : lg_unary(c, OP_ABS, x, lg_name(c, n->name, "abs"));
    int32_t d = a < 0 ? -1 : lg_binary(c, OP_ADD, a, one, lg_name(c, n->name, "add"));
    return d < 0 ? -1 : lg_set_out(c, 0, lg_binary(c, OP_DIV, x, d, n->name));
}

/* OnesLike(x) = FILL(SHAPE(x), 1); SHAPE folds to a constant when x's
 * shape is static. */
int lg_ones_like(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0);
    int32_t one = x < 0 ? -1 : scalar_like(c, x, lg_name(c, n->name, "one"), 1);
    int32_t s = one < 0 ? -1 : lg_unary(c, OP_SHAPE, x, lg_name(c, n->name, "shape"));
    return s < 0 ? -1 : lg_set_out(c, 0, lg_binary(c, OP_FILL, s, one, n->name));
}

/* FakeQuantWithMinMaxArgs (arg 0: min/max attributes) and
 * FakeQuantWithMinMaxVars (arg 1: constant min and max inputs). */
int lg_fake_quant(lg_t *c, const tfg_node_t *n, int vars)
{
    int32_t x = lg_in(c, n, 0);
    if (x < 0)
        return -1;
    float mn = lg_attr_f(n, "min", -6.0f), mx = lg_attr_f(n, "max", 6.0f);
    if (vars) {
        int32_t d[SI_MAX_RANK];
        int r1, r2;
        const float *a, *b;
        if (!lg_float_const(c, n, 1, &r1, d, &a) || r1 != 0 ||
            !lg_float_const(c, n, 2, &r2, d, &b) || r2 != 0)
            return lg_unsupported(c, "min and max must be constant scalars");
        mn = a[0];
        mx = b[0];
    }
    ir_op_t *op = lg_op(c, OP_FAKE_QUANT, 1, 1, n->name);
    if (!op)
        return -1;
    op->inputs[0] = x;
    op->attr[OPF_FakeQuantOptions_min].f = mn;
    op->attr[OPF_FakeQuantOptions_max].f = mx;
    op->attr[OPF_FakeQuantOptions_num_bits].i = lg_attr_i(n, "num_bits", 8);
    op->attr[OPF_FakeQuantOptions_narrow_range].i = lg_attr_b(n, "narrow_range", 0);
    return lg_set_out(c, 0, lg_finish(c));
}

/* Softplus(x) = log(1 + exp(x)), computed as max(x, 0) + log(1 + exp(-|x|))
 * so that large |x| neither overflows nor loses x. */
int lg_softplus(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0);
    int32_t one = x < 0 ? -1 : scalar_like(c, x, lg_name(c, n->name, "one"), 1);
    int32_t zero = one < 0 ? -1 : scalar_like(c, x, lg_name(c, n->name, "zero"), 0);
    int32_t a = zero < 0 ? -1 : lg_unary(c, OP_ABS, x, lg_name(c, n->name, "abs"));
    int32_t na = a < 0 ? -1 : lg_unary(c, OP_NEG, a, lg_name(c, n->name, "neg"));
    int32_t e = na < 0 ? -1 : lg_unary(c, OP_EXP, na, lg_name(c, n->name, "exp"));
    int32_t p = e < 0 ? -1 : lg_binary(c, OP_ADD, e, one, lg_name(c, n->name, "add"));
    int32_t l = p < 0 ? -1 : lg_unary(c, OP_LOG, p, lg_name(c, n->name, "log"));
    int32_t m = l < 0 ? -1 : lg_binary(c, OP_MAXIMUM, x, zero, lg_name(c, n->name, "relu"));
    return m < 0 ? -1 : lg_set_out(c, 0, lg_binary(c, OP_ADD, m, l, n->name));
}

/* Log1p(x) = LOG(1 + x), as TF's converter lowers it: near 0 the result
 * carries the rounding of 1 + x (absolute error about 1e-7). */
int lg_log1p(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0);
    int32_t one = x < 0 ? -1 : scalar_like(c, x, lg_name(c, n->name, "one"), 1);
    int32_t u = one < 0 ? -1 : lg_binary(c, OP_ADD, x, one, lg_name(c, n->name, "add"));
    return u < 0 ? -1 : lg_set_out(c, 0, lg_unary(c, OP_LOG, u, n->name));
}

/* Reciprocal(x) = 1 / x. */
int lg_reciprocal(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t x = lg_in(c, n, 0);
    int32_t one = x < 0 ? -1 : scalar_like(c, x, lg_name(c, n->name, "one"), 1);
    return one < 0 ? -1 : lg_set_out(c, 0, lg_binary(c, OP_DIV, one, x, n->name));
}

/* ClipByValue(t, lo, hi) = min(max(t, lo), hi). */
int lg_clip(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    int32_t t = lg_in(c, n, 0), lo = t < 0 ? -1 : lg_in(c, n, 1);
    int32_t hi = lo < 0 ? -1 : lg_in(c, n, 2);
    int32_t m = hi < 0 ? -1 : lg_binary(c, OP_MAXIMUM, t, lo, lg_name(c, n->name, "max"));
    return m < 0 ? -1 : lg_set_out(c, 0, lg_binary(c, OP_MINIMUM, m, hi, n->name));
}

/* Dequantize of a constant (weights stored 8-bit by TF1's graph
 * transforms): the float values are computed now, as TF's converter folds
 * them. MIN_COMBINED and MIN_FIRST both give
 *   min + (q - lowest(T)) * (max - min) / (highest(T) - lowest(T)). */
int lg_dequantize(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    const tfg_tensor_t *q = lg_const_in(c, n, 0);
    if (!q || !q->data)
        return lg_unsupported(c, "only the Dequantize of a constant is supported");
    if (!lg_attr_is(n, "mode", "MIN_COMBINED") && !lg_attr_is(n, "mode", "MIN_FIRST") &&
        lg_attr(n, "mode"))
        return lg_unsupported(c, "mode '%s' is not supported (MIN_COMBINED, MIN_FIRST)",
                              lg_attr_str(c, n, "mode"));
    if (lg_attr_i(n, "axis", -1) != -1)
        return lg_unsupported(c, "per-axis Dequantize is not supported");
    int32_t d[SI_MAX_RANK];
    int r1, r2;
    const float *mn, *mx;
    if (!lg_float_const(c, n, 1, &r1, d, &mn) || r1 != 0 || !lg_float_const(c, n, 2, &r2, d, &mx) ||
        r2 != 0)
        return lg_unsupported(c, "min_range and max_range must be constant scalars");
    double lowest, highest;
    int es;
    switch (q->dtype) {
    case TF_QUINT8: case TF_UINT8: lowest = 0, highest = 255, es = 1; break;
    case TF_QINT8: case TF_INT8: lowest = -128, highest = 127, es = 1; break;
    case TF_QUINT16: case TF_UINT16: lowest = 0, highest = 65535, es = 2; break;
    case TF_QINT16: case TF_INT16: lowest = -32768, highest = 32767, es = 2; break;
    default: return lg_unsupported(c, "Dequantize of this type is not supported");
    }
    if (q->shape.rank < 0 || q->shape.rank > SI_MAX_RANK)
        return lg_err(c, "bad rank");
    int64_t cnt = 1;
    for (int i = 0; i < q->shape.rank; i++) {
        if (q->shape.dims[i] < 0 || q->shape.dims[i] > INT32_MAX)
            return lg_err(c, "bad dim");
        d[i] = (int32_t)q->shape.dims[i];
        if (d[i] && cnt > INT64_MAX / d[i])
            return lg_err(c, "bad dim");
        cnt *= d[i];
    }
    if (q->size != (uint64_t)cnt * (uint64_t)es)
        return lg_err(c, "constant holds %llu bytes for %lld values",
                      (unsigned long long)q->size, (long long)cnt);
    float *f = ar_alloc(&c->m->arena, (size_t)(cnt ? cnt : 1) * sizeof *f);
    if (!f)
        return lg_oom(c);
    float scale = (float)((mx[0] - mn[0]) / (highest - lowest));
    int sgn = lowest < 0;
    for (int64_t i = 0; i < cnt; i++) {
        double v;
        if (es == 1) {
            v = sgn ? (double)(int8_t)q->data[i] : (double)q->data[i];
        } else {
            uint16_t h;
            memcpy(&h, q->data + 2 * i, 2);
            v = sgn ? (double)(int16_t)h : (double)h;
        }
        f[i] = mn[0] + (float)(v - lowest) * scale;
    }
    return lg_set_out(c, 0, lg_const(c, n->name, DT_FLOAT32, (uint32_t)q->shape.rank, d, f,
                                     (uint64_t)cnt * 4));
}

/* Erf(x): TFLite has no builtin; Abramowitz & Stegun 7.1.26 (absolute
 * error below 1.5e-7):
 *   t = 1 / (1 + p|x|),  erf(x) = sign(x) (1 - t P(t) exp(-x^2))
 * with P a degree-4 polynomial, evaluated by Horner's rule. */
int lg_erf(lg_t *c, const tfg_node_t *n, int arg)
{
    (void)arg;
    static const double a[5] = {0.254829592, -0.284496736, 1.421413741, -1.453152027,
                                1.061405429};
    const double p = 0.3275911;
    int32_t x = lg_in(c, n, 0);
    if (x < 0)
        return -1;
    if (c->sg->tensors[x].type != DT_FLOAT32)
        return lg_unsupported(c, "Erf of %s is not supported",
                              ir_dtype_name(c->sg->tensors[x].type));
    int32_t one = scalar_like(c, x, lg_name(c, n->name, "one"), 1);
    int32_t kp = one < 0 ? -1 : scalar_like(c, x, lg_name(c, n->name, "p"), p);
    int32_t ax = kp < 0 ? -1 : lg_unary(c, OP_ABS, x, lg_name(c, n->name, "abs"));
    int32_t px = ax < 0 ? -1 : lg_binary(c, OP_MUL, ax, kp, lg_name(c, n->name, "px"));
    int32_t den = px < 0 ? -1 : lg_binary(c, OP_ADD, px, one, lg_name(c, n->name, "den"));
    int32_t t = den < 0 ? -1 : lg_binary(c, OP_DIV, one, den, lg_name(c, n->name, "t"));
    /* q = ((((a5 t + a4) t + a3) t + a2) t + a1) t */
    int32_t q = t < 0 ? -1 : scalar_like(c, x, lg_name(c, n->name, "a5"), a[4]);
    for (int i = 3; i >= -1 && q >= 0; i--) {
        q = lg_binary(c, OP_MUL, q, t, lg_name(c, n->name, "horner_mul"));
        if (q >= 0 && i >= 0) {
            int32_t k = scalar_like(c, x, lg_name(c, n->name, "a"), a[i]);
            q = k < 0 ? -1 : lg_binary(c, OP_ADD, q, k, lg_name(c, n->name, "horner_add"));
        }
    }
    int32_t sq = q < 0 ? -1 : lg_unary(c, OP_SQUARE, x, lg_name(c, n->name, "sq"));
    int32_t ng = sq < 0 ? -1 : lg_unary(c, OP_NEG, sq, lg_name(c, n->name, "neg"));
    int32_t e = ng < 0 ? -1 : lg_unary(c, OP_EXP, ng, lg_name(c, n->name, "exp"));
    int32_t qe = e < 0 ? -1 : lg_binary(c, OP_MUL, q, e, lg_name(c, n->name, "qe"));
    int32_t r = qe < 0 ? -1 : lg_binary(c, OP_SUB, one, qe, lg_name(c, n->name, "abs_erf"));
    int32_t s = r < 0 ? -1 : lg_unary(c, OP_SIGN, x, lg_name(c, n->name, "sign"));
    return s < 0 ? -1 : lg_set_out(c, 0, lg_binary(c, OP_MUL, r, s, n->name));
}
