/*
 * ref_ew.c -- reference elementwise kernels: scalar float32 functions of
 * the unary and binary builtins, binary ops with numpy-style broadcasting
 * (float32, int32, int64; comparisons give bool), unary ops, fused
 * activations and CAST. See ref.h for the contract.
 */
#include <math.h>
#include <string.h>

#include "../passes.h"
#include "ref.h"

/* ---- Scalar float32 functions ---------------------------------------- */

int ref_is_unary_f32(int32_t builtin)
{
    switch (builtin) {
    case OP_NEG: case OP_ABS: case OP_SQRT: case OP_RSQRT: case OP_EXP: case OP_LOG:
    case OP_TANH: case OP_LOGISTIC: case OP_RELU: case OP_RELU6: case OP_RELU_N1_TO_1:
    case OP_RELU_0_TO_1: case OP_SQUARE: case OP_FLOOR: case OP_CEIL: case OP_ROUND:
    case OP_SIN: case OP_COS: case OP_SIGN: case OP_ELU: case OP_HARD_SWISH:
        return 1;
    }
    return 0;
}

static float clampf(float x, float lo, float hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

float ref_unary_f32(int32_t builtin, float x)
{
    switch (builtin) {
    case OP_NEG: return -x;
    case OP_ABS: return fabsf(x);
    case OP_SQRT: return sqrtf(x);
    case OP_RSQRT: return 1.0f / sqrtf(x);
    case OP_EXP: return expf(x);
    case OP_LOG: return logf(x);
    case OP_TANH: return tanhf(x);
    case OP_LOGISTIC: return 1.0f / (1.0f + expf(-x));
    case OP_RELU: return x < 0.0f ? 0.0f : x;
    case OP_RELU6: return clampf(x, 0.0f, 6.0f);
    case OP_RELU_N1_TO_1: return clampf(x, -1.0f, 1.0f);
    case OP_RELU_0_TO_1: return clampf(x, 0.0f, 1.0f);
    case OP_SQUARE: return x * x;
    case OP_FLOOR: return floorf(x);
    case OP_CEIL: return ceilf(x);
    case OP_ROUND: return rintf(x);  /* half to even in the default mode */
    case OP_SIN: return sinf(x);
    case OP_COS: return cosf(x);
    case OP_SIGN: return (float)((0.0f < x) - (x < 0.0f));
    case OP_ELU: return x < 0.0f ? expm1f(x) : x;
    case OP_HARD_SWISH: return x * clampf(x + 3.0f, 0.0f, 6.0f) / 6.0f;
    }
    return NAN;
}

int ref_is_binary_f32(int32_t builtin)
{
    switch (builtin) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAXIMUM: case OP_MINIMUM:
    case OP_POW: case OP_SQUARED_DIFFERENCE: case OP_FLOOR_DIV: case OP_FLOOR_MOD:
        return 1;
    }
    return 0;
}

float ref_binary_f32(int32_t builtin, float a, float b)
{
    switch (builtin) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return a / b;
    case OP_MAXIMUM: return a > b ? a : b;
    case OP_MINIMUM: return a < b ? a : b;
    case OP_POW: return powf(a, b);
    case OP_SQUARED_DIFFERENCE: return (a - b) * (a - b);
    case OP_FLOOR_DIV: return floorf(a / b);
    case OP_FLOOR_MOD: {
        /* The remainder takes the divisor's sign. */
        float r = fmodf(a, b);
        return r != 0.0f && ((b < 0.0f) != (r < 0.0f)) ? r + b : r;
    }
    }
    return NAN;
}

float ref_act_f32(int act, float x)
{
    switch (act) {
    case ACT_RELU: return x < 0.0f ? 0.0f : x;
    case ACT_RELU_N1_TO_1: return clampf(x, -1.0f, 1.0f);
    case ACT_RELU6: return clampf(x, 0.0f, 6.0f);
    case ACT_TANH: return tanhf(x);
    }
    return x;
}

/* ---- Integer arithmetic, declining on overflow and division by 0 ------- */

static int is_compare(int32_t builtin)
{
    switch (builtin) {
    case OP_LESS: case OP_LESS_EQUAL: case OP_GREATER: case OP_GREATER_EQUAL:
    case OP_EQUAL: case OP_NOT_EQUAL:
        return 1;
    }
    return 0;
}

static int compare(int32_t builtin, double a, double b)
{
    switch (builtin) {
    case OP_LESS: return a < b;
    case OP_LESS_EQUAL: return a <= b;
    case OP_GREATER: return a > b;
    case OP_GREATER_EQUAL: return a >= b;
    case OP_EQUAL: return a == b;
    default: return a != b;
    }
}

static int compare_i(int32_t builtin, int64_t a, int64_t b)
{
    switch (builtin) {
    case OP_LESS: return a < b;
    case OP_LESS_EQUAL: return a <= b;
    case OP_GREATER: return a > b;
    case OP_GREATER_EQUAL: return a >= b;
    case OP_EQUAL: return a == b;
    default: return a != b;
    }
}

