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
    {"fuse-bias", pass_fuse_bias},
    {"fuse-activation", pass_fuse_activation},
    {"dce", pass_dce},
};

/* Each round strictly shrinks the graph, so this bound is never reached
 * on a sane model; it guards against a pass that undoes another. */
#define MAX_ROUNDS 64

tflc_code_t pass_optimize(ir_model_t *m, const tflc_convert_options_t *opt,
                          tflc_status_t *st)
{
    (void)opt;
    for (size_t s = 0; s < m->n_subgraphs; s++) {
        for (int round = 0;; round++) {
            if (round == MAX_ROUNDS)
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
