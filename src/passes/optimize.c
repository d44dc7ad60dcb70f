/*
 * optimize.c -- the optimisation pipeline: every pass, in order, on every
 * subgraph until none changes anything, then unused buffers are dropped.
 *
 * Needs a model that verifies. Keeps every subgraph's interface (inputs,
 * outputs, signature defs) and the numbers it computes, up to the float
 * rounding a fused kernel may differ by. Touches float32 ops only.
 */
#include "../pipeline.h"
#include "passes.h"

typedef struct pass {
    const char *name;
    pass_fn run;
} pass_t;

static const pass_t pipeline[] = {
    /* Constants first, so patterns below see folded values (PReLU's
     * NEG(alpha), shape arithmetic). */
    {"fold-constants", pass_fold_constants},
    /* Raising before fusion, on the ops as the front-end wrote them. */
    {"raise-fully-connected", pass_raise_fully_connected},
    {"raise-leaky-relu", pass_raise_leaky_relu},
    {"raise-prelu", pass_raise_prelu},
    {"raise-hard-swish", pass_raise_hard_swish},
    {"raise-gelu", pass_raise_gelu},
    /* Layout ops around FC and the convolutions, PAD into the convolution,
     * then the convolution's consumers into it: MUL (scale) before ADD
     * (bias) before the activation. */
    {"fuse-reshapes", pass_fuse_reshapes},
    {"fuse-reshape-fc", pass_fuse_reshape_fc},
    {"fuse-dilated-conv", pass_fuse_dilated_conv},
    {"fuse-pad", pass_fuse_pad},
    {"fuse-mul", pass_fuse_mul},
    {"fuse-bias", pass_fuse_bias},
    {"fuse-activation", pass_fuse_activation},
    {"dce", pass_dce},
};

/* Each round strictly shrinks the graph (a round with changes removes at
 * least one operator, once dead tensors are gone), so a subgraph settles
 * within its operator count plus a few rounds; a long chain (a conv
 * followed by 100 MUL, ADD pairs) may take that many. The bound guards
 * against a pass that undoes another. */
#define MAX_ROUNDS 64

tflc_code_t pass_optimize(ir_model_t *m, const tflc_convert_options_t *opt,
                          tflc_status_t *st)
{
    (void)opt;
    for (size_t s = 0; s < m->n_subgraphs; s++) {
        size_t max_rounds = MAX_ROUNDS + m->subgraphs[s].n_ops;
        for (size_t round = 0;; round++) {
            if (round == max_rounds)
                DIE("passes did not settle on subgraph %zu", s);
            int changes = 0;
            for (size_t p = 0; p < ARRAY_LEN(pipeline); p++) {
                int r = pipeline[p].run(m, &m->subgraphs[s], st);
                if (r < 0)
                    return tflc_status_code(st) ? tflc_status_code(st) : TFLC_ERR_NOMEM;
                changes += r;
            }
            if (!changes)
                break;
        }
    }
    if (pass_compact_buffers(m, st) < 0)
        return TFLC_ERR_NOMEM;
    return TFLC_OK;
}