/* a op b for int64 values: 0 and *r, or -1 when undefined or overflowing. */
static int binary_i64(int32_t builtin, int64_t a, int64_t b, int64_t *r)
{
    switch (builtin) {
    case OP_ADD: return __builtin_add_overflow(a, b, r) ? -1 : 0;
    case OP_SUB: return __builtin_sub_overflow(a, b, r) ? -1 : 0;
    case OP_MUL: return __builtin_mul_overflow(a, b, r) ? -1 : 0;
    case OP_MAXIMUM: *r = a > b ? a : b; return 0;
    case OP_MINIMUM: *r = a < b ? a : b; return 0;
    case OP_SQUARED_DIFFERENCE: {
        int64_t d;
        if (__builtin_sub_overflow(a, b, &d))
            return -1;
        return __builtin_mul_overflow(d, d, r) ? -1 : 0;
    }
    case OP_DIV:
    case OP_FLOOR_DIV:
    case OP_FLOOR_MOD: {
        if (b == 0 || (a == INT64_MIN && b == -1))
            return -1;
        int64_t q = a / b, m = a % b;
        if (builtin == OP_DIV) {
            *r = q;  /* truncating, as C++ */
        } else if (builtin == OP_FLOOR_DIV) {
            *r = (m != 0 && ((m < 0) != (b < 0))) ? q - 1 : q;
        } else {
            *r = (m != 0 && ((m < 0) != (b < 0))) ? m + b : m;
        }
        return 0;
    }
    case OP_POW: {
        if (b < 0)
            return -1;  /* TFLite rejects negative integer exponents */
        if (a == 0 || a == 1) {
            *r = a == 0 && b > 0 ? 0 : 1;
            return 0;
        }
        if (a == -1) {
            *r = b % 2 ? -1 : 1;
            return 0;
        }
        /* |a| >= 2: overflows within 63 steps. */
        int64_t p = 1;
        for (int64_t i = 0; i < b; i++)
            if (__builtin_mul_overflow(p, a, &p))
                return -1;
        *r = p;
        return 0;
    }
    }
    return -1;
}

/* ---- Broadcast binary ops --------------------------------------------- */

/* Element strides of x seen as a tensor of rank R (dims aligned right;
 * a broadcast dim has stride 0). */
static void bcast_strides(const ref_val_t *x, uint32_t R, int64_t *stride)
{
    int64_t s = 1;
    for (uint32_t i = R; i-- > 0;) {
        uint32_t off = R - x->rank;
        if (i < off) {
            stride[i] = 0;
            continue;
        }
        int32_t d = x->shape[i - off];
        stride[i] = d == 1 ? 0 : s;
        s *= d;
    }
}

int ref_binary(int32_t builtin, int act, const ref_val_t *a, const ref_val_t *b,
               ref_val_t *out)
{
    int cmp = is_compare(builtin);
    int dt = a->dtype;
    if (dt != b->dtype || (dt != DT_FLOAT32 && dt != DT_INT32 && dt != DT_INT64))
        return REF_NO;
    if (cmp ? out->dtype != DT_BOOL : (out->dtype != dt || !ref_is_binary_f32(builtin)))
        return REF_NO;
    if (dt != DT_FLOAT32 && act != ACT_NONE)
        return REF_NO;
    uint32_t R = a->rank > b->rank ? a->rank : b->rank;
    int64_t dims[REF_MAX_RANK], sa[REF_MAX_RANK], sb[REF_MAX_RANK], idx[REF_MAX_RANK];
    for (uint32_t i = 0; i < R; i++) {
        int64_t da = i + a->rank >= R ? a->shape[i + a->rank - R] : 1;
        int64_t db = i + b->rank >= R ? b->shape[i + b->rank - R] : 1;
        if (da != db && da != 1 && db != 1)
            return REF_NO;
        dims[i] = da == 1 ? db : da;
    }
    if (!ref_shape_is(out, R, dims))
        return REF_NO;
    bcast_strides(a, R, sa);
    bcast_strides(b, R, sb);
    memset(idx, 0, sizeof idx);
    int64_t ia = 0, ib = 0;
    for (int64_t k = 0; k < out->n; k++) {
        if (dt == DT_FLOAT32) {
            float x = ((const float *)a->data)[ia], y = ((const float *)b->data)[ib];
            if (cmp)
                ((uint8_t *)out->data)[k] = (uint8_t)compare(builtin, x, y);
            else
                ((float *)out->data)[k] = ref_act_f32(act, ref_binary_f32(builtin, x, y));
        } else {
            int64_t x = ref_int_at(a, ia), y = ref_int_at(b, ib), r;
            if (cmp) {
                ((uint8_t *)out->data)[k] = (uint8_t)compare_i(builtin, x, y);
            } else {
                if (binary_i64(builtin, x, y, &r))
                    return REF_NO;
                if (dt == DT_INT32) {
                    if (r < INT32_MIN || r > INT32_MAX)
                        return REF_NO;
                    ((int32_t *)out->data)[k] = (int32_t)r;
                } else {
                    ((int64_t *)out->data)[k] = r;
                }
            }
        }
        /* Next output index; move the input offsets along. */
        for (uint32_t i = R; i-- > 0;) {
            ia += sa[i];
            ib += sb[i];
            if (++idx[i] < dims[i])
                break;
            ia -= sa[i] * dims[i];
            ib -= sb[i] * dims[i];
            idx[i] = 0;
        }
    }
    return REF_OK;
}

