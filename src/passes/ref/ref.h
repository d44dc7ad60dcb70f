/*
 * ref.h -- reference kernels: plain scalar C for the TFLite builtins that
 * constant folding evaluates at conversion time (ggml's _ref idea: slow,
 * obvious, and checked against Google's runtime by tests/t_passes.py).
 *
 * Semantics are those of the TFLite kernels (float32 arithmetic in
 * float32, integer division truncating, FLOOR_MOD with the divisor's sign,
 * CAST truncating toward zero, ROUND half to even). Where TFLite's result
 * would be undefined or an error (integer division by zero or overflow,
 * a float cast out of range, a negative integer exponent), the kernel
 * declines instead of guessing: the op is then simply not folded.
 *
 * Prefix ref_. Files: ref_ew.c (elementwise: scalar functions, broadcast
 * binary ops, unary ops, CAST), ref_shape.c (data movement: RESHAPE,
 * TRANSPOSE, CONCATENATION, PACK, SLICE, STRIDED_SLICE, GATHER, TILE,
 * SHAPE, FILL, RANGE), ref.c (dispatch by builtin).
 */
#ifndef TFLC_REF_H
#define TFLC_REF_H

#include <stdint.h>

#include "../../ir/ir.h"

#define REF_MAX_RANK 8

/* A dense tensor value. Inputs are read-only; an output's data is
 * allocated by the caller for its (static) shape. */
typedef struct ref_val {
    int dtype;                     /* ir_dtype_t */
    uint32_t rank;
    int32_t shape[REF_MAX_RANK];
    int64_t n;                     /* elements */
    void *data;                    /* const for inputs */
} ref_val_t;

/* Results of the kernels. */
enum { REF_OK = 0, REF_NO = 1 };

/* Whether ref_run has a kernel for builtin (its types are checked by the
 * kernel itself). */
int ref_has(int32_t builtin);

/* Computes op on in[0..n_in) into out[0..n_out): REF_OK, or REF_NO when
 * the kernel does not handle these types or options, the output shapes
 * are not what the op gives for these inputs, or the result would be
 * undefined. Omitted optional inputs have data NULL and n 0. */
int ref_run(const ir_op_t *op, const ref_val_t *in, uint32_t n_in, ref_val_t *out,
            uint32_t n_out);

/* ---- Elementwise (ref_ew.c) ---- */

/* Scalar float32 functions: whether builtin is one, and its value. */
int ref_is_unary_f32(int32_t builtin);
float ref_unary_f32(int32_t builtin, float x);
int ref_is_binary_f32(int32_t builtin);
float ref_binary_f32(int32_t builtin, float a, float b);
/* A fused activation (ACT_*) applied to x; x unchanged for ACT_NONE. */
float ref_act_f32(int act, float x);

int ref_binary(int32_t builtin, int act, const ref_val_t *a, const ref_val_t *b,
               ref_val_t *out);
int ref_unary(int32_t builtin, const ref_val_t *x, ref_val_t *out);
int ref_cast(const ref_val_t *x, ref_val_t *out);

/* ---- Data movement (ref_shape.c) ---- */

int ref_copy(const ref_val_t *x, ref_val_t *out);   /* RESHAPE, SQUEEZE, EXPAND_DIMS */
int ref_transpose(const ref_val_t *x, const ref_val_t *perm, ref_val_t *out);
int ref_concat(const ref_val_t *in, uint32_t n, int64_t axis, ref_val_t *out);
int ref_pack(const ref_val_t *in, uint32_t n, int64_t axis, ref_val_t *out);
int ref_slice(const ref_val_t *x, const ref_val_t *begin, const ref_val_t *size,
              ref_val_t *out);
int ref_strided_slice(const ref_val_t *x, const ref_val_t *begin, const ref_val_t *end,
                      const ref_val_t *strides, const ir_op_t *op, ref_val_t *out);
int ref_gather(const ref_val_t *x, const ref_val_t *idx, int64_t axis, int64_t batch_dims,
               ref_val_t *out);
int ref_tile(const ref_val_t *x, const ref_val_t *mult, ref_val_t *out);
int ref_shape_of(const ref_val_t *x, ref_val_t *out);
int ref_fill(const ref_val_t *dims, const ref_val_t *v, ref_val_t *out);
int ref_range(const ref_val_t *start, const ref_val_t *limit, const ref_val_t *delta,
              ref_val_t *out);

/* ---- Helpers shared by the kernels ---- */

/* Bytes per element of the fixed-size types the kernels move (0: none). */
int ref_elem_size(int dtype);
/* Integer element i of an int32/int64 value. */
int64_t ref_int_at(const ref_val_t *v, int64_t i);
/* Whether out has exactly rank and dims. */
int ref_shape_is(const ref_val_t *out, uint32_t rank, const int64_t *dims);

#endif /* TFLC_REF_H */
