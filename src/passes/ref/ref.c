/*
 * ref.c -- ref_run: picks the reference kernel for an operator, reads its
 * options and checks the operand counts; the kernels check types and
 * shapes (ref_ew.c, ref_shape.c). See ref.h for the contract.
 */
#include <string.h>

#include "../passes.h"
#include "ref.h"

typedef enum kind {
    K_NONE, K_UNARY, K_BINARY, K_COMPARE, K_CAST, K_RESHAPE, K_SQUEEZE, K_EXPAND_DIMS,
    K_TRANSPOSE, K_CONCAT, K_PACK, K_SLICE, K_STRIDED_SLICE, K_GATHER, K_TILE, K_SHAPE,
    K_FILL, K_RANGE
} kind_t;

/* The one list of what has a kernel. */
static kind_t kind_of(int32_t builtin)
{
    if (ref_is_unary_f32(builtin))
        return K_UNARY;
    if (ref_is_binary_f32(builtin))
        return K_BINARY;
    switch (builtin) {
    case OP_LESS: case OP_LESS_EQUAL: case OP_GREATER: case OP_GREATER_EQUAL:
    case OP_EQUAL: case OP_NOT_EQUAL:
        return K_COMPARE;
    case OP_CAST: return K_CAST;
    case OP_RESHAPE: return K_RESHAPE;
    case OP_SQUEEZE: return K_SQUEEZE;
    case OP_EXPAND_DIMS: return K_EXPAND_DIMS;
    case OP_TRANSPOSE: return K_TRANSPOSE;
    case OP_CONCATENATION: return K_CONCAT;
    case OP_PACK: return K_PACK;
    case OP_SLICE: return K_SLICE;
    case OP_STRIDED_SLICE: return K_STRIDED_SLICE;
    case OP_GATHER: return K_GATHER;
    case OP_TILE: return K_TILE;
    case OP_SHAPE: return K_SHAPE;
    case OP_FILL: return K_FILL;
    case OP_RANGE: return K_RANGE;
    }
    return K_NONE;
}

int ref_has(int32_t builtin)
{
    return kind_of(builtin) != K_NONE;
}

/* Option field slot of op's table, when op has table t. */
static const ir_val_t *attr(const ir_op_t *op, int t, int slot)
{
    return op->opts == t && op->attr ? &op->attr[slot] : NULL;
}

/* The shape a RESHAPE gives x: from input 1 or the new_shape option, one
 * -1 inferred. 1 when known and equal to out's shape. */
static int reshape_ok(const ir_op_t *op, const ref_val_t *in, uint32_t n_in,
                      const ref_val_t *out)
{
    int64_t d[REF_MAX_RANK];
    int64_t n;
    const ir_val_t *ns = attr(op, OPT_ReshapeOptions, OPF_ReshapeOptions_new_shape);
    if (n_in >= 2 && in[1].data) {
        if (in[1].rank != 1 || in[1].n > REF_MAX_RANK ||
            (in[1].dtype != DT_INT32 && in[1].dtype != DT_INT64))
            return 0;
        n = in[1].n;
        for (int64_t i = 0; i < n; i++)
            d[i] = ref_int_at(&in[1], i);
    } else if (ns && ns->n && ns->n <= REF_MAX_RANK) {
        n = ns->n;
        for (int64_t i = 0; i < n; i++)
            d[i] = ns->iv[i];
    } else {
        return 0;
    }
    int64_t known = 1, wild = -1;
    for (int64_t i = 0; i < n; i++) {
        if (d[i] == -1 && wild < 0)
            wild = i;
        else if (d[i] < 0 || d[i] > INT32_MAX || (d[i] && known > INT64_MAX / d[i]))
            return 0;
        else
            known *= d[i];
    }
    if (wild >= 0) {
        if (known == 0 || in[0].n % known)
            return 0;
        d[wild] = in[0].n / known;
    } else if (known != in[0].n) {
        return 0;
    }
    return ref_shape_is(out, (uint32_t)n, d);
}

static int squeeze_ok(const ir_op_t *op, const ref_val_t *x, const ref_val_t *out)
{
    const ir_val_t *sd = attr(op, OPT_SqueezeOptions, OPF_SqueezeOptions_squeeze_dims);
    uint8_t drop[REF_MAX_RANK] = {0};
    for (uint32_t k = 0; sd && k < sd->n; k++) {
        int64_t a = sd->iv[k] < 0 ? sd->iv[k] + x->rank : sd->iv[k];
        if (a < 0 || a >= x->rank || x->shape[a] != 1)
            return 0;
        drop[a] = 1;
    }
    int64_t d[REF_MAX_RANK];
    uint32_t nd = 0;
    for (uint32_t i = 0; i < x->rank; i++)
        if (!(sd && sd->n ? drop[i] : x->shape[i] == 1))
            d[nd++] = x->shape[i];
    return ref_shape_is(out, nd, d);
}