/* ---- Unary ops ------------------------------------------------------- */

int ref_unary(int32_t builtin, const ref_val_t *x, ref_val_t *out)
{
    if (out->dtype != x->dtype || out->n != x->n || out->rank != x->rank ||
        (x->rank && memcmp(out->shape, x->shape, x->rank * sizeof *x->shape)))
        return REF_NO;
    if (x->dtype == DT_FLOAT32) {
        if (!ref_is_unary_f32(builtin))
            return REF_NO;
        for (int64_t i = 0; i < x->n; i++)
            ((float *)out->data)[i] = ref_unary_f32(builtin, ((const float *)x->data)[i]);
        return REF_OK;
    }
    if (x->dtype != DT_INT32)
        return REF_NO;
    for (int64_t i = 0; i < x->n; i++) {
        int64_t v = ((const int32_t *)x->data)[i], r;
        switch (builtin) {
        case OP_NEG: r = -v; break;
        case OP_ABS: r = v < 0 ? -v : v; break;
        case OP_SQUARE: r = v * v; break;
        case OP_SIGN: r = (v > 0) - (v < 0); break;
        default: return REF_NO;
        }
        if (r < INT32_MIN || r > INT32_MAX)
            return REF_NO;
        ((int32_t *)out->data)[i] = (int32_t)r;
    }
    return REF_OK;
}

/* ---- CAST -------------------------------------------------------------- */

static int cast_type_ok(int t)
{
    switch (t) {
    case DT_FLOAT32: case DT_INT32: case DT_INT64: case DT_BOOL: case DT_UINT8:
    case DT_INT8: case DT_INT16:
        return 1;
    }
    return 0;
}

/* Element i as a double (exact for every type here but int64 beyond 2^53,
 * which is read separately). */
static double as_double(const ref_val_t *x, int64_t i)
{
    switch (x->dtype) {
    case DT_FLOAT32: return ((const float *)x->data)[i];
    case DT_INT32: return ((const int32_t *)x->data)[i];
    case DT_BOOL: return ((const uint8_t *)x->data)[i] != 0;
    case DT_UINT8: return ((const uint8_t *)x->data)[i];
    case DT_INT8: return ((const int8_t *)x->data)[i];
    case DT_INT16: return ((const int16_t *)x->data)[i];
    }
    return 0;
}

int ref_cast(const ref_val_t *x, ref_val_t *out)
{
    if (!cast_type_ok(x->dtype) || !cast_type_ok(out->dtype) || out->n != x->n ||
        out->rank != x->rank ||
        (x->rank && memcmp(out->shape, x->shape, x->rank * sizeof *x->shape)))
        return REF_NO;
    for (int64_t i = 0; i < x->n; i++) {
        if (out->dtype == DT_FLOAT32) {
            ((float *)out->data)[i] = x->dtype == DT_INT64
                                          ? (float)((const int64_t *)x->data)[i]
                                          : (float)as_double(x, i);
            continue;
        }
        if (out->dtype == DT_BOOL) {
            int nz = x->dtype == DT_INT64 ? ((const int64_t *)x->data)[i] != 0
                                          : as_double(x, i) != 0.0;
            ((uint8_t *)out->data)[i] = (uint8_t)nz;
            continue;
        }
        /* To an integer type: truncate toward zero; decline out of range. */
        int64_t v;
        if (x->dtype == DT_INT64) {
            v = ((const int64_t *)x->data)[i];
        } else {
            double d = trunc(as_double(x, i));
            if (!(d >= -9.2e18 && d <= 9.2e18))
                return REF_NO;
            v = (int64_t)d;
        }
        switch (out->dtype) {
        case DT_INT64: ((int64_t *)out->data)[i] = v; break;
        case DT_INT32:
            if (v < INT32_MIN || v > INT32_MAX) return REF_NO;
            ((int32_t *)out->data)[i] = (int32_t)v; break;
        case DT_INT16:
            if (v < INT16_MIN || v > INT16_MAX) return REF_NO;
            ((int16_t *)out->data)[i] = (int16_t)v; break;
        case DT_INT8:
            if (v < INT8_MIN || v > INT8_MAX) return REF_NO;
            ((int8_t *)out->data)[i] = (int8_t)v; break;
        case DT_UINT8:
            if (v < 0 || v > UINT8_MAX) return REF_NO;
            ((uint8_t *)out->data)[i] = (uint8_t)v; break;
        default: return REF_NO;
        }
    }
    return REF_OK;
}
