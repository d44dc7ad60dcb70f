/*
 * raise_prelu.c -- turns relu(x) - alpha * relu(-x) into PRELU, as TF's
 * converter does for the Keras PReLU layer's graph.
 *
 *   p = RELU(x)                          z = PRELU(x, alpha)
 *   r = RELU(NEG(x))
 *   q = MUL(r, c)
 *   z = ADD(p, q)   (c = -alpha)   ==>
 *   z = SUB(p, q)   (c = alpha)
 *
 * relu(x) - alpha relu(-x) is x for x >= 0 and alpha x below: PRELU.
 * Needs: float32 tensors, nothing quantized, x of rank <= 4 (the PRELU
 * kernel broadcasts alpha up to 4-D); c a float32 constant whose shape
 * broadcasts to x's without growing it; each intermediate (p, the NEG, r,
 * q) read only by the pattern; no fused activations; every tensor of x's
 * shape. Changes: the ADD/SUB becomes PRELU(x, alpha), keeping its output
 * tensor; for ADD alpha is a new constant -c (new buffer); the RELU, NEG
 * and MUL become dead (pass_dce removes them).
 */
#include "passes.h"

/* Whether constant c broadcasts into x's shape without growing it. */
static int fits(const ir_tensor_t *c, const ir_tensor_t *x)
{
    if (c->rank > x->rank)
        return 0;
    for (uint32_t i = 0; i < c->rank; i++) {
        int32_t d = c->shape[c->rank - 1 - i];
        if (d != 1 && d != x->shape[x->rank - 1 - i])
            return 0;
    }
    return 1;
}

/* For q = MUL(RELU(NEG(x)), c): x, with the constant in *c; else -1. */
static int32_t neg_part(const ir_model_t *m, const ir_subgraph_t *sg, const pass_info_t *g,
                        int32_t q, int32_t *c)
{
    int32_t mi = pass_only_input(sg, g, q, OP_MUL);
    if (mi < 0 || sg->ops[mi].n_inputs != 2 || pass_act(&sg->ops[mi]) != ACT_NONE)
        return -1;
    const ir_op_t *mul = &sg->ops[mi];
    for (int k = 0; k < 2; k++) {
        int32_t ri = pass_only_input(sg, g, mul->inputs[k], OP_RELU);
        if (ri < 0 || sg->ops[ri].n_inputs != 1 || !pass_is_const(m, sg, mul->inputs[1 - k]))
            continue;
        int32_t ni = pass_only_input(sg, g, sg->ops[ri].inputs[0], OP_NEG);
        if (ni < 0 || sg->ops[ni].n_inputs != 1)
            continue;
        *c = mul->inputs[1 - k];
        return sg->ops[ni].inputs[0];
    }
    return -1;
}

static int raise_one(ir_model_t *m, ir_subgraph_t *sg, const pass_info_t *g, size_t oi)
{
    ir_op_t *op = &sg->ops[oi];
    int sub = op->builtin == OP_SUB;
    if ((op->builtin != OP_ADD && !sub) || op->n_inputs != 2 || op->n_outputs != 1 ||
        pass_act(op) != ACT_NONE)
        return 0;
    for (int k = 0; k < (sub ? 1 : 2); k++) {
        int32_t pi = pass_only_input(sg, g, op->inputs[k], OP_RELU);
        int32_t c = -1;
        int32_t x = pi < 0 ? -1 : neg_part(m, sg, g, op->inputs[1 - k], &c);
        if (x < 0 || sg->ops[pi].n_inputs != 1 || sg->ops[pi].inputs[0] != x)
            continue;
        const ir_tensor_t *tx = ir_tensor(sg, x), *tz = ir_tensor(sg, op->outputs[0]);
        const ir_tensor_t *tc = ir_tensor(sg, c);
        const ir_tensor_t *tq = ir_tensor(sg, op->inputs[1 - k]);
        if (!pass_is_plain_f32(tx) || tx->rank > 4 || !pass_same_shape(tx, tz) ||
            !pass_same_shape(tx, tq) || !pass_is_plain_f32(tc) || !fits(tc, tx))
            continue;
        int64_t n = ir_num_elements(tc);
        const float *cv = n > 0 ? pass_const_f32(m, sg, c, n) : NULL;
        if (!cv)
            continue;
        int32_t alpha = c;
        if (!sub) {
            float *a = ar_alloc(&m->arena, (size_t)n * sizeof *a);
            if (!a)
                return -1;
            for (int64_t i = 0; i < n; i++)
                a[i] = -cv[i];
            alpha = pass_new_const(m, sg, tc->name, DT_FLOAT32, tc->rank, tc->shape, a,
                                   (uint64_t)n * sizeof *a);
            if (alpha < 0)
                return -1;
        }
        op = &sg->ops[oi];
        if (ir_op_set_table(m, op, OPT_NONE))
            return -1;
        op->builtin = OP_PRELU;
        op->inputs[0] = x;
        op->inputs[1] = alpha;
        op->mutating_variable_inputs = NULL;
        op->n_mutating_variable_inputs = 0;
        op->version = 1;
        pass_bump_version(m, sg, op);
        return 1;
    }
    return 0;
}

int pass_raise_prelu(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
{
    int changes = 0;
    pass_info_t g;
    if (pass_info_init(m, sg, &g))
        return st_oom(st, m->source), -1;
    for (size_t i = 0; i < sg->n_ops; i++) {
        int r = raise_one(m, sg, &g, i);
        if (r < 0) {
            pass_info_free(&g);
            return st_oom(st, m->source), -1;
        }
        if (r > 0) {
            /* A new alpha tensor may have been added: count again. */
            changes++;
            pass_info_free(&g);
            if (pass_info_init(m, sg, &g))
                return st_oom(st, m->source), -1;
        }
    }
    pass_info_free(&g);
    return changes;
}
