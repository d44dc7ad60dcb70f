/*
 * raise_leaky_relu.c -- turns max(x, alpha * x) into LEAKY_RELU, as TF's
 * converter does for tf.nn.leaky_relu written out by hand (and what TF
 * graphs with a Maximum of a Mul hold).
 *
 *   m = MUL(x, alpha)              z = LEAKY_RELU(x) {alpha}
 *   z = MAXIMUM(x, m)      ==>
 *
 * For 0 < alpha < 1, max(x, alpha x) is x for x >= 0 and alpha x below:
 * exactly leaky relu. (alpha >= 1 would give min semantics; alpha <= 0 a
 * different function.)
 * Needs: float32 tensors, nothing quantized; alpha a float32 constant of
 * one element; the MUL (inputs in either order) has no fused activation
 * and its output is read only by the MAXIMUM (either input); m and z have
 * x's shape. Changes: the MAXIMUM becomes LEAKY_RELU(x), keeping its
 * output tensor; the MUL becomes dead (pass_dce removes it).
 */
#include "passes.h"

/* The x of m = MUL(x, alpha) with alpha in (0, 1), or -1. */
static int32_t scaled_input(const ir_model_t *m, const ir_subgraph_t *sg, const ir_op_t *mul,
                            float *alpha)
{
    if (mul->n_inputs != 2 || pass_act(mul) != ACT_NONE)
        return -1;
    for (int k = 0; k < 2; k++) {
        float a;
        if (pass_scalar_f32(m, sg, mul->inputs[k], &a) && a > 0.0f && a < 1.0f) {
            *alpha = a;
            return mul->inputs[1 - k];
        }
    }
    return -1;
}

static int raise_one(ir_model_t *m, ir_subgraph_t *sg, const pass_info_t *g, ir_op_t *op)
{
    if (op->builtin != OP_MAXIMUM || op->n_inputs != 2 || op->n_outputs != 1)
        return 0;
    const ir_tensor_t *tz = ir_tensor(sg, op->outputs[0]);
    if (!pass_is_plain_f32(tz))
        return 0;
    for (int k = 0; k < 2; k++) {
        int32_t mi = pass_only_input(sg, g, op->inputs[k], OP_MUL);
        if (mi < 0)
            continue;
        const ir_op_t *mul = &sg->ops[mi];
        float alpha;
        int32_t x = scaled_input(m, sg, mul, &alpha);
        if (x < 0 || x != op->inputs[1 - k])
            continue;
        const ir_tensor_t *tx = ir_tensor(sg, x), *tm = ir_tensor(sg, mul->outputs[0]);
        if (!pass_is_plain_f32(tx) || !pass_same_shape(tx, tm) || !pass_same_shape(tx, tz))
            continue;
        if (ir_op_set_table(m, op, OPT_LeakyReluOptions))
            return -1;
        op->builtin = OP_LEAKY_RELU;
        op->inputs[0] = x;
        op->n_inputs = 1;
        op->mutating_variable_inputs = NULL;
        op->n_mutating_variable_inputs = 0;
        op->attr[OPF_LeakyReluOptions_alpha].f = alpha;
        op->version = 1;
        pass_bump_version(m, sg, op);
        return 1;
    }
    return 0;
}

int pass_raise_leaky_relu(ir_model_t *m, ir_subgraph_t *sg, tflc_status_t *st)
{
    int changes = 0;
    pass_info_t g;
    if (pass_info_init(m, sg, &g))
        return st_oom(st, m->source), -1;
    for (size_t i = 0; i < sg->n_ops; i++) {
        int r = raise_one(m, sg, &g, &sg->ops[i]);
        if (r < 0) {
            pass_info_free(&g);
            return st_oom(st, m->source), -1;
        }
        /* The counts stay good enough: only the MAXIMUM's reads changed
         * (x once more, m once less), and no later op reads m. */
        changes += r;
    }
    pass_info_free(&g);
    return changes;
}
