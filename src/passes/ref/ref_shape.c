/*
 * ref_shape.c -- reference kernels that move data without arithmetic:
 * RESHAPE-like copies, TRANSPOSE, CONCATENATION, PACK, SLICE,
 * STRIDED_SLICE, GATHER, TILE, and the ones that make data from shapes:
 * SHAPE, FILL, RANGE. Every kernel works on any fixed-size element type,
 * computes the output shape the op gives and declines (REF_NO) when the
 * caller's output shape differs or an index is out of range. See ref.h.
 */
#include <string.h>

#include "ref.h"

int ref_elem_size(int dtype)
{
    switch (dtype) {
    case DT_BOOL: case DT_UINT8: case DT_INT8: return 1;
    case DT_INT16: case DT_UINT16: case DT_FLOAT16: case DT_BFLOAT16: return 2;
    case DT_FLOAT32: case DT_INT32: case DT_UINT32: return 4;
    case DT_INT64: case DT_UINT64: case DT_FLOAT64: case DT_COMPLEX64: return 8;
    }
    return 0;
}

int64_t ref_int_at(const ref_val_t *v, int64_t i)
{
    if (v->dtype == DT_INT64)
        return ((const int64_t *)v->data)[i];
    return ((const int32_t *)v->data)[i];
}

int ref_shape_is(const ref_val_t *out, uint32_t rank, const int64_t *dims)
{
    if (out->rank != rank)
        return 0;
    for (uint32_t i = 0; i < rank; i++)
        if (out->shape[i] != dims[i])
            return 0;
    return 1;
}

static int is_int_vec(const ref_val_t *v)
{
    return (v->dtype == DT_INT32 || v->dtype == DT_INT64) && v->rank <= 1 && v->data;
}

/* The axis normalised to [0, rank), or -1. */
static int64_t norm_axis(int64_t axis, int64_t rank)
{
    if (axis < 0)
        axis += rank;
    return axis >= 0 && axis < rank ? axis : -1;
}

static int64_t prod(const int32_t *d, uint32_t from, uint32_t to)
{
    int64_t p = 1;
    for (uint32_t i = from; i < to; i++)
        p *= d[i];
    return p;
}

int ref_copy(const ref_val_t *x, ref_val_t *out)
{
    size_t es = (size_t)ref_elem_size(x->dtype);
    if (!es || out->dtype != x->dtype || out->n != x->n)
        return REF_NO;
    if (x->n)
        memcpy(out->data, x->data, (size_t)x->n * es);
    return REF_OK;
}

int ref_transpose(const ref_val_t *x, const ref_val_t *perm, ref_val_t *out)
{
    size_t es = (size_t)ref_elem_size(x->dtype);
    uint32_t R = x->rank;
    if (!es || out->dtype != x->dtype || !is_int_vec(perm) || perm->n != R)
        return REF_NO;
    int64_t p[REF_MAX_RANK], dims[REF_MAX_RANK], in_stride[REF_MAX_RANK];
    int64_t step[REF_MAX_RANK], idx[REF_MAX_RANK];
    uint8_t seen[REF_MAX_RANK] = {0};
    for (uint32_t i = 0; i < R; i++) {
        p[i] = ref_int_at(perm, i);
        if (p[i] < 0)
            p[i] += R;
        if (p[i] < 0 || p[i] >= R || seen[p[i]]++)
            return REF_NO;
        dims[i] = x->shape[p[i]];
    }
    if (!ref_shape_is(out, R, dims))
        return REF_NO;
    int64_t s = 1;
    for (uint32_t i = R; i-- > 0;) {
        in_stride[i] = s;
        s *= x->shape[i];
    }
    for (uint32_t i = 0; i < R; i++)
        step[i] = in_stride[p[i]];
    memset(idx, 0, sizeof idx);
    const uint8_t *src = x->data;
    uint8_t *dst = out->data;
    int64_t off = 0;
    for (int64_t k = 0; k < out->n; k++) {
        memcpy(dst + (size_t)k * es, src + (size_t)off * es, es);
        for (uint32_t i = R; i-- > 0;) {
            off += step[i];
            if (++idx[i] < dims[i])
                break;
            off -= step[i] * dims[i];
            idx[i] = 0;
        }
    }
    return REF_OK;
}

