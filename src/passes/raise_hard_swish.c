/*
 * raise_hard_swish.c -- turns an elementwise region that computes hard
 * swish into one HARD_SWISH operator, as TF's converter does for
 * MobileNetV3's x * relu6(x + 3) / 6:
 *
 *   hard_swish(x) = x * min(max(x + 3, 0), 6) / 6
 *
 * written in any of its usual forms (x * relu6(x + 3) * (1/6), x *
 * (relu6(x + 3) / 6), the RELU6 fused into the ADD, min/max instead of
 * RELU6...). The region and how it is identified by evaluation are
 * described in raise_region.c; the probes include both kinks (x = -3 and
 * x = 3) and points on either side of them.
 *
 * Needs: a region of at least two float32 elementwise ops reading one
 * tensor x and scalar constants, every tensor of x's shape, inner tensors
 * read only inside the region, agreeing with hard swish within HS_ATOL +
 * HS_RTOL |hard_swish(x)| at every probe point. Changes: the root op
 * becomes HARD_SWISH(x), keeping its output tensor; the other ops of the
 * region become dead (pass_dce removes them).
 */
#include <math.h>

#include "passes.h"

#define HS_ATOL 1e-5
#define HS_RTOL 1e-5

static double hard_swish(double x)
{
    double r = x + 3.0;
    r = r < 0.0 ? 0.0 : r > 6.0 ? 6.0 : r;
    return x * r / 6.0;
}

int pass_raise_hard_swish(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
{
    pass_region_ctx_t c;
    if (pass_region_begin(m, sg, &c))
        return st_oom(st, m->source), -1;
    int changes = 0;
    for (size_t i = 0; i < sg->n_ops; i++) {
        pass_region_t r;
        int hs = pass_region_match(m, sg, &c, i, hard_swish, HS_ATOL, HS_RTOL, &r);
        if (hs > 0 && r.n_ops < 2)
            continue;  /* already one op (HARD_SWISH itself) */
        if (hs < 0 || (hs && pass_region_replace(m, sg, &r, OP_HARD_SWISH))) {
            changes = -1;
            break;
        }
        changes += hs;
    }
    pass_region_end(&c);
    if (changes < 0)
        return st_oom(st, m->source), -1;
    return changes;
}
