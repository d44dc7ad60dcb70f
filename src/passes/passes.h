/*
 * passes.h -- what the optimisation passes share: the pass signature, use
 * counts, and access to constant float data.
 *
 * A pass works on one subgraph, returns how many rewrites it made (0 when
 * the subgraph is already in its normal form) or -1 with an error in st.
 * Passes leave dead tensors and buffers behind; pass_dce removes them.
 */
#ifndef TFLC_PASSES_H
#define TFLC_PASSES_H

#include "../ir/ir.h"

typedef int (*pass_fn)(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st);

int pass_fuse_bias(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st);
int pass_fuse_activation(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st);
int pass_dce(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st);
/* Model-wide: drops buffers nothing refers to (see dce.c). */
int pass_compact_buffers(ir_model_t *m, tflc_status_t *st);

/* Fused activation values (ActivationFunctionType). */
enum { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU_N1_TO_1 = 2, ACT_RELU6 = 3, ACT_TANH = 4 };

/* Number of times each tensor is read: by operator inputs, plus one for
 * each subgraph output that names it. uses[n_tensors], in the arena. */
uint32_t *pass_use_counts(ir_model_t *m, const ir_subgraph_t *sg);

/* The operator that writes tensor t, or -1 (graph input or constant). */
int32_t pass_producer(const ir_subgraph_t *sg, int32_t t);

/* The one operator that reads tensor t when exactly one does and t is not a
 * subgraph output; -1 otherwise. */
int32_t pass_sole_consumer(const ir_subgraph_t *sg, const uint32_t *uses, int32_t t);

/* The float32 data of a constant tensor with n elements, or NULL when t is
 * not a float32 constant (no quantization, no sparsity) of that size. */
const float *pass_const_f32(const ir_model_t *m, const ir_subgraph_t *sg,
                            int32_t t, int64_t n);

/* Whether tensor t is a constant (has a buffer with data). */
int pass_is_const(const ir_model_t *m, const ir_subgraph_t *sg, int32_t t);

/* Removes operator i from sg, keeping the order of the others. */
void pass_remove_op(ir_subgraph_t *sg, size_t i);

/* Makes every reader of tensor `from` (operator inputs, subgraph outputs)
 * read `to` instead. */
void pass_replace_uses(ir_subgraph_t *sg, int32_t from, int32_t to);

#endif /* TFLC_PASSES_H */