int ref_concat(const ref_val_t *in, uint32_t n, int64_t axis, ref_val_t *out)
{
    if (!n)
        return REF_NO;
    size_t es = (size_t)ref_elem_size(in[0].dtype);
    uint32_t R = in[0].rank;
    axis = norm_axis(axis, R);
    if (!es || axis < 0 || out->dtype != in[0].dtype)
        return REF_NO;
    int64_t dims[REF_MAX_RANK];
    for (uint32_t i = 0; i < R; i++)
        dims[i] = in[0].shape[i];
    dims[axis] = 0;
    for (uint32_t k = 0; k < n; k++) {
        if (in[k].dtype != in[0].dtype || in[k].rank != R)
            return REF_NO;
        for (uint32_t i = 0; i < R; i++)
            if (i != axis && in[k].shape[i] != in[0].shape[i])
                return REF_NO;
        dims[axis] += in[k].shape[axis];
    }
    if (!ref_shape_is(out, R, dims))
        return REF_NO;
    int64_t outer = prod(in[0].shape, 0, (uint32_t)axis);
    uint8_t *dst = out->data;
    for (int64_t o = 0; o < outer; o++)
        for (uint32_t k = 0; k < n; k++) {
            size_t chunk = (size_t)prod(in[k].shape, (uint32_t)axis, R) * es;
            memcpy(dst, (const uint8_t *)in[k].data + (size_t)o * chunk, chunk);
            dst += chunk;
        }
    return REF_OK;
}

int ref_pack(const ref_val_t *in, uint32_t n, int64_t axis, ref_val_t *out)
{
    if (!n || in[0].rank + 1 > REF_MAX_RANK)
        return REF_NO;
    size_t es = (size_t)ref_elem_size(in[0].dtype);
    uint32_t R = in[0].rank;
    axis = norm_axis(axis, R + 1);
    if (!es || axis < 0 || out->dtype != in[0].dtype)
        return REF_NO;
    for (uint32_t k = 1; k < n; k++)
        if (in[k].dtype != in[0].dtype || in[k].rank != R ||
            (R && memcmp(in[k].shape, in[0].shape, R * sizeof *in[0].shape)))
            return REF_NO;
    int64_t dims[REF_MAX_RANK];
    for (uint32_t i = 0, j = 0; i <= R; i++)
        dims[i] = i == axis ? (int64_t)n : in[0].shape[j++];
    if (!ref_shape_is(out, R + 1, dims))
        return REF_NO;
    int64_t outer = prod(in[0].shape, 0, (uint32_t)axis);
    size_t chunk = (size_t)prod(in[0].shape, (uint32_t)axis, R) * es;
    uint8_t *dst = out->data;
    for (int64_t o = 0; o < outer; o++)
        for (uint32_t k = 0; k < n; k++) {
            memcpy(dst, (const uint8_t *)in[k].data + (size_t)o * chunk, chunk);
            dst += chunk;
        }
    return REF_OK;
}

/* Copies the box start[i] + j * step[i], j < len[i], of x to out (whose
 * element count is the product of len). */
static void copy_box(const ref_val_t *x, const int64_t *start, const int64_t *step,
                     const int64_t *len, ref_val_t *out)
{
    size_t es = (size_t)ref_elem_size(x->dtype);
    uint32_t R = x->rank;
    int64_t stride[REF_MAX_RANK], idx[REF_MAX_RANK] = {0}, off = 0, s = 1;
    for (uint32_t i = R; i-- > 0;) {
        stride[i] = s;
        s *= x->shape[i];
    }
    for (uint32_t i = 0; i < R; i++)
        off += start[i] * stride[i];
    const uint8_t *src = x->data;
    uint8_t *dst = out->data;
    for (int64_t k = 0; k < out->n; k++) {
        memcpy(dst + (size_t)k * es, src + (size_t)off * es, es);
        for (uint32_t i = R; i-- > 0;) {
            off += step[i] * stride[i];
            if (++idx[i] < len[i])
                break;
            off -= step[i] * stride[i] * len[i];
            idx[i] = 0;
        }
    }
}

