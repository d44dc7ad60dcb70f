/*
 * shape_infer.h -- shape and dtype inference for TFLite operators in the IR,
 * usable by any front-end (TF legalization, Keras import).
 *
 * Dims: a tensor's dims are its shape_signature when it has one, else its
 * shape; -1 is a dynamic (unknown) dim. The IR keeps TF's convention on
 * output: `shape` holds 1 for every dynamic dim and `shape_signature` holds
 * -1, and shape_signature is present only when some dim is dynamic
 * (si_set_shape does this).
 *
 * Values: shape arithmetic (Shape -> StridedSlice -> Pack -> Reshape) needs
 * the values of small integer tensors. A constant tensor's value is its
 * buffer; for the others the si_t remembers a partial value (each element
 * known or not) computed while inferring, e.g. SHAPE of a [-1,10] tensor is
 * {?, 10}. Only integer tensors of at most SI_MAX_VAL elements are tracked.
 *
 * Contract: pass_infer_op reads the op's inputs (which must have their
 * shapes) and sets the dims and dtype of its outputs. It never changes
 * inputs or options. Errors (incompatible shapes, missing constant inputs
 * the output shape depends on in a way that cannot be left dynamic) are
 * reported as "where: message" and return -1.
 */
#ifndef TFLC_SHAPE_INFER_H
#define TFLC_SHAPE_INFER_H

#include "../ir/ir.h"

#define SI_MAX_RANK 8
#define SI_MAX_VAL 64

/* What is known of a small integer tensor's value. */
typedef struct si_val {
    int64_t v[SI_MAX_VAL];
    uint8_t known[SI_MAX_VAL];
    uint32_t n;         /* number of elements */
    uint8_t set;        /* this entry holds a value */
} si_val_t;

/* Inference state for one subgraph. vals is indexed by tensor and grows
 * (in the heap) as tensors are added; free it with si_free. */
typedef struct si {
    ir_model_t *m;
    ir_subgraph_t *sg;
    tflc_status_t *st;
    const char *where;      /* prefix of messages: "file: node 'x'" */
    si_val_t **vals;        /* vals[t] or NULL */
    size_t n_vals;
} si_t;

void si_init(si_t *s, ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st);
void si_free(si_t *s);

/* The dims of t (-1 = dynamic): its shape_signature, else its shape. */
static inline const int32_t *si_dims(const ir_tensor_t *t)
{
    return t->shape_signature ? t->shape_signature : t->shape;
}

/* Sets t's rank and dims (-1 = dynamic) as TF writes them: shape with 1 for
 * dynamic dims, shape_signature only when some dim is dynamic. 0 or -1
 * (out of memory). */
int si_set_shape(ir_model_t *m, ir_tensor_t *t, uint32_t rank, const int32_t *dims);

/* The value of integer tensor t, as far as known: 1 when t is a constant or
 * has a partial value with n elements (written to *out), 0 otherwise. */
int si_value(si_t *s, int32_t t, si_val_t *out);
/* 1 when t's value is fully known; its elements go to v[0..*n). */
int si_const_ints(si_t *s, int32_t t, int64_t *v, uint32_t max, uint32_t *n);

/* Infers the outputs of operator op_index of s->sg. 0, or -1 with an error. */
int pass_infer_op(si_t *s, size_t op_index);

/* Whether pass_infer_op knows the builtin. */
int si_knows(int32_t builtin);

/* Whether the op's outputs are small integer tensors whose values
 * pass_infer_op computed completely (so the op can be replaced by
 * constants). */
int si_all_outputs_known(si_t *s, size_t op_index);

/* Infers every operator of sg in order (inputs and constants must have
 * shapes). where prefixes messages. 0 or -1. */
int pass_infer_shapes(ir_model_t *m, ir_subgraph_t *sg, const char *where,
                      tflc_status_t *st);

#endif /* TFLC_SHAPE_INFER_H */
