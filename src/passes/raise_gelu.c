/*
 * raise_gelu.c -- turns an elementwise region that computes GELU into one
 * GELU operator, as TF's converter does for tf.nn.gelu and Keras' gelu:
 *
 *   0.5 x (1 + erf(x / sqrt 2))                          GELU approximate=false
 *   0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))      GELU approximate=true
 *
 * in whatever order of operations the graph writes them (Erf arrives from
 * TF legalization already expanded into elementwise ops; see lg_erf).
 * The region and how it is identified by evaluation are described in
 * raise_region.c: it must agree with one of the two forms at every probe
 * point within GELU_ATOL + GELU_RTOL |GELU(x)|. The tolerance covers
 * float32 evaluation and the 1.5e-7 error of the expanded Erf, and is 20
 * times below the largest gap (4.7e-4) between the two forms, so the form
 * is never mistaken.
 *
 * Needs: a region of at least two float32 elementwise ops reading one
 * tensor x and scalar constants, every tensor of x's shape, inner tensors
 * read only inside the region. Changes: the root op becomes GELU(x) with
 * approximate set by the form found, keeping its output tensor; the other
 * ops of the region become dead (pass_dce removes them).
 */
#include <math.h>

#include "passes.h"

#define GELU_ATOL 1e-5
#define GELU_RTOL 1e-5

static double gelu_erf(double x)
{
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}

static double gelu_tanh(double x)
{
    const double k = 0.7978845608028654;  /* sqrt(2 / pi) */
    return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
}

int pass_raise_gelu(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
{
    pass_region_ctx_t c;
    if (pass_region_begin(m, sg, &c))
        return st_oom(st, m->source), -1;
    int changes = 0;
    for (size_t i = 0; i < sg->n_ops; i++) {
        pass_region_t r;
        int exact = pass_region_match(m, sg, &c, i, gelu_erf, GELU_ATOL, GELU_RTOL, &r);
        int approx = exact ? 0 : pass_region_match(m, sg, &c, i, gelu_tanh, GELU_ATOL, GELU_RTOL, &r);
        if (exact < 0 || approx < 0 || ((exact || approx) && pass_region_replace(m, sg, &r, OP_GELU))) {
            changes = -1;
            break;
        }
        if (exact || approx) {
            sg->ops[i].attr[OPF_GeluOptions_approximate].i = approx;
            changes++;
        }
    }
    pass_region_end(&c);
    if (changes < 0)
        return st_oom(st, m->source), -1;
    return changes;
}