int ref_slice(const ref_val_t *x, const ref_val_t *begin, const ref_val_t *size,
              ref_val_t *out)
{
    uint32_t R = x->rank;
    if (!ref_elem_size(x->dtype) || out->dtype != x->dtype || !is_int_vec(begin) ||
        !is_int_vec(size) || begin->n != R || size->n != R)
        return REF_NO;
    int64_t start[REF_MAX_RANK], step[REF_MAX_RANK], len[REF_MAX_RANK];
    for (uint32_t i = 0; i < R; i++) {
        int64_t b = ref_int_at(begin, i), s = ref_int_at(size, i), d = x->shape[i];
        if (b < 0 || b > d)
            return REF_NO;
        if (s == -1)
            s = d - b;
        if (s < 0 || s > d - b)
            return REF_NO;
        start[i] = b;
        step[i] = 1;
        len[i] = s;
    }
    if (!ref_shape_is(out, R, len))
        return REF_NO;
    copy_box(x, start, step, len, out);
    return REF_OK;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int ref_strided_slice(const ref_val_t *x, const ref_val_t *begin, const ref_val_t *end,
                      const ref_val_t *strides, const ir_op_t *op, ref_val_t *out)
{
    uint32_t R = x->rank;
    if (op->opts != OPT_StridedSliceOptions || !op->attr)
        return REF_NO;
    const ir_val_t *a = op->attr;
    int64_t bm = a[OPF_StridedSliceOptions_begin_mask].i;
    int64_t em = a[OPF_StridedSliceOptions_end_mask].i;
    int64_t sm = a[OPF_StridedSliceOptions_shrink_axis_mask].i;
    /* Ellipsis, new axes and offset mode are left to the runtime. */
    if (a[OPF_StridedSliceOptions_ellipsis_mask].i || a[OPF_StridedSliceOptions_new_axis_mask].i ||
        a[OPF_StridedSliceOptions_offset].i)
        return REF_NO;
    if (!ref_elem_size(x->dtype) || out->dtype != x->dtype || !is_int_vec(begin) ||
        !is_int_vec(end) || !is_int_vec(strides) || begin->n != end->n ||
        begin->n != strides->n || begin->n != R)
        return REF_NO;
    int64_t start[REF_MAX_RANK], step[REF_MAX_RANK], len[REF_MAX_RANK], dims[REF_MAX_RANK];
    uint32_t nd = 0;
    for (uint32_t i = 0; i < R; i++) {
        int64_t d = x->shape[i], s = 1, b = 0, e = d;
        int shrink = 0;
        if (i < begin->n) {
            s = ref_int_at(strides, i);
            if (s == 0)
                return REF_NO;
            shrink = (sm >> i) & 1;
            /* TF and TFLite versions differ on a shrunk axis with a begin
             * mask or a negative stride: leave those to the runtime. */
            if (shrink && (((bm >> i) & 1) || s < 0))
                return REF_NO;
            int64_t lo = s > 0 ? 0 : -1, hi = s > 0 ? d : d - 1;
            if ((bm >> i) & 1) {
                b = s > 0 ? 0 : d - 1;
            } else {
                b = ref_int_at(begin, i);
                if (b < 0)
                    b += d;
                if (shrink) {
                    if (b < 0 || b >= d)
                        return REF_NO;
                } else {
                    b = clamp64(b, lo, hi);
                }
            }
            if (shrink) {
                e = b + 1;
                s = 1;
            } else if ((em >> i) & 1) {
                e = s > 0 ? d : -1;
            } else {
                e = ref_int_at(end, i);
                if (e < 0)
                    e += d;
                e = clamp64(e, lo, hi);
            }
        }
        /* b and e lie in [-1, d]; s is any nonzero int64. */
        if (s == INT64_MIN)
            return REF_NO;
        int64_t n = s > 0 ? (e > b ? (e - b - 1) / s + 1 : 0) : (b > e ? (b - e - 1) / -s + 1 : 0);
        start[i] = b;
        step[i] = s;
        len[i] = n;
        if (!shrink)
            dims[nd++] = len[i];
    }
    if (!ref_shape_is(out, nd, dims))
        return REF_NO;
    if (out->n)
        copy_box(x, start, step, len, out);
    return REF_OK;
}

int ref_gather(const ref_val_t *x, const ref_val_t *idx, int64_t axis, int64_t batch_dims,
               ref_val_t *out)
{
    size_t es = (size_t)ref_elem_size(x->dtype);
    axis = norm_axis(axis, x->rank);
    if (!es || axis < 0 || batch_dims != 0 || out->dtype != x->dtype ||
        (idx->dtype != DT_INT32 && idx->dtype != DT_INT64) ||
        x->rank + idx->rank > REF_MAX_RANK + 1)
        return REF_NO;
    int64_t dims[REF_MAX_RANK];
    uint32_t nd = 0;
    for (uint32_t i = 0; i < (uint32_t)axis; i++)
        dims[nd++] = x->shape[i];
    for (uint32_t i = 0; i < idx->rank; i++)
        dims[nd++] = idx->shape[i];
    for (uint32_t i = (uint32_t)axis + 1; i < x->rank; i++)
        dims[nd++] = x->shape[i];
    if (!ref_shape_is(out, nd, dims))
        return REF_NO;
    int64_t outer = prod(x->shape, 0, (uint32_t)axis), D = x->shape[axis];
    size_t inner = (size_t)prod(x->shape, (uint32_t)axis + 1, x->rank) * es;
    uint8_t *dst = out->data;
    for (int64_t i = 0; i < idx->n; i++) {
        int64_t j = ref_int_at(idx, i);
        if (j < 0 || j >= D)
            return REF_NO;
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < idx->n; i++) {
            int64_t j = ref_int_at(idx, i);
            memcpy(dst, (const uint8_t *)x->data + ((size_t)o * (size_t)D + (size_t)j) * inner,
                   inner);
            dst += inner;
        }
    return REF_OK;
}

int ref_tile(const ref_val_t *x, const ref_val_t *mult, ref_val_t *out)
{
    size_t es = (size_t)ref_elem_size(x->dtype);
    uint32_t R = x->rank;
    if (!es || out->dtype != x->dtype || !is_int_vec(mult) || mult->n != R)
        return REF_NO;
    int64_t dims[REF_MAX_RANK], idx[REF_MAX_RANK] = {0}, stride[REF_MAX_RANK];
    for (uint32_t i = 0; i < R; i++) {
        int64_t k = ref_int_at(mult, i);
        if (k < 0 || k > INT32_MAX)
            return REF_NO;
        dims[i] = x->shape[i] * k;
    }
    if (!ref_shape_is(out, R, dims))
        return REF_NO;
    int64_t s = 1;
    for (uint32_t i = R; i-- > 0;) {
        stride[i] = s;
        s *= x->shape[i];
    }
    for (int64_t k = 0; k < out->n; k++) {
        int64_t off = 0;
        for (uint32_t i = 0; i < R; i++)
            off += (idx[i] % x->shape[i]) * stride[i];
        memcpy((uint8_t *)out->data + (size_t)k * es, (const uint8_t *)x->data + (size_t)off * es,
               es);
        for (uint32_t i = R; i-- > 0;) {
            if (++idx[i] < dims[i])
                break;
            idx[i] = 0;
        }
    }
    return REF_OK;
}

int ref_shape_of(const ref_val_t *x, ref_val_t *out)
{
    int64_t n = x->rank;
    if ((out->dtype != DT_INT32 && out->dtype != DT_INT64) || !ref_shape_is(out, 1, &n))
        return REF_NO;
    for (uint32_t i = 0; i < x->rank; i++) {
        if (out->dtype == DT_INT32)
            ((int32_t *)out->data)[i] = x->shape[i];
        else
            ((int64_t *)out->data)[i] = x->shape[i];
    }
    return REF_OK;
}

int ref_fill(const ref_val_t *dims, const ref_val_t *v, ref_val_t *out)
{
    size_t es = (size_t)ref_elem_size(v->dtype);
    if (!es || v->n != 1 || out->dtype != v->dtype || !is_int_vec(dims) ||
        dims->n > REF_MAX_RANK)
        return REF_NO;
    int64_t d[REF_MAX_RANK];
    for (int64_t i = 0; i < dims->n; i++)
        d[i] = ref_int_at(dims, i);
    if (!ref_shape_is(out, (uint32_t)dims->n, d))
        return REF_NO;
    for (int64_t k = 0; k < out->n; k++)
        memcpy((uint8_t *)out->data + (size_t)k * es, v->data, es);
    return REF_OK;
}

int ref_range(const ref_val_t *start, const ref_val_t *limit, const ref_val_t *delta,
              ref_val_t *out)
{
    /* Integer ranges only: a float range accumulates rounding the way the
     * runtime's loop does, which is not worth mirroring. */
    int dt = start->dtype;
    if ((dt != DT_INT32 && dt != DT_INT64) || limit->dtype != dt || delta->dtype != dt ||
        out->dtype != dt || start->n != 1 || limit->n != 1 || delta->n != 1)
        return REF_NO;
    int64_t s = ref_int_at(start, 0), l = ref_int_at(limit, 0), d = ref_int_at(delta, 0);
    if (d == 0 || (d > 0 && s > l) || (d < 0 && s < l))
        return REF_NO;
    /* l - s must fit (and not be INT64_MIN, which / -1 would overflow). */
    if ((s < 0 && l > INT64_MAX + s) || (s >= 0 && l <= INT64_MIN + s))
        return REF_NO;
    int64_t span = l - s, n = span / d + (span % d != 0);
    if (!ref_shape_is(out, 1, &n))
        return REF_NO;
    for (int64_t i = 0; i < n; i++) {
        int64_t v = s + i * d;
        if (dt == DT_INT32)
            ((int32_t *)out->data)[i] = (int32_t)v;
        else
            ((int64_t *)out->data)[i] = v;
    }
    return REF_OK;
}