static int expand_dims_ok(const ref_val_t *x, const ref_val_t *axis, const ref_val_t *out)
{
    if ((axis->dtype != DT_INT32 && axis->dtype != DT_INT64) || axis->n != 1 || !axis->data ||
        x->rank + 1 > REF_MAX_RANK)
        return 0;
    int64_t a = ref_int_at(axis, 0);
    if (a < 0)
        a += x->rank + 1;
    if (a < 0 || a > x->rank)
        return 0;
    int64_t d[REF_MAX_RANK];
    for (uint32_t i = 0, j = 0; i <= x->rank; i++)
        d[i] = i == a ? 1 : x->shape[j++];
    return ref_shape_is(out, x->rank + 1, d);
}

int ref_run(const ir_op_t *op, const ref_val_t *in, uint32_t n_in, ref_val_t *out,
            uint32_t n_out)
{
    if (n_out != 1 || n_in == 0)
        return REF_NO;
    ref_val_t *o = &out[0];
    /* Every input but SHAPE's must have data. */
    for (uint32_t k = 0; k < n_in; k++)
        if (!in[k].data && op->builtin != OP_SHAPE)
            if (!(op->builtin == OP_RESHAPE && k == 1))
                return REF_NO;
    const ir_val_t *v;
    switch (kind_of(op->builtin)) {
    case K_NONE:
        return REF_NO;
    case K_UNARY:
        return n_in == 1 ? ref_unary(op->builtin, &in[0], o) : REF_NO;
    case K_BINARY:
    case K_COMPARE:
        return n_in == 2 ? ref_binary(op->builtin, pass_act(op), &in[0], &in[1], o) : REF_NO;
    case K_CAST:
        return n_in == 1 ? ref_cast(&in[0], o) : REF_NO;
    case K_RESHAPE:
        return reshape_ok(op, in, n_in, o) ? ref_copy(&in[0], o) : REF_NO;
    case K_SQUEEZE:
        return n_in == 1 && squeeze_ok(op, &in[0], o) ? ref_copy(&in[0], o) : REF_NO;
    case K_EXPAND_DIMS:
        return n_in == 2 && expand_dims_ok(&in[0], &in[1], o) ? ref_copy(&in[0], o) : REF_NO;
    case K_TRANSPOSE:
        return n_in == 2 ? ref_transpose(&in[0], &in[1], o) : REF_NO;
    case K_CONCAT:
        if (!(v = attr(op, OPT_ConcatenationOptions, OPF_ConcatenationOptions_axis)) ||
            pass_act(op) != ACT_NONE)
            return REF_NO;
        return ref_concat(in, n_in, v->i, o);
    case K_PACK:
        if (!(v = attr(op, OPT_PackOptions, OPF_PackOptions_axis)) ||
            op->attr[OPF_PackOptions_values_count].i != n_in)
            return REF_NO;
        return ref_pack(in, n_in, v->i, o);
    case K_SLICE:
        return n_in == 3 ? ref_slice(&in[0], &in[1], &in[2], o) : REF_NO;
    case K_STRIDED_SLICE:
        return n_in == 4 ? ref_strided_slice(&in[0], &in[1], &in[2], &in[3], op, o) : REF_NO;
    case K_GATHER:
        if (n_in != 2 || !(v = attr(op, OPT_GatherOptions, OPF_GatherOptions_axis)))
            return REF_NO;
        return ref_gather(&in[0], &in[1], v->i, op->attr[OPF_GatherOptions_batch_dims].i, o);
    case K_TILE:
        return n_in == 2 ? ref_tile(&in[0], &in[1], o) : REF_NO;
    case K_SHAPE:
        return n_in == 1 ? ref_shape_of(&in[0], o) : REF_NO;
    case K_FILL:
        return n_in == 2 ? ref_fill(&in[0], &in[1], o) : REF_NO;
    case K_RANGE:
        return n_in == 3 ? ref_range(&in[0], &in[1], &in[2], o) : REF_NO;
    }
    return REF_NO;
}
